import Foundation
import Histogram
import PipetopCore
import PipetopUI

/// The trace's figures: a flow looked up in a large store (its events and records, in one read,
/// built into a tree), and a large flow drawn.
struct TraceFigures {
    let scratch: URL

    /// p50 and p99 in ms of `Trace`'s read (events + records by correlation id, one snapshot) and
    /// build, for `samples` correlation ids picked evenly from `ids`.
    static func lookups(path: String, ids: [String], samples: Int = 2_000) throws -> (p50: Double, p99: Double, records: Int) {
        let store = try openReader(url: path)
        var histogram = Histogram<UInt64>(highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: .three)
        var records = 0
        let step = max(1, ids.count / samples)
        for index in stride(from: 0, to: ids.count, by: step) {
            let id = ids[(index * 7_919) % ids.count]
            let started = DispatchTime.now().uptimeNanoseconds
            let (events, log) = try store.read { snapshot in (try snapshot.events(correlationID: id), try snapshot.trace(correlationID: id)) }
            let trace = Trace.build(correlationID: id, events: events, records: log)
            _ = histogram.record((DispatchTime.now().uptimeNanoseconds - started) / 1_000)
            guard !trace.nodes.isEmpty else { throw BenchError.lost("the flow \(id) has no events") }
            records += log.count
        }
        return (Double(histogram.valueAtPercentile(50)) / 1_000, Double(histogram.valueAtPercentile(99)) / 1_000, records)
    }

    /// A flow of `events` events (a root, each later event caused by one before it, so the tree is
    /// deep and wide), every one delivered once, drawn at 200×60 on the Trace screen: median and p99
    /// of a frame (state → grid → diff) in ms, scrolling one row a frame.
    func bigTraceFrame(events count: Int, frames: Int) throws -> (median: Double, p99: Double, events: Int) {
        let path = scratch.appendingPathComponent("big-trace.sqlite").path
        let store = try openStore(url: path, readOnly: false)
        var clock = Timestamp(micros: 1_800_000_000_000_000)
        var publish = WriteBatch(now: clock)
        publish.claims = [ClaimRequest(queue: "q", limit: count, lease: .seconds(30), maxAttempts: 3)]
        for n in 0..<count {
            let event = CloudEvent(
                id: "e\(n)", source: "/bench", type: "step.\(n % 7)", time: clock, correlationID: "big-flow", causationID: n == 0 ? nil : "e\((n - 1) / 3)")
            publish.publishes.append(RoutedEvent(event: event, targets: [Target(queue: "q", held: false)]))
        }
        let claimed = try store.apply(publish).claimed
        clock = clock + .milliseconds(20)
        var finish = WriteBatch(now: clock)
        finish.outcomes = claimed.map { Outcome(claim: $0.claim, duration: .microseconds(200), finishedAt: clock, result: .succeeded(children: [])) }
        _ = try store.apply(finish)

        var state = AppState(size: Size(width: 200, height: 60), now: clock, theme: .builtin, themeNames: [], storeLocation: path, readOnly: true)
        for key in [Key.char(":")] + Key.typing("trace big-flow") + [.enter] {
            for effect in state.update(.key(key)) {
                if case .read(let request, let id) = effect { _ = state.update(.answer(try request.answer(from: store), for: id)) }
            }
        }
        guard let trace = state.traceScreen.trace, trace.nodes.count == count else { throw BenchError.lost("the big flow was not read whole") }
        var histogram = Histogram<UInt64>(highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: .three)
        var previous = Dashboard.render(state)
        for _ in 0..<frames {
            _ = state.update(.key(.char("j")))
            let started = DispatchTime.now().uptimeNanoseconds
            let grid = Dashboard.render(state)
            _ = grid.changes(from: previous)
            _ = histogram.record((DispatchTime.now().uptimeNanoseconds - started) / 1_000)
            previous = grid
        }
        return (Double(histogram.valueAtPercentile(50)) / 1_000, Double(histogram.valueAtPercentile(99)) / 1_000, trace.nodes.count)
    }
}
