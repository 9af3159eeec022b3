import DequeModule
import PipetopCore

/// Where a record is shown: by its time, then by its seq.
public struct RecordKey: Comparable, Hashable, Sendable {
    public var time: Int64
    public var seq: Int64

    public static func < (a: RecordKey, b: RecordKey) -> Bool { (a.time, a.seq) < (b.time, b.seq) }
}

extension LifecycleRecord {
    public var key: RecordKey { RecordKey(time: time.micros, seq: seq) }
}

/// Log records in time order (by time, then seq), as the Events screen shows them.
///
/// The log's seq is commit order, and a record committed later may carry an earlier time: a
/// handler's outcome is committed after it finished, often after the next tick's records (6 % of
/// a demo's rows, up to 45 ms early). Such a record is placed by its time. What is held stays a
/// range of the log by seq, so the store's cursors page it exactly: every record (of a filter:
/// every match) with a seq from `from` on, up to `newest`, and perhaps a few older ones whose
/// times are later than the oldest kept (they are kept where their time puts them).
///
/// Only at the oldest end can a record be missing from its place: one committed before `from`
/// with a time among the first rows held. Reading older records (scrolling back) brings it.
public struct TimeOrderedLog: Sendable {
    public private(set) var records: Deque<LifecycleRecord> = []
    /// Every record with a seq from this one on is held: older ones are read before it (1: all are held).
    public private(set) var from: Int64
    /// The newest seq taken in: appends take only later ones.
    public private(set) var newest: Int64

    /// `records` (any order), which are every record (match) with a seq from `from` to `newest`.
    public init(_ records: some Sequence<LifecycleRecord> = [], from: Int64 = 1, newest: Int64 = 0) {
        self.records = Deque(records.sorted { $0.key < $1.key })
        self.from = max(1, from)
        self.newest = max(newest, self.records.map(\.seq).max() ?? 0)
    }

    public var isComplete: Bool { from <= 1 }

    /// Takes the records after `newest` (in seq order, as the log is followed), each placed by its
    /// time: almost always at the end. Returns the records taken.
    @discardableResult
    public mutating func append<C: Collection>(_ fresh: C) -> C.SubSequence where C.Element == LifecycleRecord {
        let new = fresh.drop { $0.seq <= newest }
        for record in new {
            if let last = records.last, record.key < last.key {
                records.insert(record, at: index(of: record.key))
            } else {
                records.append(record)
            }
            newest = max(newest, record.seq)
        }
        return new
    }

    /// Takes older records (a store page: seq below `from`), which with those held are every
    /// record from `coveredFrom` on.
    public mutating func merge(older: some Sequence<LifecycleRecord>, coveredFrom: Int64) {
        for record in older {
            let at = index(of: record.key)
            if at < records.count, records[at].seq == record.seq { continue }
            records.insert(record, at: at)
        }
        from = max(1, min(from, coveredFrom))
    }

    /// Drops the `count` oldest by time; `from` moves past the newest seq among them, and the
    /// key of the last dropped is returned (nil if none was).
    @discardableResult
    public mutating func dropOldest(_ count: Int) -> RecordKey? {
        guard count > 0, !records.isEmpty else { return nil }
        let dropped = records.prefix(count)
        let last = dropped.last!.key
        from = max(from, dropped.reduce(0) { max($0, $1.seq) } + 1)
        records.removeFirst(dropped.count)
        return last
    }

    /// Drops the `count` newest by time: `newest` is no longer followed (the caller reloads).
    public mutating func dropNewest(_ count: Int) {
        records.removeLast(min(count, records.count))
    }

    /// The first index whose key is `key` or later.
    public func index(of key: RecordKey) -> Int { Self.index(of: key, in: records) }

    static func index(of key: RecordKey, in records: Deque<LifecycleRecord>) -> Int {
        var low = 0, high = records.count
        while low < high {
            let mid = (low + high) / 2
            if records[mid].key < key { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
