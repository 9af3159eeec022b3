import Foundation
import PipetopCore

/// The `/` filter: whitespace-separated terms that must all match. `kind:failed`, `queue:enrich`,
/// `corr:ID` (the correlation id, as stored: case counts; `corr:PREFIX*` for every id starting
/// so), `type:…`; any other word matches as text in the event type, event id, correlation id,
/// queue, error, detail or kind. `kind:` takes a prefix, so `kind:dead` finds `dead-lettered`.
/// Text compares as stored with ASCII letters in either case (`LogQuery`), which is what the
/// store can search for.
public struct Filter: Equatable, Sendable {
    public enum Term: Equatable, Sendable {
        case kind(String), queue(String), correlation(String), type(String), text(String)
    }

    public var source: String
    public var terms: [Term]
    /// The dashboard's clock when the text was typed: what a screen counts durations back from
    /// (the Dead letters screen's `since:10m`), so the filter means the same while it is shown.
    /// Nil for a filter made by code, not typed.
    public var enteredAt: Timestamp?
    /// The terms as a read of the log: `matches` here and in the store.
    public let query: LogQuery

    public init(_ source: String, enteredAt: Timestamp? = nil) {
        self.enteredAt = enteredAt
        self.source = source.trimmingCharacters(in: .whitespaces)
        terms = self.source.split(separator: " ").map { word in
            func value(_ prefix: String) -> String? {
                word.lowercased().hasPrefix(prefix) ? String(word.dropFirst(prefix.count)) : nil
            }
            if let v = value("kind:") { return .kind(ASCIIFold.lowered(v)) }
            if let v = value("queue:") ?? value("q:") { return .queue(ASCIIFold.lowered(v)) }
            if let v = value("corr:") ?? value("correlation:") { return .correlation(v) }
            if let v = value("type:") { return .type(ASCIIFold.lowered(v)) }
            return .text(ASCIIFold.lowered(String(word)))
        }
        query = LogQuery(terms.map { term in
            switch term {
            case .kind(let prefix): return .kinds(LifecycleKind.named(prefix: prefix))
            case .queue(let name): return .queue(name)
            // One flow exactly (`c` sets it: `corr:listing-1` is not listing-17's), or a prefix.
            case .correlation(let id): return id.hasSuffix("*") ? .correlationPrefix(String(id.dropLast())) : .correlation(id)
            case .type(let text): return .type(text)
            case .text(let text): return .text(text)
            }
        })
    }

    public var isEmpty: Bool { terms.isEmpty }

    public func matches(_ record: LifecycleRecord) -> Bool { query.matches(record) }

    /// Queue terms also filter the Overview's queue table.
    public func matches(queue: QueueStats) -> Bool {
        for term in terms {
            switch term {
            case .queue(let q): if !ASCIIFold.equals(queue.name, q) { return false }
            case .text(let t): if !ASCIIFold.contains(queue.name, t) && !ASCIIFold.contains(queue.modeName, t) { return false }
            default: continue
            }
        }
        return true
    }
}
