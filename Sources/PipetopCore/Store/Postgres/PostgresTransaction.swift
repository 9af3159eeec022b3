import Foundation

/// A statement's SQL and its values as it is built: `\(sql.value(x))` binds `x` and writes its
/// placeholder (`$n`), so placeholders and values cannot drift apart.
struct PostgresSQL {
    let binder = PostgresBinder()

    func value(_ value: Int64) -> String { let p = binder.next; binder.bind(value); return p }
    func value(_ value: Int64?) -> String { let p = binder.next; binder.bind(value); return p }
    func value(_ value: Int) -> String { self.value(Int64(value)) }
    func value(_ value: Int?) -> String { self.value(value.map(Int64.init)) }
    func value(_ value: String?) -> String { let p = binder.next; binder.bind(value); return p }
    func value(_ value: [Int64]) -> String { let p = binder.next; binder.bind(value); return p + "::bigint[]" }
    func value(_ value: [String]) -> String { let p = binder.next; binder.bind(value); return p + "::text[]" }
    func value(_ value: Timestamp?) -> String { self.value(value?.micros) }
    /// A batch's column (`PostgresColumnArray`), its type the array's own.
    func value(_ column: PostgresColumnArray) -> String { let p = binder.next; binder.bindings.append(column); return p }
}

extension PostgresSession {
    /// Runs a statement built with `PostgresSQL`: `session.run { sql in "… \(sql.value(x)) …" }`.
    @discardableResult
    func run(_ build: (PostgresSQL) -> String) throws -> PostgresResult {
        let sql = PostgresSQL()
        let text = build(sql)
        return try query(text, bindings: sql.binder)
    }

    func query(_ text: String, bindings: PostgresBinder) throws -> PostgresResult {
        try query(text) { binder in binder.bindings = bindings.bindings }
    }
}

/// The SQL of a `DeadLetterSelection` over `messages m JOIN events e`, as `DeadLetterQuery` is for SQLite.
enum PostgresDeadLetterQuery {
    static func conditions(_ selection: DeadLetterSelection, _ sql: PostgresSQL) throws -> String {
        try DeadLetterQuery.check(selection)
        var conditions = ["m.state = \(MessageState.dead.sql)"]
        if let queue = selection.queue { conditions.append("m.queue = \(sql.value(queue))") }
        if let ids = selection.messageIDs { conditions.append("m.id = ANY(\(sql.value(ids)))") }
        if let type = selection.type { conditions.append("e.type = \(sql.value(type))") }
        if let fingerprint = selection.fingerprint { conditions.append("m.fingerprint = \(sql.value(fingerprint))") }
        if let failedAgain = selection.failedAgain { conditions.append(failedAgain ? "m.replays > 0" : "m.replays = 0") }
        if let since = selection.deadSince { conditions.append("m.dead_at >= \(sql.value(since.micros))") }
        if let until = selection.deadUntil { conditions.append("m.dead_at < \(sql.value(until.micros))") }
        for (column, text) in textMatches(selection) {
            conditions.append("m.id IN (SELECT t.id FROM dead_letter_text t WHERE t.\(column) LIKE \(folded(sql.value(like(text)))))")
        }
        return conditions.joined(separator: " AND ")
    }

    /// Text in lower case by Unicode's rules (ICU's root locale), whatever the database's ctype:
    /// the text table holds it so, and a search's text is folded alike, so a match is a
    /// case-insensitive substring beyond ASCII too (as FTS5's trigram phrase on SQLite).
    static func folded(_ expression: String) -> String { "(lower((\(expression))::text COLLATE \"und-x-icu\") COLLATE \"default\")" }

    /// The selection's text conditions: (column of `dead_letter_text`, text), each a
    /// case-insensitive substring (as FTS5's trigram phrase on SQLite), served by its trigram index.
    static func textMatches(_ selection: DeadLetterSelection) -> [(column: String, text: String)] {
        var matches: [(String, String)] = []
        if let text = selection.errorText { matches.append(("errors", text)) }
        if let text = selection.payloadText { matches.append(("payload", text)) }
        return matches
    }

    /// `%text%` with LIKE's own characters escaped (PostgreSQL's default escape is `\`).
    static func like(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return "%" + escaped + "%"
    }
}

/// PostgreSQL's primitives for `Tick`: the statements of one write transaction, under the write
/// lock (`PostgresStore`). As on SQLite, new events, messages and log records are buffered and
/// written together by `finish` (multi-row inserts) with the ids the transaction assigned them.
struct PostgresTransaction: StoreTransaction {
    let session: PostgresSession
    let writer: PostgresWriter
    var rows = BufferedRows()
    var removedCauses: Set<DeadLetterCause> = []
    var oldestArrival: Int64?
    var textIndex: [(messageID: Int64, index: Bool)] = []
    /// Read by `prepareClaims` for this tick's claims: each queue's candidates and next retry.
    var preparedCandidates: [String: [ClaimCandidate]] = [:]
    var preparedNextReady: [String: Timestamp?] = [:]

    /// The store's token, the payload of this transaction's notification (`PostgresStore.workChannel`).
    let token: String
    /// Messages became deliverable now other than by an insert (a replay, a window, a lease given back).
    var madeReady = false

    /// What `pipetop_write_lock` read once the lock was taken: the routing generation (until
    /// this transaction changes it), the next ids, and whether any event waits to be routed.
    struct Start {
        var generation: Int64?
        var ids: BufferedRows.IDs
        var unrouted: Bool

