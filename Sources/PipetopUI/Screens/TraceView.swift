import PipetopCore

/// How the Trace screen draws: the summary, the tree on the left and a waterfall on a shared time
/// axis on the right (idle gaps compressed and labelled), the selected row in full at the bottom,
/// or one hop's detail. Every text from the store is escaped.
enum TraceView {
    /// Maps times to columns: linear, except idle gaps longer than a quarter of the flow (and a
    /// second), each drawn `gapWidth` wide and labelled with its length.
    struct Axis {
        struct Segment {
            var from: Int64, to: Int64, x: Int, width: Int, compressed: Bool
        }
        static let gapWidth = 7
        var segments: [Segment] = []
        var width: Int

        /// `sorted`: distinct times, ascending.
        init(sorted: [Int64], width: Int) {
            self.width = max(1, width)
            guard let first = sorted.first, let last = sorted.last, last > first else {
                let at = sorted.first ?? 0
                segments = [Segment(from: at, to: at + 1, x: 0, width: self.width, compressed: false)]
                return
            }
            let span = last - first
            let threshold = max(span / 4, 1_000_000)
            var gaps: [(Int64, Int64)] = []
            for (a, b) in zip(sorted, sorted.dropFirst()) where b - a > threshold { gaps.append((a, b)) }
            if self.width - gaps.count * Self.gapWidth < 10 { gaps = [] }
            let linear = span - gaps.reduce(0) { $0 + ($1.1 - $1.0) }
            let columns = self.width - gaps.count * Self.gapWidth
            var x = 0
            var at = first
            func addLinear(to end: Int64, last: Bool) {
                let w = last ? max(1, self.width - x) : max(1, Int((Double(end - at) / Double(max(linear, 1)) * Double(columns)).rounded()))
                segments.append(Segment(from: at, to: end, x: x, width: w, compressed: false))
                x += w
            }
            for gap in gaps {
                addLinear(to: gap.0, last: false)
                segments.append(Segment(from: gap.0, to: gap.1, x: x, width: Self.gapWidth, compressed: true))
                x += Self.gapWidth
                at = gap.1
            }
            addLinear(to: last, last: true)
        }

        /// The column of time `t` (clamped to the axis).
        func column(_ t: Int64) -> Int {
            guard let first = segments.first, let last = segments.last else { return 0 }
            if t <= first.from { return 0 }
            if t >= last.to { return width - 1 }
            for s in segments where t >= s.from && t <= s.to {
                let fraction = Double(t - s.from) / Double(max(s.to - s.from, 1))
                return min(width - 1, s.x + min(s.width - 1, Int(fraction * Double(s.width))))
            }
            return width - 1
        }
    }

    static func draw(_ screen: TraceScreen, _ shared: Shared, into grid: inout Grid, _ body: Rect) {
        let theme = shared.theme
        let inner = Rect(x: body.x + 1, y: body.y, width: body.width - 2, height: body.height)
        guard let id = screen.correlationID else {
            let lines = [
                "No flow chosen. Press / and type a correlation id, or :trace ID,",
                "or t on a record in Events, a dead letter or a message: the flow is read from the store.",
            ]
            for (n, line) in lines.enumerated() { grid.put(line, x: inner.x + 1, y: inner.y + 1 + n, style: theme[.muted], maxX: inner.maxX) }
            return
        }
        guard let trace = screen.trace, trace.correlationID == id else {
            grid.put("reading the flow \(id.terminalSafe) from the store…", x: inner.x + 1, y: inner.y + 1, style: theme[.muted], maxX: inner.maxX)
            return
        }
        if trace.nodes.isEmpty {
            grid.put("no events with correlation id \(id.terminalSafe) in the store", x: inner.x + 1, y: inner.y + 1, style: theme[.muted], maxX: inner.maxX)
            return
        }
        let header = "trace \(id.terminalSafe) · \(screen.summary.terminalSafe)"
        let headerLines = WrappedText.lines(header, width: inner.width).prefix(2)
        for (n, line) in headerLines.enumerated() { grid.put(line, x: inner.x, y: inner.y + n, style: theme[.title], maxX: inner.maxX) }
        let top = inner.y + headerLines.count
        let area = Rect(x: inner.x, y: top, width: inner.width, height: inner.maxY - top)
        if screen.detail {
            drawDetail(screen, trace, shared, into: &grid, area)
        } else {
            drawWaterfall(screen, trace, shared, into: &grid, area)
        }
    }

