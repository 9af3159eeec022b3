import PipetopCore

public enum QueueSortKey: String, CaseIterable, Sendable {
    case name, lag, lagSeconds = "lag s", throughput, dead
}

/// The Overview: the queue table (filtered, sorted, one selected, each queue's status, trend, time
/// to drain and latency over `QueueHealth.window`) and the selected queue's detail; `enter` drills
/// into the selected queue's messages by state (`QueueDrill`).
public struct OverviewScreen: Screen {
    public static let id = ScreenID.overview
    public static let title = "Overview"
    public static let commands = ["overview", "o"]
    /// Queue stats feed the table, the trends and the header alike: the header reads them anyway,
    /// and its runtimes too; with the window's seconds they make each queue's health.
    public static let needs: [DataNeed] = [StoreData.queueStats.need, StoreData.queueSeconds.need, StoreData.runtimes.need, StoreData.cpuRecent.need]
    /// The SHAPE column: the verdict over the last minute's CPU samples, and a sparkline of the
    /// last 8 seconds (one a second, to the queue's capacity).
    public static let shapeWindow: Duration = .seconds(60)

    public var filter = Filter("")
    public var selectedQueue: String?
    public var sortKey: QueueSortKey = .name
    public var sortAscending = true
    /// Each queue's health at the last poll (`QueueHealth`, from the store's figures of that poll).
    public private(set) var health: [String: QueueHealth] = [:]
    /// Each queue's CPU shape over the last minute, and its sparkline (the last 8 s, of its capacity).
    public private(set) var shapes: [String: (shape: CPUShape, spark: [Double])] = [:]
    /// The selected queue's messages, after `enter` (nil: the queue table).
    public var drill: QueueDrill?

    public init(shared: Shared) {}

    public static let keymap = Keymap<ScreenAction<OverviewScreen>>(keys + explanations)

