import Foundation
import GRDB
import Testing
@testable import PipetopCore

/// The runtime with real threads, a real SQLite file and real time. Tests wait for outcomes with
/// `eventually` (a deadline only bounds a failure); they never assert how fast anything was.
@Suite(.serialized) struct RuntimeTests {
    func options() -> Runtime.Options {
        var options = Runtime.Options()
        options.register = false
        options.cpuSampleInterval = .milliseconds(100)
        return options
    }

    func settled(_ db: TestStore) throws -> Bool {
        try db.store.queueStats(now: .now()).allSatisfy { $0.lagMessages == 0 }
            && db.count("SELECT count(*) FROM events WHERE routed = 0") == 0
    }

    struct Flaky: Error, CustomStringConvertible { var description: String { "flaky downstream" } }

    /// Thousands of events through a three-hop pipeline with permanent, transient and poison
    /// faults: every routed message must end in exactly one terminal state, nothing lost.
    @Test func everyMessageEndsExactlyOnceWithFaults() throws {
        let db = try TestStore()
        let fast = Backoff(base: .milliseconds(2), cap: .milliseconds(20), jitter: 0.5)
        let runtime = try Runtime(
            name: "faults", store: db.store,
            queues: [
                QueueSpec("a", concurrency: 3, maxAttempts: 3, backoff: fast),
                QueueSpec("b", concurrency: 2, maxAttempts: 3, backoff: fast),
                QueueSpec("c", concurrency: 2, maxAttempts: 3, backoff: fast),
            ],
            rules: [
                Rule("start", pattern: .type("start"), targets: ["a"]),
                try Rule("fan", pattern: #"{"type": ["middle"], "data": {"n": [{"numeric": [">=", 0]}]}}"#, targets: ["b", "c"]),
            ],
            options: options())
        runtime.handle("a") { delivery in
            let n = (delivery.event.data?.jsonObject() as? [String: Int])?["n"] ?? -1
            if n % 50 == 0 { throw PermanentFailure("malformed \(n)") }
            if n % 10 == 3 && delivery.attempt == 1 { throw Flaky() }
            delivery.publish(type: "middle", data: delivery.event.data)
        }
        runtime.handle("b") { delivery in
            let n = (delivery.event.data?.jsonObject() as? [String: Int])?["n"] ?? -1
            if n % 97 == 1 { throw Flaky() }  // poison: fails every attempt
        }
        runtime.handle("c") { _ in }
        try runtime.start()
        let total = 3000
        for chunk in stride(from: 0, to: total, by: 100) {
            try runtime.publish((chunk..<chunk + 100).map { n in
                CloudEvent(id: "e\(n)", source: "/test", type: "start", data: try! .json(object: ["n": n]))
            })
        }
        #expect(try eventually { try settled(db) })
        runtime.stop()

        let log = try db.log()
        var terminal: [Int64: [LifecycleKind]] = [:]
        var enqueued = Set<Int64>()
        for record in log {
            guard let id = record.messageID else { continue }
            if record.kind == .enqueued { enqueued.insert(id) }
            if record.kind == .succeeded || record.kind == .deadLettered { terminal[id, default: []].append(record.kind) }
        }
        let malformed = (0..<total).filter { $0 % 50 == 0 }.count
        #expect(enqueued.count == total + 2 * (total - malformed))
        #expect(Set(terminal.keys) == enqueued, "every routed message reached a terminal state")
        #expect(terminal.values.allSatisfy { $0.count == 1 }, "and exactly one")
        let dead = try db.store.deadLetters(queue: nil, limit: 10_000)
        let poison = (0..<total).filter { $0 % 97 == 1 && $0 % 50 != 0 }.count
        #expect(dead.filter { $0.queue == "a" }.count == malformed)
        #expect(dead.filter { $0.queue == "a" }.allSatisfy { $0.reason == .nonRetryable && $0.errors.count == 1 })
        #expect(dead.filter { $0.queue == "b" }.count == poison)
        #expect(dead.filter { $0.queue == "b" }.allSatisfy { $0.reason == .maxAttempts && $0.errors.map(\.attempt) == [1, 2, 3] })
        let retried = log.filter { $0.kind == .retryScheduled && $0.queue == "a" }.count
        #expect(retried == (0..<total).filter { $0 % 10 == 3 && $0 % 50 != 0 }.count)
        #expect(try db.store.queueStats(now: .now()).allSatisfy { $0.ready + $0.inFlight + $0.scheduled == 0 })
        // The writer does not enforce the schema's REFERENCES (for speed); every row must still
        // point at an event that exists.
        let dangling = try db.store.database.read { try Row.fetchAll($0, sql: "PRAGMA foreign_key_check") }
        #expect(dangling.isEmpty, "rows pointing at no event: \(dangling)")
    }

    @Test func childEventsCarryCorrelationAndCausation() throws {
        let db = try TestStore()
        let runtime = try Runtime(
            name: "chain", store: db.store, queues: [QueueSpec("one"), QueueSpec("two"), QueueSpec("three")],
            rules: [
                Rule("1", pattern: .type("first"), targets: ["one"]), Rule("2", pattern: .type("second"), targets: ["two"]),
                Rule("3", pattern: .type("third"), targets: ["three"]),
            ],
            options: options())
        runtime.handle("one") { $0.publish(type: "second") }
        runtime.handle("two") { $0.publish(type: "third") }
        runtime.handle("three") { _ in }
        try runtime.start()
        try runtime.publish(CloudEvent(id: "root", source: "/t", type: "first", traceparent: "00-abc-def-01"))
        #expect(try eventually { try settled(db) && db.store.publishedTotal() == 3 })
        runtime.stop()
        let events = try db.store.database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, type, correlation_id, causation_id, traceparent FROM events ORDER BY seq")
        }
        #expect(events.map { $0[2] as String } == ["root", "root", "root"], "the entry event is its own correlation")
        #expect(events[1][3] as String == "root")
        #expect(events[2][3] as String == events[1][0] as String)
        #expect(events.allSatisfy { $0[4] as String == "00-abc-def-01" })
        #expect(try db.store.trace(correlationID: "root").filter { $0.kind == .succeeded }.count == 3)
    }

