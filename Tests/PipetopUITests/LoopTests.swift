import Foundation
@testable import PipetopCore
@testable import PipetopUI
import Testing

/// The whole dashboard loop on the in-memory backend: the real store reader and effect runner,
/// keys in, frames out, resize, quit — no terminal, no tmux. (TerminalTests covers the real one.)
@Suite struct LoopTests {
    final class Run: @unchecked Sendable {
        let backend = TestBackend(size: Size(width: 100, height: 30))
        let fixture: Fixture
        let done = DispatchSemaphore(value: 0)
        var exit: Result<DashboardExit, Error>?

        init(readOnly: Bool = false) throws {
            (_, fixture) = try Fixture.state(size: Size(width: 100, height: 30))
            let config = fixture.directory.appendingPathComponent("config.yaml").path
            let options = DashboardLoop.Options(
                store: fixture.store, storeLocation: fixture.path, readOnly: readOnly, runtimeName: "demo", refresh: .milliseconds(20),
                capacity: 10_000, theme: "default", themes: ThemeService(catalog: Fixture.catalog, configPath: config), utcOffset: 0)
            Thread.detachNewThread { [self] in
                exit = Result { try DashboardLoop(options, backend: backend).run() }
                done.signal()
            }
        }

        func finished(timeout: Double = 10) -> DashboardExit? {
            guard done.wait(timeout: .now() + timeout) == .success else { return nil }
            return try? exit?.get()
        }
    }

    @Test func keysInFramesOutResizeAndQuit() throws {
        let run = try Run()
        #expect(run.backend.waitForFrame { $0.text.contains("parse") && $0.row(0).contains("demo pid 4242") } != nil, "\(run.backend.lastFrame?.text ?? "no frame")")
        // Events, read by the poller now that the screen asks for the log.
        run.backend.press([.char("2")])
        #expect(run.backend.waitForFrame { $0.text.contains("FOLLOW") && $0.text.contains("claimed") } != nil, "\(run.backend.lastFrame?.text ?? "")")
        run.backend.press([.char("/")])
        run.backend.type("kind:failed\n")
        let filtered = run.backend.waitForFrame { $0.text.contains("/kind:failed") }
        #expect(filtered != nil)
        // Scrolling to the top asks the store for older records through the effect runner.
        run.backend.press([.char("g")])
        #expect(run.backend.waitForFrame { $0.text.contains("PAUSED") } != nil)
        // A theme switch goes through the runner and comes back as a message.
        run.backend.press([.char(":")])
        run.backend.type("theme nord\n")
        #expect(run.backend.waitForFrame { $0.text.contains("theme nord (saved to") } != nil, "\(run.backend.lastFrame?.text ?? "")")
        run.backend.resize(to: Size(width: 60, height: 20))
        #expect(run.backend.waitForFrame { $0.size == Size(width: 60, height: 20) && $0.text.contains("terminal too small") } != nil)
        run.backend.resize(to: Size(width: 120, height: 40))
        #expect(run.backend.waitForFrame { $0.size == Size(width: 120, height: 40) && $0.text.contains("/kind:failed") } != nil)
        run.backend.press([.char("q")])
        #expect(run.finished() == .quit)
        #expect(run.backend.closed)
    }

    /// A store file replaced under the dashboard (a restore: the new file moved over the old one)
    /// is noticed, opened again and shown, not read stale from the old file without a word.
    @Test func aReplacedStoreFileIsOpenedAgainAndSaid() throws {
        let (_, fixture) = try Fixture.state(size: Size(width: 100, height: 30))
        let backend = TestBackend(size: Size(width: 100, height: 30))
        let config = fixture.directory.appendingPathComponent("config.yaml").path
        let path = fixture.path
        let options = DashboardLoop.Options(
            store: try openReader(url: path), storeLocation: path, readOnly: true, runtimeName: "demo", refresh: .milliseconds(20),
            capacity: 10_000, theme: "default", themes: ThemeService(catalog: Fixture.catalog, configPath: config), utcOffset: 0,
            reopen: { (try openReader(url: path), nil) })
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? DashboardLoop(options, backend: backend).run()
            done.signal()
        }
        #expect(backend.waitForFrame { $0.text.contains("parse") } != nil)

