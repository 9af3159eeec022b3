import Foundation

/// Runs one message with `async` code (a Vapor or Hummingbird service's clients, `await` on an
/// actor). Throwing schedules a retry (or dead-letters, see `NonRetryable`), as for `Handler`.
public typealias AsyncHandler = @Sendable (Delivery) async throws -> Void

extension Runtime {
    /// Sets an `async` handler of `queue`. It runs on the queue's own worker thread, as a plain
    /// handler does: the thread starts it as a task whose executor is that thread
    /// (`WorkerExecutor`) and runs the task's jobs until it ends, so the queue's concurrency, its
    /// run times and its CPU time (the thread's, `CPUClock`) mean what they mean for any handler.
    /// An `await` on work that runs elsewhere (another actor, a network client's event loop)
    /// counts in the run time but not in the queue's CPU: that CPU is spent on other threads.
    public func handle(_ queue: String, _ handler: @escaping AsyncHandler) {
        handle(queue) { delivery in try WorkerExecutor.run { try await handler(delivery) } }
    }
}

/// A task executor that is the calling thread: `run` starts a task preferring it and runs its
/// jobs, on this thread, until the task ends.
final class WorkerExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = MonotonicCondition()
    private var jobs: [UnownedJob] = []
    private var finished = false

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.withLock {
            jobs.append(job)
            condition.signal()
        }
    }

    /// Runs `body` to its end on the calling thread (what it awaits elsewhere runs there) and
    /// returns what it returned or rethrows what it threw.
    static func run(_ body: @escaping @Sendable () async throws -> Void) throws {
        let executor = WorkerExecutor()
        let failure = Locked<Error?>(nil)
        Task(executorPreference: executor) {
            do { try await body() } catch { failure.withLock { $0 = error } }
            executor.condition.withLock {
                executor.finished = true
                executor.condition.signal()
            }
        }
        executor.drain()
        if let error = failure.withLock({ $0 }) { throw error }
    }

    private func drain() {
        while true {
            condition.lock()
            while jobs.isEmpty && !finished { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// A value shared across threads under a lock.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
