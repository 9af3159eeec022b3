import Foundation
import Histogram
import PipetopCore
import PipetopUI

/// The CPU shape's figures: an hour of samples for 20 queues and the process (75,600 rows) read
/// from the store, and the CPU screen drawn on them at 200×60 with the 1 h window.
struct CPUFigures {
    let scratch: URL

    struct Result {
        var readMedian: Double
        var readP99: Double
        /// The read's thread CPU time (median): on a shared machine the wall time also holds the waits for a core.
        var readCPUMedian: Double
        var samples: Int
        var frameMedian: Double
        var frameP99: Double
        var refreshMedian: Double
    }

    /// `queues` queues (a quarter of them cron-like, the rest steady with bursts) and the process,
    /// one sample each per second for `seconds`.
    func run(queues: Int, seconds: Int, reads: Int, frames: Int) throws -> Result {
        let path = scratch.appendingPathComponent("cpu-hour.sqlite").path
        let store = try openStore(url: path, readOnly: false)
        let end = Timestamp.now()
        let names = (0..<queues).map { String(format: "queue-%02d", $0) }
        var batch = WriteBatch(now: end)
        batch.cpuSamples.reserveCapacity((queues + 1) * seconds)
        for s in 0..<seconds {
            let time = end - .seconds(Int64(seconds - s)) + .milliseconds(300)
            var total = 0.0
            for (q, name) in names.enumerated() {
                let cores = q % 4 == 0 ? ((s + q) % 15 < 2 ? 1.8 : 0) : (0.2 + 0.05 * Double((s * 7 + q) % 5)) * ((s + q) % 12 == 0 ? 3 : 1)
                total += cores
                let cpu = Duration.microseconds(Int64(cores * 1_000_000))
                batch.cpuSamples.append(CPUSample(time: time, scope: name, interval: .seconds(1), cpu: cpu, busy: cpu, runs: cores > 0 ? 40 : 0, capacity: 2))
            }
            let cpu = Duration.microseconds(Int64(total * 1_000_000))
            batch.cpuSamples.append(CPUSample(time: time, scope: CPUSample.processScope, interval: .seconds(1), cpu: cpu, busy: cpu, runs: 0, capacity: 8))
        }
        _ = try store.apply(batch)

        // The read the CPU screen makes when its 1 h window opens (samples and the queues' latency, one snapshot).
        let reader = try openReader(url: path)
        var readTimes = Histogram<UInt64>(highestTrackableValue: 100_000_000, numberOfSignificantValueDigits: .three)
        var readCPU = Histogram<UInt64>(highestTrackableValue: 100_000_000, numberOfSignificantValueDigits: .three)
        func threadCPU() -> UInt64 {
            var ts = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
            return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
        }
        var count = 0
        for _ in 0..<reads {
            let started = DispatchTime.now().uptimeNanoseconds
            let cpuStarted = threadCPU()
            let answer = try StoreRequest.cpuSamples(since: end - .seconds(3600), latencySince: end - QueueSecond.kept).answer(from: reader)
            _ = readTimes.record((DispatchTime.now().uptimeNanoseconds - started) / 1_000)
            _ = readCPU.record((threadCPU() - cpuStarted) / 1_000)
            guard case .cpuSamples(let samples, _, _, _) = answer else { throw BenchError.lost("no samples answer") }
            count = samples.count
        }
        guard count == (queues + 1) * seconds else { throw BenchError.lost("read \(count) samples, stored \((queues + 1) * seconds)") }

        // The screen: 5, then + + to the hour; each frame after a cursor move (the screen's state
        // changes, the grid is drawn whole and diffed against the last).
        var state = AppState(size: Size(width: 200, height: 60), now: end, theme: .builtin, themeNames: [], storeLocation: path, readOnly: true)
        var refreshTimes = Histogram<UInt64>(highestTrackableValue: 100_000_000, numberOfSignificantValueDigits: .three)
        func settle(_ effects: [Effect], timed: Bool = false) throws {
            for effect in effects {
                guard case .read(let request, let id) = effect, case .cpuSamples = request else { continue }
                let answer = try request.answer(from: reader)
                let started = DispatchTime.now().uptimeNanoseconds
                try settle(state.update(.answer(answer, for: id)))
                if timed { _ = refreshTimes.record((DispatchTime.now().uptimeNanoseconds - started) / 1_000) }
            }
        }
        for key in [Key.char("5"), .char("+"), .char("+")] { try settle(state.update(.key(key))) }
        guard state.cpuScreen.window == .seconds(3600), state.cpuScreen.shapes.count == queues + 1,
              state.cpuScreen.shapes.allSatisfy({ $0.intervals >= seconds - 1 }) else { throw BenchError.lost("the CPU screen did not hold the hour") }
        // A refresh a second (merge the newest, work the shapes out again), timed apart.
        for second in 1...max(1, frames / 50) { try settle(state.update(.tick(end + .seconds(Int64(second)))), timed: true) }
        var histogram = Histogram<UInt64>(highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: .three)
        var previous = Dashboard.render(state)
        for frame in 0..<frames {
            _ = state.update(.key(.char(frame % 60 < 30 ? "h" : "l")))
            let started = DispatchTime.now().uptimeNanoseconds
            let grid = Dashboard.render(state)
            _ = grid.changes(from: previous)
            _ = histogram.record((DispatchTime.now().uptimeNanoseconds - started) / 1_000)
            previous = grid
        }
        try? FileManager.default.removeItem(atPath: path)
        return Result(
            readMedian: Double(readTimes.valueAtPercentile(50)) / 1_000, readP99: Double(readTimes.valueAtPercentile(99)) / 1_000,
            readCPUMedian: Double(readCPU.valueAtPercentile(50)) / 1_000, samples: count,
            frameMedian: Double(histogram.valueAtPercentile(50)) / 1_000, frameP99: Double(histogram.valueAtPercentile(99)) / 1_000,
            refreshMedian: Double(refreshTimes.valueAtPercentile(50)) / 1_000)
    }
}
