import DequeModule
import PipetopCore

/// The Events screen: the live tail of the event log in time order, following or paused,
/// filtered, and read back from the store when scrolled past the records kept in memory.
///
/// A filter applies to the ring as it is typed. Once committed (enter, `c`, another screen's
/// link), if the ring does not hold the whole log, its matches are read from the store
/// (`EventsSearch`): every record of a flow, a true count, older matches paged from the store.
public struct EventsScreen: Screen {
    public static let id = ScreenID.events
    public static let title = "Events"
    public static let commands = ["events", "e"]
    public static let needs: [DataNeed] = [StoreData.log.need]

    /// The ring: the last `capacity` records (or, scrolled back, older ones), in time order.
    public private(set) var ring = TimeOrderedLog()
    public var records: Deque<LifecycleRecord> { ring.records }
    public let capacity: Int
    /// Whether the store may hold records older than the ring's.
    public var olderAvailable: Bool { !ring.isComplete }
    public var loadingHistory = false
    /// The ring was moved back in time by scrolling: newer records are not appended meanwhile.
    public var detached = false
    public var skippedNewer = 0
    /// Whether the log was read at all yet (it is read only while this screen is visible).
    public var logLoaded = false

    public var follow = true
    /// The selected record (by its place in time) while paused.
    public var cursor: RecordKey?
    /// First row shown while paused.
    public var top: RecordKey?

    public var filter = Filter("") {
        didSet {
            if filter.isEmpty {
                committed = nil
                search = nil
            }
            refilter()
        }
    }
    /// The filter last committed: read from the store while it is the one shown.
    public private(set) var committed: Filter?
    /// The committed filter's matches from the store (see `EventsSearch`).
    public private(set) var search: EventsSearch?
    /// The keys of the ring's records that match the filter (nil without one), kept up to date as
    /// records arrive and fall off, so a frame never filters the whole ring again.
    private var matches: Deque<RecordKey>?

    public init(shared: Shared) { capacity = shared.capacity }

    public static let keymap = Keymap<ScreenAction<EventsScreen>>([
        Binding(MoveKeys.down + MoveKeys.up, help: ("j k ↑ ↓", "scroll (pauses following)"), hint: ("j/k", "scroll")) { s, key, shared in
            let (_, selected) = s.rows(shared)
            if MoveKeys.up.contains(key) { return s.move(to: (selected ?? 0) - 1, shared) }
            guard !s.follow else { return [] }
            return s.move(to: (selected ?? 0) + 1, shared)
        },
        Binding([.pageUp, .pageDown], help: ("pgup pgdn", "a page")) { s, key, shared in
            let (_, selected) = s.rows(shared)
            let page = max(1, s.visibleRows(shared) - 1)
            if key == .pageUp { return s.move(to: (selected ?? 0) - page, shared) }
            guard !s.follow else { return [] }
            return s.move(to: (selected ?? 0) + page, shared)
        },
        Binding(MoveKeys.first, help: ("g home", "oldest (reads back from the store)")) { s, _, shared in
            s.move(to: 0, shared)
        },
        Binding(MoveKeys.last + [.char("f")], help: ("G end f", "follow the tail again"), hint: ("G", "follow")) { s, _, _ in
            s.followAgain()
        },
        Binding([.char(" "), .char("p")], help: ("space p", "pause / follow")) { s, _, shared in
            guard s.follow else { return s.followAgain() }
            return s.move(to: s.rows(shared).selected ?? 0, shared)
        },
        Binding([.char("c")], help: ("c", "only the selected record's flow (corr:ID)"), hint: ("c", "flow")) { s, _, shared in
            let (rows, selected) = s.rows(shared)
            guard let selected, let correlation = rows[selected].correlationID else {
                shared.notice = Notice(text: "this record has no correlation id", isError: true)
                return []
            }
            s.filter = Filter("corr:" + correlation)
            s.filterCommitted()
            shared.notice = Notice(text: "one flow: corr:\(correlation.terminalSafe) (esc clears)", isError: false)
            return []
        },
        Binding([.enter, .char("t")], help: ("enter t", "the selected record's trace (its flow as a tree)"), hint: ("enter", "trace")) { s, _, shared in
            let (rows, selected) = s.rows(shared)
            guard let selected, let correlation = rows[selected].correlationID else {
                shared.notice = Notice(text: "this record has no correlation id", isError: true)
                return []
            }
            return [.show(.trace, filter: Filter(correlation))]
        },
    ])

