import Foundation
import PipetopCore

/// Polls a store on its own thread and hands `Message`s to the UI loop, so keys never wait for the
/// database. Each poll reads what the visible screens need (`setNeeds`), all in one consistent
/// read; the log continues after the last seen `seq` (at most `batchLimit` per poll). Screens'
/// one-off reads (`StoreRequest`, e.g. older records for scrolling back) are answered here too, and
/// the screens' changes to the store (`StoreMutation`) are carried out here with the writer, off
/// the UI thread, each answered whether it worked or not.
public final class StoreReader: @unchecked Sendable {
    /// Only the reader's thread changes them (`reopenIfReplaced`) once it has started.
    public private(set) var store: ReadableStore
    /// The dashboard's writer: nil under `--read-only` (every mutation is then answered refused).
    public private(set) var writer: Store?
    /// Opens the store again (its reader and writer), when its file was replaced under it.
    public typealias Reopen = @Sendable () throws -> (ReadableStore, Store?)
    private let reopen: Reopen?
    public let interval: Duration
    public let capacity: Int
    /// Called (on the reader's thread) after each message is queued: wakes the UI loop.
    private let wake: @Sendable () -> Void
    private let clock: @Sendable () -> Timestamp

    private let lock = NSLock()
    private var outbox: [Message] = []
    private var requests: [(StoreRequest, ScreenID)] = []
    private var mutations: [(StoreMutation, ScreenID)] = []
    private var needs: Set<DataNeed>
    private var stopped = false
    /// While the terminal is another program's: no polls (nothing would be drawn from them).
    private var paused = false
    private let signal = DispatchSemaphore(value: 0)
    private var thread: Thread?
    /// Other connections' new work wakes the poll early (PostgreSQL's LISTEN/NOTIFY), at most
    /// once per `minimumGap` after the last poll: a busy pipeline commits far more often than frames are drawn.
    private var watch: (any StoreWatch)?
    private var workArrived = false
    private var lastPoll: Int64 = 0
    static let minimumGap: Int64 = 50_000
    /// Where the log was read up to (nil: not yet), and whether the last poll read it.
    private var lastSeq: Int64?
    private var logWasRead = false

    public static let batchLimit = 5000

    public init(store: ReadableStore, writer: Store? = nil, interval: Duration = .milliseconds(250), capacity: Int = 10_000, needs: Set<DataNeed>,
                clock: @escaping @Sendable () -> Timestamp = { .now() }, reopen: Reopen? = nil, wake: @escaping @Sendable () -> Void) {
        self.store = store
        self.reopen = reopen
        self.writer = writer
        self.interval = interval
        self.capacity = capacity
        self.needs = needs
        self.clock = clock
        self.wake = wake
    }

    public func start() {
        watch = store.watchForWork { [weak self] in self?.noteWork() }
        let thread = Thread { [self] in loop() }
        thread.name = "pipetop-reader"
        self.thread = thread
        thread.start()
    }

    public func stop() {
        lock.withLock { stopped = true }
        signal.signal()
        watch?.cancel()
    }

    /// New work in the store: one early poll, however many commits said so.
    private func noteWork() {
        let first = lock.withLock {
            defer { workArrived = true }
            return !workArrived
        }
        if first { signal.signal() }
    }

    /// Holds the polls for the time `body` runs (the user's editor has the terminal), then reads
    /// at once. One-off reads and mutations asked meanwhile wait too.
    public func paused<T>(_ body: () throws -> T) rethrows -> T {
        lock.withLock { paused = true }
        defer {
            lock.withLock { paused = false }
            signal.signal()
        }
        return try body()
    }

    /// Messages read so far (the UI loop drains them after a wake).
    public func drain() -> [Message] {
        lock.withLock {
            defer { outbox.removeAll() }
            return outbox
        }
    }

    /// What the next polls read; a change (another screen shown) is read at once.
    public func setNeeds(_ new: Set<DataNeed>) {
        let changed = lock.withLock {
            defer { needs = new }
            return needs != new
        }
        if changed { signal.signal() }
    }

    /// A screen's one-off read: answered on the reader's thread before its next poll.
    public func request(_ request: StoreRequest, for screen: ScreenID) {
        lock.withLock { requests.append((request, screen)) }
        signal.signal()
    }

