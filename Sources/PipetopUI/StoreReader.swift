import Foundation
import PipetopCore

/// Polls a store on its own thread and hands `Message`s to the UI loop, so keys never wait for the
/// database. Each poll reads the log records after the last seen `seq` (at most `batchLimit` per
/// poll), queue stats, runtimes and the published total. Scrolling back asks it for older records.
public final class StoreReader: @unchecked Sendable {
    public let store: ReadableStore
    public let interval: Duration
    public let capacity: Int
    /// Called (on the reader's thread) after each message is queued: wakes the UI loop.
    private let wake: @Sendable () -> Void
    private let clock: @Sendable () -> Timestamp

    private let lock = NSLock()
    private var outbox: [Message] = []
    private var requests: [Effect] = []
    private var stopped = false
    private let signal = DispatchSemaphore(value: 0)
    private var thread: Thread?
    private var lastSeq: Int64 = 0
    private var started = false

    public static let batchLimit = 5000

    public init(store: ReadableStore, interval: Duration = .milliseconds(250), capacity: Int = 10_000,
                clock: @escaping @Sendable () -> Timestamp = { .now() }, wake: @escaping @Sendable () -> Void) {
        self.store = store
        self.interval = interval
        self.capacity = capacity
        self.clock = clock
        self.wake = wake
    }

    public func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "pipetop-reader"
        self.thread = thread
        thread.start()
    }

    public func stop() {
        lock.withLock { stopped = true }
        signal.signal()
    }

    /// Messages read so far (the UI loop drains them after a wake).
    public func drain() -> [Message] {
        lock.withLock {
            defer { outbox.removeAll() }
            return outbox
        }
    }

    /// `.loadHistory` and `.loadLatest` effects: answered on the reader's thread.
    public func request(_ effect: Effect) {
        lock.withLock { requests.append(effect) }
        signal.signal()
    }

    private func post(_ message: Message) {
        lock.withLock { outbox.append(message) }
        wake()
    }

    private func loop() {
        while true {
            let (isStopped, pending) = lock.withLock { () -> (Bool, [Effect]) in
                defer { requests.removeAll() }
                return (stopped, requests)
            }
            if isStopped { return }
            for request in pending { answer(request) }
            let snapshot = poll()
            post(.data(snapshot))
            _ = signal.wait(timeout: .now() + .microseconds(Int(interval.micros)))
        }
    }

    private func answer(_ request: Effect) {
        do {
            switch request {
            case .loadHistory(let before, let limit):
                post(.history(try store.history(before: before, limit: limit), requested: limit))
            case .loadLatest(let limit):
                post(.latest(try store.history(before: .max, limit: limit).reversed()))
            default: break
            }
        } catch {
            post(.data(DataSnapshot(time: clock(), records: [], queues: [], runtimes: [], published: 0, error: "\(error)".terminalSafe)))
        }
    }

    private func poll() -> DataSnapshot {
        do {
            let initial = !started
            var snapshot = try Self.snapshot(store: store, after: initial ? nil : lastSeq, limit: initial ? capacity : Self.batchLimit, now: clock())
            snapshot.initial = initial
            started = true
            if let last = snapshot.records.last { lastSeq = max(lastSeq, last.seq) }
            return snapshot
        } catch {
            return DataSnapshot(time: clock(), records: [], queues: [], runtimes: [], published: 0, error: "\(error)".terminalSafe)
        }
    }

    /// One read of the store as the dashboard needs it: the records after `after` (or, with nil,
    /// the newest `limit`), queue stats at `now`, runtimes and the published total.
    public static func snapshot(store: ReadableStore, after: Int64?, limit: Int, now: Timestamp) throws -> DataSnapshot {
        try store.read { snapshot in
            let records = try after.map { try snapshot.tail(after: $0, limit: limit) } ?? snapshot.history(before: .max, limit: limit).reversed()
            return DataSnapshot(time: now, records: records, queues: try snapshot.queueStats(now: now),
                                runtimes: try snapshot.runtimes(), published: try snapshot.publishedTotal(), initial: after == nil)
        }
    }
}
