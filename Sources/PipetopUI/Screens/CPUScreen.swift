import PipetopCore

/// The CPU screen: per queue and for the runtime process, CPU use over a window (1m, 5m, 15m,
/// 1h) from the store's samples, its statistics and shape verdict (`CPUShape`), what the shape
/// costs (cores for the peak vs the mean) beside the latency it buys, a histogram of utilisation,
/// and a cursor on the timeline that shows which queues and which events ran in that second.
///
/// Everything shown is read from the store: the window once when shown (or widened), then the
/// samples since the newest held (with a few seconds of overlap) and the queues' latency, once a
/// second; the cursor's second is read when it moves.
public struct CPUScreen: Screen {
    public static let id = ScreenID.cpu
    public static let title = "CPU"
    public static let commands = ["cpu"]
    public static let needs: [DataNeed] = []
    public static let filterTerms = "text in a queue's name (the process always shows)"

    public static let windows: [Duration] = [.seconds(60), .seconds(300), .seconds(900), .seconds(3600)]
    /// Samples read again on each refresh, before the newest held: one committed late is still found.
    static let overlap: Duration = .seconds(5)
    static let refresh: Duration = .seconds(1)
    /// At most this many of a second's runs are read for the cursor.
    static let cursorRunLimit = 2000

    public var filter = Filter("")
    public var windowIndex = 1
    public var window: Duration { Self.windows[windowIndex] }
    /// The samples held, by scope, oldest first (at most the widest window asked for).
    public private(set) var samples: [String: [CPUSample]] = [:]
    /// The shapes over the window, worked out when samples arrive (not per frame).
    public private(set) var shapes: [CPUShape] = []
    /// The highest interval of each scope among every sample read since the dashboard attached.
    public private(set) var peaks: [String: (cores: Double, at: Timestamp)] = [:]
    /// Each queue's end-to-end latency over `latencyWindow` (the window, or what the store keeps).
    public private(set) var latency: [String: LatencyPercentiles] = [:]
    public private(set) var latencyWindow: Duration = .zero
    /// The oldest time the samples held cover (nil: nothing read yet).
    var coveredSince: Timestamp?
    var asked: StoreRequest?
    var askedAt: Timestamp?
    public var error: String?

    /// The selected scope (j/k).
    public var selectedScope: String?
    /// The cursor: a time on the timeline (the end of a graph column's span), nil when off.
    public var cursor: Timestamp?
    /// The runs of the cursor's second (the selected scope's busiest interval in the cursor's
    /// column), longest first, and the one `enter` opens.
    public private(set) var cursorRuns: [LifecycleRecord] = []
    public private(set) var cursorSecond: (from: Timestamp, to: Timestamp)?
    public var cursorRun = 0
    var askedSecond: (from: Timestamp, to: Timestamp)?

    public init(shared: Shared) {}

    // MARK: Keys

    public static let keymap = Keymap<ScreenAction<CPUScreen>>(keys + explanations)

    static let keys: [Binding<ScreenAction<CPUScreen>>] = [
        Binding(MoveKeys.down + MoveKeys.up, help: ("j k ↑ ↓", "select a queue (or the process)"), hint: ("j/k", "select")) { s, key, shared in
            s.moveSelection(MoveKeys.down.contains(key) ? 1 : -1)
            return []
        },
        Binding(MoveKeys.first + MoveKeys.last, help: ("g G home end", "first / last")) { s, key, shared in
            s.moveSelection(MoveKeys.first.contains(key) ? Int.min / 2 : Int.max / 2)
            return []
        },
        Binding([.char("+"), .char("=")], help: ("+ -", "window: 1m · 5m · 15m · 1h"), hint: ("+/-", "window")) { s, _, shared in
            s.setWindow(s.windowIndex + 1, shared)
            return []
        },
        Binding([.char("-")], help: nil) { s, _, shared in
            s.setWindow(s.windowIndex - 1, shared)
            return []
        },
        Binding([.char("h"), .left], help: ("h l ← →", "the cursor along the timeline: which queues and events ran in that second"), hint: ("h/l", "cursor")) { s, _, shared in
            s.moveCursor(-1, shared)
            return []
        },
        Binding([.char("l"), .right], help: nil) { s, _, shared in
            s.moveCursor(1, shared)
            return []
        },
        Binding([.char("]"), .char("[")], help: ("[ ]", "the cursor's next / previous run")) { s, key, _ in
            guard !s.cursorRuns.isEmpty else { return [] }
            s.cursorRun = max(0, min(s.cursorRuns.count - 1, s.cursorRun + (key == .char("]") ? 1 : -1)))
            return []
        },
        Binding([.enter, .char("t")], help: ("enter t", "the cursor's run: its flow's trace"), hint: ("enter", "trace")) { s, _, shared in
            s.openRun(&shared)
        },
    ]

