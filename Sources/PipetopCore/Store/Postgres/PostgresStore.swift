import Foundation
import PostgresNIO

/// The store on a PostgreSQL server, for several runtime nodes on several machines and the
/// dashboards and commands beside them: the same protocols as `SQLiteStore`, the same `Tick`
/// deciding each transaction, and the same conformance suite.
///
/// Writers are serialised across every process by one transaction-level advisory lock, taken
/// first in each write transaction (`pipetop_write_lock`, which also reads what the transaction
/// starts from): the log's cursor (`seq`) is only safe to follow if rows are
/// committed in `seq` order, and `Tick` decides a transaction from what it reads. That is the
/// SQLite store's one-writer rule, across machines. Claims still select `FOR UPDATE SKIP LOCKED`.
/// Readers never wait for it: a snapshot is a `REPEATABLE READ READ ONLY` transaction.
public final class PostgresStore: Store, @unchecked Sendable {
    public let location: String
    let url: PostgresURL
    let readOnly: Bool
    /// The writer's connection and what it keeps between transactions; one transaction at a time.
    private let writer: Locked<PostgresWriter?>
    /// Idle reader connections, reused by `read`.
    private let readers = Locked<[PostgresSession]>([])

    /// The channel write transactions that made new work notify (`watchForWork`), and this
    /// store's token in their payload, so a watch set through this store ignores its own commits.
    static let workChannel = "pipetop_work"
    let token = UUID().uuidString

    /// The advisory lock every write transaction takes (`pg_advisory_xact_lock`), and migrations
    /// (`pg_advisory_lock`): "pipetop" in ASCII.
    static let writeLock: Int64 = 0x7069_7065_746F_70

    /// Connects and migrates the database to this build's schema. With `readOnly`, nothing is
    /// created or migrated (the schema must be current) and the connections are read-only
    /// (`default_transaction_read_only`); without `create`, a database with no store is an error.
    public init(url: PostgresURL, readOnly: Bool = false, create: Bool = true, progress: (@Sendable (String) -> Void)? = nil) throws {
        self.url = url
        self.readOnly = readOnly
        location = url.redacted
        let session = try PostgresSession(url, readOnly: readOnly)
        try Self.checkSchema(session, readOnly: readOnly || !create, migrate: !readOnly, progress: progress)
        writer = Locked(readOnly ? nil : PostgresWriter(session: session))
        if readOnly { readers.withLock { $0.append(session) } }
    }

    /// Applies the migrations this store lacks (each one transaction, under the migration lock so
    /// two processes starting at once do not both migrate), or refuses a store newer than this build.
    private static func checkSchema(_ session: PostgresSession, readOnly: Bool, migrate: Bool, progress: (@Sendable (String) -> Void)?) throws {
        func applied() throws -> [String] {
            let exists = try session.query("SELECT to_regclass('pipetop_migrations') IS NOT NULL").rows.first?.int64(0) ?? 0
            guard exists != 0 else { return [] }
            return try session.query("SELECT name FROM pipetop_migrations ORDER BY name").rows.compactMap { $0.string(0) }
        }
        let known = Set(PostgresSchema.migrations.map(\.name))
        var done = try applied()
        if let unknown = done.first(where: { !known.contains($0) }) {
            throw StoreError("the store \(session.location) was written by a newer pipetop (schema \(unknown)); upgrade pipetop to open it")
        }
        let pending = { PostgresSchema.migrations.filter { !done.contains($0.name) } }
        guard !pending().isEmpty else { return }
        if done.isEmpty, readOnly {
            throw StoreError("the database \(session.location) holds no pipetop store yet; a runtime, `pipetop demo` or `pipetop publish --create` makes one")
        }
        if !migrate {
            throw StoreError("the store \(session.location) has an older schema; it is upgraded by the next command that writes to it, which reading commands and --read-only never do")
        }
        try session.query("SELECT pg_advisory_lock($1)") { $0.bind(writeLock) }
        defer { _ = try? session.query("SELECT pg_advisory_unlock($1)") { $0.bind(writeLock) } }
        done = try applied()
        let todo = pending()
        let started = Monotonic.micros
        for (index, migration) in todo.enumerated() {
            if !done.isEmpty { progress?("upgrading the store \(session.location) to schema \(migration.name) (\(index + 1) of \(todo.count))…") }
            do {
                try session.execute("BEGIN")
                try session.execute("CREATE TABLE IF NOT EXISTS pipetop_migrations (name text PRIMARY KEY, applied_at bigint NOT NULL)")
                try session.executeScript(migration.sql + "\n")
                try session.query("INSERT INTO pipetop_migrations (name, applied_at) VALUES ($1, $2)") {
                    $0.bind(migration.name)
                    $0.bind(Timestamp.now().micros)
                }
                try session.execute("COMMIT")
            } catch {
                try? session.execute("ROLLBACK")
                throw StoreError("could not create or upgrade the store \(session.location) (schema \(migration.name)): \(error)")
            }
        }
        if !done.isEmpty {
            progress?(String(format: "upgraded the store %@ in %.1f s", session.location, Double(Monotonic.micros - started) / 1e6))
        }
    }

