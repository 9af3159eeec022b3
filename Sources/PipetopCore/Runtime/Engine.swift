import Foundation

/// The runtime's single writer: one thread that turns everything that happened since its last
/// tick into one store transaction (group commit), then hands the messages it claimed in that same
/// transaction to the queues' workers.
///
/// Publishers and workers never touch the store; they drop work in the inbox and wake the engine.
/// Under load a tick carries hundreds of records; when idle the engine sleeps until the next
/// timer: a batch window, a scheduled retry, a lease scan, a heartbeat or a CPU sample.
final class Engine: @unchecked Sendable {
    struct Timing {
        var heartbeat: Duration = .seconds(1)
        var cpuSample: Duration = .seconds(1)
        /// How long CPU samples are kept, enforced once a minute.
        var cpuRetention = CPURetention.default
        var cpuPrune: Duration = .seconds(60)
        /// Samples of ticks whose commit failed, kept for the next (at most this many).
        var unsavedSamplesLimit = 10_000
        /// How often to look for work written by others (`pipetop publish`, replays).
        var poll: Duration = .milliseconds(250)
        /// Work to keep buffered per worker thread, so workers never wait on a tick: a queue of
        /// 100 µs handlers prefetches about 20 messages per thread, one of 10 ms handlers 2.
        var prefetchWork: Duration = .milliseconds(2)
        var prefetchBounds = 2...1024
        /// Stale rows of the dead letters' text index purged at most by a tick with no work, and
        /// by the heartbeat's tick otherwise (`WriteBatch.purgeStaleText`).
        var purgeIdle = 1_000
        var purgeBusy = 200
    }

    /// A publish waiting for its commit, already routed (on the publisher's thread, not the engine's).
    final class PendingPublish: @unchecked Sendable {
        let events: [RoutedEvent]
        var error: Error?
        let committed = DispatchSemaphore(value: 0)
        init(events: [RoutedEvent]) { self.events = events }
    }

    private let store: Store
    private let router: FleetRouter
    private let specs: [String: QueueSpec]
    private let timing: Timing
    private let onError: @Sendable (Error) -> Void
    /// Told after each committed heartbeat (the runtime rewrites its registry file, off this thread),
    /// and while the store refuses writes (with `storeUnwritable`), since the store cannot say it.
    private let onHeartbeat: (@Sendable (RuntimeInfo) -> Void)?
    /// How long the store may refuse writes before the engine gives up (nil: never).
    let giveUpAfter: Duration?
    private(set) var info: RuntimeInfo
    /// What this node's claims carry (`RuntimeInfo.node`), worked out once.
    private let node: Int64
    /// Outcomes committed since the start (`NodeThroughput.done`), and at the last heartbeat.
    private var done: Int64 = 0
    private var doneAtHeartbeat: (done: Int64, at: Int64)?
    var workers: [String: QueueWorkers] = [:]

    // Shared with publishers and workers, guarded by `condition`.
    private let condition = MonotonicCondition()
    private var inbox: [PendingPublish] = []
    private var inboxEvents = 0
    private var outcomes: [Outcome] = []
    private var draining = false
    private var exitRequested = false
    /// Another connection committed new work (`ReadableStore.watchForWork`): tick now, not at the next poll.
    private var workNotified = false
    private var watch: (any StoreWatch)?
    private let exited = DispatchSemaphore(value: 0)
    /// Set while the store refuses writes; read by other threads (under `condition`).
    private var writeFailure: StoreWriteFailure?

    // A failed tick's work, carried into the next one (its transaction wrote none of it).
    private var carriedOutcomes: [Outcome] = []
    /// The last failure reported through `onError` (same error: again only every 30 s).
    private var reported: (error: String, at: Timestamp)?

    // Owned by the engine thread.
    private var outstanding: [String: Int] = [:]
    /// Moving average of handler run time per queue, in µs, for the prefetch depth.
    private var averageRun: [String: Double] = [:]
    private var nextReady: [String: Timestamp] = [:]
    private var nextRelease: [String: Timestamp] = [:]
    private var unrouted: [(seq: Int64, event: CloudEvent)] = []
    // The interval timers, on the monotonic clock (`Monotonic.micros`): a wall-clock step moves
    // neither when they fire nor how long the engine waits for them. Batch windows and scheduled
    // retries are times in the store, on the wall clock.
    private var nextHeartbeat: Int64 = 0
    /// When the last tick started, on the monotonic clock (for the pacer).
    private var lastTickStart: Int64 = 0
    private var pacer = CommitPacer()
    private var nextSample: Int64
    private var nextLeaseScan: Int64 = 0
    private var lastSample: Timestamp
    private var lastProcessCPU: Duration
    /// Samples taken but not yet committed (a failed tick's): written by the next tick.
    private var unsavedSamples: [CPUSample] = []
    private var nextPrune: Int64 = 0
    private let leaseScanEvery: Duration
    /// Read once: on Linux, Foundation reads the cgroup quota files on every call, which showed
    /// as ~2 % of the engine thread's time in the throughput profile.
    private let cores = ProcessInfo.processInfo.activeProcessorCount