    static let explanations: [Binding<ScreenAction<CPUScreen>>] =
        [
            explain("timeline", "cores per interval, the height its share of capacity (threads; cores for the process)"),
            explain("", "a dot column: the busiest interval it covers; ▼ the peak since attach"),
            explain("SHAPE", "over the window, the first rule that holds:"),
        ]
        + CPUShape.rules().map { explain("  " + $0.0.rawValue, $0.1) }
        + [
            explain("PEAK/MEAN", "cores to provision for the busiest interval / for the mean: what the shape costs"),
            explain("p50 p95", "end to end: the flow's first publish → succeeded here, over the window (at most \(Int(QueueSecond.kept.secondsDouble / 60))m)"),
            explain("kept", "the runtime keeps \(Int(CPURetention.default.age.secondsDouble / 3600)) h and at most \(CPURetention.default.count) samples (Runtime.Options.cpuRetention; demo --cpu-keep, --cpu-samples)"),
        ]

    static func explain(_ term: String, _ text: String) -> Binding<ScreenAction<CPUScreen>> {
        Binding([], help: (term, text)) { _, _, _ in [] }
    }

    /// Scopes as listed: filtered queues by name, then the process.
    public var visibleShapes: [CPUShape] {
        shapes.filter { $0.scope == CPUSample.processScope || filter.isEmpty || $0.scope.lowercased().contains(filter.source.lowercased()) }
    }

    public var selectedShape: CPUShape? {
        let shown = visibleShapes
        return shown.first { $0.scope == selectedScope } ?? shown.first
    }

    mutating func moveSelection(_ step: Int) {
        let shown = visibleShapes
        guard !shown.isEmpty else { return }
        let index = shown.firstIndex { $0.scope == selectedScope } ?? 0
        let next = step > 0 ? (index > Int.max - step ? Int.max : index + step) : (index < Int.min - step ? Int.min : index + step)
        selectedScope = shown[max(0, min(shown.count - 1, next))].scope
        askedSecond = nil
        cursorRun = 0
    }

    mutating func setWindow(_ index: Int, _ shared: Shared) {
        let clamped = max(0, min(Self.windows.count - 1, index))
        guard clamped != windowIndex else { return }
        windowIndex = clamped
        recompute(shared.now)
    }

    /// The graph's geometry for this window and screen width (the same as `CPUView` draws).
    func timeline(_ shared: Shared) -> CPUTimeline {
        CPUTimeline(window: window, end: shared.now, cells: CPUView.graphWidth(shared.size.width))
    }

    mutating func moveCursor(_ step: Int, _ shared: Shared) {
        let axis = timeline(shared)
        guard axis.columns > 0 else { return }
        let column: Int
        if let cursor { column = axis.column(of: cursor) + step } else { column = axis.columns - 1 }
        let clamped = max(0, min(axis.columns - 1, column))
        cursor = axis.end(ofColumn: clamped)
        cursorRun = 0
    }

    mutating func openRun(_ shared: inout Shared) -> [Navigation] {
        guard cursor != nil else {
            shared.notice = Notice(text: "h/l puts the cursor on a second first", isError: false)
            return []
        }
        guard cursorRuns.indices.contains(cursorRun) else {
            shared.notice = Notice(text: "no run of \(selectedShape?.scope.terminalSafe ?? "this queue") ended in that second", isError: false)
            return []
        }
        guard let correlation = cursorRuns[cursorRun].correlationID else {
            shared.notice = Notice(text: "event \(cursorRuns[cursorRun].eventID.terminalSafe) has no correlation id", isError: true)
            return []
        }
        return [.show(.trace, filter: Filter(correlation))]
    }

    public mutating func back(shared: inout Shared) -> Bool {
        guard cursor != nil else { return false }
        cursor = nil
        cursorRuns = []
        cursorSecond = nil
        askedSecond = nil
        return true
    }

    // MARK: The cursor's second

