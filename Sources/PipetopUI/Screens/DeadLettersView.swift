import PipetopCore

/// How the Dead letters screen draws: a header line with the true count, then the groups, the
/// list or one dead letter's detail, and the confirmation over them. Every text from the store
/// (ids, types, queues, errors, payloads, fingerprints) is escaped.
enum DeadLettersView {
    static let groupColumns: [Column] = [
        Column("COUNT", min: 5, priority: 0, align: .right),
        Column("QUEUE", min: 6, max: 14, priority: 0),
        Column("TYPE", min: 10, max: 24, priority: 1),
        Column("FIRST", min: 14, max: 14, priority: 3),
        Column("LAST", min: 14, max: 14, priority: 2),
        Column("LAST HOUR", min: 12, max: 12, priority: 3),
        Column("AGAIN", min: 5, priority: 2, align: .right),
        Column("CAUSE", min: 16, priority: 0, flexible: true),
    ]

    static let letterColumns: [Column] = [
        Column(" ", min: 1, max: 1, priority: 0),
        Column("DEAD AT", min: 14, max: 14, priority: 0),
        Column("QUEUE", min: 6, max: 12, priority: 1),
        Column("TYPE", min: 10, max: 22, priority: 3),
        Column("CORR", min: 8, max: 16, priority: 4),
        Column("ATT", min: 3, priority: 2, align: .right),
        Column("REASON", min: 8, max: 13, priority: 5),
        Column("REPL", min: 4, priority: 6, align: .right),
        Column("LAST ERROR", min: 16, priority: 0, flexible: true),
    ]

    /// Month, day and time of day: dead letters outlive a day.
    static func when(_ time: Timestamp, _ offset: Int) -> String {
        let seconds = time.micros / 1_000_000 + Int64(offset)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        // Days since 1970-01-01 to a civil month and day (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return two(month) + "-" + two(day) + " " + String(Format.clock(time, offset: offset).prefix(8))
    }

