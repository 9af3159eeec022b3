import Foundation
import PipetopCore
import PipetopDemo
import PipetopTerminal
import PipetopUI

/// The dashboard's own cost while attached to a live demo: the real dashboard (the same loop and
/// ncurses backend as `pipetop attach`) runs in a child process on a pseudo-terminal of 160×48 at
/// the default refresh, the car-marketplace demo runs here (what `pipetop demo --headless` runs),
/// and the child's CPU (utime + stime from /proc/<pid>/stat) and peak memory (VmHWM) are read.
enum LiveDashboard {
    struct Result {
        var cpuPercent: Double
        var peakMiB: Double
        var recordsPerSecond: Double
        var seconds: Double
    }

    static let size = Size(width: 160, height: 48)

    /// The demo's runtime and scraper on a fresh store, as `pipetop demo --headless` starts them.
    final class Demo {
        let store: SQLiteStore
        let runtime: Runtime
        let scraper: Scraper

        init(path: String) throws {
            store = try SQLiteStore(path: path)
            var options = Runtime.Options()
            options.register = false
            runtime = try CarMarketplace.runtime(name: "demo", store: store, options: options)
            try runtime.start()
            scraper = Scraper(runtime: runtime, firstNumber: 1)
            scraper.start()
        }

        func stop() {
            scraper.stop()
            runtime.stop()
        }
    }

    /// Attaches a dashboard child to `storePath`, shows `screen`, waits `warmup` seconds, measures
    /// for `seconds`, then quits it with `q`.
    static func measure(storePath: String, store: ReadableStore, screen: ScreenID, warmup: Double, seconds: Double, scratch: URL) throws -> Result {
        var master: Int32 = -1, slave: Int32 = -1
        var window = winsize(ws_row: UInt16(size.height), ws_col: UInt16(size.width), ws_xpixel: 0, ws_ypixel: 0)
        guard openpty(&master, &slave, nil, nil, &window) == 0 else { throw BenchError.lost("no pseudo-terminal") }
        defer { Foundation.close(master) }
        var slaveOpen = true
        defer { if slaveOpen { Foundation.close(slave) } }
        // Drain what the dashboard draws, as a terminal would (else its writes block).
        let drained = DispatchSemaphore(value: 0)
        let terminalSide = master
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while read(terminalSide, &buffer, buffer.count) > 0 {}
            drained.signal()
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, slave, 0)
        posix_spawn_file_actions_adddup2(&actions, slave, 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let executable = Bench.executablePath
        let config = scratch.appendingPathComponent("config.yaml").path
        let arguments = [executable, "--dashboard-child", storePath, "--dashboard-config", config]
        let environment = ["TERM=xterm-256color", "LANG=C.UTF-8", "HOME=\(scratch.path)", "XDG_CONFIG_HOME=\(scratch.path)"]
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        guard posix_spawn(&pid, executable, &actions, &attributes, argv, envp) == 0 else { throw BenchError.lost("could not start the dashboard") }
        // Only the child holds the terminal side now: its exit ends the drain with EIO.
        Foundation.close(slave)
        slaveOpen = false
        var exited = false
        defer {
            if !exited {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }
        }
        func press(_ text: String) { _ = text.utf8CString.withUnsafeBufferPointer { write(master, $0.baseAddress, text.utf8.count) } }

        Thread.sleep(forTimeInterval: 1)
        if screen != .overview { press(String(screen.number)) }
        Thread.sleep(forTimeInterval: warmup)
        // Record seqs are positions (row and step), not counts: count the records themselves.
        let recordsBefore = try store.logTotal()
        let cpuBefore = try cpuSeconds(pid)
        let started = Date()
        Thread.sleep(forTimeInterval: seconds)
        let cpuAfter = try cpuSeconds(pid)
        let elapsed = Date().timeIntervalSince(started)
        let recordsAfter = try store.logTotal()
        let peakKiB = try peakMemoryKiB(pid)
        press("q")
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid { exited = true; break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        guard exited, status == 0 else { throw BenchError.lost("the dashboard did not quit cleanly (status \(status))") }
        _ = drained.wait(timeout: .now() + 2)
        return Result(cpuPercent: (cpuAfter - cpuBefore) / elapsed * 100, peakMiB: Double(peakKiB) / 1024,
                      recordsPerSecond: Double(recordsAfter - recordsBefore) / elapsed, seconds: elapsed)
    }

    /// utime + stime of `pid`, in seconds.
    static func cpuSeconds(_ pid: pid_t) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
        guard let close = stat.lastIndex(of: ")") else { throw BenchError.lost("unreadable /proc/\(pid)/stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3); utime and stime are fields 14 and 15.
        guard fields.count > 12, let utime = Double(fields[11]), let stime = Double(fields[12]) else {
            throw BenchError.lost("unreadable /proc/\(pid)/stat")
        }
        return (utime + stime) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func peakMemoryKiB(_ pid: pid_t) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        guard let peak = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else {
            throw BenchError.lost("no VmHWM in /proc/\(pid)/status")
        }
        return peak
    }

    /// The child: the dashboard as `pipetop --store PATH --read-only` runs it, on this process's terminal.
    static func runChild(storePath: String, configPath: String) throws {
        let store = try SQLiteStore(path: storePath, readOnly: true)
        let terminal = try Terminal(logPath: nil)
        let options = DashboardLoop.Options(
            store: store, storeLocation: storePath, readOnly: true, runtimeName: "demo", refresh: .milliseconds(250), capacity: 10_000,
            theme: "default", themes: ThemeService(catalog: .standard, configPath: configPath))
        let exit = try DashboardLoop(options, backend: terminal).run()
        if case .signal(let number) = exit { TerminalRestore.reraise(number) }
    }
}