    /// The second the cursor stands for: in its column, the selected scope's busiest interval
    /// (the spike seen is the one read), else the column's last second.
    public func cursorInterval(_ shared: Shared) -> (from: Timestamp, to: Timestamp)? {
        guard let cursor, let scope = selectedShape?.scope else { return nil }
        let axis = timeline(shared)
        let column = axis.column(of: cursor)
        let start = axis.start(ofColumn: column), end = axis.end(ofColumn: column)
        let list = samples[scope] ?? []
        var busiest: CPUSample?
        for sample in list[Self.firstIndex(list, after: start)...] {
            guard sample.time <= end else { break }
            if busiest.map({ sample.cpu > $0.cpu }) ?? true { busiest = sample }
        }
        guard let busiest else { return (end - .seconds(1), end) }
        return (busiest.time - busiest.interval, busiest.time)
    }

    /// Every scope's sample that ends at the cursor's second (the engine samples them together).
    public func cursorScopes(_ shared: Shared) -> [CPUSample] {
        guard let second = cursorInterval(shared) else { return [] }
        return shapes.compactMap { shape in
            guard let list = samples[shape.scope] else { return nil }
            let index = Self.firstIndex(list, after: second.from)
            return index < list.count && list[index].time <= second.to ? list[index] : nil
        }
    }

    // MARK: Data

    public mutating func reads(_ shared: Shared) -> [Effect] {
        var effects: [Effect] = []
        if asked == nil {
            let since = shared.now - window
            let covered = coveredSince.map { $0 <= since } ?? false
            let due = askedAt.map { (shared.now - $0) >= Self.refresh } ?? true
            if !covered || due {
                let from: Timestamp
                if covered, let newest = samples.values.compactMap({ $0.last?.time }).max() {
                    from = max(since, newest - Self.overlap)
                } else {
                    from = since
                }
                let request = StoreRequest.cpuSamples(since: from, latencySince: shared.now - min(window, QueueSecond.kept))
                asked = request
                askedAt = shared.now
                effects.append(.read(request, for: Self.id))
            }
        }
        if let second = cursorInterval(shared), askedSecond.map({ $0 != second }) ?? true {
            askedSecond = second
            effects.append(.read(.cpuRuns(from: second.from, to: second.to, limit: Self.cursorRunLimit), for: Self.id))
        }
        return effects
    }

    public mutating func receive(_ snapshot: DataSnapshot, shared: inout Shared) {
        if snapshot.error != nil { asked = nil }
    }

    public mutating func receive(_ answer: StoreAnswer, shared: inout Shared) -> [Effect] {
        switch answer {
        case .cpuSamples(let read, let since, let latency, let latencySince):
            if case .cpuSamples(let askedSince, _)? = asked, askedSince == since { asked = nil }
            merge(read, since: since)
            self.latency = latency
            latencyWindow = shared.now - latencySince
            recompute(shared.now)
        case .cpuRuns(let runs, let from, let to):
            guard let second = askedSecond, second.from == from, second.to == to else { return [] }
            let scope = selectedShape?.scope
            let mine = scope == CPUSample.processScope ? runs : runs.filter { $0.queue == scope }
            cursorRuns = mine.sorted { ($0.duration ?? .zero, $1.seq) > ($1.duration ?? .zero, $0.seq) }
            cursorSecond = (from, to)
            cursorRun = min(cursorRun, max(0, cursorRuns.count - 1))
        default:
            break
        }
        return []
    }

    /// Adds samples read from `since` on: those newer than the newest held are appended, older
    /// ones (committed late) inserted once.
    mutating func merge(_ read: [CPUSample], since: Timestamp) {
        if samples.isEmpty {
            // The first read of a window: each scope's list made once, at its size.
            var counts: [String: Int] = [:]
            for sample in read { counts[sample.scope, default: 0] += 1 }
            for (scope, count) in counts { samples[scope] = []; samples[scope]!.reserveCapacity(count + 3600) }
        }
        for sample in read {
            let cores = sample.cores
            if peaks[sample.scope].map({ cores > $0.cores }) ?? true { peaks[sample.scope] = (cores, sample.time) }
            // In place (a copy of the list per sample would copy an hour of it each time).
            Self.insert(sample, into: &samples[sample.scope, default: []])
        }
        coveredSince = min(coveredSince ?? since, since)
    }

    /// Appends a sample newer than the newest held; inserts an older one (committed late) in its
    /// place, once: the same scope and time is the same sample.
    static func insert(_ sample: CPUSample, into list: inout [CPUSample]) {
        guard let last = list.last, sample.time <= last.time else {
            list.append(sample)
            return
        }
        var low = 0, high = list.count
        while low < high {
            let middle = (low + high) / 2
            if list[middle].time < sample.time { low = middle + 1 } else { high = middle }
        }
        if low < list.count && list[low].time == sample.time { return }
        list.insert(sample, at: low)
    }