        init(row: PostgresRowReader) {
            generation = row.int64(0)
            ids = (row.int64(1), row.int64(2), row.int64(3))
            unrouted = row.int64(4) != 0
        }
    }
    var start: Start

    init(session: PostgresSession, writer: PostgresWriter, token: String, start: Start) {
        self.session = session
        self.writer = writer
        self.token = token
        self.start = start
        rows.start(from: start.ids)
    }

    @discardableResult
    private func run(_ build: (PostgresSQL) -> String) throws -> PostgresResult { try session.run(build) }

    // MARK: Ids and rows

    /// Under the write lock nothing else assigns ids, so the next ones are read once, with the
    /// lock (`Start`); message ids never go back past a deleted message (`id_high_water`, moved
    /// by `finish`).
    private mutating func nextID(_ which: WritableKeyPath<BufferedRows.IDs, Int64>) throws -> Int64 {
        rows.nextID(which) { preconditionFailure("the ids are read with the write lock") }
    }

    mutating func nextEventSeq() throws -> Int64 { try nextID(\.event) }
    mutating func nextMessageID() throws -> Int64 { try nextID(\.message) }

    mutating func insertEvent(_ event: CloudEvent, seq: Int64, routed: Bool, at: Timestamp, flowAt: Timestamp?) throws {
        rows.insertEvent(event, seq: seq, routed: routed, at: at, flowAt: flowAt)
    }

    mutating func insertMessage(_ message: NewMessage) throws { rows.messages.append(message) }

    mutating func append(_ row: LifecycleRow) throws { rows.append(row, seq: try nextID(\.log)) }

    mutating func markRouted(seq: Int64) throws -> Timestamp? {
        try run { "UPDATE events SET routed = 1 WHERE seq = \($0.value(seq)) AND routed = 0 RETURNING published_at" }
            .rows.first.map { Timestamp(micros: $0.int64(0)) }
    }

    mutating func acceptOnce(queue: String, source: String, id: String, seq: Int64, at: Timestamp, cutoff: Timestamp) throws -> (at: Timestamp, seq: Int64)? {
        let accepted = try run { sql in
            """
            INSERT INTO dedup (queue, source, id, accepted_at, event_seq)
            VALUES (\(sql.value(queue)), \(sql.value(source)), \(sql.value(id)), \(sql.value(at.micros)), \(sql.value(seq)))
            ON CONFLICT (queue, source, id) DO UPDATE SET accepted_at = excluded.accepted_at, event_seq = excluded.event_seq
                WHERE dedup.accepted_at < \(sql.value(cutoff.micros))
            """
        }
        if accepted.changed > 0 { return nil }
        let row = try run { sql in
            "SELECT accepted_at, event_seq FROM dedup WHERE queue = \(sql.value(queue)) AND source = \(sql.value(source)) AND id = \(sql.value(id))"
        }.rows.first
        return (Timestamp(micros: row?.int64(0) ?? 0), row?.int64(1) ?? 0)
    }

    mutating func pruneAccepted(queue: String, before cutoff: Timestamp, limit: Int) throws {
        try run { sql in
            """
            DELETE FROM dedup WHERE (queue, source, id) IN
                (SELECT queue, source, id FROM dedup WHERE queue = \(sql.value(queue)) AND accepted_at < \(sql.value(cutoff.micros))
                 ORDER BY accepted_at LIMIT \(sql.value(limit)))
            """
        }
    }

    // MARK: Claims

    /// Every queue's candidates and next retry in one statement: per queue, its next retry and
    /// a lateral read of its candidates, `FOR UPDATE SKIP LOCKED` (a row another transaction
    /// holds is passed over, not waited for); a queue with none is one row without a message.
    mutating func prepareClaims(_ requests: [ClaimRequest], readyBy now: Timestamp) throws {
        guard !requests.isEmpty else { return }
        let rows = try run { sql in
            let ready = sql.value(now.micros)
            return """
                SELECT q.name, n.next, \(ClaimColumn.list("m")), \(EventColumn.list("e"))
                FROM unnest(\(sql.value(requests.map(\.queue))), \(sql.value(requests.map { Int64($0.limit) }))) WITH ORDINALITY AS q(name, lim, ord)
                CROSS JOIN LATERAL (\(Self.nextReady(queue: "q.name", after: ready))) n(next)
                LEFT JOIN LATERAL (
                    SELECT * FROM messages WHERE queue = q.name AND state = \(MessageState.ready.sql) AND ready_at <= \(ready)
                    ORDER BY ready_at, id LIMIT q.lim FOR UPDATE SKIP LOCKED) m ON true
                LEFT JOIN events e ON e.seq = m.event_seq
                ORDER BY q.ord, m.ready_at, m.id
                """
        }.rows
        let eventSeq = 2 + ClaimColumn.count + EventColumn.seq.rawValue
        for row in rows {
            let queue = row.string(0) ?? ""
            preparedNextReady[queue] = .some(row.optionalInt64(1).map(Timestamp.init(micros:)))
            // No message; or one whose event is gone, which a claim passes over (as an inner join would).
            guard row.optionalInt64(eventSeq) != nil else {
                if preparedCandidates[queue] == nil { preparedCandidates[queue] = [] }
                continue
            }
            preparedCandidates[queue, default: []].append(ClaimCandidate(row: row, from: 2))
        }
    }

