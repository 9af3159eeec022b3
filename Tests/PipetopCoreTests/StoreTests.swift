import Foundation
import GRDB
import Testing
@testable import PipetopCore

/// What only the SQLite backend has: its rows, files, schema and column definitions. Behaviour is
/// tested on every backend by `StoreConformanceTests`.
@Suite struct SQLiteStoreTests {
    let t0 = Timestamp(micros: 1_800_000_000_000_000)
    let db = try! TestStore()

    func publish(_ ids: [String], to targets: [Target] = [Target(queue: "q", held: false)], at: Timestamp? = nil) throws {
        var batch = WriteBatch(now: at ?? t0)
        batch.publishes = ids.map { RoutedEvent(event: CloudEvent(id: $0, source: "/test", type: "t", correlationID: "flow-\($0)"), targets: targets) }
        _ = try db.store.apply(batch)
    }

    @Test func aLargeTickWritesEveryRowThroughTheMultiRowInserts() throws {
        // 70 events: 210 log records (published, routed, enqueued) in 70 rows (two full 32-row
        // statements, then 6 single rows), 70 events and 70 messages (four full 16-row statements
        // each, then 6 single rows).
        try publish((0..<70).map { "e\($0)" })
        #expect(try db.count("SELECT count(*) FROM events") == 70)
        #expect(try db.count("SELECT count(*) FROM messages") == 70)
        #expect(try db.count("SELECT count(*) FROM log") == 70)
        #expect(try db.store.logTotal() == 210)
        #expect(try db.log().map(\.kind) == Array(repeating: [LifecycleKind.published, .routed, .enqueued], count: 70).flatMap { $0 })
        let seqs = try db.store.database.read { try Int64.fetchAll($0, sql: "SELECT seq FROM events ORDER BY seq") }
        #expect(seqs == Array(1...70))
    }

    @Test func expiredDeduplicationEntriesArePruned() throws {
        let window = Target(queue: "q", held: false, deduplicate: .seconds(600))
        try publish(["a", "b"], to: [window], at: t0)
        try publish(["a"], to: [window], at: t0 + .seconds(601))
        #expect(try db.count("SELECT count(*) FROM dedup WHERE id = 'b'") == 0)
        #expect(try db.count("SELECT count(*) FROM dedup WHERE id = 'a'") == 1)
    }

    @Test func statesAreStoredAsTheirRawValues() throws {
        try publish(["a"])
        #expect(try db.count("SELECT state FROM messages") == MessageState.ready.rawValue)
        #expect(MessageState.allCases.map(\.rawValue) == [0, 1, 2, 3], "stored values never change meaning")
    }

    @Test func columnSetsArePositionedInDeclarationOrder() {
        func check<C: ColumnSet>(_ set: C.Type) {
            #expect(set.allCases.map(\.rawValue) == Array(0..<Int32(set.allCases.count)), "\(set)")
        }
        check(EventColumn.self)
        check(MessageColumn.self)
        check(ClaimColumn.self)
        check(LogColumn.self)
        check(RecordEventColumn.self)
        check(AuditColumn.self)
    }

    @Test func everyRowPointsAtAnEventAfterRedriveAndDelete() throws {
        try publish(["a", "b"])
        var claim = WriteBatch(now: t0)
        claim.claims = [ClaimRequest(queue: "q", limit: 10, lease: .seconds(30), maxAttempts: 1)]
        let claimed = try db.store.apply(claim).claimed
        var fail = WriteBatch(now: t0)
        fail.outcomes = claimed.map { Outcome(claim: $0.claim, duration: .zero, finishedAt: t0, result: .deadLetter(error: "x", reason: .maxAttempts)) }
        _ = try db.store.apply(fail)
        _ = try db.store.redrive(RedriveRequest(selection: DeadLetterSelection(messageIDs: [claimed[0].claim.messageID])), at: t0)
        _ = try db.store.delete(DeleteRequest(selection: .all), at: t0)
        let dangling = try db.store.database.read { try Row.fetchAll($0, sql: "PRAGMA foreign_key_check") }
        #expect(dangling.isEmpty)
        #expect(try db.count("SELECT count(*) FROM audit") == 2)
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
