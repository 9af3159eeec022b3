import Foundation
import PipetopTestSupport
import Testing
@testable import PipetopCore

/// Several runtime processes on one PostgreSQL database: the demo's workload (retries, poison,
/// malformed listings, a batch window) served by three nodes, one of them SIGKILLed mid-run (its
/// peers take its leases back), then the store checked whole; and two processes replaying the same dead letters at once. Nothing
/// here depends on speed: every wait has a generous deadline only to bound a failure.
@Suite(.serialized, .enabled("needs PostgreSQL", { TestPostgres.shouldRun() }))
struct MultiNodeTests {
    let db = try! TestStore()

    var environment: [String: String] {
        Child.environment(adding: ["XDG_RUNTIME_DIR": db.directory.appendingPathComponent("run").path,
                                   "XDG_STATE_HOME": db.directory.appendingPathComponent("state").path])
    }

    /// The pids the demo prints: "(3 nodes: pids 1, 2, 3)".
    static func pids(_ output: String) -> [Int32] {
        guard let range = output.range(of: "nodes: pids ") else { return [] }
        return output[range.upperBound...].prefix { $0 != ")" }.split(separator: ",").compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
    }

    @Test func threeNodesOneKilledFinishEveryMessageExactlyOnce() throws {
        let url = try TestPostgres.freshDatabase()
        let demo = try Child([Child.pipetop, "demo", "--headless", "--store", url, "--nodes", "3", "--rate", "150", "--window", "1s"],
                             environment: environment, in: db.directory)
        #expect(eventually { demo.stdout.contains(" published ") }, "started: \(demo.stderr)")
        let pids = Self.pids(demo.stdout)
        try #require(pids.count == 3, "\(demo.stdout.prefix(300))")
        let store = try PostgresStore(url: PostgresURL(parsing: url), readOnly: true)
        #expect(eventually(timeout: 30) { (try? store.runtimes().filter { $0.stoppedAt == nil }.count) == 3 }, "three nodes registered")
        Thread.sleep(forTimeInterval: 3)
        // A node that is not the publisher dies with work in flight, its leases with it.
        kill(pids[1], SIGKILL)
        // Its peers, running on, find it dead (silent 10 s) and take back its leases at once,
        // not when they end (30 s), and mark it stopped.
        let killed = pids[1]
        #expect(eventually(timeout: 90) { (try? store.runtimes().first { $0.pid == killed }?.stoppedAt) != nil }, "the killed node found dead")
        let returnedAtOnce = try store.tail(after: 0, limit: 100_000_000).filter {
            $0.kind == .leaseExpired && $0.error?.hasPrefix("lease expired at once: runtime demo (pid \(killed) on ") == true
        }.count
        demo.signal(SIGTERM)
        #expect(demo.wait() == 0, "\(demo.stderr)")
        // The nodes that stopped cleanly handed back what they held, the killed node's came back:
        // nothing is left in flight.
        let orphaned = try store.queueStats(now: .now()).reduce(0) { $0 + $1.inFlight }
        #expect(orphaned == 0, "\(orphaned) still in flight")

        // One node serves what is left.
        let drain = try Child([Child.pipetop, "demo", "--headless", "--store", url, "--rate", "0", "--window", "1s"],
                              environment: environment, in: db.directory)
        let drained = eventually(timeout: 180) {
            guard let stats = try? store.queueStats(now: .now()) else { return false }
            return !stats.isEmpty && stats.allSatisfy { $0.lagMessages == 0 }
        }
        drain.signal(SIGTERM)
        #expect(drain.wait() == 0, "\(drain.stderr)")
        #expect(drained, "every queue drained: \((try? store.queueStats(now: .now()).map { "\($0.name) \($0.lagMessages)" }) ?? [])")

        let log = try store.tail(after: 0, limit: 100_000_000)
        let stats = try store.queueStats(now: .now())
        // Every message enqueued ends once: succeeded, or dead-lettered and still stored.
        var terminal: [Int64: Int] = [:]
        var enqueued = Set<Int64>()
        for record in log {
            guard let id = record.messageID else { continue }
            if record.kind == .enqueued { enqueued.insert(id) }
            if record.kind == .succeeded || record.kind == .deadLettered { terminal[id, default: 0] += 1 }
        }
        #expect(!enqueued.isEmpty)
        let unfinished = enqueued.filter { terminal[$0] == nil }
        let twice = terminal.filter { $0.value > 1 }
        #expect(unfinished.isEmpty, "messages that never ended: \(unfinished.sorted().prefix(10))")
        #expect(twice.isEmpty, "messages that ended twice: \(twice.keys.sorted().prefix(10))")
        for queue in stats {
            #expect(queue.enqueued == queue.succeeded + Int64(queue.dead), "\(queue.name): \(queue.enqueued) enqueued, \(queue.succeeded) succeeded, \(queue.dead) dead")
        }
        #expect(stats.reduce(0) { $0 + $1.succeeded } > 0 && stats.reduce(0) { $0 + $1.dead } > 0, "a workload with successes and dead letters")
        let nodes = Set(try store.runtimes().filter { $0.name == "demo" }.map(\.pid))
        #expect(Set(pids).isSubset(of: nodes), "every node registered as itself: \(nodes)")
        print("multi-node: \(enqueued.count) messages, \(log.count) records; the killed node's \(returnedAtOnce) leases returned at once by its peers")
    }

