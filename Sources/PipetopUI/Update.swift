import DequeModule
import Foundation
import PipetopCore

/// The commands of the `:` prompt.
public enum Command {
    public static let names = ["events", "help", "overview", "q", "queue", "quit", "theme"]
}

extension AppState {
    /// The update function: one message in, the state changed in place, effects out for the runner.
    public mutating func update(_ message: Message) -> [Effect] {
        switch message {
        case .key(let key): return handle(key)
        case .resize(let size): self.size = size
        case .tick(let time): now = time
        case .data(let snapshot): apply(snapshot)
        case .history(let older, let requested): return applyHistory(older, requested: requested)
        case .latest(let newest):
            records = Deque(newest.suffix(capacity))
            olderAvailable = newest.count >= capacity || (newest.first.map { $0.seq > 1 } ?? false)
            detached = false
            skippedNewer = 0
            follow = true
            cursorSeq = nil
        case .themeLoaded(let theme, let savedTo):
            self.theme = theme
            notice = Notice(text: "theme \(theme.name)" + (savedTo.map { " (saved to \($0))" } ?? ""), isError: false)
        case .themeFailed(let error):
            notice = Notice(text: error, isError: true)
        }
        return []
    }

    // MARK: Data

    mutating func apply(_ snapshot: DataSnapshot) {
        now = max(now, snapshot.time)
        if let error = snapshot.error {
            storeError = error
            return
        }
        storeError = nil
        loaded = true
        queues = snapshot.queues
        runtimes = snapshot.runtimes
        if selectedQueue == nil { selectedQueue = visibleQueues.first?.name }
        if snapshot.initial {
            records = Deque(snapshot.records.suffix(capacity))
            olderAvailable = snapshot.records.count >= capacity || (snapshot.records.first.map { $0.seq > 1 } ?? false)
        } else if detached {
            skippedNewer += snapshot.records.count
        } else {
            let lastSeq = records.last?.seq ?? 0
            let fresh = snapshot.records.filter { $0.seq > lastSeq }
            records.append(contentsOf: fresh)
            let excess = records.count - capacity
            if excess > 0 {
                records.removeFirst(excess)
                olderAvailable = true
                if !follow, let first = records.first?.seq, let cursor = cursorSeq, cursor < first { cursorSeq = first }
            }
        }
        updateRates(snapshot)
    }

