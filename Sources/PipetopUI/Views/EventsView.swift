import PipetopCore

/// The live tail of the event log.
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

    static func draw(_ state: AppState, _ events: (rows: EventRows, selected: Int?), into grid: inout Grid, _ body: Rect) {
        let theme = state.theme
        let (rows, selected) = events
        if rows.isEmpty {
            let text = !state.filter.isEmpty ? "no record matches /\(state.filter.source) (esc clears the filter)" : state.loaded ? "the event log is empty" : "reading the store…"
            grid.put(text.terminalSafe, x: body.x + 2, y: body.y + 1, style: theme[.muted])
            return
        }
        let rect = Rect(x: body.x + 1, y: body.y, width: body.width - 2, height: body.height)
        let visible = Table.visibleRows(height: rect.height)
        // Only the rows on screen are formatted: the ring may hold 10,000 records.
        let top = state.eventsTop(rows: rows, selected: selected)
        let window = rows[top..<min(rows.count, top + visible)]
        var table = Table(columns: columns, rows: window.map { row($0, state) }, selected: selected.map { $0 - top })
        table.top = 0
        table.render(into: &grid, rect, header: theme[.tableHeader], row: theme[.tableRow], selected: state.follow ? theme[.tableRow] : theme[.tableSelected])
    }

    static func row(_ r: LifecycleRecord, _ state: AppState) -> [TableCell] {
        let theme = state.theme
        let detail = r.error ?? r.detail ?? ""
        let isError = r.error != nil
        return [
            TableCell(Format.clock(r.time, offset: state.utcOffset), style: theme[.muted]),
            TableCell(r.kind.rawValue, style: theme.kind(r.kind)),
            TableCell((r.queue ?? "").terminalSafe),
            TableCell((r.eventType ?? "").terminalSafe),
            TableCell((r.correlationID ?? "").terminalSafe, style: theme[.muted]),
            TableCell(r.attempt.map(String.init) ?? ""),
            TableCell(r.duration.map { Format.duration($0.secondsDouble) } ?? ""),
            TableCell(detail.terminalSafe, style: isError ? theme[.error] : theme[.muted]),
        ]
    }
}