    @Test func aHungHandlerLosesItsLeaseAndTheMessageIsDeliveredAgain() throws {
        let db = try TestStore()
        let release = DispatchSemaphore(value: 0)
        let runtime = try Runtime(
            name: "lease", store: db.store, queues: [QueueSpec("slow", concurrency: 2, visibilityTimeout: .milliseconds(200))],
            rules: [Rule("r", pattern: .type("job"), targets: ["slow"])], options: options())
        runtime.handle("slow") { delivery in
            if delivery.attempt == 1 { release.wait() }  // hangs until the test lets it go
        }
        try runtime.start()
        try runtime.publish(CloudEvent(id: "job-1", source: "/t", type: "job"))
        #expect(try eventually { try db.log().filter { $0.kind == .succeeded }.count == 1 })
        release.signal()  // the first run returns late; its ack must be ignored
        runtime.stop()
        let log = try db.log()
        #expect(log.contains { $0.kind == .leaseExpired && $0.attempt == 1 })
        #expect(log.filter { $0.kind == .succeeded }.map(\.attempt) == [2])
        #expect(log.filter { $0.kind == .claimed }.map(\.attempt) == [1, 2])
        #expect(try db.store.queueStats(now: .now()).allSatisfy { $0.lagMessages + $0.dead == 0 })
    }