    static let keys: [Binding<ScreenAction<OverviewScreen>>] = [
        Binding(MoveKeys.down + MoveKeys.up, help: ("j k ↑ ↓", "select a queue (a message in a queue)"), hint: ("j/k", "select")) { s, key, shared in
            s.move(MoveKeys.down.contains(key) ? .by(1) : .by(-1), shared)
            return []
        },
        Binding(MoveKeys.first + MoveKeys.last, help: ("g G home end", "first / last")) { s, key, shared in
            s.move(MoveKeys.first.contains(key) ? .first : .last, shared)
            return []
        },
        Binding([.pageDown, .pageUp], help: nil) { s, key, shared in
            s.move(.by(key == .pageDown ? 10 : -10), shared)
            return []
        },
        Binding([.enter, .char("t")], help: ("enter t", "queue → its messages by state; message → its trace"), hint: ("enter", "open")) { s, key, shared in
            s.open(key, &shared)
        },
        Binding([.left, .right, .char("h"), .char("l")], help: ("← → h l", "in a queue: the previous / next state")) { s, key, shared in
            guard s.drill != nil else { return [] }
            s.drill!.show(key == .left || key == .char("h") ? -1 : 1)
            return []
        },
        Binding([.char("s"), .char("S")], help: ("s / S", "sort by name, lag, lag s, throughput, dead / reverse"), hint: ("s", "sort")) { s, key, shared in
            guard s.drill == nil, !s.visibleQueues(shared).isEmpty else { return [] }
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
    ]

    /// What the table's figures mean, as help lines (bindings without keys).
    static let explanations: [Binding<ScreenAction<OverviewScreen>>] =
        [explain("STATUS", "over \(Int(QueueHealth.window.secondsDouble)) s, the first that holds:")]
        + QueueHealth.rules.map { explain("  " + $0.0.rawValue, $0.1) }
        + [
            explain("DRAIN", "lag ÷ (done − arrived)/s; never: it grows; window: batch"),
            explain("p50 p95 p99", "end to end: the flow's first publish → succeeded here"),
        ]

    static func explain(_ term: String, _ text: String) -> Binding<ScreenAction<OverviewScreen>> {
        Binding([], help: (term, text)) { _, _, _ in [] }
    }

    public static let promptCommands = [
        PromptCommand(["queue"], argument: "NAME", complete: { shared, word in shared.queues.map(\.name).filter { $0.hasPrefix(word) } }) { state, argument in
            guard let queue = state.queues.first(where: { $0.name == argument }) else {
                state.shared.notice = Notice(text: "no queue '\(argument.terminalSafe)' (queues: \(state.queues.map(\.name).joined(separator: ", ")))", isError: true)
                return []
            }
            state.modify(OverviewScreen.self) { s, _ in
                s.filter = Filter("")
                s.selectedQueue = queue.name
                s.drill = nil
            }
            state.switchTo(.overview)
            return []
        },
    ]

    public mutating func receive(_ snapshot: DataSnapshot, shared: inout Shared) {
        if selectedQueue == nil { selectedQueue = visibleQueues(shared).first?.name }
        guard let queues = snapshot[StoreData.queueStats] else { return }
        if let seconds = snapshot[StoreData.queueSeconds], let runtimes = snapshot[StoreData.runtimes] {
            health = QueueHealth.of(queues, seconds: seconds, runtimes: runtimes, now: snapshot.time)
        }
        if let name = drill?.queue { drill!.noteStats(queues.first { $0.name == name }) }
        if let samples = snapshot[StoreData.cpuRecent] {
            let axis = CPUTimeline(window: .seconds(8), end: snapshot.time, cells: 4)
            var shapes: [String: (shape: CPUShape, spark: [Double])] = [:]
            for (scope, list) in CPUShape.byScope(samples) where scope != CPUSample.processScope {
                let shape = CPUShape(scope: scope, samples: list)
                shapes[scope] = (shape, axis.values(list).map { ($0 ?? 0) / Double(max(shape.capacity, 1)) })
            }
            self.shapes = shapes
        }
    }

    public mutating func reads(_ shared: Shared) -> [Effect] { drill?.reads(shared) ?? [] }

    public mutating func receive(_ answer: StoreAnswer, shared: inout Shared) -> [Effect] {
        if case .queueMessages(let page, let queue, let state, let after) = answer, drill?.queue == queue {
            drill!.receive(page, state, after: after)
        }
        return []
    }

    public mutating func back(shared: inout Shared) -> Bool {
        guard drill != nil else { return false }
        drill = nil
        return true
    }

    /// `enter`: a queue opens its messages; a message (and `t`) its trace (its flow from the store).
    mutating func open(_ key: Key, _ shared: inout Shared) -> [Navigation] {
        if let drill {
            guard let message = drill.selected else { return [] }
            guard let correlation = message.event.correlationID else {
                shared.notice = Notice(text: "message \(message.id)'s event has no correlation id", isError: true)
                return []
            }
            return [.show(.trace, filter: Filter(correlation))]
        }
        guard key == .enter else { return [] }
        let shown = visibleQueues(shared)
        guard !shown.isEmpty else { return [] }
        let queue = shown[selectedQueueIndex(shared) ?? 0]
        selectedQueue = queue.name
        drill = QueueDrill(queue)
        return []
    }

    enum Move { case by(Int), first, last }

    mutating func move(_ move: Move, _ shared: Shared) {
        if drill != nil {
            switch move {
            case .by(let n): drill!.move(by: n)
            case .first: drill!.move(by: Int.min / 2)
            case .last: drill!.move(by: Int.max / 2)
            }
            return
        }
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
        if let drill {
            return QueueDrillView.draw(drill, stats: shared.queues.first { $0.name == drill.queue }, health: health[drill.queue], shared, into: &grid, body)
        }
        let cut = OverviewView.draw(self, shared, into: &grid, body)
        var right: [StatusSegment] = []
        if !cut.isEmpty { right.append(StatusSegment(Table.cutMark + " hidden: " + cut.joined(separator: " "), shared.theme[.status])) }
        right.append(StatusSegment("\(shared.queues.count) queues", shared.theme[.status]))
        return ScreenStatus(right: right)
    }
}

extension AppState {
    public var overview: OverviewScreen { screen(OverviewScreen.self) }
}

/// How the Overview draws.
enum OverviewView {
    /// Priority 0 never gives way: the columns that say who is behind (LAG, LAG s, DRAIN, STATUS).
    /// Then the depth by state (so a row still adds up to its LAG), dead and poison; rates and
    /// latencies give way first (the selected queue's detail shows them all).
    static let columns: [Column] = [
        Column("QUEUE", min: 8, max: 24, priority: 0),
        Column("STATUS", min: 7, priority: 0),
        Column("MODE", min: 6, max: 12, priority: 6),
        Column("READY", min: 5, priority: 1, align: .right),
        Column("INFL", min: 4, priority: 1, align: .right),
        Column("SCHED", min: 5, priority: 2, align: .right),
        Column("HELD", min: 4, priority: 1, align: .right),
        Column("LAG", min: 5, priority: 0, align: .right),
        Column("LAG s", min: 5, priority: 0, align: .right),
        Column("DRAIN", min: 10, max: 12, priority: 0, align: .right),
        Column("p50", min: 5, priority: 5, align: .right),
        Column("p95", min: 5, priority: 7, align: .right),
        Column("p99", min: 5, priority: 5, align: .right),
        Column("THRU/s", min: 6, priority: 4, align: .right),
        Column("RETRY/m", min: 7, priority: 6, align: .right),
        Column("FAIL/m", min: 6, priority: 6, align: .right),
        Column("DEAD", min: 4, priority: 2, align: .right),
        Column("POISON", min: 6, priority: 2, align: .right),
        Column("SHAPE", min: 15, priority: 5),
        Column("THROUGHPUT", min: 10, priority: 8, flexible: true),
    ]
    static func column(_ title: String) -> Int { columns.firstIndex { $0.title == title }! }
    static let sparkColumn = column("THROUGHPUT")
    static let shapeColumn = column("SHAPE")

