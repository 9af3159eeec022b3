import Foundation
import GRDB
import Testing
@testable import PipetopCore

/// The delivery state machine, driven through the store with explicit times: no clock, no threads.
@Suite struct StoreTests {
    let t0 = Timestamp(micros: 1_800_000_000_000_000)
    let db = try! TestStore()

    func event(_ id: String, type: String = "listing.uploaded") -> CloudEvent {
        CloudEvent(id: id, source: "/test", type: type, time: t0, data: try! .json(object: ["n": id]), correlationID: "flow-\(id)")
    }

    func request(_ queue: String = "q", limit: Int = 10, lease: Duration = .seconds(30), maxAttempts: Int = 3, maxAge: Duration? = nil) -> ClaimRequest {
        ClaimRequest(queue: queue, limit: limit, lease: lease, maxAttempts: maxAttempts, maxAge: maxAge, deadLetter: true)
    }

    @discardableResult
    func tick(_ at: Timestamp, _ build: (inout WriteBatch) -> Void) throws -> WriteResult {
        var batch = WriteBatch(now: at)
        build(&batch)
        return try db.store.apply(batch)
    }

    func publish(_ events: [CloudEvent], to queue: String = "q", held: Bool = false, at: Timestamp? = nil) throws {
        try tick(at ?? t0) { $0.publishes = events.map { RoutedEvent(event: $0, targets: [Target(queue: queue, held: held)]) } }
    }

    func claim(_ at: Timestamp, _ request: ClaimRequest? = nil) throws -> [ClaimedMessage] {
        try tick(at) { $0.claims = [request ?? self.request()] }.claimed
    }

    @discardableResult
    func finish(_ message: ClaimedMessage, at: Timestamp, _ result: Outcome.Result) throws -> WriteResult {
        try tick(at) { $0.outcomes = [Outcome(claim: message.claim, duration: .milliseconds(3), finishedAt: at, result: result)] }
    }

    func kinds() throws -> [String] { try db.log().map(\.kind.rawValue) }

    @Test func publishClaimAck() throws {
        try publish([event("a")])
        let claimed = try claim(t0 + .milliseconds(1))
        #expect(claimed.count == 1)
        #expect(claimed[0].event == event("a"))
        #expect(claimed[0].claim.attempt == 1)
        #expect(claimed[0].claim.delivery == 1)
        #expect(try claim(t0 + .milliseconds(2)).isEmpty)  // leased: nobody else gets it
        let result = try finish(claimed[0], at: t0 + .milliseconds(5), .succeeded(children: []))
        #expect(result.staleOutcomes == 0)
        #expect(try kinds() == ["published", "routed", "enqueued", "claimed", "succeeded"])
        #expect(try db.count("SELECT count(*) FROM messages") == 0)
        let record = try db.log().last!
        #expect(record.attempt == 1 && record.duration == .milliseconds(3) && record.queue == "q" && record.correlationID == "flow-a")
    }

    @Test func aMessageIdIsNeverReusedEvenAfterTheNewestMessageIsGone() throws {
        try publish([event("a")])
        let first = try claim(t0)[0]
        try finish(first, at: t0, .succeeded(children: []))
        #expect(try db.count("SELECT count(*) FROM messages") == 0)
        try publish([event("b")], at: t0 + .milliseconds(1))
        let second = try claim(t0 + .milliseconds(1))[0]
        #expect(second.claim.messageID > first.claim.messageID)
        // A stale ack of the first message (same id and delivery 1, were the id reused) is ignored.
        #expect(try finish(first, at: t0 + .milliseconds(2), .succeeded(children: [])).staleOutcomes == 1)
    }