    /// `FOR UPDATE OF m SKIP LOCKED`: a row another transaction holds is passed over, not waited for.
    mutating func claimCandidates(queue: String, readyBy now: Timestamp, limit: Int) throws -> [ClaimCandidate] {
        if let prepared = preparedCandidates.removeValue(forKey: queue) { return prepared }
        return try run { sql in
            """
            SELECT \(ClaimColumn.list("m")), \(EventColumn.list("e"))
            FROM messages m JOIN events e ON e.seq = m.event_seq
            WHERE m.queue = \(sql.value(queue)) AND m.state = \(MessageState.ready.sql) AND m.ready_at <= \(sql.value(now.micros))
            ORDER BY m.ready_at, m.id LIMIT \(sql.value(limit))
            FOR UPDATE OF m SKIP LOCKED
            """
        }.rows.map { ClaimCandidate(row: $0) }
    }

    mutating func markClaimed(messageID: Int64, attempt: Int, delivery: Int, leaseUntil: Timestamp, by node: Int64?) throws {
        try run { sql in
            """
            UPDATE messages SET state = \(MessageState.inFlight.sql), attempt = \(sql.value(attempt)), deliveries = \(sql.value(delivery)),
                ready_at = \(sql.value(leaseUntil.micros)), claimed_by = \(sql.value(node)) WHERE id = \(sql.value(messageID))
            """
        }
    }

    mutating func markClaimed(_ claims: [Claim], by node: Int64?) throws {
        guard !claims.isEmpty else { return }
        try run { sql in
            """
            UPDATE messages m SET state = \(MessageState.inFlight.sql), attempt = c.attempt, deliveries = c.delivery, ready_at = c.lease,
                claimed_by = \(sql.value(node))
            FROM unnest(\(sql.value(claims.map(\.messageID))), \(sql.value(claims.map { Int64($0.attempt) })), \(sql.value(claims.map { Int64($0.delivery) })),
                \(sql.value(claims.map(\.leaseUntil.micros)))) AS c(id, attempt, delivery, lease)
            WHERE m.id = c.id
            """
        }
    }

    mutating func nextReady(queue: String, after now: Timestamp) throws -> Timestamp? {
        if let prepared = preparedNextReady.removeValue(forKey: queue) { return prepared }
        return try run { sql in Self.nextReady(queue: sql.value(queue), after: sql.value(now.micros)) }
            .rows.first?.optionalInt64(0).map(Timestamp.init(micros:))
    }

    /// The earliest `ready_at` of `queue`'s ready messages (an SQL expression), after `after` if given.
    static func nextReady(queue: String, after: String? = nil) -> String {
        "SELECT min(ready_at) FROM messages WHERE queue = \(queue) AND state = \(MessageState.ready.sql)" + (after.map { " AND ready_at > \($0)" } ?? "")
    }

    // MARK: Transitions in flight

    /// Appends `{attempt, at, error}` to the error history (`jsonb`).
    private static func appendError(_ sql: PostgresSQL, at: Timestamp, error: String) -> String {
        "errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempt, 'at', \(sql.value(at.micros))::bigint, 'error', \(sql.value(error))::text))"
    }

    mutating func remove(messageID: Int64, delivery: Int) throws -> Bool {
        try run { sql in
            "DELETE FROM messages WHERE id = \(sql.value(messageID)) AND state = \(MessageState.inFlight.sql) AND deliveries = \(sql.value(delivery))"
        }.changed > 0
    }

    /// One statement for every ack of the transaction.
    mutating func remove(_ deliveries: [MessageDelivery]) throws -> Set<MessageDelivery> {
        guard !deliveries.isEmpty else { return [] }
        let rows = try run { sql in
            """
            DELETE FROM messages m USING unnest(\(sql.value(deliveries.map(\.messageID))), \(sql.value(deliveries.map { Int64($0.delivery) }))) AS a(id, delivery)
            WHERE m.id = a.id AND m.state = \(MessageState.inFlight.sql) AND m.deliveries = a.delivery
            RETURNING m.id, m.deliveries
            """
        }.rows
        return Set(rows.map { MessageDelivery(messageID: $0.int64(0), delivery: $0.int(1)) })
    }

    mutating func scheduleRetry(messageID: Int64, delivery: Int, readyAt: Timestamp, failedAt: Timestamp, error: String) throws -> Bool {
        try run { sql in
            """
            UPDATE messages SET state = \(MessageState.ready.sql), ready_at = \(sql.value(readyAt.micros)),
                first_failed_at = coalesce(first_failed_at, \(sql.value(failedAt.micros))), \(Self.appendError(sql, at: failedAt, error: error))
            WHERE id = \(sql.value(messageID)) AND state = \(MessageState.inFlight.sql) AND deliveries = \(sql.value(delivery))
            """
        }.changed > 0
    }

    mutating func deadLetterInFlight(messageID: Int64, delivery: Int, at: Timestamp, reason: DeadLetterReason, error: String, fingerprint: String) throws -> Int? {
        try run { sql in
            """
            UPDATE messages SET state = \(MessageState.dead.sql), dead_at = \(sql.value(at.micros)), reason = \(sql.value(reason.rawValue)),
                fingerprint = \(sql.value(fingerprint)), first_failed_at = coalesce(first_failed_at, \(sql.value(at.micros))),
                \(Self.appendError(sql, at: at, error: error))
            WHERE id = \(sql.value(messageID)) AND state = \(MessageState.inFlight.sql) AND deliveries = \(sql.value(delivery))
            RETURNING replays
            """
        }.rows.first.map { $0.int(0) }
    }