    static func drawWaterfall(_ screen: TraceScreen, _ trace: Trace, _ shared: Shared, into grid: inout Grid, _ area: Rect) {
        let theme = shared.theme
        let labelWidth = min(56, max(28, area.width * 2 / 5))
        let barX = area.x + labelWidth + 1
        let barWidth = max(1, area.maxX - barX)
        let axis = Axis(sorted: screen.axisPoints, width: barWidth)
        // The axis: its start, the gaps it compressed, its end.
        grid.put(DisplayWidth.pad("event / queue", to: labelWidth), x: area.x, y: area.y, style: theme[.tableHeader])
        var axisLine = [Character](repeating: "─", count: barWidth)
        let endLabel = Array("+" + Trace.durationText(trace.end - trace.start))
        let labelled = axis.segments.filter(\.compressed).map { $0.x + $0.width }.max() ?? 0
        if barWidth - endLabel.count > labelled {
            for (i, c) in endLabel.enumerated() { axisLine[barWidth - endLabel.count + i] = c }
        }
        // Compressed gaps are labelled with their length (over the end label if they meet).
        for s in axis.segments where s.compressed {
            let label = Array("≈" + Trace.durationText(.microseconds(s.to - s.from)))
            for (i, c) in label.prefix(s.width).enumerated() { axisLine[s.x + i] = c }
        }
        grid.put(String(axisLine), x: barX, y: area.y, style: theme[.muted], maxX: area.maxX)

        let rows = screen.rows
        let visible = max(1, area.height - 3)
        let first = Table.scrolled(top: 0, selected: screen.selected, visible: visible, count: rows.count)
        for (offset, row) in rows[first..<min(rows.count, first + visible)].enumerated() {
            let y = area.y + 1 + offset
            let isSelected = first + offset == screen.selected
            let node = trace.nodes[row.node]
            let base = isSelected ? theme[.tableSelected] : theme[.tableRow]
            grid.put(String(repeating: " ", count: area.width), x: area.x, y: y, style: base)
            let label: String
            var style = base
            switch row {
            case .event:
                let marker = node.children.isEmpty ? "•" : screen.folded.contains(node.event.id) ? "▸" : "▾"
                var text = String(repeating: "  ", count: node.depth) + marker + " " + node.event.type.terminalSafe + " " + Format.short(node.event.id).terminalSafe
                if node.orphan { text += " (orphan: cause not in the flow)" }
                if node.cycle { text += " (its causes loop: cut here)" }
                if node.rejected { text += " (rejected: no rule matched)" }
                label = text
                if node.critical && !isSelected { style = theme[.title] }
            case .hop(_, let h):
                let hop = node.hops[h]
                let tries = hop.attempts.count > 1 ? " ×\(hop.attempts.count)" : ""
                label = String(repeating: "  ", count: node.depth + 1) + "→ " + hop.queue.terminalSafe + " " + hop.state.rawValue + tries
                if !isSelected { style = stateStyle(hop.state, theme) }
            }
            grid.put(DisplayWidth.truncate(label, to: labelWidth), x: area.x, y: y, style: style)
            if node.critical, case .event = row {
                grid.put("●", x: area.x + labelWidth, y: y, style: isSelected ? base : theme[.accent])
            }
            switch row {
            case .event:
                if let published = node.publishedAt {
                    grid.put("◆", x: barX + axis.column(published.micros), y: y, style: isSelected ? base : theme[.accent])
                }
            case .hop(_, let h):
                drawHop(node.hops[h], trace, axis, barX, y, theme, selected: isSelected, into: &grid)
            }
        }
        // The selected row in full, and the legend.
        if rows.indices.contains(screen.selected) {
            grid.put(DisplayWidth.truncate(describe(rows[screen.selected], trace), to: area.width), x: area.x, y: area.maxY - 2, style: theme[.base])
        }
        let legend = "◆ published  ▒ held for the batch  ░ waiting  █ run  ✕ failed  · backoff  ↺ replayed  ✎ edited  ☠ dead  ● critical path"
        grid.put(DisplayWidth.truncate(legend, to: area.width), x: area.x, y: area.maxY - 1, style: theme[.muted])
    }

    static func stateStyle(_ state: Trace.Hop.State, _ theme: Theme) -> Style {
        switch state {
        case .succeeded: theme[.ok]
        case .dead, .deleted: theme[.error]
        case .retrying, .held: theme[.warning]
        case .running, .waiting: theme[.base]
        }
    }

    static func drawHop(_ hop: Trace.Hop, _ trace: Trace, _ axis: Axis, _ barX: Int, _ y: Int, _ theme: Theme, selected: Bool, into grid: inout Grid) {
        func paint(_ from: Timestamp, _ to: Timestamp, _ glyph: Character, _ style: Style) {
            let a = axis.column(from.micros), b = max(a, axis.column(to.micros))
            grid.put(String(repeating: glyph, count: b - a + 1), x: barX + a, y: y, style: style)
        }
        // Waits first, then the runs and markers over them (a run of a few ms is one cell).
        var since = hop.enqueuedAt
        var afterFailure = false
        if let released = hop.releasedAt {
            paint(hop.enqueuedAt, released, "▒", theme[.warning])
            since = released
        }
        for attempt in hop.attempts {
            if attempt.claimedAt > since { paint(since, attempt.claimedAt, afterFailure ? "·" : "░", theme[.muted]) }
            let end = attempt.finishedAt ?? trace.end
            afterFailure = attempt.outcome != .succeeded && attempt.outcome != .running
            since = end
            // A replay after this attempt starts a new wait from the replay.
            if let replay = hop.replays.first(where: { $0 >= end }) {
                since = replay
                afterFailure = false
            }
        }
        if hop.attempts.isEmpty && hop.state == .held {
            paint(hop.enqueuedAt, trace.end, "▒", theme[.warning])
        } else if hop.state == .waiting || hop.state == .retrying, since < trace.end {
            paint(since, trace.end, hop.state == .retrying ? "·" : "░", theme[.muted])
        }
        for attempt in hop.attempts {
            let end = attempt.finishedAt ?? trace.end
            switch attempt.outcome {
            case .succeeded, .running: paint(attempt.claimedAt, end, "█", theme[.ok])
            case .failed, .leaseExpired:
                paint(attempt.claimedAt, end, "█", theme[.error])
                let a = axis.column(attempt.claimedAt.micros), b = axis.column(end.micros)
                grid.put("✕", x: barX + (b > a ? b : min(axis.width - 1, b + 1)), y: y, style: theme[.error])
            }
        }
        for replay in hop.replays { grid.put("↺", x: barX + axis.column(replay.micros), y: y, style: theme[.accent]) }
        for edit in hop.edits { grid.put("✎", x: barX + axis.column(edit.micros), y: y, style: theme[.accent]) }
        if hop.state == .dead, let ended = hop.endedAt { grid.put("☠", x: barX + axis.column(ended.micros), y: y, style: theme[.error]) }
    }

