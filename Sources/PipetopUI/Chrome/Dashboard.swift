import PipetopCore

/// Views are functions of state: `render(state)` draws one frame into a fresh grid.
///
/// This and `Grid.changes(from:)` (the diff the ncurses backend writes) are the public API a
/// benchmark times without a terminal: build an `AppState`, feed it `DataSnapshot`s (see
/// `StoreReader.snapshot`), render, diff.
public enum Dashboard {
    public static func render(_ state: AppState) -> Grid {
        let theme = state.theme
        var grid = Grid(size: state.size, style: theme[.base])
        if state.isTooSmall {
            TooSmallView.draw(state, into: &grid)
            return grid
        }
        HeaderView.draw(state, into: &grid)
        let body = Rect(x: 0, y: 2, width: state.size.width, height: state.size.height - 4)
        let status = state.current.draw(state.shared, into: &grid, body)
        FooterView.draw(state, status: status, into: &grid)
        if state.mode == .help { HelpView.draw(state, into: &grid) }
        return grid
    }
}

/// The frame around the screens: header with tabs, footer, help, the too-small notice.
enum Chrome {
    /// What the header shows on every screen: the runtime, and the in/out rates (from the published
    /// total and the queues' counters).
    static let needs: [DataNeed] = [StoreData.runtimes.need, StoreData.publishedTotal.need, StoreData.queueStats.need]
}

enum TooSmallView {
    static func draw(_ state: AppState, into grid: inout Grid) {
        let theme = state.theme
        let lines = [
            "terminal too small",
            "\(state.size.width)×\(state.size.height); pipetop needs at least \(AppState.minimumSize.width)×\(AppState.minimumSize.height)",
            "resize the window, or press q to quit",
        ]
        let top = max(0, (state.size.height - lines.count) / 2)
        for (index, line) in lines.enumerated() {
            let wrapped = WrappedText.lines(line, width: max(1, state.size.width))
            for (n, part) in wrapped.enumerated() {
                let x = max(0, (state.size.width - DisplayWidth.of(part)) / 2)
                grid.put(part, x: x, y: top + index + n, style: index == 0 ? theme[.warning] : theme[.base])
            }
        }
    }
}

enum HeaderView {
    static func draw(_ state: AppState, into grid: inout Grid) {
        let theme = state.theme
        let width = state.size.width
        grid.fill(Rect(x: 0, y: 0, width: width, height: 1), style: theme[.header])
        var x = grid.put(" pipetop ", x: 0, y: 0, style: theme[.headerTitle])
        var right: [(String, Style)] = []
        if state.readOnly { right.append((" READ-ONLY ", theme[.badge])) }
        let rightWidth = right.reduce(0) { $0 + DisplayWidth.of($1.0) }
        let limit = width - rightWidth - 1
        var parts: [(String, Style)] = []
        if let runtime = state.runtime {
            let label = theme[.headerLabel], value = theme[.header]
            parts.append((runtime.name.terminalSafe + " pid \(runtime.pid)", theme[.headerTitle]))
            // A runtime of several processes (`--nodes`, several machines on PostgreSQL): how many are live.
            let nodes = state.runtimes.filter { $0.name == runtime.name && $0.isLive(at: state.now) }.count
            if nodes > 1 { parts.append(("\(nodes) nodes", value)) }
            if let failure = runtime.storeUnwritable {
                let since = Format.clock(failure.since, offset: state.utcOffset)
                parts.append(((failure.gaveUp ? "STORE NOT WRITABLE, GAVE UP: since " : "STORE NOT WRITABLE since ") + since + ": " + failure.error.terminalSafe,
                              theme[.error].withBackground(of: theme[.header]).with(.bold)))
            }
            let age = max(0, (state.now - runtime.heartbeatAt).secondsDouble)
            if let stopped = runtime.stoppedAt {
                parts.append(("stopped \(Format.duration(max(0, (state.now - stopped).secondsDouble))) ago", theme[.warning].withBackground(of: value)))
            } else {
                parts.append(("up \(Format.duration(max(0, (state.now - runtime.startedAt).secondsDouble)))", value))
                let stale = age > 3
                parts.append(((stale ? "♥ STALE " : "♥ ") + Format.duration(age), stale ? theme[.warning].withBackground(of: value) : value))
            }
            parts.append(("in \(Format.rate(state.eventsInPerSecond))/s", value))
            parts.append(("out \(Format.rate(state.eventsOutPerSecond))/s", value))
            parts.append(("@" + runtime.host.terminalSafe, label))
        } else if state.loaded {
            parts.append(("no runtime has registered in this store", theme[.headerLabel]))
        } else {
            parts.append(("reading the store…", theme[.headerLabel]))
        }
        for (text, style) in parts {
            let w = DisplayWidth.of(text) + 2
            guard x + w <= limit else { break }
            x = grid.put(" " + text + " ", x: x, y: 0, style: style)
        }
        var rx = width - rightWidth
        for (text, style) in right { rx = grid.put(text, x: rx, y: 0, style: style) }

        // Tabs, and where the data comes from.
        grid.fill(Rect(x: 0, y: 1, width: width, height: 1), style: theme[.base])
        var tx = 1
        for screen in ScreenID.allCases {
            tx = grid.put(" \(screen.number) \(screen.title) ", x: tx, y: 1, style: screen == state.view ? theme[.tabActive] : theme[.tab]) + 1
        }
        let store = state.storeError.map { "store error: " + $0 } ?? state.storeLocation
        let available = width - tx - 2
        if available > 8 {
            let text = DisplayWidth.truncate(store.terminalSafe, to: available)
            grid.put(text, x: width - 1 - DisplayWidth.of(text), y: 1, style: state.storeError == nil ? theme[.muted] : theme[.error])
        }
    }
}

