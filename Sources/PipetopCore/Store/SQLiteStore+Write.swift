import Foundation
import GRDB

extension SQLiteStore {
    public func apply(_ batch: WriteBatch) throws -> WriteResult {
        try pool.write { db in
            var tick = SQLiteTick(db: db, now: batch.now)
            return try tick.apply(batch)
        }
    }

    public func publishUnrouted(_ events: [CloudEvent], at time: Timestamp) throws {
        try pool.write { db in
            let tick = SQLiteTick(db: db, now: time)
            for event in events {
                _ = try tick.insertEvent(event, routed: false)
                try tick.log(.published, event: event)
            }
        }
    }

    public func declare(queues: [QueueSpec], rules: [Rule], runtime: RuntimeInfo) throws {
        try pool.write { db in
            for queue in queues {
                var window: Int64?
                if case .batch(let every) = queue.mode { window = every.micros }
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO queues (name, mode, window_us, concurrency, visibility_timeout_us,
                            max_attempts, backoff_base_us, backoff_cap_us, max_age_us, dead_letter, runtime, declared_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        queue.name, queue.mode.description, window, queue.concurrency, queue.visibilityTimeout.micros,
                        queue.maxAttempts, queue.backoff.base.micros, queue.backoff.cap.micros, queue.maxAge?.micros,
                        queue.deadLetter, runtime.name, runtime.startedAt,
                    ])
                try db.execute(sql: "INSERT OR IGNORE INTO queue_counters (queue) VALUES (?)", arguments: [queue.name])
            }
            for rule in rules {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO rules (name, pattern, targets, runtime) VALUES (?, ?, ?, ?)",
                    arguments: [rule.name, rule.pattern.source, rule.targets.joined(separator: ","), runtime.name])
            }
            try Self.upsertRuntimeStatement(db, runtime)
        }
    }

    public func markStopped(runtime name: String, at time: Timestamp) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE runtimes SET stopped_at = ?, heartbeat_at = ? WHERE name = ?", arguments: [time, time, name])
        }
    }
}

/// Lifetime counters of one queue, accumulated during a tick and added to `queue_counters` once.
struct CounterDelta {
    var enqueued: Int64 = 0, claimed: Int64 = 0, succeeded: Int64 = 0, failed: Int64 = 0, retried: Int64 = 0, deadLettered: Int64 = 0
}

/// One write transaction: the statements of a tick, with the tick's time.
struct SQLiteTick {
    let db: Database
    let now: Timestamp
    var counters: [String: CounterDelta] = [:]

    init(db: Database, now: Timestamp) {
        self.db = db
        self.now = now
    }

