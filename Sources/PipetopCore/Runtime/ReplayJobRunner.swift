import Foundation

/// Runs replay jobs (`ReplayJob`): steps each at its rate, one transaction per step, holding its
/// lease so no other runner moves it meanwhile. A running runtime carries every running job
/// (`startCarrying`); the dashboard does too while it is open with a writer; `pipetop dlq replay`
/// and `dlq jobs run` run one in the foreground (`run`). A runner that stops gives its leases back;
/// one that dies loses them when they end (`lease`), and the next runner goes on from there.
public final class ReplayJobRunner: @unchecked Sendable {
    public let store: Store
    /// Names it in the job's `runner` (who carries it, as `dlq jobs` shows).
    public let name: String
    public var lease: Duration = .seconds(5)
    /// How often a throttled job is stepped.
    public var stepInterval: Duration = .milliseconds(100)
    /// How often a carrier looks for jobs when none runs.
    public var poll: Duration = .seconds(1)
    /// How long after a job finished a carrier still settles the outcomes of what it moved.
    public var settleFor: Duration = .seconds(600)
    public var onError: @Sendable (Error) -> Void
    /// Stale rows of the text index (`WriteBatch.purgeStaleText`) `run` purges in one transaction
    /// of their own, after it moved letters: in each pause of a throttled job and once when the job
    /// ends. A replay from the CLI then leaves no rows for a runtime to purge (an unthrottled one
    /// of more letters leaves the rest), and no step waits for a purge.
    public var purgeWhenIdle = 1_000

    private let condition = MonotonicCondition()
    private var stopping = false
    private var thread: Thread?
    private var finished: DispatchSemaphore?
    private var pacers: [Int64: Pacer] = [:]

    public init(store: Store, name: String, onError: @escaping @Sendable (Error) -> Void = { _ in }) {
        self.store = store
        self.name = name
        self.onError = onError
    }

    /// `name` for this process: what it is, its pid and host.
    public static func name(_ what: String) -> String {
        "\(what) pid \(getpid())@\(ProcessInfo.processInfo.hostName)"
    }

    /// Letters allowed per step at a rate: a token bucket holding at most a fifth of a second.
    struct Pacer {
        var tokens = 0.0
        var last = DispatchTime.now().uptimeNanoseconds

        mutating func allowance(rate: Int) -> Int {
            let now = DispatchTime.now().uptimeNanoseconds
            defer { last = now }
            guard rate > 0 else { return 1_000 }
            let elapsed = Double(now &- last) / 1e9
            tokens = min(tokens + Double(rate) * elapsed, max(Double(rate) / 5, 1))
            return Int(tokens)
        }

        mutating func spent(_ moved: Int) { tokens = max(0, tokens - Double(moved)) }
    }

    // MARK: One job, in the foreground

    /// Runs job `id` until it no longer runs (done, paused, stopped by itself, cancelled) or
    /// `shouldStop` says so, calling `progress` after each step; gives the lease back at the end.
    /// While another runner holds the job, it only follows its progress.
    @discardableResult
    public func run(_ id: Int64, progress: (ReplayJobStep) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> ReplayJob {
        var pacer = Pacer()
        // Letters moved since the last purge: their text rows are listed stale.
        var unpurged = false
        func purge() {
            guard unpurged, purgeWhenIdle > 0 else { return }
            unpurged = false
            // A failed purge changes nothing: the rows wait for the next writer's.
            do { try store.purgeStaleText(limit: purgeWhenIdle) } catch { onError(error) }
        }
        defer { try? store.releaseReplayJob(id, runner: name, at: .now()) }
        while true {
            guard let current = try store.replayJob(id: id) else { throw ReplayJobError("no replay job \(id) in this store") }
            let moves = current.state == .running ? pacer.allowance(rate: current.rate) : 0
            let step = try store.stepReplayJob(id, runner: name, lease: lease, moves: moves, at: .now())
            pacer.spent(step.moved)
            if step.moved > 0 { unpurged = true }
            progress(step)
            if shouldStop() || (step.heldBy == nil && step.job.state != .running) {
                purge()
                return step.job
            }
            if step.heldBy == nil && step.job.rate == 0 && step.moved > 0 { continue }
            let pause = step.heldBy == nil ? stepInterval.secondsDouble : min(lease.secondsDouble / 2, 1)
            let idle = DispatchTime.now().uptimeNanoseconds
            purge()
            Thread.sleep(forTimeInterval: max(0, pause - Double(DispatchTime.now().uptimeNanoseconds - idle) / 1e9))
        }
    }

    // MARK: Every job, in the background

    /// Starts a thread that carries every running job of the store (and settles finished ones).
    public func startCarrying() {
        condition.withLock {
            guard thread == nil else { return }
            stopping = false
            let done = DispatchSemaphore(value: 0)
            finished = done
            let thread = Thread { [self] in
                carry()
                done.signal()
            }
            thread.name = "pipetop replay jobs"
            self.thread = thread
            thread.start()
        }
    }

    /// Stops carrying (after the step under way) and gives the leases back.
    public func stop() {
        guard let done = condition.withLock({ () -> DispatchSemaphore? in
            stopping = true
            condition.broadcast()
            defer { thread = nil; finished = nil }
            return finished
        }) else { return }
        done.wait()
    }

    private func carry() {
        var held: Set<Int64> = []
        while !condition.withLock({ stopping }) {
            var busy = false, unthrottled = false
            do {
                let now = Timestamp.now()
                let jobs = try store.replayJobs(page: PageRequest(limit: 100)).items.filter { job in
                    if job.state == .running { return job.runner == name || !job.isCarried(at: now) }
                    return job.state.isFinal && job.undecided > 0 && (job.finishedAt.map { now - $0 < settleFor } ?? false)
                        && !(job.runner != name && job.isCarried(at: now))
                }
                for job in jobs {
                    var pacer = pacers[job.id] ?? Pacer()
                    let moves = job.state == .running ? pacer.allowance(rate: job.rate) : 0
                    let step = try store.stepReplayJob(job.id, runner: name, lease: lease, moves: moves, at: .now())
                    pacer.spent(step.moved)
                    pacers[job.id] = pacer
                    if step.heldBy == nil { held.insert(job.id) }
                    if step.job.state == .running && step.heldBy == nil {
                        busy = true
                        if step.job.rate == 0 && step.moved > 0 { unthrottled = true }
                    } else {
                        pacers[job.id] = nil
                    }
                }
            } catch {
                onError(error)
            }
            if unthrottled { continue }
            let wait = busy ? stepInterval : poll
            condition.withLock { if !stopping { condition.wait(for: wait) } }
        }
        for id in held { try? store.releaseReplayJob(id, runner: name, at: .now()) }
    }
}
