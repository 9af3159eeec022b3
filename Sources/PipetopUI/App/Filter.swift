import Foundation
import PipetopCore

/// The `/` filter: whitespace-separated terms that must all match. `kind:failed`, `queue:enrich`,
/// `corr:ID` (prefix of the correlation id), `type:…`; any other word matches as text in the
/// event type, event id, queue, error or detail (case-insensitive). `kind:` takes a prefix too,
/// so `kind:dead` finds `dead-lettered`.
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

    public init(_ source: String, enteredAt: Timestamp? = nil) {
        self.enteredAt = enteredAt
        self.source = source.trimmingCharacters(in: .whitespaces)
        terms = self.source.split(separator: " ").map { word in
            let lower = word.lowercased()
            func value(_ prefix: String) -> String? { lower.hasPrefix(prefix) ? String(lower.dropFirst(prefix.count)) : nil }
            if let v = value("kind:") { return .kind(v) }
            if let v = value("queue:") ?? value("q:") { return .queue(v) }
            if let v = value("corr:") ?? value("correlation:") { return .correlation(v) }
            if let v = value("type:") { return .type(v) }
            return .text(lower)
        }
    }

    public var isEmpty: Bool { terms.isEmpty }

    public func matches(_ record: LifecycleRecord) -> Bool {
        for term in terms {
            switch term {
            case .kind(let k): if !record.kind.rawValue.hasPrefix(k) { return false }
            case .queue(let q): if (record.queue ?? "").lowercased() != q { return false }
            case .correlation(let c): if !(record.correlationID ?? "").lowercased().hasPrefix(c) { return false }
            case .type(let t): if !(record.eventType ?? "").lowercased().contains(t) { return false }
            case .text(let t):
                let fields = [record.eventType, record.eventID, record.queue, record.error, record.detail, record.correlationID, record.kind.rawValue]
                if !fields.contains(where: { ($0 ?? "").lowercased().contains(t) }) { return false }
            }
        }
        return true
    }

    /// Queue terms also filter the Overview's queue table.
    public func matches(queue: QueueStats) -> Bool {
        for term in terms {
            switch term {
            case .queue(let q): if queue.name.lowercased() != q { return false }
            case .text(let t): if !queue.name.lowercased().contains(t) && !queue.modeName.lowercased().contains(t) { return false }
            default: continue
            }
        }
        return true
    }
}
