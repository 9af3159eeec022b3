import PipetopCore

/// The Trace screen: one flow by correlation id, read from the store (never the buffer), as a
/// tree of events by causation with a waterfall per delivery: the wait, each attempt's run, the
/// backoff between them, batch releases, replays and dead letters, and the critical path.
///
/// The correlation id is this screen's filter: `/ID`, `:trace ID`, or `t` on a record, a dead
/// letter or a message elsewhere. While shown it is read again once a second (a flow under way grows).
public struct TraceScreen: Screen {
    public static let id = ScreenID.trace
    public static let title = "Trace"
    public static let commands = ["trace"]
    public static let needs: [DataNeed] = []
    public static let filterTerms = "a correlation id (or corr:ID)"

    public var filter = Filter("")
    public private(set) var trace: Trace? {
        didSet { prepare() }
    }
    /// Worked out once per read (and per fold), not per frame: a flow can have thousands of events.
    public private(set) var rows: [Row] = []
    private(set) var summary = ""
    /// Every time the waterfall marks, sorted, distinct: its axis.
    private(set) var axisPoints: [Int64] = []
    /// The id the trace shown was read for, and when.
    var readAt: Timestamp?
    var asked: String?
    /// The selected row (of `rows`), the first one shown, the folded events (by id).
    public var selected = 0
    var top = 0
    public var folded: Set<String> = [] {
        didSet { rows = Self.rows(trace, folded) }
    }
    /// `enter`: the selected hop's envelope, payload and attempts.
    public var detail = false
    public var detailScroll = 0
    public var error: String?

    public init(shared: Shared) {}

    /// What to show: the filter's text, `corr:` taken off.
    public var correlationID: String? {
        var text = filter.source
        if text.lowercased().hasPrefix("corr:") { text = String(text.dropFirst(5)) }
        text = text.trimmingCharacters(in: .whitespaces)
        return text.isEmpty ? nil : text
    }

    public mutating func filterCommitted() {
        selected = 0
        top = 0
        folded = []
        detail = false
        if trace?.correlationID != correlationID { trace = nil }
    }

    // MARK: Rows

    /// One line of the tree: an event, or one of its hops.
    public enum Row: Equatable, Sendable {
        case event(Int)
        case hop(Int, Int)

        public var node: Int {
            switch self {
            case .event(let n), .hop(let n, _): n
            }
        }
    }

    mutating func prepare() {
        rows = Self.rows(trace, folded)
        summary = trace?.summary ?? ""
        guard let trace else { axisPoints = []; return }
        var points: [Int64] = [trace.start.micros, trace.end.micros]
        for node in trace.nodes {
            if let p = node.publishedAt { points.append(p.micros) }
            for hop in node.hops {
                points.append(hop.enqueuedAt.micros)
                if let r = hop.releasedAt { points.append(r.micros) }
                for a in hop.attempts {
                    points.append(a.claimedAt.micros)
                    if let f = a.finishedAt { points.append(f.micros) }
                }
                points += hop.replays.map(\.micros)
            }
        }
        points.sort()
        var distinct: [Int64] = []
        distinct.reserveCapacity(points.count)
        for p in points where p != distinct.last { distinct.append(p) }
        axisPoints = distinct
    }

    /// The tree's rows, folded subtrees left out.
    static func rows(_ trace: Trace?, _ folded: Set<String>) -> [Row] {
        guard let trace else { return [] }
        var rows: [Row] = []
        rows.reserveCapacity(trace.nodes.count * 2)
        var skipBelow: Int?
        for (n, node) in trace.nodes.enumerated() {
            if let depth = skipBelow {
                if node.depth > depth { continue }
                skipBelow = nil
            }
            rows.append(.event(n))
            if folded.contains(node.event.id) {
                skipBelow = node.depth
                continue
            }
            for h in node.hops.indices { rows.append(.hop(n, h)) }
        }
        return rows
    }

    // MARK: Keys