    mutating func apply(_ batch: WriteBatch) throws -> WriteResult {
        var result = WriteResult()
        if let heartbeat = batch.heartbeat {
            try SQLiteStore.upsertRuntimeStatement(db, heartbeat)
        }
        for outcome in batch.outcomes {
            if try !apply(outcome) { result.staleOutcomes += 1 }
        }
        for routed in batch.publishes {
            let seq = try insertEvent(routed.event, routed: true)
            try log(.published, event: routed.event)
            try route(seq: seq, event: routed.event, targets: routed.targets)
        }
        for routing in batch.routings {
            try db.cachedStatement(sql: "UPDATE events SET routed = 1 WHERE seq = ?").execute(arguments: [routing.seq])
            try route(seq: routing.seq, event: routing.event, targets: routing.targets)
        }
        for queue in batch.releases { try release(queue: queue) }
        if batch.expireLeases { try expireLeases() }
        for request in batch.claims {
            let (claimed, next) = try claim(request)
            result.claimed += claimed
            if let next { result.nextReady[request.queue] = next }
        }
        if batch.fetchUnrouted > 0 {
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT \(EventColumns.list) FROM events e WHERE routed = 0 ORDER BY seq LIMIT ?"),
                arguments: [batch.fetchUnrouted])
            result.unrouted = rows.map { ($0[0] as Int64, EventColumns.decode($0, at: 0)) }
        }
        for sample in batch.cpuSamples {
            try db.cachedStatement(sql: """
                INSERT INTO cpu_samples (at, scope, interval_us, cpu_us, busy_us, runs, capacity) VALUES (?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [sample.time, sample.scope, sample.interval.micros, sample.cpu.micros, sample.busy.micros, sample.runs, sample.capacity])
        }
        try flushCounters()
        return result
    }

    // MARK: Events and routing

    /// Inserts an event and returns its `seq`.
    func insertEvent(_ event: CloudEvent, routed: Bool) throws -> Int64 {
        var extensions: String?
        if !event.extensions.isEmpty {
            extensions = "{" + event.extensions.keys.sorted().map { JSONText.quote($0) + ":" + JSONText.quote(event.extensions[$0]!) }.joined(separator: ",") + "}"
        }
        let kind: Int
        let bytes: Data?
        switch event.data {
        case nil: (kind, bytes) = (0, nil)
        case .json(let data)?: (kind, bytes) = (1, data)
        case .binary(let data)?: (kind, bytes) = (2, data)
        }
        try db.cachedStatement(sql: """
            INSERT INTO events (id, source, type, time, subject, datacontenttype, dataschema, correlation_id,
                causation_id, traceparent, extensions, data, data_kind, published_at, routed)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                event.id, event.source, event.type, event.time, event.subject, event.datacontenttype, event.dataschema,
                event.correlationID, event.causationID, event.traceparent, extensions, bytes, kind, now, routed,
            ])
        return db.lastInsertedRowID
    }

    mutating func route(seq: Int64, event: CloudEvent, targets: [Target]) throws {
        guard !targets.isEmpty else {
            try log(.rejected, event: event, error: "no rule matched")
            return
        }
        try log(.routed, event: event, detail: targets.map(\.queue).joined(separator: ","))
        for target in targets {
            try db.cachedStatement(sql: """
                INSERT INTO messages (queue, event_seq, state, ready_at, enqueued_at) VALUES (?, ?, ?, ?, ?)
                """).execute(arguments: [target.queue, seq, (target.held ? SQLiteSchema.State.held : .ready).rawValue, now, now])
            try log(.enqueued, event: event, queue: target.queue, messageID: db.lastInsertedRowID, detail: target.held ? "held for the batch window" : nil)
            counters[target.queue, default: CounterDelta()].enqueued += 1
        }
    }

    // MARK: Outcomes

    /// Applies a handler's outcome; false when the delivery had lost its lease (nothing changes).
    mutating func apply(_ outcome: Outcome) throws -> Bool {
        let claim = outcome.claim
        let at = outcome.finishedAt
        switch outcome.result {
        case .succeeded(let children):
            try db.cachedStatement(sql: "DELETE FROM messages WHERE id = ? AND state = 2 AND deliveries = ?")
                .execute(arguments: [claim.messageID, claim.delivery])
            guard db.changesCount > 0 else { return false }
            try log(.succeeded, claim: claim, at: at, duration: outcome.duration)
            counters[claim.queue, default: CounterDelta()].succeeded += 1
            for child in children {
                let seq = try insertEvent(child.event, routed: true)
                try log(.published, event: child.event)
                try route(seq: seq, event: child.event, targets: child.targets)
            }
        case .retry(let error, let readyAt):
            try db.cachedStatement(sql: """
                UPDATE messages SET state = 1, ready_at = ?, lease_until = NULL, first_failed_at = coalesce(first_failed_at, ?),
                    errors = json_insert(errors, '$[#]', json_object('attempt', attempt, 'at', ?, 'error', ?))
                WHERE id = ? AND state = 2 AND deliveries = ?
                """).execute(arguments: [readyAt, at, at, error, claim.messageID, claim.delivery])
            guard db.changesCount > 0 else { return false }
            try log(.failed, claim: claim, at: at, duration: outcome.duration, error: error)
            try log(.retryScheduled, claim: claim, at: at, detail: String(format: "retry in %.3fs", (readyAt - at).secondsDouble))
            counters[claim.queue, default: CounterDelta()].failed += 1
            counters[claim.queue, default: CounterDelta()].retried += 1
        case .deadLetter(let error, let reason):
            try deadLetter(claim, at: at, error: error, reason: reason, failedRun: true)
            guard db.changesCount > 0 else { return false }
            try log(.failed, claim: claim, at: at, duration: outcome.duration, error: error)
            try log(.deadLettered, claim: claim, at: at, error: error, detail: reason.rawValue)
            counters[claim.queue, default: CounterDelta()].failed += 1
            counters[claim.queue, default: CounterDelta()].deadLettered += 1
        case .drop(let error):
            try db.cachedStatement(sql: "DELETE FROM messages WHERE id = ? AND state = 2 AND deliveries = ?")
                .execute(arguments: [claim.messageID, claim.delivery])
            guard db.changesCount > 0 else { return false }
            try log(.failed, claim: claim, at: at, duration: outcome.duration, error: error)
            try log(.deleted, claim: claim, at: at, detail: "exhausted; dead-lettering is off for this queue")
            counters[claim.queue, default: CounterDelta()].failed += 1
        case .unstarted:
            try db.cachedStatement(sql: """
                UPDATE messages SET state = 1, ready_at = ?, lease_until = NULL, attempt = attempt - 1
                WHERE id = ? AND state = 2 AND deliveries = ?
                """).execute(arguments: [at, claim.messageID, claim.delivery])
            guard db.changesCount > 0 else { return false }
        }
        return true
    }

    /// Moves an in-flight message (this delivery) or a ready one (`failedRun == false`) to dead.
    func deadLetter(_ claim: Claim, at: Timestamp, error: String, reason: DeadLetterReason, failedRun: Bool) throws {
        if failedRun {
            try db.cachedStatement(sql: """
                UPDATE messages SET state = 3, dead_at = ?, reason = ?, lease_until = NULL, first_failed_at = coalesce(first_failed_at, ?),
                    errors = json_insert(errors, '$[#]', json_object('attempt', attempt, 'at', ?, 'error', ?))
                WHERE id = ? AND state = 2 AND deliveries = ?
                """).execute(arguments: [at, reason.rawValue, at, at, error, claim.messageID, claim.delivery])
        } else {
            try db.cachedStatement(sql: """
                UPDATE messages SET state = 3, dead_at = ?, reason = ?, first_failed_at = coalesce(first_failed_at, ?) WHERE id = ?
                """).execute(arguments: [at, reason.rawValue, at, claim.messageID])
        }
    }

    // MARK: Batch windows and leases

    mutating func release(queue: String) throws {
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT m.id, e.id, e.type, e.correlation_id FROM messages m JOIN events e ON e.seq = m.event_seq
            WHERE m.queue = ? AND m.state = 0 ORDER BY m.id
            """), arguments: [queue])
        guard !rows.isEmpty else { return }
        try db.cachedStatement(sql: "UPDATE messages SET state = 1, ready_at = ? WHERE queue = ? AND state = 0")
            .execute(arguments: [now, queue])
        let detail = "window released \(rows.count) message\(rows.count == 1 ? "" : "s")"
        for row in rows {
            try log(.batchReleased, eventID: row[1], eventType: row[2], correlationID: row[3], queue: queue, messageID: row[0], detail: detail)
        }
    }

    /// In-flight messages whose lease ran out (handler hung, process died) become ready again.
    mutating func expireLeases() throws {
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT m.id, m.queue, m.attempt, m.lease_until, e.id, e.type, e.correlation_id
            FROM messages m JOIN events e ON e.seq = m.event_seq
            WHERE m.state = 2 AND m.lease_until <= ?
            """), arguments: [now])
        for row in rows {
            let error = "lease expired: no ack by \(Timestamp(micros: row[3]).rfc3339) (handler hung or process died)"
            try db.cachedStatement(sql: """
                UPDATE messages SET state = 1, ready_at = ?, lease_until = NULL, first_failed_at = coalesce(first_failed_at, ?),
                    errors = json_insert(errors, '$[#]', json_object('attempt', attempt, 'at', ?, 'error', ?))
                WHERE id = ?
                """).execute(arguments: [now, now, now, error, row[0] as Int64])
            try log(.leaseExpired, eventID: row[4], eventType: row[5], correlationID: row[6], queue: row[1], messageID: row[0], attempt: row[2], error: error)
            counters[row[1], default: CounterDelta()].failed += 1
        }
    }

    // MARK: Claims

    mutating func claim(_ request: ClaimRequest) throws -> ([ClaimedMessage], Timestamp?) {
        guard request.limit > 0 else { return ([], nil) }
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT m.id, m.attempt, m.deliveries, m.enqueued_at, \(EventColumns.list)
            FROM messages m JOIN events e ON e.seq = m.event_seq
            WHERE m.queue = ? AND m.state = 1 AND m.ready_at <= ? ORDER BY m.ready_at LIMIT ?
            """), arguments: [request.queue, now, request.limit])
        var claimed: [ClaimedMessage] = []
        claimed.reserveCapacity(rows.count)
        let leaseUntil = now + request.lease
        for row in rows {
            let event = EventColumns.decode(row, at: 4)
            let attempt = (row[1] as Int) + 1
            var claim = Claim(
                messageID: row[0], queue: request.queue, delivery: (row[2] as Int) + 1, attempt: attempt, eventID: event.id,
                eventType: event.type, correlationID: event.correlationID, enqueuedAt: row[3])
            // A message whose budget ran out by lease expiries, or that aged out, is not run again.
            var reason: DeadLetterReason?
            if attempt > request.maxAttempts { reason = .maxAttempts }
            if let maxAge = request.maxAge, now - claim.enqueuedAt > maxAge { reason = .maxAge }
            if let reason {
                claim.attempt -= 1
                let error = reason == .maxAge ? "older than the queue's max age" : "no attempts left after lease expiry"
                if request.deadLetter {
                    try deadLetter(claim, at: now, error: error, reason: reason, failedRun: false)
                    try log(.deadLettered, claim: claim, at: now, error: error, detail: reason.rawValue)
                    counters[request.queue, default: CounterDelta()].deadLettered += 1
                } else {
                    try db.cachedStatement(sql: "DELETE FROM messages WHERE id = ?").execute(arguments: [claim.messageID])
                    try log(.deleted, claim: claim, at: now, error: error, detail: "dead-lettering is off for this queue")
                }
                continue
            }
            try db.cachedStatement(sql: """
                UPDATE messages SET state = 2, attempt = ?, deliveries = ?, lease_until = ? WHERE id = ?
                """).execute(arguments: [claim.attempt, claim.delivery, leaseUntil, claim.messageID])
            try log(.claimed, claim: claim, at: now, detail: claim.delivery > claim.attempt ? "delivery \(claim.delivery)" : nil)
            claimed.append(ClaimedMessage(claim: claim, event: event))
        }
        counters[request.queue, default: CounterDelta()].claimed += Int64(claimed.count)
        var next: Timestamp?
        if rows.count < request.limit {
            next = try Timestamp.fetchOne(
                db.cachedStatement(sql: "SELECT min(ready_at) FROM messages WHERE queue = ? AND state = 1 AND ready_at > ?"),
                arguments: [request.queue, now])
        }
        return (claimed, next)
    }

    // MARK: The log

    func log(_ kind: LifecycleKind, event: CloudEvent, queue: String? = nil, messageID: Int64? = nil, error: String? = nil, detail: String? = nil) throws {
        try log(kind, eventID: event.id, eventType: event.type, correlationID: event.correlationID, queue: queue, messageID: messageID, error: error, detail: detail)
    }

    func log(_ kind: LifecycleKind, claim: Claim, at: Timestamp, duration: Duration? = nil, error: String? = nil, detail: String? = nil) throws {
        try log(kind, at: at, eventID: claim.eventID, eventType: claim.eventType, correlationID: claim.correlationID, queue: claim.queue,
                messageID: claim.messageID, attempt: claim.attempt, duration: duration, error: error, detail: detail)
    }

    func log(
        _ kind: LifecycleKind, at: Timestamp? = nil, eventID: String, eventType: String?, correlationID: String?, queue: String? = nil,
        messageID: Int64? = nil, attempt: Int? = nil, duration: Duration? = nil, error: String? = nil, detail: String? = nil
    ) throws {
        try db.cachedStatement(sql: """
            INSERT INTO log (at, kind, event_id, event_type, correlation_id, queue, message_id, attempt, duration_us, error, detail)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [at ?? now, kind.rawValue, eventID, eventType, correlationID, queue, messageID, attempt, duration?.micros, error, detail])
    }

    mutating func flushCounters() throws {
        for (queue, delta) in counters {
            try db.cachedStatement(sql: """
                INSERT INTO queue_counters (queue, enqueued, claimed, succeeded, failed, retried, dead_lettered) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(queue) DO UPDATE SET enqueued = enqueued + excluded.enqueued, claimed = claimed + excluded.claimed,
                    succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed,
                    retried = retried + excluded.retried, dead_lettered = dead_lettered + excluded.dead_lettered
                """).execute(arguments: [queue, delta.enqueued, delta.claimed, delta.succeeded, delta.failed, delta.retried, delta.deadLettered])
        }
        counters.removeAll()
    }
}

