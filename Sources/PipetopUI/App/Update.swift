import DequeModule
import Foundation
import PipetopCore

/// A key action of the whole dashboard (not of one screen).
public typealias GlobalAction = @Sendable (inout AppState, Key) -> [Effect]

extension AppState {
    /// The update function: one message in, the state changed in place, effects out for the runner.
    public mutating func update(_ message: Message) -> [Effect] {
        var effects = respond(to: message)
        // Whatever changed, the visible screen may now need a read (its selection, or stale data).
        if !quitting { effects += screens[view]!.reads(shared) }
        return effects
    }

    mutating func respond(to message: Message) -> [Effect] {
        switch message {
        case .key(let key): return handle(key)
        case .resize(let size): shared.size = size
        case .tick(let time): shared.now = time
        case .data(let snapshot): apply(snapshot)
        case .answer(let answer, let id): return screens[id]!.receive(answer, shared: &shared)
        case .themeLoaded(let theme, let savedTo):
            shared.theme = theme
            shared.notice = Notice(text: "theme \(theme.name)" + (savedTo.map { " (saved to \($0))" } ?? ""), isError: false)
        case .themeFailed(let error):
            shared.notice = Notice(text: error, isError: true)
        }
        return []
    }

    /// Changes one screen's state in place (moved out of the registry meanwhile, so its buffers
    /// stay uniquely owned and are not copied).
    public mutating func modify<S: Screen, R>(_ type: S.Type, _ body: (inout S, inout Shared) -> R) -> R {
        var screen = screens.removeValue(forKey: S.id) as! S
        defer { screens[S.id] = screen }
        return body(&screen, &shared)
    }

    // MARK: Data

    mutating func apply(_ snapshot: DataSnapshot) {
        shared.now = max(shared.now, snapshot.time)
        if let notice = snapshot.notice { shared.notice = Notice(text: notice, isError: true) }
        if let error = snapshot.error {
            shared.storeError = error
            return
        }
        shared.storeError = nil
        shared.loaded = true
        if let queues = snapshot[StoreData.queueStats] { shared.queues = queues }
        if let runtimes = snapshot[StoreData.runtimes] { shared.runtimes = runtimes }
        for id in ScreenID.allCases { screens[id]!.receive(snapshot, shared: &shared) }
        shared.updateRates(snapshot)
    }

    // MARK: Keys

    /// The keys every screen has; each screen's keymap adds its own (see `Screen.keymap`).
    public static let globalKeymap = Keymap<GlobalAction>([
        Binding([.char("/")], help: ("/", "filter: text, kind:failed, queue:NAME, corr:ID, type:TEXT"), hint: ("/", "filter")) { state, _ in
            state.filterBeforeEdit = state.filter
            state.mode = .filter(LineEditor(state.filter.source))
            return []
        },
        Binding([.char(":")], help: (":", "command: " + Commands.helpList.joined(separator: " ")), hint: (":", "command")) { state, _ in
            state.mode = .prompt(LineEditor())
            state.historyIndex = nil
            state.completions = state.completionCandidates(for: "")
            return []
        },
        Binding([.tab, .backTab] + (1...9).map { Key.char(Character(String($0))) },
                help: ((["tab"] + ScreenID.allCases.map { String($0.number) }).joined(separator: " "), "switch view"), hint: ("tab", "view")) { state, key in
            switch key {
            case .tab: state.switchTo(state.view.cycled(by: 1))
            case .backTab: state.switchTo(state.view.cycled(by: -1))
            case .char(let c):
                let number = Int(String(c)) ?? 0
                if number >= 1 && number <= ScreenID.allCases.count {
                    state.switchTo(ScreenID.allCases[number - 1])
                } else {
                    state.shared.notice = Notice(text: "no view \(c): the views are 1–\(ScreenID.allCases.count)", isError: false)
                }
            default: break
            }
            return []
        },
        Binding([.escape], help: ("esc", "back a level inside the screen, then clear the filter, then back")) { state, _ in
            if state.screens[state.view]!.back(shared: &state.shared) {
                return []
            } else if !state.filter.isEmpty {
                state.filter = Filter("")
            } else if let previous = state.previousView {
                state.switchTo(previous)
            }
            return []
        },
        Binding([.char("?")], help: ("?", "this help"), hint: ("?", "help")) { state, _ in
            state.mode = .help
            return []
        },
        Binding([.ctrl("z")], help: ("ctrl-z", "suspend (the shell's fg brings it back)")) { _, _ in
            [.suspend]
        },
        Binding([.char("q")], help: ("q ctrl-c", "quit"), hint: ("q", "quit")) { state, _ in
            state.quitting = true
            return [.quit]
        },
    ])

