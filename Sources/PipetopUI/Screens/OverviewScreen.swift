import PipetopCore

public enum QueueSortKey: String, CaseIterable, Sendable {
    case name, lag, lagSeconds = "lag s", throughput, dead
}

/// The Overview: the queue table (filtered, sorted, one selected) and the selected queue's detail.
public struct OverviewScreen: Screen {
    public static let id = ScreenID.overview
    public static let title = "Overview"
    public static let commands = ["overview", "o"]
    /// Queue stats feed the table, the trends and the header alike: the header reads them anyway.
    public static let needs: [DataNeed] = [StoreData.queueStats.need]

    public var filter = Filter("")
    public var selectedQueue: String?
    public var sortKey: QueueSortKey = .name
    public var sortAscending = true

    public init(shared: Shared) {}

    public static let keymap = Keymap<ScreenAction<OverviewScreen>>([
        Binding(MoveKeys.down + MoveKeys.up, help: ("j k ↑ ↓", "select a queue"), hint: ("j/k", "select")) { s, key, shared in
            s.select(MoveKeys.down.contains(key) ? .by(1) : .by(-1), shared)
            return []
        },
        Binding(MoveKeys.first + MoveKeys.last, help: ("g G home end", "first / last queue")) { s, key, shared in
            s.select(MoveKeys.first.contains(key) ? .first : .last, shared)
            return []
        },
        Binding([.pageDown, .pageUp], help: nil) { s, key, shared in
            s.select(.by(key == .pageDown ? 10 : -10), shared)
            return []
        },
        Binding([.enter], help: ("enter", "events of the selected queue"), hint: ("enter", "events")) { s, _, shared in
            let shown = s.visibleQueues(shared)
            guard !shown.isEmpty else { return [] }
            return [.show(.events, filter: Filter("queue:" + shown[s.selectedQueueIndex(shared) ?? 0].name))]
        },
        Binding([.char("s"), .char("S")], help: ("s / S", "sort by name, lag, lag s, throughput, dead / reverse"), hint: ("s", "sort")) { s, key, shared in
            guard !s.visibleQueues(shared).isEmpty else { return [] }
            if key == .char("s") {
                let all = QueueSortKey.allCases
                s.sortKey = all[(all.firstIndex(of: s.sortKey)! + 1) % all.count]
                s.sortAscending = s.sortKey == .name
                shared.notice = Notice(text: "sorted by \(s.sortKey.rawValue)", isError: false)
            } else {
                s.sortAscending.toggle()
            }
            return []
        },
    ])

    public static let promptCommands = [
        PromptCommand(["queue"], argument: "NAME", complete: { shared, word in shared.queues.map(\.name).filter { $0.hasPrefix(word) } }) { state, argument in
            guard let queue = state.queues.first(where: { $0.name == argument }) else {
                state.shared.notice = Notice(text: "no queue '\(argument.terminalSafe)' (queues: \(state.queues.map(\.name).joined(separator: ", ")))", isError: true)
                return []
            }
            state.modify(OverviewScreen.self) { s, _ in
                s.filter = Filter("")
                s.selectedQueue = queue.name
            }
            state.switchTo(.overview)
            return []
        },
    ]

    public mutating func receive(_ snapshot: DataSnapshot, shared: inout Shared) {
        if selectedQueue == nil { selectedQueue = visibleQueues(shared).first?.name }
    }

    enum Move { case by(Int), first, last }

    mutating func select(_ move: Move, _ shared: Shared) {
        let shown = visibleQueues(shared)
        guard !shown.isEmpty else { return }
        let index = selectedQueueIndex(shared) ?? 0
        let target = switch move {
        case .by(let n): index + n
        case .first: 0
        case .last: shown.count - 1
        }
        selectedQueue = shown[min(max(0, target), shown.count - 1)].name
    }

    /// Queues as the Overview lists them: filtered and sorted.
    public func visibleQueues(_ shared: Shared) -> [QueueStats] {
        let shown = shared.queues.filter { filter.matches(queue: $0) }
        func key(_ q: QueueStats) -> Double {
            switch sortKey {
            case .name: return 0
            case .lag: return Double(q.lagMessages)
            case .lagSeconds: return q.lagSeconds
            case .throughput: return shared.trends[q.name]?.perSecond ?? 0
            case .dead: return Double(q.dead)
            }
        }
        return shown.sorted { a, b in
            if sortKey == .name || key(a) == key(b) { return sortAscending || sortKey != .name ? a.name < b.name : a.name > b.name }
            return sortAscending ? key(a) < key(b) : key(a) > key(b)
        }
    }

