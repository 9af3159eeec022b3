import DequeModule
import PipetopCore

/// The Events screen: the live tail of the event log, following or paused, filtered, and read
/// back from the store when scrolled past the records kept in memory.
public struct EventsScreen: Screen {
    public static let id = ScreenID.events
    public static let title = "Events"
    public static let commands = ["events", "e"]
    public static let needs: [DataNeed] = [StoreData.log.need]

    /// The ring of the last `capacity` records, oldest first.
    public private(set) var records: Deque<LifecycleRecord> = []
    public let capacity: Int
    /// Whether the store may hold records older than the ring's first.
    public var olderAvailable = false
    public var loadingHistory = false
    /// The ring was moved back in time by scrolling: newer records are not appended meanwhile.
    public var detached = false
    public var skippedNewer = 0
    /// Whether the log was read at all yet (it is read only while this screen is visible).
    public var logLoaded = false

    public var follow = true
    /// The selected record (by seq) while paused.
    public var cursorSeq: Int64?
    /// First row shown (by seq) while paused.
    public var topSeq: Int64?

    public var filter = Filter("") {
        didSet { refilter() }
    }
    /// The seqs of the ring's records that match the filter (nil without one), kept up to date as
    /// records arrive and fall off, so a frame never filters the whole ring again.
    private var matches: Deque<Int64>?

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
        Binding([.char("c"), .enter], help: ("c enter", "only the selected record's flow (corr:ID)"), hint: ("c", "flow")) { s, _, shared in
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
    ])

    public mutating func filterCommitted() {
        follow = true
        cursorSeq = nil
    }

    // MARK: Data

    public mutating func receive(_ snapshot: DataSnapshot, shared: inout Shared) {
        guard let page = snapshot[StoreData.log] else { return }
        logLoaded = true
        if page.reset && !detached {
            replace(with: page.records)
        } else if detached {
            skippedNewer += page.records.count
        } else {
            let lastSeq = records.last?.seq ?? 0
            // A page continues the ring (records in seq order): only its first records can be old,
            // so the new ones are a suffix, appended without copying the page first.
            let fresh = page.records.drop { $0.seq <= lastSeq }
            records.append(contentsOf: fresh)
            if matches != nil {
                for record in fresh where filter.matches(record) { matches!.append(record.seq) }
            }
            let excess = records.count - capacity
            if excess > 0 {
                records.removeFirst(excess)
                olderAvailable = true
                let first = records.first!.seq
                if matches != nil { while let seq = matches!.first, seq < first { matches!.removeFirst() } }
                if !follow, let cursor = cursorSeq, cursor < first { cursorSeq = first }
            }
        }
    }

    /// The ring becomes `newest` (oldest first).
    mutating func replace(with newest: [LifecycleRecord]) {
        records = Deque(newest.suffix(capacity))
        olderAvailable = newest.count >= capacity || (newest.first.map { $0.seq > 1 } ?? false)
        refilter()
    }

    public mutating func receive(_ answer: StoreAnswer, shared: inout Shared) -> [Effect] {
        switch answer {
        case .history(let older, let requested):
            loadingHistory = false
            if older.count < requested { olderAvailable = false }
            let firstSeq = records.first?.seq ?? Int64.max
            let fresh = older.filter { $0.seq < firstSeq }.reversed()
            guard !fresh.isEmpty else { return [] }
            records.insert(contentsOf: fresh, at: 0)
            let excess = records.count - capacity
            if excess > 0 {
                // Memory stays bounded: the newest fall off; following again reloads them.
                records.removeLast(excess)
                detached = true
            }
            refilter()
        case .latest(let newest):
            replace(with: newest)
            detached = false
            skippedNewer = 0
            follow = true
            cursorSeq = nil
        default:
            break
        }
        return []
    }

    private mutating func refilter() {
        guard !filter.isEmpty else { matches = nil; return }
        var seqs = Deque<Int64>()
        for record in records where filter.matches(record) { seqs.append(record.seq) }
        matches = seqs
    }

    // MARK: Moving

    mutating func followAgain() -> [Navigation] {
        follow = true
        cursorSeq = nil
        return detached ? [.run(.read(.latest(limit: capacity), for: Self.id))] : []
    }

    mutating func move(to target: Int, _ shared: Shared) -> [Navigation] {
        let (rows, selected) = rows(shared)
        guard !rows.isEmpty else { return [] }
        let clamped = min(max(0, target), rows.count - 1)
        let top = self.top(rows: rows, selected: selected, shared)
        follow = false
        cursorSeq = rows[clamped].seq
        let visible = Table.visibleRows(height: shared.size.height - 4)
        topSeq = rows[Table.scrolled(top: top, selected: clamped, visible: visible, count: rows.count)].seq
        if target < 0 || clamped == 0, olderAvailable, !loadingHistory, let first = records.first {
            loadingHistory = true
            return [.run(.read(.history(before: first.seq, limit: 500), for: Self.id))]
        }
        return []
    }

    /// The records listed after the filter, and the selected index. Without a filter this is a
    /// view of the ring (no copy); with one, of the matching seqs kept with it.
    public func rows(_ shared: Shared) -> (rows: EventRows, selected: Int?) {
        let rows = EventRows(records: records, matches: matches)
        guard !rows.isEmpty else { return (rows, nil) }
        guard !follow, let cursorSeq else { return (rows, rows.count - 1) }
        return (rows, max(0, rows.partition(seqAtMost: cursorSeq) - 1))
    }

    /// Index of the first row on screen.
    public func top(rows: EventRows, selected: Int?, _ shared: Shared) -> Int {
        let visible = Table.visibleRows(height: shared.size.height - 4)
        if follow { return max(0, rows.count - visible) }
        let stored = topSeq.map { rows.partition(seqAtMost: $0 - 1) } ?? max(0, rows.count - visible)
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
            let newer = skippedNewer > 0 ? " · \(skippedNewer) newer not shown" : ""
            status.left.append(StatusSegment("PAUSED\(newer) · G follows", theme[.statusPaused]))
        }
        let position = selected.map { "\($0 + 1)/\(rows.count)" } ?? "0/0"
        status.right.append(StatusSegment(position + (loadingHistory ? " loading…" : ""), theme[.status]))
        return status
    }
}

