import PipetopCore

/// The Dead letters screen's `/` filter as a store selection (it runs in the store, never over
/// what the screen holds): `queue:NAME` (or `q:`), `type:TYPE`, `again` (failed again after a
/// replay), `never` (never replayed) and `fp:CAUSE`, a fingerprint as the groups show it, which
/// takes the rest of the line (fingerprints have spaces). Names are exact, as the store matches them.
public struct DeadLetterFilter: Equatable, Sendable {
    public static let terms = "queue:NAME, type:TYPE, again, never, fp:CAUSE (the rest of the line)"

    public var selection = DeadLetterSelection()
    /// Words that are none of the terms: the filter is refused (nothing is read) until fixed.
    public var unknown: [String] = []

    public init(_ source: String) {
        var rest = Substring(source.trimmingCharacters(in: .whitespaces))
        while !rest.isEmpty {
            if rest.lowercased().hasPrefix("fp:") {
                selection.fingerprint = String(rest.dropFirst(3)).trimmingCharacters(in: .whitespaces)
                break
            }
            let word = rest.prefix { $0 != " " }
            rest = rest.dropFirst(word.count).drop { $0 == " " }
            let lower = word.lowercased()
            func value(_ prefix: String) -> String? { lower.hasPrefix(prefix) ? String(word.dropFirst(prefix.count)) : nil }
            if let v = value("queue:") ?? value("q:") {
                selection.queue = v
            } else if let v = value("type:") {
                selection.type = v
            } else if lower == "again" {
                selection.failedAgain = true
            } else if lower == "never" {
                selection.failedAgain = false
            } else {
                unknown.append(String(word))
            }
        }
    }

    /// Why nothing is read, if the filter has words it does not know.
    public var error: String? {
        unknown.isEmpty ? nil : "not a dead-letter filter term: \(unknown.joined(separator: " ").terminalSafe) (terms: \(Self.terms))"
    }

    /// A group's selection narrowed by this filter's other conditions.
    public func narrowing(_ base: DeadLetterSelection) -> DeadLetterSelection {
        var merged = base
        merged.queue = base.queue ?? selection.queue
        merged.type = base.type ?? selection.type
        merged.fingerprint = base.fingerprint ?? selection.fingerprint
        merged.failedAgain = base.failedAgain ?? selection.failedAgain
        merged.deadSince = base.deadSince ?? selection.deadSince
        merged.deadUntil = base.deadUntil ?? selection.deadUntil
        return merged
    }
}