extension Style {
    func withBackground(of other: Style) -> Style {
        var copy = self
        copy.bg = other.bg
        return copy
    }
}

enum FooterView {
    static func draw(_ state: AppState, status: ScreenStatus, into grid: inout Grid) {
        let theme = state.theme
        let width = state.size.width, height = state.size.height
        let statusY = height - 2, hintY = height - 1
        switch state.mode {
        case .prompt(let editor):
            drawCompletions(state, y: statusY)
            drawEditor(":", editor, state: state, into: &grid, y: hintY)
            return
        case .filter(let editor):
            StatusBar.render(left: [StatusSegment("filter", theme[.statusAccent]),
                                    StatusSegment("terms: \(state.view.type.filterTerms) · enter keeps · esc cancels", theme[.status])],
                             right: [], into: &grid, y: statusY, width: width, style: theme[.status])
            drawEditor("/", editor, state: state, into: &grid, y: hintY)
            return
        case .normal, .help: break
        }
        var left = [StatusSegment(state.view.title, theme[.statusAccent])] + status.left
        if !state.filter.isEmpty { left.append(StatusSegment("/" + state.filter.source, theme[.statusPaused])) }
        if let notice = state.notice { left.append(StatusSegment(notice.text, notice.isError ? theme[.error].withBackground(of: theme[.status]) : theme[.status])) }
        StatusBar.render(left: left, right: status.right, into: &grid, y: statusY, width: width, style: theme[.status])
        KeyHints.render(state.hints, into: &grid, y: hintY, width: width, key: theme[.hintKey], text: theme[.hintText])

        func drawCompletions(_ state: AppState, y: Int) {
            grid.fill(Rect(x: 0, y: y, width: width, height: 1), style: theme[.promptCompletion])
            let text = state.completions.isEmpty ? "no completion" : "tab: " + state.completions.joined(separator: "  ")
            grid.put(" " + text, x: 0, y: y, style: theme[.promptCompletion])
        }
    }

    static func drawEditor(_ lead: String, _ editor: LineEditor, state: AppState, into grid: inout Grid, y: Int) {
        let style = state.theme[.prompt]
        grid.fill(Rect(x: 0, y: y, width: state.size.width, height: 1), style: style)
        var x = grid.put(lead, x: 0, y: y, style: style.with(.bold))
        let before = String(editor.text.prefix(editor.cursor))
        let at = editor.cursor < editor.text.count ? String(editor.text[editor.text.index(editor.text.startIndex, offsetBy: editor.cursor)]) : " "
        let after = editor.cursor < editor.text.count ? String(editor.text.dropFirst(editor.cursor + 1)) : ""
        x = grid.put(before, x: x, y: y, style: style)
        x = grid.put(at, x: x, y: y, style: style.with(.reverse))
        grid.put(after, x: x, y: y, style: style)
    }

}

enum HelpView {
    static func draw(_ state: AppState, into grid: inout Grid) {
        let theme = state.theme
        let lines = state.helpLines
        let keyWidth = lines.map { DisplayWidth.of($0.0) }.max() ?? 0
        let width = min(state.size.width - 4, max(50, keyWidth + 3 + (lines.map { DisplayWidth.of($0.1) }.max() ?? 0) + 4))
        let height = min(state.size.height - 2, lines.count + 4)
        let rect = Rect(x: (state.size.width - width) / 2, y: (state.size.height - height) / 2, width: width, height: height)
        grid.box(rect, border: theme[.border], fill: theme[.base], title: "help · \(state.view.title)", titleStyle: theme[.title])
        for (index, line) in lines.prefix(height - 4).enumerated() {
            let y = rect.y + 2 + index
            grid.put(DisplayWidth.pad(line.0, to: keyWidth), x: rect.x + 2, y: y, style: theme[.hintKey])
            grid.put(line.1, x: rect.x + 3 + keyWidth + 1, y: y, style: theme[.base], maxX: rect.maxX - 2)
        }
        let close = "esc or ? closes"
        grid.put(close, x: rect.maxX - 2 - DisplayWidth.of(close), y: rect.maxY - 1, style: theme[.muted])
    }
}