    public func selectedQueueIndex(_ shared: Shared) -> Int? {
        let shown = visibleQueues(shared)
        guard !shown.isEmpty else { return nil }
        return shown.firstIndex { $0.name == selectedQueue } ?? 0
    }

    public func draw(_ shared: Shared, into grid: inout Grid, _ body: Rect) -> ScreenStatus {
        OverviewView.draw(self, shared, into: &grid, body)
        return ScreenStatus(right: [StatusSegment("\(shared.queues.count) queues", shared.theme[.status])])
    }
}

extension AppState {
    public var overview: OverviewScreen { screen(OverviewScreen.self) }
}

/// How the Overview draws.
enum OverviewView {
    static let columns: [Column] = [
        Column("QUEUE", min: 8, max: 24, priority: 0),
        Column("MODE", min: 6, max: 12, priority: 6),
        Column("READY", min: 5, priority: 0, align: .right),
        Column("INFL", min: 4, priority: 1, align: .right),
        Column("SCHED", min: 5, priority: 3, align: .right),
        Column("HELD", min: 4, priority: 5, align: .right),
        Column("LAG", min: 5, priority: 0, align: .right),
        Column("LAG s", min: 5, priority: 1, align: .right),
        Column("DRAIN", min: 5, priority: 7, align: .right),
        Column("THRU/s", min: 6, priority: 0, align: .right),
        Column("RETRY/m", min: 7, priority: 2, align: .right),
        Column("FAIL/m", min: 6, priority: 4, align: .right),
        Column("DEAD", min: 4, priority: 1, align: .right),
        Column("POISON", min: 6, priority: 5, align: .right),
        Column("THROUGHPUT", min: 10, priority: 8, flexible: true),
    ]
    static let sparkColumn = 14

    static func draw(_ screen: OverviewScreen, _ state: Shared, into grid: inout Grid, _ body: Rect) {
        let theme = state.theme
        let shown = screen.visibleQueues(state)
        if shown.isEmpty {
            let text = !state.loaded ? "reading the store…" : state.queues.isEmpty
                ? "no queues declared in this store yet (a runtime declares its queues when it starts)"
                : "no queue matches the filter /\(screen.filter.source)"
            WrappedText.render(text, into: &grid, Rect(x: body.x + 2, y: body.y + 1, width: body.width - 4, height: 3), style: theme[.muted])
            return
        }
        let tableHeight = min(shown.count + 1, max(3, body.height / 2))
        var table = Table(columns: columns, rows: shown.map { row($0, state) }, selected: screen.selectedQueueIndex(state))
        let sortIndex: Int? = switch screen.sortKey {
        case .name: 0
        case .lag: 6
        case .lagSeconds: 7
        case .throughput: 9
        case .dead: 12
        }
        table.sortColumn = sortIndex
        table.ascending = screen.sortAscending
        let tableRect = Rect(x: body.x + 1, y: body.y, width: body.width - 2, height: tableHeight)
        table.render(into: &grid, tableRect, header: theme[.tableHeader], row: theme[.tableRow], selected: theme[.tableSelected])
        // Sparklines with a gradient, drawn into the THROUGHPUT column.
        let layout = table.layout(width: tableRect.width)
        if let slot = layout.firstIndex(where: { $0.column == sparkColumn }) {
            let x = tableRect.x + layout[..<slot].reduce(0) { $0 + $1.width + table.gap }
            let first = Table.scrolled(top: 0, selected: table.selected, visible: Table.visibleRows(height: tableHeight), count: shown.count)
            for (line, queue) in shown.dropFirst(first).prefix(Table.visibleRows(height: tableHeight)).enumerated() {
                let values = Array(state.trends[queue.name]?.throughput ?? [])
                let isSelected = first + line == table.selected
                Sparkline.render(values, into: &grid, x: x, y: tableRect.y + 1 + line, width: layout[slot].width) { level in
                    isSelected ? theme[.tableSelected] : gradient(theme, level)
                }
            }
        }
        if let index = screen.selectedQueueIndex(state) {
            let detail = Rect(x: body.x, y: body.y + tableHeight + 1, width: body.width, height: body.height - tableHeight - 1)
            drawDetail(shown[index], state, into: &grid, detail)
        }
    }

    static func gradient(_ theme: Theme, _ level: Double) -> Style {
        level < 0.5 ? theme[.graphLow] : level < 0.8 ? theme[.graphMid] : theme[.graphHigh]
    }