    @Test func batchQueuesReleaseWhenTheWindowCloses() throws {
        let db = try TestStore()
        let runtime = try Runtime(
            name: "batch", store: db.store, queues: [QueueSpec("nightly", mode: .batch(every: .milliseconds(300)))],
            rules: [Rule("r", pattern: .type("job"), targets: ["nightly"])], options: options())
        runtime.handle("nightly") { _ in }
        try runtime.start()
        try runtime.publish((1...20).map { CloudEvent(id: "j\($0)", source: "/t", type: "job") })
        #expect(try eventually { try db.log().filter { $0.kind == .succeeded }.count == 20 })
        runtime.stop()
        let log = try db.log()
        for id in (1...20).map({ "j\($0)" }) {
            let kinds = log.filter { $0.eventID == id }.map(\.kind)
            #expect(kinds == [.published, .routed, .enqueued, .batchReleased, .claimed, .succeeded])
        }
        // Published in one call, they wait for the same window and are released together, in one tick.
        let released = log.filter { $0.kind == .batchReleased }
        let enqueued = log.filter { $0.kind == .enqueued }
        #expect(Set(released.map(\.time)).count == 1)
        #expect(released.first?.detail == "window released 20 messages")
        #expect(released.first!.time >= enqueued.map(\.time).max()!)
    }