    init(
        store: Store, router: FleetRouter, specs: [QueueSpec], info: RuntimeInfo, timing: Timing,
        onError: @escaping @Sendable (Error) -> Void, onHeartbeat: (@Sendable (RuntimeInfo) -> Void)? = nil, giveUpAfter: Duration? = nil
    ) {
        self.giveUpAfter = giveUpAfter
        self.store = store
        self.router = router
        self.specs = Dictionary(uniqueKeysWithValues: specs.map { ($0.name, $0) })
        self.info = info
        node = info.node
        self.timing = timing
        self.onError = onError
        self.onHeartbeat = onHeartbeat
        let now = Timestamp.now()
        lastSample = now
        nextSample = Monotonic.micros + timing.cpuSample.micros
        lastProcessCPU = CPUClock.process()
        // Scan for expired leases a few times per shortest visibility timeout, between 10 ms and 1 s.
        let shortest = specs.map(\.visibilityTimeout.micros).min() ?? 1_000_000
        leaseScanEvery = .microseconds(min(max(shortest / 4, 10_000), 1_000_000))
        for spec in specs {
            if let release = spec.mode.nextRelease(after: now) { nextRelease[spec.name] = release }
        }
    }


    // MARK: Called from other threads

    func start() {
        // Other nodes' new work wakes the engine where the store can tell it (PostgreSQL).
        watch = store.watchForWork { [weak self] in self?.notifyWork() }
        NamedThread.start("pipetop.engine") { [self] in
            run()
            exited.signal()
        }
    }

    private func notifyWork() {
        condition.lock()
        workNotified = true
        condition.signal()
        condition.unlock()
    }

    /// Queues `events` for the next commit and waits for it.
    func publish(_ events: [CloudEvent]) throws {
        let pending = PendingPublish(events: events.map { event in
            var event = event
            // The entry point of a flow: the event is its own correlation.
            if event.correlationID == nil { event.correlationID = event.id }
            return router.route(event)
        })
        condition.lock()
        if let failure = writeFailure, failure.gaveUp {
            condition.unlock()
            throw failure
        }
        if draining {
            condition.unlock()
            throw ConfigurationError("the runtime is stopping; publish refused")
        }
        inbox.append(pending)
        inboxEvents += pending.events.count
        condition.signal()
        condition.unlock()
        pending.committed.wait()
        if let error = pending.error { throw error }
    }

    /// Whether the store refuses writes now (nil: it takes them).
    var storeWriteFailure: StoreWriteFailure? { condition.withLock { writeFailure } }

    func report(_ outcome: Outcome) {
        condition.lock()
        outcomes.append(outcome)
        condition.signal()
        condition.unlock()
    }

    /// Stops claiming, lets running handlers finish (up to `grace`), commits their outcomes and
    /// hands unstarted messages back, then stops the engine thread.
    func stop(grace: Duration) {
        condition.lock()
        draining = true
        condition.signal()
        condition.unlock()
        for workers in workers.values { workers.stop() }
        let deadline = Monotonic.micros + grace.micros
        for workers in workers.values { _ = workers.join(within: .microseconds(deadline - Monotonic.micros)) }
        condition.lock()
        exitRequested = true
        condition.signal()
        condition.unlock()
        exited.wait()
        watch?.cancel()
        watch = nil
    }

    // MARK: The engine thread

