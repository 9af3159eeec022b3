import ArgumentParser
import Dispatch
import Foundation
import PipetopCore
import PipetopDemo
import PipetopTerminal
import PipetopUI

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the car-marketplace demo: a 15 s batch job and an event-driven pipeline side by side.",
        discussion: """
            A scraper publishes listing.uploaded events (steady, with bursts). They feed the old cron job \
            (queue index-batch, released every 15 s) and the event-driven path parse → enrich → index + notify. \
            About 2 % of listings are malformed, their price sent as text ("12,500"): dead-lettered at once, \
            and repaired by an edit (`e` on the Dead letters screen, or `pipetop dlq edit ID`; \
            `--set /price=12500` for several), after which they go through the whole pipeline. 5 % time out \
            once (retried), and a few are poison (retried until dead-lettered).
            """)

    @OptionGroup var storeOptions: StoreOptions

    @Flag(help: "Run without a terminal and print one status line per second.")
    var headless = false

    @Option(help: ArgumentHelp("Stop after this long (e.g. 30s, 2m). Default: until interrupted.", valueName: "duration"))
    var duration: String?

    @Option(help: "Listings published per second between bursts; 0 publishes none (a node that only serves the queues).")
    var rate: Double = 40

    @Option(help: "Runtime processes to run (this one and NODES-1 more, each a node of the same runtime sharing its queues; best on PostgreSQL). They stop with this one.")
    var nodes = 1

    /// A node started by `--nodes`: it ends when the process that started it does.
    @Flag(help: .hidden)
    var exitWithParent = false

    @Option(help: ArgumentHelp("The batch queue's window (the cron interval).", valueName: "duration"))
    var window = "15s"

    @Option(help: "The runtime's name, as `pipetop ls` shows it. Another name than `demo` qualifies the listings' ids (listing-N@name), so demos running side by side on one store never share an id.")
    var name = "demo"

    /// Listings of the default demo are `listing-N`; another run's `listing-N@name` (see `Listing.event`).
    private var scraperRun: String? { name == "demo" ? nil : name }

    @Option(help: ArgumentHelp("How long the store may refuse every write (a full disk, a lock held) before the runtime gives up and the demo exits 1; meanwhile it retries and says so.", valueName: "duration"))
    var giveUpAfter = "5m"

    @Option(name: .customLong("cpu-keep"), help: ArgumentHelp("How long CPU samples are kept (the runtime deletes older ones once a minute).", valueName: "duration"))
    var cpuKeep = "24h"

    @Option(name: .customLong("cpu-samples"), help: ArgumentHelp("At most this many CPU samples are kept (the oldest go first).", valueName: "count"))
    var cpuSamples = CPURetention.default.count

    @OptionGroup var dashboard: DashboardOptions

    func run() throws {
        if storeOptions.readOnly { throw BadInput("the demo writes to its store; --read-only does not apply") }
        var limit: Duration?
        if let duration {
            guard let parsed = Duration(parsing: duration), parsed > .zero else {
                throw BadInput("--duration '\(duration)' is not a duration such as 30s or 2m")
            }
            limit = parsed
        }
        guard let batchWindow = Duration(parsing: window), batchWindow >= .milliseconds(100) else {
            throw BadInput("--window '\(window)' is not a duration of at least 100ms")
        }
        guard rate >= 0, rate <= 100_000 else { throw BadInput("--rate must be between 0 and 100000") }
        guard (1...16).contains(nodes) else { throw BadInput("--nodes must be between 1 and 16") }
        if exitWithParent { Nodes.exitWithParent() }
        guard let giveUp = Duration(parsing: giveUpAfter), giveUp > .zero else {
            throw BadInput("--give-up-after '\(giveUpAfter)' is not a duration such as 5m or 30s")
        }
        guard let keep = Duration(parsing: cpuKeep), keep >= .seconds(60) else {
            throw BadInput("--cpu-keep '\(cpuKeep.terminalSafe)' is not a duration of at least 1m, such as 24h")
        }
        guard cpuSamples >= 100 else { throw BadInput("--cpu-samples must be at least 100") }
        var options = Runtime.Options()
        options.cpuRetention = CPURetention(age: keep, count: cpuSamples)
        options.giveUpAfter = giveUp
        // Under the dashboard the header says it (stderr would write over the screen).
        if !headless { options.onError = { _ in } }

        let path = storeOptions.named ?? StoreOptions.demoStorePath
        let store: Store
        store = try StoreOptions.opening { try openStore(url: path, readOnly: false, busyTimeout: try storeOptions.busyWait, progress: StoreOptions.sayProgress) }
        let runtime: Runtime
        do {
            runtime = try CarMarketplace.runtime(name: name, store: store, batchWindow: batchWindow, options: options)
            try runtime.start()
        } catch let error as ConfigurationError {
            throw Failure(error.description)
        }
        // The other nodes: this command again, serving only, on the same store (named in their
        // environment, not their arguments, which `ps` shows to everyone: a URL may hold a password),
        // under the same name.
        let others = try Nodes(count: nodes - 1, store: path, arguments: ["demo", "--headless", "--exit-with-parent", "--rate", "0", "--name", name,
                                                                           "--window", window, "--give-up-after", giveUpAfter, "--busy-timeout", storeOptions.busyTimeout])
        defer { others.stop() }
        if !headless {
            // The dashboard, attached to the demo's store through the same path as `pipetop attach`.
            let settings = try dashboard.validated()
            let scraper = Scraper(runtime: runtime, rate: rate, firstNumber: UInt64(try store.publishedTotal()) + 1, run: scraperRun)
            if rate > 0 { scraper.start() }
            // --duration ends the dashboard the way a SIGTERM would (its loop restores the terminal).
            let stopTimer = limit.map { limit in
                let timer = DispatchWorkItem { kill(getpid(), SIGTERM) }
                DispatchQueue.global().asyncAfter(deadline: .now() + limit.secondsDouble, execute: timer)
                return timer
            }
            // A runtime that gave up on its store ends the demo (the dashboard showed it in red).
            let watcher = DispatchSource.makeTimerSource(queue: .global())
            watcher.schedule(deadline: .now() + 1, repeating: 1)
            watcher.setEventHandler { if runtime.storeWriteFailure?.gaveUp == true { kill(getpid(), SIGTERM) } }
            watcher.resume()
            defer { watcher.cancel() }
            let exit: DashboardExit
            do {
                exit = try Attach.runDashboard(path: path, readOnly: false, busyTimeout: try storeOptions.busyWait, runtimeName: name, options: dashboard, settings: settings)
            } catch {
                scraper.stop()
                runtime.stop()
                throw error
            }
            stopTimer?.cancel()
            let failure = runtime.storeWriteFailure
            scraper.stop()
            runtime.stop()
            if let failure, failure.gaveUp { throw Failure("the store stayed unwritable, the runtime gave up: \(failure)") }
            if case .signal(let number) = exit, number != SIGTERM || limit == nil { TerminalRestore.reraise(number) }
            return
        }
        let interrupted = SignalWaiter([SIGINT, SIGTERM, SIGHUP])
        let scraper = Scraper(runtime: runtime, rate: rate, firstNumber: UInt64(try store.publishedTotal()) + 1, run: scraperRun)
        if rate > 0 { scraper.start() }

        print("pipetop demo: runtime '\(name.terminalSafe)' on \(store.location.terminalSafe)" + (nodes > 1 ? " (\(nodes) nodes: pids \(([getpid()] + others.pids).map(String.init).joined(separator: ", ")))" : ""))
        let started = Date()
        var line = 0
        while true {
            let elapsed = Date().timeIntervalSince(started)
            if let limit, elapsed >= limit.secondsDouble { break }
            line += 1
            let next = started.addingTimeInterval(Double(line))
            let wait = limit.map { min(next, started.addingTimeInterval($0.secondsDouble)) } ?? next
            if interrupted.wait(until: wait) { break }
            if let failure = runtime.storeWriteFailure {
                // The store refuses writes: said every second, and the end if the runtime gave up.
                print("pipetop demo: \(failure)".terminalSafe)
                fflush(nil)
                if failure.gaveUp {
                    scraper.stop()
                    runtime.stop()
                    throw Failure("the store stayed unwritable, the runtime gave up: \(failure)")
                }
                continue
            }
            if let status = try? StatusLine.render(store: store, elapsed: Date().timeIntervalSince(started)) {
                print(status)
                fflush(nil)  // all streams: Swift 6 forbids touching the global `stdout`
            }
        }
        scraper.stop()
        runtime.stop()
        if let status = try? StatusLine.render(store: store, elapsed: Date().timeIntervalSince(started)) {
            print("stopped: " + status)
        }
    }
}