    mutating func updateRates(_ snapshot: DataSnapshot) {
        let sample = Sample(time: snapshot.time, published: snapshot.published, queues: Dictionary(snapshot.queues.map { ($0.name, $0) }) { a, _ in a })
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
        for queue in snapshot.queues {
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

    mutating func applyHistory(_ older: [LifecycleRecord], requested: Int) -> [Effect] {
        loadingHistory = false
        if older.count < requested { olderAvailable = false }
        let firstSeq = records.first?.seq ?? Int64.max
        let fresh = older.filter { $0.seq < firstSeq }.reversed()
        guard !fresh.isEmpty else { return [] }
        records.insert(contentsOf: fresh, at: 0)
        let excess = records.count - capacity
        if excess > 0 {
            // Memory stays bounded: the newest fall off; following again reloads them.
            records.removeLast(excess)
            detached = true
        }
        return []
    }

    // MARK: Keys

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
                filters[view] = Filter(editor.text)
                mode = .normal
                if view == .events { follow = true; cursorSeq = nil }
            case .escape:
                mode = .normal
                filters[view] = filterBeforeEdit.flatMap { $0.isEmpty ? nil : $0 }
            default:
                edit(&editor, key)
                mode = .filter(editor)
                // Filter as you type.
                filters[view] = Filter(editor.text)
            }
            return []
        case .normal:
            break
        }
        if isTooSmall {
            if key == .char("q") { quitting = true; return [.quit] }
            return []
        }
        notice = nil
        switch key {
        case .char("q"): quitting = true; return [.quit]
        case .char("?"): mode = .help
        case .char(":"):
            mode = .prompt(LineEditor())
            historyIndex = nil
            completions = completionCandidates(for: "")
        case .char("/"):
            filterBeforeEdit = filter
            mode = .filter(LineEditor(filter.source))
        case .escape:
            if !filter.isEmpty {
                filters[view] = nil
            } else if let previous = previousView {
                switchTo(previous)
            }
        case .tab: switchTo(view == .overview ? .events : .overview)
        case .backTab: switchTo(view == .overview ? .events : .overview)
        case .char("1"): switchTo(.overview)
        case .char("2"): switchTo(.events)
        case .char(let c) where ("3"..."9").contains(c):
            notice = Notice(text: "view \(c): Trace, CPU and Dead letters arrive with their issues", isError: false)
        default:
            return view == .overview ? handleOverview(key) : handleEvents(key)
        }
        return []
    }

    mutating func switchTo(_ target: ViewID) {
        guard target != view else { return }
        previousView = view
        view = target
    }

    mutating func handleOverview(_ key: Key) -> [Effect] {
        let shown = visibleQueues
        guard !shown.isEmpty else { return [] }
        let index = selectedQueueIndex ?? 0
        func select(_ i: Int) { selectedQueue = shown[min(max(0, i), shown.count - 1)].name }
        switch key {
        case .char("j"), .down: select(index + 1)
        case .char("k"), .up: select(index - 1)
        case .char("g"), .home: select(0)
        case .char("G"), .end: select(shown.count - 1)
        case .pageDown: select(index + 10)
        case .pageUp: select(index - 10)
        case .char("s"):
            let all = QueueSortKey.allCases
            sortKey = all[(all.firstIndex(of: sortKey)! + 1) % all.count]
            sortAscending = sortKey == .name
            notice = Notice(text: "sorted by \(sortKey.rawValue)", isError: false)
        case .char("S"):
            sortAscending.toggle()
        case .enter:
            // The selected queue's events.
            filters[.events] = Filter("queue:" + shown[index].name)
            follow = true
            cursorSeq = nil
            switchTo(.events)
        default: break
        }
        return []
    }

    mutating func handleEvents(_ key: Key) -> [Effect] {
        let (rows, selected) = eventRows
        let page = max(1, eventsVisibleRows - 1)
        func move(to target: Int) -> [Effect] {
            guard !rows.isEmpty else { return [] }
            let clamped = min(max(0, target), rows.count - 1)
            let top = eventsTop(rows: rows, selected: selected)
            follow = false
            cursorSeq = rows[clamped].seq
            let visible = Table.visibleRows(height: size.height - 4)
            eventsTopSeq = rows[Table.scrolled(top: top, selected: clamped, visible: visible, count: rows.count)].seq
            if target < 0 || clamped == 0, olderAvailable, !loadingHistory, let first = records.first {
                loadingHistory = true
                return [.loadHistory(before: first.seq, limit: 500)]
            }
            return []
        }
        switch key {
        case .char("k"), .up: return move(to: (selected ?? 0) - 1)
        case .char("j"), .down:
            guard !follow else { return [] }
            return move(to: (selected ?? 0) + 1)
        case .pageUp: return move(to: (selected ?? 0) - page)
        case .pageDown:
            guard !follow else { return [] }
            return move(to: (selected ?? 0) + page)
        case .char("g"), .home: return move(to: 0)
        case .char("G"), .end, .char("f"):
            follow = true
            cursorSeq = nil
            if detached { return [.loadLatest(limit: capacity)] }
        case .char(" "), .char("p"):
            if follow { _ = move(to: selected ?? 0) } else { follow = true; cursorSeq = nil; if detached { return [.loadLatest(limit: capacity)] } }
        case .char("c"), .enter:
            guard let selected, let correlation = rows[selected].correlationID else {
                notice = Notice(text: "this record has no correlation id", isError: true)
                return []
            }
            filters[.events] = Filter("corr:" + correlation)
            follow = true
            cursorSeq = nil
            notice = Notice(text: "one flow: corr:\(correlation.terminalSafe) (esc clears)", isError: false)
        default: break
        }
        return []
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

    /// Candidates for the word being typed: command names, then queue or theme names.
    public func completionCandidates(for text: String) -> [String] {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        if parts.count <= 1 {
            let word = parts.first ?? ""
            return Command.names.filter { $0.hasPrefix(word) }
        }
        let word = parts.last ?? ""
        switch parts[0] {
        case "theme": return themeNames.filter { $0.hasPrefix(word) }
        case "queue": return queues.map(\.name).filter { $0.hasPrefix(word) }
        default: return []
        }
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
                if candidates.count == 1 && parts.count == 1 && ["queue", "theme"].contains(common) { text += " " }
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
        switch parts[0] {
        case "q", "quit", "q!":
            quitting = true
            return [.quit]
        case "overview", "o": switchTo(.overview)
        case "events", "e": switchTo(.events)
        case "help", "h": mode = .help
        case "queue":
            guard let queue = queues.first(where: { $0.name == argument }) else {
                notice = Notice(text: "no queue '\(argument.terminalSafe)' (queues: \(queues.map(\.name).joined(separator: ", ")))", isError: true)
                return []
            }
            filters[.overview] = nil
            selectedQueue = queue.name
            switchTo(.overview)
        case "theme":
            guard !argument.isEmpty else {
                notice = Notice(text: "theme \(theme.name); available: \(themeNames.joined(separator: ", "))", isError: false)
                return []
            }
            return [.loadTheme(argument, save: true)]
        default:
            notice = Notice(text: "unknown command ':\(parts[0].terminalSafe)' (try :q, :events, :overview, :queue NAME, :theme NAME)", isError: true)
        }
        return []
    }
}
