import ArgumentParser
import Foundation
import PipetopCore

extension DeadLetters {
    /// `pipetop dlq jobs`: bulk replays tracked in the store, and the changes an operator makes to them.
    struct Jobs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay jobs: list them, follow one, pause, resume, cancel, change the rate, run one.",
            discussion: """
                A bulk replay (`dlq replay --all-matching`, or R in the dashboard) is a job in the store: its \
                set is fixed when it starts, it moves letters at its rate (default \(ReplayJobRequest.defaultRate)/s; \
                0 is unthrottled), and it stops by itself when \(ReplayJob.AutoStop.description). A running runtime \
                carries every running job; with none running, `dlq jobs run ID` runs one in the foreground. Every \
                change is audited.
                """,
            subcommands: [List.self, Show.self, Pause.self, Resume.self, Cancel.self, Rate.self, Run.self],
            defaultSubcommand: List.self)

        static func json(_ job: ReplayJob) -> [String: Any] {
            var object: [String: Any] = [
                "id": job.id, "state": job.state.rawValue, "selection": job.selection, "rate": job.rate, "total": job.total,
                "moved": job.moved, "skipped": job.skipped, "remaining": job.remaining, "delivered": job.succeeded,
                "failed_again": job.failedAgain, "waiting": job.undecided, "created_by": job.createdBy.description,
                "created_at": job.createdAt.rfc3339, "updated_at": job.updatedAt.rfc3339,
            ]
            if let to = job.to { object["to"] = to }
            if let finished = job.finishedAt { object["finished_at"] = finished.rfc3339 }
            if let reason = job.stopReason { object["stop_reason"] = reason }
            if let runner = job.runner, job.isCarried(at: .now()) { object["runner"] = runner }
            if let eta = job.eta { object["eta_seconds"] = eta.secondsDouble }
            return object
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "ls", abstract: "Replay jobs, newest first.")

            @OptionGroup var storeOptions: StoreOptions
            @OptionGroup var output: OutputOptions

            @Option(name: [.customShort("n"), .long], help: "Jobs per page (default: 20).")
            var limit = 20

            @Option(help: ArgumentHelp("Continue after this cursor (printed after a page that has more).", valueName: "cursor"))
            var after: String?

            func run() throws {
                guard limit > 0 else { throw BadInput("--limit must be 1 or more, not \(limit)") }
                let cursor = try after.map { text in
                    guard let cursor = PageCursor(text) else { throw BadInput("--after takes a cursor as printed after a page, not '\(text.terminalSafe)'") }
                    return cursor
                }
                let page = try storeOptions.openReader().replayJobs(page: PageRequest(limit: limit, after: cursor))
                if output.json {
                    for job in page.items { try DeadLetters.printJSON(Jobs.json(job)) }
                    if let next = page.next { FileHandle.standardError.write(Data("more: --after \(next)\n".utf8)) }
                    return
                }
                let now = Timestamp.now()
                var rows = [["ID", "CREATED", "BY", "SELECTION", "PROGRESS"]]
                for job in page.items {
                    rows.append([
                        "\(job.id)", job.createdAt.rfc3339, job.createdBy.description.terminalSafe, DeadLetters.oneLine(job.selection, max: 60),
                        job.summary(now: now).terminalSafe,
                    ])
                }
                DeadLetters.printTable(rows, rightAligned: [0])
                print("\(page.items.count) replay job\(page.items.count == 1 ? "" : "s")" + (page.next.map { "; more: --after \($0)" } ?? ""))
            }
        }

        struct JobID: ParsableArguments {
            @Argument(help: "The job's id (the ID column of `dlq jobs`).")
            var id: Int64
        }

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "One replay job and its progress.")

            @OptionGroup var storeOptions: StoreOptions
            @OptionGroup var output: OutputOptions
            @OptionGroup var job: JobID

            func run() throws {
                guard let found = try storeOptions.openReader().replayJob(id: job.id) else { throw BadInput("no replay job \(job.id) in this store") }
                if output.json { return try DeadLetters.printJSON(Jobs.json(found)) }
                print("replay job \(found.id), created \(found.createdAt.rfc3339) by \(found.createdBy.description.terminalSafe)")
                print("selection: \(found.selection.terminalSafe)")
                print(found.summary(now: .now()).terminalSafe)
            }
        }

        /// Pause, resume, cancel and rate: one change, audited, refused with `--read-only`.
        static func control(_ storeOptions: StoreOptions, _ id: Int64, _ control: ReplayJobControl) throws {
            if storeOptions.readOnly { throw BadInput("dlq jobs \(control) changes the store; it is refused with --read-only") }
            do {
                let job = try storeOptions.open().controlReplayJob(id, control, by: .current, at: .now())
                print("replay job \(job.id): \(job.summary(now: .now()))".terminalSafe)
            } catch let error as ReplayJobError {
                throw BadInput(error.description)
            }
        }

        struct Pause: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Pause a running job (what moved stays moved).")
            @OptionGroup var storeOptions: StoreOptions
            @OptionGroup var job: JobID
            func run() throws { try Jobs.control(storeOptions, job.id, .pause) }
        }

        struct Resume: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Resume a paused job, or one that stopped by itself.")
            @OptionGroup var storeOptions: StoreOptions
            @OptionGroup var job: JobID
            func run() throws { try Jobs.control(storeOptions, job.id, .resume) }
        }

        struct Cancel: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Cancel a job: nothing more moves; what moved stays moved.")
            @OptionGroup var storeOptions: StoreOptions
            @OptionGroup var job: JobID
            func run() throws { try Jobs.control(storeOptions, job.id, .cancel) }
        }

        struct Rate: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Change a job's rate while it runs (letters per second; 0: unthrottled).")
            @OptionGroup var storeOptions: StoreOptions
            @OptionGroup var job: JobID
            @Argument(help: "Letters per second; 0: unthrottled.")
            var rate: Int
            func run() throws {
                guard rate >= 0 else { throw BadInput("the rate must be 0 (unthrottled) or more letters per second, not \(rate)") }
                try Jobs.control(storeOptions, job.id, .rate(rate))
            }
        }

        struct Run: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Run a job in the foreground (when no runtime carries it), with its progress; Ctrl-C pauses it.")
            @OptionGroup var storeOptions: StoreOptions
            @OptionGroup var job: JobID
            func run() throws {
                if storeOptions.readOnly { throw BadInput("dlq jobs run changes the store; it is refused with --read-only") }
                let store = try storeOptions.open()
                guard try store.replayJob(id: job.id) != nil else { throw BadInput("no replay job \(job.id) in this store") }
                try Jobs.follow(job.id, store: store)
            }
        }

        /// Runs a job in the foreground until it no longer runs, drawing its progress (a bar redrawn on a
        /// terminal, a line a second when piped). Ctrl-C (or TERM, HUP) pauses it and exits 130. A job that
        /// stopped by itself or was cancelled exits 1.
        static func follow(_ id: Int64, store: Store) throws {
            let interrupted = SignalWaiter([SIGINT, SIGTERM, SIGHUP])
            let runner = ReplayJobRunner(store: store, name: ReplayJobRunner.name("pipetop dlq by \(Operator.current)"))
            let terminal = isatty(1) != 0
            var lastLine = Date.distantPast
            var heldBy: String?
            let job = try runner.run(id, progress: { step in
                if let holder = step.heldBy, holder != heldBy {
                    heldBy = holder
                    if terminal { print("") }
                    print("run by \(holder) meanwhile: following its progress".terminalSafe)
                }
                if terminal {
                    let width = 30
                    let filled = Int((step.job.progress * Double(width)).rounded(.down))
                    let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
                    print("\r\(bar) \(step.job.summary(now: .now()).terminalSafe)\u{1B}[K", terminator: "")
                    fflush(nil)
                } else if Date().timeIntervalSince(lastLine) >= 1 || step.job.state != .running {
                    lastLine = Date()
                    print("replay job \(id): \(step.job.summary(now: .now()))".terminalSafe)
                }
            }, shouldStop: { interrupted.wait(until: Date()) })
            if terminal { print("") }
            if job.state == .running {
                let paused = try store.controlReplayJob(id, .pause, by: .current, at: .now())
                print("paused replay job \(id) at \(paused.moved) of \(paused.total): `pipetop dlq jobs resume \(id)` goes on (a running runtime then carries it)")
                Foundation.exit(130)
            }
            print("replay job \(id): \(job.summary(now: .now()))".terminalSafe)
            switch job.state {
            case .done, .running: return
            case .paused: print("paused by someone else: `pipetop dlq jobs resume \(id)` goes on")
            case .stopped: throw Failure("replay job \(id) \(job.stopReason ?? "stopped"); `pipetop dlq jobs resume \(id)` goes on")
            case .cancelled: throw Failure("replay job \(id) was cancelled")
            }
        }
    }
}

