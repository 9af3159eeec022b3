import Foundation
@testable import PipetopCore
import PipetopUI
import Testing

/// Every screen of the dashboard at 80×24 and 160×48, against the store the fixture fills.
@Suite struct GoldenTests {
    static let sizes = [Size(width: 80, height: 24), Size(width: 160, height: 48)]

    func screen(_ size: Size, readOnly: Bool = false, keys: [Key] = [], _ adjust: (inout AppState) -> Void = { _ in }) throws -> Grid {
        var (state, fixture) = try Fixture.state(size: size, readOnly: readOnly)
        _ = fixture
        for key in keys { _ = state.update(.key(key)) }
        adjust(&state)
        return Dashboard.render(state)
    }

    func name(_ base: String, _ size: Size) -> String { "\(base)-\(size.width)x\(size.height)" }

    @Test(arguments: sizes) func overview(size: Size) throws {
        let grid = try screen(size, readOnly: true)
        #expect(grid.text.contains("READ-ONLY"))
        #expect(grid.text.contains("enrich"))
        try Golden.check(grid, name("overview", size))
    }

    /// The Overview as `pipetop demo` opens it (not read-only), at 100×30: the README's first
    /// screen is this golden's text, and `ReadmeScreenTests` keeps the two equal.
    static let readmeScreen = (name: "overview-100x30", size: Size(width: 100, height: 30))

    @Test func overviewForTheReadme() throws {
        let grid = try screen(Self.readmeScreen.size)
        #expect(grid.text.contains("index-batch") && !grid.text.contains("READ-ONLY"))
        try Golden.check(grid, Self.readmeScreen.name)
    }

    /// A runtime of several live nodes says how many in the header; its stopped nodes do not count.
    @Test func theHeaderCountsTheRuntimesLiveNodes() throws {
        let single = try screen(Self.readmeScreen.size)
        #expect(!single.text.contains(" nodes "))
        let grid = try screen(Self.readmeScreen.size) { state in
            let runtime = state.runtime!
            var nodes = [runtime]
            for pid in [4243, 4244, 4245] as [Int32] {
                var node = runtime
                node.pid = pid
                if pid == 4245 { node.stoppedAt = runtime.heartbeatAt }
                nodes.append(node)
            }
            state.shared.runtimes = nodes
        }
        #expect(grid.text.split(separator: "\n").first?.contains("3 nodes") == true, "\(grid.text.prefix(100))")
    }

    /// Several nodes: the Overview lists each one (host, pid, state, heartbeat, its own throughput)
    /// between the queues and the selected queue's detail: running, late, silent (not yet found
    /// dead), and one stopped in the last minute; one stopped longer ago is left out.
    @Test(arguments: sizes) func overviewWithSeveralNodes(size: Size) throws {
        let grid = try screen(size) { state in
            let runtime = state.runtime!
            func node(_ pid: Int32, host: String = "build-host", beat: Int, stopped: Int? = nil, done: Int64, rate: Double) -> RuntimeInfo {
                var node = runtime
                node.pid = pid
                node.host = host
                node.heartbeatAt = runtime.heartbeatAt - .seconds(beat)
                node.stoppedAt = stopped.map { runtime.heartbeatAt - .seconds($0) }
                node.throughput = NodeThroughput(done: done, perSecond: rate)
                return node
            }
            state.shared.runtimes = [
                node(4242, beat: 0, done: 48_210, rate: 812.4), node(4243, host: "worker-2", beat: 0, done: 47_993, rate: 799.0),
                node(4244, host: "worker-3", beat: 5, done: 31_002, rate: 0), node(4245, host: "worker-4", beat: 14, done: 12_000, rate: 640),
                node(4246, beat: 20, stopped: 20, done: 9_100, rate: 0), node(4247, beat: 600, stopped: 600, done: 1, rate: 0),
            ]
        }
        let text = grid.text
        #expect(text.contains("nodes · 3 live of 5") && text.contains("silent") && !text.contains("4247"), "\(text)")
        try Golden.check(grid, name("overview-nodes", size))
    }

    @Test(arguments: sizes) func overviewSortedByLagWithAnotherQueueSelected(size: Size) throws {
        try Golden.check(try screen(size, keys: [.char("s"), .char("j")]), name("overview-sorted", size))
    }

