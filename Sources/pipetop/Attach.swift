import ArgumentParser
import Foundation
import PipetopCore
import PipetopTerminal
import PipetopUI

/// Options of the dashboard, shared by `attach` and `demo`.
struct DashboardOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Theme name (themes/ and $XDG_CONFIG_HOME/pipetop/themes/). Default: the saved one, else default.", valueName: "name"))
    var theme: String?

    @Option(help: ArgumentHelp("How often the store is read (e.g. 250ms, 1s).", valueName: "duration"))
    var refresh = "250ms"

    @Option(help: ArgumentHelp("Log records kept in memory; older ones are read back from the store on scroll.", valueName: "n"))
    var buffer = 10_000

    func validated() throws -> (refresh: Duration, buffer: Int) {
        guard let interval = Duration(parsing: refresh), interval >= .milliseconds(20), interval <= .seconds(60) else {
            throw BadInput("--refresh '\(refresh)' is not a duration between 20ms and 60s")
        }
        guard (100...1_000_000).contains(buffer) else { throw BadInput("--buffer must be between 100 and 1000000") }
        return (interval, buffer)
    }
}

/// `pipetop` / `pipetop attach [NAME]`: the dashboard on a running runtime's store (found through
/// the registry), or on any store file with `--store` (post-mortem).
struct Attach: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the dashboard on a running runtime (the default command).",
        discussion: "With several runtimes running, name one (see `pipetop ls`). With --store PATH (or $PIPETOP_STORE), attach to that store file directly, running runtime or not.")

    @Argument(help: "The runtime's name, as `pipetop ls` shows it.")
    var name: String?

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var dashboard: DashboardOptions

    func run() throws {
        let settings = try dashboard.validated()
        let path: String
        var runtimeName = name
        if let store = storeOptions.named {
            path = store
            guard PostgresURL.isPostgres(path) || FileManager.default.fileExists(atPath: path) else { throw Failure("no store at \(path.terminalSafe)") }
        } else {
            let alive = try StoreOptions.opening { try Registry.entries() }.filter(\.alive).map(\.runtime)
            if let name {
                guard let match = alive.first(where: { $0.name == name }) else {
                    let names = alive.map(\.name.terminalSafe).joined(separator: ", ")
                    throw BadInput("no running runtime named '\(name.terminalSafe)'" + (names.isEmpty ? "; start one with `pipetop demo`" : " (running: \(names))"))
                }
                path = match.store
            } else if alive.isEmpty {
                throw Failure("no running runtime found; start one with `pipetop demo` (or attach to a store file with --store PATH)")
            } else if alive.count == 1 {
                path = alive[0].store
                runtimeName = alive[0].name
            } else {
                let chosen = try Self.choose(among: alive)
                path = chosen.store
                runtimeName = chosen.name
            }
        }
        let exit = try Self.runDashboard(path: path, readOnly: storeOptions.readOnly, busyTimeout: try storeOptions.busyWait, runtimeName: runtimeName, options: dashboard, settings: settings)
        if case .signal(let number) = exit { TerminalRestore.reraise(number) }
    }

    /// Several runtimes: list them and read a choice (or, without a terminal, say how to choose).
    static func choose(among runtimes: [RuntimeInfo]) throws -> RuntimeInfo {
        let now = Timestamp.now()
        var lines = ["several runtimes are running:"]
        for (index, runtime) in runtimes.enumerated() {
            let age = (now - runtime.heartbeatAt).secondsDouble
            lines.append(String(format: "  %d) %@  pid %d  %@  heartbeat %.1fs ago", index + 1, runtime.name.terminalSafe, runtime.pid, runtime.store.terminalSafe, age))
        }
        guard isatty(0) == 1 else {
            throw BadInput(lines.joined(separator: "\n") + "\nname one: pipetop attach NAME")
        }
        print(lines.joined(separator: "\n"))
        print("attach to which? [1-\(runtimes.count)] ", terminator: "")
        fflush(nil)
        guard let answer = readLine()?.trimmingCharacters(in: .whitespaces) else { throw BadInput("no runtime chosen") }
        if let number = Int(answer), (1...runtimes.count).contains(number) { return runtimes[number - 1] }
        if let match = runtimes.first(where: { $0.name == answer }) { return match }
        throw BadInput("'\(answer.terminalSafe)' is not one of the listed runtimes")
    }

    /// The one attach path: `pipetop`, `pipetop attach` and `pipetop demo` all end here.
    static func runDashboard(path: String, readOnly: Bool, busyTimeout: Duration, runtimeName: String?, options: DashboardOptions, settings: (refresh: Duration, buffer: Int)) throws -> DashboardExit {
        // The dashboard reads through a reader; replays and deletes from the Dead letters screen go
        // through a writer, opened only without --read-only (which also removes those keys).
        let open: StoreReader.Reopen = {
            let store = try StoreOptions.opening { try openReader(url: path, busyTimeout: busyTimeout, untouched: readOnly) }
            let writer: Store? = readOnly ? nil : try StoreOptions.opening { try openStore(url: path, readOnly: false, create: false, busyTimeout: busyTimeout, progress: StoreOptions.sayProgress) }
            return (store, writer)
        }
        let (store, writer) = try open()
        let terminal: Terminal
        do { terminal = try Terminal(logPath: logPath) } catch let error as TerminalError { throw Failure(error.description) }
        let loop = DashboardLoop(DashboardLoop.Options(
            store: store, writer: writer, storeLocation: store.location, readOnly: readOnly, runtimeName: runtimeName, refresh: settings.refresh,
            capacity: settings.buffer, theme: options.theme, reopen: open), backend: terminal)
        do {
            return try loop.run()
        } catch let error as LoopError {
            throw Failure(error.description)
        }
    }

    /// Where stderr goes while the dashboard owns the terminal.
    static var logPath: String {
        let environment = ProcessInfo.processInfo.environment
        let state = environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".local/state")
        return (state as NSString).appendingPathComponent("pipetop/dashboard.log")
    }
}
