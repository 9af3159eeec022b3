import Foundation
import PipetopTestSupport
import Testing
@testable import PipetopCore

/// What the PostgreSQL store does beyond the conformance suite to keep the write lock short: a
/// tick that only looks and finds nothing is a read (it does not wait for the lock), and the
/// function every write transaction starts with (`pipetop_write_lock`, schema `v3-write-lock`)
/// reaches a store made before it. Nothing here depends on speed: every wait has a generous
/// deadline only to bound a failure.
@Suite(.serialized, .enabled("needs PostgreSQL", { TestPostgres.shouldRun() }))
struct PostgresWriteTests {
    final class Done: @unchecked Sendable {
        private let lock = NSLock()
        private var value: WriteResult?
        private var failure: String?
        func set(_ result: Result<WriteResult, any Error>) {
            lock.withLock {
                switch result {
                case .success(let result): value = result
                case .failure(let error): failure = "\(error)"
                }
            }
        }
        var result: WriteResult? { lock.withLock { value } }
        var error: String? { lock.withLock { failure } }
        var finished: Bool { lock.withLock { value != nil || failure != nil } }
    }

    /// Runs `batch` on a thread of its own.
    static func apply(_ batch: WriteBatch, on store: any Store) -> Done {
        let done = Done()
        Thread.detachNewThread { done.set(Result { try store.apply(batch) }) }
        return done
    }

    @Test func aTickThatOnlyLooksAndFindsNothingDoesNotWaitForTheWriteLock() throws {
        let url = try TestPostgres.freshDatabase()
        let h = try StoreHarness(StoreFactory(name: "PostgreSQL") {
            StoreUnderTest(store: try PostgresStore(url: PostgresURL(parsing: url)), keepAlive: url as NSString) {
                try PostgresStore(url: PostgresURL(parsing: url))
            }
        })
        try h.declare(["q"])
        try h.publish([h.event("a")])
        let claimed = try h.claim(h.t0)
        let retryAt = h.t0 + .seconds(1)
        try h.finish(claimed[0], at: h.t0, .retry(error: "timeout", at: retryAt))

        // Another writer holds the lock (a transaction of another process, in effect).
        let holder = try PostgresSession(PostgresURL(parsing: url), readOnly: false)
        try holder.execute("BEGIN")
        try holder.query("SELECT pg_advisory_xact_lock($1)") { $0.bind(PostgresStore.writeLock) }
        var look = WriteBatch(now: h.t0 + .milliseconds(10))
        look.claims = [h.request()]
        look.fetchUnrouted = 10
        let idle = Self.apply(look, on: h.store)
        #expect(eventually(timeout: 60) { idle.finished }, "a look with nothing ready is answered while another writer holds the lock")
        #expect(idle.error == nil)
        #expect(idle.result?.claimed.isEmpty == true && idle.result?.unrouted.isEmpty == true)
        #expect(idle.result?.nextReady["q"] == retryAt, "and still says when the retry is due")

        // Once the retry is due, the look claims: a write, after the lock.
        var due = WriteBatch(now: retryAt)
        due.claims = [h.request()]
        let claiming = Self.apply(due, on: h.store)
        Thread.sleep(forTimeInterval: 0.5)
        #expect(!claiming.finished, "a claim waits for the writer before it")
        try holder.execute("COMMIT")
        #expect(eventually(timeout: 60) { claiming.finished })
        #expect(claiming.error == nil)
        #expect(claiming.result?.claimed.map(\.event.id) == ["a"])
    }

    /// A look is a write when its router is behind the declared rules (the transaction updates
    /// it), even with nothing ready.
    @Test func aLookWhoseRouterIsBehindTheRulesWaitsForTheWriteLock() throws {
        let url = try TestPostgres.freshDatabase()
        let store = try PostgresStore(url: PostgresURL(parsing: url))
        let h = try StoreHarness(StoreFactory(name: "PostgreSQL") {
            StoreUnderTest(store: store, keepAlive: url as NSString) { try PostgresStore(url: PostgresURL(parsing: url)) }
        })
        try h.declare(["q"])
        let router = FleetRouter(local: try Router(rules: [], queues: [QueueSpec("q")]), runtime: "t")
        #expect(router.routingGeneration == nil)

        let holder = try PostgresSession(PostgresURL(parsing: url), readOnly: false)
        try holder.execute("BEGIN")
        try holder.query("SELECT pg_advisory_xact_lock($1)") { $0.bind(PostgresStore.writeLock) }
        var look = WriteBatch(now: h.t0)
        look.claims = [h.request()]
        look.router = router
        let waiting = Self.apply(look, on: store)
        Thread.sleep(forTimeInterval: 0.5)
        #expect(!waiting.finished, "a router with no generation read yet is brought up to date in a transaction")
        try holder.execute("COMMIT")
        #expect(eventually(timeout: 60) { waiting.finished })
        #expect(waiting.error == nil)
        #expect(router.routingGeneration != nil, "the transaction read the generation")

        // Up to date now: the same look is a read again, the lock held or not.
        try holder.execute("BEGIN")
        try holder.query("SELECT pg_advisory_xact_lock($1)") { $0.bind(PostgresStore.writeLock) }
        let idle = Self.apply(look, on: store)
        #expect(eventually(timeout: 60) { idle.finished })
        #expect(idle.error == nil)
        try holder.execute("COMMIT")
    }

    @Test func aStoreMadeBeforeTheWriteLockFunctionIsUpgradedAndWrites() throws {
        let url = try TestPostgres.freshDatabase()
        _ = try PostgresStore(url: PostgresURL(parsing: url))
        // What a build of schema v2-nodes left.
        _ = try TestPostgres.psql("DROP FUNCTION pipetop_write_lock(bigint); DELETE FROM pipetop_migrations WHERE name = 'v3-write-lock'", on: url)
        let progress = Locked<[String]>([])
        let store = try PostgresStore(url: PostgresURL(parsing: url)) { line in progress.withLock { $0.append(line) } }
        #expect(progress.withLock { $0 }.contains { $0.contains("schema v3-write-lock") }, "\(progress.withLock { $0 })")
        let h = try StoreHarness(StoreFactory(name: "PostgreSQL") {
            StoreUnderTest(store: store, keepAlive: url as NSString) { try PostgresStore(url: PostgresURL(parsing: url)) }
        })
        try h.declare(["q"])
        try h.publish([h.event("a"), h.event("b")])
        #expect(try h.claim(h.t0).map(\.event.id) == ["a", "b"])
        #expect(try h.kinds().filter { $0 == "published" }.count == 2)
    }
}