    @Test func aLargeTickWritesEveryRowInOrder() throws {
        // 70 events: 210 log records (six full 32-row statements, then 18 single rows), 70 events
        // and 70 messages (four full 16-row statements each, then 6 single rows).
        let events = (0..<70).map { event("e\($0)") }
        try publish(events)
        #expect(try db.count("SELECT count(*) FROM events") == 70)
        #expect(try db.count("SELECT count(*) FROM messages") == 70)
        #expect(try db.count("SELECT count(*) FROM log") == 210)
        let claimed = try claim(t0 + .milliseconds(1), request(limit: 100))
        #expect(claimed.map(\.event.id) == events.map(\.id), "claimed in publish order, with their own events")
        let seqs = try db.store.database.read { try Int64.fetchAll($0, sql: "SELECT seq FROM events ORDER BY seq") }
        #expect(seqs == Array(1...70))
        let log = try db.log()
        #expect(log.map(\.seq) == log.map(\.seq).sorted())
        #expect(Array(log.prefix(3).map(\.kind.rawValue)) == ["published", "routed", "enqueued"])
    }

    @Test func aConsistentReadSeesOneStateWhileTheWriterCommits() throws {
        try publish([event("a")])
        let store = db.store
        let (before, after, total) = try store.consistentRead { () throws -> (Int64, Int64, Int) in
            let before = try store.publishedTotal()
            // Another thread commits while this read is open (WAL lets it).
            let done = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                try? store.publishUnrouted([event("b")], at: t0)
                done.signal()
            }
            done.wait()
            return (before, try store.publishedTotal(), try store.tail(after: 0, limit: 100).count)
        }
        #expect(before == 1 && after == 1, "the second read saw the same state as the first")
        #expect(total == 3, "and the log as it was: a's three records, not b's")
        #expect(try store.publishedTotal() == 2, "outside it, the commit is visible")
    }

    @Test func childrenAreCommittedWithTheAck() throws {
        try publish([event("a")])
        let message = try claim(t0)[0]
        let child = message.event.child(type: "listing.parsed")
        try finish(message, at: t0 + .milliseconds(1), .succeeded(children: [RoutedEvent(event: child, targets: [Target(queue: "next", held: false)])]))
        let next = try claim(t0 + .milliseconds(2), request("next"))
        #expect(next.map(\.event.causationID) == ["a"])
        #expect(next.map(\.event.correlationID) == ["flow-a"])
    }

    @Test func retriesWaitForTheirTimeAndDeadLetterKeepsEveryError() throws {
        try publish([event("a")])
        var now = t0
        for attempt in 1...3 {
            let claimed = try claim(now)
            #expect(claimed.map(\.claim.attempt) == [attempt])
            now = now + .milliseconds(10)
            if attempt < 3 {
                let retryAt = now + .seconds(1)
                try finish(claimed[0], at: now, .retry(error: "timeout \(attempt)", at: retryAt))
                #expect(try claim(now + .milliseconds(999)).isEmpty, "a scheduled retry is not ready early")
                let next = try tick(now) { $0.claims = [request()] }.nextReady["q"]
                #expect(next == retryAt, "the engine learns when to wake")
                now = retryAt
            } else {
                try finish(claimed[0], at: now, .deadLetter(error: "timeout 3", reason: .maxAttempts))
            }
        }
        #expect(try kinds().filter { $0 != "claimed" } == [
            "published", "routed", "enqueued", "failed", "retry-scheduled", "failed", "retry-scheduled", "failed", "dead-lettered",
        ])
        let dead = try db.store.deadLetters(queue: "q", limit: 10)
        #expect(dead.count == 1)
        #expect(dead[0].reason == .maxAttempts)
        #expect(dead[0].attempts == 3)
        #expect(dead[0].errors.map(\.error) == ["timeout 1", "timeout 2", "timeout 3"])
        #expect(dead[0].errors.map(\.attempt) == [1, 2, 3])
        #expect(dead[0].firstFailedAt == t0 + .milliseconds(10))
        #expect(dead[0].event.id == "a")
        let stats = try db.store.queueStats(now: now)
        #expect(stats.first { $0.name == "q" }?.dead == 1)
    }

    @Test func nonRetryableDeadLettersAtOnce() throws {
        try publish([event("a")])
        let message = try claim(t0)[0]
        try finish(message, at: t0, .deadLetter(error: "malformed", reason: .nonRetryable))
        #expect(try db.store.deadLetters(queue: nil, limit: 10).map(\.reason) == [.nonRetryable])
    }

    @Test func anExpiredLeaseMakesTheMessageDeliverableAgain() throws {
        try publish([event("a")])
        let first = try claim(t0, request(lease: .seconds(5)))[0]
        try tick(t0 + .seconds(4)) { $0.expireLeases = ["q"] }
        #expect(try claim(t0 + .seconds(4)).isEmpty, "still leased")
        try tick(t0 + .seconds(5)) { $0.expireLeases = ["q"] }
        let second = try claim(t0 + .seconds(5))
        #expect(second.map(\.claim.attempt) == [2])
        #expect(second.map(\.claim.delivery) == [2])
        // The hung first run finally returns: its ack must not touch the redelivery.
        let stale = try finish(first, at: t0 + .seconds(6), .succeeded(children: []))
        #expect(stale.staleOutcomes == 1)
        #expect(try db.count("SELECT count(*) FROM messages WHERE state = 2") == 1)
        try finish(second[0], at: t0 + .seconds(6), .succeeded(children: []))
        #expect(try kinds().filter { $0 == "succeeded" }.count == 1)
        #expect(try kinds().contains("lease-expired"))
    }

    @Test func exhaustingAttemptsByLeaseExpiryDeadLettersInsteadOfRunningAgain() throws {
        try publish([event("a")])
        var now = t0
        for _ in 1...2 {
            _ = try claim(now, request(lease: .seconds(1), maxAttempts: 2))
            now = now + .seconds(1)
            try tick(now) { $0.expireLeases = ["q"] }
        }
        #expect(try claim(now, request(maxAttempts: 2)).isEmpty)
        let dead = try db.store.deadLetters(queue: "q", limit: 1)
        #expect(dead.first?.reason == .maxAttempts)
        #expect(dead.first?.errors.count == 2)
        #expect(dead.first?.deliveries == 2)
    }

    @Test func tooOldMessagesAreDeadLetteredOnClaim() throws {
        try publish([event("a")])
        #expect(try claim(t0 + .seconds(61), request(maxAge: .seconds(60))).isEmpty)
        #expect(try db.store.deadLetters(queue: "q", limit: 1).first?.reason == .maxAge)
    }

    @Test func heldMessagesWaitForTheirWindow() throws {
        try publish([event("a"), event("b")], held: true)
        #expect(try claim(t0 + .seconds(1)).isEmpty)
        #expect(try db.store.queueStats(now: t0).first { $0.name == "q" }?.held == 2)
        try tick(t0 + .seconds(15)) { $0.releases = ["q"] }
        let claimed = try claim(t0 + .seconds(15))
        #expect(claimed.map(\.event.id) == ["a", "b"])
        #expect(try kinds().filter { $0 == "batch-released" }.count == 2)
    }

    @Test func unstartedMessagesGoBackWithTheirAttemptUnspent() throws {
        try publish([event("a")])
        let message = try claim(t0)[0]
        try finish(message, at: t0, .unstarted)
        let again = try claim(t0)
        #expect(again.map(\.claim.attempt) == [1])
        #expect(again.map(\.claim.delivery) == [2])
    }

    @Test func unmatchedEventsAreRecordedAsRejected() throws {
        try tick(t0) { $0.publishes = [RoutedEvent(event: event("lost"), targets: [])] }
        #expect(try kinds() == ["published", "rejected"])
        #expect(try db.log().last?.error == "no rule matched")
    }

    @Test func eventsPublishedOutsideARuntimeWaitUnrouted() throws {
        try db.store.publishUnrouted([event("cli")], at: t0)
        let fetched = try tick(t0) { $0.fetchUnrouted = 10 }.unrouted
        #expect(fetched.map(\.event) == [event("cli")])
        try tick(t0) { $0.routings = fetched.map { ($0.seq, $0.event, [Target(queue: "q", held: false)]) } }
        #expect(try tick(t0) { $0.fetchUnrouted = 10 }.unrouted.isEmpty)
        #expect(try claim(t0).map(\.event.id) == ["cli"])
    }

    @Test func anEventIsRoutedOnceEvenIfTwoRuntimesFetchedIt() throws {
        try db.store.publishUnrouted([event("cli")], at: t0)
        let fetched = try tick(t0) { $0.fetchUnrouted = 10 }.unrouted
        for _ in 1...2 {  // two runtimes route what they both fetched
            try tick(t0) { $0.routings = fetched.map { ($0.seq, $0.event, [Target(queue: "q", held: false)]) } }
        }
        #expect(try db.count("SELECT count(*) FROM messages") == 1)
        #expect(try kinds().filter { $0 == "routed" }.count == 1)
    }

    @Test func newMessagesDoNotOvertakeABacklogCutByTheClaimLimit() throws {
        try publish((1...3).map { event("old\($0)") })
        // Capacity 2 claims two of three ready messages; a new one must wait behind the third.
        let result = try tick(t0 + .seconds(1)) {
            $0.claims = [request(limit: 2)]
            $0.publishes = [RoutedEvent(event: event("new"), targets: [Target(queue: "q", held: false)])]
        }
        #expect(result.claimed.map(\.event.id) == ["old1", "old2"])
        #expect(try claim(t0 + .seconds(2)).map(\.event.id) == ["old3", "new"])
    }

    @Test func depthLagAndPoisonAreCounted() throws {
        try publish((1...4).map { event("m\($0)") }, at: t0)
        let claimed = try claim(t0 + .seconds(1), request(limit: 2))
        try finish(claimed[0], at: t0 + .seconds(1), .retry(error: "x", at: t0 + .seconds(100)))
        let stats = try #require(try db.store.queueStats(now: t0 + .seconds(3)).first { $0.name == "q" })
        #expect(stats.ready == 2)
        #expect(stats.inFlight == 1)
        #expect(stats.scheduled == 1)
        #expect(stats.poison == 1)
        #expect(stats.lagSeconds == 3)
        #expect(stats.lagMessages == 4)
    }

    @Test func traceFollowsTheCorrelation() throws {
        try publish([event("a"), event("b")])
        let trace = try db.store.trace(correlationID: "flow-a")
        #expect(Set(trace.map(\.eventID)) == ["a"])
        #expect(trace.map(\.kind) == [.published, .routed, .enqueued])
        #expect(try db.store.events(correlationID: "flow-a") == [event("a")])
        #expect(try db.store.events(correlationID: "nobody").isEmpty)
    }
}