/// The headless status: per second, what was published and, per queue, what is done, retrying,
/// dead and still waiting.
enum StatusLine {
    static func render(store: ReadableStore, elapsed: Double) throws -> String {
        let (published, queues) = try store.read { (try $0.publishedTotal(), try $0.queueStats(now: .now())) }
        var parts = [String(format: "%5.0fs published %lld", elapsed, published)]
        for queue in queues {
            // "retrying": messages in their retry cycle (waiting for or running attempt 2+), counted once.
            var part = "\(queue.name.terminalSafe) done \(queue.succeeded) retrying \(queue.poison) dead \(queue.dead) depth \(queue.ready + queue.inFlight)"
            if queue.held > 0 || queue.mode?.isBatch == true { part += " held \(queue.held)" }
            parts.append(part)
        }
        return parts.joined(separator: " | ")
    }
}

/// The demo's other runtime processes (`--nodes`): started with it, stopped with it (SIGTERM,
/// then waited for), and each ends by itself if this process dies first.
final class Nodes {
    private var processes: [Process] = []
    var pids: [Int32] { processes.map(\.processIdentifier) }

    init(count: Int, store: String, arguments: [String]) throws {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0].hasPrefix("/")
            ? CommandLine.arguments[0] : FileManager.default.currentDirectoryPath + "/" + CommandLine.arguments[0])
        for _ in 0..<count {
            let process = Process()
            process.executableURL = executable
            process.arguments = arguments
            process.environment = ProcessInfo.processInfo.environment.merging(["PIPETOP_STORE": store]) { $1 }
            // Its status lines are not shown (the dashboard or this process's own show the store);
            // what it says on stderr goes to this process's stderr in headless mode.
            process.standardOutput = FileHandle.nullDevice
            process.standardInput = FileHandle.nullDevice
            if isatty(1) == 1 { process.standardError = FileHandle.nullDevice }
            do {
                try process.run()
            } catch {
                stop()
                throw Failure("could not start another node of the demo: \(error)")
            }
            processes.append(process)
        }
    }

    /// Stops every node and waits for it; says which did not end cleanly.
    func stop() {
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGTERM) }
        for process in processes {
            process.waitUntilExit()
            if process.terminationStatus != 0, !(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGTERM) {
                FileHandle.standardError.write(Data("pipetop demo: node pid \(process.processIdentifier) ended with status \(process.terminationStatus)\n".utf8))
            }
        }
        processes.removeAll()
    }

    /// In a node: a SIGTERM to itself once the process that started it is gone (checked twice a
    /// second: its parent then changes), so none is left behind, even after a SIGKILL.
    static func exitWithParent() {
        let parent = getppid()
        Thread.detachNewThread {
            while getppid() == parent { usleep(500_000) }
            kill(getpid(), SIGTERM)
        }
    }
}
