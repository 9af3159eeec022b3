import PipetopCore

/// `enter` on a queue: its messages in one state at a time (held, ready, in flight, retry
/// scheduled, dead), in delivery order (oldest first), read from the store a page at a time by
/// cursor as the user scrolls, and read again as the queue changes. Counts are the store's true ones.
public struct QueueDrill: Sendable {
    public static let pageSize = 100

    public let queue: String
    public private(set) var state: QueueMessageState
    /// The messages read, of `loaded`'s state (nil: none read yet).
    public private(set) var messages: [MessageInfo] = []
    public private(set) var loaded: QueueMessageState?
    public private(set) var next: PageCursor?
    public var index = 0

    var askedFirst: QueueMessageState?
    var askedNext: PageCursor?
    /// Read again: the queue's figures moved since the last read.
    var stale = true
    var stats: QueueStats?
    /// When a list deeper than a page was last read again (at most once a second).
    var lastDeepRead: Timestamp?

    /// Opens on the first state that holds messages (ready when none does).
    public init(_ queue: QueueStats) {
        self.queue = queue.name
        stats = queue
        state = QueueMessageState.allCases.first { $0.count(in: queue) > 0 } ?? .ready
    }

    public var selected: MessageInfo? { messages.indices.contains(index) ? messages[index] : nil }

    mutating func show(_ step: Int) {
        let all = QueueMessageState.allCases
        state = all[((all.firstIndex(of: state)! + step) % all.count + all.count) % all.count]
        if loaded != state {
            index = 0
            messages = []
            next = nil
        }
    }

    mutating func move(by step: Int) {
        let target = index.addingReportingOverflow(step)
        index = max(0, min(messages.count - 1, target.overflow ? index : target.partialValue))
    }

    mutating func noteStats(_ new: QueueStats?) {
        if new != stats { stale = true }
        stats = new
    }

    mutating func reads(_ shared: Shared) -> [Effect] {
        if (stale || loaded != state) && askedFirst != state {
            let limit = loaded == state ? max(Self.pageSize, messages.count) : Self.pageSize
            if limit > Self.pageSize {
                if let last = lastDeepRead, (shared.now - last).micros < 1_000_000 { return [] }
                lastDeepRead = shared.now
            }
            askedFirst = state
            askedNext = nil
            stale = false
            return [.read(.queueMessages(queue: queue, state, page: PageRequest(limit: limit), now: shared.now), for: .overview)]
        }
        if loaded == state, askedFirst == nil, let next, askedNext == nil, index >= messages.count - 10 {
            askedNext = next
            return [.read(.queueMessages(queue: queue, state, page: PageRequest(limit: Self.pageSize, after: next), now: shared.now), for: .overview)]
        }
        return []
    }

    mutating func receive(_ page: Page<MessageInfo>, _ read: QueueMessageState, after: PageCursor?) {
        if after == nil {
            if askedFirst == read { askedFirst = nil }
            guard read == state else { return }
            // The selection follows its message, not its position.
            let selected = loaded == read ? selected?.id : nil
            messages = page.items
            loaded = read
            if let selected, let found = messages.firstIndex(where: { $0.id == selected }) { index = found }
        } else {
            if askedNext == after { askedNext = nil }
            guard read == loaded, read == state, after == next else { return }
            messages += page.items
        }
        next = page.next
        index = max(0, min(index, messages.count - 1))
    }
}

/// How the drill-down draws: the queue and its status, the states with their true counts, the
/// messages, and the selected one's detail (its attempts' errors, escaped).
enum QueueDrillView {
    static func columns(_ state: QueueMessageState) -> [Column] {
        let when = switch state {
        case .held: "RELEASE"
        case .ready: "WAITING"
        case .inFlight: "LEASE ENDS"
        case .scheduled: "NEXT RETRY"
        case .dead: "DEAD FOR"
        }
        return [
            Column("ID", min: 4, priority: 0, align: .right),
            Column("AGE", min: 5, priority: 0, align: .right),
            Column("ATTEMPT", min: 7, priority: 0, align: .right),
            Column(when, min: 8, priority: 0, align: .right),
            Column("TYPE", min: 8, max: 26, priority: 2),
            Column("CORRELATION", min: 11, max: 22, priority: 1),
            Column("LAST ERROR", min: 10, priority: 3, flexible: true),
        ]
    }

