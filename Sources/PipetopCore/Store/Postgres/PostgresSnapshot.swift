import Foundation

/// One consistent state of a PostgreSQL store: a `REPEATABLE READ READ ONLY` transaction
/// (`PostgresStore.read`). The reads are `SQLiteSnapshot`'s, on the same tables and indexes.
struct PostgresSnapshot: StoreSnapshot, LogQueryReader {
    let session: PostgresSession

    @discardableResult
    private func run(_ build: (PostgresSQL) -> String) throws -> [PostgresRowReader] { try session.run(build).rows }

    private static func records(_ rows: [PostgresRowReader]) -> [LifecycleRecord] {
        var records: [LifecycleRecord] = []
        for row in rows { RecordQuery.decode(row, into: &records) }
        return records
    }

    /// Records from rows, those not `wanted` left out, until `limit` are in.
    private static func records(_ rows: [PostgresRowReader], limit: Int, wanted: (Int64) -> Bool) -> [LifecycleRecord] {
        var records: [LifecycleRecord] = []
        var row: [LifecycleRecord] = []
        for stored in rows where records.count < limit {
            row.removeAll(keepingCapacity: true)
            RecordQuery.decode(stored, into: &row)
            for record in row where wanted(record.seq) { records.append(record) }
        }
        return records
    }

    func publishedTotal() throws -> Int64 {
        try run { _ in "SELECT coalesce(max(seq), 0) FROM events" }.first?.int64(0) ?? 0
    }

    /// A row holds one to several records, so `limit` rows always hold `limit` records or more.
    func tail(after seq: Int64, limit: Int) throws -> [LifecycleRecord] {
        guard limit > 0 else { return [] }
        let rows = try run { sql in
            "SELECT \(RecordQuery.select) FROM \(RecordQuery.from) WHERE l.seq >= \(sql.value(LogPosition.row(of: seq))) ORDER BY l.seq LIMIT \(sql.value(limit + 1))"
        }
        return Array(Self.records(rows, limit: limit, wanted: { $0 > seq }).prefix(limit))
    }

    func history(before seq: Int64, limit: Int) throws -> [LifecycleRecord] {
        guard seq > 1, limit > 0 else { return [] }
        let rows = try run { sql in
            "SELECT \(RecordQuery.select) FROM \(RecordQuery.from) WHERE l.seq <= \(sql.value(LogPosition.row(of: seq - 1))) ORDER BY l.seq DESC LIMIT \(sql.value(limit + 1))"
        }
        return Array(SQLiteSnapshot.newestFirst(Self.records(rows, limit: limit, wanted: { $0 < seq })).prefix(limit))
    }

    func trace(correlationID: String) throws -> [LifecycleRecord] {
        Self.records(try run { sql in
            let id = sql.value(correlationID)
            return """
                SELECT \(RecordQuery.select) FROM \(RecordQuery.from) WHERE l.seq IN (SELECT log_seq FROM events WHERE correlation_id = \(id))
                UNION ALL
                SELECT \(RecordQuery.select) FROM \(RecordQuery.from) WHERE l.event_seq IN (SELECT seq FROM events WHERE correlation_id = \(id))
                    AND l.\(LogColumn.laterRows)
                ORDER BY 1
                """
        })
    }

    func logTotal() throws -> Int64 {
        try run { _ in "SELECT coalesce(\(LogColumn.recordCount), 0)::bigint FROM log" }.first?.int64(0) ?? 0
    }