    /// Footer hints: the visible screen's, then the global ones.
    public var hints: [(key: String, label: String)] {
        view.type.hints(readOnly: shared.readOnly) + Self.globalKeymap.hints(readOnly: shared.readOnly)
    }

    /// `?` help lines: the visible screen's, then the global ones.
    public var helpLines: [(String, String)] {
        view.type.helpLines(readOnly: shared.readOnly) + Self.globalKeymap.help(readOnly: shared.readOnly)
    }

    mutating func handle(_ key: Key) -> [Effect] {
        if key == .ctrl("c") { quitting = true; return [.quit] }
        switch mode {
        case .help:
            if key == .char("q") || key == .escape || key == .char("?") || key == .enter { mode = .normal }
            return []
        case .prompt(var editor):
            return handlePrompt(key, &editor)
        case .filter(var editor):
            switch key {
            case .enter:
                filter = Filter(editor.text, enteredAt: shared.now)
                mode = .normal
                screens[view]!.filterCommitted()
            case .escape:
                mode = .normal
                filter = filterBeforeEdit ?? Filter("")
            default:
                edit(&editor, key)
                mode = .filter(editor)
                // Filter as you type.
                filter = Filter(editor.text, enteredAt: shared.now)
            }
            return []
        case .normal:
            break
        }
        if shared.isTooSmall {
            if key == .char("q") { quitting = true; return [.quit] }
            return []
        }
        if screens[view]!.capturesKeys {
            return follow(screens[view]!.captured(key, shared: &shared))
        }
        shared.notice = nil
        if let binding = Self.globalKeymap.binding(for: key, readOnly: shared.readOnly) {
            return binding.action(&self, key)
        }
        guard let navigation = screens[view]!.handle(key, shared: &shared) else { return [] }
        return follow(navigation)
    }

    /// Carries out what a screen's action asks beyond itself.
    mutating func follow(_ navigation: [Navigation]) -> [Effect] {
        var effects: [Effect] = []
        for step in navigation {
            switch step {
            case .run(let effect): effects.append(effect)
            case .show(let target, let filter):
                if let filter {
                    screens[target]!.filter = filter
                    screens[target]!.filterCommitted()
                }
                switchTo(target)
            }
        }
        return effects
    }

    public mutating func switchTo(_ target: ScreenID) {
        guard target != view else { return }
        previousView = view
        view = target
    }

    // MARK: Prompt

    func edit(_ editor: inout LineEditor, _ key: Key) {
        switch key {
        case .char(let c): editor.insert(c)
        case .backspace: editor.backspace()
        case .delete: editor.delete()
        case .left: editor.cursor = max(0, editor.cursor - 1)
        case .right: editor.cursor = min(editor.text.count, editor.cursor + 1)
        case .home, .ctrl("a"): editor.cursor = 0
        case .end, .ctrl("e"): editor.cursor = editor.text.count
        case .ctrl("u"): editor = LineEditor()
        default: break
        }
    }

    /// Candidates for the word being typed: command names, then the command's own (queue or theme names).
    public func completionCandidates(for text: String) -> [String] {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        if parts.count <= 1 {
            let word = parts.first ?? ""
            return Commands.names.filter { $0.hasPrefix(word) }
        }
        let word = parts.last ?? ""
        guard let command = Commands.named(parts[0]), command.argument != nil else { return [] }
        return command.complete(shared, word)
    }

    mutating func handlePrompt(_ key: Key, _ editor: inout LineEditor) -> [Effect] {
        switch key {
        case .escape:
            mode = .normal
            return []
        case .enter:
            mode = .normal
            let line = editor.text.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty else { return [] }
            if promptHistory.last != line { promptHistory.append(line) }
            if promptHistory.count > 100 { promptHistory.removeFirst() }
            return run(line)
        case .tab:
            let candidates = completionCandidates(for: editor.text)
            completions = candidates
            if let common = Self.commonPrefix(candidates) {
                var parts = editor.text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                if parts.isEmpty { parts = [""] }
                parts[parts.count - 1] = common
                var text = parts.joined(separator: " ")
                if candidates.count == 1 && parts.count == 1 && Commands.named(common)?.argument != nil { text += " " }
                editor = LineEditor(text)
            }
        case .up:
            guard !promptHistory.isEmpty else { break }
            let index = max(0, (historyIndex ?? promptHistory.count) - 1)
            historyIndex = index
            editor = LineEditor(promptHistory[index])
        case .down:
            guard let index = historyIndex else { break }
            if index + 1 < promptHistory.count {
                historyIndex = index + 1
                editor = LineEditor(promptHistory[index + 1])
            } else {
                historyIndex = nil
                editor = LineEditor()
            }
        default:
            edit(&editor, key)
            completions = completionCandidates(for: editor.text)
        }
        mode = .prompt(editor)
        return []
    }