    static func when(_ message: MessageInfo, _ state: QueueMessageState, stats: QueueStats?, _ shared: Shared) -> String {
        let now = shared.now
        switch state {
        case .held:
            guard let release = stats?.mode?.nextRelease(after: now) else { return "–" }
            return "in " + Format.duration(max(0, (release - now).secondsDouble))
        case .ready: return Format.duration(max(0, (now - message.readyAt).secondsDouble))
        case .inFlight:
            let left = (message.readyAt - now).secondsDouble
            return left >= 0 ? "in " + Format.duration(left) : "ended " + Format.duration(-left)
        case .scheduled: return String(Format.clock(message.readyAt, offset: shared.utcOffset))
        case .dead: return message.errors.last.map { Format.duration(max(0, (now - $0.at).secondsDouble)) } ?? "–"
        }
    }

    static func row(_ message: MessageInfo, _ state: QueueMessageState, stats: QueueStats?, _ shared: Shared) -> [TableCell] {
        let theme = shared.theme
        let attempt = "\(message.attempt)/\(stats.map { String($0.maxAttempts) } ?? "?")"
        return [
            TableCell(String(message.id)),
            TableCell(Format.duration(max(0, (shared.now - message.enqueuedAt).secondsDouble))),
            TableCell(attempt, style: message.attempt >= 2 ? theme[.warning] : nil),
            TableCell(when(message, state, stats: stats, shared)),
            TableCell(message.event.type.terminalSafe),
            TableCell((message.event.correlationID ?? "").terminalSafe, style: theme[.muted]),
            TableCell((message.errors.last?.error ?? "").terminalSafe, style: theme.kind(.failed)),
        ]
    }

    static func draw(_ drill: QueueDrill, stats: QueueStats?, health: QueueHealth?, _ shared: Shared, into grid: inout Grid, _ body: Rect) -> ScreenStatus {
        let theme = shared.theme
        let state = drill.state
        var x = grid.put(" ‹ \(drill.queue.terminalSafe)", x: body.x, y: body.y, style: theme[.title])
        if let stats { x = grid.put(" · \(stats.modeName.terminalSafe) · max attempts \(stats.maxAttempts)", x: x, y: body.y, style: theme[.muted]) }
        if let health {
            x = grid.put(" · ", x: x, y: body.y, style: theme[.muted])
            x = grid.put(health.status?.rawValue ?? "–", x: x, y: body.y, style: OverviewView.statusStyle(health.status, theme))
            grid.put(" " + health.reason.terminalSafe, x: x, y: body.y, style: theme[.muted], maxX: body.maxX - 1)
        }
        // The states, each with its true count.
        var tx = body.x + 1
        for option in QueueMessageState.allCases {
            let count = stats.map { Format.count(option.count(in: $0)) } ?? "?"
            tx = grid.put(" \(option.rawValue) \(count) ", x: tx, y: body.y + 1, style: option == state ? theme[.tabActive] : theme[.tab], maxX: body.maxX) + 1
        }
        let order = state == .scheduled ? "soonest first" : state == .inFlight ? "by lease end" : "oldest first"
        grid.put(DisplayWidth.truncate("← → state · \(order)", to: max(0, body.maxX - tx - 2)), x: tx + 1, y: body.y + 1, style: theme[.muted])

        let detailHeight = min(max(8, body.height / 3), max(0, body.height - 8))
        let tableRect = Rect(x: body.x + 1, y: body.y + 2, width: body.width - 2, height: body.height - 2 - detailHeight)
        if drill.loaded != state {
            grid.put("reading the \(state.rawValue) messages…", x: tableRect.x + 1, y: tableRect.y + 1, style: theme[.muted])
        } else if drill.messages.isEmpty {
            grid.put("no \(state.rawValue) messages in \(drill.queue.terminalSafe)", x: tableRect.x + 1, y: tableRect.y + 1, style: theme[.muted])
        } else {
            var table = Table(columns: columns(state), rows: drill.messages.map { row($0, state, stats: stats, shared) }, selected: drill.index)
            table.marksCuts = true
            if body.width < 120 { table.gap = 1 }
            table.render(into: &grid, tableRect, header: theme[.tableHeader], row: theme[.tableRow], selected: theme[.tableSelected], mark: theme[.warning])
        }
        if detailHeight >= 3, let message = drill.selected, drill.loaded == state {
            drawDetail(message, state, stats: stats, shared, into: &grid, Rect(x: body.x, y: tableRect.maxY + 1, width: body.width, height: detailHeight - 1))
        }
        var status = ScreenStatus(left: [StatusSegment("MESSAGES", theme[.statusAccent])])
        if let stats {
            let total = state.count(in: stats)
            status.right.append(StatusSegment(drill.messages.isEmpty ? "0/\(total)" : "\(drill.index + 1)/\(total)", theme[.status]))
        }
        return status
    }