    private func run() {
        while true {
            condition.lock()
            while inbox.isEmpty && outcomes.isEmpty && !exitRequested && unrouted.isEmpty && !workNotified {
                // How long until the next timer, waited on the monotonic clock (see `MonotonicCondition`).
                let wait = nextWait()
                if wait <= .zero { break }
                condition.wait(for: wait)
            }
            if let first = pacer.hold(lastTick: lastTickStart, now: Monotonic.micros, waiting: inboxEvents + outcomes.count) {
                let before = inboxEvents + outcomes.count
                var remaining: Int64? = first
                while !exitRequested, let wait = remaining {
                    condition.wait(for: .microseconds(wait))
                    remaining = pacer.hold(lastTick: lastTickStart, now: Monotonic.micros, waiting: inboxEvents + outcomes.count)
                }
                pacer.noteHold(gathered: inboxEvents + outcomes.count - before)
            }
            workNotified = false
            lastTickStart = Monotonic.micros
            pacer.note(items: inboxEvents + outcomes.count, at: lastTickStart)
            inboxEvents = 0
            let publishes = inbox
            let finished = outcomes
            inbox.removeAll(keepingCapacity: true)
            outcomes.removeAll(keepingCapacity: true)
            let claiming = !draining
            let exiting = exitRequested
            condition.unlock()
            tick(publishes: publishes, outcomes: finished, claiming: claiming)
            if exiting || storeWriteFailure?.gaveUp == true { return }
        }
    }

    /// How long until the next timer: an interval timer (monotonic), a batch window or a
    /// scheduled retry (wall clock), at most `poll`.
    private func nextWait() -> Duration {
        var wait = min(Duration.microseconds(min(nextHeartbeat, nextSample, nextLeaseScan) - Monotonic.micros), timing.poll)
        if !draining {
            let now = Timestamp.now()
            for time in nextRelease.values { wait = min(wait, time - now) }
            for (queue, time) in nextReady where freeCapacity(queue) > 0 { wait = min(wait, time - now) }
        }
        return wait
    }

    private func freeCapacity(_ queue: String) -> Int {
        guard let workers = workers[queue] else { return 0 }
        let perThread = Double(timing.prefetchWork.micros) / max(averageRun[queue] ?? 1000, 1)
        let depth = min(max(Int(perThread), timing.prefetchBounds.lowerBound), timing.prefetchBounds.upperBound)
        return workers.spec.concurrency * depth - outstanding[queue, default: 0]
    }

    private func tick(publishes: [PendingPublish], outcomes: [Outcome], claiming: Bool) {
        let now = Timestamp.now()
        let clock = Monotonic.micros
        var batch = WriteBatch(now: now)
        batch.router = router
        batch.outcomes = outcomes
        for outcome in outcomes {
            let queue = outcome.claim.queue
            outstanding[queue, default: 0] -= 1
            if case .unstarted = outcome.result { continue }
            let run = Double(outcome.duration.micros)
            averageRun[queue] = averageRun[queue].map { $0 * 0.9 + run * 0.1 } ?? run
        }
        // What a failed tick could not write goes first (its outstanding counts were taken then).
        batch.outcomes = carriedOutcomes + outcomes
        carriedOutcomes.removeAll()
        for pending in publishes { batch.publishes += pending.events }
        if claiming {
            batch.routingsRoutedUnder = router.routingGeneration
            batch.routings = unrouted.map { ($0.seq, $0.event, router.targets(of: $0.event)) }
            unrouted.removeAll()
            // The next window is set once this release is committed; a failed tick retries it.
            for (queue, time) in nextRelease where now >= time { batch.releases.append(queue) }
        }
        if clock >= nextLeaseScan {
            batch.expireLeases = Array(specs.keys)
            nextLeaseScan = clock + leaseScanEvery.micros
        }
        if claiming {
            for (queue, workers) in workers {
                let free = freeCapacity(queue)
                guard free > 0 else { continue }
                let spec = workers.spec
                batch.claims.append(ClaimRequest(queue: queue, limit: free, lease: spec.visibilityTimeout, policy: spec.deadLetterPolicy))
            }
            batch.fetchUnrouted = 256
        }
        batch.claimedBy = node
        if clock >= nextHeartbeat {
            info.heartbeatAt = now
            // This node's throughput since the last heartbeat, for the dashboard's nodes.
            let rate = doneAtHeartbeat.map { Double(done - $0.done) / max(Double(clock - $0.at) / 1e6, 1e-3) } ?? 0
            info.throughput = NodeThroughput(done: done, perSecond: rate)
            doneAtHeartbeat = (done, clock)
            batch.heartbeat = info
            batch.refreshRouting = true
            nextHeartbeat = clock + timing.heartbeat.micros
        }
        if clock >= nextSample {
            unsavedSamples += takeSamples(at: now)
            // A store that keeps failing must not make the engine grow: the oldest go first.
            if unsavedSamples.count > timing.unsavedSamplesLimit { unsavedSamples.removeFirst(unsavedSamples.count - timing.unsavedSamplesLimit) }
            nextSample = max(nextSample + timing.cpuSample.micros, clock)
        }
        batch.cpuSamples = unsavedSamples
        if !batch.cpuSamples.isEmpty && clock >= nextPrune {
            batch.pruneCPUSamples = (before: now - timing.cpuRetention.age, keep: timing.cpuRetention.count)
        }
        // Rows of the dead letters' text index left by replayed or deleted letters (a delete from
        // FTS5 costs about 30 µs): many in a tick that carries no work, a few once a second otherwise.
        if outcomes.isEmpty && publishes.isEmpty {
            batch.purgeStaleText = timing.purgeIdle
        } else if batch.heartbeat != nil {
            batch.purgeStaleText = timing.purgeBusy
        }

        do {
            let result = try store.apply(batch)
            for pending in publishes { pending.committed.signal() }
            done += Int64(result.completed)
            for request in batch.claims { nextReady[request.queue] = result.nextReady[request.queue] }
            var claimedByQueue: [String: [ClaimedMessage]] = [:]
            for message in result.claimed { claimedByQueue[message.claim.queue, default: []].append(message) }
            for (queue, messages) in claimedByQueue {
                outstanding[queue, default: 0] += messages.count
                workers[queue]?.enqueue(messages)
            }
            unrouted = result.unrouted
            for problem in result.routingProblems { onError(ConfigurationError(problem)) }
            for queue in batch.releases { nextRelease[queue] = specs[queue]?.mode.nextRelease(after: now) }
            if let failure = condition.withLock({ () -> StoreWriteFailure? in defer { writeFailure = nil }; return writeFailure }) {
                reported = nil
                onError(StoreWritableAgain(failure: failure, at: now))
                onHeartbeat?(info)
            } else if batch.heartbeat != nil {
                onHeartbeat?(info)
            }
            unsavedSamples.removeAll()
            if batch.pruneCPUSamples != nil { nextPrune = clock + timing.cpuPrune.micros }
        } catch {
            failed(batch, publishes: publishes, error: error, at: now)
        }
    }

