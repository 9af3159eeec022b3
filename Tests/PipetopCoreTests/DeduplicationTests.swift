import Foundation
import GRDB
import Testing
@testable import PipetopCore

/// Opt-in deduplication by `source` + `id` (`QueueSpec.deduplicate`), through the store with
/// explicit times, and through a real runtime.
@Suite struct DeduplicationTests {
    let t0 = Timestamp(micros: 1_800_000_000_000_000)
    let db = try! TestStore()

    func event(_ id: String, source: String = "/shop") -> CloudEvent {
        CloudEvent(id: id, source: source, type: "order.placed", time: t0, correlationID: "flow-\(id)")
    }

    func publish(_ events: [CloudEvent], at: Timestamp, window: Duration? = .seconds(600)) throws {
        var batch = WriteBatch(now: at)
        batch.publishes = events.map { RoutedEvent(event: $0, targets: [Target(queue: "q", held: false, deduplicate: window), Target(queue: "plain", held: false)]) }
        _ = try db.store.apply(batch)
    }

    func messages(_ queue: String) throws -> Int { try db.count("SELECT count(*) FROM messages WHERE queue = '\(queue)'") }

    @Test func theSameSourceAndIdWithinTheWindowIsADuplicate() throws {
        try db.store.declare(
            queues: [QueueSpec("q", deduplicate: .seconds(600)), QueueSpec("plain")], rules: [],
            runtime: RuntimeInfo(name: "r", pid: 1, host: "h", store: db.path, startedAt: t0, heartbeatAt: t0))
        try publish([event("a")], at: t0)
        try publish([event("a")], at: t0 + .seconds(599))
        #expect(try messages("q") == 1, "not delivered again")
        #expect(try messages("plain") == 2, "a queue without a window is unchanged")
        let duplicate = try #require(try db.log().first { $0.kind == .duplicate })
        #expect(duplicate.queue == "q" && duplicate.eventID == "a")
        #expect(duplicate.detail == "source and id accepted at \(t0.rfc3339) (event seq 1)")
        #expect(try db.store.queueStats(now: t0).first { $0.name == "q" }?.duplicates == 1)
        #expect(try db.store.queueStats(now: t0).first { $0.name == "plain" }?.duplicates == 0)
    }

    @Test func inOneTickTooAndOnlyForTheSameSource() throws {
        try publish([event("a"), event("a"), event("a", source: "/other"), event("b")], at: t0)
        #expect(try messages("q") == 3)
        #expect(try db.log().filter { $0.kind == .duplicate }.count == 1)
    }

    @Test func afterTheWindowTheEventIsAcceptedAgainAndOldEntriesArePruned() throws {
        try publish([event("a"), event("b")], at: t0)
        try publish([event("a")], at: t0 + .seconds(601))
        #expect(try messages("q") == 3)
        #expect(try db.log().filter { $0.kind == .duplicate }.isEmpty)
        // Accepted again means remembered again: a third copy inside the new window is a duplicate.
        try publish([event("a")], at: t0 + .seconds(700))
        #expect(try messages("q") == 3)
        // "b" expired and was pruned as the queue went on.
        #expect(try db.count("SELECT count(*) FROM dedup WHERE id = 'b'") == 0)
    }

    @Test func unroutedEventsAreCheckedWhenARuntimeRoutesThem() throws {
        try db.store.publishUnrouted([event("a"), event("a")], at: t0)
        var fetch = WriteBatch(now: t0)
        fetch.fetchUnrouted = 10
        let fetched = try db.store.apply(fetch).unrouted
        var route = WriteBatch(now: t0)
        route.routings = fetched.map { ($0.seq, $0.event, [Target(queue: "q", held: false, deduplicate: .seconds(60))]) }
        _ = try db.store.apply(route)
        #expect(try messages("q") == 1)
        #expect(try db.log().map(\.kind) == [.published, .published, .routed, .enqueued, .routed, .duplicate])
    }

    @Test func aRuntimeDeliversADuplicateOnce() throws {
        var options = Runtime.Options()
        options.register = false
        let runtime = try Runtime(
            name: "dedup", store: db.store,
            queues: [QueueSpec("orders", deduplicate: .seconds(600)), QueueSpec("audit")],
            rules: [Rule("all", pattern: .type("order.placed"), targets: ["orders", "audit"])],
            options: options)
        let runs = Counter()
        runtime.handle("orders") { _ in runs.add("orders") }
        runtime.handle("audit") { _ in runs.add("audit") }
        try runtime.start()
        try runtime.publish([event("o-1")])
        try runtime.publish([event("o-1"), event("o-2")])
        #expect(eventually { runs.value("orders") == 2 && runs.value("audit") == 3 })
        runtime.stop()
        #expect(runs.value("orders") == 2)
        #expect(try db.store.queueStats(now: .now()).first { $0.name == "orders" }?.duplicates == 1)
    }

    @Test func aWindowMustBeUsable() {
        #expect(throws: ConfigurationError("queue 'q': a deduplication window must be at least 1 ms")) {
            try QueueSpec("q", deduplicate: .microseconds(10)).validate()
        }
    }
}

/// Counts by name, from any thread.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    func add(_ name: String) { lock.withLock { counts[name, default: 0] += 1 } }
    func value(_ name: String) -> Int { lock.withLock { counts[name] ?? 0 } }
}