    mutating func returnUnstarted(messageID: Int64, delivery: Int, at: Timestamp) throws -> Bool {
        let returned = try run { sql in
            """
            UPDATE messages SET state = \(MessageState.ready.sql), ready_at = \(sql.value(at.micros)), attempt = attempt - 1
            WHERE id = \(sql.value(messageID)) AND state = \(MessageState.inFlight.sql) AND deliveries = \(sql.value(delivery))
            """
        }
        if returned.changed > 0 { return true }
        // Its lease ran out first and it is ready again, not claimed since: the attempt is given back.
        return try run { sql in
            """
            UPDATE messages SET attempt = attempt - 1
            WHERE id = \(sql.value(messageID)) AND state = \(MessageState.ready.sql) AND deliveries = \(sql.value(delivery)) AND attempt > 0
            """
        }.changed > 0
    }

    // MARK: Transitions at a claim

    mutating func deadLetterReady(messageID: Int64, at: Timestamp, reason: DeadLetterReason, error: String, fingerprint: String) throws -> Int {
        try run { sql in
            """
            UPDATE messages SET state = \(MessageState.dead.sql), dead_at = \(sql.value(at.micros)), reason = \(sql.value(reason.rawValue)),
                fingerprint = \(sql.value(fingerprint)), first_failed_at = coalesce(first_failed_at, \(sql.value(at.micros))),
                \(Self.appendError(sql, at: at, error: error))
            WHERE id = \(sql.value(messageID))
            RETURNING replays
            """
        }.rows.first?.int(0) ?? 0
    }

    mutating func countCause(_ cause: DeadLetterCause, by count: Int, failedAgain: Int, deadAt: Timestamp?) throws {
        try run { sql in
            """
            INSERT INTO dead_letter_causes AS c (queue, type, fingerprint, count, failed_again, first_dead_at, last_dead_at)
            VALUES (\(sql.value(cause.queue)), \(sql.value(cause.type)), \(sql.value(cause.fingerprint)), \(sql.value(count)), \(sql.value(failedAgain)),
                \(sql.value(deadAt?.micros ?? .max)), \(sql.value(deadAt?.micros ?? .min)))
            ON CONFLICT (queue, type, fingerprint) DO UPDATE SET count = c.count + excluded.count, failed_again = c.failed_again + excluded.failed_again,
                first_dead_at = least(c.first_dead_at, excluded.first_dead_at),
                last_dead_at = greatest(c.last_dead_at, excluded.last_dead_at)
            """
        }
        if deadAt == nil { removedCauses.insert(cause) }
        if let deadAt, count > 0 {
            let minute = deadAt.micros.floorDiv(60_000_000)
            try run { sql in
                """
                INSERT INTO dead_letter_arrivals AS a (queue, type, fingerprint, minute, count)
                VALUES (\(sql.value(cause.queue)), \(sql.value(cause.type)), \(sql.value(cause.fingerprint)), \(sql.value(minute)), \(sql.value(count)))
                ON CONFLICT (queue, type, fingerprint, minute) DO UPDATE SET count = a.count + excluded.count
                """
            }
            oldestArrival = max(oldestArrival ?? .min, minute - DeadLetterArrivals.keptMinutes)
        }
    }

    mutating func removeReady(messageID: Int64) throws {
        try run { "DELETE FROM messages WHERE id = \($0.value(messageID))" }
    }

    // MARK: The dead letters' text

    mutating func indexDeadLetterText(messageID: Int64) throws { textIndex.append((messageID, true)) }
    mutating func unindexDeadLetterText(messageID: Int64) throws { textIndex.append((messageID, false)) }
    /// Nothing is left stale here: a letter leaves the text table when it stops being dead.
    mutating func purgeStaleDeadLetterText(limit: Int) throws {}

    /// Writes the text of the letters that died (as the transaction left them) and deletes that of
    /// the letters that left the dead state, in order, once everything else is written.
    mutating func writeTextIndex() throws {
        for (messageID, index) in textIndex {
            if index {
                try run { sql in
                    let length = DeadLetterSelection.indexedTextLength
                    return """
                        INSERT INTO dead_letter_text (id, errors, payload)
                        SELECT m.id,
                            \(PostgresDeadLetterQuery.folded("substr((SELECT string_agg(a->>'error', E'\\n' ORDER BY n) FROM jsonb_array_elements(m.errors) WITH ORDINALITY AS x(a, n)), 1, \(length))")),
                            CASE WHEN e.data_kind IN (\(DataKind.json.rawValue), \(DataKind.text.rawValue))
                                THEN \(PostgresDeadLetterQuery.folded("substr(convert_from(e.data, 'UTF8'), 1, \(length))")) END
                        FROM messages m JOIN events e ON e.seq = m.event_seq WHERE m.id = \(sql.value(messageID))
                        ON CONFLICT (id) DO UPDATE SET errors = excluded.errors, payload = excluded.payload
                        """
                }
            } else {
                try run { "DELETE FROM dead_letter_text WHERE id = \($0.value(messageID))" }
            }
        }
        textIndex.removeAll()
    }