    /// Draws the table and the selected queue's detail; returns the titles of the columns that gave way.
    static func draw(_ screen: OverviewScreen, _ state: Shared, into grid: inout Grid, _ body: Rect) -> [String] {
        let theme = state.theme
        let shown = screen.visibleQueues(state)
        if shown.isEmpty {
            let text = !state.loaded ? "reading the store…" : state.queues.isEmpty
                ? "no queues declared in this store yet (a runtime declares its queues when it starts)"
                : "no queue matches the filter /\(screen.filter.source)"
            WrappedText.render(text, into: &grid, Rect(x: body.x + 2, y: body.y + 1, width: body.width - 4, height: 3), style: theme[.muted])
            return []
        }
        let tableHeight = min(shown.count + 1, max(3, body.height / 2))
        // Names stay whole (up to 24 cells): other columns give way first.
        var columns = Self.columns
        columns[column("QUEUE")].minWidth = min(24, max(8, shown.map { DisplayWidth.of($0.name.terminalSafe) }.max() ?? 8))
        var table = Table(columns: columns, rows: shown.map { row($0, screen.health[$0.name], screen.shapes[$0.name]?.shape, state) }, selected: screen.selectedQueueIndex(state))
        table.sortColumn = switch screen.sortKey {
        case .name: column("QUEUE")
        case .lag: column("LAG")
        case .lagSeconds: column("LAG s")
        case .throughput: column("THRU/s")
        case .dead: column("DEAD")
        }
        table.ascending = screen.sortAscending
        table.marksCuts = true
        // Narrow terminals: one space between columns keeps the depth columns.
        if body.width < 120 { table.gap = 1 }
        let tableRect = Rect(x: body.x + 1, y: body.y, width: body.width - 2, height: tableHeight)
        table.render(into: &grid, tableRect, header: theme[.tableHeader], row: theme[.tableRow], selected: theme[.tableSelected], mark: theme[.warning])
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
        // The CPU shape: the last minute's sparkline (to the queue's capacity), then the verdict.
        if let slot = layout.firstIndex(where: { $0.column == shapeColumn }) {
            let x = tableRect.x + layout[..<slot].reduce(0) { $0 + $1.width + table.gap }
            let first = Table.scrolled(top: 0, selected: table.selected, visible: Table.visibleRows(height: tableHeight), count: shown.count)
            for (line, queue) in shown.dropFirst(first).prefix(Table.visibleRows(height: tableHeight)).enumerated() {
                guard let spark = screen.shapes[queue.name]?.spark else { continue }
                let isSelected = first + line == table.selected
                Sparkline.render(spark, into: &grid, x: x, y: tableRect.y + 1 + line, width: 8, gradient: { level in
                    isSelected ? theme[.tableSelected] : gradient(theme, level)
                }, maximum: 1)
            }
        }
        // Several nodes (`--nodes`, several machines on PostgreSQL): each one's own heartbeat and work.
        var below = body.y + tableHeight
        let nodes = NodesView.nodes(state)
        if nodes.count > 1, body.height - tableHeight >= 12 {
            below += 1 + NodesView.draw(nodes, state, into: &grid, Rect(x: body.x, y: below + 1, width: body.width, height: min(nodes.count + 1, 6)))
        }
        if let index = screen.selectedQueueIndex(state) {
            let detail = Rect(x: body.x, y: below + 1, width: body.width, height: body.y + body.height - below - 1)
            drawDetail(shown[index], screen.health[shown[index].name], state, into: &grid, detail)
        }
        return table.cut(width: tableRect.width).filter { $0 != sparkColumn }.map { columns[$0].title }
    }

