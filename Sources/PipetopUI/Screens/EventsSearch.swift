import PipetopCore

/// A committed filter read from the store, for when the Events ring does not hold the whole log:
/// the newest matches first, older ones page by page as the view scrolls back, new ones appended
/// as the log is followed, and a true count.
///
/// The store searches a bounded part of the log per read (`LogMatches`), so this asks one read
/// at a time: the first holds the newest page, the count of the same rows and the log's newest
/// seq. Then, while fewer than a page are held (or the view is at its oldest row), the search
/// goes on back; the count goes on alone wherever the page search has stopped, until it reaches
/// the log's start. Until then the total is "at least", and says so. A page read and a count
/// read of the same rows are one read, so a sparse filter's search and count are one pass.
public struct EventsSearch: Sendable {
    public let filter: Filter
    /// The matches held, in time order: every one with a seq from `log.from` on.
    public private(set) var log = TimeOrderedLog()
    /// The first read has come (until then the ring's matches are shown).
    public private(set) var loaded = false
    /// Matches counted in the store up to its newest record at the first read.
    public private(set) var counted = 0
    /// Where the count goes on (nil: it reached the log's start, the total is exact).
    public private(set) var countCursor: Int64?
    /// Matches appended since the first read.
    public private(set) var live = 0
    /// The read asked and not answered yet: only its answer is taken.
    public private(set) var pending: StoreRequest?
    /// The view is at its oldest row and wants older matches.
    public var wantsOlder = false
    /// The view no longer follows: its newest matches were dropped (memory stays bounded while
    /// scrolling back), or new ones came while it was paused on older rows and would not fit.
    /// This many newer matches are not shown; following (`G`) reads them again.
    public private(set) var detached = false
    public private(set) var newerNotShown = 0
    /// The newest seq the log was followed to (records up to it were taken or counted).
    private var seen: Int64 = 0

    let capacity: Int
    /// Matches per read: a page, and never more than memory keeps.
    var page: Int { min(500, capacity) }

    public init(filter: Filter, capacity: Int) {
        self.filter = filter
        self.capacity = capacity
    }

    var query: LogQuery { filter.query }
    /// The count has reached the log's start: `total` is every match in the store.
    public var totalIsExact: Bool { loaded && countCursor == nil }
    public var total: Int { counted + live }
    /// The store may hold older matches than those held.
    public var olderAvailable: Bool { loaded && !log.isComplete }
    /// A page of older matches is being read.
    public var searchingOlder: Bool {
        if case .logMatches(_, let before, _, _)? = pending { return before != .max }
        return false
    }

    /// The next read to ask, if one is due (nil while one is pending).
    mutating func nextRequest() -> StoreRequest? {
        guard pending == nil else { return nil }
        var request: StoreRequest?
        if !loaded {
            request = .logMatches(query, before: .max, limit: page, counting: true)
        } else if olderAvailable, wantsOlder || log.records.count < page {
            // Counted along when the count has got exactly as far: one pass over those rows.
            request = .logMatches(query, before: log.from, limit: page, counting: countCursor == log.from)
        } else if let countCursor {
            request = .logCount(query, before: countCursor)
        }
        pending = request
        return request
    }

    /// Takes the answer to the pending read (any other is stale and left).
    mutating func receive(_ answer: StoreAnswer) {
        switch answer {
        case .logMatches(let matches, let count, let newest, let request) where request == pending:
            pending = nil
            let coveredFrom = matches.reachedEnd ? 1 : matches.next
            if !loaded {
                log = TimeOrderedLog(matches.records, from: coveredFrom, newest: newest)
                seen = newest
                loaded = true
            } else {
                log.merge(older: matches.records, coveredFrom: coveredFrom)
                wantsOlder = false
                let excess = log.records.count - capacity
                if excess > 0 {
                    log.dropNewest(excess)
                    detached = true
                    newerNotShown += excess
                }
            }
            if let count {
                counted += count.count
                countCursor = count.reachedEnd ? nil : count.next
            }
        case .logCount(let count, let request) where request == pending:
            pending = nil
            counted += count.count
            countCursor = count.reachedEnd ? nil : count.next
        default:
            break
        }
    }

    /// New records of the log (in seq order): the matches are appended, counted, and the oldest
    /// held dropped past the capacity; while `paused`, what the view is on is kept instead, and
    /// the newer matches are not shown (following reads them). Before the first read, the read
    /// itself covers them.
    mutating func follow(_ records: [LifecycleRecord], paused: Bool) {
        guard loaded else { return }
        let fresh = records.filter { $0.seq > seen && query.matches($0) }
        seen = max(seen, records.last?.seq ?? seen)
        guard !fresh.isEmpty else { return }
        live += fresh.count
        if detached || (paused && log.records.count + fresh.count > capacity) {
            detached = true
            newerNotShown += fresh.count
            return
        }
        log.append(fresh)
        log.dropOldest(log.records.count - capacity)
    }
}
