import Foundation
import GRDB

extension SQLiteStore {
    /// A log row with its event's id, type and correlation (stored once, in `events`).
    static let logColumns = "l.seq, l.at, l.kind, e.id, e.type, e.correlation_id, l.queue, l.message_id, l.attempt, l.duration_us, l.error, l.detail"
    static let logFrom = "log l JOIN events e ON e.seq = l.event_seq"

    /// Decodes the current row of a `logColumns` query.
    static func decodeRecord(_ row: RawStatement) -> LifecycleRecord {
        LifecycleRecord(
            seq: row.int64(0), time: Timestamp(micros: row.int64(1)), kind: row.string(2).flatMap(LifecycleKind.init(rawValue:)) ?? .failed,
            eventID: row.string(3) ?? "", eventType: row.string(4), correlationID: row.string(5), queue: row.string(6),
            messageID: row.optionalInt64(7), attempt: row.optionalInt64(8).map { Int($0) },
            duration: row.optionalInt64(9).map { .microseconds($0) }, error: row.string(10), detail: row.string(11))
    }

    /// Runs `body` in a read transaction: the enclosing one inside `consistentRead`, so that
    /// several reads see one state of the store, or a new one.
    private func read<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.unsafeReentrantRead { db in
            if db.isInsideTransaction { return try body(db) }
            var value: T?
            try db.inTransaction(.deferred) {
                value = try body(db)
                return .commit
            }
            return value!
        }
    }

    public func consistentRead<T>(_ body: () throws -> T) throws -> T {
        try pool.read { _ in try body() }
    }

    /// Log records of one query, read through the C API: the dashboard follows the log with these,
    /// and GRDB's `Row` costs more per row than the join itself (measured with pipetop-bench).
    private func records(_ sql: String, _ bind: (RawStatement) -> Void) throws -> [LifecycleRecord] {
        try read { db in
            let query = try RawStatement(cached: db.cachedStatement(sql: sql), in: db)
            bind(query)
            var records: [LifecycleRecord] = []
            try query.query { records.append(Self.decodeRecord($0)) }
            return records
        }
    }

    public func publishedTotal() throws -> Int64 {
        // Events are never deleted, so the last seq is the count, in O(1).
        try read { try Int64.fetchOne($0, sql: "SELECT coalesce(max(seq), 0) FROM events") ?? 0 }
    }

    public func tail(after seq: Int64, limit: Int) throws -> [LifecycleRecord] {
        try records("SELECT \(Self.logColumns) FROM \(Self.logFrom) WHERE l.seq > ? ORDER BY l.seq LIMIT ?") {
            $0.bind(seq)
            $0.bind(limit)
        }
    }

    public func history(before seq: Int64, limit: Int) throws -> [LifecycleRecord] {
        try records("SELECT \(Self.logColumns) FROM \(Self.logFrom) WHERE l.seq < ? ORDER BY l.seq DESC LIMIT ?") {
            $0.bind(seq)
            $0.bind(limit)
        }
    }

    public func trace(correlationID: String) throws -> [LifecycleRecord] {
        try records("""
            SELECT \(Self.logColumns) FROM \(Self.logFrom)
            WHERE l.event_seq IN (SELECT seq FROM events WHERE correlation_id = ?) ORDER BY l.seq
            """) { $0.bind(correlationID) }
    }

    public func queueStats(now: Timestamp) throws -> [QueueStats] {
        try read { db in
            var stats: [String: QueueStats] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT q.name, q.mode, q.concurrency, q.max_attempts, c.enqueued, c.succeeded, c.failed, c.retried, c.dead_lettered,
                    c.duplicates
                FROM queues q LEFT JOIN queue_counters c ON c.queue = q.name
                """) {
                var queue = QueueStats(name: row[0], mode: row[1], concurrency: row[2], maxAttempts: row[3])
                queue.enqueued = row[4] ?? 0
                queue.succeeded = row[5] ?? 0
                queue.failed = row[6] ?? 0
                queue.retried = row[7] ?? 0
                queue.deadLettered = row[8] ?? 0
                queue.duplicates = row[9] ?? 0
                stats[queue.name] = queue
            }
            // Live messages: the (queue, state, ready_at) index covers all but the poison count.
            for row in try Row.fetchAll(db, sql: """
                SELECT queue, state, count(*), min(CASE WHEN ready_at <= ?1 THEN ready_at END), sum(ready_at > ?1),
                    sum(CASE WHEN state = 1 THEN attempt >= 1 WHEN state = 2 THEN attempt >= 2 ELSE 0 END)
                FROM messages WHERE state IN (0, 1, 2) GROUP BY queue, state
                """, arguments: [now]) {
                let name: String = row[0]
                var queue = stats[name] ?? QueueStats(name: name, mode: "?", concurrency: 0, maxAttempts: 0)
                let count: Int = row[2]
                queue.poison += row[5] ?? 0
                switch SQLiteSchema.State(rawValue: row[1]) {
                case .held: queue.held = count
                case .ready:
                    let later: Int = row[4] ?? 0
                    queue.scheduled = later
                    queue.ready = count - later
                    if let oldest = row[3] as Int64? { queue.lagSeconds = max(0, Double(now.micros - oldest) / 1_000_000) }
                case .inFlight: queue.inFlight = count
                default: break
                }
                stats[name] = queue
            }
            for row in try Row.fetchAll(db, sql: "SELECT queue, count(*) FROM messages WHERE state = 3 GROUP BY queue") {
                let name: String = row[0]
                stats[name, default: QueueStats(name: name, mode: "?", concurrency: 0, maxAttempts: 0)].dead = row[1]
            }
            return stats.values.sorted { $0.name < $1.name }
        }
    }

    public func deadLetters(queue: String?, limit: Int) throws -> [DeadLetter] {
        try read { db in
            let query = try RawStatement(cached: db.cachedStatement(sql: """
                SELECT m.id, m.queue, m.reason, m.attempt, m.deliveries, m.errors, m.enqueued_at, m.first_failed_at, m.dead_at, \(EventColumns.list)
                FROM messages m JOIN events e ON e.seq = m.event_seq
                WHERE m.state = 3 \(queue == nil ? "" : "AND m.queue = ?") ORDER BY m.dead_at DESC LIMIT ?
                """), in: db)
            if let queue { query.bind(queue) }
            query.bind(limit)
            var letters: [DeadLetter] = []
            try query.query { row in
                let errors = (try? JSONDecoder().decode([AttemptError].self, from: Data((row.string(5) ?? "[]").utf8))) ?? []
                letters.append(DeadLetter(
                    messageID: row.int64(0), queue: row.string(1) ?? "", event: EventColumns.decode(row, at: 9),
                    reason: row.string(2).flatMap(DeadLetterReason.init(rawValue:)) ?? .maxAttempts, attempts: row.int(3),
                    deliveries: row.int(4), errors: errors, enqueuedAt: Timestamp(micros: row.int64(6)),
                    firstFailedAt: row.optionalInt64(7).map(Timestamp.init(micros:)), deadAt: Timestamp(micros: row.int64(8))))
            }
            return letters
        }
    }

    public func cpuSamples(since: Timestamp) throws -> [CPUSample] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT at, scope, interval_us, cpu_us, busy_us, runs, capacity FROM cpu_samples WHERE at >= ? ORDER BY at
                """, arguments: [since]).map { row in
                CPUSample(
                    time: row[0], scope: row[1], interval: .microseconds(row[2] as Int64), cpu: .microseconds(row[3] as Int64),
                    busy: .microseconds(row[4] as Int64), runs: row[5], capacity: row[6])
            }
        }
    }

    public func runtimes() throws -> [RuntimeInfo] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT name, pid, host, store, started_at, heartbeat_at, stopped_at FROM runtimes ORDER BY name").map { row in
                RuntimeInfo(name: row[0], pid: row[1], host: row[2], store: row[3], startedAt: row[4], heartbeatAt: row[5], stoppedAt: row[6])
            }
        }
    }

    public func events(correlationID: String) throws -> [CloudEvent] {
        try read { db in
            let query = try RawStatement(
                cached: db.cachedStatement(sql: "SELECT \(EventColumns.list) FROM events e WHERE e.correlation_id = ? ORDER BY e.seq"), in: db)
            query.bind(correlationID)
            var events: [CloudEvent] = []
            try query.query { events.append(EventColumns.decode($0, at: 0)) }
            return events
        }
    }

    public func events(matching query: EventQuery, after seq: Int64, limit: Int) throws -> [StoredEvent] {
        try storedEvents(query, cursor: seq, forward: true, limit: limit)
    }

    public func events(matching query: EventQuery, before seq: Int64, limit: Int) throws -> [StoredEvent] {
        try storedEvents(query, cursor: seq, forward: false, limit: limit)
    }

    private func storedEvents(_ query: EventQuery, cursor: Int64, forward: Bool, limit: Int) throws -> [StoredEvent] {
        var conditions = [forward ? "e.seq > ?" : "e.seq < ?"]
        var bindings: [(RawStatement) -> Void] = [{ $0.bind(cursor) }]
        func add(_ condition: String, _ value: String?) {
            guard let value else { return }
            conditions.append(condition)
            bindings.append { $0.bind(value) }
        }
        func add(_ condition: String, _ value: Timestamp?) {
            guard let value else { return }
            conditions.append(condition)
            bindings.append { $0.bind(value.micros) }
        }
        add("e.correlation_id = ?", query.correlationID)
        add("e.id = ?", query.id)
        add("e.source = ?", query.source)
        add("e.type = ?", query.type)
        add("e.published_at >= ?", query.publishedSince)
        add("e.published_at < ?", query.publishedUntil)
        // With a correlation id, its index (which holds seq) serves both the lookup and the order;
        // without one, the walk is along the primary key from the cursor.
        let sql = """
            SELECT e.published_at, \(EventColumns.list) FROM events e
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY e.seq \(forward ? "ASC" : "DESC") LIMIT ?
            """
        return try read { db in
            let statement = try RawStatement(cached: db.cachedStatement(sql: sql), in: db)
            for bind in bindings { bind(statement) }
            statement.bind(limit)
            var events: [StoredEvent] = []
            try statement.query { row in
                let event = EventColumns.decode(row, at: 1)
                events.append(StoredEvent(seq: row.int64(1), publishedAt: Timestamp(micros: row.int64(0)), event: event))
            }
            return events
        }
    }
}
