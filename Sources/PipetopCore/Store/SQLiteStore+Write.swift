import Foundation
import GRDB

extension SQLiteStore {
    /// Runs one `Tick` in one write transaction (IMMEDIATE: the write lock is taken first, so what
    /// a transaction reads is what it changes, even beside a writer in another process).
    func transaction<T>(at now: Timestamp, _ body: (inout Tick<SQLiteTransaction>) throws -> T) throws -> T {
        do {
            return try lockedTransaction(at: now, body)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            throw StoreError("the store at \(location) stayed locked by another writer for longer than the busy timeout (\(String(format: "%gs", busyTimeout.secondsDouble)), --busy-timeout): nothing was written")
        }
    }

    private func lockedTransaction<T>(at now: Timestamp, _ body: (inout Tick<SQLiteTransaction>) throws -> T) throws -> T {
        let result = try pool.writeWithoutTransaction { db in
            var value: T?
            let statements = try writerStatements(db)
            do {
                try db.inTransaction(.immediate) {
                    var tick = Tick(SQLiteTransaction(db: db, sql: statements), now: now)
                    value = try body(&tick)
                    try tick.tx.writeTextIndex()
                    return .commit
                }
            } catch {
                statements.latencies.rolledBack()
                throw error
            }
            statements.latencies.committed()
            return value!
        }
        committed()
        return result
    }

    public func declare(queues: [QueueSpec], rules: [Rule], runtime: RuntimeInfo) throws {
        try pool.write { db in
            for queue in queues {
                var window: Int64?
                if case .batch(let every) = queue.mode { window = every.micros }
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO queues (name, mode, window_us, concurrency, visibility_timeout_us,
                            max_attempts, backoff_base_us, backoff_cap_us, max_age_us, dead_letter, runtime, declared_at, deduplicate_us)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        queue.name, queue.mode.description, window, queue.concurrency, queue.visibilityTimeout.micros,
                        queue.maxAttempts, queue.backoff.base.micros, queue.backoff.cap.micros, queue.maxAge?.micros,
                        queue.deadLetter, runtime.name, runtime.startedAt, queue.deduplicate?.micros,
                    ])
                try db.execute(sql: "INSERT OR IGNORE INTO queue_counters (queue) VALUES (?)", arguments: [queue.name])
            }
            // The runtime's rules are what it declares now (`DeclaredRouting`).
            try db.execute(sql: "DELETE FROM rules WHERE runtime = ?", arguments: [runtime.name])
            for rule in rules {
                try db.execute(
                    sql: "INSERT INTO rules (runtime, name, pattern, targets) VALUES (?, ?, ?, ?)",
                    arguments: [runtime.name, rule.name, rule.pattern.source, rule.targets.joined(separator: ",")])
            }
            try Self.bumpRoutingGeneration(db)
            try Self.upsertRuntimeStatement(db, runtime)
            // A node's registration keeps the ten most recently stopped nodes of its name.
            try db.execute(sql: """
                DELETE FROM runtimes WHERE rowid IN (
                    SELECT rowid FROM runtimes WHERE name = ? AND stopped_at IS NOT NULL ORDER BY stopped_at DESC LIMIT -1 OFFSET 10)
                """, arguments: [runtime.name])
        }
    }

    public func markStopped(runtime: RuntimeInfo, at time: Timestamp) throws {
        // The latencies of the last seconds, not yet written (see `PendingLatencies`), go with it.
        try transaction(at: time) { tick in
            try tick.tx.writeLatencies(before: .max)
            try tick.tx.markStopped(runtime: runtime, at: time)
        }
    }

    /// One row per node (`name@host:pid`), registered by `declare`, its heartbeat moved by ticks.
    static func bumpRoutingGeneration(_ db: Database) throws {
        try db.execute(sql: "UPDATE routing_generation SET generation = generation + 1")
    }

    static func upsertRuntimeStatement(_ db: Database, _ runtime: RuntimeInfo) throws {
        try db.cachedStatement(sql: """
            INSERT INTO runtimes (name, pid, host, store, started_at, heartbeat_at, stopped_at, done, done_rate)
            VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)
            ON CONFLICT(name, host, pid) DO UPDATE SET store = excluded.store, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
                stopped_at = NULL, done = excluded.done, done_rate = excluded.done_rate
            """).execute(arguments: [
                runtime.name, runtime.pid, runtime.host, runtime.store, runtime.startedAt, runtime.heartbeatAt, runtime.throughput?.done ?? 0, runtime.doneRate,
            ])
    }

    static func runtimes(_ db: Database) throws -> [RuntimeInfo] {
        var runtimes: [RuntimeInfo] = []
        try RawStatement(cached: db.cachedStatement(sql: RuntimeInfo.listQuery), in: db).query { runtimes.append(RuntimeInfo(row: $0)) }
        return runtimes
    }
}

