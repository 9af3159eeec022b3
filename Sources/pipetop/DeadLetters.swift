import ArgumentParser
import Foundation
import PipetopCore

/// `pipetop dlq`: the dead letters for runbooks, with the dashboard's filters.
struct DeadLetters: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "Dead letters: list, group by cause, show, replay, edit then replay, delete.",
        discussion: """
            A dead letter's cause is its fingerprint: the last error with numbers, ids, hex, quoted values, \
            paths and URLs folded (`dlq groups` lists them). Filters combine; every count is a true total \
            read from the store. --error and --payload find text anywhere in any attempt's error or in the \
            payload (JSON or text as stored; binary payloads are not searched), case-insensitively, through \
            the store's trigram index: 3 characters or more, taken literally (quotes, `*`, `AND` are text). Replay keeps the event (id, correlation, causation, time) and gives it a \
            new delivery with a fresh attempt budget; each replay or delete is one transaction with an audit \
            record, and a dead letter is moved once however many replays run at once.
            """,
        subcommands: [List.self, Groups.self, Show.self, Replay.self, Edit.self, Remove.self, Export.self, Jobs.self],
        defaultSubcommand: List.self)

    /// The selection options every subcommand shares.
    struct Filter: ParsableArguments {
        @Option(help: ArgumentHelp("Only dead letters of this queue.", valueName: "queue"))
        var queue: String?

        @Option(help: ArgumentHelp("Only events of this type.", valueName: "type"))
        var type: String?

        @Option(help: ArgumentHelp("Only this cause (a fingerprint as `dlq groups` prints it).", valueName: "text"))
        var fingerprint: String?

        @Option(help: ArgumentHelp(
            "Only those with this text in any attempt's error (case-insensitive, 3 characters or more).", valueName: "text"))
        var error: String?

        @Option(help: ArgumentHelp(
            "Only those with this text in the payload, JSON or text as stored (case-insensitive, 3 characters or more; binary payloads are not searched).",
            valueName: "text"))
        var payload: String?

        @Option(help: ArgumentHelp("Only those dead at or after (RFC 3339, or a duration ago: 10m).", valueName: "time"))
        var since: String?

        @Option(help: ArgumentHelp("Only those dead before (RFC 3339, or a duration ago).", valueName: "time"))
        var until: String?

        @Flag(help: "Only those that failed again after a replay.")
        var failedAgain = false

        @Flag(help: "Only those never replayed.")
        var neverReplayed = false

        func selection(ids: [Int64]? = nil) throws -> DeadLetterSelection {
            if failedAgain && neverReplayed { throw BadInput("--failed-again and --never-replayed exclude each other") }
            let now = Timestamp.now()
            let selection = DeadLetterSelection(
                queue: queue, messageIDs: ids, type: type, fingerprint: fingerprint,
                failedAgain: failedAgain ? true : neverReplayed ? false : nil,
                deadSince: try since.map { try Events.time($0, option: "--since", now: now) },
                deadUntil: try until.map { try Events.time($0, option: "--until", now: now) },
                errorText: error, payloadText: payload)
            if let problem = selection.problem { throw BadInput("--" + problem) }
            return selection
        }
    }

    /// The JSON of a dead letter: its metadata and the envelope as CloudEvents JSON.
    static func json(_ letter: DeadLetter) -> [String: Any] {
        var object: [String: Any] = [
            "message_id": letter.messageID, "queue": letter.queue, "reason": letter.reason.rawValue, "attempts": letter.attempts,
            "deliveries": letter.deliveries, "replays": letter.replays, "fingerprint": letter.fingerprint,
            "enqueued_at": letter.enqueuedAt.rfc3339, "dead_at": letter.deadAt.rfc3339,
            "errors": letter.errors.map { ["attempt": $0.attempt, "at": $0.at.rfc3339, "error": $0.error] as [String: Any] },
            // The envelope as `pipetop events` prints it (CloudEvents JSON), as a value of this object.
            "event": (try? JSONSerialization.jsonObject(with: Data(letter.event.jsonString().utf8))) ?? [:],
        ]
        if let first = letter.firstFailedAt { object["first_failed_at"] = first.rfc3339 }
        return object
    }

    static func printJSON(_ object: Any) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self).jsonTerminalSafe)
    }

    /// Columns padded to their widest cell (the last one is not padded).
    static func printTable(_ rows: [[String]], rightAligned: Set<Int> = []) {
        guard let header = rows.first else { return }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(row.enumerated().map { index, cell in
                if index == row.count - 1 { return cell }
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                return rightAligned.contains(index) ? pad + cell : cell + pad
            }.joined(separator: "  "))
        }
    }

    static func oneLine(_ text: String, max: Int = 80) -> String {
        let flat = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        let cut = flat.count > max ? String(flat.prefix(max - 1)) + "…" : flat
        return cut.terminalSafe
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List dead letters, newest dead first, a page at a time.")

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var filter: Filter
        @OptionGroup var output: OutputOptions

        @Option(name: [.customShort("n"), .long], help: "Dead letters per page (default: 50).")
        var limit = 50

        @Option(help: ArgumentHelp("Continue after this cursor (printed after a page that has more).", valueName: "cursor"))
        var after: String?

        func run() throws {
            guard limit > 0 else { throw BadInput("--limit must be 1 or more, not \(limit)") }
            let cursor = try after.map { text in
                guard let cursor = PageCursor(text) else { throw BadInput("--after takes a cursor as printed after a page (like 1800000000000000.17), not '\(text.terminalSafe)'") }
                return cursor
            }
            let store = try storeOptions.openReader()
            let selection = try filter.selection()
            let (page, total, maxAttempts) = try store.read { snapshot in
                (try snapshot.deadLetters(selection, page: PageRequest(limit: limit, after: cursor)), try snapshot.deadLetterCount(selection),
                 Dictionary(try snapshot.queueStats(now: .now()).map { ($0.name, $0.maxAttempts) }, uniquingKeysWith: { a, _ in a }))
            }
            if output.json {
                for letter in page.items { try DeadLetters.printJSON(DeadLetters.json(letter)) }
                if let next = page.next { FileHandle.standardError.write(Data("more: --after \(next)\n".utf8)) }
                return
            }
            var rows = [["DEAD AT", "ID", "QUEUE", "TYPE", "CORRELATION", "ATTEMPTS", "REASON", "REPLAYS", "LAST ERROR"]]
            for letter in page.items {
                let max = maxAttempts[letter.queue].map { $0 > 0 ? "/\($0)" : "" } ?? ""
                rows.append([
                    letter.deadAt.rfc3339, "\(letter.messageID)", letter.queue.terminalSafe, letter.event.type.terminalSafe,
                    (letter.event.correlationID ?? "").terminalSafe, "\(letter.attempts)\(max)", letter.reason.rawValue, "\(letter.replays)",
                    DeadLetters.oneLine(letter.errors.last?.error ?? ""),
                ])
            }
            DeadLetters.printTable(rows, rightAligned: [1, 5, 7])
            let shown = page.items.count
            print("\(shown) of \(total) dead letter\(total == 1 ? "" : "s") (\(selection.description.terminalSafe))" + (page.next.map { "; more: --after \($0)" } ?? ""))
        }
    }

    struct Groups: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Dead letters by cause: queue, event type and failure fingerprint, largest first.")

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var filter: Filter
        @OptionGroup var output: OutputOptions

        func run() throws {
            let store = try storeOptions.openReader()
            let groups = try store.deadLetterGroups(try filter.selection())
            if output.json {
                for group in groups {
                    try DeadLetters.printJSON([
                        "queue": group.queue, "type": group.type, "fingerprint": group.fingerprint, "count": group.count,
                        "first_dead_at": group.firstDeadAt.rfc3339, "last_dead_at": group.lastDeadAt.rfc3339, "failed_again": group.failedAgain,
                    ] as [String: Any])
                }
                return
            }
            var rows = [["COUNT", "QUEUE", "TYPE", "FIRST", "LAST", "AGAIN", "CAUSE"]]
            for group in groups {
                rows.append([
                    "\(group.count)", group.queue.terminalSafe, group.type.terminalSafe, group.firstDeadAt.rfc3339, group.lastDeadAt.rfc3339,
                    "\(group.failedAgain)", DeadLetters.oneLine(group.fingerprint, max: 120),
                ])
            }
            DeadLetters.printTable(rows, rightAligned: [0, 5])
            let total = groups.reduce(0) { $0 + $1.count }
            print("\(total) dead letter\(total == 1 ? "" : "s") in \(groups.count) group\(groups.count == 1 ? "" : "s")")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One dead letter: its envelope, payload and every attempt's error.")

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var output: OutputOptions

        @Argument(help: "The dead letter's message id (the ID column of `dlq ls`).")
        var id: Int64

        func run() throws {
            let store = try storeOptions.openReader()
            guard let letter = try store.deadLetters(DeadLetterSelection(messageIDs: [id]), page: PageRequest(limit: 1)).items.first else {
                throw BadInput("no dead letter with id \(id) (it may have been replayed or deleted)")
            }
            let replays = try letter.event.correlationID.map { MessageReplay.of(messageID: letter.messageID, in: try store.trace(correlationID: $0)) } ?? []
            if output.json {
                var object = DeadLetters.json(letter)
                object["replay_history"] = replays.map { ["at": $0.at.rfc3339, "by": $0.by, "result": $0.result.description] as [String: Any] }
                return try DeadLetters.printJSON(object)
            }
            let event = letter.event
            print("dead letter \(letter.messageID) of queue \(letter.queue.terminalSafe): \(letter.reason.rawValue) after \(letter.attempts) attempt\(letter.attempts == 1 ? "" : "s") (\(letter.deliveries) deliveries), dead at \(letter.deadAt.rfc3339)")
            print("replayed \(letter.replays) time\(letter.replays == 1 ? "" : "s") before; cause: \(letter.fingerprint.terminalSafe)")
            print("event \(event.id.terminalSafe)  type \(event.type.terminalSafe)  source \(event.source.terminalSafe)")
            print("correlation \((event.correlationID ?? "-").terminalSafe)  causation \((event.causationID ?? "-").terminalSafe)  time \(event.time?.rfc3339 ?? "-")")
            print("payload (\(event.datacontenttype?.terminalSafe ?? "no content type")):")
            for line in PayloadText.lines(event.data) { print("  " + line) }
            print("attempts:")
            for error in letter.errors { print("  \(error.attempt)  \(error.at.rfc3339)  \(error.error.terminalSafe)") }
            print(replays.isEmpty ? "replays: none" : "replays:")
            for replay in replays { print("  \(replay.at.rfc3339)  \(replay.by.terminalSafe)  → \(replay.result.description.terminalSafe)") }
        }
    }

    /// What `replay` and `rm` act on: ids, or everything matching the filter.
    struct Target: ParsableArguments {
        @Argument(help: "Dead letter message ids (the ID column of `dlq ls`).")
        var ids: [Int64] = []

        @Flag(help: "Act on every dead letter matching the filter options instead of ids.")
        var allMatching = false

        @Flag(help: "Print what would be done (count, a sample, how many were replayed before) and change nothing.")
        var dryRun = false

        @Flag(help: "Do it without asking (for scripts); without it, a terminal asks you to type the count.")
        var yes = false

        @Option(help: ArgumentHelp("At most this many, oldest dead first (a batch of a larger replay).", valueName: "n"))
        var limit: Int?

        func validate() throws {
            if let limit, limit < 1 { throw ValidationError("--limit must be 1 or more, not \(limit)") }
            if ids.isEmpty && !allMatching { throw ValidationError("name dead letter ids, or --all-matching with filters") }
            if !ids.isEmpty && allMatching { throw ValidationError("ids and --all-matching exclude each other") }
        }
    }

    /// After a replay or delete of `count` letters, purges their text rows (left stale) up to
    /// 1,000, in a transaction of its own once the command's work is done: a runtime purges the
    /// rest when idle. A failed purge changes nothing (the caller ignores it).
    static func purgeLeft(_ count: Int, store: Store) throws {
        try store.purgeStaleText(limit: min(count, 1_000))
    }

    /// Checks the selection, shows what it holds, and asks (or is told) to go on. Returns what was
    /// confirmed: the selection bounded to the letters dead by then, and how many (so letters that
    /// die while the user types are never swept in); nil: stop.
    static func confirm(_ action: String, target: Target, filter: Filter, store: ReadableStore, extra: String = "") throws -> (selection: DeadLetterSelection, count: Int)? {
        var selection = try filter.selection(ids: target.ids.isEmpty ? nil : target.ids)
        let (matching, sample, replayedBefore) = try store.read { snapshot in
            (try snapshot.deadLetterCount(selection), try snapshot.deadLetters(selection, page: PageRequest(limit: 5)).items,
             selection.failedAgain == false ? 0 : try snapshot.deadLetterCount({ var s = selection; s.failedAgain = true; return s }()))
        }
        let count = target.limit.map { min($0, matching) } ?? matching
        if !target.ids.isEmpty, matching < Set(target.ids).count {
            let found = Set(try store.deadLetters(selection, page: PageRequest(limit: target.ids.count)).items.map(\.messageID))
            let missing = target.ids.filter { !found.contains($0) }.map(String.init).joined(separator: ", ")
            throw BadInput("not dead letters (replayed, deleted, or never dead): \(missing); nothing was changed")
        }
        let limited = count < matching ? " (the oldest \(count) of \(matching))" : ""
        let summary = "\(action) \(count) dead letter\(count == 1 ? "" : "s") (\(selection))\(limited)\(extra); \(replayedBefore) of the matching were replayed before"
        if target.dryRun || count == 0 {
            print((target.dryRun ? "dry run: would " : "") + summary.terminalSafe)
            // What is acted on is the oldest first; the sample is the newest of the matching.
            if !sample.isEmpty { print("the newest \(sample.count) of the matching:") }
            for letter in sample {
                print("  \(letter.messageID)  \(letter.queue.terminalSafe)  \(letter.event.type.terminalSafe)  \(DeadLetters.oneLine(letter.errors.last?.error ?? "", max: 60))")
            }
            return nil
        }
        if !target.yes {
            guard isatty(0) != 0 else { throw BadInput("\(summary): add --yes to do it (no terminal to ask on)".terminalSafe) }
            FileHandle.standardError.write(Data("\(summary.terminalSafe)\ntype \(count) to go on: ".utf8))
            guard readLine()?.trimmingCharacters(in: .whitespaces) == String(count) else {
                throw BadInput("not confirmed (the count typed was not \(count)): nothing was changed")
            }
        }
        // The newest letter seen bounds the set (letters are selected oldest first, up to the count).
        if let newest = sample.first?.deadAt {
            let bound = newest + .microseconds(1)
            if selection.deadUntil.map({ bound.micros < $0.micros }) ?? true { selection.deadUntil = bound }
        }
        return (selection, count)
    }

    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay dead letters: a new delivery with a fresh attempt budget, the event unchanged.")

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var filter: Filter
        @OptionGroup var target: Target

        @Option(help: ArgumentHelp("Deliver to this queue instead of each dead letter's own.", valueName: "queue"))
        var to: String?

        @Option(help: ArgumentHelp(
            "With --all-matching: letters per second (default: \(ReplayJobRequest.defaultRate)); 0 is unthrottled. It can be changed while the job runs (`dlq jobs rate`).",
            valueName: "n"))
        var rate: Int?

        @Flag(help: "With --all-matching: create the job and return (a running runtime carries it; `dlq jobs` shows it).")
        var detach = false

        func validate() throws {
            if let rate, rate < 0 { throw ValidationError("--rate must be 0 (unthrottled) or more letters per second, not \(rate)") }
            if (rate != nil || detach) && !target.allMatching {
                throw ValidationError("--rate and --detach apply to --all-matching (a replay job); ids are replayed at once, in one transaction")
            }
        }

        func run() throws {
            if storeOptions.readOnly { throw BadInput("dlq replay changes the store; it is refused with --read-only") }
            let store = try storeOptions.open()
            if let to {
                let declared = try store.queueStats(now: .now()).filter { $0.mode != nil }.map(\.name)
                guard declared.contains(to) else {
                    throw BadInput("--to \(to.terminalSafe): no such queue (declared: \(declared.joined(separator: ", ").terminalSafe))")
                }
            }
            let rate = rate ?? ReplayJobRequest.defaultRate
            let target = to.map { " to queue \($0)" } ?? " to their own queues"
            let how = target + (self.target.allMatching ? " as a replay job at \(ReplayJob.rateText(rate))" : "")
                + " (new deliveries with fresh attempt budgets; event ids, correlation and causation kept)"
            guard let confirmed = try DeadLetters.confirm("replay", target: self.target, filter: filter, store: store, extra: how) else { return }
            guard self.target.allMatching else {
                let moved = try store.redrive(RedriveRequest(selection: confirmed.selection, to: to, limit: confirmed.count), at: .now())
                print("replayed \(moved.count) dead letter\(moved.count == 1 ? "" : "s"): new deliveries with fresh attempt budgets; ids, correlation and causation unchanged")
                try? DeadLetters.purgeLeft(moved.count, store: store)
                return
            }
            let job = try store.createReplayJob(
                ReplayJobRequest(selection: confirmed.selection, to: to, rate: rate, limit: confirmed.count), at: .now())
            print("replay job \(job.id): \(job.total) dead letter\(job.total == 1 ? "" : "s") at \(ReplayJob.rateText(rate)), the set fixed now")
            if detach {
                let now = Timestamp.now()
                let carried = try store.runtimes().contains { $0.isLive(at: now) }
                print(carried
                      ? "a running runtime carries it: `pipetop dlq jobs show \(job.id)` follows it"
                      : "no runtime is running: it waits for one, or `pipetop dlq jobs run \(job.id)` runs it now")
                return
            }
            try Jobs.follow(job.id, store: store)
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete dead letters for good (their events and log stay).")

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var filter: Filter
        @OptionGroup var target: Target

        func run() throws {
            if storeOptions.readOnly { throw BadInput("dlq rm changes the store; it is refused with --read-only") }
            let store = try storeOptions.open()
            guard let confirmed = try DeadLetters.confirm("delete", target: target, filter: filter, store: store) else { return }
            let deleted = try store.deleteInBatches(DeleteRequest(selection: confirmed.selection, limit: confirmed.count))
            print("deleted \(deleted.count) dead letter\(deleted.count == 1 ? "" : "s")")
            try? DeadLetters.purgeLeft(deleted.count, store: store)
        }
    }
}