    /// Routing ownership: two runtimes on one store (each with its own connection, as two
    /// processes), each serving its queues. An event published from outside, or by either of them,
    /// goes by the union of their rules, once; it is rejected only when neither's rules match,
    /// and a runtime that stopped no longer routes for the rest.
    @Test func eventsGoByTheRulesOfEveryLiveRuntimeOnTheStore() throws {
        let db = try TestStore()
        let shop = try Runtime(
            name: "shop", store: db.store, queues: [QueueSpec("orders")],
            rules: [Rule("main", pattern: .type("order"), targets: ["orders"])], options: options())
        let search = try Runtime(
            name: "search", store: try SQLiteStore(path: db.path), queues: [QueueSpec("index")],
            rules: [Rule("main", pattern: .type("listing"), targets: ["index"])], options: options())
        let handled = Locked<[String: [String]]>([:])
        shop.handle("orders") { delivery in handled.withLock { $0["orders", default: []].append(delivery.event.id) } }
        search.handle("index") { delivery in handled.withLock { $0["index", default: []].append(delivery.event.id) } }
        try shop.start()
        try search.start()
        let cli = try SQLiteStore(path: db.path)
        try cli.publishUnrouted([
            CloudEvent(id: "o1", source: "/cli", type: "order"), CloudEvent(id: "l1", source: "/cli", type: "listing"),
            CloudEvent(id: "x1", source: "/cli", type: "unknown"),
        ], at: .now())
        try shop.publish(CloudEvent(id: "l2", source: "/shop", type: "listing"))  // shop's own rules do not match it
        #expect(try eventually { handled.withLock { $0 }["index"]?.sorted() == ["l1", "l2"] })
        #expect(try eventually { handled.withLock { $0 }["orders"] == ["o1"] })
        #expect(try eventually { try settled(db) })
        let log = try db.log()
        for id in ["o1", "l1", "x1"] { #expect(log.filter { $0.eventID == id && ($0.kind == .routed || $0.kind == .rejected) }.count == 1, "\(id) routed once") }
        #expect(log.filter { $0.kind == .rejected }.map(\.eventID) == ["x1"])
        #expect(log.first { $0.eventID == "l2" && $0.kind == .routed }?.detail == "index")

        // Once search has stopped, shop rejects what only search's rules matched.
        search.stop()
        try cli.publishUnrouted([CloudEvent(id: "l3", source: "/cli", type: "listing")], at: .now())
        #expect(try eventually { try db.log().contains { $0.eventID == "l3" && $0.kind == .rejected } })
        #expect(try db.log().filter { $0.eventID == "l3" && $0.kind == .routed }.isEmpty)
        shop.stop()
    }

    @Test func aSecondLiveRegistrationOfOneNodeIsRefused() throws {
        let db = try TestStore()
        let first = try Runtime(name: "node", store: db.store, queues: [QueueSpec("q")], rules: [], options: options())
        let second = try Runtime(name: "node", store: try SQLiteStore(path: db.path), queues: [QueueSpec("q")], rules: [], options: options())
        try first.start()
        #expect(throws: ConfigurationError.self) { try second.start() }
        #expect(!second.isRunning)
        first.stop()
        try second.start()  // once the first stopped, the node may run again
        second.stop()
    }

    /// An async handler runs on the queue's own worker threads, before and after each `await`,
    /// its errors retry as any handler's, and its CPU is the queue's.
    @Test func asyncHandlersRunOnTheQueuesThreadsWithTheirCPUCounted() throws {
        let db = try TestStore()
        let runtime = try Runtime(
            name: "async", store: db.store, queues: [QueueSpec("aq", concurrency: 2, backoff: Backoff(base: .milliseconds(5), cap: .milliseconds(20)))],
            rules: [Rule("r", pattern: .type("job"), targets: ["aq"])], options: options())
        let threads = Locked<Set<String>>([])
        @Sendable func note() { threads.withLock { _ = $0.insert(Thread.current.name ?? "?") } }
        runtime.handle("aq") { delivery async throws in
            note()
            try await Task.sleep(for: .milliseconds(2))
            note()
            await Task.yield()
            var spin: UInt64 = 0
            let until = CPUClock.thread() + .milliseconds(10)
            while CPUClock.thread() < until { spin = spin &+ 1 }  // 10 ms of this thread's CPU
            note()
            if delivery.attempt == 1 && spin > 0 { throw PermanentFailureOnce() }
        }
        try runtime.start()
        try runtime.publish((1...6).map { CloudEvent(id: "a\($0)", source: "/t", type: "job") })
        #expect(try eventually { try db.log().filter { $0.kind == .succeeded }.count == 6 })
        #expect(try db.log().filter { $0.kind == .retryScheduled }.count == 6, "the first attempt's error retried")
        #expect(threads.withLock { $0 }.allSatisfy { $0.hasPrefix("aq#") }, "\(threads.withLock { $0 })")
        #expect(try eventually { try db.store.cpuSamples(since: Timestamp(micros: 0)).filter { $0.scope == "aq" }.reduce(Duration.zero) { $0 + $1.cpu } > .milliseconds(100) })
        runtime.stop()
    }

    struct PermanentFailureOnce: Error {}

    @Test func cpuSamplesAreRecordedPerQueueAndForTheProcess() throws {
        let db = try TestStore()
        let runtime = try Runtime(
            name: "cpu", store: db.store, queues: [QueueSpec("burn", concurrency: 1)],
            rules: [Rule("r", pattern: .type("burn"), targets: ["burn"])], options: options())
        runtime.handle("burn") { _ in
            var x: UInt64 = 1
            for i in 0..<2_000_000 { x = x &* 6364136223846793005 &+ UInt64(i) }
            if x == 42 { print(x) }
        }
        try runtime.start()
        try runtime.publish((1...10).map { CloudEvent(id: "b\($0)", source: "/t", type: "burn") })
        #expect(try eventually { try db.log().filter { $0.kind == .succeeded }.count == 10 })
        #expect(try eventually { try db.store.cpuSamples(since: Timestamp(micros: 0)).filter { $0.scope == "burn" }.map(\.runs).reduce(0, +) == 10 })
        runtime.stop()
        let samples = try db.store.cpuSamples(since: Timestamp(micros: 0))
        let burn = samples.filter { $0.scope == "burn" }
        #expect(burn.map(\.cpu).reduce(.zero, +) > .zero)
        #expect(burn.allSatisfy { $0.cpu <= $0.busy + .milliseconds(1) }, "thread CPU never exceeds the wall time in the handler")
        #expect(samples.contains { $0.scope == CPUSample.processScope && $0.cpu > .zero && $0.capacity >= 1 })
    }

    @Test func publishingNeedsARunningRuntimeAndStopIsClean() throws {
        let db = try TestStore()
        let runtime = try Runtime(name: "idle", store: db.store, queues: [QueueSpec("q")], rules: [], options: options())
        #expect(throws: ConfigurationError.self) { try runtime.publish(CloudEvent(source: "/t", type: "x")) }
        try runtime.start()
        try runtime.publish(CloudEvent(id: "x", source: "/t", type: "x"))
        runtime.stop()
        #expect(try db.log().map(\.kind) == [.published, .rejected])
        #expect(try db.store.runtimes().first?.stoppedAt != nil)
    }

    @Test func aRuntimeThatDoesNotRegisterWritesNoRegistryFile() throws {
        let db = try TestStore()
        let name = "unregistered-\(UUID().uuidString.prefix(8))"
        let runtime = try Runtime(name: name, store: db.store, queues: [QueueSpec("q")], rules: [], options: options())
        try runtime.start()
        try runtime.publish(CloudEvent(id: "x", source: "/t", type: "x"))
        // A heartbeat is committed (stop() would also move heartbeat_at, so look before it).
        #expect(try eventually {
            try db.store.runtimes().contains { $0.name == name && $0.heartbeatAt > $0.startedAt }
        })
        runtime.stop()  // joins the engine thread: whatever it would write is written
        #expect(!FileManager.default.fileExists(atPath: Registry.path(for: name)))
    }
}

