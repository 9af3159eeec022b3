import Foundation
import GRDB
import Testing
@testable import PipetopCore

/// The queue stats' live figures (depth by state, scheduled retries, poison, the oldest enqueue)
/// equal a recount of the message rows, after a mixed workload on declared and undeclared queues.
@Suite struct QueueStatsRecountTests {
    @Test func liveFiguresEqualARecountOfTheRows() throws {
        let db = try TestStore()
        let t0 = Timestamp(micros: 1_800_000_000_000_000)
        let runtime = RuntimeInfo(name: "t", pid: 1, host: "h", store: db.path, startedAt: t0, heartbeatAt: t0)
        try db.store.declare(queues: [QueueSpec("a"), QueueSpec("b", mode: .batch(every: .seconds(900))), QueueSpec("idle")], rules: [], runtime: runtime)
        var n = 0
        func publish(_ count: Int, to queue: String, held: Bool = false, at time: Timestamp) throws {
            var batch = WriteBatch(now: time)
            batch.publishes = (0..<count).map { _ in
                n += 1
                return RoutedEvent(event: CloudEvent(id: "e\(n)", source: "/t", type: "t", time: time), targets: [Target(queue: queue, held: held)])
            }
            _ = try db.store.apply(batch)
        }
        try publish(40, to: "a", at: t0)
        try publish(10, to: "a", at: t0 + .seconds(5))
        try publish(15, to: "b", held: true, at: t0 + .seconds(2))
        try publish(7, to: "undeclared", at: t0 + .seconds(3))
        // Claims, then retries (some scheduled later, some due now), dead letters and successes.
        var claim = WriteBatch(now: t0 + .seconds(10))
        claim.claims = [ClaimRequest(queue: "a", limit: 30, lease: .seconds(60), maxAttempts: 2)]
        let claimed = try db.store.apply(claim).claimed
        var outcomes = WriteBatch(now: t0 + .seconds(11))
        outcomes.outcomes = claimed.enumerated().compactMap { i, message in
            let at = t0 + .seconds(11)
            switch i % 5 {
            case 0: return Outcome(claim: message.claim, duration: .milliseconds(1), finishedAt: at, result: .retry(error: "later", at: at + .seconds(3_600)))
            case 1: return Outcome(claim: message.claim, duration: .milliseconds(1), finishedAt: at, result: .retry(error: "soon", at: at))
            case 2: return Outcome(claim: message.claim, duration: .milliseconds(1), finishedAt: at, result: .succeeded(children: []))
            case 3: return Outcome(claim: message.claim, duration: .milliseconds(1), finishedAt: at, result: .deadLetter(error: "bad", reason: .nonRetryable))
            default: return nil // still in flight
            }
        }
        _ = try db.store.apply(outcomes)
        // The retries due now claimed again: in flight on a second attempt (poison).
        var again = WriteBatch(now: t0 + .seconds(12))
        again.claims = [ClaimRequest(queue: "a", limit: 3, lease: .seconds(60), maxAttempts: 5)]
        _ = try db.store.apply(again)

        let now = t0 + .seconds(20)
        let stats = try db.store.queueStats(now: now)
        let recount = try db.store.database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT queue,
                    count(*) FILTER (WHERE state = 0) AS held, count(*) FILTER (WHERE state = 1 AND ready_at <= ?1) AS ready,
                    count(*) FILTER (WHERE state = 1 AND ready_at > ?1) AS scheduled, count(*) FILTER (WHERE state = 2) AS in_flight,
                    count(*) FILTER (WHERE (state = 1 AND attempt >= 1) OR (state = 2 AND attempt >= 2)) AS poison,
                    min(enqueued_at) FILTER (WHERE state < 3) AS oldest, min(enqueued_at) FILTER (WHERE state = 0) AS oldest_held
                FROM messages NOT INDEXED GROUP BY queue HAVING count(*) FILTER (WHERE state < 3) > 0
                """, arguments: [now])
        }
        #expect(Set(stats.filter { $0.lagMessages > 0 }.map(\.name)) == Set(recount.map { $0["queue"] as String }))
        #expect(stats.map(\.name).contains("idle") && stats.map(\.name).contains("undeclared"))
        for row in recount {
            let queue = try #require(stats.first { $0.name == row["queue"] as String })
            #expect(queue.held == row["held"] && queue.ready == row["ready"] && queue.scheduled == row["scheduled"] && queue.inFlight == row["in_flight"], "\(queue)")
            #expect(queue.poison == row["poison"], "\(queue.name)")
            #expect(queue.oldestEnqueuedAt == row["oldest"] && queue.oldestHeldAt == row["oldest_held"], "\(queue.name)")
            #expect(queue.lagSeconds == max(0, (now - (row["oldest"] as Timestamp)).secondsDouble))
        }
        let a = try #require(stats.first { $0.name == "a" })
        #expect(a.scheduled == 6 && a.inFlight > 0 && a.poison > 0 && a.dead == 6, "the workload reached every figure: \(a)")
    }
}
