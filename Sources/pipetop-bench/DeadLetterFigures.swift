import Foundation
import PipetopCore

/// The dead-letter figures (issue 11): a store of many dead letters of a dozen causes over four
/// queues and three event types, built through the store's own write path; then the first page and
/// true count under each filter, the groups over all of them, and an unthrottled bulk replay.
struct DeadLetterFigures {
    let scratch: URL
    static let queues = ["parse", "enrich", "index", "notify"]
    static let types = ["listing.uploaded", "listing.enriched", "listing.sold"]
    /// Causes, the rare one last (the "12 that matter" among a million): each error varies in its numbers.
    static let causes: [@Sendable (Int) -> String] = [
        { "timeout: pricing service did not answer within \($0 % 5 + 1)s" },
        { "malformed listing L\($0): price is not a number: 'call for price'" },
        { "HTTP \(500 + $0 % 4) from pricing at attempt \($0 % 3)" },
        { "index shard \($0 % 16) rejected document: field 'title' is \(40_000 + $0) bytes" },
        { "connection reset by peer after \($0 % 900) ms" },
        { "lock 0x\(String($0, radix: 16, uppercase: false))ffee held too long" },
        { "quota exceeded for dealer D\($0 % 1000)" },
        { "vin \($0) failed checksum" },
        { "image /photos/\($0).jpg missing" },
        { "geocoder returned \($0 % 7) results" },
        { "duplicate listing \($0) rejected" },
        { "schema v\($0 % 3) not supported" },
    ]
    let start = Timestamp(micros: 1_800_000_000_000_000)

