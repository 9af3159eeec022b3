import ArgumentParser
import Foundation
import PipetopCore

struct Tail: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the event log, as text or JSON lines (for jq or lnav).",
        discussion: """
            One record per line, oldest first: time, kind, queue, correlation id, event type, event id, \
            then attempt, run time, error and detail where the step has them. Filters combine (all must \
            hold) and run in the store: --corr through its index, --kind along the index of failures, \
            dead letters and operators' actions where it names only those, the rest by walking the log \
            from its newest record back. A queue compares with ASCII letters in either case.

            Kinds: \(LifecycleKind.allCases.map(\.rawValue).joined(separator: ", ")).
            """)

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: OutputOptions

    @Option(name: [.customShort("n"), .long], help: "Start with the last N matching records.")
    var lines = 20

    @Flag(name: .shortAndLong, help: "Keep printing new matching records as they are written.")
    var follow = false

    @Option(name: [.customLong("corr"), .customLong("correlation")], help: ArgumentHelp("Only this business flow (its correlation id, as stored).", valueName: "id"))
    var correlationID: String?

    @Option(help: ArgumentHelp("Only records of this queue.", valueName: "name"))
    var queue: String?

    @Option(help: ArgumentHelp("Only records of these kinds (repeat it, or separate them with commas).", valueName: "kind"))
    var kind: [String] = []

    /// The filters as a read of the log.
    func query() throws -> LogQuery {
        var terms: [LogQuery.Term] = []
        if let correlationID {
            guard !correlationID.isEmpty else { throw BadInput("--corr needs a correlation id") }
            terms.append(.correlation(correlationID))
        }
        if let queue {
            guard !queue.isEmpty else { throw BadInput("--queue needs a queue name") }
            terms.append(.queue(queue))
        }
        if !kind.isEmpty {
            var kinds = Set<LifecycleKind>()
            for name in kind.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
                let name = name.trimmingCharacters(in: .whitespaces)
                guard let kind = LifecycleKind(rawValue: name) else {
                    throw BadInput("--kind '\(name.terminalSafe)' is not a kind of record; the kinds are \(LifecycleKind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                kinds.insert(kind)
            }
            terms.append(.kinds(kinds))
        }
        return LogQuery(terms)
    }

    func run() throws {
        guard lines >= 0 else { throw BadInput("--lines must be 0 or more") }
        let query = try query()
        let store = try storeOptions.openReader()
        let interrupted = SignalWaiter([SIGINT, SIGTERM, SIGPIPE])
        // The newest record now: the last `lines` matches are read back from it, and following
        // starts after it (none are printed for -n 0).
        var last = try store.history(before: .max, limit: 1).first?.seq ?? 0
        var newest: [LifecycleRecord] = []
        var cursor = last + 1
        while newest.count < lines {
            let page = try store.log(matching: query, before: cursor, limit: lines - newest.count)
            newest += page.records
            // A reader that went away (`| head`) raises SIGPIPE: stop searching.
            if page.reachedEnd || interrupted.wait(until: Date()) { break }
            cursor = page.next
        }
        for record in newest.reversed() { emit(record) }
        while follow {
            let page = try store.log(matching: query, after: last, limit: 10_000)
            for record in page.records { emit(record) }
            last = page.next
            fflush(nil)  // all streams: Swift 6 forbids touching the global `stdout`
            let caughtUp = page.reachedEnd && page.records.count < 10_000
            if interrupted.wait(until: Date().addingTimeInterval(caughtUp ? 0.2 : 0)) { break }
        }
    }

    private func emit(_ r: LifecycleRecord) {
        if output.json {
            var object: [String: Any] = ["seq": r.seq, "time": r.time.rfc3339, "kind": r.kind.rawValue, "event_id": r.eventID]
            object["event_type"] = r.eventType
            object["correlation_id"] = r.correlationID
            object["queue"] = r.queue
            object["message_id"] = r.messageID
            object["attempt"] = r.attempt
            object["duration_us"] = r.duration?.micros
            object["error"] = r.error
            object["detail"] = r.detail
            if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
                print(String(decoding: data, as: UTF8.self).jsonTerminalSafe)
            }
            return
        }
        func padded(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
        var line = "\(r.time.rfc3339) \(padded(r.kind.rawValue, 15)) \(padded(r.queue ?? "-", 12)) \(r.correlationID ?? "-") \(r.eventType ?? "-") \(r.eventID)"
        if let attempt = r.attempt { line += " attempt=\(attempt)" }
        if let duration = r.duration { line += String(format: " %.3fms", duration.secondsDouble * 1000) }
        if let error = r.error { line += " error=\"\(error)\"" }
        if let detail = r.detail { line += " (\(detail))" }
        print(line.terminalSafe)
    }
}