    func queueStats(now: Timestamp) throws -> [QueueStats] {
        var stats: [String: QueueStats] = [:]
        for row in try run({ _ in QueueStats.declaredQuery }) {
            let queue = QueueStats(declared: row)
            stats[queue.name] = queue
        }
        // Live messages by queue and state, along `messages_by_queue_state` (one grouped read:
        // PostgreSQL's planner walks the index once for all of them).
        let live = try run { sql in
            let now = sql.value(now.micros)
            return """
                SELECT queue, state, count(*), count(*) FILTER (WHERE ready_at > \(now)), min(enqueued_at),
                    count(*) FILTER (WHERE (state = \(MessageState.ready.sql) AND attempt >= 1) OR (state = \(MessageState.inFlight.sql) AND attempt >= 2))
                FROM messages WHERE state IN (\(MessageState.live.map(\.sql).joined(separator: ", "))) GROUP BY queue, state
                """
        }
        var touched = Set<String>()
        for row in live {
            let name = row.string(0) ?? ""
            guard let state = MessageState(rawValue: row.int(1)) else { continue }
            var queue = stats[name] ?? .undeclared(name)
            queue.add(live: state, count: row.int(2), later: row.int(3), oldest: row.optionalInt64(4).map(Timestamp.init(micros:)), poison: row.int(5))
            stats[name] = queue
            touched.insert(name)
        }
        for name in touched {
            stats[name]!.lagSeconds = stats[name]!.oldestEnqueuedAt.map { max(0, (now - $0).secondsDouble) } ?? 0
        }
        for row in try run({ _ in "SELECT queue, sum(count)::bigint FROM dead_letter_causes GROUP BY queue HAVING sum(count) > 0" }) {
            let name = row.string(0) ?? ""
            stats[name, default: .undeclared(name)].dead = row.int(1)
        }
        return stats.values.sorted { $0.name < $1.name }
    }

    func queueSeconds(since: Timestamp) throws -> [QueueSecond] {
        try run { sql in
            """
            SELECT s.queue, s.second, s.enqueued, s.held, s.released, s.done, s.latency, s.flow_latency
            FROM queue_counters c JOIN queue_seconds s ON s.queue = c.queue AND s.second >= \(sql.value(since.micros.floorDiv(1_000_000)))
            ORDER BY s.queue, s.second
            """
        }.map { row in
            QueueSecond(
                queue: row.string(0) ?? "", second: row.int64(1), enqueued: row.int(2), held: row.int(3), released: row.int(4), done: row.int(5),
                latency: LatencyBuckets(encoded: row.data(6) ?? Data()), flowLatency: LatencyBuckets(encoded: row.data(7) ?? Data()))
        }
    }

    func deadLetters(_ selection: DeadLetterSelection, page: PageRequest) throws -> Page<DeadLetter> {
        let sql = PostgresSQL()
        var conditions = try PostgresDeadLetterQuery.conditions(selection, sql)
        if let after = page.after { conditions += " AND (m.dead_at, m.id) < (\(sql.value(after.key)), \(sql.value(after.tiebreak)))" }
        let rows = try session.query("""
            SELECT \(MessageColumn.list("m")), \(EventColumn.list("e"))
            FROM messages m JOIN events e ON e.seq = m.event_seq
            WHERE \(conditions) ORDER BY m.dead_at DESC, m.id DESC LIMIT \(sql.value(page.limit + 1))
            """, bindings: sql.binder).rows
        let letters = rows.map { row in
            let message = row.columns(MessageColumn.self)
            return DeadLetter(
                messageID: message.int64(.id), queue: message.string(.queue) ?? "",
                event: EventRow.decode(row.columns(EventColumn.self, from: MessageColumn.count)),
                reason: message.string(.reason).flatMap(DeadLetterReason.init(rawValue:)) ?? .maxAttempts, attempts: message.int(.attempt),
                deliveries: message.int(.deliveries), errors: MessageColumn.errors(message), enqueuedAt: message.timestamp(.enqueuedAt),
                firstFailedAt: message.optionalTimestamp(.firstFailedAt), deadAt: message.timestamp(.deadAt),
                fingerprint: message.string(.fingerprint) ?? "", replays: message.int(.replays))
        }
        return SQLiteSnapshot.page(letters, limit: page.limit) { PageCursor(key: $0.deadAt.micros, tiebreak: $0.messageID) }
    }

