import ArgumentParser
import Foundation
import PipetopCore

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print stored events as CloudEvents (JSON event format), one per line, for other tools.",
        discussion: """
            Every envelope comes back as it was published: id, source, type, time (to the microsecond), \
            subject, dataschema, datacontenttype, data and every extension with its type. Filters combine \
            (all must hold); --since and --until compare the time the event was stored, as an RFC 3339 time \
            or a duration ago (10m, 2h). A correlation id is looked up through its index; the other filters \
            walk the store from the newest event back (or, with --all, from the oldest on).

            Round trip: pipetop events --correlation listing-817 --all | pipetop publish --store other.sqlite
            """)

    @OptionGroup var storeOptions: StoreOptions

    @Option(name: [.customLong("correlation"), .customLong("corr")], help: ArgumentHelp("Only this business flow (correlationid).", valueName: "id"))
    var correlationID: String?

    @Option(name: .customLong("id"), help: ArgumentHelp("Only events with this id.", valueName: "id"))
    var eventID: String?

    @Option(help: ArgumentHelp("Only events from this source.", valueName: "source"))
    var source: String?

    @Option(help: ArgumentHelp("Only events of this type.", valueName: "type"))
    var type: String?

    @Option(help: ArgumentHelp("Only events stored at or after this time (RFC 3339, or a duration ago: 10m).", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("Only events stored before this time (RFC 3339, or a duration ago).", valueName: "time"))
    var until: String?

    @Option(name: [.customShort("n"), .long], help: "Print the last N matching events, oldest of them first (default: 20).")
    var lines: Int?

    @Flag(help: "Print every matching event, oldest first (instead of the last N).")
    var all = false

    @Flag(name: .shortAndLong, help: "Keep printing new matching events as they are stored.")
    var follow = false

    @Flag(help: "Print one JSON array (the CloudEvents JSON batch format) instead of one event per line.")
    var batch = false

    @Flag(help: "Accepted as on every read command; the output is always JSON (CloudEvents, one per line).")
    var json = false

    func run() throws {
        if let lines, lines < 0 { throw BadInput("--lines must be 0 or more, not \(lines)") }
        if batch && follow { throw BadInput("--batch prints one array and ends; it cannot be combined with --follow") }
        if all && lines != nil { throw BadInput("--all prints every matching event; it cannot be combined with --lines") }
        let lines = self.lines ?? 20
        let now = Timestamp.now()
        let query = EventQuery(
            correlationID: correlationID, id: eventID, source: source, type: type,
            publishedSince: try since.map { try Self.time($0, option: "--since", now: now) },
            publishedUntil: try until.map { try Self.time($0, option: "--until", now: now) })
        let store = try storeOptions.openReader()
        let interrupted = SignalWaiter([SIGINT, SIGTERM, SIGPIPE])
        var printer = Printer(batch: batch)
        var last: Int64 = 0
        let page = 1000
        if all {
            while true {
                let events = try store.events(matching: query, after: last, limit: page)
                for stored in events { printer.print(stored.event) }
                last = events.last?.seq ?? last
                // A reader that went away (`| head`) raises SIGPIPE: stop paging.
                if events.count < page || interrupted.wait(until: Date()) { break }
            }
        } else {
            let newest = try store.events(matching: query, before: .max, limit: max(lines, 1))
            last = newest.first?.seq ?? 0
            for stored in newest.prefix(lines).reversed() { printer.print(stored.event) }
            // With no match yet, following starts after the newest event of the store, not from its start.
            if follow, newest.isEmpty {
                last = try store.events(matching: EventQuery(), before: .max, limit: 1).first?.seq ?? 0
            }
        }
        printer.finish()
        while follow {
            let events = try store.events(matching: query, after: last, limit: page)
            for stored in events { printer.print(stored.event) }
            last = events.last?.seq ?? last
            fflush(nil)
            if events.count < page, interrupted.wait(until: Date().addingTimeInterval(0.2)) { break }
        }
    }

    /// An RFC 3339 time, or a duration before `now`.
    static func time(_ text: String, option: String, now: Timestamp) throws -> Timestamp {
        guard let time = Timestamp(timeOrAgo: text, now: now) else {
            throw BadInput("\(option) takes \(Timestamp.timeOrAgoForms), not '\(text.terminalSafe)'")
        }
        return time
    }

    /// One envelope per line, or the batch format's array, built as it goes.
    struct Printer {
        let batch: Bool
        var count = 0

        mutating func print(_ event: CloudEvent) {
            // jsonString escapes every terminal-unsafe character as \uXXXX: safe on a terminal, the
            // same string to a JSON parser.
            let json = event.jsonString()
            if batch { Swift.print(count == 0 ? "[" + json : "," + json) } else { Swift.print(json) }
            count += 1
        }

        func finish() {
            if batch { Swift.print(count == 0 ? "[]" : "]") }
        }
    }
}
