import PipetopCore

/// How the CPU screen draws: a line saying what is shown, the table of shapes (statistics,
/// verdict, cores for the peak vs the mean, latency), the timelines on one time axis (every scope
/// stacked when they fit, else the selected one), and on the right the selected scope's
/// utilisation histogram and, with the cursor on, that second's queues and runs.
enum CPUView {
    static func panelWidth(_ width: Int) -> Int { min(40, max(30, width / 4)) }
    /// The timeline's width in cells for a terminal `width` wide (the screen's keys use it too).
    static func graphWidth(_ width: Int) -> Int { max(10, width - 2 - panelWidth(width) - 1) }

    static func windowName(_ window: Duration) -> String {
        let s = Int(window.secondsDouble)
        return s % 3600 == 0 ? "\(s / 3600)h" : s % 60 == 0 ? "\(s / 60)m" : "\(s)s"
    }

    /// Cores with two decimals (by hand: `String(format:)` costs tens of µs, and a frame shows dozens).
    static func cores(_ value: Double) -> String {
        guard value.isFinite, value >= 0, value < 1e12 else { return "–" }
        let n = Int64((value * 100).rounded())
        let cents = n % 100
        return "\(n / 100)." + (cents < 10 ? "0\(cents)" : "\(cents)")
    }

    static func ratio(_ value: Double) -> String {
        guard value.isFinite, value >= 0, value < 1e12 else { return "–" }
        let n = Int64((value * 10).rounded())
        return "\(n / 10).\(n % 10)"
    }

    static func percent(_ share: Double) -> String { "\(Int((share * 100).rounded()))%" }

    static let columns: [Column] = [
        Column("SCOPE", min: 8, max: 24, priority: 0),
        Column("SHAPE", min: 6, priority: 0),
        Column("MEAN", min: 4, priority: 0, align: .right),
        Column("P95", min: 4, priority: 2, align: .right),
        Column("MAX", min: 4, priority: 0, align: .right),
        Column("PK/MEAN", min: 7, priority: 1, align: .right),
        Column("CV", min: 4, priority: 3, align: .right),
        Column("IDLE", min: 4, priority: 0, align: .right),
        Column("CORES PEAK/MEAN", min: 15, priority: 1, align: .right),
        Column("LAT p50", min: 7, priority: 1, align: .right),
        Column("p95", min: 5, priority: 1, align: .right),
        Column("RUNS", min: 5, priority: 4, align: .right),
        Column("CAP", min: 3, priority: 4, align: .right),
    ]

    static func verdictStyle(_ verdict: CPUShape.Verdict, _ theme: Theme) -> Style {
        switch verdict {
        case .spiky: theme[.warning]
        case .bursty: theme[.accent]
        case .steady: theme[.ok]
        case .idle: theme[.muted]
        }
    }

    static func row(_ shape: CPUShape, _ screen: CPUScreen, _ theme: Theme) -> [TableCell] {
        let latency = screen.latency[shape.scope]
        func duration(_ d: Duration?) -> String { d.map { Format.duration($0.secondsDouble) } ?? "–" }
        let provision = "\(cores(shape.provisionPeak)) / \(cores(shape.provisionMean))"
        return [
            TableCell(shape.scope.terminalSafe, style: shape.scope == CPUSample.processScope ? theme[.muted] : nil),
            TableCell(shape.verdict.rawValue, style: verdictStyle(shape.verdict, theme)),
            TableCell(cores(shape.mean)),
            TableCell(cores(shape.p95)),
            TableCell(cores(shape.max)),
            TableCell(shape.mean > 0 ? ratio(shape.peakToMean) + "×" : "–"),
            TableCell(shape.mean > 0 ? ratio(shape.cv) : "–"),
            TableCell(percent(shape.idleShare)),
            TableCell(provision),
            TableCell(duration(latency?.p50)),
            TableCell(duration(latency?.p95)),
            TableCell(shape.scope == CPUSample.processScope ? "–" : Format.count(shape.runs)),
            TableCell("\(shape.capacity)"),
        ]
    }

