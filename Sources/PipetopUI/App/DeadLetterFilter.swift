import PipetopCore

/// The Dead letters screen's `/` filter as a store selection (it runs in the store, never over
/// what the screen holds). Terms, all of which must hold:
///
/// - `queue:NAME` (or `q:`) and `type:TYPE`: exact, as the store matches them;
/// - `error:TEXT` and `payload:TEXT`: text anywhere in any attempt's error, or in the payload (JSON
///   or text as stored; binary payloads are not searched), case-insensitive, through the store's
///   trigram index, so 3 characters or more; taken literally (`AND`, `*`, `NEAR(` are text);
/// - `since:WHEN` and `until:WHEN`: dead at or after, dead before; an RFC 3339 time or a duration
///   ago (`10m`, `2h`, as the CLI's `--since`), counted back from `now`, when the filter was entered;
/// - `again` (failed again after a replay), `never` (never replayed);
/// - `fp:CAUSE`: a fingerprint as the groups show it, which takes the rest of the line
///   (fingerprints have spaces).
///
/// A value with spaces is quoted: `error:"connection refused"`; inside the quotes `\"` is a
/// quote and `\\` a backslash. Anything else is refused (nothing is read) with `error`.
public struct DeadLetterFilter: Equatable, Sendable {
    public static let terms = #"queue:NAME type:TYPE error:TEXT payload:TEXT (3+ chars; "quote spaces") since:10m until:RFC3339 again never fp:CAUSE (rest of line)"#

    public var selection = DeadLetterSelection()
    /// Words that are none of the terms: the filter is refused (nothing is read) until fixed.
    public var unknown: [String] = []
    /// Terms that are known but cannot be read (an unclosed quote, a time that is none): refused too.
    public var problems: [String] = []

    public init(_ source: String, now: Timestamp = .now()) {
        var rest = Substring(source.trimmingCharacters(in: .whitespaces))
        while !rest.isEmpty {
            if rest.lowercased().hasPrefix("fp:") {
                selection.fingerprint = String(rest.dropFirst(3)).trimmingCharacters(in: .whitespaces)
                break
            }
            let key = Self.key(of: rest)
            let value: String
            if let key, rest.dropFirst(key.count).first == "\"" {
                guard let (text, end) = Self.quoted(rest.dropFirst(key.count + 1)) else {
                    problems.append("\(key)\"… has no closing quote")
                    break
                }
                value = text
                rest = end
                if let next = rest.first, next != " " {
                    problems.append("\(key)\"\(text)\" is followed by \(rest.prefix { $0 != " " }) (a quoted value ends its term)")
                }
                rest = rest.drop { $0 != " " }.drop { $0 == " " }
            } else {
                let word = rest.prefix { $0 != " " }
                rest = rest.dropFirst(word.count).drop { $0 == " " }
                guard let key else {
                    switch word.lowercased() {
                    case "again": selection.failedAgain = true
                    case "never": selection.failedAgain = false
                    default: unknown.append(String(word))
                    }
                    continue
                }
                value = String(word.dropFirst(key.count))
            }
            switch key!.lowercased() {
            case "queue:", "q:": selection.queue = value
            case "type:": selection.type = value
            case "error:": selection.errorText = value
            case "payload:": selection.payloadText = value
            case "since:", "until:":
                guard let time = Timestamp(timeOrAgo: value, now: now) else {
                    problems.append("\(key!) takes \(Timestamp.timeOrAgoForms), not '\(value)'")
                    continue
                }
                if key!.lowercased() == "since:" { selection.deadSince = time } else { selection.deadUntil = time }
            default: preconditionFailure("a key of `keys`")
            }
        }
        if let problem = selection.problem { problems.append(problem) }
    }

    static let keys = ["queue:", "q:", "type:", "error:", "payload:", "since:", "until:"]

    /// The term's key as typed (`Error:`), if the text starts with one.
    static func key(of text: Substring) -> String? {
        let lower = text.prefix(8).lowercased()
        return keys.first { lower.hasPrefix($0) }.map { String(text.prefix($0.count)) }
    }

    /// A quoted value's text (`\"` a quote, `\\` a backslash) and what follows its closing quote;
    /// nil when it has none.
    static func quoted(_ text: Substring) -> (String, Substring)? {
        var value = ""
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            index = text.index(after: index)
            switch c {
            case "\"": return (value, text[index...])
            case "\\" where index < text.endIndex && (text[index] == "\"" || text[index] == "\\"):
                value.append(text[index])
                index = text.index(after: index)
            default: value.append(c)
            }
        }
        return nil
    }

    /// Why nothing is read, if the filter has words it does not know or terms it cannot read.
    public var error: String? {
        var reasons = problems
        if !unknown.isEmpty { reasons.append("not a dead-letter filter term: \(unknown.joined(separator: " ")) (terms: \(Self.terms))") }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ").terminalSafe
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
        merged.errorText = base.errorText ?? selection.errorText
        merged.payloadText = base.payloadText ?? selection.payloadText
        return merged
    }
}