    static func commonPrefix(_ words: [String]) -> String? {
        guard var prefix = words.first else { return nil }
        for word in words.dropFirst() {
            while !word.hasPrefix(prefix) { prefix.removeLast() }
        }
        return prefix
    }

    mutating func run(_ line: String) -> [Effect] {
        let parts = line.split(separator: " ").map(String.init)
        let argument = parts.dropFirst().joined(separator: " ")
        guard let command = Commands.named(parts[0]) else {
            shared.notice = Notice(text: "unknown command ':\(parts[0].terminalSafe)' (try \(Commands.helpList.joined(separator: ", ")))", isError: true)
            return []
        }
        return command.run(&self, argument)
    }
}

extension Screen {
    static func hints(readOnly: Bool) -> [(key: String, label: String)] { keymap.hints(readOnly: readOnly) }
    static func helpLines(readOnly: Bool) -> [(String, String)] { keymap.help(readOnly: readOnly) }
}

extension Shared {
    mutating func updateRates(_ snapshot: DataSnapshot) {
        guard let queues = snapshot[StoreData.queueStats], let published = snapshot[StoreData.publishedTotal] else { return }
        let sample = Sample(time: snapshot.time, published: published, queues: Dictionary(queues.map { ($0.name, $0) }) { a, _ in a })
        while let first = samples.first, (snapshot.time - first.time) > .seconds(60) { samples.removeFirst() }
        samples.append(sample)
        // Rates per second over the last ~1 s; per minute over up to the last 60 s.
        func reference(_ window: Duration) -> Sample? {
            let candidates = samples.dropLast()
            return candidates.last { (snapshot.time - $0.time) >= window } ?? candidates.first
        }
        let second = reference(.seconds(1))
        let minute = samples.count > 1 ? samples.first : nil
        func rate(_ from: Sample?, _ value: (QueueStats) -> Int64, _ name: String) -> Double? {
            guard let from, let old = from.queues[name], let new = sample.queues[name] else { return nil }
            let dt = (sample.time - from.time).secondsDouble
            guard dt > 0 else { return nil }
            return Double(max(0, value(new) - value(old))) / dt
        }
        let currentSecond = snapshot.time.micros / 1_000_000
        let newPoint = lastTrendSecond.map { currentSecond > $0 } ?? true
        for queue in queues {
            var trend = trends[queue.name] ?? QueueTrend()
            trend.perSecond = rate(second, \.succeeded, queue.name)
            trend.retriesPerMinute = rate(minute, \.retried, queue.name).map { $0 * 60 }
            trend.failuresPerMinute = rate(minute, \.failed, queue.name).map { $0 * 60 }
            if let old = reference(.seconds(5))?.queues[queue.name], samples.count > 1 { trend.lagDelta = queue.lagMessages - old.lagMessages }
            if newPoint, let perSecond = trend.perSecond {
                trend.throughput.append(perSecond)
                trend.lag.append(Double(queue.lagMessages))
                while trend.throughput.count > Self.trendPoints { trend.throughput.removeFirst() }
                while trend.lag.count > Self.trendPoints { trend.lag.removeFirst() }
            }
            trends[queue.name] = trend
        }
        if newPoint && second != nil { lastTrendSecond = currentSecond }
        if let second {
            let dt = (sample.time - second.time).secondsDouble
            if dt > 0 {
                eventsInPerSecond = Double(max(0, sample.published - second.published)) / dt
                var done: Int64 = 0
                for (name, new) in sample.queues {
                    guard let old = second.queues[name] else { continue }
                    done += max(0, (new.succeeded + new.deadLettered) - (old.succeeded + old.deadLettered))
                }
                eventsOutPerSecond = Double(done) / dt
            }
        }
    }
}