/// SQLite's primitives for `Tick`: the statements of one write transaction. New events, messages
/// and log records are buffered and written together by `finish` (multi-row inserts) with the ids
/// the transaction assigned them: inside it, nothing else can take the same ids.
struct SQLiteTransaction: StoreTransaction {
    let db: Database
    let sql: WriterStatements
    var rows = BufferedRows()
    /// Causes dead letters were removed from: their first and last are worked out again by `finish`.
    var removedCauses: Set<DeadLetterCause> = []
    /// Arrivals before this minute are forgotten by `finish` (set when letters died).
    var oldestArrival: Int64?
    /// Messages to index (true) or take out of the text index, in order (see `writeTextIndex`).
    var textIndex: [(messageID: Int64, index: Bool)] = []
    /// Stale rows of the text index to purge at most, by `writeTextIndex`.
    var stalePurge = 0

    init(db: Database, sql: WriterStatements) {
        self.db = db
        self.sql = sql
    }

    // MARK: Ids and rows

    /// Message ids never go back, even past deleted messages (AUTOINCREMENT keeps the high-water
    /// mark in `sqlite_sequence`): a late ack matches its message by id and delivery, so an id must
    /// never name two messages.
    private mutating func nextID(_ which: WritableKeyPath<BufferedRows.IDs, Int64>) throws -> Int64 {
        try rows.nextID(which) {
            var ids: BufferedRows.IDs = (1, 1, 1)
            try sql.nextIDs.query { row in ids = (row.int64(0), row.int64(1), row.int64(2)) }
            return ids
        }
    }

    mutating func nextEventSeq() throws -> Int64 { try nextID(\.event) }
    mutating func nextMessageID() throws -> Int64 { try nextID(\.message) }

    mutating func insertEvent(_ event: CloudEvent, seq: Int64, routed: Bool, at: Timestamp, flowAt: Timestamp?) throws {
        rows.insertEvent(event, seq: seq, routed: routed, at: at, flowAt: flowAt)
    }

    mutating func insertMessage(_ message: NewMessage) throws { rows.messages.append(message) }

    mutating func append(_ row: LifecycleRow) throws { rows.append(row, seq: try nextID(\.log)) }

    mutating func markRouted(seq: Int64) throws -> Timestamp? {
        try Timestamp.fetchOne(db.cachedStatement(sql: "UPDATE events SET routed = 1 WHERE seq = ? AND routed = 0 RETURNING published_at"), arguments: [seq])
    }

    /// One upsert decides: it takes the row unless a row within the window is there (only then is
    /// that row read, for the record's detail).
    mutating func acceptOnce(queue: String, source: String, id: String, seq: Int64, at: Timestamp, cutoff: Timestamp) throws -> (at: Timestamp, seq: Int64)? {
        let accept = sql.dedupAccept
        accept.bind(queue)
        accept.bind(source)
        accept.bind(id)
        accept.bind(at.micros)
        accept.bind(seq)
        accept.bind(cutoff.micros)
        try accept.execute()
        if db.changesCount > 0 { return nil }
        var accepted: (at: Timestamp, seq: Int64) = (Timestamp(micros: 0), 0)
        sql.dedupFind.bind(queue)
        sql.dedupFind.bind(source)
        sql.dedupFind.bind(id)
        try sql.dedupFind.query { accepted = (Timestamp(micros: $0.int64(0)), $0.int64(1)) }
        return accepted
    }

    mutating func pruneAccepted(queue: String, before cutoff: Timestamp, limit: Int) throws {
        sql.dedupPrune.bind(queue)
        sql.dedupPrune.bind(cutoff.micros)
        sql.dedupPrune.bind(limit)
        try sql.dedupPrune.execute()
    }

    // MARK: Claims

    mutating func claimCandidates(queue: String, readyBy now: Timestamp, limit: Int) throws -> [ClaimCandidate] {
        var candidates: [ClaimCandidate] = []
        let select = sql.claimSelect
        select.bind(queue)
        select.bind(now.micros)
        select.bind(limit)
        try select.query { row in candidates.append(ClaimCandidate(row: row)) }
        return candidates
    }

    mutating func markClaimed(messageID: Int64, attempt: Int, delivery: Int, leaseUntil: Timestamp, by node: Int64?) throws {
        let update = sql.claimUpdate
        update.bind(attempt)
        update.bind(delivery)
        update.bind(leaseUntil.micros)
        update.bind(node)
        update.bind(messageID)
        try update.execute()
    }