    public mutating func filterCommitted() {
        follow = true
        cursor = nil
        committed = filter.isEmpty ? nil : filter
    }

    /// The search whose matches are shown now (the filter's, once read).
    var shownSearch: EventsSearch? {
        guard let search, search.loaded, search.filter == filter, !filter.isEmpty else { return nil }
        return search
    }

    // MARK: Data

    public mutating func receive(_ snapshot: DataSnapshot, shared: inout Shared) {
        guard let page = snapshot[StoreData.log] else { return }
        logLoaded = true
        if page.reset {
            if detached { skippedNewer += page.records.count } else { replace(with: page.records) }
            // The poll skipped records: a search's live matches would miss them, so it starts again.
            if let search { self.search = EventsSearch(filter: search.filter, capacity: capacity) }
            return
        }
        let paused = !follow && search?.filter == filter
        search?.follow(page.records, paused: paused)
        if !follow, let cursor, let search = shownSearch, let first = search.log.records.first?.key, cursor < first { self.cursor = first }
        if detached {
            skippedNewer += page.records.count
            return
        }
        let fresh = ring.append(page.records)
        if matches != nil {
            for record in fresh where filter.matches(record) { Self.insert(record.key, into: &matches!) }
        }
        let excess = ring.records.count - capacity
        if excess > 0, let last = ring.dropOldest(excess) {
            if matches != nil { while let first = matches!.first, first <= last { matches!.removeFirst() } }
            // The selection, if it was in the ring and fell off, moves to the oldest left.
            if !follow, shownSearch == nil, let cursor, cursor <= last { self.cursor = ring.records.first?.key }
        }
    }

    /// The ring becomes `newest`: the last records of the log.
    mutating func replace(with newest: [LifecycleRecord]) {
        let kept = newest.suffix(capacity)
        let oldest = kept.map(\.seq).min() ?? 1
        ring = TimeOrderedLog(kept, from: newest.count >= capacity || oldest > 1 ? oldest : 1, newest: kept.last?.seq ?? 0)
        refilter()
    }

    public mutating func receive(_ answer: StoreAnswer, shared: inout Shared) -> [Effect] {
        switch answer {
        case .history(let older, let requested):
            loadingHistory = false
            guard !older.isEmpty else {
                ring.merge(older: [], coveredFrom: 1)
                return []
            }
            ring.merge(older: older, coveredFrom: older.count < requested ? 1 : older.map(\.seq).min()!)
            let excess = ring.records.count - capacity
            if excess > 0 {
                // Memory stays bounded: the newest fall off; following again reloads them.
                ring.dropNewest(excess)
                detached = true
            }
            refilter()
        case .latest(let newest):
            replace(with: newest)
            detached = false
            skippedNewer = 0
            follow = true
            cursor = nil
        case .logMatches, .logCount:
            search?.receive(answer)
        default:
            break
        }
        return []
    }

    /// A committed filter is read from the store when the ring does not hold the whole log.
    public mutating func reads(_ shared: Shared) -> [Effect] {
        if let committed, committed == filter, search?.filter != filter, olderAvailable || detached {
            search = EventsSearch(filter: filter, capacity: capacity)
        }
        guard search?.filter == filter, let request = search?.nextRequest() else { return [] }
        return [.read(request, for: Self.id)]
    }

    private mutating func refilter() {
        guard !filter.isEmpty else { matches = nil; return }
        var keys = Deque<RecordKey>()
        for record in ring.records where filter.matches(record) { keys.append(record.key) }
        matches = keys
    }

    /// Inserts `key` in its place (almost always at the end).
    static func insert(_ key: RecordKey, into keys: inout Deque<RecordKey>) {
        guard let last = keys.last, key < last else { return keys.append(key) }
        var low = 0, high = keys.count
        while low < high {
            let mid = (low + high) / 2
            if keys[mid] < key { low = mid + 1 } else { high = mid }
        }
        keys.insert(key, at: low)
    }

    // MARK: Moving

