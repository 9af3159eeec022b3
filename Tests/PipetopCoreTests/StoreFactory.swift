import Foundation
import Testing
@testable import PipetopCore
import PipetopTestSupport

/// How the conformance suite makes an empty store of one backend. Every backend the product
/// ships is listed in `all`, and `StoreConformanceTests` runs every behaviour on each of them
/// through the protocols only: no SQL, no backend types.
struct StoreFactory: Sendable, CustomTestStringConvertible {
    let name: String
    /// A fresh, empty store.
    let make: @Sendable () throws -> StoreUnderTest

    var testDescription: String { name }

    static let sqlite = StoreFactory(name: "SQLite") {
        let test = try TestStore()
        return StoreUnderTest(store: test.store, keepAlive: test) { try SQLiteStore(path: test.path) }
    }

    /// A fresh database on the test server (`PIPETOP_TEST_POSTGRES`, see `TestPostgres`).
    static let postgres = StoreFactory(name: "PostgreSQL") {
        let url = try TestPostgres.freshDatabase()
        return StoreUnderTest(store: try PostgresStore(url: PostgresURL(parsing: url)), keepAlive: url as NSString) {
            try PostgresStore(url: PostgresURL(parsing: url))
        }
    }

    /// Every backend: PostgreSQL when a test server is there, and always in CI (`.ci/run`
    /// requires it, so there each of its cases fails without one instead of being left out).
    static let all: [StoreFactory] = TestPostgres.shouldRun() ? [.sqlite, .postgres] : [.sqlite]
}

/// A store made for one test, and the way to open it again (a second process, in effect).
final class StoreUnderTest: @unchecked Sendable {
    let store: any Store
    private let keepAlive: AnyObject
    private let reopen: @Sendable () throws -> any Store

    init(store: any Store, keepAlive: AnyObject, reopen: @escaping @Sendable () throws -> any Store) {
        self.store = store
        self.keepAlive = keepAlive
        self.reopen = reopen
    }

    /// Another connection to the same store, as another process would have.
    func openAgain() throws -> any Store { try reopen() }
}

/// Driving a store with explicit times: no clock, no threads.
struct StoreHarness {
    let made: StoreUnderTest
    var store: any Store { made.store }
    let t0 = Timestamp(micros: 1_800_000_000_000_000)

    init(_ factory: StoreFactory) throws { made = try factory.make() }

    func event(_ id: String, type: String = "listing.uploaded", source: String = "/test") -> CloudEvent {
        CloudEvent(id: id, source: source, type: type, time: t0, data: try! .json(object: ["n": id]), correlationID: "flow-\(id)")
    }

    func request(_ queue: String = "q", limit: Int = 10, lease: Duration = .seconds(30), maxAttempts: Int = 3, maxAge: Duration? = nil, deadLetter: Bool = true) -> ClaimRequest {
        ClaimRequest(queue: queue, limit: limit, lease: lease, maxAttempts: maxAttempts, maxAge: maxAge, deadLetter: deadLetter)
    }

    @discardableResult
    func tick(_ at: Timestamp, _ build: (inout WriteBatch) -> Void) throws -> WriteResult {
        var batch = WriteBatch(now: at)
        build(&batch)
        return try store.apply(batch)
    }

    func publish(_ events: [CloudEvent], to queue: String = "q", held: Bool = false, deduplicate: Duration? = nil, at: Timestamp? = nil) throws {
        try tick(at ?? t0) { $0.publishes = events.map { RoutedEvent(event: $0, targets: [Target(queue: queue, held: held, deduplicate: deduplicate)]) } }
    }

    func claim(_ at: Timestamp, _ request: ClaimRequest? = nil) throws -> [ClaimedMessage] {
        try tick(at) { $0.claims = [request ?? self.request()] }.claimed
    }

    @discardableResult
    func finish(_ message: ClaimedMessage, at: Timestamp, _ result: Outcome.Result) throws -> WriteResult {
        try tick(at) { $0.outcomes = [Outcome(claim: message.claim, duration: .milliseconds(3), finishedAt: at, result: result)] }
    }

    /// Declares queues (stats show lifetime counters for declared queues).
    func declare(_ queues: [String]) throws {
        try store.declare(
            queues: queues.map { QueueSpec($0) }, rules: [],
            runtime: RuntimeInfo(name: "test", pid: 1, host: "h", store: store.location, startedAt: t0, heartbeatAt: t0))
    }

    /// Every log record, oldest first.
    func log() throws -> [LifecycleRecord] { try store.tail(after: 0, limit: 10_000_000) }
    func kinds() throws -> [String] { try log().map(\.kind.rawValue) }

    func stats(_ queue: String = "q", at: Timestamp? = nil) throws -> QueueStats? {
        try store.queueStats(now: at ?? t0).first { $0.name == queue }
    }

    /// Messages of a queue not yet gone (held, ready, scheduled, in flight, dead).
    func messages(_ queue: String = "q") throws -> Int {
        guard let stats = try stats(queue) else { return 0 }
        return stats.lagMessages + stats.dead
    }

    /// Every message of one queue in one state, through the pages.
    func all(_ queue: String = "q", _ state: MessageState, pageSize: Int = 100) throws -> [MessageInfo] {
        var items: [MessageInfo] = []
        var cursor: PageCursor?
        repeat {
            let page = try store.messages(queue: queue, state: state, page: PageRequest(limit: pageSize, after: cursor))
            items += page.items
            cursor = page.next
        } while cursor != nil
        return items
    }

    /// Dead-letters `count` messages of `queue` (non-retryable failures), one tick each, 1 s apart.
    @discardableResult
    func deadLetter(_ ids: [String], queue: String = "q", from start: Timestamp? = nil) throws -> Timestamp {
        var now = start ?? t0
        for id in ids {
            try publish([event(id)], to: queue, at: now)
            let message = try claim(now, request(queue))
            try finish(message[0], at: now, .deadLetter(error: "malformed \(id)", reason: .nonRetryable))
            now = now + .seconds(1)
        }
        return now
    }
}