    static func draw(_ screen: CPUScreen, _ shared: Shared, into grid: inout Grid, _ body: Rect) {
        let theme = shared.theme
        let inner = Rect(x: body.x + 1, y: body.y, width: body.width - 2, height: body.height)
        let shown = screen.visibleShapes
        if shown.isEmpty {
            let text = screen.coveredSince == nil ? "reading CPU samples from the store…"
                : screen.shapes.isEmpty ? "no CPU samples in the last \(windowName(screen.window)): a running runtime stores one per queue and second"
                : "no queue matches the filter /\(screen.filter.source.terminalSafe)"
            WrappedText.render(text, into: &grid, Rect(x: inner.x + 1, y: inner.y + 1, width: inner.width - 2, height: 3), style: theme[.muted])
            return
        }
        let axis = screen.timeline(shared)
        let intro = "CPU over the last \(windowName(screen.window)) (+/-) · cores used per second, graphs to each scope's capacity"
            + (axis.span > .seconds(1) ? " · a dot column is the busiest of \(Int(axis.span.secondsDouble))s" : "")
        grid.put(intro, x: inner.x, y: inner.y, style: theme[.muted], maxX: inner.maxX)

        // The table of shapes.
        let tableHeight = min(shown.count + 1, max(3, body.height * 2 / 5))
        var columns = Self.columns
        columns[0].minWidth = min(24, max(8, shown.map { DisplayWidth.of($0.scope.terminalSafe) }.max() ?? 8))
        let selectedIndex = shown.firstIndex { $0.scope == screen.selectedShape?.scope }
        var table = Table(columns: columns, rows: shown.map { row($0, screen, theme) }, selected: selectedIndex)
        if inner.width < 120 { table.gap = 1 }
        let tableRect = Rect(x: inner.x, y: inner.y + 1, width: inner.width, height: tableHeight)
        table.render(into: &grid, tableRect, header: theme[.tableHeader], row: theme[.tableRow], selected: theme[.tableSelected])

        // Timelines (left) and the panel (right).
        let top = tableRect.maxY + 1
        guard top + 3 <= body.maxY, let selected = screen.selectedShape else { return }
        let cells = graphWidth(shared.size.width)
        let graphX = inner.x
        let panelX = graphX + cells + 1
        let panel = Rect(x: panelX, y: top, width: max(0, inner.maxX - panelX), height: body.maxY - top)
        grid.put(String(repeating: "─", count: max(0, inner.width)), x: inner.x, y: top - 1, style: theme[.border])
        drawTimelines(screen, shown, selected, axis, shared, into: &grid, Rect(x: graphX, y: top, width: cells, height: body.maxY - top))
        drawPanel(screen, selected, shared, into: &grid, panel)
    }