    mutating func followAgain() -> [Navigation] {
        follow = true
        cursor = nil
        if let search = shownSearch, search.detached {
            // The newest matches were dropped while scrolling back: read them again.
            self.search = EventsSearch(filter: search.filter, capacity: capacity)
        }
        return detached ? [.run(.read(.latest(limit: capacity), for: Self.id))] : []
    }

    mutating func move(to target: Int, _ shared: Shared) -> [Navigation] {
        let (rows, selected) = rows(shared)
        guard !rows.isEmpty else { return [] }
        let clamped = min(max(0, target), rows.count - 1)
        let first = self.top(rows: rows, selected: selected, shared)
        follow = false
        cursor = rows[clamped].key
        let visible = Table.visibleRows(height: shared.size.height - 4)
        top = rows[Table.scrolled(top: first, selected: clamped, visible: visible, count: rows.count)].key
        guard target < 0 || clamped == 0 else { return [] }
        if let search, search.filter == filter, !filter.isEmpty {
            // Older matches come from the store (`reads`), once its first read is in.
            if !search.loaded || search.olderAvailable { self.search!.wantsOlder = true }
            return []
        }
        if olderAvailable, !loadingHistory {
            loadingHistory = true
            return [.run(.read(.history(before: ring.from, limit: 500), for: Self.id))]
        }
        return []
    }

    /// The records listed, and the selected index: the search's matches once read; else a view
    /// of the ring (no copy), or of the ring's matching keys.
    public func rows(_ shared: Shared) -> (rows: EventRows, selected: Int?) {
        let rows = shownSearch.map { EventRows(records: $0.log.records, matches: nil) } ?? EventRows(records: ring.records, matches: matches)
        guard !rows.isEmpty else { return (rows, nil) }
        guard !follow, let cursor else { return (rows, rows.count - 1) }
        return (rows, max(0, rows.count(through: cursor) - 1))
    }

    /// Index of the first row on screen.
    public func top(rows: EventRows, selected: Int?, _ shared: Shared) -> Int {
        let visible = Table.visibleRows(height: shared.size.height - 4)
        if follow { return max(0, rows.count - visible) }
        let stored = top.map { rows.count(before: $0) } ?? max(0, rows.count - visible)
        return Table.scrolled(top: stored, selected: selected, visible: visible, count: rows.count)
    }

    /// Rows of the table on screen.
    func visibleRows(_ shared: Shared) -> Int { max(1, shared.size.height - 6) }

    // MARK: Drawing

    public func draw(_ shared: Shared, into grid: inout Grid, _ body: Rect) -> ScreenStatus {
        let theme = shared.theme
        // The rows once per frame: the table and the footer's position both need them.
        let (rows, selected) = rows(shared)
        EventsView.draw(self, shared, (rows, selected), into: &grid, body)
        var status = ScreenStatus()
        if follow {
            status.left.append(StatusSegment("FOLLOW", theme[.statusAccent]))
        } else {
            let skipped = shownSearch?.newerNotShown ?? skippedNewer
            let newer = skipped > 0 ? " · \(Format.count(skipped)) newer not shown" : ""
            status.left.append(StatusSegment("PAUSED\(newer) · G follows", theme[.statusPaused]))
        }
        status.right.append(StatusSegment(position(rows, selected), theme[.status]))
        return status
    }

    /// Where the selection is among the rows: among every match in the store when the filter
    /// was read from it (or, while it is counted, how many it has at least).
    func position(_ rows: EventRows, _ selected: Int?) -> String {
        let here = selected.map { "\($0 + 1)/\(rows.count)" } ?? "0/0"
        guard !filter.isEmpty, let search, search.filter == filter else { return here + (loadingHistory ? " loading…" : "") }
        guard search.loaded else { return here + " in memory · reading the store…" }
        var text: String
        if search.totalIsExact {
            // The rows hold the newest matches but those not shown (after a scroll far back).
            let position = selected.map { max(1, search.total - search.newerNotShown - (rows.count - 1 - $0)) } ?? 0
            text = "\(Format.count(position))/\(Format.count(search.total))"
        } else {
            text = "≥ \(Format.count(search.total)) · counting…"
        }
        return text + (search.searchingOlder ? " · searching the store…" : "")
    }
}

extension AppState {
    public var events: EventsScreen { screen(EventsScreen.self) }
    /// The Events rows and selection as the screen lists them now.
    public var eventRows: (rows: EventRows, selected: Int?) { events.rows(shared) }
}

