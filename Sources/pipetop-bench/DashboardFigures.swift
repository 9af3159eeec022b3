import Foundation
import Histogram
import PipetopCore
import PipetopUI

/// The dashboard's figures, measured without a terminal through the same code the terminal runs:
/// `StoreReader.snapshot` → `AppState.update` → `Dashboard.render` → `Grid.changes` (what the
/// ncurses backend diffs a frame with).
struct DashboardFigures {
    let storePath: String

    private func attachedState(_ store: ReadableStore, size: Size) throws -> (AppState, Int64) {
        var state = AppState(size: size, now: .now(), theme: .builtin, themeNames: [], storeLocation: storePath, readOnly: true)
        let first = try StoreReader.snapshot(store: store, after: nil, limit: state.capacity, now: .now())
        _ = state.update(.data(first))
        return (state, first.records.last?.seq ?? 0)
    }

    /// Median and p99 of one frame (state → cell grid → diff against the previous frame) at 200×60,
    /// with 50 new log records and fresh queue stats arriving before every frame, as when following
    /// a busy pipeline. The update that ingests them is not part of the frame.
    func frames(view: ViewID, count: Int) throws -> (median: Double, p99: Double) {
        let store = try openReader(url: storePath)
        var (state, _) = try attachedState(store, size: Size(width: 200, height: 60))
        state.view = view
        // Replay the newest records again, 50 a frame, as if they were arriving.
        let incoming = try store.history(before: .max, limit: count * 50).reversed().map { $0 }
        let queues = try store.queueStats(now: .now())
        var histogram = Histogram<UInt64>(highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: .three)
        var previous = Dashboard.render(state)
        var clock = Timestamp.now()
        var seq = (incoming.last?.seq ?? 0) + 1
        for frame in 0..<count {
            clock = clock + .milliseconds(250)
            // The next 50 records, wrapping around when the store has fewer than count × 50.
            let start = (frame * 50) % max(incoming.count - 50, 1)
            let batch = incoming[start..<min(start + 50, incoming.count)].map { record -> LifecycleRecord in
                var record = record
                record.seq = seq
                seq += 1
                return record
            }
            _ = state.update(.data(DataSnapshot(time: clock, records: batch, queues: queues, runtimes: [], published: seq)))
            let started = DispatchTime.now().uptimeNanoseconds
            let grid = Dashboard.render(state)
            let runs = grid.changes(from: previous)
            let elapsed = DispatchTime.now().uptimeNanoseconds - started
            _ = histogram.record(elapsed / 1000)
            // Following the Events view, new records always move the screen: a frame that changed nothing measured nothing.
            if view == .events, frame > 0, runs.isEmpty { throw BenchError.lost("an Events frame with new records changed no cell") }
            previous = grid
        }
        return (Double(histogram.valueAtPercentile(50)) / 1000, Double(histogram.valueAtPercentile(99)) / 1000)
    }

    /// Records per second the dashboard ingests when it follows the whole log from the start:
    /// each poll reads up to the reader's batch limit plus queue stats, runtimes and totals, and
    /// the update folds them into the bounded ring.
    func followRate() throws -> (rate: Double, records: Int) {
        let store = try openReader(url: storePath)
        var state = AppState(size: Size(width: 200, height: 60), now: .now(), theme: .builtin, themeNames: [], storeLocation: storePath, readOnly: true)
        var last: Int64 = 0
        var read = 0
        let started = Date()
        while true {
            let snapshot = try StoreReader.snapshot(store: store, after: last, limit: StoreReader.batchLimit, now: .now())
            guard let end = snapshot.records.last else { break }
            read += snapshot.records.count
            last = end.seq
            _ = state.update(.data(snapshot))
        }
        return (Double(read) / Date().timeIntervalSince(started), read)
    }

    /// Run in a child process (`--attach-probe`): attach as the dashboard does, draw the first frame,
    /// follow for a few polls, scroll back, and report the time to the first frame and the peak
    /// resident memory of this process image (`VmHWM`). Not `ru_maxrss` from the parent: Linux
    /// carries the pre-exec image's peak into it, and a spawned child starts as the benchmark's.
    static func probe(storePath: String) throws -> (firstFrame: Double, peakKiB: Int) {
        let started = DispatchTime.now().uptimeNanoseconds
        let store = try openReader(url: storePath)
        var state = AppState(size: Size(width: 200, height: 60), now: .now(), theme: .builtin, themeNames: [], storeLocation: storePath, readOnly: true)
        let first = try StoreReader.snapshot(store: store, after: nil, limit: state.capacity, now: .now())
        _ = state.update(.data(first))
        var grid = Dashboard.render(state)
        _ = grid.changes(from: nil)
        let firstFrame = Double(DispatchTime.now().uptimeNanoseconds - started) / 1_000_000
        // Keep going as an attached dashboard would: poll, scroll back through history, redraw.
        var last = first.records.last?.seq ?? 0
        for _ in 0..<20 {
            let snapshot = try StoreReader.snapshot(store: store, after: last, limit: StoreReader.batchLimit, now: .now())
            last = snapshot.records.last?.seq ?? last
            _ = state.update(.data(snapshot))
            state.view = state.view.cycled(by: 1)
            let next = Dashboard.render(state)
            _ = next.changes(from: grid)
            grid = next
        }
        var before = first.records.first?.seq ?? 0
        for _ in 0..<20 where before > 1 {
            let older = try store.history(before: before, limit: 5000)
            before = older.last?.seq ?? 0
        }
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        guard let peak = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else {
            throw BenchError.lost("no VmHWM in /proc/self/status")
        }
        return (firstFrame, peak)
    }
}

/// Runs this benchmark binary as a child in probe mode and returns (time to first frame in ms,
/// peak resident memory in MiB), as the child measured them.
enum AttachProbe {
    static func run(storePath: String) throws -> (firstFrame: Double, peakMiB: Double) {
        let executable = CommandLine.arguments[0].hasPrefix("/") ? CommandLine.arguments[0]
            : FileManager.default.currentDirectoryPath + "/" + CommandLine.arguments[0]
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(getpid()).out").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let arguments = [executable, "--attach-probe", storePath]
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, executable, &actions, nil, argv, environ) == 0 else { throw BenchError.lost("could not start the attach probe") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = (try? String(contentsOfFile: output, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let fields = text.split(separator: " ")
        guard status == 0, fields.count == 2, let firstFrame = Double(fields[0]), let peakKiB = Double(fields[1]) else {
            throw BenchError.lost("attach probe failed (status \(status)): \(text)")
        }
        return (firstFrame, peakKiB / 1024)
    }
}