    static func drawTimelines(_ screen: CPUScreen, _ shown: [CPUShape], _ selected: CPUShape, _ axis: CPUTimeline, _ shared: Shared,
                              into grid: inout Grid, _ area: Rect) {
        let theme = shared.theme
        let available = area.height - 1  // the axis row
        guard available >= 2 else { return }
        // Every scope on the same axis when each gets a label and two rows of dots; else the selected one.
        let stacked = available >= shown.count * 3
        let scopes = stacked ? shown : [selected]
        let perScope = stacked ? min(5, available / shown.count) : available
        let cursorColumn = screen.cursor.map { axis.column(of: $0) }
        let repeats = axis.dotsPerColumn
        let pad = area.width * 2 - axis.columns * repeats
        func cell(ofColumn column: Int) -> Int { (column * repeats + pad) / 2 }
        var y = area.y
        for shape in scopes {
            let isSelected = shape.scope == selected.scope
            let held = screen.samples[shape.scope] ?? []
            let values = axis.values(held)
            let capacity = Double(max(shape.capacity, 1))
            var label = (isSelected ? "▸ " : "  ") + shape.scope.terminalSafe + " " + shape.verdict.rawValue
                + " · now " + (held.last.map { cores($0.cores) } ?? "–") + "/\(shape.capacity)"
            var peakColumn: Int?
            if let peak = screen.peaks[shape.scope] {
                label += " · ▼\(cores(peak.cores)) \(Format.clock(peak.at, offset: shared.utcOffset).prefix(8))"
                if peak.at > axis.start && peak.at <= axis.end { peakColumn = axis.column(of: peak.at) }
            }
            grid.put(label, x: area.x, y: y, style: isSelected ? theme[.title] : theme[.muted], maxX: area.maxX)
            let rows = perScope - 1
            var dots: [Double] = []
            dots.reserveCapacity(values.count * repeats)
            for value in values { for _ in 0..<repeats { dots.append(value ?? 0) } }
            let lines = BrailleGraph.rows(dots, width: area.width, height: rows, maximum: capacity)
            let peakCell = peakColumn.map(cell(ofColumn:))
            let cursorCell = cursorColumn.map(cell(ofColumn:))
            for (index, line) in lines.enumerated() {
                let level = Double(rows - index) / Double(max(1, rows))
                let row = y + 1 + index
                grid.put(line, x: area.x, y: row, style: OverviewView.gradient(theme, level), maxX: area.maxX)
                // The peak's and the cursor's cells, restyled.
                for (cell, style) in [(peakCell, theme[.warning]), (cursorCell, theme[.tableSelected])] {
                    guard let cell, cell >= 0, cell < area.width else { continue }
                    let scalars = line.unicodeScalars
                    let character = Character(scalars[scalars.index(scalars.startIndex, offsetBy: cell)])
                    grid.fill(Rect(x: area.x + cell, y: row, width: 1, height: 1), style: style, character: character)
                }
            }
            y += perScope
        }
        // The axis: from the window's start to now, the cursor marked.
        let axisY = area.maxY - 1
        let usedX = area.x + cell(ofColumn: 0)
        grid.put(String(repeating: "─", count: max(0, area.maxX - usedX)), x: usedX, y: axisY, style: theme[.border])
        let startLabel = "-" + windowName(.microseconds(axis.span.micros * Int64(axis.columns)))
        grid.put(startLabel, x: usedX, y: axisY, style: theme[.muted])
        let cursorX = cursorColumn.map { area.x + cell(ofColumn: $0) }
        var nowFree = cursorX.map { $0 < area.maxX - 4 } ?? true
        if let cursorX, let second = screen.cursorInterval(shared) {
            let text = String(Format.clock(second.from, offset: shared.utcOffset).prefix(8))
            // The time beside the marker: after it if it fits before "now", else before it.
            let after = cursorX + 2, before = cursorX - 1 - text.count
            let x = after + text.count < area.maxX - 4 ? after : max(usedX + startLabel.count + 1, before)
            if x + text.count >= area.maxX - 4 { nowFree = false }
            grid.put(text, x: x, y: axisY, style: theme[.accent], maxX: area.maxX)
            grid.put("▲", x: cursorX, y: axisY, style: theme[.accent])
        }
        if nowFree { grid.put("now", x: area.maxX - 3, y: axisY, style: theme[.muted]) }
    }