    /// The selected row in words.
    static func describe(_ row: TraceScreen.Row, _ trace: Trace) -> String {
        let node = trace.nodes[row.node]
        switch row {
        case .event:
            let published = node.publishedAt.map { "published +" + Trace.durationText($0 - trace.start) } ?? "not published in this store"
            return "\(node.event.type) \(node.event.id) · \(published) · \(node.hops.count) hop\(node.hops.count == 1 ? "" : "s") · \(node.children.count) caused".terminalSafe
        case .hop(_, let h):
            let hop = node.hops[h]
            var parts = ["\(hop.queue) · \(hop.state.rawValue) · wait \(Trace.durationText(hop.wait)) · run \(Trace.durationText(hop.run))"]
            if let released = hop.releasedAt { parts.append("held \(Trace.durationText(released - hop.enqueuedAt)) for the batch") }
            parts.append("\(hop.attempts.count) attempt\(hop.attempts.count == 1 ? "" : "s")")
            if !hop.replays.isEmpty { parts.append("replayed \(hop.replays.count)×") }
            if let error = hop.error { parts.append("last error: " + error.split(whereSeparator: \.isNewline).joined(separator: " ")) }
            return parts.joined(separator: " · ").terminalSafe
        }
    }

    static func drawDetail(_ screen: TraceScreen, _ trace: Trace, _ shared: Shared, into grid: inout Grid, _ area: Rect) {
        let theme = shared.theme
        let rows = screen.rows
        guard rows.indices.contains(screen.selected) else { return }
        let row = rows[screen.selected]
        let node = trace.nodes[row.node]
        let e = node.event
        func attr(_ name: String, _ value: String?) -> (String, Style) { (DisplayWidth.pad(name, to: 12) + (value ?? "–").terminalSafe, theme[.base]) }
        var lines: [(String, Style)] = [
            ("envelope", theme[.tableHeader]),
            attr("id", e.id), attr("source", e.source), attr("type", e.type), attr("time", e.time?.rfc3339), attr("subject", e.subject),
            attr("correlation", e.correlationID), attr("causation", e.causationID), attr("traceparent", e.traceparent),
            ("", theme[.base]),
            ("payload (\((e.datacontenttype ?? "no content type").terminalSafe))", theme[.tableHeader]),
        ]
        lines += PayloadText.lines(e.data).map { ("  " + $0, theme[.base]) }
        let hops: [Trace.Hop]
        if case .hop(_, let h) = row { hops = [node.hops[h]] } else { hops = node.hops }
        for hop in hops {
            lines.append(("", theme[.base]))
            lines.append(("\(hop.queue.terminalSafe) · message \(hop.messageID) · \(hop.state.rawValue)", theme[.tableHeader]))
            lines.append(("  enqueued   \(hop.enqueuedAt.rfc3339)" + (hop.releasedAt.map { " · released by the batch window \($0.rfc3339)" } ?? ""), theme[.base]))
            for attempt in hop.attempts {
                let took = attempt.finishedAt.map { " → +" + Trace.durationText($0 - attempt.claimedAt) } ?? " (running)"
                var line = "  attempt \(attempt.number)  \(attempt.claimedAt.rfc3339)\(took)"
                var style = theme[.ok]
                switch attempt.outcome {
                case .failed(let error), .leaseExpired(let error):
                    line += "  " + error.terminalSafe
                    style = theme[.error]
                case .running: style = theme[.base]
                case .succeeded: line += "  succeeded"
                }
                lines.append((line, style))
            }
            for replay in hop.replays { lines.append(("  replayed   \(replay.rfc3339)", theme[.accent])) }
        }
        let top = max(0, min(screen.detailScroll, lines.count - area.height))
        for (n, line) in lines.dropFirst(top).prefix(area.height).enumerated() {
            grid.put(line.0, x: area.x + 1, y: area.y + n, style: line.1, maxX: area.maxX)
        }
    }
}