@Suite struct MigrationTests {
    @Test func aFreshStoreIsMigratedAndReopens() throws {
        let db = try TestStore()
        let reopened = try SQLiteStore(path: db.path)
        #expect(try reopened.database.read { try SQLiteSchema.migrator.hasCompletedMigrations($0) })
        #expect(try reopened.database.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
        _ = try SQLiteStore(path: db.path, readOnly: true)
    }

    @Test func aStoreFromANewerPipetopIsRefused() throws {
        let db = try TestStore()
        try db.store.database.write { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')") }
        #expect {
            _ = try SQLiteStore(path: db.path)
        } throws: { error in
            "\(error)".contains("was written by a newer pipetop") && "\(error)".contains("upgrade pipetop")
        }
    }

    @Test func aForeignDatabaseIsRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("foreign-\(UUID()).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try DatabaseQueue(path: path).write { try $0.execute(sql: "CREATE TABLE invoices (id INTEGER)") }
        #expect {
            _ = try SQLiteStore(path: path)
        } throws: { error in
            "\(error)".contains("is an SQLite database but not a pipetop store")
        }
    }

    @Test func readOnlyNeedsAnExistingStore() {
        #expect {
            _ = try SQLiteStore(path: "/nonexistent/pipetop.sqlite", readOnly: true)
        } throws: { error in
            "\(error)" == "no store at /nonexistent/pipetop.sqlite"
        }
    }
}