    // MARK: Batch windows and leases

    mutating func releaseHeld(queue: String, at: Timestamp) throws -> [(messageID: Int64, eventSeq: Int64)] {
        let released = try run { sql in
            """
            UPDATE messages SET state = \(MessageState.ready.sql), ready_at = \(sql.value(at.micros))
            WHERE queue = \(sql.value(queue)) AND state = \(MessageState.held.sql)
            RETURNING id, event_seq
            """
        }.rows
        madeReady = madeReady || !released.isEmpty
        return released.map { (messageID: $0.int64(0), eventSeq: $0.int64(1)) }.sorted { $0.messageID < $1.messageID }
    }

    mutating func expiredLeases(queue: String, now: Timestamp) throws -> [ExpiredLease] {
        try run { sql in
            """
            SELECT \(ExpiredLease.columns) FROM messages
            WHERE queue = \(sql.value(queue)) AND state = \(MessageState.inFlight.sql) AND ready_at <= \(sql.value(now.micros))
            ORDER BY id
            """
        }.rows.map(ExpiredLease.init(row:))
    }

    mutating func leases(heldBy node: Int64) throws -> [ExpiredLease] {
        // Along `messages_by_queue_state`: the in-flight range of each queue that ever had a message.
        try run { sql in
            """
            SELECT \(ExpiredLease.columns) FROM messages
            WHERE queue = ANY (SELECT queue FROM queue_counters) AND state = \(MessageState.inFlight.sql) AND claimed_by = \(sql.value(node))
            ORDER BY id
            """
        }.rows.map(ExpiredLease.init(row:))
    }

    mutating func returnExpired(messageID: Int64, at: Timestamp, error: String) throws {
        madeReady = true
        try run { sql in
            """
            UPDATE messages SET state = \(MessageState.ready.sql), ready_at = \(sql.value(at.micros)),
                first_failed_at = coalesce(first_failed_at, \(sql.value(at.micros))), \(Self.appendError(sql, at: at, error: error))
            WHERE id = \(sql.value(messageID))
            """
        }
    }

    // MARK: Dead letters

    mutating func selectDeadLetters(_ selection: DeadLetterSelection, limit: Int?) throws -> [SelectedDeadLetter] {
        let sql = PostgresSQL()
        let conditions = try PostgresDeadLetterQuery.conditions(selection, sql)
        let text = """
            SELECT m.id, m.queue, m.attempt, m.event_seq, e.type, m.fingerprint, m.replays, jsonb_array_length(m.errors)
            FROM messages m JOIN events e ON e.seq = m.event_seq
            WHERE \(conditions) ORDER BY m.dead_at, m.id LIMIT \(sql.value(limit.map { max($0, 0) }))
            """
        return try session.query(text, bindings: sql.binder).rows.map { row in
            let queue = row.string(1) ?? ""
            return SelectedDeadLetter(
                messageID: row.int64(0), queue: queue, attempt: row.int(2), eventSeq: row.int64(3),
                cause: DeadLetterCause(queue: queue, type: row.string(4) ?? "", fingerprint: row.string(5) ?? ""), replays: row.int(6),
                errorCount: row.int(7))
        }
    }

    mutating func redrive(messageID: Int64, to queue: String, at: Timestamp) throws -> Bool {
        madeReady = true
        return try run { sql in
            """
            UPDATE messages SET state = \(MessageState.ready.sql), queue = \(sql.value(queue)), ready_at = \(sql.value(at.micros)),
                enqueued_at = \(sql.value(at.micros)), attempt = 0, dead_at = NULL, reason = NULL, replays = replays + 1
            WHERE id = \(sql.value(messageID)) AND state = \(MessageState.dead.sql)
            """
        }.changed > 0
    }

    mutating func deleteDeadLetter(messageID: Int64) throws -> Bool {
        try run { "DELETE FROM messages WHERE id = \($0.value(messageID)) AND state = \(MessageState.dead.sql)" }.changed > 0
    }

    mutating func event(seq: Int64) throws -> CloudEvent? {
        if let event = rows.event(seq: seq) { return event }
        return try run { "SELECT \(EventColumn.list("e")) FROM events e WHERE e.seq = \($0.value(seq))" }
            .rows.first.map { EventRow.decode($0.columns(EventColumn.self)) }
    }

    mutating func redriveEdited(messageID: Int64, eventSeq: Int64, replays: Int, newSeq: Int64, at: Timestamp) throws -> Bool {
        madeReady = true
        return try run { sql in
            """
            UPDATE messages SET state = \(MessageState.ready.sql), event_seq = \(sql.value(newSeq)), ready_at = \(sql.value(at.micros)),
                enqueued_at = \(sql.value(at.micros)), attempt = 0, dead_at = NULL, reason = NULL, replays = replays + 1
            WHERE id = \(sql.value(messageID)) AND state = \(MessageState.dead.sql) AND event_seq = \(sql.value(eventSeq)) AND replays = \(sql.value(replays))
            """
        }.changed > 0
    }

    mutating func appendAudit(_ record: AuditRecord) throws {
        try run { sql in
            """
            INSERT INTO audit (at, actor, action, detail, count)
            VALUES (\(sql.value(record.at.micros)), \(sql.value(record.actor.description)), \(sql.value(record.action.rawValue)),
                \(sql.value(record.detail)), \(sql.value(record.count)))
            """
        }
    }