    func deadLetterCount(_ selection: DeadLetterSelection) throws -> Int {
        if DeadLetterQuery.byCause(selection) { return try deadLetterGroups(selection).reduce(0) { $0 + $1.count } }
        let sql = PostgresSQL()
        let conditions = try PostgresDeadLetterQuery.conditions(selection, sql)
        let from = selection.type == nil ? "messages m" : "messages m JOIN events e ON e.seq = m.event_seq"
        return try session.query("SELECT count(*) FROM \(from) WHERE \(conditions)", bindings: sql.binder).rows.first?.int(0) ?? 0
    }

    func deadLetterGroups(_ selection: DeadLetterSelection) throws -> [DeadLetterGroup] {
        let rows: [PostgresRowReader]
        if DeadLetterQuery.byCause(selection) {
            rows = try run { sql in
                var conditions = ["count > 0"]
                if let queue = selection.queue { conditions.append("queue = \(sql.value(queue))") }
                if let type = selection.type { conditions.append("type = \(sql.value(type))") }
                if let fingerprint = selection.fingerprint { conditions.append("fingerprint = \(sql.value(fingerprint))") }
                return """
                    SELECT queue, type, fingerprint, count, first_dead_at, last_dead_at, failed_again
                    FROM dead_letter_causes WHERE \(conditions.joined(separator: " AND ")) ORDER BY count DESC, last_dead_at DESC
                    """
            }
        } else {
            let sql = PostgresSQL()
            let conditions = try PostgresDeadLetterQuery.conditions(selection, sql)
            rows = try session.query("""
                SELECT m.queue, e.type, m.fingerprint, count(*), min(m.dead_at), max(m.dead_at), count(*) FILTER (WHERE m.replays > 0)
                FROM messages m JOIN events e ON e.seq = m.event_seq
                WHERE \(conditions) GROUP BY m.queue, e.type, m.fingerprint ORDER BY count(*) DESC, max(m.dead_at) DESC
                """, bindings: sql.binder).rows
        }
        return rows.map { row in
            DeadLetterGroup(
                queue: row.string(0) ?? "", type: row.string(1) ?? "", fingerprint: row.string(2) ?? "", count: row.int(3),
                firstDeadAt: Timestamp(micros: row.int64(4)), lastDeadAt: Timestamp(micros: row.int64(5)), failedAgain: row.int(6))
        }
    }

    func messages(queue: String, state: MessageState, page: PageRequest) throws -> Page<MessageInfo> {
        let messages = try run { sql in
            let after = page.after.map { "AND (m.ready_at, m.id) > (\(sql.value($0.key)), \(sql.value($0.tiebreak)))" } ?? ""
            return """
                SELECT \(MessageColumn.list("m")), \(EventColumn.list("e"))
                FROM messages m JOIN events e ON e.seq = m.event_seq
                WHERE m.queue = \(sql.value(queue)) AND m.state = \(sql.value(state.rawValue)) \(after)
                ORDER BY m.ready_at, m.id LIMIT \(sql.value(page.limit + 1))
                """
        }.map { row in
            let message = row.columns(MessageColumn.self)
            return MessageInfo(
                id: message.int64(.id), queue: message.string(.queue) ?? "", state: MessageState(rawValue: message.int(.state)) ?? state,
                readyAt: message.timestamp(.readyAt), enqueuedAt: message.timestamp(.enqueuedAt), attempt: message.int(.attempt),
                deliveries: message.int(.deliveries), errors: MessageColumn.errors(message),
                event: EventRow.decode(row.columns(EventColumn.self, from: MessageColumn.count)))
        }
        return SQLiteSnapshot.page(messages, limit: page.limit) { PageCursor(key: $0.readyAt.micros, tiebreak: $0.id) }
    }