    static func gradient(_ theme: Theme, _ level: Double) -> Style {
        level < 0.5 ? theme[.graphLow] : level < 0.8 ? theme[.graphMid] : theme[.graphHigh]
    }

    static func statusStyle(_ status: QueueHealth.Status?, _ theme: Theme) -> Style {
        switch status {
        case .ok: theme[.ok]
        case .slow: theme[.warning]
        case .stalled, .stopped: theme[.error]
        case nil: theme[.muted]
        }
    }

    static func trendArrow(_ trend: QueueHealth.Trend?) -> String {
        switch trend {
        case .rising?: "↑"
        case .falling?: "↓"
        case .flat?: "→"
        case nil: " "
        }
    }

    /// The time to drain as the DRAIN column shows it.
    static func drain(_ drain: QueueHealth.Drain?, now: Timestamp) -> String {
        switch drain {
        case .drained?: "0"
        case .within(let time)?: Format.duration(time.secondsDouble)
        case .steady?: "steady"
        case .never?: "never"
        case .nextWindow(let at)?: "window " + Format.duration(max(0, (at - now).secondsDouble))
        case nil: "–"
        }
    }

    static func latency(_ value: Duration?) -> String { value.map { Format.duration($0.secondsDouble) } ?? "–" }

    static func row(_ q: QueueStats, _ health: QueueHealth?, _ shape: CPUShape?, _ state: Shared) -> [TableCell] {
        let theme = state.theme
        let trend = state.trends[q.name]
        let lagStyle: Style? = q.lagSeconds > 10 ? theme[.warning] : nil
        let flow = health?.flowLatency
        return [
            TableCell(q.name.terminalSafe),
            TableCell(health?.status?.rawValue ?? "–", style: statusStyle(health?.status, theme)),
            TableCell(q.modeName.terminalSafe, style: theme[.muted]),
            TableCell(Format.count(q.ready)),
            TableCell(Format.count(q.inFlight)),
            TableCell(Format.count(q.scheduled), style: q.scheduled > 0 ? theme.kind(.retryScheduled) : nil),
            TableCell(Format.count(q.held), style: q.held > 0 ? theme[.muted] : nil),
            TableCell(Format.count(q.lagMessages) + trendArrow(health?.trend)),
            TableCell(q.lagSeconds > 0 ? Format.duration(q.lagSeconds) : "0", style: lagStyle),
            TableCell(drain(health?.drain, now: state.now), style: health?.drain == .never ? theme[.warning] : nil),
            TableCell(latency(flow?.p50)),
            TableCell(latency(flow?.p95)),
            TableCell(latency(flow?.p99)),
            TableCell(Format.rate(trend?.perSecond)),
            TableCell(Format.rate(trend?.retriesPerMinute), style: (trend?.retriesPerMinute ?? 0) > 0 ? theme.kind(.retryScheduled) : nil),
            TableCell(Format.rate(trend?.failuresPerMinute), style: (trend?.failuresPerMinute ?? 0) > 0 ? theme.kind(.failed) : nil),
            TableCell(Format.count(q.dead), style: q.dead > 0 ? theme[.deadLetter] : nil),
            TableCell(Format.count(q.poison), style: q.poison > 0 ? theme[.warning] : nil),
            // Eight cells for the sparkline, drawn over them, then the verdict.
            TableCell(shape.map { "         " + $0.verdict.rawValue } ?? "–", style: shape.map { CPUView.verdictStyle($0.verdict, theme) }),
            TableCell(""),
        ]
    }