    public static let keymap = Keymap<ScreenAction<TraceScreen>>([
        Binding(MoveKeys.down + MoveKeys.up, help: ("j k ↑ ↓", "select (scroll in the detail)"), hint: ("j/k", "select")) { s, key, shared in
            s.move(by: MoveKeys.down.contains(key) ? 1 : -1, shared)
            return []
        },
        Binding([.pageDown, .pageUp], help: ("pgup pgdn", "a page")) { s, key, shared in
            s.move(by: (key == .pageDown ? 1 : -1) * max(1, shared.size.height - 8), shared)
            return []
        },
        Binding(MoveKeys.first + MoveKeys.last, help: ("g G home end", "first / last")) { s, key, shared in
            s.move(by: MoveKeys.first.contains(key) ? Int.min / 2 : Int.max / 2, shared)
            return []
        },
        Binding([.left, .char("h")], help: ("← h", "fold the selected event's subtree"), hint: ("←/→", "fold")) { s, _, _ in
            s.fold(true)
            return []
        },
        Binding([.right, .char("l")], help: ("→ l", "unfold it")) { s, _, _ in
            s.fold(false)
            return []
        },
        Binding([.enter], help: ("enter", "the selected hop's envelope, payload and attempts"), hint: ("enter", "detail")) { s, _, _ in
            guard s.trace != nil, !s.rows.isEmpty else { return [] }
            s.detail = true
            s.detailScroll = 0
            return []
        },
    ])

    mutating func move(by step: Int, _ shared: Shared) {
        if detail {
            detailScroll = max(0, detailScroll + max(-10_000, min(10_000, step)))
            return
        }
        let count = rows.count
        guard count > 0 else { return }
        let next = step > 0 ? (selected > Int.max - step ? Int.max : selected + step) : (selected < Int.min - step ? Int.min : selected + step)
        selected = max(0, min(count - 1, next))
    }

    mutating func fold(_ fold: Bool) {
        let rows = self.rows
        guard let trace, rows.indices.contains(selected) else { return }
        let node = rows[selected].node
        let id = trace.nodes[node].event.id
        if fold { folded.insert(id) } else { folded.remove(id) }
        // The selection stays on the event.
        selected = self.rows.firstIndex(of: .event(node)) ?? 0
    }

    public mutating func back(shared: inout Shared) -> Bool {
        guard detail else { return false }
        detail = false
        return true
    }

    // MARK: Data

    public mutating func reads(_ shared: Shared) -> [Effect] {
        guard let id = correlationID, asked != id else { return [] }
        let fresh = trace?.correlationID == id && readAt.map { (shared.now - $0).micros < 1_000_000 } == true
        guard !fresh else { return [] }
        asked = id
        readAt = shared.now
        return [.read(.trace(correlationID: id), for: Self.id)]
    }

    public mutating func receive(_ snapshot: DataSnapshot, shared: inout Shared) {
        if snapshot.error != nil { asked = nil }
    }

    public mutating func receive(_ answer: StoreAnswer, shared: inout Shared) -> [Effect] {
        guard case .trace(let read) = answer else { return [] }
        if asked == read.correlationID { asked = nil }
        guard read.correlationID == correlationID else { return [] }
        // The selection stays on its row as the flow grows.
        let before = rows.indices.contains(selected) ? rows[selected] : nil
        let beforeID = before.flatMap { row in trace.map { $0.nodes[row.node].event.id } }
        trace = read
        if let beforeID, let n = read.nodes.firstIndex(where: { $0.event.id == beforeID }) {
            let target: Row
            if case .hop(_, let h) = before, read.nodes[n].hops.indices.contains(h) { target = .hop(n, h) } else { target = .event(n) }
            selected = rows.firstIndex(of: target) ?? selected
        }
        selected = max(0, min(selected, rows.count - 1))
        return []
    }

    public func draw(_ shared: Shared, into grid: inout Grid, _ body: Rect) -> ScreenStatus {
        TraceView.draw(self, shared, into: &grid, body)
        var status = ScreenStatus()
        status.left.append(StatusSegment(detail ? "DETAIL" : "TRACE", shared.theme[.statusAccent]))
        if let trace { status.right.append(StatusSegment("\(trace.nodes.count) events", shared.theme[.status])) }
        return status
    }
}

extension AppState {
    public var traceScreen: TraceScreen { screen(TraceScreen.self) }
}
