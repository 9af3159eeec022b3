import PipetopCore

/// How the Dead letters screen draws replay jobs: a progress line per job still under way above
/// the groups and the list, and the jobs table (`J`).
enum ReplayJobsView {
    static let columns: [Column] = [
        Column("JOB", min: 3, priority: 0, align: .right),
        Column("STATE", min: 9, max: 9, priority: 0),
        Column("PROGRESS", min: 12, max: 12, priority: 0),
        Column("MOVED", min: 11, priority: 0, align: .right),
        Column("RATE", min: 11, max: 11, priority: 1),
        Column("ETA", min: 6, priority: 2, align: .right),
        Column("AGAIN", min: 5, priority: 1, align: .right),
        Column("BY", min: 8, max: 20, priority: 4),
        Column("SELECTION / WHY", min: 16, priority: 3, flexible: true),
    ]

    /// Jobs that can still change (running, paused, stopped by itself), newest first.
    static func active(_ jobs: [ReplayJob]?) -> [ReplayJob] { (jobs ?? []).filter { !$0.state.isFinal } }

    static func bar(_ job: ReplayJob, width: Int) -> String {
        let filled = Bars.bar(Double(job.cursor), maximum: Double(max(job.total, 1)), width: width)
        return filled + String(repeating: "░", count: max(0, width - DisplayWidth.of(filled)))
    }

    static func stateStyle(_ job: ReplayJob, _ theme: Theme) -> Style {
        switch job.state {
        case .running: theme[.ok]
        case .paused: theme[.warning]
        case .stopped, .cancelled: theme[.error]
        case .done: theme[.muted]
        }
    }

    /// `job 3 ██████░░░░ running · 420 of 1200 moved · 100/s · ETA 8s · …`
    static func drawStrip(_ job: ReplayJob, _ shared: Shared, into grid: inout Grid, _ rect: Rect) {
        let theme = shared.theme
        var x = grid.put("job \(job.id) ", x: rect.x, y: rect.y, style: theme[.title], maxX: rect.maxX)
        x = grid.put(bar(job, width: 16), x: x, y: rect.y, style: stateStyle(job, theme), maxX: rect.maxX)
        grid.put(" " + job.summary(now: shared.now).terminalSafe, x: x, y: rect.y, style: theme[.base], maxX: rect.maxX)
    }

    static func drawTable(_ screen: DeadLettersScreen, _ shared: Shared, into grid: inout Grid, _ headerRect: Rect, _ rect: Rect) {
        let theme = shared.theme
        guard let jobs = screen.jobs else {
            grid.put("reading the store…", x: rect.x + 1, y: rect.y, style: theme[.muted])
            return
        }
        let running = jobs.filter { $0.state == .running }.count
        DeadLettersView.header(
            "replay jobs · \(running) running · stops by itself when \(ReplayJob.AutoStop.description)", shared, into: &grid, headerRect)
        if jobs.isEmpty {
            grid.put("no replay jobs yet: R replays every dead letter of a group or filter as one", x: rect.x + 1, y: rect.y + 1, style: theme[.muted])
            return
        }
        let visible = Table.visibleRows(height: rect.height - 2)
        let top = Table.scrolled(top: 0, selected: screen.jobIndex, visible: visible, count: jobs.count)
        let rows = jobs[top..<min(jobs.count, top + visible)].map { job -> [TableCell] in
            let why = job.stopReason.map { "\($0) · " } ?? ""
            return [
                TableCell("\(job.id)"),
                TableCell(job.state.rawValue, style: stateStyle(job, theme)),
                TableCell(bar(job, width: 12), style: stateStyle(job, theme)),
                TableCell("\(Format.count(job.moved))/\(Format.count(job.total))"),
                TableCell(ReplayJob.rateText(job.rate)),
                TableCell(job.eta.map(ReplayJob.durationText) ?? "–", style: theme[.muted]),
                TableCell(Format.count(job.failedAgain), style: job.failedAgain > 0 ? theme[.warning] : theme[.muted]),
                TableCell(job.createdBy.description.terminalSafe, style: theme[.muted]),
                TableCell((why + job.selection).terminalSafe, style: job.stopReason == nil ? theme[.base] : theme[.error]),
            ]
        }
        var table = Table(columns: columns, rows: rows, selected: screen.jobIndex - top)
        table.top = 0
        let tableRect = Rect(x: rect.x, y: rect.y, width: rect.width, height: rect.height - 2)
        table.render(into: &grid, tableRect, header: theme[.tableHeader], row: theme[.tableRow], selected: theme[.tableSelected])
        // The selected job in full (who runs it, what is waiting, why it stopped), and what can be done to it.
        if jobs.indices.contains(screen.jobIndex) {
            let job = jobs[screen.jobIndex]
            let line = "job \(job.id): " + job.summary(now: shared.now)
            grid.put(DisplayWidth.truncate(line.terminalSafe, to: rect.width - 2), x: rect.x + 1, y: rect.maxY - 2, style: theme[.muted])
        }
        let keys = shared.readOnly ? "read-only: jobs are shown, not changed · esc back" : "p pause/resume · C cancel · + - double/halve the rate · esc back"
        grid.put(DisplayWidth.truncate(keys, to: rect.width - 2), x: rect.x + 1, y: rect.maxY - 1, style: theme[.hintText])
    }
}