    static func drawPanel(_ screen: CPUScreen, _ selected: CPUShape, _ shared: Shared, into grid: inout Grid, _ panel: Rect) {
        guard panel.width >= 10, panel.height >= 2 else { return }
        let theme = shared.theme
        var y = panel.y
        let histogramRows = 12
        let withCursor = screen.cursor != nil
        let showHistogram = !withCursor || panel.height >= histogramRows + 8
        if showHistogram {
            grid.put("\(selected.scope.terminalSafe): intervals by utilisation", x: panel.x, y: y, style: theme[.title], maxX: panel.maxX)
            y += 1
            let buckets = selected.histogram
            let items: [(label: String, value: Double, text: String, style: Style)] = (0..<10).reversed().map { b in
                let label = b == 9 ? "90-100%" : "\(b * 10)-\(b * 10 + 10)%"
                let style = OverviewView.gradient(theme, Double(b) / 9)
                return (label, Double(buckets[b]), Format.count(buckets[b]), style)
            }
            let rows = min(10, panel.maxY - y)
            Bars.render(Array(items.prefix(rows)), into: &grid, Rect(x: panel.x, y: y, width: panel.width, height: rows), labelStyle: theme[.base])
            y += rows
            if y < panel.maxY {
                let factor = selected.mean > 0 ? " = " + ratio(selected.peakToMean) + "×" : ""
                grid.put("peak \(cores(selected.provisionPeak)) vs mean \(cores(selected.provisionMean)) cores\(factor)", x: panel.x, y: y, style: theme[.base], maxX: panel.maxX)
                y += 1
            }
        }
        guard withCursor, y + 2 <= panel.maxY else {
            if !withCursor && y + 1 < panel.maxY {
                grid.put("h/l: a second's queues and runs", x: panel.x, y: y + 1, style: theme[.muted], maxX: panel.maxX)
            }
            return
        }
        if showHistogram { y += 1 }
        guard let second = screen.cursorInterval(shared) else { return }
        let from = String(Format.clock(second.from, offset: shared.utcOffset).prefix(8))
        grid.put("the second from \(from)", x: panel.x, y: y, style: theme[.title], maxX: panel.maxX)
        y += 1
        // Which queues ran in it (the process last), busiest first.
        let scopes = screen.cursorScopes(shared).filter { $0.cpu > .zero }
            .sorted { ($0.scope == CPUSample.processScope ? 1 : 0, -$0.cores) < ($1.scope == CPUSample.processScope ? 1 : 0, -$1.cores) }
        if scopes.isEmpty {
            grid.put("no CPU used", x: panel.x, y: y, style: theme[.muted], maxX: panel.maxX)
            y += 1
        }
        for sample in scopes.prefix(max(0, (panel.maxY - y) / 2)) {
            let runs = sample.scope == CPUSample.processScope ? "" : " · \(Format.count(sample.runs)) runs"
            let line = DisplayWidth.pad(sample.scope.terminalSafe, to: 12) + " " + cores(sample.cores) + runs
            grid.put(line, x: panel.x, y: y, style: sample.scope == selected.scope ? theme[.accent] : theme[.base], maxX: panel.maxX)
            y += 1
        }
        guard y < panel.maxY else { return }
        let runs = screen.cursorRuns
        let loaded = screen.cursorSecond.map { $0.from == second.from && $0.to == second.to } ?? false
        let scopeName = selected.scope == CPUSample.processScope ? "every queue" : selected.scope.terminalSafe
        grid.put(loaded ? "\(scopeName) runs ended: \(Format.count(runs.count))\(runs.count >= CPUScreen.cursorRunLimit ? "+" : "")"
                 : "reading its runs…", x: panel.x, y: y, style: theme[.muted], maxX: panel.maxX)
        y += 1
        guard loaded, !runs.isEmpty else { return }
        let visible = max(1, panel.maxY - y)
        let first = Table.scrolled(top: 0, selected: screen.cursorRun, visible: visible, count: runs.count)
        for (offset, run) in runs[first..<min(runs.count, first + visible)].enumerated() {
            let isSelected = first + offset == screen.cursorRun
            let mark = run.kind == .succeeded ? "✓" : "✕"
            let time = run.duration.map { Format.duration($0.secondsDouble) } ?? "–"
            let queue = selected.scope == CPUSample.processScope ? (run.queue ?? "").terminalSafe + " " : ""
            let text = (isSelected ? "›" : " ") + DisplayWidth.pad(time, to: 6, right: true) + " " + mark + " " + queue
                + run.eventID.terminalSafe + " " + (run.eventType ?? "").terminalSafe
            grid.put(DisplayWidth.pad(DisplayWidth.truncate(text, to: panel.width), to: panel.width), x: panel.x, y: y + offset,
                     style: isSelected ? theme[.tableSelected] : run.kind == .succeeded ? theme[.base] : theme.kind(.failed), maxX: panel.maxX)
        }
    }
}