    @Test func twoProcessesReplayingTheSameDeadLettersMoveEachOnce() throws {
        let h = try StoreHarness(.postgres)
        let ids = (0..<300).map { "d\($0)" }
        try h.deadLetter(ids)
        let url = try #require(h.store as? PostgresStore).url
        let location = try #require(TestPostgres.serverURL.flatMap { URLComponents(string: $0) })
        var components = location
        components.path = "/" + url.database
        let full = components.string!
        let replays = try (0..<2).map { _ in
            try Child([Child.pipetop, "dlq", "replay", "--store", full, "--all-matching", "--rate", "0", "--yes"], environment: environment, in: db.directory)
        }
        let statuses = replays.map { $0.wait() }
        #expect(statuses == [0, 0], "\(replays.map(\.stderr))")
        let log = try h.log()
        let redriven = log.filter { $0.kind == .redriven }
        #expect(redriven.count == ids.count, "each letter replayed once: \(redriven.count)")
        #expect(Set(redriven.compactMap(\.messageID)).count == ids.count)
        #expect(try h.store.deadLetterCount(DeadLetterSelection()) == 0)
        let audit = try h.store.audit(page: PageRequest(limit: 100)).items.filter { $0.action != .publish }
        #expect(audit.reduce(0) { $0 + $1.count } >= ids.count, "the moves are audited: \(audit.map { "\($0.action) \($0.count)" })")
    }
}

/// LISTEN/NOTIFY: another connection's commit of new work wakes a watch; the watching store's own
/// commits and commits without new work do not.
@Suite(.enabled("needs PostgreSQL", { TestPostgres.shouldRun() }))
struct WorkWatchTests {
    final class Wakes: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        func add() { lock.withLock { count += 1 } }
        var value: Int { lock.withLock { count } }
    }

    @Test func anotherConnectionsNewWorkWakesTheWatchAndItsOwnDoesNot() throws {
        let h = try StoreHarness(.postgres)
        let other = try h.made.openAgain()
        let wakes = Wakes()
        let watch = try #require(h.store.watchForWork { wakes.add() }, "PostgreSQL can watch")
        defer { watch.cancel() }
        try h.publish([h.event("own")])
        try other.publishUnrouted([h.event("theirs")], at: h.t0)
        #expect(eventually(timeout: 30) { wakes.value >= 1 }, "another connection's publish wakes it")
        // A commit with nothing new (a claim of an empty queue) says nothing.
        _ = try other.apply(WriteBatch(now: h.t0))
        Thread.sleep(forTimeInterval: 0.5)
        #expect(wakes.value == 1, "only the other connection's new work woke it: \(wakes.value)")
    }

    @Test func sqliteHasNoWatchAndReadersPoll() throws {
        let h = try StoreHarness(.sqlite)
        #expect(h.store.watchForWork {} == nil)
    }
}