    // MARK: The rest of a tick

    /// Nothing when no event was waiting at the lock (this transaction's own are not written yet).
    mutating func fetchUnrouted(limit: Int) throws -> [(seq: Int64, event: CloudEvent)] {
        guard start.unrouted else { return [] }
        return try run { "SELECT \(EventColumn.list("e")) FROM events e WHERE routed = 0 ORDER BY seq LIMIT \($0.value(limit))" }.rows.map { row in
            let columns = row.columns(EventColumn.self)
            return (columns.int64(.seq), EventRow.decode(columns))
        }
    }

    mutating func routingGeneration() throws -> Int64 {
        if let generation = start.generation { return generation }
        return try run { _ in "SELECT generation FROM routing_generation" }.rows.first?.int64(0) ?? 0
    }

    /// The rules or the live runtimes changed: the generation read with the lock is stale.
    private mutating func bumpRoutingGeneration() throws {
        try run { _ in "UPDATE routing_generation SET generation = generation + 1" }
        start.generation = nil
    }

    mutating func declaredRouting() throws -> DeclaredRouting {
        var runtimes: [String: DeclaredRouting.Rules] = [:]
        for row in try run({ _ in "SELECT runtime, name, pattern, targets FROM rules ORDER BY runtime, name" }).rows {
            let name = row.string(0) ?? ""
            let targets = (row.string(3) ?? "").split(separator: ",").map(String.init)
            runtimes[name, default: DeclaredRouting.Rules(runtime: name, heartbeatAt: nil, rules: [])].rules
                .append(DeclaredRouting.Rule(name: row.string(1) ?? "", pattern: row.string(2) ?? "", targets: targets))
        }
        for row in try run({ _ in "SELECT name, max(heartbeat_at) FROM runtimes WHERE stopped_at IS NULL GROUP BY name" }).rows {
            runtimes[row.string(0) ?? ""]?.heartbeatAt = row.optionalInt64(1).map(Timestamp.init(micros:))
        }
        var queues: [String: DeclaredRouting.QueueRouting] = [:]
        for row in try run({ _ in "SELECT name, window_us, deduplicate_us FROM queues" }).rows {
            queues[row.string(0) ?? ""] = DeclaredRouting.QueueRouting(
                held: row.optionalInt64(1) != nil, deduplicate: row.optionalInt64(2).map { Duration.microseconds($0) })
        }
        return DeclaredRouting(generation: try routingGeneration(), runtimes: runtimes.values.sorted { $0.runtime < $1.runtime }, queues: queues)
    }

    mutating func insertCPUSamples(_ samples: [CPUSample]) throws {
        guard !samples.isEmpty else { return }
        var seq = try run { _ in "SELECT seq + count FROM cpu_ticks ORDER BY seq DESC LIMIT 1" }.rows.first?.int64(0) ?? 0
        for run in CPUTick.runs(samples) {
            let (scopes, encoded) = CPUTick.encode(run)
            try session.query("INSERT INTO cpu_ticks (at, seq, count, scopes, samples) VALUES ($1, $2, $3, $4, $5)") {
                $0.bind(run.first!.time.micros)
                $0.bind(seq)
                $0.bind(run.count)
                $0.bind(scopes)
                $0.bind(encoded)
            }
            seq += Int64(run.count)
        }
    }

    mutating func pruneCPUSamples(before: Timestamp, keep: Int) throws {
        try run { "DELETE FROM cpu_ticks WHERE at < \($0.value(before.micros))" }
        // Then the oldest rows until the newest `keep` samples at most are left (whole ticks), as on SQLite.
        try run { sql in
            """
            DELETE FROM cpu_ticks WHERE seq < (SELECT seq + count FROM cpu_ticks ORDER BY seq DESC LIMIT 1) - \(sql.value(max(keep, 0)))
            """
        }
    }

    mutating func upsertRuntime(_ runtime: RuntimeInfo) throws {
        try run { sql in
            """
            INSERT INTO runtimes (name, pid, host, store, started_at, heartbeat_at, stopped_at, done, done_rate)
            VALUES (\(sql.value(runtime.name)), \(sql.value(Int64(runtime.pid))), \(sql.value(runtime.host)), \(sql.value(runtime.store)),
                \(sql.value(runtime.startedAt.micros)), \(sql.value(runtime.heartbeatAt.micros)), NULL, \(sql.value(runtime.throughput?.done ?? 0)),
                \(sql.value(runtime.doneRate)))
            ON CONFLICT (name, host, pid) DO UPDATE SET store = excluded.store, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
                stopped_at = NULL, done = excluded.done, done_rate = excluded.done_rate
            """
        }
    }

    mutating func runtimes() throws -> [RuntimeInfo] {
        try run { _ in RuntimeInfo.listQuery }.rows.map(RuntimeInfo.init(row:))
    }

    /// The insert of `rows` whatever their number: each column is bound as one array and the
    /// rows are `unnest`ed from them, so binding costs a value per column, not per cell (a
    /// multi-row `VALUES` of a thousand rows took a fresh parse and plan of twelve thousand
    /// parameters per tick). Nil when there are none.
    private static func insertion<Row: BatchRow>(_ rows: [Row], _ sql: PostgresSQL) -> String? {
        guard !rows.isEmpty else { return nil }
        let columns = Row.columns
        let arrays = columns.map { _ in PostgresColumnArray() }
        for row in rows {
            for (index, column) in columns.enumerated() { row.bind(column, to: arrays[index]) }
        }
        return "INSERT INTO \(Row.table) (\(columns.map(\.sql).joined(separator: ", "))) SELECT * FROM unnest(\(arrays.map(sql.value).joined(separator: ", ")))"
    }

