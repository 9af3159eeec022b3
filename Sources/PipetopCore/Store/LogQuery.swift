/// Which lifecycle records to read: every term must hold. The Events screen's `/` filter and
/// `pipetop tail --corr/--queue/--kind` are both one of these, read from the store
/// (`StoreSnapshot.log(matching:…)`) and matched in memory (`matches`) with the same meaning.
///
/// `matches` is the one definition of what a term means. A backend narrows its reads with the
/// terms it can look up (an index, a condition in its query) and leaves the last word to
/// `matches`, record by record, so what the store finds is what the dashboard's buffer finds.
///
/// Text compares as stored, byte for byte, with ASCII letters in either case (what SQLite's
/// `lower()` and `LIKE` do, so a query can narrow by it): `queue:Parse` finds `parse`, `é` does
/// not find `É`. A correlation id compares as stored, case included: ids are case-sensitive
/// and their index is binary.
public struct LogQuery: Sendable, Hashable {
    public enum Term: Sendable, Hashable {
        /// The record's kind is one of these.
        case kinds(Set<LifecycleKind>)
        /// The record's queue is this one.
        case queue(String)
        /// The record's correlation id is this one.
        case correlation(String)
        /// The record's correlation id starts with this.
        case correlationPrefix(String)
        /// The event type contains this.
        case type(String)
        /// The event type, event id, correlation id, queue, error, detail or kind contains this.
        case text(String)
    }

    /// The terms, with their text folded as they compare (ASCII lowercase).
    public let terms: [Term]

    public init(_ terms: [Term] = []) {
        self.terms = terms.map { term in
            switch term {
            case .queue(let name): return .queue(ASCIIFold.lowered(name))
            case .type(let text): return .type(ASCIIFold.lowered(text))
            case .text(let text): return .text(ASCIIFold.lowered(text))
            case .kinds, .correlation, .correlationPrefix: return term
            }
        }
    }

    public static let all = LogQuery()

    public var isEmpty: Bool { terms.isEmpty }

    /// Whether no record can match (a kind term with no kind): nothing needs to be read.
    public var matchesNothing: Bool {
        terms.contains { if case .kinds(let kinds) = $0 { return kinds.isEmpty } else { return false } }
    }

    public func matches(_ record: LifecycleRecord) -> Bool {
        for term in terms where !Self.holds(term, record) { return false }
        return true
    }

    private static func holds(_ term: Term, _ r: LifecycleRecord) -> Bool {
        switch term {
        case .kinds(let kinds): return kinds.contains(r.kind)
        case .queue(let name): return r.queue.map { ASCIIFold.equals($0, name) } ?? false
        case .correlation(let id): return r.correlationID.map { $0.utf8.elementsEqual(id.utf8) } ?? false
        case .correlationPrefix(let prefix): return (r.correlationID ?? "").utf8.starts(with: prefix.utf8)
        case .type(let text): return ASCIIFold.contains(r.eventType ?? "", text)
        case .text(let text):
            return ASCIIFold.contains(r.eventType ?? "", text) || ASCIIFold.contains(r.eventID, text)
                || ASCIIFold.contains(r.correlationID ?? "", text) || ASCIIFold.contains(r.queue ?? "", text)
                || ASCIIFold.contains(r.error ?? "", text) || ASCIIFold.contains(r.detail ?? "", text)
                || ASCIIFold.contains(r.kind.rawValue, text)
        }
    }
}

extension LifecycleKind {
    /// The kinds whose name starts with `prefix` (ASCII letters in either case): `dead` is
    /// `dead-lettered`, `re` is `redriven`, `rejected` and `retry-scheduled`.
    public static func named(prefix: String) -> Set<LifecycleKind> {
        let folded = ASCIIFold.lowered(prefix)
        return Set(allCases.filter { $0.rawValue.hasPrefix(folded) })
    }

    /// The kinds whose name contains `text` (already folded).
    static func named(containing text: String) -> Set<LifecycleKind> {
        Set(allCases.filter { ASCIIFold.contains($0.rawValue, text) })
    }
}

/// Text compared as stored, ASCII letters in either case (what SQLite's LIKE does without ICU).
public enum ASCIIFold {
    @inline(__always) static func fold(_ byte: UInt8) -> UInt8 { byte &- 0x41 < 26 ? byte | 0x20 : byte }

    public static func lowered(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 &- 0x41 < 26 }) else { return text }
        return String(decoding: text.utf8.map(fold), as: UTF8.self)
    }

    /// `text` folded equals `folded`.
    public static func equals(_ text: String, _ folded: String) -> Bool {
        text.utf8.count == folded.utf8.count && zip(text.utf8, folded.utf8).allSatisfy { fold($0) == $1 }
    }

    /// `folded` occurs in `text` folded.
    public static func contains(_ text: String, _ folded: String) -> Bool {
        var text = text
        return text.withUTF8 { search($0, folded.utf8) }
    }

    private static func search(_ haystack: UnsafeBufferPointer<UInt8>, _ needle: String.UTF8View) -> Bool {
        let count = needle.count
        guard count > 0 else { return true }
        guard haystack.count >= count, let first = needle.first else { return false }
        var start = haystack.startIndex
        let last = haystack.endIndex - count
        while start <= last {
            if fold(haystack[start]) == first {
                var i = start + 1
                var matched = true
                for byte in needle.dropFirst() {
                    if fold(haystack[i]) != byte { matched = false; break }
                    i += 1
                }
                if matched { return true }
            }
            start += 1
        }
        return false
    }
}

/// Records a `LogQuery` found, and where to read on. A read searches a bounded part of the log
/// (the flow's rows through the indexes, or a span of rows when no index narrows the query), so
/// a page of a rare match over millions of rows takes several reads, each returning soon.
public struct LogMatches: Sendable, Equatable {
    /// Newest first reading back, oldest first reading on.
    public var records: [LifecycleRecord]
    /// The cursor of the next read in the same direction (its `before`, or its `after`): every
    /// record between the cursor given and this one was searched.
    public var next: Int64
    /// The search reached the end of the log in its direction: its first record reading back
    /// (nothing is left), its newest reading on (only what is written later).
    public var reachedEnd: Bool

    public init(records: [LifecycleRecord], next: Int64, reachedEnd: Bool) {
        self.records = records
        self.next = next
        self.reachedEnd = reachedEnd
    }
}

/// How many records match a `LogQuery` below a cursor, counted over a bounded part of the log
/// (as `LogMatches`): the counts of successive reads, each from the last one's `next`, add up to
/// the true total once one `reachedEnd`.
public struct LogCount: Sendable, Equatable {
    /// Matching records with a seq in `next..<before`.
    public var count: Int
    /// Where counting goes on (the next read's `before`).
    public var next: Int64
    /// The count reached the log's first record.
    public var reachedEnd: Bool

    public init(count: Int, next: Int64, reachedEnd: Bool) {
        self.count = count
        self.next = next
        self.reachedEnd = reachedEnd
    }
}