    // MARK: Reading

    public func read<T>(_ body: (StoreSnapshot) throws -> T) throws -> T {
        let session = try readers.withLock { $0.popLast() } ?? PostgresSession(url, readOnly: true)
        do {
            try session.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            let value = try body(PostgresSnapshot(session: session))
            try session.execute("COMMIT")
            readers.withLock { $0.append(session) }
            return value
        } catch {
            // A connection whose transaction failed is rolled back before it is used again; one
            // that cannot be is dropped.
            if (try? session.rollback()) != nil { readers.withLock { $0.append(session) } }
            throw error
        }
    }

    /// A connection of its own `LISTEN`ing to `workChannel`; another connection's commit of new
    /// work calls `wake`. Nil when it cannot connect (the caller polls anyway).
    public func watchForWork(_ wake: @escaping @Sendable () -> Void) -> (any StoreWatch)? {
        guard let session = try? PostgresSession(url, readOnly: true) else { return nil }
        let token = token
        guard let context = try? session.listen(Self.workChannel, { payload in if payload != token { wake() } }) else { return nil }
        return PostgresWorkWatch(session: session, context: context)
    }

    // MARK: Writing

    /// Runs one `Tick` in one write transaction, after the write lock.
    func transaction<T>(at now: Timestamp, _ body: (inout Tick<PostgresTransaction>) throws -> T) throws -> T {
        guard !readOnly else { throw StoreError("the store \(location) is open read-only: nothing was written") }
        return try writer.withLock { writer in
            if writer == nil { writer = PostgresWriter(session: try PostgresSession(url, readOnly: false)) }
            let state = writer!
            do {
                // READ COMMITTED whatever the server's default: the lock function's reads must see
                // the commits of the writer before (a snapshot taken before the lock would not).
                try state.session.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                let start = try PostgresTransaction.Start(
                    row: state.session.query("SELECT * FROM pipetop_write_lock($1)") { $0.bind(Self.writeLock) }.rows[0])
                var tick = Tick(PostgresTransaction(session: state.session, writer: state, token: token, start: start), now: now)
                let value = try body(&tick)
                try tick.tx.writeTextIndex()
                try state.session.execute("COMMIT")
                state.latencies.committed()
                return value
            } catch {
                state.latencies.rolledBack()
                if (try? state.session.rollback()) == nil { writer = nil }
                throw error
            }
        }
    }

    /// A tick that only looks for work (claims, unrouted events) and would find none is answered
    /// by one read, without the write lock: with several nodes, most ticks of a node woken by
    /// another's commit are such, and each would hold the lock for a few round trips and a
    /// commit. It is not one when this writer owes a notification or latencies (its next
    /// transaction writes them), or when anything in the batch writes.
    public func apply(_ batch: WriteBatch) throws -> WriteResult {
        if let idle = try idleResult(batch) { return idle }
        return try transaction(at: batch.now) { try $0.apply(batch) }
    }