    static func drawDetail(_ message: MessageInfo, _ state: QueueMessageState, stats: QueueStats?, _ shared: Shared, into grid: inout Grid, _ rect: Rect) {
        let theme = shared.theme
        let now = shared.now
        grid.put(String(repeating: "─", count: max(0, rect.width)), x: rect.x, y: rect.y - 1, style: theme[.border])
        let title = " message \(message.id) · \(message.event.type.terminalSafe) · event \(message.event.id.terminalSafe) "
        grid.put(title, x: rect.x + 2, y: rect.y - 1, style: theme[.title], maxX: rect.maxX - 1)
        func clock(_ time: Timestamp) -> String { Format.clock(time, offset: shared.utcOffset) }
        func ago(_ time: Timestamp) -> String { Format.duration(max(0, (now - time).secondsDouble)) }
        var facts = "corr \((message.event.correlationID ?? "none").terminalSafe) · enqueued \(clock(message.enqueuedAt)) (\(ago(message.enqueuedAt)) ago)"
        facts += " · attempt \(message.attempt)/\(stats.map { String($0.maxAttempts) } ?? "?") · deliveries \(message.deliveries)"
        var when: String
        switch state {
        case .held:
            when = stats?.mode?.nextRelease(after: now).map { "released by the next window, \(clock($0)) (in \(Format.duration(max(0, ($0 - now).secondsDouble))))" } ?? "held"
        case .ready: when = "ready since \(clock(message.readyAt)) (\(ago(message.readyAt)))"
        case .inFlight: when = "in flight; its lease ends \(clock(message.readyAt))"
        case .scheduled: when = "next retry \(clock(message.readyAt)) (in \(Format.duration(max(0, (message.readyAt - now).secondsDouble))))"
        case .dead: when = "dead letter"
        }
        when += " · enter: its trace · esc: back"
        var lines: [(String, Style)] = [(facts, theme[.base]), (when, theme[.muted])]
        if message.errors.isEmpty {
            lines.append(("no errors", theme[.muted]))
        } else {
            lines.append(("errors, newest first:", theme[.muted]))
            for error in message.errors.reversed() {
                lines.append(("  attempt \(error.attempt) · \(clock(error.at)) · \(error.error.terminalSafe)", theme.kind(.failed)))
            }
        }
        for (index, line) in lines.prefix(rect.height).enumerated() {
            grid.put(DisplayWidth.truncate(line.0, to: rect.width - 3), x: rect.x + 2, y: rect.y + index, style: line.1)
        }
    }
}