        // The replacement, made beside it, moved over it with its -wal and -shm.
        let staging = fixture.directory.appendingPathComponent("staging")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        let newPath = staging.appendingPathComponent("store.sqlite").path
        do {
            let replacement = try SQLiteStore(path: newPath)
            try replacement.declare(queues: [QueueSpec("restored-queue")], rules: [], runtime: fixture.runtime)
        }
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: newPath + suffix) {
            #expect(rename(newPath + suffix, path + suffix) == 0)
        }
        let shown = backend.waitForFrame { $0.text.contains("restored-queue") && $0.text.contains("store file replaced by another: opened again") }
        #expect(shown != nil, "\(backend.lastFrame?.text ?? "no frame")")
        #expect(!(backend.lastFrame?.text.contains("parse ") ?? true), "the old file's queues are gone from the screen")
        backend.press([.char("q")])
        #expect(done.wait(timeout: .now() + 10) == .success)
    }

    @Test func aQuitSignalEndsTheLoopAndSaysWhich() throws {
        let run = try Run()
        #expect(run.backend.waitForFrame { $0.text.contains("parse") } != nil)
        run.backend.raise(SIGTERM)
        #expect(run.finished() == .signal(SIGTERM))
        #expect(run.backend.closed)
    }
}

/// The keymaps are the single source of keys, hints and help.
@Suite struct KeymapTests {
    @Test func hintsAndHelpComeFromTheKeymaps() throws {
        var (state, _) = try Fixture.state(size: Size(width: 100, height: 30))
        for id in ScreenID.allCases {
            state.view = id
            let keymapHelp = id.type.helpLines(readOnly: false) + AppState.globalKeymap.help(readOnly: false)
            #expect(state.helpLines.map(\.0) == keymapHelp.map(\.0))
            let footer = Dashboard.render(state).row(state.size.height - 1)
            for hint in id.type.hints(readOnly: false) { #expect(footer.contains(hint.key + " " + hint.label), "\(id): \(hint)") }
        }
        #expect(Commands.names == ["cpu", "dlq", "events", "help", "overview", "q", "queue", "quit", "theme", "trace"])
    }

    @Test func readOnlyRemovesMutatingBindingsFromKeysHintsAndHelp() {
        let keymap = Keymap<Int>([
            Binding([.char("r")], help: ("r", "replay"), hint: ("r", "replay"), mutates: true, 1),
            Binding([.char("j")], help: ("j", "down"), hint: ("j", "down"), 2),
        ])
        #expect(keymap.binding(for: .char("r"), readOnly: false)?.action == 1)
        #expect(keymap.binding(for: .char("r"), readOnly: true) == nil)
        #expect(keymap.hints(readOnly: true).map(\.key) == ["j"])
        #expect(keymap.help(readOnly: true).map(\.0) == ["j"])
        #expect(keymap.help(readOnly: false).map(\.0) == ["r", "j"])
    }

    @Test func everyScreenIsRegisteredOnceWithItsOwnCommand() {
        let commands = ScreenID.allCases.map { $0.type.commands[0] }
        #expect(Set(commands).count == ScreenID.allCases.count)
        for id in ScreenID.allCases { #expect(id.type.id == id) }
        #expect(ScreenID.overview.cycled(by: 1) == .events && ScreenID.overview.cycled(by: -1) == .cpu)
        #expect(ScreenID.deadLetters.number == 3, "Dead letters is the third view, as the design's key table has it")
        #expect(ScreenID.cpu.number == 5, "CPU is the fifth")
    }

    /// The poller reads only what the visible screen (and the header) need.
    @Test func needsFollowTheVisibleScreen() throws {
        var (state, _) = try Fixture.state(size: Size(width: 100, height: 30))
        #expect(!state.needs.contains(StoreData.log.need))
        state.view = .events
        #expect(state.needs.contains(StoreData.log.need) && state.needs.contains(StoreData.queueStats.need))
    }
}
