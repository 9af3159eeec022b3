import Foundation
import PipetopTestSupport
@testable import PipetopCore
import Testing

/// The real binary in a real terminal (tmux): the demo end to end, and every way out leaves the
/// terminal as it was. Needs tmux (CI installs it); no test here measures speed.
@Suite(.enabled(if: Child.tmux != nil, "needs tmux"))
struct TerminalTests {
    /// What is wrong with the terminal after the command exited: canonical mode and echo must be
    /// back on, the alternate screen left, the cursor visible, keypad modes off.
    static func problems(_ session: TmuxSession) -> [String] {
        var problems: [String] = []
        let stty = session.ttySettings
        if !(stty.contains(" icanon") && !stty.contains("-icanon")) { problems.append("canonical mode off: \(stty)") }
        if !(stty.contains(" echo ") && !stty.contains("-echo ")) { problems.append("echo off") }
        if session.display("#{alternate_on}") != "0" { problems.append("still on the alternate screen") }
        if session.display("#{cursor_flag}") != "1" { problems.append("cursor hidden") }
        if session.display("#{keypad_cursor_flag}#{keypad_flag}") != "00" { problems.append("keypad mode on") }
        return problems
    }

    func expectRestored(_ session: TmuxSession, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(Self.problems(session) == [], sourceLocation: sourceLocation)
    }

    /// The check above can fail: a program that leaves raw mode, the alternate screen and a hidden
    /// cursor behind is caught.
    @Test func theRestoreCheckCatchesABrokenTerminal() throws {
        let session = try TmuxSession(width: 80, height: 24, command: ["sh", "-c", "stty -icanon -echo; printf '\\033[?1049h\\033[?25l\\033[?1h'"])
        #expect(session.exitStatus() == 0)
        let problems = Self.problems(session)
        #expect(problems.count == 5, "\(problems)")
    }

    func environment(_ dir: URL) -> [String: String] {
        ["XDG_RUNTIME_DIR": dir.appendingPathComponent("run").path, "XDG_STATE_HOME": dir.appendingPathComponent("state").path,
         "XDG_CONFIG_HOME": dir.appendingPathComponent("config").path]
    }