    /// Writes what the transaction buffered and the counters it kept: every tick's writes are one
    /// statement (each a data-modifying `WITH`; they touch different tables, so the order they
    /// run in does not matter), one round trip under the write lock instead of up to seven.
    mutating func finish(counters: [String: QueueCounters], backlog: [String: BacklogChange], at now: Timestamp) throws {
        let sql = PostgresSQL()
        // The high-water mark of message ids, so none is assigned twice after the newest is gone.
        let highWater = rows.messages.map(\.id).max().map { "UPDATE id_high_water SET message = greatest(message, \(sql.value($0)))" }
        var writes = [Self.insertion(rows.events, sql), highWater, Self.insertion(rows.messages, sql), Self.insertion(rows.log, sql)].compactMap { $0 }
        if !counters.isEmpty {
            let deltas = counters.sorted { $0.key < $1.key }
            func column(_ value: (QueueCounters) -> Int64) -> [Int64] { deltas.map { value($0.value) } }
            writes.append("""
                INSERT INTO queue_counters AS c (queue, enqueued, claimed, succeeded, failed, retried, dead_lettered, duplicates, lease_expired)
                SELECT * FROM unnest(\(sql.value(deltas.map(\.key))), \(sql.value(column(\.enqueued))), \(sql.value(column(\.claimed))),
                    \(sql.value(column(\.succeeded))), \(sql.value(column(\.failed))), \(sql.value(column(\.retried))),
                    \(sql.value(column(\.deadLettered))), \(sql.value(column(\.duplicates))), \(sql.value(column(\.leaseExpired))))
                ON CONFLICT (queue) DO UPDATE SET enqueued = c.enqueued + excluded.enqueued, claimed = c.claimed + excluded.claimed,
                    succeeded = c.succeeded + excluded.succeeded, failed = c.failed + excluded.failed,
                    retried = c.retried + excluded.retried, dead_lettered = c.dead_lettered + excluded.dead_lettered,
                    duplicates = c.duplicates + excluded.duplicates, lease_expired = c.lease_expired + excluded.lease_expired
                """)
        }
        let second = now.micros.floorDiv(1_000_000)
        let changes = backlog.sorted { $0.key < $1.key }
        if !changes.isEmpty {
            func column(_ value: (BacklogChange) -> Int) -> [Int64] { changes.map { Int64(value($0.value)) } }
            writes.append("""
                INSERT INTO queue_seconds AS s (queue, second, enqueued, held, released, done)
                SELECT q, \(sql.value(second)), e, h, r, d FROM unnest(\(sql.value(changes.map(\.key))), \(sql.value(column(\.enqueued))),
                    \(sql.value(column(\.held))), \(sql.value(column(\.released))), \(sql.value(column(\.done)))) AS c(q, e, h, r, d)
                ON CONFLICT (queue, second) DO UPDATE SET enqueued = s.enqueued + excluded.enqueued, held = s.held + excluded.held,
                    released = s.released + excluded.released, done = s.done + excluded.done
                """)
        }
        // New work wakes the other nodes and dashboards (delivered when this transaction commits),
        // at most once per `PostgresWriter.notifyEvery`: a commit that notifies takes the server's
        // notification lock, and every notification wakes every listener. Work made meanwhile is
        // owed a notification, sent by this writer's next transaction once the interval is over
        // (a runtime's engine writes at least every poll).
        if !rows.events.isEmpty || !rows.messages.isEmpty || madeReady { writer.notifyOwed = true }
        madeReady = false
        let clock = Monotonic.micros
        var notify: String?
        if writer.notifyOwed, clock - writer.lastNotify >= PostgresWriter.notifyEvery.micros {
            notify = "pg_notify('\(PostgresStore.workChannel)', \(sql.value(token)))"
        }
        if !writes.isEmpty || notify != nil {
            let with = writes.isEmpty ? "" : "WITH " + writes.enumerated().map { "w\($0.offset) AS (\($0.element))" }.joined(separator: ",\n") + "\n"
            try session.query(with + "SELECT " + (notify ?? "1"), bindings: sql.binder)
        }
        if notify != nil {
            writer.lastNotify = clock
            writer.notifyOwed = false
        }
        rows.written()
        for (queue, change) in changes { writer.latencies.stage(queue: queue, second: second, change) }
        for cause in removedCauses {
            try run { sql in
                let (queue, type, fingerprint) = (sql.value(cause.queue), sql.value(cause.type), sql.value(cause.fingerprint))
                let oldest = """
                    SELECT m.dead_at FROM messages m JOIN events e ON e.seq = m.event_seq
                    WHERE m.state = \(MessageState.dead.sql) AND m.queue = \(queue) AND m.fingerprint = \(fingerprint) AND e.type = \(type) ORDER BY m.dead_at
                    """
                return """
                    WITH gone AS (DELETE FROM dead_letter_causes WHERE queue = \(queue) AND type = \(type) AND fingerprint = \(fingerprint) AND count <= 0)
                    UPDATE dead_letter_causes SET first_dead_at = coalesce((\(oldest) LIMIT 1), first_dead_at),
                        last_dead_at = coalesce((\(oldest) DESC LIMIT 1), last_dead_at)
                    WHERE queue = \(queue) AND type = \(type) AND fingerprint = \(fingerprint) AND count > 0
                    """
            }
        }
        removedCauses.removeAll()
        if let oldestArrival {
            try run { "DELETE FROM dead_letter_arrivals WHERE minute < \($0.value(oldestArrival))" }
            self.oldestArrival = nil
        }
        try writeLatencies(before: second)
        if second > writer.prunedSecond {
            writer.prunedSecond = second
            try run { "DELETE FROM queue_seconds WHERE second < \($0.value(second - QueueSecond.kept.micros / 1_000_000))" }
        }
    }