    static func row(_ q: QueueStats, _ state: Shared) -> [TableCell] {
        let theme = state.theme
        let trend = state.trends[q.name]
        let throughput = trend?.perSecond
        var drain = "–"
        if q.lagMessages == 0 {
            drain = "0"
        } else if let throughput, throughput > 0 {
            drain = Format.duration(Double(q.ready + q.inFlight + q.scheduled) / throughput)
        } else if q.held > 0 && q.ready + q.inFlight + q.scheduled == 0 {
            drain = "window"
        } else {
            drain = "∞"
        }
        let arrow = trend?.lagDelta.map { $0 > 0 ? "↑" : $0 < 0 ? "↓" : "→" } ?? " "
        let lagStyle: Style? = q.lagSeconds > 10 ? theme[.warning] : nil
        return [
            TableCell(q.name.terminalSafe),
            TableCell(q.modeName.terminalSafe, style: theme[.muted]),
            TableCell(Format.count(q.ready)),
            TableCell(Format.count(q.inFlight)),
            TableCell(Format.count(q.scheduled), style: q.scheduled > 0 ? theme.kind(.retryScheduled) : nil),
            TableCell(Format.count(q.held), style: q.held > 0 ? theme[.muted] : nil),
            TableCell(Format.count(q.lagMessages) + arrow),
            TableCell(q.lagSeconds > 0 ? Format.duration(q.lagSeconds) : "0", style: lagStyle),
            TableCell(drain),
            TableCell(Format.rate(throughput)),
            TableCell(Format.rate(trend?.retriesPerMinute), style: (trend?.retriesPerMinute ?? 0) > 0 ? theme.kind(.retryScheduled) : nil),
            TableCell(Format.rate(trend?.failuresPerMinute), style: (trend?.failuresPerMinute ?? 0) > 0 ? theme.kind(.failed) : nil),
            TableCell(Format.count(q.dead), style: q.dead > 0 ? theme[.deadLetter] : nil),
            TableCell(Format.count(q.poison), style: q.poison > 0 ? theme[.warning] : nil),
            TableCell(""),
        ]
    }

    static func drawDetail(_ q: QueueStats, _ state: Shared, into grid: inout Grid, _ rect: Rect) {
        guard rect.height >= 4 else { return }
        let theme = state.theme
        grid.put("─", x: rect.x, y: rect.y - 1, style: theme[.border])
        grid.put(String(repeating: "─", count: max(0, rect.width)), x: rect.x, y: rect.y - 1, style: theme[.border])
        let title = " \(q.name.terminalSafe) · \(q.modeName.terminalSafe) · concurrency \(q.concurrency) · max attempts \(q.maxAttempts) "
        grid.put(title, x: rect.x + 2, y: rect.y - 1, style: theme[.title])
        let barsWidth = min(44, max(30, rect.width / 3))
        let graphRect = Rect(x: rect.x + 2, y: rect.y + 1, width: rect.width - barsWidth - 6, height: rect.height - 3)
        let trend = state.trends[q.name]
        let values = Array(trend?.throughput ?? [])
        let peak = values.max() ?? 0
        grid.put("throughput/s · now \(Format.rate(trend?.perSecond)) · peak \(Format.rate(peak))", x: graphRect.x, y: rect.y, style: theme[.muted], maxX: graphRect.maxX)
        if values.isEmpty {
            grid.put("(measured from the second read on)", x: graphRect.x, y: graphRect.y, style: theme[.muted])
        } else {
            BrailleGraph.render(values, into: &grid, graphRect) { gradient(theme, $0) }
        }
        let totals = "enqueued \(Format.count(q.enqueued)) · succeeded \(Format.count(q.succeeded)) · failed \(Format.count(q.failed)) · retried \(Format.count(q.retried)) · dead-lettered \(Format.count(q.deadLettered))"
        grid.put(DisplayWidth.truncate(totals, to: graphRect.width), x: graphRect.x, y: rect.maxY - 1, style: theme[.muted])
        let barsRect = Rect(x: rect.maxX - barsWidth - 2, y: rect.y + 1, width: barsWidth, height: rect.height - 1)
        grid.put("now", x: barsRect.x, y: rect.y, style: theme[.muted])
        let items: [(label: String, value: Double, text: String, style: Style)] = [
            ("ready", Double(q.ready), Format.count(q.ready), theme.kind(.enqueued)),
            ("in flight", Double(q.inFlight), Format.count(q.inFlight), theme.kind(.claimed)),
            ("scheduled", Double(q.scheduled), Format.count(q.scheduled), theme.kind(.retryScheduled)),
            ("held", Double(q.held), Format.count(q.held), theme[.muted]),
            ("poison", Double(q.poison), Format.count(q.poison), theme[.warning]),
            ("dead", Double(q.dead), Format.count(q.dead), theme[.deadLetter]),
        ]
        Bars.render(items, into: &grid, barsRect, labelStyle: theme[.base])
    }
}
