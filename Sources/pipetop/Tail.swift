import ArgumentParser
import Foundation
import PipetopCore

struct Tail: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the event log, as text or JSON lines (for jq or lnav).")

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: OutputOptions

    @Option(name: [.customShort("n"), .long], help: "Start with the last N records.")
    var lines = 20

    @Flag(name: .shortAndLong, help: "Keep printing new records as they are written.")
    var follow = false

    func run() throws {
        guard lines >= 0 else { throw BadInput("--lines must be 0 or more") }
        let store = try storeOptions.openReader()
        let interrupted = SignalWaiter([SIGINT, SIGTERM, SIGPIPE])
        // One read: the newest records, of which the last `lines` are printed (none for -n 0, but
        // following still starts after the newest).
        let newest = try store.history(before: .max, limit: max(lines, 1))
        var last = newest.first?.seq ?? 0
        for record in newest.prefix(lines).reversed() { emit(record) }
        while follow {
            let records = try store.tail(after: last, limit: 10_000)
            for record in records { emit(record) }
            last = records.last?.seq ?? last
            fflush(nil)  // all streams: Swift 6 forbids touching the global `stdout`
            if records.count < 10_000, interrupted.wait(until: Date().addingTimeInterval(0.2)) { break }
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
        var line = "\(r.time.rfc3339) \(r.kind.rawValue.padding(toLength: 15, withPad: " ", startingAt: 0)) \((r.queue ?? "-").padding(toLength: 12, withPad: " ", startingAt: 0)) \(r.eventType ?? "-") \(r.eventID)"
        if let attempt = r.attempt { line += " attempt=\(attempt)" }
        if let duration = r.duration { line += String(format: " %.3fms", duration.secondsDouble * 1000) }
        if let error = r.error { line += " error=\"\(error)\"" }
        if let detail = r.detail { line += " (\(detail))" }
        print(line.terminalSafe)
    }
}