    /// The selected queue's health in words: status and why, drain and rates, latencies.
    static func healthLines(_ q: QueueStats, _ health: QueueHealth?, _ state: Shared) -> [(String, Style)] {
        let theme = state.theme
        guard let health else { return [("status, drain and latency: read with the next poll", theme[.muted])] }
        let window = Format.duration(health.span.secondsDouble)
        var drain = switch health.drain {
        case .drained: "nothing waits"
        case .within(let time): "drains in \(Format.duration(time.secondsDouble))"
        case .steady: "steady: completions keep up with arrivals"
        case .never: "never drains at these rates"
        case .nextWindow(let at): "next window \(Format.clock(at, offset: state.utcOffset).prefix(8)) (in \(Format.duration(max(0, (at - state.now).secondsDouble))))"
        }
        drain += " · in \(Format.rate(health.arrivalsPerSecond))/s, done \(Format.rate(health.completionsPerSecond))/s over \(window)"
        let trend = switch health.trend {
        case .rising(let n): "lag +\(n)"
        case .falling(let n): "lag −\(n)"
        case .flat: "lag flat"
        }
        drain += " · \(trend) in \(Int(QueueHealth.trendWindow.secondsDouble))s"
        func percentiles(_ p: LatencyPercentiles?) -> String {
            guard let p else { return "none succeeded in \(window)" }
            return "p50 \(latency(p.p50)) · p95 \(latency(p.p95)) · p99 \(latency(p.p99)) · \(Format.count(p.count)) in \(window)"
        }
        return [
            ((health.status?.rawValue ?? "no status yet") + " · " + health.reason.terminalSafe, statusStyle(health.status, theme)),
            (drain, theme[.base]),
            ("latency  " + percentiles(health.latency) + " (published → succeeded here)", theme[.base]),
            ("pipeline " + percentiles(health.flowLatency) + " (the flow's first publish → here)", theme[.base]),
        ]
    }

    static func drawDetail(_ q: QueueStats, _ health: QueueHealth?, _ state: Shared, into grid: inout Grid, _ rect: Rect) {
        guard rect.height >= 4 else { return }
        let theme = state.theme
        grid.put(String(repeating: "─", count: max(0, rect.width)), x: rect.x, y: rect.y - 1, style: theme[.border])
        let title = " \(q.name.terminalSafe) · \(q.modeName.terminalSafe) · concurrency \(q.concurrency) · max attempts \(q.maxAttempts) "
        grid.put(title, x: rect.x + 2, y: rect.y - 1, style: theme[.title])
        let lines = healthLines(q, health, state).prefix(max(0, rect.height - 4))
        for (index, line) in lines.enumerated() {
            grid.put(DisplayWidth.truncate(line.0, to: rect.width - 4), x: rect.x + 2, y: rect.y + index, style: line.1)
        }
        let top = rect.y + lines.count + (lines.isEmpty ? 0 : 1)
        let height = rect.maxY - top
        guard height >= 3 else { return }
        let barsWidth = min(44, max(30, rect.width / 3))
        let graphRect = Rect(x: rect.x + 2, y: top + 1, width: rect.width - barsWidth - 6, height: height - 3)
        let trend = state.trends[q.name]
        let values = Array(trend?.throughput ?? [])
        // The peak of what the graph shows and of the rate now: never below now.
        let peak = max(values.max() ?? 0, trend?.perSecond ?? 0)
        grid.put("throughput/s · now \(Format.rate(trend?.perSecond)) · peak \(Format.rate(peak))", x: graphRect.x, y: top, style: theme[.muted], maxX: graphRect.maxX)
        if values.isEmpty {
            grid.put("(measured from the second read on)", x: graphRect.x, y: graphRect.y, style: theme[.muted])
        } else if graphRect.height > 0 {
            BrailleGraph.render(values, into: &grid, graphRect) { gradient(theme, $0) }
        }
        let totals = "enqueued \(Format.count(q.enqueued)) · succeeded \(Format.count(q.succeeded)) · failed \(Format.count(q.failed)) · retried \(Format.count(q.retried)) · dead-lettered \(Format.count(q.deadLettered))"
        grid.put(DisplayWidth.truncate(totals, to: graphRect.width), x: graphRect.x, y: rect.maxY - 1, style: theme[.muted])
        let barsRect = Rect(x: rect.maxX - barsWidth - 2, y: top + 1, width: barsWidth, height: height - 1)
        grid.put("now", x: barsRect.x, y: top, style: theme[.muted])
        let items: [(label: String, value: Double, text: String, style: Style)] = [
            ("held", Double(q.held), Format.count(q.held), theme[.muted]),
            ("ready", Double(q.ready), Format.count(q.ready), theme.kind(.enqueued)),
            ("in flight", Double(q.inFlight), Format.count(q.inFlight), theme.kind(.claimed)),
            ("scheduled", Double(q.scheduled), Format.count(q.scheduled), theme.kind(.retryScheduled)),
            ("poison", Double(q.poison), Format.count(q.poison), theme[.warning]),
            ("dead", Double(q.dead), Format.count(q.dead), theme[.deadLetter]),
        ]
        Bars.render(items, into: &grid, barsRect, labelStyle: theme[.base])
    }
}

/// The Overview's nodes: every process of the store's runtimes not stopped (a silent one shown
/// as such until a peer finds it dead), and those stopped in the last minute, with each one's
/// heartbeat and throughput (`NodeThroughput`, written with its heartbeat).
enum NodesView {
    static let recent: Duration = .seconds(60)