@Suite struct QueueWorkersTests {
    final class Reports: @unchecked Sendable {
        let lock = NSLock()
        var outcomes: [Outcome] = []
        var runs = 0
    }

    func message(_ id: Int64, leaseUntil: Timestamp) -> ClaimedMessage {
        let event = CloudEvent(id: "m\(id)", source: "/t", type: "job")
        return ClaimedMessage(
            claim: Claim(messageID: id, queue: "q", delivery: 1, attempt: 1, eventSeq: id, eventID: event.id, eventType: event.type,
                         correlationID: event.id, enqueuedAt: .now(), leaseUntil: leaseUntil, publishedAt: .now(), flowStartedAt: .now()),
            event: event)
    }

    /// A prefetched message whose lease ran out while it waited may already be delivered again:
    /// it goes back unstarted instead of running twice.
    @Test func aMessageWhoseLeaseEndedInTheBufferIsNotRun() throws {
        let reports = Reports()
        let router = FleetRouter(local: try Router(rules: [], queues: [QueueSpec("q")]), runtime: "t")
        let workers = QueueWorkers(
            spec: QueueSpec("q", concurrency: 1), handler: { _ in reports.lock.withLock { reports.runs += 1 } }, router: router,
            report: { outcome in reports.lock.withLock { reports.outcomes.append(outcome) } })
        workers.start()
        workers.enqueue([message(1, leaseUntil: .now() - .seconds(1)), message(2, leaseUntil: .now() + .seconds(60))])
        #expect(eventually { reports.lock.withLock { reports.outcomes.count == 2 } })
        workers.stop()
        _ = workers.join(within: .seconds(10))
        let results = reports.lock.withLock { reports.outcomes.map { ($0.claim.messageID, "\($0.result)") } }
        #expect(results.first { $0.0 == 1 }?.1 == "unstarted")
        #expect(results.first { $0.0 == 2 }?.1.hasPrefix("succeeded") == true)
        #expect(reports.lock.withLock { reports.runs } == 1)
    }
}

/// The runtime's timers wait on the monotonic clock (`MonotonicCondition`); what can be tested
/// without stepping the machine's clock is that a wait ends by a signal, or when its time is up,
/// and at once for no time at all.
@Suite struct MonotonicConditionTests {
    @Test func aWaitEndsWhenSignalledOrWhenItsTimeIsUp() throws {
        let condition = MonotonicCondition()
        condition.lock()
        #expect(condition.wait(for: .zero) == false)
        #expect(condition.wait(for: .milliseconds(-5)) == false)
        let started = Monotonic.micros
        #expect(condition.wait(for: .milliseconds(30)) == false, "nobody signalled")
        #expect(Monotonic.micros - started >= 30_000, "it waited its time on the monotonic clock")
        condition.unlock()

        let signalled = Locked(false)
        let thread = Thread {
            condition.withLock {
                signalled.withLock { $0 = true }
                condition.signal()
            }
        }
        condition.lock()
        thread.start()
        var woken = false
        while !signalled.withLock({ $0 }) { woken = condition.wait(for: .seconds(60)) }
        condition.unlock()
        #expect(woken, "woken by the signal, not by the time")
    }
}