    func makeStore(deadLetters total: Int) throws -> (path: String, rare: String) {
        let path = scratch.appendingPathComponent("dead-letters.sqlite").path
        let store = try openStore(url: path, readOnly: false)
        var made = 0
        var clock = start
        while made < total {
            let count = min(5_000, total - made)
            clock = clock + .seconds(1)
            var publish = WriteBatch(now: clock)
            publish.claims = Self.queues.map { ClaimRequest(queue: $0, limit: 5_000, lease: .seconds(30), maxAttempts: 3) }
            publish.publishes = (0..<count).map { i in
                let n = made + i
                return RoutedEvent(
                    event: CloudEvent(
                        id: "dl-\(n)", source: "/bench", type: Self.types[n % Self.types.count], time: clock,
                        data: .json(Data(#"{"listingId":"L\#(n)","price":"call for price"}"#.utf8))),
                    targets: [Target(queue: Self.queues[n % Self.queues.count], held: false)])
            }
            let claimed = try store.apply(publish).claimed
            var fail = WriteBatch(now: clock)
            fail.outcomes = claimed.map { message in
                let n = Int(message.event.id.dropFirst(3))!
                // One in 80,000 has the rare cause; the rest spread over the others.
                let cause = n % 80_000 == 7 ? Self.causes.count - 1 : n % (Self.causes.count - 1)
                return Outcome(claim: message.claim, duration: .microseconds(200), finishedAt: clock,
                               result: .deadLetter(error: Self.causes[cause](n), reason: .nonRetryable))
            }
            _ = try store.apply(fail)
            made += count
        }
        return (path, FailureFingerprint.of(Self.causes[Self.causes.count - 1](7)))
    }

    /// Median milliseconds of `body` over `runs` runs (after one warm-up).
    static func time(runs: Int = 5, _ body: () throws -> Void) rethrows -> Double {
        try body()
        var times: [Double] = []
        for _ in 0..<runs {
            let started = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1_000_000)
        }
        return times.sorted()[runs / 2]
    }

    /// The first page of 50 and the true count, in one read, as the list shows them.
    func firstPage(_ store: ReadableStore, _ selection: DeadLetterSelection) throws -> (ms: Double, count: Int) {
        var count = 0
        let ms = try Self.time {
            try store.read { snapshot in
                _ = try snapshot.deadLetters(selection, page: PageRequest(limit: 50))
                count = try snapshot.deadLetterCount(selection)
            }
        }
        return (ms, count)
    }

    func groups(_ store: ReadableStore, _ selection: DeadLetterSelection = .all) throws -> (ms: Double, groups: Int, letters: Int) {
        var groups: [DeadLetterGroup] = []
        let ms = try Self.time(runs: 3) { groups = try store.deadLetterGroups(selection) }
        return (ms, groups.count, groups.reduce(0) { $0 + $1.count })
    }

    /// Replays every dead letter of one queue as `dlq replay --all-matching --rate 0` does: a
    /// replay job (its set fixed in one transaction) run to the end in steps of 1,000, every
    /// lifecycle, item and audit record written, each letter's text row listed stale (purged
    /// later, see `purgeStaleText`); dead letters per second (set fixing included) and CPU per letter.
    func bulkReplay(path: String, queue: String) throws -> (rate: Double, moved: Int, cpuPerLetter: Double) {
        let store = try openStore(url: path, readOnly: false)
        let (started, startedCPU) = (Date(), ProcessCPU.now())
        let job = try store.createReplayJob(ReplayJobRequest(selection: DeadLetterSelection(queue: queue), rate: 0), at: .now())
        let runner = ReplayJobRunner(store: store, name: "bench")
        // Every row stays listed stale (the CLI's runner would purge 1,000 at the end): the
        // figures after this one read, then purge, all of them.
        runner.purgeWhenIdle = 0
        let moved = try runner.run(job.id).moved
        return (Double(moved) / Date().timeIntervalSince(started), moved, (ProcessCPU.now() - startedCPU) / Double(max(moved, 1)) * 1_000_000)
    }

    /// Purges the text rows left stale by a replay as an idle runtime's writer does (ticks that
    /// carry nothing else, 1,000 rows each) until `stale` are gone; rows per second.
    func purgeStaleText(path: String, stale: Int) throws -> Double {
        let store = try openStore(url: path, readOnly: false)
        let started = Date()
        var left = stale
        while left > 0 {
            var batch = WriteBatch(now: .now())
            batch.purgeStaleText = 1_000
            _ = try store.apply(batch)
            left -= 1_000
        }
        return Double(stale) / Date().timeIntervalSince(started)
    }

    /// Run in a child process (`--dead-letter-probe`): what the Dead letters screen reads with
    /// this store, through a reader as the dashboard opens it, then this process's peak resident
    /// memory in KiB (`VmHWM`, as `DashboardFigures.probe`).
    static func probe(storePath: String) throws -> Int {
        let store = try openReader(url: storePath)
        let start = Timestamp(micros: 1_800_000_000_000_000)
        let selections = [
            DeadLetterSelection.all, DeadLetterSelection(deadSince: start), DeadLetterSelection(deadSince: start + .seconds(10), deadUntil: start + .seconds(40)),
            DeadLetterSelection(payloadText: "call for price"), DeadLetterSelection(errorText: "connection reset"),
        ]
        for selection in selections {
            _ = try store.deadLetterGroups(selection)
            try store.read { snapshot in
                _ = try snapshot.deadLetters(selection, page: PageRequest(limit: 50))
                _ = try snapshot.deadLetterCount(selection)
            }
        }
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        guard let peak = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else {
            throw BenchError.lost("no VmHWM in /proc/self/status")
        }
        return peak
    }

    /// Runs `probe` in a child process of this binary; its peak memory in MiB.
    static func runProbe(storePath: String) throws -> Double {
        let executable = Bench.executablePath
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("dead-letter-probe-\(getpid()).out").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let arguments = [executable, "--dead-letter-probe", storePath]
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, executable, &actions, nil, argv, environ) == 0 else { throw BenchError.lost("could not start the dead-letter probe") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = (try? String(contentsOfFile: output, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard status == 0, let peakKiB = Double(text) else { throw BenchError.lost("dead-letter probe failed (status \(status)): \(text)") }
        return peakKiB / 1024
    }
}
