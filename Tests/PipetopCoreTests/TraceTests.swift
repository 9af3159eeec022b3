import Foundation
import Testing
@testable import PipetopCore

/// Flows as trees from records in any order: retries, fan-out, replays, batch holds, orphans, cycles.
@Suite struct TraceTests {
    let t0 = Timestamp(micros: 1_800_000_000_000_000)
    func at(_ ms: Int64) -> Timestamp { t0 + .milliseconds(ms) }

    func event(_ id: String, cause: String? = nil, type: String = "t") -> CloudEvent {
        CloudEvent(id: id, source: "/s", type: type, time: t0, correlationID: "flow", causationID: cause)
    }

    func record(_ seq: Int64, _ ms: Int64, _ kind: LifecycleKind, _ event: String, queue: String? = nil, message: Int64? = nil,
                attempt: Int? = nil, error: String? = nil, detail: String? = nil) -> LifecycleRecord {
        LifecycleRecord(seq: seq, time: at(ms), kind: kind, eventID: event, correlationID: "flow", queue: queue, messageID: message,
                        attempt: attempt, duration: kind == .succeeded || kind == .failed ? .milliseconds(1) : nil, error: error, detail: detail)
    }

    /// root → parse (a retry, then success) → child fanned out to enrich (ok) and index (batch, dead).
    var flow: (events: [CloudEvent], records: [LifecycleRecord]) {
        let events = [event("root", type: "listing.uploaded"), event("child", cause: "root", type: "listing.parsed")]
        let records = [
            record(1, 0, .published, "root"), record(2, 0, .enqueued, "root", queue: "parse", message: 1),
            record(3, 10, .claimed, "root", queue: "parse", message: 1, attempt: 1),
            record(4, 12, .failed, "root", queue: "parse", message: 1, attempt: 1, error: "timeout"),
            record(5, 12, .retryScheduled, "root", queue: "parse", message: 1, attempt: 1),
            record(6, 200, .claimed, "root", queue: "parse", message: 1, attempt: 2),
            record(7, 205, .succeeded, "root", queue: "parse", message: 1, attempt: 2),
            record(8, 205, .published, "child"), record(9, 205, .enqueued, "child", queue: "enrich", message: 2),
            record(10, 205, .enqueued, "child", queue: "index", message: 3, detail: "held for the batch window"),
            record(11, 210, .claimed, "child", queue: "enrich", message: 2, attempt: 1),
            record(12, 215, .succeeded, "child", queue: "enrich", message: 2, attempt: 1),
            record(13, 5_000, .batchReleased, "child", queue: "index", message: 3),
            record(14, 5_001, .claimed, "child", queue: "index", message: 3, attempt: 1),
            record(15, 5_003, .failed, "child", queue: "index", message: 3, attempt: 1, error: "shard down"),
            record(16, 5_003, .deadLettered, "child", queue: "index", message: 3, attempt: 1, error: "shard down", detail: "non-retryable"),
        ]
        return (events, records)
    }

    @Test func aFlowWithARetryAFanOutAndADeadBatchBranch() {
        let (events, records) = flow
        // Any order in, the same tree out.
        let trace = Trace.build(correlationID: "flow", events: events.reversed(), records: records.reversed())
        #expect(trace.nodes.map(\.event.id) == ["child", "root"] || trace.nodes.map(\.event.id) == ["root", "child"])
        let root = trace.nodes.first { $0.event.id == "root" }!, child = trace.nodes.first { $0.event.id == "child" }!
        #expect(root.depth == 0 && child.depth == 1 && child.parent == trace.nodes.firstIndex { $0.event.id == "root" })
        let parse = root.hops[0]
        #expect(parse.queue == "parse" && parse.state == .succeeded && parse.attempts.count == 2)
        #expect(parse.attempts[0].outcome == .failed("timeout") && parse.attempts[1].outcome == .succeeded)
        #expect(parse.wait == .milliseconds(10 + 188) && parse.run == .milliseconds(2 + 5), "wait: enqueue → claim, backoff → claim; run: claim → finish")
        let index = child.hops.first { $0.queue == "index" }!
        #expect(index.releasedAt == at(5_000) && index.state == .dead && index.error == "shard down")
        #expect(index.wait == .milliseconds(4_796), "the bus wait counts: held from enqueue to release, then to the claim")
        #expect(trace.endToEnd == .milliseconds(215), "published → the last success")
        #expect(trace.retryCount == 1 && trace.attemptCount == 4 && trace.hopCount == 3)
        #expect(trace.branchStates.map(\.state) == [.succeeded, .dead])
        #expect(root.critical && child.critical, "the dead batch branch ended last: its chain is the critical path")
        #expect(trace.summary.contains("end to end 215ms") && trace.summary.contains("1 retry"))
    }

    @Test func inTreeOrderEachEventIsFollowedByItsSubtree() {
        let events = [event("a"), event("b", cause: "a"), event("c"), event("d", cause: "b"), event("e", cause: "a")]
        let trace = Trace.build(correlationID: "flow", events: events, records: [])
        #expect(trace.nodes.map(\.event.id) == ["a", "b", "d", "e", "c"])
        #expect(trace.nodes.map(\.depth) == [0, 1, 2, 1, 0])
        #expect(trace.nodes[0].children == [1, 3] && trace.nodes[1].children == [2])
    }

    @Test func orphansAndCyclesAreShownNotDroppedOrLoopedOver() {
        let events = [event("x", cause: "y"), event("y", cause: "z"), event("z", cause: "x"), event("lost", cause: "missing"), event("self", cause: "self")]
        let trace = Trace.build(correlationID: "flow", events: events, records: [record(1, 0, .published, "ghost")])
        #expect(trace.nodes.count == 6, "every event, and the record's unknown event, has a node")
        #expect(trace.nodes.first { $0.event.id == "lost" }?.orphan == true)
        #expect(trace.nodes.filter(\.cycle).count == 1, "the loop x → y → z → x is cut once")
        #expect(trace.nodes.first { $0.event.id == "self" }.map { $0.parent == nil && !$0.cycle } == true, "its own cause is a root")
        #expect(Set(trace.nodes.map(\.event.id)) == ["x", "y", "z", "lost", "self", "ghost"])
    }

    @Test func aReplayedHopShowsItsReplayAndItsNewDelivery() {
        let records = [
            record(1, 0, .published, "e"), record(2, 0, .enqueued, "e", queue: "q", message: 7),
            record(3, 1, .claimed, "e", queue: "q", message: 7, attempt: 1),
            record(4, 2, .failed, "e", queue: "q", message: 7, attempt: 1, error: "bad"),
            record(5, 2, .deadLettered, "e", queue: "q", message: 7, attempt: 1, error: "bad"),
            record(6, 60_000, .redriven, "e", queue: "q", message: 7, attempt: 0, detail: "replay r by a@b: fresh attempt budget, new delivery"),
            record(7, 60_010, .claimed, "e", queue: "q", message: 7, attempt: 1),
            record(8, 60_011, .succeeded, "e", queue: "q", message: 7, attempt: 1),
        ]
        let trace = Trace.build(correlationID: "flow", events: [event("e")], records: records)
        let hop = trace.nodes[0].hops[0]
        #expect(hop.replays == [at(60_000)] && hop.state == .succeeded && hop.attempts.count == 2)
        #expect(trace.retryCount == 0, "a replay is not a retry")
        #expect(hop.wait == .milliseconds(1 + 60_008), "the wait runs from the dead letter's last attempt to the new claim")
    }
}