    /// `enter` on a queue: its messages by state, read from the store. enrich opens on its retry
    /// scheduled (next retry time, attempt 1/4, the timeout); parse's dead letters show their error escaped.
    func queueMessages(_ size: Size, _ keys: [Key]) throws -> Grid {
        var (state, fixture) = try Fixture.state(size: size)
        for key in keys { _ = try settle(&state, state.update(.key(key)), store: fixture.store) }
        let grid = Dashboard.render(state)
        #expect(!grid.cells.contains { $0.character.unicodeScalars.contains { $0.value < 0x20 } })
        return grid
    }

    @Test(arguments: sizes) func queueDrillDown(size: Size) throws {
        let grid = try queueMessages(size, [.enter])
        #expect(grid.text.contains("retry scheduled 1") && grid.text.contains("timeout: pricing service"))
        #expect(grid.text.contains("1/4"))
        try Golden.check(grid, name("queue-messages", size))
    }

    @Test(arguments: sizes) func queueDrillDownDeadLetters(size: Size) throws {
        // parse (the last queue by name) opens on its 9 in flight; → shows its dead letters.
        let grid = try queueMessages(size, [.char("G"), .enter, .right, .right])
        #expect(grid.text.contains("dead 5") && grid.text.contains("malformed listing"))
        try Golden.check(grid, name("queue-messages-dead", size))
    }

    @Test(arguments: sizes) func overviewHelp(size: Size) throws {
        let grid = try screen(size, keys: [.char("?")])
        #expect(grid.text.contains("STALLED"))
        try Golden.check(grid, name("overview-help", size))
    }

    @Test(arguments: sizes) func events(size: Size) throws {
        let grid = try screen(size, keys: [.char("2")])
        #expect(grid.text.contains("FOLLOW"))
        // The error with ESC, BEL and CR/LF is shown escaped, never raw.
        #expect(!grid.cells.contains { $0.character.unicodeScalars.contains { $0.value < 0x20 } })
        try Golden.check(grid, name("events", size))
    }

    @Test(arguments: sizes) func eventsPausedAfterScrollingUp(size: Size) throws {
        try Golden.check(try screen(size, keys: [.char("2")] + Array(repeating: .char("k"), count: 5)), name("events-paused", size))
    }

    @Test(arguments: sizes) func help(size: Size) throws {
        try Golden.check(try screen(size, keys: [.char("2"), .char("?")]), name("help", size))
    }

    @Test(arguments: sizes) func prompt(size: Size) throws {
        let grid = try screen(size, keys: [.char(":")] + Key.typing("theme d"))
        #expect(grid.row(size.height - 1).hasPrefix(":theme d"))
        try Golden.check(grid, name("prompt", size))
    }

    @Test(arguments: sizes) func filter(size: Size) throws {
        let grid = try screen(size, keys: [.char("2"), .char("/")] + Key.typing("kind:failed") + [.enter])
        let body = (2..<(size.height - 2)).map { grid.row($0) }.filter { $0.contains(":") && $0.contains(".") }
        #expect(!body.isEmpty)
        #expect(body.allSatisfy { $0.contains(" failed ") })
        try Golden.check(grid, name("filter", size))
    }

    @Test(arguments: sizes) func filterBeingTyped(size: Size) throws {
        try Golden.check(try screen(size, keys: [.char("2"), .char("/")] + Key.typing("queue:enrich")), name("filter-typing", size))
    }

    func deadLetters(_ size: Size, _ keys: [Key]) throws -> Grid {
        var (state, fixture) = try Fixture.state(size: size)
        for key in [.char("3")] + keys { _ = try settle(&state, state.update(.key(key)), store: fixture.store) }
        // Untrusted text (the malformed listing's ESC, BEL, CR/LF) is shown escaped, never raw.
        let grid = Dashboard.render(state)
        #expect(!grid.cells.contains { $0.character.unicodeScalars.contains { $0.value < 0x20 } })
        return grid
    }

    @Test(arguments: sizes) func deadLetterGroups(size: Size) throws {
        let grid = try deadLetters(size, [])
        #expect(grid.text.contains("malformed listing"))
        try Golden.check(grid, name("dlq-groups", size))
    }