    func audit(page: PageRequest) throws -> Page<AuditRecord> {
        let records = try run { sql in
            let after = page.after.map { "WHERE seq < \(sql.value($0.key))" } ?? ""
            return "SELECT \(AuditColumn.list()) FROM audit \(after) ORDER BY seq DESC LIMIT \(sql.value(page.limit + 1))"
        }.map { row in
            let audit = row.columns(AuditColumn.self)
            let actor = audit.string(.actor) ?? ""
            return AuditRecord(
                seq: audit.int64(.seq), at: audit.timestamp(.at), actor: Operator(parsing: actor) ?? Operator(user: actor, host: ""),
                action: audit.string(.action).flatMap(AuditAction.init(rawValue:)) ?? .publish, detail: audit.string(.detail) ?? "",
                count: audit.int(.count))
        }
        return SQLiteSnapshot.page(records, limit: page.limit) { PageCursor(key: $0.seq, tiebreak: 0) }
    }

    func deadLetterArrivals(since: Timestamp) throws -> [DeadLetterArrivals] {
        try run { sql in
            "SELECT queue, type, fingerprint, minute, count FROM dead_letter_arrivals WHERE minute >= \(sql.value(since.micros / 60_000_000)) ORDER BY minute"
        }.map { row in
            DeadLetterArrivals(queue: row.string(0) ?? "", type: row.string(1) ?? "", fingerprint: row.string(2) ?? "",
                               minute: Timestamp(micros: row.int64(3) * 60_000_000), count: row.int(4))
        }
    }

    func replayJobs(page: PageRequest) throws -> Page<ReplayJob> {
        let jobs = try run { sql in
            let after = page.after.map { "WHERE id < \(sql.value($0.key))" } ?? ""
            return "SELECT * FROM replay_jobs \(after) ORDER BY id DESC LIMIT \(sql.value(page.limit + 1))"
        }.map(ReplayJob.init(postgres:))
        return SQLiteSnapshot.page(jobs, limit: page.limit) { PageCursor(key: $0.id, tiebreak: 0) }
    }

    func replayJob(id: Int64) throws -> ReplayJob? {
        try run { "SELECT * FROM replay_jobs WHERE id = \($0.value(id))" }.first.map(ReplayJob.init(postgres:))
    }

    func cpuSamples(since: Timestamp) throws -> [CPUSample] {
        var samples: [CPUSample] = []
        var decoder = CPUTick.Decoder()
        for row in try run({ "SELECT at, scopes, samples FROM cpu_ticks WHERE at >= \($0.value(since.micros)) ORDER BY at, seq" }) {
            let scopes = row.data(1) ?? Data(), values = row.data(2) ?? Data()
            scopes.withUnsafeBytes { scopes in
                values.withUnsafeBytes { values in
                    decoder.decode(at: Timestamp(micros: row.int64(0)), scopes: scopes, samples: values, into: &samples)
                }
            }
        }
        return samples
    }

    func cpuSampleCount() throws -> Int {
        try run { _ in "SELECT coalesce(sum(count), 0)::bigint FROM cpu_ticks" }.first?.int(0) ?? 0
    }

    /// As on SQLite: the rows of the span found by bisecting the primary key on `at`.
    func outcomes(from: Timestamp, to: Timestamp, limit: Int) throws -> [LifecycleRecord] {
        guard to > from, let bounds = try run({ _ in "SELECT min(seq), max(seq) FROM log" }).first,
              let first = bounds.optionalInt64(0), let last = bounds.optionalInt64(1) else { return [] }
        func firstRow(atOrAfter time: Timestamp) throws -> Int64 {
            var low = first, high = last + 1
            while low < high {
                let middle = low + (high - low) / 2
                let at = try run { "SELECT at FROM log WHERE seq >= \($0.value(middle)) ORDER BY seq LIMIT 1" }.first?.int64(0) ?? .max
                if at < time.micros { low = middle + 1 } else { high = middle }
            }
            return low
        }
        let lowRow = try firstRow(atOrAfter: from - SQLiteSnapshot.runMargin)
        let highRow = try firstRow(atOrAfter: to + SQLiteSnapshot.runMargin)
        guard highRow > lowRow else { return [] }
        var found: [LifecycleRecord] = []
        var row: [LifecycleRecord] = []
        for stored in try run({ sql in
            "SELECT \(RecordQuery.select) FROM \(RecordQuery.from) WHERE l.seq >= \(sql.value(lowRow)) AND l.seq < \(sql.value(highRow)) ORDER BY l.seq"
        }) where found.count < limit {
            row.removeAll(keepingCapacity: true)
            RecordQuery.decode(stored, into: &row)
            for record in row where SQLiteSnapshot.outcomeKinds.contains(record.kind) && record.queue != nil && record.time >= from && record.time < to {
                found.append(record)
            }
        }
        return Array(found.prefix(limit))
    }