    /// Adds the committed latencies of the seconds before `second` to their rows (merged here:
    /// the row is read and written under the write lock).
    mutating func writeLatencies(before second: Int64) throws {
        for (key, tallies) in writer.latencies.due(before: second) {
            let row = try run { sql in
                "SELECT latency, flow_latency FROM queue_seconds WHERE queue = \(sql.value(key.queue)) AND second = \(sql.value(key.second))"
            }.rows.first
            func merged(_ stored: Data?, _ tally: LatencyBuckets.Tally) -> Data? {
                let buckets = LatencyBuckets.merged(LatencyBuckets(encoded: stored ?? Data()), tally.buckets)
                return buckets.isEmpty ? nil : buckets.encoded
            }
            let latency = merged(row?.data(0), tallies.latency)
            let flow = merged(row?.data(1), tallies.flowLatency)
            try session.query("""
                INSERT INTO queue_seconds AS s (queue, second, enqueued, held, released, done, latency, flow_latency) VALUES ($1, $2, 0, 0, 0, 0, $3, $4)
                ON CONFLICT (queue, second) DO UPDATE SET latency = excluded.latency, flow_latency = excluded.flow_latency
                """) {
                $0.bind(key.queue)
                $0.bind(key.second)
                $0.bind(latency)
                $0.bind(flow)
            }
        }
    }

    // MARK: Registration

    mutating func declare(queues: [QueueSpec], rules: [Rule], runtime: RuntimeInfo) throws {
        for queue in queues {
            var window: Int64?
            if case .batch(let every) = queue.mode { window = every.micros }
            try run { sql in
                """
                INSERT INTO queues (name, mode, window_us, concurrency, visibility_timeout_us, max_attempts, backoff_base_us, backoff_cap_us,
                    max_age_us, dead_letter, runtime, declared_at, deduplicate_us)
                VALUES (\(sql.value(queue.name)), \(sql.value(queue.mode.description)), \(sql.value(window)), \(sql.value(queue.concurrency)),
                    \(sql.value(queue.visibilityTimeout.micros)), \(sql.value(queue.maxAttempts)), \(sql.value(queue.backoff.base.micros)),
                    \(sql.value(queue.backoff.cap.micros)), \(sql.value(queue.maxAge?.micros)), \(sql.value(queue.deadLetter ? 1 : 0)),
                    \(sql.value(runtime.name)), \(sql.value(runtime.startedAt.micros)), \(sql.value(queue.deduplicate?.micros)))
                ON CONFLICT (name) DO UPDATE SET mode = excluded.mode, window_us = excluded.window_us, concurrency = excluded.concurrency,
                    visibility_timeout_us = excluded.visibility_timeout_us, max_attempts = excluded.max_attempts,
                    backoff_base_us = excluded.backoff_base_us, backoff_cap_us = excluded.backoff_cap_us, max_age_us = excluded.max_age_us,
                    dead_letter = excluded.dead_letter, runtime = excluded.runtime, declared_at = excluded.declared_at,
                    deduplicate_us = excluded.deduplicate_us
                """
            }
            try run { "INSERT INTO queue_counters (queue) VALUES (\($0.value(queue.name))) ON CONFLICT DO NOTHING" }
        }
        try run { "DELETE FROM rules WHERE runtime = \($0.value(runtime.name))" }
        for rule in rules {
            try run { sql in
                """
                INSERT INTO rules (runtime, name, pattern, targets)
                VALUES (\(sql.value(runtime.name)), \(sql.value(rule.name)), \(sql.value(rule.pattern.source)), \(sql.value(rule.targets.joined(separator: ","))))
                """
            }
        }
        try bumpRoutingGeneration()
        try upsertRuntime(runtime)
        try run { sql in
            """
            DELETE FROM runtimes WHERE (name, host, pid) IN (
                SELECT name, host, pid FROM runtimes WHERE name = \(sql.value(runtime.name)) AND stopped_at IS NOT NULL
                ORDER BY stopped_at DESC OFFSET 10)
            """
        }
    }

    mutating func markStopped(runtime: RuntimeInfo, at time: Timestamp) throws {
        try run { sql in
            """
            UPDATE runtimes SET stopped_at = \(sql.value(time.micros)), heartbeat_at = greatest(heartbeat_at, \(sql.value(time.micros)))
            WHERE name = \(sql.value(runtime.name)) AND host = \(sql.value(runtime.host)) AND pid = \(sql.value(Int64(runtime.pid)))
            """
        }
        try bumpRoutingGeneration()
    }
}