    static let columns: [Column] = [
        Column("NODE", min: 8, max: 24, priority: 0),
        Column("HOST", min: 6, max: 24, priority: 1),
        Column("PID", min: 5, priority: 1, align: .right),
        Column("STATE", min: 8, max: 24, priority: 0),
        Column("♥", min: 6, priority: 0, align: .right),
        Column("DONE/s", min: 7, priority: 0, align: .right),
        Column("DONE", min: 8, priority: 2, align: .right),
        Column("UP", min: 6, priority: 3, align: .right, flexible: true),
    ]

    static func nodes(_ state: Shared) -> [RuntimeInfo] {
        state.runtimes.filter { node in node.stoppedAt.map { state.now - $0 < recent } ?? true }
    }

    /// Draws the table in `rect` (its title on the line above); returns the height used.
    static func draw(_ nodes: [RuntimeInfo], _ state: Shared, into grid: inout Grid, _ rect: Rect) -> Int {
        let theme = state.theme
        grid.put(String(repeating: "─", count: max(0, rect.width)), x: rect.x, y: rect.y - 1, style: theme[.border])
        let live = nodes.filter { $0.isLive(at: state.now) }.count
        grid.put(" nodes · \(live) live of \(nodes.count) ", x: rect.x + 2, y: rect.y - 1, style: theme[.title])
        var table = Table(columns: columns, rows: nodes.map { row($0, state) })
        if rect.width < 120 { table.gap = 1 }
        table.render(into: &grid, Rect(x: rect.x + 1, y: rect.y, width: rect.width - 2, height: rect.height),
                     header: theme[.tableHeader], row: theme[.tableRow], selected: theme[.tableSelected], mark: theme[.warning])
        return rect.height
    }

    static func row(_ node: RuntimeInfo, _ state: Shared) -> [TableCell] {
        let theme = state.theme
        let age = max(0, (state.now - node.heartbeatAt).secondsDouble)
        let status: TableCell
        if let stopped = node.stoppedAt {
            status = TableCell("stopped \(Format.duration(max(0, (state.now - stopped).secondsDouble))) ago", style: theme[.muted])
        } else if node.isLive(at: state.now) {
            status = age > 3 ? TableCell("late", style: theme[.warning]) : TableCell("running", style: theme[.ok])
        } else {
            status = TableCell("silent", style: theme[.error])
        }
        let throughput = node.throughput
        return [
            TableCell(node.name.terminalSafe),
            TableCell(node.host.terminalSafe),
            TableCell("\(node.pid)"),
            status,
            TableCell(node.stoppedAt == nil ? Format.duration(age) : "–", style: node.stoppedAt == nil && age > 3 ? theme[.warning] : nil),
            // A silent node's last rate is not its rate now.
            TableCell(node.isLive(at: state.now) ? throughput.map { Format.rate($0.perSecond) } ?? "–" : "–"),
            TableCell(throughput.map { Format.count($0.done) } ?? "–"),
            TableCell(Format.duration(max(0, ((node.stoppedAt ?? state.now) - node.startedAt).secondsDouble))),
        ]
    }
}