extension AppState {
    public var events: EventsScreen { screen(EventsScreen.self) }
    /// The Events rows and selection as the screen lists them now.
    public var eventRows: (rows: EventRows, selected: Int?) { events.rows(shared) }
}

/// The records the Events screen lists: the ring itself, or those of its records whose seqs match a filter.
public struct EventRows: RandomAccessCollection, Sendable {
    let records: Deque<LifecycleRecord>
    let matches: Deque<Int64>?

    public var startIndex: Int { 0 }
    public var endIndex: Int { matches?.count ?? records.count }
    public subscript(index: Int) -> LifecycleRecord {
        guard let matches else { return records[index] }
        return records[Self.position(of: matches[index], in: records)]
    }

    /// Where the record with `seq` is in the ring (the ring is in seq order): a binary search.
    static func position(of seq: Int64, in records: Deque<LifecycleRecord>) -> Int {
        var low = 0, high = records.count
        while low < high {
            let mid = (low + high) / 2
            if records[mid].seq < seq { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The number of rows whose seq is at most `seq` (rows are in seq order): a binary search.
    public func partition(seqAtMost seq: Int64) -> Int {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) / 2
            if seqAt(mid) <= seq { low = mid + 1 } else { high = mid }
        }
        return low
    }

    func seqAt(_ index: Int) -> Int64 { matches?[index] ?? records[index].seq }
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
            let text = !screen.filter.isEmpty ? "no record matches /\(screen.filter.source) (esc clears the filter)" : state.loaded && screen.logLoaded ? "the event log is empty" : "reading the store…"
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