    mutating func nextReady(queue: String, after now: Timestamp) throws -> Timestamp? {
        var next: Timestamp?
        sql.nextReady.bind(queue)
        sql.nextReady.bind(now.micros)
        try sql.nextReady.query { row in next = row.optionalInt64(0).map(Timestamp.init(micros:)) }
        return next
    }

    // MARK: Transitions in flight

    mutating func remove(messageID: Int64, delivery: Int) throws -> Bool {
        sql.ack.bind(messageID)
        sql.ack.bind(delivery)
        try sql.ack.execute()
        return db.changesCount > 0
    }

    mutating func scheduleRetry(messageID: Int64, delivery: Int, readyAt: Timestamp, failedAt: Timestamp, error: String) throws -> Bool {
        let retry = sql.retry
        retry.bind(readyAt.micros)
        retry.bind(failedAt.micros)
        retry.bind(failedAt.micros)
        retry.bind(error)
        retry.bind(messageID)
        retry.bind(delivery)
        try retry.execute()
        return db.changesCount > 0
    }

    mutating func deadLetterInFlight(messageID: Int64, delivery: Int, at: Timestamp, reason: DeadLetterReason, error: String, fingerprint: String) throws -> Int? {
        try Int.fetchOne(db.cachedStatement(sql: """
            UPDATE messages SET state = \(MessageState.dead.sql), dead_at = ?, reason = ?, fingerprint = ?,
                first_failed_at = coalesce(first_failed_at, ?), \(MessageColumn.appendError)
            WHERE id = ? AND state = \(MessageState.inFlight.sql) AND deliveries = ?
            RETURNING replays
            """), arguments: [at, reason.rawValue, fingerprint, at, at, error, messageID, delivery])
    }

    mutating func returnUnstarted(messageID: Int64, delivery: Int, at: Timestamp) throws -> Bool {
        try db.cachedStatement(sql: """
            UPDATE messages SET state = \(MessageState.ready.sql), ready_at = ?, attempt = attempt - 1
            WHERE id = ? AND state = \(MessageState.inFlight.sql) AND deliveries = ?
            """).execute(arguments: [at, messageID, delivery])
        if db.changesCount > 0 { return true }
        // Its lease ran out first and it is back in the ready set, not claimed since: the attempt
        // the expiry spent never ran, so it is given back (the expiry stays in its history).
        try db.cachedStatement(sql: """
            UPDATE messages SET attempt = attempt - 1
            WHERE id = ? AND state = \(MessageState.ready.sql) AND deliveries = ? AND attempt > 0
            """).execute(arguments: [messageID, delivery])
        return db.changesCount > 0
    }

    // MARK: Transitions at a claim

    mutating func deadLetterReady(messageID: Int64, at: Timestamp, reason: DeadLetterReason, error: String, fingerprint: String) throws -> Int {
        try Int.fetchOne(db.cachedStatement(sql: """
            UPDATE messages SET state = \(MessageState.dead.sql), dead_at = ?, reason = ?, fingerprint = ?, first_failed_at = coalesce(first_failed_at, ?),
                \(MessageColumn.appendError)
            WHERE id = ?
            RETURNING replays
            """), arguments: [at, reason.rawValue, fingerprint, at, at, error, messageID]) ?? 0
    }

    mutating func countCause(_ cause: DeadLetterCause, by count: Int, failedAgain: Int, deadAt: Timestamp?) throws {
        try db.cachedStatement(sql: """
            INSERT INTO dead_letter_causes (queue, type, fingerprint, count, failed_again, first_dead_at, last_dead_at) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (queue, type, fingerprint) DO UPDATE SET count = count + excluded.count, failed_again = failed_again + excluded.failed_again,
                first_dead_at = min(first_dead_at, coalesce(excluded.first_dead_at, first_dead_at)),
                last_dead_at = max(last_dead_at, coalesce(excluded.last_dead_at, last_dead_at))
            """).execute(arguments: [cause.queue, cause.type, cause.fingerprint, count, failedAgain, deadAt ?? Timestamp(micros: .max), deadAt ?? Timestamp(micros: .min)])
        if deadAt == nil { removedCauses.insert(cause) }
        if let deadAt, count > 0 {
            // Arrivals per minute (for the groups' sparklines), kept a day: history, never decremented.
            let minute = deadAt.micros / 60_000_000
            try db.cachedStatement(sql: """
                INSERT INTO dead_letter_arrivals (queue, type, fingerprint, minute, count) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (queue, type, fingerprint, minute) DO UPDATE SET count = count + excluded.count
                """).execute(arguments: [cause.queue, cause.type, cause.fingerprint, minute, count])
            oldestArrival = max(oldestArrival ?? .min, minute - DeadLetterArrivals.keptMinutes)
        }
    }

