import Foundation
import PipetopTestSupport
import GRDB
import Testing
@testable import PipetopCore

/// The demo's runtime SIGKILLed at random moments of a workload with retries, a batch window and
/// dead letters, restarted each time on the same store; then the store is checked whole. CI kills
/// it 6 times; `PIPETOP_SOAK_KILLS=20 swift test --filter CrashTests` is the soak (README,
/// Reliability). Nothing here depends on speed: the kill moments are drawn from a seeded
/// generator, and every wait has a generous deadline only to bound a failure.
@Suite(.serialized) struct CrashTests {
    let db = try! TestStore()

    @Test func killedAtRandomMomentsTheStoreLosesAndDoublesNothing() throws {
        let kills = Int(ProcessInfo.processInfo.environment["PIPETOP_SOAK_KILLS"] ?? "") ?? 6
        var random = SeededRandom(seed: UInt64(ProcessInfo.processInfo.environment["PIPETOP_SOAK_SEED"] ?? "") ?? 14)
        let path = db.directory.appendingPathComponent("crash.sqlite").path
        let env = Child.environment(adding: ["XDG_RUNTIME_DIR": db.directory.appendingPathComponent("run").path,
                                             "XDG_STATE_HOME": db.directory.appendingPathComponent("state").path])
        func demo() throws -> Child {
            let child = try Child([Child.pipetop, "demo", "--headless", "--store", path, "--rate", "200", "--window", "1s"], environment: env, in: db.directory)
            #expect(eventually { child.stdout.contains(" published ") }, "started: \(child.stderr)")
            return child
        }
        for _ in 0..<kills {
            let child = try demo()
            Thread.sleep(forTimeInterval: 0.1 + Double(random.below(1_900)) / 1_000)
            child.signal(SIGKILL)
            #expect(child.wait() == 128 + SIGKILL)
        }
        // A last run ends cleanly, once what the killed ones left in flight is back: their leases
        // (30 s, taken before it started) are returned at once, not waited out.
        let lastStart = Timestamp.now()
        let last = try demo()
        #expect(eventually(timeout: 20) { (try? self.inFlight(path, leaseEndingBefore: lastStart + .seconds(30))) == 0 }, "the dead runs' leases returned")
        last.signal(SIGTERM)
        #expect(last.wait() == 0, "\(last.stderr)")

        let queue = try DatabaseQueue(path: path, configuration: { var c = Configuration(); c.readonly = true; return c }())
        let (integrity, foreignKeys, doubled, rowsByQueue) = try queue.read { db in
            (try String.fetchAll(db, sql: "PRAGMA integrity_check"), try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").count,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM (SELECT 1 FROM messages GROUP BY event_seq, queue HAVING count(*) > 1)"),
             Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT queue, count(*) AS n FROM messages GROUP BY queue").map { ($0["queue"] as String, $0["n"] as Int64) }))
        }
        #expect(integrity == ["ok"])
        #expect(foreignKeys == 0)
        // No message twice: one row per event and queue at most (so no dead letter twice).
        #expect(doubled == 0)
        let store = try SQLiteStore(path: path, readOnly: true)
        let log = try store.tail(after: 0, limit: 100_000_000)
        let stats = try store.queueStats(now: .now())
        var events = Set<Int64>()
        var atOnce = 0, waited = 0
        for record in log {
            if record.kind == .published { events.insert(record.seq) }
            if record.kind == .leaseExpired {
                if record.error?.hasPrefix("lease expired at once: runtime demo") == true { atOnce += 1 } else { waited += 1 }
            }
        }
        var unaccounted: Int64 = 0
        for queue in stats {
            let records = log.filter { $0.queue == queue.name }
            let rows = rowsByQueue[queue.name] ?? 0
            unaccounted += abs(queue.enqueued - queue.succeeded - rows)
            // Every message enqueued is succeeded (its row gone) or still has its row: none lost,
            // none counted twice; and the log says the same as the counters kept with it.
            #expect(queue.enqueued == queue.succeeded + rows, "\(queue.name): \(queue.enqueued) enqueued, \(queue.succeeded) succeeded, \(rows) rows")
            #expect(Int64(records.filter { $0.kind == .enqueued }.count) == queue.enqueued, "\(queue.name)")
            #expect(Int64(records.filter { $0.kind == .succeeded }.count) == queue.succeeded, "\(queue.name)")
            #expect(records.filter { $0.kind == .deadLettered }.count == queue.dead, "\(queue.name): every dead letter once")
        }
        #expect(stats.reduce(0) { $0 + $1.succeeded } > 0 && stats.reduce(0) { $0 + $1.dead } > 0, "a workload with successes and dead letters")
        // A restart finds the killed run's leases and returns them at once, not after 30 s.
        #expect(atOnce > 0, "some kill left messages in flight")
        #expect(waited == 0, "no message waited for its lease to run out")
        print("crash soak: \(kills) kills, \(events.count) events published, \(log.count) records; enqueued but neither succeeded nor stored \(unaccounted), messages twice \(doubled ?? -1); \(atOnce) leases returned at once")
    }

    func inFlight(_ path: String, leaseEndingBefore end: Timestamp) throws -> Int {
        let db = try DatabaseQueue(path: path, configuration: { var c = Configuration(); c.readonly = true; return c }())
        return try db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM messages WHERE state = 2 AND ready_at < ?", arguments: [end]) ?? 0 }
    }
}