extension SQLiteStore {
    static func upsertRuntimeStatement(_ db: Database, _ runtime: RuntimeInfo) throws {
        try db.cachedStatement(sql: """
            INSERT INTO runtimes (name, pid, host, store, started_at, heartbeat_at, stopped_at)
            VALUES (?, ?, ?, ?, ?, ?, NULL)
            ON CONFLICT(name) DO UPDATE SET pid = excluded.pid, host = excluded.host, store = excluded.store,
                started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL
            """).execute(arguments: [runtime.name, runtime.pid, runtime.host, runtime.store, runtime.startedAt, runtime.heartbeatAt])
    }
}

/// The columns of an event, in the order `decode` reads them (the first is `seq`).
enum EventColumns {
    static let list = "e.seq, e.id, e.source, e.type, e.time, e.subject, e.datacontenttype, e.dataschema, e.correlation_id, e.causation_id, e.traceparent, e.extensions, e.data, e.data_kind"

    static func decode(_ row: Row, at base: Int) -> CloudEvent {
        var extensions: [String: String] = [:]
        if let text = row[base + 11] as String?, let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String] {
            extensions = object
        }
        var payload: Payload?
        if let bytes = row[base + 12] as Data? {
            payload = (row[base + 13] as Int) == 2 ? .binary(bytes) : .json(bytes)
        }
        var event = CloudEvent(
            id: row[base + 1], source: row[base + 2], type: row[base + 3], time: row[base + 4], subject: row[base + 5],
            datacontenttype: nil, dataschema: row[base + 7], data: payload, correlationID: row[base + 8],
            causationID: row[base + 9], traceparent: row[base + 10], extensions: extensions)
        event.datacontenttype = row[base + 6]
        return event
    }
}