    mutating func removeReady(messageID: Int64) throws {
        try db.cachedStatement(sql: "DELETE FROM messages WHERE id = ?").execute(arguments: [messageID])
    }

    // MARK: The dead letters' text index

    /// Buffered, and written by `writeTextIndex` when everything else is (see there).
    mutating func indexDeadLetterText(messageID: Int64) throws { textIndex.append((messageID, true)) }

    /// The row stays in the index, its id noted in `dead_letter_text_stale` (see `writeTextIndex`).
    mutating func unindexDeadLetterText(messageID: Int64) throws { textIndex.append((messageID, false)) }

    mutating func purgeStaleDeadLetterText(limit: Int) throws { stalePurge = max(stalePurge, limit) }

    /// Writes the buffered changes of the text index, in order, as the last statements of the
    /// transaction. FTS5 flushes what it holds in memory to a new segment of its index whenever
    /// a later statement of the transaction opens a statement journal (an UPDATE … RETURNING, an
    /// upsert, an INSERT … SELECT): interleaved with the rest of a tick, every dead letter became
    /// a segment of its own, and merging them cost several times the rest of the write (measured).
    /// Written last, the index gets one segment per transaction. The text is read as the
    /// transaction left the message (dead, its last error appended); single-row INSERT … VALUES.
    ///
    /// A letter that leaves the dead state is not deleted from the index (FTS5 reads its row back
    /// and tokenizes it again to delete it: about as long as the rest of a replay): its id joins
    /// `dead_letter_text_stale`, and readers count only the rows of dead letters
    /// (`DeadLetterText`). A letter that dies again replaces its row (its text now) and leaves
    /// the list. Stale rows are purged later, `stalePurge` at most per transaction.
    mutating func writeTextIndex() throws {
        if !textIndex.isEmpty {
            let read = try RawStatement(cached: db.cachedStatement(sql: DeadLetterText.text), in: db)
            let insertErrors = try db.cachedStatement(sql: DeadLetterText.insertErrors)
            let insertPayload = try db.cachedStatement(sql: DeadLetterText.insertPayload)
            let stale = try db.cachedStatement(sql: DeadLetterText.markStale)
            // Only a letter replayed before can be listed as stale; one look per transaction.
            var anyStale = try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM \(DeadLetterText.staleTable))")) ?? true
            let fresh = try db.cachedStatement(sql: DeadLetterText.unmarkStale)
            for (messageID, index) in textIndex {
                guard index else {
                    try stale.execute(arguments: [messageID])
                    anyStale = true
                    continue
                }
                var text: (errors: String?, payload: String?)?
                read.bind(messageID)
                try read.query { row in text = (row.string(0), row.string(1)) }
                guard let text else { continue }
                if anyStale { try fresh.execute(arguments: [messageID]) }
                try insertErrors.execute(arguments: [messageID, text.errors])
                try insertPayload.execute(arguments: [messageID, text.payload])
            }
            textIndex.removeAll()
        }
        if stalePurge > 0 {
            try purgeStaleText(limit: stalePurge)
            stalePurge = 0
        }
    }

    /// Deletes up to `limit` stale rows from the text index, oldest listed first; a listed letter
    /// that is dead again (never so: dying again unlists it) keeps its row.
    private func purgeStaleText(limit: Int) throws {
        let ids = try Int64.fetchAll(db.cachedStatement(sql: """
            SELECT s.id FROM \(DeadLetterText.staleTable) s
            WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = s.id AND m.state = \(MessageState.dead.sql)) ORDER BY s.id LIMIT ?
            """), arguments: [limit])
        guard !ids.isEmpty else { return }
        for sql in DeadLetterText.deletes {
            let delete = try db.cachedStatement(sql: sql)
            for id in ids { try delete.execute(arguments: [id]) }
        }
        try db.cachedStatement(sql: "DELETE FROM \(DeadLetterText.staleTable) WHERE id <= ?").execute(arguments: [ids.last!])
    }

    // MARK: Batch windows and leases

    mutating func releaseHeld(queue: String, at: Timestamp) throws -> [(messageID: Int64, eventSeq: Int64)] {
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT id, event_seq FROM messages WHERE queue = ? AND state = \(MessageState.held.sql) ORDER BY id
            """), arguments: [queue])
        guard !rows.isEmpty else { return [] }
        try db.cachedStatement(sql: """
            UPDATE messages SET state = \(MessageState.ready.sql), ready_at = ? WHERE queue = ? AND state = \(MessageState.held.sql)
            """).execute(arguments: [at, queue])
        return rows.map { (messageID: $0["id"], eventSeq: $0["event_seq"]) }
    }

    mutating func expiredLeases(queue: String, now: Timestamp) throws -> [ExpiredLease] {
        let query = try RawStatement(cached: db.cachedStatement(sql: """
            SELECT \(ExpiredLease.columns) FROM messages WHERE queue = ? AND state = \(MessageState.inFlight.sql) AND ready_at <= ?
            """), in: db)
        query.bind(queue)
        query.bind(now.micros)
        return try leases(query)
    }

    mutating func leases(heldBy node: Int64) throws -> [ExpiredLease] {
        // Along `messages_by_queue_state`: the in-flight range of each queue that ever had a message.
        let query = try RawStatement(cached: db.cachedStatement(sql: """
            SELECT \(ExpiredLease.columns) FROM messages
            WHERE queue IN (SELECT queue FROM queue_counters) AND state = \(MessageState.inFlight.sql) AND claimed_by = ?
            ORDER BY id
            """), in: db)
        query.bind(node)
        return try leases(query)
    }

    private func leases(_ query: RawStatement) throws -> [ExpiredLease] {
        var leases: [ExpiredLease] = []
        try query.query { leases.append(ExpiredLease(row: $0)) }
        return leases
    }

    mutating func returnExpired(messageID: Int64, at: Timestamp, error: String) throws {
        try db.cachedStatement(sql: """
            UPDATE messages SET state = \(MessageState.ready.sql), ready_at = ?, first_failed_at = coalesce(first_failed_at, ?),
                \(MessageColumn.appendError)
            WHERE id = ?
            """).execute(arguments: [at, at, at, error, messageID])
    }

    // MARK: Dead letters

    mutating func selectDeadLetters(_ selection: DeadLetterSelection, limit: Int?) throws -> [SelectedDeadLetter] {
        let (conditions, binds) = try DeadLetterQuery.conditions(selection)
        let statement = try RawStatement(cached: db.cachedStatement(sql: """
            SELECT m.id, m.queue, m.attempt, m.event_seq, e.type, m.fingerprint, m.replays, json_array_length(m.errors) FROM messages m JOIN events e ON e.seq = m.event_seq
            WHERE \(conditions) ORDER BY m.dead_at, m.id LIMIT ?
            """), in: db)
        for bind in binds { bind(statement) }
        // SQLite reads a negative LIMIT as none: never "all" by accident.
        statement.bind(limit.map { max($0, 0) } ?? -1)
        var letters: [SelectedDeadLetter] = []
        try statement.query { row in
            let queue = row.string(1) ?? ""
            letters.append(SelectedDeadLetter(
                messageID: row.int64(0), queue: queue, attempt: row.int(2), eventSeq: row.int64(3),
                cause: DeadLetterCause(queue: queue, type: row.string(4) ?? "", fingerprint: row.string(5) ?? ""), replays: row.int(6),
                errorCount: row.int(7)))
        }
        return letters
    }

    /// In place: the same message (its id, event and error history), ready again with a fresh
    /// attempt budget and enqueued now (so max age counts from the replay). `deliveries` keeps
    /// counting, so the next claim is a new delivery and no late ack of an old one can match it.
    mutating func redrive(messageID: Int64, to queue: String, at: Timestamp) throws -> Bool {
        try db.cachedStatement(sql: """
            UPDATE messages SET state = \(MessageState.ready.sql), queue = ?, ready_at = ?, enqueued_at = ?, attempt = 0,
                dead_at = NULL, reason = NULL, replays = replays + 1
            WHERE id = ? AND state = \(MessageState.dead.sql)
            """).execute(arguments: [queue, at, at, messageID])
        return db.changesCount > 0
    }

    mutating func deleteDeadLetter(messageID: Int64) throws -> Bool {
        try db.cachedStatement(sql: "DELETE FROM messages WHERE id = ? AND state = \(MessageState.dead.sql)").execute(arguments: [messageID])
        return db.changesCount > 0
    }

    mutating func event(seq: Int64) throws -> CloudEvent? {
        // An event inserted by this transaction is still buffered.
        if let event = rows.event(seq: seq) { return event }
        let query = try RawStatement(cached: db.cachedStatement(sql: "SELECT \(EventColumn.list("e")) FROM events e WHERE e.seq = ?"), in: db)
        query.bind(seq)
        var event: CloudEvent?
        try query.query { event = EventRow.decode($0.columns(EventColumn.self)) }
        return event
    }

    mutating func redriveEdited(messageID: Int64, eventSeq: Int64, replays: Int, newSeq: Int64, at: Timestamp) throws -> Bool {
        try db.cachedStatement(sql: """
            UPDATE messages SET state = \(MessageState.ready.sql), event_seq = ?, ready_at = ?, enqueued_at = ?, attempt = 0,
                dead_at = NULL, reason = NULL, replays = replays + 1
            WHERE id = ? AND state = \(MessageState.dead.sql) AND event_seq = ? AND replays = ?
            """).execute(arguments: [newSeq, at, at, messageID, eventSeq, replays])
        return db.changesCount > 0
    }

    mutating func appendAudit(_ record: AuditRecord) throws {
        let columns: [AuditColumn] = [.at, .actor, .action, .detail, .count]
        try db.cachedStatement(sql: """
            INSERT INTO audit (\(columns.map(\.sql).joined(separator: ", "))) VALUES (?, ?, ?, ?, ?)
            """).execute(arguments: [record.at, record.actor.description, record.action.rawValue, record.detail, record.count])
    }

    // MARK: The rest of a tick

    mutating func fetchUnrouted(limit: Int) throws -> [(seq: Int64, event: CloudEvent)] {
        var unrouted: [(seq: Int64, event: CloudEvent)] = []
        sql.unrouted.bind(limit)
        try sql.unrouted.query { row in
            let columns = row.columns(EventColumn.self)
            unrouted.append((columns.int64(.seq), EventRow.decode(columns)))
        }
        return unrouted
    }

    mutating func routingGeneration() throws -> Int64 {
        var generation: Int64 = 0
        try sql.routingGeneration.query { row in generation = row.int64(0) }
        return generation
    }

    mutating func declaredRouting() throws -> DeclaredRouting {
        var runtimes: [String: DeclaredRouting.Rules] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT runtime, name, pattern, targets FROM rules ORDER BY runtime, name") {
            let name: String = row["runtime"]
            let targets = (row["targets"] as String).split(separator: ",").map(String.init)
            runtimes[name, default: DeclaredRouting.Rules(runtime: name, heartbeatAt: nil, rules: [])].rules
                .append(DeclaredRouting.Rule(name: row["name"], pattern: row["pattern"], targets: targets))
        }
        for row in try Row.fetchAll(db, sql: "SELECT name, max(heartbeat_at) AS heartbeat FROM runtimes WHERE stopped_at IS NULL GROUP BY name") {
            let name: String = row["name"]
            runtimes[name]?.heartbeatAt = row["heartbeat"]
        }
        var queues: [String: DeclaredRouting.QueueRouting] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT name, window_us, deduplicate_us FROM queues") {
            queues[row["name"]] = DeclaredRouting.QueueRouting(
                held: (row["window_us"] as Int64?) != nil, deduplicate: (row["deduplicate_us"] as Int64?).map { Duration.microseconds($0) })
        }
        return DeclaredRouting(generation: try routingGeneration(), runtimes: runtimes.values.sorted { $0.runtime < $1.runtime }, queues: queues)
    }

    mutating func insertCPUSamples(_ samples: [CPUSample]) throws { try CPUTick.insert(samples, into: db) }

    mutating func pruneCPUSamples(before: Timestamp, keep: Int) throws { try CPUTick.prune(before: before, keep: keep, in: db) }

    mutating func upsertRuntime(_ runtime: RuntimeInfo) throws { try SQLiteStore.upsertRuntimeStatement(db, runtime) }

    mutating func runtimes() throws -> [RuntimeInfo] { try SQLiteStore.runtimes(db) }

    mutating func markStopped(runtime: RuntimeInfo, at time: Timestamp) throws {
        try db.execute(sql: "UPDATE runtimes SET stopped_at = ?, heartbeat_at = max(heartbeat_at, ?) WHERE name = ? AND host = ? AND pid = ?",
                       arguments: [time, time, runtime.name, runtime.host, runtime.pid])
        try SQLiteStore.bumpRoutingGeneration(db)
    }

    /// Writes the new events, messages and log records, in that order, then the counters and the queues' seconds.
    mutating func finish(counters: [String: QueueCounters], backlog: [String: BacklogChange], at now: Timestamp) throws {
        try sql.events.insert(rows.events)
        try sql.messages.insert(rows.messages)
        try sql.log.insert(rows.log)
        rows.written()
        for cause in removedCauses {
            try db.cachedStatement(sql: "DELETE FROM dead_letter_causes WHERE queue = ? AND type = ? AND fingerprint = ? AND count <= 0")
                .execute(arguments: [cause.queue, cause.type, cause.fingerprint])
            // Along messages_dead_by_queue_cause in dead_at order, each stopping at the first letter of the type.
            let oldest = """
                SELECT m.dead_at FROM messages m JOIN events e ON e.seq = m.event_seq
                WHERE m.state = \(MessageState.dead.sql) AND m.queue = ?1 AND m.fingerprint = ?3 AND e.type = ?2 ORDER BY m.dead_at
                """
            try db.cachedStatement(sql: """
                UPDATE dead_letter_causes SET first_dead_at = (\(oldest) LIMIT 1), last_dead_at = (\(oldest) DESC LIMIT 1)
                WHERE queue = ?1 AND type = ?2 AND fingerprint = ?3
                """).execute(arguments: [cause.queue, cause.type, cause.fingerprint])
        }
        removedCauses.removeAll()
        if let oldestArrival {
            try db.cachedStatement(sql: "DELETE FROM dead_letter_arrivals WHERE minute < ?").execute(arguments: [oldestArrival])
            self.oldestArrival = nil
        }
        for (queue, delta) in counters {
            try db.cachedStatement(sql: """
                INSERT INTO queue_counters (queue, enqueued, claimed, succeeded, failed, retried, dead_lettered, duplicates, lease_expired)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(queue) DO UPDATE SET enqueued = enqueued + excluded.enqueued, claimed = claimed + excluded.claimed,
                    succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed,
                    retried = retried + excluded.retried, dead_lettered = dead_lettered + excluded.dead_lettered,
                    duplicates = duplicates + excluded.duplicates, lease_expired = lease_expired + excluded.lease_expired
                """).execute(arguments: [
                    queue, delta.enqueued, delta.claimed, delta.succeeded, delta.failed, delta.retried, delta.deadLettered, delta.duplicates, delta.leaseExpired,
                ])
        }
        let second = now.micros.floorDiv(1_000_000)
        let upsert = sql.queueSecond
        for (queue, change) in backlog {
            upsert.bind(queue)
            upsert.bind(second)
            upsert.bind(change.enqueued)
            upsert.bind(change.held)
            upsert.bind(change.released)
            upsert.bind(change.done)
            try upsert.execute()
            sql.latencies.stage(queue: queue, second: second, change)
        }
        try writeLatencies(before: second)
        // Seconds older than kept go, once a second (the table holds a row per queue and second).
        if second > sql.prunedSecond {
            sql.prunedSecond = second
            try db.cachedStatement(sql: "DELETE FROM queue_seconds WHERE second < ?").execute(arguments: [second - QueueSecond.kept.micros / 1_000_000])
        }
    }

    /// Adds the committed latencies of the seconds before `second` (`PendingLatencies`) to their rows.
    mutating func writeLatencies(before second: Int64) throws {
        for (key, tallies) in sql.latencies.due(before: second) {
            let merge = sql.queueSecondLatency
            merge.bind(key.queue)
            merge.bind(key.second)
            merge.bind(tallies.latency.isEmpty ? nil : tallies.latency.buckets.encoded)
            merge.bind(tallies.flowLatency.isEmpty ? nil : tallies.flowLatency.buckets.encoded)
            try merge.execute()
        }
    }
}

/// Successes' latencies on their way to the store. Writing a second's latency buckets with every
/// transaction would rewrite its whole row (hundreds of buckets) at every tick; instead a writer
/// keeps the latencies its committed transactions recorded, by queue and second, and its first
/// transaction of a later second adds them to their rows (within about a second: the engine ticks
/// at least once a second, and `markStopped` writes the rest). A transaction's own latencies join
/// only when it commits, and what it wrote leaves only then, so none is lost or counted twice.
/// Touched only inside the writer's transactions (serialised by the pool).
final class PendingLatencies {
    struct Key: Hashable {
        var queue: String
        var second: Int64
    }

    struct Tallies {
        var latency = LatencyBuckets.Tally()
        var flowLatency = LatencyBuckets.Tally()

        mutating func add(_ other: Tallies) {
            latency.counts.merge(other.latency.counts, uniquingKeysWith: +)
            flowLatency.counts.merge(other.flowLatency.counts, uniquingKeysWith: +)
        }
    }

    /// Committed, not yet written.
    private var pending: [Key: Tallies] = [:]
    /// This transaction's (pending once it commits), and what it wrote (gone once it commits).
    private var staged: [Key: Tallies] = [:]
    private var written: [Key] = []

    func stage(queue: String, second: Int64, _ change: BacklogChange) {
        guard !change.latency.isEmpty || !change.flowLatency.isEmpty else { return }
        staged[Key(queue: queue, second: second), default: Tallies()].add(Tallies(latency: change.latency, flowLatency: change.flowLatency))
    }

    /// The committed latencies of seconds before `second`, marked written by this transaction.
    func due(before second: Int64) -> [(key: Key, tallies: Tallies)] {
        let due = pending.filter { $0.key.second < second && !written.contains($0.key) }
        written += due.keys
        return due.map { ($0.key, $0.value) }
    }

    /// Whether a transaction of `second` would write some.
    func hasDue(before second: Int64) -> Bool { pending.keys.contains { $0.second < second } }

    func committed() {
        for key in written { pending[key] = nil }
        for (key, tallies) in staged { pending[key, default: Tallies()].add(tallies) }
        rolledBack()
    }

    func rolledBack() {
        staged.removeAll()
        written.removeAll()
    }
}

/// The write path's hot statements, prepared once on the writer connection.
final class WriterStatements {
    let events: BatchInsert<EventRow>
    let messages: BatchInsert<NewMessage>
    let log: BatchInsert<LogRow>
    let nextIDs: RawStatement
    let claimSelect: RawStatement
    let claimUpdate: RawStatement
    let nextReady: RawStatement
    let ack: RawStatement
    let retry: RawStatement
    let unrouted: RawStatement
    let routingGeneration: RawStatement
    let dedupAccept: RawStatement
    let dedupFind: RawStatement
    let dedupPrune: RawStatement
    let queueSecond: RawStatement
    let queueSecondLatency: RawStatement
    /// The second `queue_seconds` was last pruned in (by this writer).
    var prunedSecond: Int64 = .min
    let latencies = PendingLatencies()

    init(_ db: Database) throws {
        let ready = MessageState.ready.sql, inFlight = MessageState.inFlight.sql
        events = try BatchInsert(db)
        messages = try BatchInsert(db)
        log = try BatchInsert(db)
        nextIDs = try RawStatement(db, """
            SELECT (SELECT coalesce(max(seq), 0) + 1 FROM events),
                max((SELECT coalesce(max(id), 0) FROM messages),
                    coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0)) + 1,
                (SELECT coalesce(max(seq), 0) + 1 FROM log)
            """)
        claimSelect = try RawStatement(db, """
            SELECT \(ClaimColumn.list("m")), \(EventColumn.list("e"))
            FROM messages m JOIN events e ON e.seq = m.event_seq
            WHERE m.queue = ? AND m.state = \(ready) AND m.ready_at <= ? ORDER BY m.ready_at LIMIT ?
            """)
        claimUpdate = try RawStatement(db, "UPDATE messages SET state = \(inFlight), attempt = ?, deliveries = ?, ready_at = ?, claimed_by = ? WHERE id = ?")
        nextReady = try RawStatement(db, "SELECT min(ready_at) FROM messages WHERE queue = ? AND state = \(ready) AND ready_at > ?")
        ack = try RawStatement(db, "DELETE FROM messages WHERE id = ? AND state = \(inFlight) AND deliveries = ?")
        retry = try RawStatement(db, """
            UPDATE messages SET state = \(ready), ready_at = ?, first_failed_at = coalesce(first_failed_at, ?),
                \(MessageColumn.appendError)
            WHERE id = ? AND state = \(inFlight) AND deliveries = ?
            """)
        unrouted = try RawStatement(db, "SELECT \(EventColumn.list("e")) FROM events e WHERE routed = 0 ORDER BY seq LIMIT ?")
        routingGeneration = try RawStatement(db, "SELECT generation FROM routing_generation")
        dedupAccept = try RawStatement(db, """
            INSERT INTO dedup (queue, source, id, accepted_at, event_seq) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (queue, source, id) DO UPDATE SET accepted_at = excluded.accepted_at, event_seq = excluded.event_seq
                WHERE dedup.accepted_at < ?
            """)
        dedupFind = try RawStatement(db, "SELECT accepted_at, event_seq FROM dedup WHERE queue = ? AND source = ? AND id = ?")
        // One row per queue and second; each transaction adds its counts, and later its latencies
        // (`PendingLatencies`; buckets merged in SQL).
        queueSecond = try RawStatement(db, """
            INSERT INTO queue_seconds (queue, second, enqueued, held, released, done) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (queue, second) DO UPDATE SET enqueued = enqueued + excluded.enqueued, held = held + excluded.held,
                released = released + excluded.released, done = done + excluded.done
            """)
        queueSecondLatency = try RawStatement(db, """
            INSERT INTO queue_seconds (queue, second, enqueued, held, released, done, latency, flow_latency) VALUES (?, ?, 0, 0, 0, 0, ?, ?)
            ON CONFLICT (queue, second) DO UPDATE SET latency = \(SQLiteStore.mergeLatency)(latency, excluded.latency),
                flow_latency = \(SQLiteStore.mergeLatency)(flow_latency, excluded.flow_latency)
            """)
        dedupPrune = try RawStatement(db, """
            DELETE FROM dedup WHERE (queue, source, id) IN
                (SELECT queue, source, id FROM dedup WHERE queue = ? AND accepted_at < ? ORDER BY accepted_at LIMIT ?)
            """)
    }
}