    /// A tick's transaction failed: nothing of it was written. Its publishers are told (their
    /// events are not stored: `publish` throws); its outcomes (and CPU samples) are carried into the
    /// next tick; the failure is reported (once per error and every 30 s, not per tick), shown in
    /// the registry, and retried with a backoff up to 2 s; after `giveUpAfter` the engine stops.
    private func failed(_ batch: WriteBatch, publishes: [PendingPublish], error: Error, at now: Timestamp) {
        for pending in publishes {
            pending.error = error
            pending.committed.signal()
        }
        carriedOutcomes = batch.outcomes
        // The CPU samples stay in `unsavedSamples` for the next tick (bounded): the CPU was spent
        // whether or not this commit worked.
        let message = "\(error)"
        let failure = condition.withLock { () -> StoreWriteFailure in
            var failure = writeFailure ?? StoreWriteFailure(since: now, error: message, attempts: 0)
            failure.attempts += 1
            failure.error = message
            if let giveUpAfter, now - failure.since >= giveUpAfter { failure.gaveUp = true }
            writeFailure = failure
            return failure
        }
        if failure.gaveUp || reported?.error != message || now - (reported?.at ?? now) >= .seconds(30) {
            reported = (message, now)
            onError(failure)
        }
        var announced = info
        announced.storeUnwritable = failure
        onHeartbeat?(announced)
        if failure.gaveUp {
            // Nothing more can be stored: publishers are refused from now on (with this failure).
            for pending in condition.withLock({ () -> [PendingPublish] in defer { inbox.removeAll() }; return inbox }) {
                pending.error = failure
                pending.committed.signal()
            }
            return
        }
        Thread.sleep(forTimeInterval: min(0.1 * pow(2, Double(min(failure.attempts, 6) - 1)), 2))
    }

    private func takeSamples(at now: Timestamp) -> [CPUSample] {
        let interval = now - lastSample
        lastSample = now
        let processCPU = CPUClock.process()
        defer { lastProcessCPU = processCPU }
        var samples = workers.values.map { $0.takeSample(at: now, interval: interval) }
        let used = processCPU - lastProcessCPU
        samples.append(CPUSample(
            time: now, scope: CPUSample.processScope, interval: interval, cpu: used, busy: used, runs: 0,
            capacity: cores))
        return samples
    }
}
