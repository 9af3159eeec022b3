import ArgumentParser
import Foundation
import PipetopCore

/// `pipetop trace ID`: one flow's tree from the store, as the Trace screen shows it.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "One flow by correlation id: its events by causation, each delivery's wait, attempts and end, the critical path.",
        discussion: """
            Read from the store (indexed by correlation id). Each event is shown under the event that caused it; \
            an event whose cause is not in the flow is an orphan, and causes that loop are cut and marked. \
            Per delivery: the queue, the wait (enqueue, or a batch window's hold, to the claim), each attempt's \
            run and error, replays, and how it ended. `*` marks the critical path: the chain that decided when \
            the flow was done.
            """)

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: OutputOptions

    @Argument(help: "The correlation id (the CORR column of the dashboard, `correlationid` of the events).")
    var id: String

    func run() throws {
        let store = try storeOptions.openReader()
        let (events, records) = try store.read { snapshot in (try snapshot.events(correlationID: id), try snapshot.trace(correlationID: id)) }
        let trace = Trace.build(correlationID: id, events: events, records: records)
        guard !trace.nodes.isEmpty else { throw BadInput("no events with correlation id \(id) in \(store.location)") }
        if output.json { return try DeadLetters.printJSON(Self.json(trace)) }
        print("trace \(id.terminalSafe) · \(trace.summary.terminalSafe)")
        for node in trace.nodes {
            let indent = String(repeating: "  ", count: node.depth)
            var line = indent + (node.critical ? "* " : "  ") + node.event.type.terminalSafe + "  " + node.event.id.terminalSafe
            if let published = node.publishedAt { line += "  published +" + Trace.durationText(published - trace.start) }
            if node.orphan { line += "  (orphan: cause \((node.event.causationID ?? "").terminalSafe) not in the flow)" }
            if node.cycle { line += "  (its causes loop: cut here)" }
            if node.rejected { line += "  (rejected: no rule matched)" }
            print(line)
            for hop in node.hops {
                var parts = ["\(hop.queue.terminalSafe)", hop.state.rawValue, "wait \(Trace.durationText(hop.wait))", "run \(Trace.durationText(hop.run))"]
                if let released = hop.releasedAt { parts.append("held \(Trace.durationText(released - hop.enqueuedAt)) for the batch") }
                if !hop.replays.isEmpty { parts.append("replayed \(hop.replays.count)×") }
                print(indent + "    → " + parts.joined(separator: "  "))
                for attempt in hop.attempts {
                    var text = "attempt \(attempt.number) +\(Trace.durationText(attempt.claimedAt - trace.start))"
                    if let finished = attempt.finishedAt { text += " ran \(Trace.durationText(finished - attempt.claimedAt))" }
                    switch attempt.outcome {
                    case .succeeded: text += " succeeded"
                    case .running: text += " running"
                    case .failed(let error): text += " failed: " + DeadLetters.oneLine(error, max: 100)
                    case .leaseExpired(let error): text += " lease expired: " + DeadLetters.oneLine(error, max: 100)
                    }
                    print(indent + "        " + text)
                }
            }
        }
    }

    static func json(_ trace: Trace) -> [String: Any] {
        func micros(_ d: Duration) -> Int64 { d.micros }
        let nodes: [[String: Any]] = trace.nodes.map { node in
            var object: [String: Any] = [
                "id": node.event.id, "type": node.event.type, "source": node.event.source, "depth": node.depth, "critical": node.critical,
                "orphan": node.orphan, "cycle": node.cycle, "rejected": node.rejected, "children": node.children,
                "hops": node.hops.map { hop -> [String: Any] in
                    var h: [String: Any] = [
                        "queue": hop.queue, "message_id": hop.messageID, "state": hop.state.rawValue, "enqueued_at": hop.enqueuedAt.rfc3339,
                        "wait_us": micros(hop.wait), "run_us": micros(hop.run), "replays": hop.replays.map(\.rfc3339),
                        "attempts": hop.attempts.map { a -> [String: Any] in
                            var o: [String: Any] = ["attempt": a.number, "claimed_at": a.claimedAt.rfc3339]
                            if let f = a.finishedAt { o["finished_at"] = f.rfc3339 }
                            switch a.outcome {
                            case .succeeded: o["outcome"] = "succeeded"
                            case .running: o["outcome"] = "running"
                            case .failed(let e): o["outcome"] = "failed"; o["error"] = e
                            case .leaseExpired(let e): o["outcome"] = "lease-expired"; o["error"] = e
                            }
                            return o
                        },
                    ]
                    if let r = hop.releasedAt { h["released_at"] = r.rfc3339 }
                    if let e = hop.endedAt { h["ended_at"] = e.rfc3339 }
                    if let e = hop.error { h["error"] = e }
                    return h
                },
            ]
            if let cause = node.event.causationID { object["causation_id"] = cause }
            if let parent = node.parent { object["parent"] = parent }
            if let p = node.publishedAt { object["published_at"] = p.rfc3339 }
            return object
        }
        var object: [String: Any] = [
            "correlation_id": trace.correlationID, "events": nodes.count, "hops": trace.hopCount, "attempts": trace.attemptCount,
            "retries": trace.retryCount, "start": trace.start.rfc3339, "end": trace.end.rfc3339, "nodes": nodes,
            "time_by_queue": trace.timeByQueue.map { ["queue": $0.queue, "wait_us": micros($0.wait), "run_us": micros($0.run)] as [String: Any] },
        ]
        if let e2e = trace.endToEnd { object["end_to_end_us"] = micros(e2e) }
        return object
    }
}