    /// `20270115-075959` in UTC: for file names.
    static func fileStamp(_ time: Timestamp) -> String {
        let date = when(time, 0)  // MM-DD HH:MM:SS
        let year = 1970 + Int(Double(time.micros) / 1_000_000 / 31_556_952)
        return "\(year)" + date.replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "").replacingOccurrences(of: " ", with: "-")
    }

    static func draw(_ screen: DeadLettersScreen, _ shared: Shared, into grid: inout Grid, _ body: Rect) {
        let theme = shared.theme
        let filter = screen.filterParsed
        let headerRect = Rect(x: body.x + 1, y: body.y, width: body.width - 2, height: 1)
        var rect = Rect(x: body.x + 1, y: body.y + 1, width: body.width - 2, height: body.height - 1)
        if screen.level == .jobs {
            ReplayJobsView.drawTable(screen, shared, into: &grid, headerRect, rect)
            return
        }
        // Jobs under way, above what the screen shows (their table is J).
        let active = ReplayJobsView.active(screen.jobs).prefix(2)
        if screen.level != .detail, !active.isEmpty, rect.height > 8 {
            for (n, job) in active.enumerated() {
                ReplayJobsView.drawStrip(job, shared, into: &grid, Rect(x: rect.x + 1, y: rect.y + n, width: rect.width - 2, height: 1))
            }
            rect = Rect(x: rect.x, y: rect.y + active.count, width: rect.width, height: rect.height - active.count)
        }
        if let error = filter.error {
            WrappedText.render(error, into: &grid, Rect(x: body.x + 2, y: body.y + 1, width: body.width - 4, height: 3), style: theme[.error])
            return
        }
        switch screen.level {
        case .groups: drawGroups(screen, shared, into: &grid, headerRect, rect)
        case .list: drawList(screen, shared, into: &grid, headerRect, rect)
        case .detail: drawDetail(screen, shared, into: &grid, headerRect, rect)
        case .jobs: break
        }
        if let confirmation = screen.confirmation { drawConfirmation(confirmation, shared, into: &grid, body) }
        if let edit = screen.edit { DeadLettersEditView.draw(edit, shared, into: &grid, body) }
    }

    static func header(_ text: String, _ shared: Shared, into grid: inout Grid, _ rect: Rect) {
        grid.put(DisplayWidth.truncate(text, to: rect.width), x: rect.x, y: rect.y, style: shared.theme[.title])
    }

    static func drawGroups(_ screen: DeadLettersScreen, _ shared: Shared, into grid: inout Grid, _ headerRect: Rect, _ rect: Rect) {
        let theme = shared.theme
        guard let groups = screen.groups else {
            grid.put("reading the store…", x: rect.x + 1, y: rect.y, style: theme[.muted])
            return
        }
        let total = groups.reduce(0) { $0 + $1.count }
        let selection = screen.groupsSelection ?? .all
        header("\(total) dead letter\(total == 1 ? "" : "s") in \(groups.count) cause\(groups.count == 1 ? "" : "s") · \(selection.description.terminalSafe)", shared, into: &grid, headerRect)
        if groups.isEmpty {
            grid.put(screen.filter.isEmpty ? "no dead letters: nothing has failed for good" : "no dead letter matches /\(screen.filter.source.terminalSafe) (esc clears the filter)",
                     x: rect.x + 1, y: rect.y + 1, style: theme[.muted])
            return
        }
        let visible = Table.visibleRows(height: rect.height)
        let top = Table.scrolled(top: 0, selected: screen.groupIndex, visible: visible, count: groups.count)
        let rows = groups[top..<min(groups.count, top + visible)].map { g -> [TableCell] in
            [
                TableCell(Format.count(g.count), style: theme[.deadLetter]),
                TableCell(g.queue.terminalSafe),
                TableCell(g.type.terminalSafe),
                TableCell(when(g.firstDeadAt, shared.utcOffset), style: theme[.muted]),
                TableCell(when(g.lastDeadAt, shared.utcOffset), style: theme[.muted]),
                TableCell(sparkline(screen, g), style: theme[.deadLetter]),
                TableCell(g.failedAgain > 0 ? Format.count(g.failedAgain) : "0", style: g.failedAgain > 0 ? theme[.warning] : theme[.muted]),
                TableCell(g.fingerprint.terminalSafe, style: theme[.error]),
            ]
        }
        var table = Table(columns: groupColumns, rows: rows, selected: screen.groupIndex - top)
        table.top = 0
        table.render(into: &grid, rect, header: theme[.tableHeader], row: theme[.tableRow], selected: theme[.tableSelected])
    }

    /// Arrivals over the last hour, five minutes a cell (blank: none).
    static func sparkline(_ screen: DeadLettersScreen, _ group: DeadLetterGroup) -> String {
        guard let end = screen.arrivalsEnd else { return "" }
        let series = DeadLetterArrivals.series(screen.arrivals, of: group, end: end, buckets: 12, width: .seconds(300))
        guard let peak = series.max(), peak > 0 else { return String(repeating: " ", count: 12) }
        return String(Sparkline.glyphs(series, width: 12, maximum: peak).map { $0.1 > 0 ? $0.0 : " " })
    }

    static func drawList(_ screen: DeadLettersScreen, _ shared: Shared, into grid: inout Grid, _ headerRect: Rect, _ rect: Rect) {
        let theme = shared.theme
        guard let total = screen.total, screen.lettersSelection == screen.listSelection else {
            grid.put("reading the store…", x: rect.x + 1, y: rect.y, style: theme[.muted])
            return
        }
        let shown = screen.letters.count
        let more = screen.next != nil ? " (\(shown) read, more as you scroll)" : ""
        header("\(total) dead letter\(total == 1 ? "" : "s")\(more) · \(screen.listSelection.description.terminalSafe)", shared, into: &grid, headerRect)
        if screen.letters.isEmpty {
            grid.put("no dead letters here", x: rect.x + 1, y: rect.y + 1, style: theme[.muted])
            return
        }
        let maxAttempts = Dictionary(shared.queues.map { ($0.name, $0.maxAttempts) }) { a, _ in a }
        let visible = Table.visibleRows(height: rect.height)
        let top = Table.scrolled(top: 0, selected: screen.letterIndex, visible: visible, count: shown)
        let rows = screen.letters[top..<min(shown, top + visible)].map { l -> [TableCell] in
            let max = maxAttempts[l.queue].map { $0 > 0 ? "/\($0)" : "" } ?? ""
            let error = (l.errors.last?.error ?? "").split(whereSeparator: \.isNewline).joined(separator: " ")
            return [
                TableCell(screen.marked.contains(l.messageID) ? "*" : " ", style: theme[.deadLetterAccent]),
                TableCell(when(l.deadAt, shared.utcOffset), style: theme[.muted]),
                TableCell(l.queue.terminalSafe),
                TableCell(l.event.type.terminalSafe),
                TableCell((l.event.correlationID ?? "").terminalSafe, style: theme[.muted]),
                TableCell("\(l.attempts)\(max)"),
                TableCell(l.reason.rawValue, style: theme[.deadLetter]),
                TableCell("\(l.replays)", style: l.replays > 0 ? theme[.warning] : theme[.muted]),
                TableCell(error.terminalSafe, style: theme[.error]),
            ]
        }
        var table = Table(columns: letterColumns, rows: rows, selected: screen.letterIndex - top)
        table.top = 0
        table.render(into: &grid, rect, header: theme[.tableHeader], row: theme[.tableRow], selected: theme[.tableSelected])
    }

    /// The detail's lines: the envelope, the payload, every attempt, the replays.
    static func detailLines(_ l: DeadLetter, _ shared: Shared, replays: (messageID: Int64, items: [MessageReplay])? = nil) -> [(String, Style)] {
        let theme = shared.theme
        let e = l.event
        func attr(_ name: String, _ value: String?) -> (String, Style) {
            (DisplayWidth.pad(name, to: 12) + (value ?? "–").terminalSafe, theme[.base])
        }
        var lines: [(String, Style)] = [
            ("\(l.reason.rawValue) after \(l.attempts) attempt\(l.attempts == 1 ? "" : "s") (\(l.deliveries) deliveries) · dead at \(l.deadAt.rfc3339)", theme[.deadLetter]),
            ("cause       " + l.fingerprint.terminalSafe, theme[.error]),
            ("replayed    \(l.replays) time\(l.replays == 1 ? "" : "s") before" + (l.replays > 0 ? " (and failed again)" : ""), l.replays > 0 ? theme[.warning] : theme[.base]),
            ("", theme[.base]),
            ("envelope", theme[.tableHeader]),
            attr("id", e.id), attr("source", e.source), attr("type", e.type), attr("specversion", e.specversion),
            attr("time", e.time?.rfc3339), attr("subject", e.subject), attr("correlation", e.correlationID),
            attr("causation", e.causationID), attr("traceparent", e.traceparent),
            attr("enqueued", l.enqueuedAt.rfc3339), attr("first fail", l.firstFailedAt?.rfc3339),
            ("", theme[.base]),
            ("payload (\((e.datacontenttype ?? "no content type").terminalSafe))", theme[.tableHeader]),
        ]
        lines += PayloadText.lines(e.data).map { ("  " + $0, theme[.base]) }
        lines.append(("", theme[.base]))
        lines.append(("attempts", theme[.tableHeader]))
        for error in l.errors {
            lines.append(("  \(error.attempt)  \(error.at.rfc3339)  " + error.error.terminalSafe, theme[.error]))
        }
        if l.errors.isEmpty { lines.append(("  (no error recorded)", theme[.muted])) }
        lines.append(("", theme[.base]))
        lines.append(("replays", theme[.tableHeader]))
        if let replays, replays.messageID == l.messageID {
            if replays.items.isEmpty { lines.append(("  none: it never was replayed", theme[.muted])) }
            for replay in replays.items {
                let style = replay.result == .delivered ? theme[.ok] : theme[.warning]
                lines.append(("  \(replay.at.rfc3339)  \(replay.by.terminalSafe)  → \(replay.result.description.terminalSafe)", style))
            }
        } else {
            lines.append(("  reading the log…", theme[.muted]))
        }
        return lines
    }

    static func drawDetail(_ screen: DeadLettersScreen, _ shared: Shared, into grid: inout Grid, _ headerRect: Rect, _ rect: Rect) {
        guard let letter = screen.selectedLetter else { return }
        header("dead letter \(letter.messageID) of \(letter.queue.terminalSafe) · \(screen.letterIndex + 1) of \(screen.total ?? screen.letters.count)", shared, into: &grid, headerRect)
        let lines = detailLines(letter, shared, replays: screen.replays)
        let height = rect.height - 1
        let top = max(0, min(screen.detailScroll, lines.count - height))
        for (n, line) in lines.dropFirst(top).prefix(height).enumerated() {
            grid.put(line.0, x: rect.x + 1, y: rect.y + 1 + n, style: line.1, maxX: rect.maxX)
        }
    }

    static func drawConfirmation(_ c: DeadLettersScreen.Confirmation, _ shared: Shared, into grid: inout Grid, _ body: Rect) {
        let theme = shared.theme
        let p = c.preview
        let noun = "\(p.count) dead letter\(p.count == 1 ? "" : "s")"
        var lines: [(String, Style)] = [
            ("\(p.action == .replay ? "replay" : "delete") \(noun): \(p.selection.description.terminalSafe)", theme[.base]),
        ]
        if p.action == .replay {
            let queues = p.queues.map(\.terminalSafe).joined(separator: ", ")
            lines.append(("to their own queue\(p.queues.count == 1 ? "" : "s"): \(queues)", theme[.base]))
            lines.append(("\(p.replayedBefore) of them were replayed before", p.replayedBefore > 0 ? theme[.warning] : theme[.base]))
            lines.append(("a new delivery with a fresh attempt budget; event id, correlation and causation kept", theme[.muted]))
        } else {
            lines.append(("from queue\(p.queues.count == 1 ? "" : "s"): \(p.queues.map(\.terminalSafe).joined(separator: ", "))", theme[.base]))
            lines.append(("\(p.replayedBefore) of them were replayed before", p.replayedBefore > 0 ? theme[.warning] : theme[.base]))
            lines.append(("deleted for good (recorded in the log; the events stay)", theme[.warning]))
        }
        if c.asJob {
            let rate = c.rate.isEmpty ? "?" : c.rate == "0" ? "0 (unthrottled)" : "\(c.rate)/s"
            lines.append(("as a replay job at \(rate)\(c.editingRate ? " ◀ typing the rate (enter: done)" : " · tab changes the rate (0: unthrottled)")", theme[.base]))
            lines.append(("the set is fixed now; it stops by itself when \(ReplayJob.AutoStop.description)", theme[.muted]))
        }
        lines.append(("", theme[.base]))
        lines.append((c.asksCount ? "type \(p.count) then enter to go on · esc cancels" : "y \(p.action == .replay ? "replays" : "deletes") · n or esc cancels", theme[.hintKey]))
        let width = min(body.width - 4, max(50, (lines.map { DisplayWidth.of($0.0) }.max() ?? 0) + 4))
        // Wrapped, not cut: the count, the queues and what a replay keeps must all be read.
        lines = lines.flatMap { line in line.0.isEmpty ? [line] : WrappedText.lines(line.0, width: width - 4).map { ($0, line.1) } }
        let height = lines.count + (c.asksCount ? 5 : 4)
        let rect = Rect(x: body.x + (body.width - width) / 2, y: body.y + max(0, (body.height - height) / 2), width: width, height: height)
        grid.box(rect, border: theme[.border], fill: theme[.base], title: "confirm \(p.action.rawValue)", titleStyle: theme[.title])
        for (n, line) in lines.enumerated() {
            grid.put(DisplayWidth.truncate(line.0, to: width - 4), x: rect.x + 2, y: rect.y + 2 + n, style: line.1)
        }
        if c.asksCount {
            let y = rect.y + 2 + lines.count
            let x = grid.put("> " + c.typed, x: rect.x + 2, y: y, style: theme[.prompt])
            grid.put(" ", x: x, y: y, style: theme[.prompt].with(.reverse))
        }
    }
}
