/// One replay of a message, from its log records: when, by whom (which replay), and what came of it.
public struct MessageReplay: Sendable, Equatable {
    public var at: Timestamp
    /// The replay as its record names it: `replay <id> by user@host`, `replay job 7 by …`, edits.
    public var by: String
    public var result: Result

    public enum Result: Sendable, Equatable, CustomStringConvertible {
        case delivered
        /// A delivery failed and a retry is scheduled.
        case failedAgain(String)
        case deadAgain(String)
        /// Not delivered yet.
        case waiting

        public var description: String {
            switch self {
            case .delivered: "delivered"
            case .failedAgain(let error): "failed again (retrying): \(error)"
            case .deadAgain(let error): "dead again: \(error)"
            case .waiting: "waiting for a delivery"
            }
        }
    }

    /// The replays of `messageID` among `records` (a flow's log, oldest first), each with its result.
    public static func of(messageID: Int64, in records: [LifecycleRecord]) -> [MessageReplay] {
        let mine = records.filter { $0.messageID == messageID }
        var replays: [MessageReplay] = []
        for (index, record) in mine.enumerated() where record.kind == .redriven {
            let detail = record.detail ?? "replay"
            let by = detail.range(of: ": fresh attempt budget").map { String(detail[..<$0.lowerBound]) } ?? detail
            var result = Result.waiting
            for next in mine[(index + 1)...] {
                if next.kind == .redriven { break }
                switch next.kind {
                case .succeeded: result = .delivered
                case .deadLettered: result = .deadAgain(next.error ?? "")
                case .retryScheduled, .failed: result = .failedAgain(next.error ?? "")
                default: continue
                }
                if case .failedAgain = result { continue }  // a later record may say how it ended
                break
            }
            replays.append(MessageReplay(at: record.time, by: by, result: result))
        }
        return replays
    }
}