/// The records the Events screen lists, in time order: a buffer itself, or those of its records
/// whose keys match a filter.
public struct EventRows: RandomAccessCollection, Sendable {
    let records: Deque<LifecycleRecord>
    let matches: Deque<RecordKey>?

    public var startIndex: Int { 0 }
    public var endIndex: Int { matches?.count ?? records.count }
    public subscript(index: Int) -> LifecycleRecord {
        guard let matches else { return records[index] }
        return records[TimeOrderedLog.index(of: matches[index], in: records)]
    }

    /// The number of rows whose key is at most `key` (rows are in key order): a binary search.
    public func count(through key: RecordKey) -> Int { partition { $0 <= key } }

    /// The number of rows whose key is before `key`.
    public func count(before key: RecordKey) -> Int { partition { $0 < key } }

    private func partition(_ isLow: (RecordKey) -> Bool) -> Int {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) / 2
            if isLow(keyAt(mid)) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    func keyAt(_ index: Int) -> RecordKey { matches?[index] ?? records[index].key }
}

/// How the Events screen draws.
enum EventsView {
    static let columns: [Column] = [
        Column("TIME", min: 12, max: 12, priority: 0),
        Column("KIND", min: 13, max: 15, priority: 0),
        Column("QUEUE", min: 8, max: 14, priority: 1),
        Column("TYPE", min: 12, max: 24, priority: 2),
        Column("CORR", min: 8, max: 16, priority: 3),
        Column("ATT", min: 3, priority: 4, align: .right),
        Column("DUR", min: 6, priority: 5, align: .right),
        Column("ERROR / DETAIL", min: 16, priority: 0, flexible: true),
    ]

    static func draw(_ screen: EventsScreen, _ state: Shared, _ events: (rows: EventRows, selected: Int?), into grid: inout Grid, _ body: Rect) {
        let theme = state.theme
        let (rows, selected) = events
        if rows.isEmpty {
            let searching = screen.search.map { $0.filter == screen.filter && (!$0.loaded || $0.pending != nil) } ?? false
            let text = searching ? "searching the store for /\(screen.filter.source)…"
                : !screen.filter.isEmpty ? "no record matches /\(screen.filter.source) (esc clears the filter)"
                : state.loaded && screen.logLoaded ? "the event log is empty" : "reading the store…"
            grid.put(text.terminalSafe, x: body.x + 2, y: body.y + 1, style: theme[.muted])
            return
        }
        let rect = Rect(x: body.x + 1, y: body.y, width: body.width - 2, height: body.height)
        let visible = Table.visibleRows(height: rect.height)
        // Only the rows on screen are formatted: the ring may hold 10,000 records.
        let top = screen.top(rows: rows, selected: selected, state)
        let window = rows[top..<min(rows.count, top + visible)]
        let styles = RowStyles(theme)
        var table = Table(columns: columns, rows: window.map { row($0, state, styles) }, selected: selected.map { $0 - top })
        table.top = 0
        table.render(into: &grid, rect, header: theme[.tableHeader], row: theme[.tableRow], selected: screen.follow ? theme[.tableRow] : theme[.tableSelected])
    }

    /// The theme's styles a row uses, looked up once a frame rather than once a row.
    struct RowStyles {
        let theme: Theme
        let muted: Style
        let error: Style
        init(_ theme: Theme) {
            self.theme = theme
            muted = theme[.muted]
            error = theme[.error]
        }
    }

    static func row(_ r: LifecycleRecord, _ state: Shared, _ styles: RowStyles) -> [TableCell] {
        let detail = r.error ?? r.detail ?? ""
        let isError = r.error != nil
        return [
            TableCell(Format.clock(r.time, offset: state.utcOffset), style: styles.muted),
            TableCell(r.kind.rawValue, style: styles.theme.kind(r.kind)),
            TableCell((r.queue ?? "").terminalSafe),
            TableCell((r.eventType ?? "").terminalSafe),
            TableCell((r.correlationID ?? "").terminalSafe, style: styles.muted),
            TableCell(r.attempt.map(String.init) ?? ""),
            TableCell(r.duration.map { Format.duration($0.secondsDouble) } ?? ""),
            TableCell(detail.terminalSafe, style: isError ? styles.error : styles.muted),
        ]
    }
}