    /// The result of `batch` if it only looks and nothing is there: no message ready by its time
    /// in a queue it claims from, no event waiting to be routed if it fetches them. Nil otherwise.
    private func idleResult(_ batch: WriteBatch) throws -> WriteResult? {
        guard !readOnly, batch.onlyLooks else { return nil }
        let queues = batch.claims.filter { $0.limit > 0 }.map(\.queue)
        let second = batch.now.micros.floorDiv(1_000_000)
        let owes = writer.withLock { writer in writer.map { $0.notifyOwed || $0.latencies.hasDue(before: second) } ?? false }
        guard !owes else { return nil }
        // A look that cannot be made (no reader connection, say) is left to the transaction,
        // which reports what is wrong if it fails too.
        guard let session = readers.withLock({ $0.popLast() }) ?? (try? PostgresSession(url, readOnly: true)) else { return nil }
        let rows: [PostgresRowReader]
        do {
            rows = try session.run { sql in
                """
                SELECT u.waiting, u.generation, q.name, (\(PostgresTransaction.nextReady(queue: "q.name")))
                FROM (SELECT EXISTS (SELECT 1 FROM events WHERE routed = 0) AS waiting, (SELECT generation FROM routing_generation) AS generation) u
                LEFT JOIN unnest(\(sql.value(queues))) AS q(name) ON true
                """
            }.rows
        } catch {
            if (try? session.rollback()) != nil { readers.withLock { $0.append(session) } }
            return nil
        }
        readers.withLock { $0.append(session) }
        if batch.fetchUnrouted > 0, rows.first?.int64(0) != 0 { return nil }
        // Rules declared or withdrawn since the router last looked: the transaction updates it
        // (and says what is wrong with them).
        if let router = batch.router, (rows.first?.optionalInt64(1) ?? nil) != router.routingGeneration { return nil }
        var result = WriteResult()
        for row in rows {
            guard let queue = row.string(2) else { continue }
            guard let next = row.optionalInt64(3).map(Timestamp.init(micros:)) else { continue }
            guard next > batch.now else { return nil }
            result.nextReady[queue] = next
        }
        return result
    }

    public func declare(queues: [QueueSpec], rules: [Rule], runtime: RuntimeInfo) throws {
        try transaction(at: runtime.heartbeatAt) { tick in try tick.tx.declare(queues: queues, rules: rules, runtime: runtime) }
    }

    public func markStopped(runtime: RuntimeInfo, at time: Timestamp) throws {
        // The latencies of the last seconds, not yet written (see `PendingLatencies`), go with it.
        try transaction(at: time) { tick in
            try tick.tx.writeLatencies(before: .max)
            try tick.tx.markStopped(runtime: runtime, at: time)
        }
    }
}

/// A `LISTEN` on its own connection, until cancelled.
final class PostgresWorkWatch: StoreWatch, @unchecked Sendable {
    private let session: PostgresSession
    private let context: PostgresListenContext

    init(session: PostgresSession, context: PostgresListenContext) {
        self.session = session
        self.context = context
    }

    func cancel() { context.stop() }

    deinit { context.stop() }
}

/// The writer's connection, and what it keeps from one transaction to the next.
final class PostgresWriter {
    let session: PostgresSession
    let latencies = PendingLatencies()
    /// The second `queue_seconds` was last pruned in (by this writer).
    var prunedSecond: Int64 = .min
    /// Notifications of new work (`PostgresTransaction.finish`): when the last was sent, and
    /// whether work was made since.
    static let notifyEvery: Duration = .milliseconds(20)
    var lastNotify: Int64 = .min / 2
    var notifyOwed = false

    init(session: PostgresSession) { self.session = session }
}