    @Test(arguments: sizes) func deadLetterList(size: Size) throws {
        try Golden.check(try deadLetters(size, [.enter, .char(" ")]), name("dlq-list", size))
    }

    @Test(arguments: sizes) func deadLetterDetail(size: Size) throws {
        let grid = try deadLetters(size, [.enter, .enter])
        #expect(grid.text.contains("envelope"))
        try Golden.check(grid, name("dlq-detail", size))
    }

    @Test(arguments: sizes) func deadLetterConfirmation(size: Size) throws {
        let grid = try deadLetters(size, [.char("R")] + Key.typing("1"))
        #expect(grid.text.contains("type "))
        try Golden.check(grid, name("dlq-confirm", size))
    }

    /// `R`, tab, 25: the rate being typed replaces the one shown.
    @Test(arguments: sizes) func deadLetterConfirmationTypingARate(size: Size) throws {
        let grid = try deadLetters(size, [.char("R"), .tab] + Key.typing("25"))
        #expect(grid.text.contains("as a replay job at 25/s ◀ typing the rate"))
        try Golden.check(grid, name("dlq-confirm-rate", size))
    }

    /// Two jobs: one running (carried, part moved), one stopped by itself; the groups show the running one above them.
    func withJobs(_ size: Size, _ keys: [Key]) throws -> Grid {
        var (state, fixture) = try Fixture.state(size: size)
        let oncall = Operator(user: "oncall", host: "laptop")
        let stopped = try fixture.store.createReplayJob(ReplayJobRequest(selection: DeadLetterSelection(queue: "index"), rate: 0, actor: oncall), at: Fixture.t0)
        _ = try fixture.store.stepReplayJob(stopped.id, runner: "cli", lease: .seconds(1), moves: 1, at: Fixture.t0)
        _ = try fixture.store.controlReplayJob(stopped.id, .pause, by: oncall, at: Fixture.t0)
        let running = try fixture.store.createReplayJob(ReplayJobRequest(selection: DeadLetterSelection(queue: "parse"), rate: 50, actor: oncall), at: Fixture.t0)
        _ = try fixture.store.stepReplayJob(running.id, runner: "runtime demo pid 42@laptop", lease: .seconds(600), moves: 1, at: Fixture.t0)
        for key in [.char("3")] + keys { _ = try settle(&state, state.update(.key(key)), store: fixture.store) }
        return Dashboard.render(state)
    }

    @Test(arguments: sizes) func replayJobsAboveTheGroups(size: Size) throws {
        let grid = try withJobs(size, [])
        #expect(grid.text.contains("job 2 "))
        try Golden.check(grid, name("dlq-job-strip", size))
    }

    @Test(arguments: sizes) func replayJobsTable(size: Size) throws {
        let grid = try withJobs(size, [.char("J")])
        #expect(grid.text.contains("replay jobs · 1 running"))
        try Golden.check(grid, name("dlq-jobs", size))
    }