    /// A screen's change to the store: carried out on the reader's thread, then the stores' state re-read.
    public func mutate(_ mutation: StoreMutation, for screen: ScreenID) {
        lock.withLock { mutations.append((mutation, screen)) }
        signal.signal()
    }

    private func post(_ message: Message) {
        lock.withLock { outbox.append(message) }
        wake()
    }

    private func loop() {
        while true {
            if lock.withLock({ paused && !stopped }) {
                _ = signal.wait(timeout: .now() + .milliseconds(250))
                continue
            }
            let (isStopped, pending, changes, needs) = lock.withLock { () -> (Bool, [(StoreRequest, ScreenID)], [(StoreMutation, ScreenID)], Set<DataNeed>) in
                defer {
                    requests.removeAll()
                    mutations.removeAll()
                }
                return (stopped, requests, mutations, self.needs)
            }
            // A confirmed mutation is carried out even when the dashboard is quitting.
            for (mutation, screen) in changes { post(.answer(mutation.apply(to: writer, at: clock()), for: screen)) }
            if isStopped { return }
            if let problem = reopenIfReplaced() {
                post(.data(DataSnapshot(time: clock(), error: problem)))
                _ = signal.wait(timeout: .now() + .microseconds(Int(interval.micros)))
                continue
            }
            for (request, screen) in pending { answer(request, for: screen) }
            if lock.withLock({ workArrived }) {
                let since = Int64(DispatchTime.now().uptimeNanoseconds / 1000) - lastPoll
                if since < Self.minimumGap { usleep(UInt32(Self.minimumGap - since)) }
            }
            lock.withLock { workArrived = false }
            lastPoll = Int64(DispatchTime.now().uptimeNanoseconds / 1000)
            post(.data(poll(needs)))
            _ = signal.wait(timeout: .now() + .microseconds(Int(interval.micros)))
        }
    }

    /// A store file replaced or removed under the dashboard (a restore, a move) would go on being
    /// read, stale, without a word: it is opened again, the log read from the new one's newest
    /// records, and the user told. Returns what stands in the way while it cannot be (then polled again).
    private func reopenIfReplaced() -> String? {
        guard let change = store.locationChanged() else { return nil }
        guard let reopen else { return change }
        do {
            (store, writer) = try reopen()
        } catch {
            return "\(change); cannot open it again: \(error)".terminalSafe
        }
        lastSeq = nil
        var notice = DataSnapshot(time: clock())
        notice.notice = "\(change): opened again, showing the new one"
        post(.data(notice))
        return nil
    }

    private func answer(_ request: StoreRequest, for screen: ScreenID) {
        do {
            post(.answer(try request.answer(from: store), for: screen))
        } catch {
            post(.data(DataSnapshot(time: clock(), error: "\(error)".terminalSafe)))
        }
    }

    private func poll(_ needs: Set<DataNeed>) -> DataSnapshot {
        let readsLog = needs.contains(StoreData.log.need)
        let cursor = LogCursor(after: lastSeq, limit: lastSeq == nil ? capacity : Self.batchLimit, capacity: capacity,
                               resumed: readsLog && !logWasRead)
        logWasRead = readsLog
        do {
            let snapshot = try StoreData.read(needs, from: store, context: ReadContext(now: clock(), log: cursor))
            if let page = snapshot[StoreData.log] {
                let last = page.records.last?.seq ?? lastSeq ?? 0
                lastSeq = page.reset ? last : max(lastSeq ?? 0, last)
            }
            return snapshot
        } catch {
            logWasRead = false
            return DataSnapshot(time: clock(), error: "\(error)".terminalSafe)
        }
    }

    /// Everything the Overview, the Events and the header read, at once, as the poller reads it:
    /// the records after `after` (or, with nil, the newest `limit`), queue stats at `now`, runtimes
    /// and the published total. For tests and benchmarks that feed an `AppState` without a reader.
    public static func snapshot(store: ReadableStore, after: Int64?, limit: Int, now: Timestamp) throws -> DataSnapshot {
        let needs = Set(Chrome.needs + ScreenID.allCases.flatMap { $0.type.needs })
        return try StoreData.read(needs, from: store, context: ReadContext(now: now, log: LogCursor(after: after, limit: limit, capacity: limit)))
    }
}