extension DeadLetters {
    /// `pipetop dlq export FILE`: the matching dead letters as JSON lines, one CloudEvent each.
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export dead letters to a JSON-lines file: one CloudEvent per line with its dead-letter metadata.",
            discussion: """
                Each line is the event as CloudEvents JSON with these extension attributes added: \
                \(DeadLetterExport.attributes.map { "\($0.name) (\($0.meaning))" }.joined(separator: ", ")). \
                The file is created 0600 and appears whole or not at all; an existing file is refused unless --force. \
                `-` writes to standard output.
                """)

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var filter: Filter

        @Argument(help: "The file to create, or - for standard output.")
        var file: String

        @Argument(help: "Only these dead letter message ids (default: every one matching the filter).")
        var ids: [Int64] = []

        @Flag(help: "Replace the file if it exists.")
        var force = false

        func run() throws {
            let store = try storeOptions.openReader()
            let selection = try filter.selection(ids: ids.isEmpty ? nil : ids)
            if file == "-" {
                var cursor: PageCursor?
                let terminal = isatty(1) != 0
                repeat {
                    let page = try store.deadLetters(selection, page: PageRequest(limit: 1_000, after: cursor))
                    for letter in page.items {
                        let line = DeadLetterExport.line(letter)
                        print(terminal ? line.jsonTerminalSafe : line)
                    }
                    cursor = page.next
                } while cursor != nil
                return
            }
            do {
                let count = try DeadLetterExport.write(selection, from: store, to: file, replace: force)
                print("exported \(count) dead letter\(count == 1 ? "" : "s") (\(selection)) to \(file)".terminalSafe)
            } catch let error as DeadLetterExport.FileExists {
                throw BadInput(error.description + " (--force replaces it)")
            }
        }
    }
}