    func runtimes() throws -> [RuntimeInfo] {
        try run { _ in RuntimeInfo.listQuery }.map(RuntimeInfo.init(row:))
    }

    func events(correlationID: String) throws -> [CloudEvent] {
        try run { "SELECT \(EventColumn.list("e")) FROM events e WHERE e.correlation_id = \($0.value(correlationID)) ORDER BY e.seq" }
            .map { EventRow.decode($0.columns(EventColumn.self)) }
    }

    func events(matching query: EventQuery, after seq: Int64, limit: Int) throws -> [StoredEvent] {
        try storedEvents(query, cursor: seq, forward: true, limit: limit)
    }

    func events(matching query: EventQuery, before seq: Int64, limit: Int) throws -> [StoredEvent] {
        try storedEvents(query, cursor: seq, forward: false, limit: limit)
    }

    private func storedEvents(_ query: EventQuery, cursor: Int64, forward: Bool, limit: Int) throws -> [StoredEvent] {
        try run { sql in
            var conditions = [forward ? "e.seq > \(sql.value(cursor))" : "e.seq < \(sql.value(cursor))"]
            if let value = query.correlationID { conditions.append("e.correlation_id = \(sql.value(value))") }
            if let value = query.id { conditions.append("e.id = \(sql.value(value))") }
            if let value = query.source { conditions.append("e.source = \(sql.value(value))") }
            if let value = query.type { conditions.append("e.type = \(sql.value(value))") }
            if let value = query.publishedSince { conditions.append("e.published_at >= \(sql.value(value.micros))") }
            if let value = query.publishedUntil { conditions.append("e.published_at < \(sql.value(value.micros))") }
            return """
                SELECT \(EventColumn.list("e")) FROM events e
                WHERE \(conditions.joined(separator: " AND ")) ORDER BY e.seq \(forward ? "ASC" : "DESC") LIMIT \(sql.value(limit))
                """
        }.map { row in
            let columns = row.columns(EventColumn.self)
            return StoredEvent(seq: columns.int64(.seq), publishedAt: columns.timestamp(.publishedAt), event: EventRow.decode(columns))
        }
    }

    // MARK: LogQueryReader

    var dialect: SQLDialect { .postgres }

    func newestLogRow() throws -> Int64 {
        try run { _ in "SELECT coalesce(max(seq), 0) FROM log" }.first?.int64(0) ?? 0
    }

    func count(_ sql: String, _ parameters: SQLParameters) throws -> Int {
        try session.query(sql) { parameters.bind($0) }.rows.first?.int(0) ?? 0
    }

    /// Through a cursor of the snapshot's transaction, fetched in growing batches: a span can
    /// hold a million rows while the caller stops after a page (postgres-nio would hold every row
    /// of a plain query's result at once).
    func read(_ statement: LogStatement, _ row: (any ColumnReader) throws -> Bool) throws {
        try session.query("DECLARE pipetop_log NO SCROLL CURSOR FOR \(statement.sql)") { statement.parameters.bind($0) }
        defer { try? session.execute("CLOSE pipetop_log") }
        var batch = 128
        while true {
            let rows = try session.query("FETCH FORWARD \(batch) FROM pipetop_log").rows
            for stored in rows where try !row(stored) { return }
            if rows.count < batch { return }
            batch = min(batch * 4, 8192)
        }
    }
}
