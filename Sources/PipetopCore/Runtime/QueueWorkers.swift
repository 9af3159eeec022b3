import DequeModule
import Foundation

/// The worker threads of one queue: `concurrency` threads that run its handler on claimed
/// messages, measure each run's thread CPU time, and report outcomes to the engine.
///
/// Handlers run on dedicated threads, not on a shared async pool, so the thread CPU clock read
/// around a run is exactly that run's CPU time.
final class QueueWorkers: @unchecked Sendable {
    let spec: QueueSpec
    private let handler: Handler
    private let router: FleetRouter
    private let report: @Sendable (Outcome) -> Void

    private let condition = MonotonicCondition()
    private var waiting = Deque<ClaimedMessage>()
    private var stopping = false
    private var live = 0
    // CPU accounting since the last sample (guarded by `condition`).
    private var cpu = Duration.zero
    private var busy = Duration.zero
    private var runs = 0

    init(spec: QueueSpec, handler: @escaping Handler, router: FleetRouter, report: @escaping @Sendable (Outcome) -> Void) {
        self.spec = spec
        self.handler = handler
        self.router = router
        self.report = report
    }

    func start() {
        condition.lock()
        live = spec.concurrency
        condition.unlock()
        for index in 0..<spec.concurrency {
            // "<queue>#<n>": the queue's name, shortened if need be, and the index always.
            NamedThread.start(spec.name, suffix: "#\(index)", stackSize: 1 << 20) { [self] in work() }
        }
    }

    /// Hands claimed messages to the threads. Once stopping (a claim that raced `stop()`), they go
    /// straight back to the engine as unstarted.
    func enqueue(_ messages: [ClaimedMessage]) {
        condition.lock()
        guard !stopping else {
            condition.unlock()
            handBack(messages)
            return
        }
        waiting.append(contentsOf: messages)
        condition.broadcast()
        condition.unlock()
    }

    /// Stops taking messages; those never started go back to the engine as unstarted.
    func stop() {
        condition.lock()
        stopping = true
        let unstarted = Array(waiting)
        waiting.removeAll()
        condition.broadcast()
        condition.unlock()
        handBack(unstarted)
    }

    private func handBack(_ messages: [ClaimedMessage]) {
        for message in messages {
            report(Outcome(claim: message.claim, duration: .zero, finishedAt: .now(), result: .unstarted))
        }
    }

    /// Waits until every thread has finished its current run, or for `grace` (on the monotonic clock).
    func join(within grace: Duration) -> Bool {
        let deadline = Monotonic.micros + grace.micros
        condition.lock()
        defer { condition.unlock() }
        while live > 0 {
            let left = deadline - Monotonic.micros
            if left <= 0 { return false }
            condition.wait(for: .microseconds(left))
        }
        return true
    }

    /// CPU spent since the last call, as a sample for the interval just ended.
    func takeSample(at time: Timestamp, interval: Duration) -> CPUSample {
        condition.lock()
        defer {
            cpu = .zero
            busy = .zero
            runs = 0
            condition.unlock()
        }
        return CPUSample(time: time, scope: spec.name, interval: interval, cpu: cpu, busy: busy, runs: runs, capacity: spec.concurrency)
    }

    private func work() {
        while true {
            condition.lock()
            while waiting.isEmpty && !stopping { condition.wait() }
            guard !stopping, let message = waiting.popFirst() else {
                live -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            condition.unlock()
            // Waited in the prefetch buffer past its lease: the message may already be delivered
            // again elsewhere, so it is handed back (a stale no-op) instead of run twice.
            guard Timestamp.now() < message.claim.leaseUntil else {
                handBack([message])
                continue
            }
            run(message)
        }
    }

    private func run(_ message: ClaimedMessage) {
        let started = Timestamp.now()
        let cpuStart = CPUClock.thread()
        let delivery = Delivery(message: message, startedAt: started)
        var failure: Error?
        do { try handler(delivery) } catch { failure = error }
        let finished = Timestamp.now()
        let cpuUsed = CPUClock.thread() - cpuStart
        let duration = finished - started

        let result: Outcome.Result
        if let failure {
            result = decide(failure, claim: message.claim, at: finished)
        } else {
            result = .succeeded(children: delivery.published.map { child in
                router.route(child)
            })
        }
        condition.lock()
        cpu += cpuUsed
        busy += duration
        runs += 1
        condition.unlock()
        report(Outcome(claim: message.claim, duration: duration, finishedAt: finished, result: result))
    }

    /// Retry with backoff, or dead-letter (the queue's `DeadLetterPolicy`, the one rule the
    /// store's claims use too): non-retryable errors, the last attempt, or too old.
    func decide(_ failure: Error, claim: Claim, at time: Timestamp, random: Double = .random(in: 0..<1)) -> Outcome.Result {
        let error = Self.describe(failure)
        let retryAt = time + spec.backoff.delay(afterAttempt: claim.attempt, random: random)
        let policy = spec.deadLetterPolicy
        guard let reason = policy.afterFailure(
            attempt: claim.attempt, nonRetryable: failure is NonRetryable, enqueuedAt: claim.enqueuedAt, retryAt: retryAt)
        else { return .retry(error: error, at: retryAt) }
        return policy.keepsDeadLetters ? .deadLetter(error: error, reason: reason) : .drop(error: error)
    }

    /// The error as text, bounded: error messages are stored and shown, and a handler may throw
    /// anything.
    static func describe(_ error: Error) -> String {
        let text = String(describing: error)
        return text.count > 2000 ? String(text.prefix(2000)) + "…" : text
    }
}