    /// `e` on a malformed listing's detail, the editor having added a price: the diff to confirm.
    @Test(arguments: sizes) func deadLetterEditConfirmation(size: Size) throws {
        var (state, fixture) = try Fixture.state(size: size)
        var effects: [Effect] = []
        for key in [Key.char("3"), .enter, .enter, .char("e")] { effects = try settle(&state, state.update(.key(key)), store: fixture.store) }
        guard case .edit(let session, let id)? = effects.first else { Issue.record("no edit effect: \(effects)"); return }
        let saved = session.text.replacingOccurrences(of: #"(?m)^(    "id": "[^"]*")$"#, with: "$1,\n    \"price\": 12500", options: .regularExpression)
        _ = try settle(&state, state.update(.answer(.editorClosed(session, .success(saved)), for: id)), store: fixture.store)
        let grid = Dashboard.render(state)
        #expect(grid.text.contains("confirm edit") && grid.text.contains(#"+   "price": 12500"#))
        #expect(!grid.cells.contains { $0.character.unicodeScalars.contains { $0.value < 0x20 } })
        try Golden.check(grid, name("dlq-edit-confirm", size))
    }

    /// The flow of a listing whose index hop retried and died, with its held batch hop: `:trace ID`.
    func traced(_ size: Size, _ keys: [Key]) throws -> (Grid, AppState) {
        var (state, fixture) = try Fixture.state(size: size)
        let letter = try #require(try fixture.store.deadLetters(DeadLetterSelection(queue: "index"), page: PageRequest(limit: 1)).items.first)
        let id = try #require(letter.event.correlationID)
        for key in [.char(":")] + Key.typing("trace \(id)") + [.enter] + keys { _ = try settle(&state, state.update(.key(key)), store: fixture.store) }
        return (Dashboard.render(state), state)
    }

    @Test(arguments: sizes) func traceWithRetriesABatchHopAndADeadBranch(size: Size) throws {
        let (grid, state) = try traced(size, [])
        #expect(state.view == .trace)
        let trace = try #require(state.traceScreen.trace)
        let hops = trace.nodes.flatMap(\.hops)
        #expect(hops.contains { $0.state == .dead && $0.attempts.count > 1 }, "the index hop retried, then died")
        #expect(hops.contains { $0.queue == "index-batch" }, "the batch hop")
        #expect(grid.text.contains("trace listing-"))
        try Golden.check(grid, name("trace", size))
    }

    @Test(arguments: sizes) func traceHopDetail(size: Size) throws {
        let (grid, state) = try traced(size, [.char("j"), .enter])
        #expect(state.traceScreen.detail)
        #expect(grid.text.contains("envelope") && grid.text.contains("attempt 1"))
        try Golden.check(grid, name("trace-detail", size))
    }

    /// The CPU screen on the fixture's five minutes of samples: index-batch's cron against the streams.
    func cpu(_ size: Size, _ keys: [Key]) throws -> (Grid, AppState) {
        var (state, fixture) = try Fixture.state(size: size)
        for key in [.char("5")] + keys { _ = try settle(&state, state.update(.key(key)), store: fixture.store) }
        return (Dashboard.render(state), state)
    }

    @Test(arguments: sizes) func cpuShapes(size: Size) throws {
        let (grid, state) = try cpu(size, [])
        #expect(state.view == .cpu)
        let shapes = Dictionary(uniqueKeysWithValues: state.cpuScreen.shapes.map { ($0.scope, $0) })
        #expect(shapes["index-batch"]?.verdict == .spiky)
        #expect(shapes["parse"]?.verdict == .steady && shapes["enrich"]?.verdict == .steady)
        // The five minutes before the last read (t0 + 0.7 s): the oldest sample, at t0 − 299.6 s, is just out.
        #expect(shapes["index-batch"]?.intervals == 299)
        #expect(grid.text.contains("index-batch") && grid.text.contains("spiky") && grid.text.contains("90-100%"))
        try Golden.check(grid, name("cpu", size))
    }

    /// `?` on the CPU screen: the verdict's thresholds and the retention, in words.
    @Test(arguments: sizes) func cpuHelp(size: Size) throws {
        let (grid, _) = try cpu(size, [.char("?")])
        #expect(grid.text.contains("spiky") && grid.text.contains("25 %"))
        try Golden.check(grid, name("cpu-help", size))
    }

    /// `-` to the last minute, index-batch selected, the cursor back to its window's first second:
    /// the queues that ran in it, and index-batch's runs from the log.
    @Test(arguments: sizes) func cpuCursorOnTheBatchSpike(size: Size) throws {
        let (grid, state) = try cpu(size, [.char("-"), .char("j"), .char("j")] + Array(repeating: .char("h"), count: 4))
        let screen = state.cpuScreen
        #expect(screen.window == .seconds(60))
        #expect(screen.selectedShape?.scope == "index-batch")
        #expect(screen.cursor == Fixture.t0 - .seconds(2))
        #expect(!screen.cursorRuns.isEmpty && screen.cursorRuns.allSatisfy { $0.queue == "index-batch" })
        #expect(grid.text.contains("index-batch runs ended: \(screen.cursorRuns.count)"))
        try Golden.check(grid, name("cpu-cursor", size))
    }

    @Test(arguments: [Size(width: 79, height: 24), Size(width: 40, height: 12)]) func tooSmall(size: Size) throws {
        let grid = try screen(size)
        #expect(grid.text.contains("terminal too small"))
        try Golden.check(grid, name("too-small", size))
    }
}