    /// The shapes over the window ending `now`; samples older than the widest window are let go.
    mutating func recompute(_ now: Timestamp) {
        let since = now - window
        let keepSince = now - Self.windows.last!
        var shapes: [CPUShape] = []
        shapes.reserveCapacity(samples.count)
        for scope in Array(samples.keys) {
            // Let go of what is older than the widest window a minute's worth at a time (removing
            // one from the front each second would move the whole hour each second).
            if let list = samples[scope], list.count > 60, list[59].time <= keepSince {
                samples[scope]!.removeFirst(Self.firstIndex(list, after: keepSince))
            }
            guard let list = samples[scope] else { continue }
            shapes.append(CPUShape(scope: scope, samples: list[Self.firstIndex(list, after: since)...]))
        }
        coveredSince = coveredSince.map { max($0, keepSince) }
        self.shapes = shapes.sorted { CPUShape.order($0.scope) < CPUShape.order($1.scope) }
        if selectedScope == nil { selectedScope = visibleShapes.first?.scope }
    }

    /// The index of the first sample ending after `time` (binary search; samples are oldest first).
    static func firstIndex(_ list: [CPUSample], after time: Timestamp) -> Int {
        var low = 0, high = list.count
        while low < high {
            let middle = (low + high) / 2
            if list[middle].time <= time { low = middle + 1 } else { high = middle }
        }
        return low
    }

    public func draw(_ shared: Shared, into grid: inout Grid, _ body: Rect) -> ScreenStatus {
        CPUView.draw(self, shared, into: &grid, body)
        var status = ScreenStatus()
        status.left.append(StatusSegment("WINDOW \(CPUView.windowName(window))", shared.theme[.statusAccent]))
        if let second = cursorInterval(shared) {
            status.left.append(StatusSegment("CURSOR " + Format.clock(second.from, offset: shared.utcOffset).prefix(8), shared.theme[.statusAccent]))
        }
        status.right.append(StatusSegment("\(shapes.filter { $0.scope != CPUSample.processScope }.count) queues", shared.theme[.status]))
        return status
    }
}

/// The timeline's columns of dots: the window ending at `end` (rounded up to a whole column) in at
/// most `2 × cells` columns, each covering a whole number of seconds (at least one).
public struct CPUTimeline: Sendable, Equatable {
    public var end: Timestamp
    public var span: Duration
    public var columns: Int
    /// Dots each column is drawn wide: 1, or more when the window has fewer seconds than dots
    /// (a minute across a wide terminal), so the timeline fills its width.
    public var dotsPerColumn: Int

    public init(window: Duration, end: Timestamp, cells: Int) {
        let seconds = max(1, window.micros / 1_000_000)
        let dots = max(1, cells * 2)
        let perColumn = max(1, (seconds + Int64(dots) - 1) / Int64(dots))
        span = .seconds(perColumn)
        columns = Int(min(Int64(dots), (seconds + perColumn - 1) / perColumn))
        dotsPerColumn = max(1, dots / max(1, columns))
        // Aligned to its span, so a column keeps its seconds from one frame to the next.
        let step = span.micros
        let micros = end.micros
        self.end = Timestamp(micros: (micros >= 0 ? micros / step : (micros - step + 1) / step) * step + step)
    }

    /// The column (0 = oldest) whose span `(start, end]` holds `time`, clamped to the window.
    public func column(of time: Timestamp) -> Int {
        let back = (end.micros - time.micros) / span.micros
        return max(0, min(columns - 1, columns - 1 - Int(back)))
    }

    public func end(ofColumn column: Int) -> Timestamp { end - .microseconds(span.micros * Int64(columns - 1 - column)) }
    public func start(ofColumn column: Int) -> Timestamp { end(ofColumn: column) - span }
    public var start: Timestamp { start(ofColumn: 0) }

    /// The busiest interval of each column (cores), from samples oldest first; nil where none.
    public func values(_ samples: [CPUSample]) -> [Double?] {
        var values = [Double?](repeating: nil, count: columns)
        let first = start.micros
        for sample in samples[CPUScreen.firstIndex(samples, after: start)...] {
            let offset = sample.time.micros - first
            guard offset > 0 else { continue }
            let column = Int((offset - 1) / span.micros)
            guard column < columns else { break }
            let cores = sample.cores
            if values[column].map({ cores > $0 }) ?? true { values[column] = cores }
        }
        return values
    }
}

extension AppState {
    public var cpuScreen: CPUScreen { screen(CPUScreen.self) }
}