    /// The selected queue's successes: its lifetime count, or (where the panel has no room for it)
    /// those of its latency window.
    static func succeeded(_ screen: String) -> Int? {
        if let range = screen.range(of: #"succeeded (\d+)"#, options: .regularExpression) {
            return Int(screen[range].split(separator: " ")[1])
        }
        guard let range = screen.range(of: #"(\d+) in \d+s \(published"#, options: .regularExpression) else { return nil }
        return Int(screen[range].split(separator: " ")[0])
    }

    @Test func demoEndToEnd() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = environment(dir)
        let session = try TmuxSession(width: 100, height: 30, command: [Child.pipetop, "demo", "--store", dir.appendingPathComponent("demo.sqlite").path, "--window", "2s", "--rate", "60"], environment: env)

        // The Overview comes up and the queues move (the selected queue's succeeded count grows).
        #expect(session.waitFor { $0.contains("1 Overview") && $0.contains("index-batch") && (Self.succeeded($0) ?? 0) > 0 }, "\(session.screen())")
        let first = Self.succeeded(session.screen()) ?? 0
        #expect(session.waitFor { (Self.succeeded($0) ?? 0) > first })
        #expect(session.screen().contains("demo pid"))

        // Events, filtered to failures.
        session.keys("2")
        #expect(session.waitFor { $0.contains("FOLLOW") })
        session.keys("/")
        session.type("kind:failed")
        session.keys("Enter")
        #expect(session.waitFor { screen in
            let rows = screen.components(separatedBy: "\n").dropFirst(3).dropLast(3).filter { $0.range(of: #"^ \d\d:\d\d:\d\d\.\d{3} "#, options: .regularExpression) != nil }
            return screen.contains("/kind:failed") && !rows.isEmpty && rows.allSatisfy { $0.contains(" failed ") }
        }, "\(session.screen())")

        // Switch theme live: the colours change and the choice is saved.
        let before = session.screen(colors: true).components(separatedBy: "\n").first ?? ""
        session.keys(":")
        session.type("theme dra")
        session.keys("Tab")
        #expect(session.waitFor { $0.contains(":theme dracula") })
        session.keys("Enter")
        #expect(session.waitFor { $0.contains("theme dracula (saved to") })
        let after = session.screen(colors: true).components(separatedBy: "\n").first ?? ""
        #expect(before != after, "the header's colours changed")
        let config = try String(contentsOf: dir.appendingPathComponent("config/pipetop/config.yaml"), encoding: .utf8)
        #expect(config.contains("theme: dracula"))

        // Resize: down to the minimum, below it, and back.
        session.resize(80, 24)
        #expect(session.waitFor { screen in
            let lines = screen.components(separatedBy: "\n")
            return lines.count >= 24 && lines[23].contains("q quit") && lines[0].contains("pipetop")
        }, "\(session.screen())")
        session.resize(60, 20)
        #expect(session.waitFor { $0.contains("terminal too small") && $0.contains("60×20") })
        session.resize(100, 30)
        #expect(session.waitFor { $0.contains("/kind:failed") && !$0.contains("terminal too small") })

        // Quit: exit 0, the runtime stopped cleanly (its registry entry is gone), terminal restored.
        session.keys("q")
        #expect(session.exitStatus() == 0)
        expectRestored(session)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("run/pipetop").path)) ?? []).isEmpty)
    }

    enum Exit: String, CaseIterable { case q, ctrlC, sigterm, sighup, sigsegv, sigusr1, sigusr2, sigpipe, sigalrm }

    @Test(arguments: Exit.allCases) func everyWayOutRestoresTheTerminal(_ exit: Exit) throws {
        let (_, fixture) = try Fixture.state(size: .init(width: 100, height: 30))  // a store with queues and a log
        let session = try TmuxSession(width: 100, height: 30, command: ["sh", "-c", "ulimit -c 0; exec \"$0\" \"$@\"", Child.pipetop, "--store", fixture.path, "--read-only"],
                                      environment: environment(fixture.directory))
        #expect(session.waitFor { $0.contains("READ-ONLY") && $0.contains("parse") }, "\(session.screen())")
        let expected: Int32
        switch exit {
        case .q: session.keys("q"); expected = 0
        case .ctrlC: session.keys("C-c"); expected = 0
        case .sigterm: kill(try #require(session.pid), SIGTERM); expected = 128 + SIGTERM
        case .sighup: kill(try #require(session.pid), SIGHUP); expected = 128 + SIGHUP
        // A crash still crashes (the status says so), but in a restored terminal.
        case .sigsegv: kill(try #require(session.pid), SIGSEGV); expected = 128 + SIGSEGV
        // Every other signal whose default ends a process ends the dashboard the same way (these
        // left the terminal raw).
        case .sigusr1: kill(try #require(session.pid), SIGUSR1); expected = 128 + SIGUSR1
        case .sigusr2: kill(try #require(session.pid), SIGUSR2); expected = 128 + SIGUSR2
        case .sigpipe: kill(try #require(session.pid), SIGPIPE); expected = 128 + SIGPIPE
        case .sigalrm: kill(try #require(session.pid), SIGALRM); expected = 128 + SIGALRM
        }
        #expect(session.exitStatus() == expected)
        expectRestored(session)
    }

    /// Job control in a shell that has it: Ctrl-Z (a key in raw mode) and a TSTP sent by `kill`
    /// stop the dashboard with the shell's screen back; `fg` (CONT) draws it again.
    @Test func ctrlZAndTSTPSuspendAndFgRedraws() throws {
        let (_, fixture) = try Fixture.state(size: .init(width: 100, height: 30))
        let session = try TmuxSession(width: 100, height: 30, command: ["bash", "--norc", "--noprofile", "-i"], environment: environment(fixture.directory))
        session.type("PS1='shell$ '; \(Child.pipetop) --store \(fixture.path) --read-only")
        session.keys("Enter")
        #expect(session.waitFor { $0.contains("READ-ONLY") && $0.contains("parse") }, "\(session.screen())")
        session.keys("C-z")
        #expect(session.waitFor { $0.contains("Stopped") && !$0.contains("READ-ONLY") }, "the shell's screen: \(session.screen())")
        session.type("fg")
        session.keys("Enter")
        #expect(session.waitFor { $0.contains("READ-ONLY") && $0.contains("parse") && $0.contains("q quit") }, "drawn again: \(session.screen())")
        // The same through a TSTP from outside.
        // Its pid: the process whose command line names this store (a /proc scan: no procps needed).
        let pid = try #require((try FileManager.default.contentsOfDirectory(atPath: "/proc")).compactMap(pid_t.init).first { candidate in
            guard let line = FileManager.default.contents(atPath: "/proc/\(candidate)/cmdline") else { return false }
            let argv = line.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return argv.first == Child.pipetop && argv.contains(fixture.path)
        })
        kill(pid, SIGTSTP)
        #expect(session.waitFor { $0.contains("Stopped") && !$0.contains("READ-ONLY") }, "\(session.screen())")
        session.type("fg")
        session.keys("Enter")
        #expect(session.waitFor { $0.contains("READ-ONLY") && $0.contains("q quit") }, "\(session.screen())")
        session.keys("q")
        #expect(session.waitFor { $0.contains("shell$ ") && !$0.contains("READ-ONLY") })
        session.type("exit")
        session.keys("Enter")
        #expect(session.exitStatus() == 0)
        expectRestored(session)
    }

    /// The dashboard outlives what it watches: its runtime SIGKILLed (the heartbeat goes stale)
    /// and started again (live again, a new pid), a storm of resizes down to 20×5 and back.
    @Test func theDashboardSurvivesItsRuntimeDyingAndComingBackAndResizeStorms() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-survive-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = environment(dir)
        let store = dir.appendingPathComponent("demo.sqlite").path
        func runtime() throws -> Child {
            let child = try Child([Child.pipetop, "demo", "--headless", "--store", store], environment: Child.environment(adding: env), in: dir)
            let deadline = Date().addingTimeInterval(60)
            while !child.stdout.contains(" published "), Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            #expect(child.stdout.contains(" published "), "\(child.stderr)")
            return child
        }
        let first = try runtime()
        let session = try TmuxSession(width: 100, height: 30, command: [Child.pipetop, "--store", store, "--read-only"], environment: env)
        #expect(session.waitFor { $0.contains("demo pid \(first.pid)") && $0.contains("♥ ") && !$0.contains("STALE") }, "\(session.screen())")
        first.signal(SIGKILL)
        _ = first.wait()
        #expect(session.waitFor { $0.contains("demo pid \(first.pid)") && $0.contains("♥ STALE") }, "the dead runtime's heartbeat goes stale: \(session.screen())")
        let second = try runtime()
        defer { second.signal(SIGTERM); _ = second.wait() }
        #expect(session.waitFor { $0.contains("demo pid \(second.pid)") && !$0.contains("STALE") }, "live again: \(session.screen())")
        for n in 0..<30 {
            let sizes = [(20, 5), (200, 60), (80, 24), (61, 19), (120, 40)]
            session.resize(sizes[n % sizes.count].0, sizes[n % sizes.count].1)
        }
        session.resize(20, 5)
        #expect(session.waitFor { $0.contains("terminal too small") }, "\(session.screen())")
        session.resize(100, 30)
        #expect(session.waitFor { $0.contains("demo pid \(second.pid)") && $0.contains("index-batch") && $0.contains("q quit") }, "\(session.screen())")
        session.keys("q")
        #expect(session.exitStatus() == 0)
        expectRestored(session)
    }

    /// Colours follow the terminal: 256 colours under tmux-256color, the 8 basic ones under
    /// `screen`, none at all with NO_COLOR (attributes only).
    @Test(arguments: [("tmux-256color", ""), ("screen", ""), ("tmux-256color", "1")])
    func coloursDegradeInARealTerminal(term: String, noColor: String) throws {
        let (_, fixture) = try Fixture.state(size: .init(width: 100, height: 30))
        var command = ["env", "TERM=\(term)"]
        if !noColor.isEmpty { command.append("NO_COLOR=1") }
        let session = try TmuxSession(width: 100, height: 30, command: command + [Child.pipetop, "--store", fixture.path], environment: environment(fixture.directory))
        #expect(session.waitFor { $0.contains("parse") && $0.contains("q quit") }, "\(session.screen())")
        let sgr = session.screen(colors: true)
        let extended = sgr.contains("[38;5;") || sgr.contains("[48;5;") || sgr.contains(";38;5;") || sgr.contains(";48;5;")
        let basic = sgr.range(of: #"\[(\d+;)*[34][0-7](;\d+)*m"#, options: .regularExpression) != nil
        switch (term, noColor) {
        case ("screen", _): #expect(!extended && basic, "8 colours only")
        case (_, "1"): #expect(!extended && !basic && sgr.contains("7m"), "no colour at all; reverse video marks what colour did")
        default: #expect(extended, "256 colours")
        }
        session.keys("q")
        #expect(session.exitStatus() == 0)
    }

    @Test func badTermIsAClearErrorNotACrash() throws {
        let fixture = try Fixture()
        let session = try TmuxSession(width: 100, height: 30, command: ["env", "TERM=no-such-terminal", Child.pipetop, "--store", fixture.path],
                                      environment: environment(fixture.directory))
        #expect(session.exitStatus() == 1)
        #expect(session.waitFor { $0.contains("unknown terminal type TERM=no-such-terminal") }, "\(session.screen())")
    }
}

/// Attach without a terminal: the choices it makes before any screen is drawn.
@Suite struct AttachTests {
    @Test func withNoRuntimeItSaysHowToStartOne() throws {
        let fixture = try Fixture()
        let env = ["XDG_RUNTIME_DIR": fixture.directory.appendingPathComponent("run").path, "PATH": "/usr/bin:/bin"]
        let plain = try Child.run([Child.pipetop], environment: env, in: fixture.directory)
        #expect(plain.status == 1)
        #expect(plain.stderr.contains("pipetop demo"))
        let named = try Child.run([Child.pipetop, "attach", "nope"], environment: env, in: fixture.directory)
        #expect(named.status == 2)
        #expect(named.stderr.contains("no running runtime named 'nope'"))
    }

    @Test func withSeveralRuntimesItListsThemAndAttachByNameFindsTheStore() throws {
        let fixture = try Fixture()
        let run = fixture.directory.appendingPathComponent("run/pipetop")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for name in ["alpha", "beta"] {
            // This test process stands in for both runtimes: its pid is alive and holds their store open.
            let info = RuntimeInfo(name: name, pid: getpid(), host: "h", store: fixture.path, startedAt: .now(), heartbeatAt: .now())
            try JSONEncoder().encode(info).write(to: run.appendingPathComponent(name + ".json"))
        }
        let env = ["XDG_RUNTIME_DIR": fixture.directory.appendingPathComponent("run").path, "PATH": "/usr/bin:/bin", "TERM": "xterm"]
        let listed = try Child.run([Child.pipetop], environment: env, in: fixture.directory)
        #expect(listed.status == 2)
        #expect(listed.stderr.contains("1) alpha") && listed.stderr.contains("2) beta") && listed.stderr.contains("pipetop attach NAME"))
        // By name it resolves the store and goes on to the terminal (there is none here).
        let named = try Child.run([Child.pipetop, "attach", "beta"], environment: env, in: fixture.directory)
        #expect(named.status == 1)
        #expect(named.stderr.contains("needs a terminal"))
    }

    @Test func withoutATerminalItSaysSo() throws {
        let fixture = try Fixture()
        let result = try Child.run([Child.pipetop, "--store", fixture.path], environment: ["PATH": "/usr/bin:/bin", "TERM": "xterm"], in: fixture.directory)
        #expect(result.status == 1)
        #expect(result.stderr.contains("needs a terminal"))
        let missing = try Child.run([Child.pipetop, "--store", fixture.directory.appendingPathComponent("none.sqlite").path], in: fixture.directory)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no store at"))
        let badRefresh = try Child.run([Child.pipetop, "--store", fixture.path, "--refresh", "soon"], in: fixture.directory)
        #expect(badRefresh.status == 2)
    }
}
