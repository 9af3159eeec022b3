import Foundation
import GRDB

extension SQLiteStore {
    public func apply(_ batch: WriteBatch) throws -> WriteResult {
        let result = try pool.write { db in
            var tick = SQLiteTick(db: db, sql: try writerStatements(db), now: batch.now)
            return try tick.apply(batch)
        }
        committed()
        return result
    }

    public func publishUnrouted(_ events: [CloudEvent], at time: Timestamp) throws {
        try pool.write { db in
            var tick = SQLiteTick(db: db, sql: try writerStatements(db), now: time)
            for event in events {
                let seq = try tick.insertEvent(event, routed: false)
                tick.log(.published, event: event, seq: seq)
            }
            try tick.flushRows()
        }
        committed()
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
    var duplicates: Int64 = 0
}

/// One write transaction: the statements of a tick, with the tick's time.
struct SQLiteTick {
    let db: Database
    let sql: WriterStatements
    let now: Timestamp
    var counters: [String: CounterDelta] = [:]
    /// Rows of this tick, written together by `flushRows` (multi-row inserts) with the ids the
    /// tick assigned them: inside the write transaction, nothing else can take the same ids.
    var eventRows: [EventRow] = []
    var messageRows: [MessageRow] = []
    var logRows: [LogRow] = []
    /// The next event seq and message id, read at the first insert of the tick.
    var nextIDs: (event: Int64, message: Int64)?
    /// Children of acked deliveries, published after the claims so they can be dispatched directly.
    var children: [RoutedEvent] = []
    /// Claim capacity left per queue once the backlog was claimed: new messages within it are
    /// inserted already in flight, saving a select and an update per message.
    var direct: [String: (request: ClaimRequest, remaining: Int)] = [:]
    var directlyClaimed: [ClaimedMessage] = []
    /// Rows the last claim query returned, dead-lettered ones included.
    var lastCandidates = 0
    /// Queues that deduplicate and accepted events this tick: their window's cutoff, and how many.
    var deduplicated: [String: (cutoff: Int64, accepted: Int)] = [:]

    init(db: Database, sql: WriterStatements, now: Timestamp) {
        self.db = db
        self.sql = sql
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
        for queue in batch.releases { try release(queue: queue) }
        for queue in batch.expireLeases { try expireLeases(queue: queue) }
        // The backlog first (oldest ready first), then new messages take what capacity is left.
        for request in batch.claims {
            let (claimed, next) = try claim(request)
            result.claimed += claimed
            if let next { result.nextReady[request.queue] = next }
            // Only when the backlog ran out (fewer rows than asked for) may new messages skip it.
            if let free = backlogExhausted(request, claimed: claimed.count) { direct[request.queue] = (request, free) }
        }
        for child in children {
            let seq = try insertEvent(child.event, routed: true)
            log(.published, event: child.event, seq: seq)
            try route(seq: seq, event: child.event, targets: child.targets)
        }
        for routed in batch.publishes {
            let seq = try insertEvent(routed.event, routed: true)
            log(.published, event: routed.event, seq: seq)
            try route(seq: seq, event: routed.event, targets: routed.targets)
        }
        for routing in batch.routings {
            // Another runtime on the same store may have routed it since it was fetched.
            try db.cachedStatement(sql: "UPDATE events SET routed = 1 WHERE seq = ? AND routed = 0").execute(arguments: [routing.seq])
            guard db.changesCount > 0 else { continue }
            try route(seq: routing.seq, event: routing.event, targets: routing.targets)
        }
        result.claimed += directlyClaimed
        if batch.fetchUnrouted > 0 {
            sql.unrouted.bind(batch.fetchUnrouted)
            try sql.unrouted.query { row in result.unrouted.append((row.int64(0), EventColumns.decode(row, at: 0))) }
        }
        for sample in batch.cpuSamples {
            try db.cachedStatement(sql: """
                INSERT INTO cpu_samples (at, scope, interval_us, cpu_us, busy_us, runs, capacity) VALUES (?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [sample.time, sample.scope, sample.interval.micros, sample.cpu.micros, sample.busy.micros, sample.runs, sample.capacity])
        }
        try flushRows()
        try flushCounters()
        try pruneDeduplication()
        return result
    }

    // MARK: Events and routing

    /// Assigns an event its `seq` and queues its row for `flushRows`.
    mutating func insertEvent(_ event: CloudEvent, routed: Bool) throws -> Int64 {
        var extensions: String?
        if !event.extensions.isEmpty {
            // Typed JSON (`"priority":5`, `"flag":true`): the value's CloudEvents type is kept.
            extensions = "{" + event.extensions.keys.sorted().map { JSONText.quote($0) + ":" + event.extensions[$0]!.jsonText }.joined(separator: ",") + "}"
        }
        let kind: Int
        let bytes: Data?
        switch event.data {
        case nil: (kind, bytes) = (0, nil)
        case .json(let data)?: (kind, bytes) = (1, data)
        case .binary(let data)?: (kind, bytes) = (2, data)
        case .text(let text)?: (kind, bytes) = (3, Data(text.utf8))
        }
        let seq = try nextID(\.event)
        eventRows.append(EventRow(
            seq: seq, event: event, extensions: extensions, data: bytes, dataKind: kind, publishedAt: now.micros, routed: routed))
        return seq
    }

    /// Takes the next event seq or message id. Message ids never go back, even past deleted
    /// messages (AUTOINCREMENT keeps the high-water mark in `sqlite_sequence`): a late ack
    /// matches its message by id and delivery, so an id must never name two messages.
    mutating func nextID(_ which: WritableKeyPath<(event: Int64, message: Int64), Int64>) throws -> Int64 {
        if nextIDs == nil {
            var ids: (event: Int64, message: Int64) = (1, 1)
            try sql.nextIDs.query { row in ids = (row.int64(0), row.int64(1)) }
            nextIDs = ids
        }
        defer { nextIDs![keyPath: which] += 1 }
        return nextIDs![keyPath: which]
    }

    mutating func route(seq: Int64, event: CloudEvent, targets: [Target]) throws {
        guard !targets.isEmpty else {
            log(.rejected, event: event, seq: seq, error: "no rule matched")
            return
        }
        log(.routed, event: event, seq: seq, detail: targets.map(\.queue).joined(separator: ","))
        for target in targets {
            if let window = target.deduplicate, try isDuplicate(event, seq: seq, queue: target.queue, window: window) { continue }
            let id = try nextID(\.message)
            if !target.held, let slot = direct[target.queue], slot.remaining > 0 {
                // Dispatched directly: inserted in flight, attempt 1, under a lease.
                direct[target.queue]!.remaining -= 1
                messageRows.append(MessageRow(
                    id: id, queue: target.queue, eventSeq: seq, state: .inFlight, readyAt: (now + slot.request.lease).micros,
                    enqueuedAt: now.micros, attempt: 1, deliveries: 1))
                let claim = Claim(
                    messageID: id, queue: target.queue, delivery: 1, attempt: 1, eventSeq: seq, eventID: event.id,
                    eventType: event.type, correlationID: event.correlationID, enqueuedAt: now, leaseUntil: now + slot.request.lease)
                log(.enqueued, event: event, seq: seq, queue: target.queue, messageID: claim.messageID)
                log(.claimed, claim: claim, at: now)
                directlyClaimed.append(ClaimedMessage(claim: claim, event: event))
                counters[target.queue, default: CounterDelta()].enqueued += 1
                counters[target.queue, default: CounterDelta()].claimed += 1
                continue
            }
            messageRows.append(MessageRow(
                id: id, queue: target.queue, eventSeq: seq, state: target.held ? .held : .ready, readyAt: now.micros,
                enqueuedAt: now.micros, attempt: 0, deliveries: 0))
            log(.enqueued, event: event, seq: seq, queue: target.queue, messageID: id, detail: target.held ? "held for the batch window" : nil)
            counters[target.queue, default: CounterDelta()].enqueued += 1
        }
    }

    /// Whether `queue` accepted this `source` + `id` within `window`; records `duplicate` if so,
    /// and otherwise remembers it as accepted now. One upsert decides: it takes the row unless a
    /// row within the window is there (only then is that row read, for the record's detail).
    mutating func isDuplicate(_ event: CloudEvent, seq: Int64, queue: String, window: Duration) throws -> Bool {
        let cutoff = (now - window).micros
        let accept = sql.dedupAccept
        accept.bind(queue)
        accept.bind(event.source)
        accept.bind(event.id)
        accept.bind(now.micros)
        accept.bind(seq)
        accept.bind(cutoff)
        try accept.execute()
        if db.changesCount > 0 {
            deduplicated[queue, default: (cutoff, 0)].accepted += 1
            return false
        }
        var accepted: (at: Int64, seq: Int64) = (0, 0)
        sql.dedupFind.bind(queue)
        sql.dedupFind.bind(event.source)
        sql.dedupFind.bind(event.id)
        try sql.dedupFind.query { accepted = ($0.int64(0), $0.int64(1)) }
        log(.duplicate, event: event, seq: seq, queue: queue,
            detail: "source and id accepted at \(Timestamp(micros: accepted.at).rfc3339) (event seq \(accepted.seq))")
        counters[queue, default: CounterDelta()].duplicates += 1
        return true
    }

    /// Drops entries older than their window from the queues that accepted events this tick, at
    /// twice the pace they were added (and a few more), so the table holds about one window.
    mutating func pruneDeduplication() throws {
        for (queue, tick) in deduplicated {
            sql.dedupPrune.bind(queue)
            sql.dedupPrune.bind(tick.cutoff)
            sql.dedupPrune.bind(2 * tick.accepted + 16)
            try sql.dedupPrune.execute()
        }
        deduplicated.removeAll()
    }

    // MARK: Outcomes

    /// Applies a handler's outcome; false when the delivery had lost its lease (nothing changes).
    mutating func apply(_ outcome: Outcome) throws -> Bool {
        let claim = outcome.claim
        let at = outcome.finishedAt
        switch outcome.result {
        case .succeeded(let published):
            sql.ack.bind(claim.messageID)
            sql.ack.bind(claim.delivery)
            try sql.ack.execute()
            guard db.changesCount > 0 else { return false }
            log(.succeeded, claim: claim, at: at, duration: outcome.duration)
            counters[claim.queue, default: CounterDelta()].succeeded += 1
            children += published
        case .retry(let error, let readyAt):
            let retry = sql.retry
            retry.bind(readyAt.micros)
            retry.bind(at.micros)
            retry.bind(at.micros)
            retry.bind(error)
            retry.bind(claim.messageID)
            retry.bind(claim.delivery)
            try retry.execute()
            guard db.changesCount > 0 else { return false }
            log(.failed, claim: claim, at: at, duration: outcome.duration, error: error)
            log(.retryScheduled, claim: claim, at: at, detail: String(format: "retry in %.3fs", (readyAt - at).secondsDouble))
            counters[claim.queue, default: CounterDelta()].failed += 1
            counters[claim.queue, default: CounterDelta()].retried += 1
        case .deadLetter(let error, let reason):
            try deadLetter(claim, at: at, error: error, reason: reason, failedRun: true)
            guard db.changesCount > 0 else { return false }
            log(.failed, claim: claim, at: at, duration: outcome.duration, error: error)
            log(.deadLettered, claim: claim, at: at, error: error, detail: reason.rawValue)
            counters[claim.queue, default: CounterDelta()].failed += 1
            counters[claim.queue, default: CounterDelta()].deadLettered += 1
        case .drop(let error):
            sql.ack.bind(claim.messageID)
            sql.ack.bind(claim.delivery)
            try sql.ack.execute()
            guard db.changesCount > 0 else { return false }
            log(.failed, claim: claim, at: at, duration: outcome.duration, error: error)
            log(.deleted, claim: claim, at: at, detail: "exhausted; dead-lettering is off for this queue")
            counters[claim.queue, default: CounterDelta()].failed += 1
        case .unstarted:
            try db.cachedStatement(sql: """
                UPDATE messages SET state = 1, ready_at = ?, attempt = attempt - 1
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
                UPDATE messages SET state = 3, dead_at = ?, reason = ?, first_failed_at = coalesce(first_failed_at, ?),
                    \(SQLiteSchema.appendError)
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
            SELECT id, event_seq FROM messages WHERE queue = ? AND state = 0 ORDER BY id
            """), arguments: [queue])
        guard !rows.isEmpty else { return }
        try db.cachedStatement(sql: "UPDATE messages SET state = 1, ready_at = ? WHERE queue = ? AND state = 0")
            .execute(arguments: [now, queue])
        let detail = "window released \(rows.count) message\(rows.count == 1 ? "" : "s")"
        for row in rows {
            log(.batchReleased, eventSeq: row[1], queue: queue, messageID: row[0], detail: detail)
        }
    }

    /// In-flight messages whose lease ran out (handler hung, process died) become ready again.
    mutating func expireLeases(queue: String) throws {
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT id, queue, attempt, ready_at, event_seq FROM messages WHERE queue = ? AND state = 2 AND ready_at <= ?
            """), arguments: [queue, now])
        for row in rows {
            let error = "lease expired: no ack by \(Timestamp(micros: row[3]).rfc3339) (handler hung or process died)"
            try db.cachedStatement(sql: """
                UPDATE messages SET state = 1, ready_at = ?, first_failed_at = coalesce(first_failed_at, ?),
                    \(SQLiteSchema.appendError)
                WHERE id = ?
                """).execute(arguments: [now, now, now, error, row[0] as Int64])
            log(.leaseExpired, eventSeq: row[4], queue: row[1], messageID: row[0], attempt: row[2], error: error)
            counters[row[1], default: CounterDelta()].failed += 1
        }
    }

    // MARK: Claims

    /// Capacity left for direct dispatch after a claim, or nil if ready messages may remain
    /// (the query filled its limit, even if some rows were dead-lettered instead of claimed).
    private func backlogExhausted(_ request: ClaimRequest, claimed: Int) -> Int? {
        lastCandidates < request.limit ? request.limit - claimed : nil
    }

    mutating func claim(_ request: ClaimRequest) throws -> ([ClaimedMessage], Timestamp?) {
        guard request.limit > 0 else { return ([], nil) }
        var candidates: [(claim: Claim, event: CloudEvent)] = []
        let select = sql.claimSelect
        select.bind(request.queue)
        select.bind(now.micros)
        select.bind(request.limit)
        try select.query { row in
            let event = EventColumns.decode(row, at: 4)
            candidates.append((
                Claim(
                    messageID: row.int64(0), queue: request.queue, delivery: row.int(2) + 1, attempt: row.int(1) + 1,
                    eventSeq: row.int64(4), eventID: event.id, eventType: event.type, correlationID: event.correlationID,
                    enqueuedAt: Timestamp(micros: row.int64(3)), leaseUntil: now + request.lease),
                event))
        }
        lastCandidates = candidates.count
        var claimed: [ClaimedMessage] = []
        claimed.reserveCapacity(candidates.count)
        for (candidate, event) in candidates {
            var claim = candidate
            // A message whose budget ran out by lease expiries, or that aged out, is not run again.
            var reason: DeadLetterReason?
            if claim.attempt > request.maxAttempts { reason = .maxAttempts }
            if let maxAge = request.maxAge, now - claim.enqueuedAt > maxAge { reason = .maxAge }
            if let reason {
                claim.attempt -= 1
                let error = reason == .maxAge ? "older than the queue's max age" : "no attempts left after lease expiry"
                if request.deadLetter {
                    try deadLetter(claim, at: now, error: error, reason: reason, failedRun: false)
                    log(.deadLettered, claim: claim, at: now, error: error, detail: reason.rawValue)
                    counters[request.queue, default: CounterDelta()].deadLettered += 1
                } else {
                    try db.cachedStatement(sql: "DELETE FROM messages WHERE id = ?").execute(arguments: [claim.messageID])
                    log(.deleted, claim: claim, at: now, error: error, detail: "dead-lettering is off for this queue")
                }
                continue
            }
            let update = sql.claimUpdate
            update.bind(claim.attempt)
            update.bind(claim.delivery)
            update.bind(claim.leaseUntil.micros)
            update.bind(claim.messageID)
            try update.execute()
            log(.claimed, claim: claim, at: now, detail: claim.delivery > claim.attempt ? "delivery \(claim.delivery)" : nil)
            claimed.append(ClaimedMessage(claim: claim, event: event))
        }
        counters[request.queue, default: CounterDelta()].claimed += Int64(claimed.count)
        var next: Timestamp?
        if candidates.count < request.limit {
            sql.nextReady.bind(request.queue)
            sql.nextReady.bind(now.micros)
            try sql.nextReady.query { row in next = row.optionalInt64(0).map(Timestamp.init(micros:)) }
        }
        return (claimed, next)
    }

    // MARK: The log

    mutating func log(_ kind: LifecycleKind, event: CloudEvent, seq: Int64, queue: String? = nil, messageID: Int64? = nil, error: String? = nil, detail: String? = nil) {
        log(kind, eventSeq: seq, queue: queue, messageID: messageID, error: error, detail: detail)
    }

    mutating func log(_ kind: LifecycleKind, claim: Claim, at: Timestamp, duration: Duration? = nil, error: String? = nil, detail: String? = nil) {
        log(kind, at: at, eventSeq: claim.eventSeq, queue: claim.queue, messageID: claim.messageID, attempt: claim.attempt,
            duration: duration, error: error, detail: detail)
    }

    mutating func log(
        _ kind: LifecycleKind, at: Timestamp? = nil, eventSeq: Int64, queue: String? = nil, messageID: Int64? = nil,
        attempt: Int? = nil, duration: Duration? = nil, error: String? = nil, detail: String? = nil
    ) {
        logRows.append(LogRow(
            at: (at ?? now).micros, kind: kind.rawValue, eventSeq: eventSeq, queue: queue, messageID: messageID, attempt: attempt,
            durationMicros: duration?.micros, error: error, detail: detail))
    }

    /// Writes the tick's new events, messages and log records, in that order.
    mutating func flushRows() throws {
        try sql.events.insert(eventRows)
        try sql.messages.insert(messageRows)
        try sql.log.insert(logRows)
        eventRows.removeAll()
        messageRows.removeAll()
        logRows.removeAll()
    }

    mutating func flushCounters() throws {
        for (queue, delta) in counters {
            try db.cachedStatement(sql: """
                INSERT INTO queue_counters (queue, enqueued, claimed, succeeded, failed, retried, dead_lettered, duplicates)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(queue) DO UPDATE SET enqueued = enqueued + excluded.enqueued, claimed = claimed + excluded.claimed,
                    succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed,
                    retried = retried + excluded.retried, dead_lettered = dead_lettered + excluded.dead_lettered,
                    duplicates = duplicates + excluded.duplicates
                """).execute(arguments: [
                    queue, delta.enqueued, delta.claimed, delta.succeeded, delta.failed, delta.retried, delta.deadLettered, delta.duplicates,
                ])
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

    static func decode(_ row: RawStatement, at base: Int32) -> CloudEvent {
        var extensions: [String: ExtensionValue] = [:]
        if let text = row.string(base + 11), let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] {
            for (name, value) in object {
                switch value {
                case let text as String: extensions[name] = .string(text)
                case let number as NSNumber where String(cString: number.objCType) == "c": extensions[name] = .boolean(number.boolValue)
                case let number as NSNumber: extensions[name] = .integer(number.int32Value)
                default: break
                }
            }
        }
        var payload: Payload?
        if let data = row.data(base + 12) {
            switch row.int(base + 13) {
            case 2: payload = .binary(data)
            case 3: payload = .text(String(decoding: data, as: UTF8.self))
            default: payload = .json(data)
            }
        }
        var event = CloudEvent(
            id: row.string(base + 1) ?? "", source: row.string(base + 2) ?? "", type: row.string(base + 3) ?? "",
            time: row.optionalInt64(base + 4).map(Timestamp.init(micros:)), subject: row.string(base + 5), datacontenttype: nil,
            dataschema: row.string(base + 7), data: payload, correlationID: row.string(base + 8), causationID: row.string(base + 9),
            traceparent: row.string(base + 10), extensions: extensions)
        // Set after init, which would default it from the payload.
        event.datacontenttype = row.string(base + 6)
        return event
    }

}

/// The write path's hot statements, prepared once on the writer connection.
final class WriterStatements {
    let events: BatchInsert<EventRow>
    let messages: BatchInsert<MessageRow>
    let log: BatchInsert<LogRow>
    let nextIDs: RawStatement
    let claimSelect: RawStatement
    let claimUpdate: RawStatement
    let nextReady: RawStatement
    let ack: RawStatement
    let retry: RawStatement
    let unrouted: RawStatement
    let dedupAccept: RawStatement
    let dedupFind: RawStatement
    let dedupPrune: RawStatement

    init(_ db: Database) throws {
        events = try BatchInsert(db)
        messages = try BatchInsert(db)
        log = try BatchInsert(db)
        nextIDs = try RawStatement(db, """
            SELECT (SELECT coalesce(max(seq), 0) + 1 FROM events),
                max((SELECT coalesce(max(id), 0) FROM messages),
                    coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0)) + 1
            """)
        claimSelect = try RawStatement(db, """
            SELECT m.id, m.attempt, m.deliveries, m.enqueued_at, \(EventColumns.list)
            FROM messages m JOIN events e ON e.seq = m.event_seq
            WHERE m.queue = ? AND m.state = 1 AND m.ready_at <= ? ORDER BY m.ready_at LIMIT ?
            """)
        claimUpdate = try RawStatement(db, "UPDATE messages SET state = 2, attempt = ?, deliveries = ?, ready_at = ? WHERE id = ?")
        nextReady = try RawStatement(db, "SELECT min(ready_at) FROM messages WHERE queue = ? AND state = 1 AND ready_at > ?")
        ack = try RawStatement(db, "DELETE FROM messages WHERE id = ? AND state = 2 AND deliveries = ?")
        retry = try RawStatement(db, """
            UPDATE messages SET state = 1, ready_at = ?, first_failed_at = coalesce(first_failed_at, ?),
                \(SQLiteSchema.appendError)
            WHERE id = ? AND state = 2 AND deliveries = ?
            """)
        unrouted = try RawStatement(db, "SELECT \(EventColumns.list) FROM events e WHERE routed = 0 ORDER BY seq LIMIT ?")
        dedupAccept = try RawStatement(db, """
            INSERT INTO dedup (queue, source, id, accepted_at, event_seq) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (queue, source, id) DO UPDATE SET accepted_at = excluded.accepted_at, event_seq = excluded.event_seq
                WHERE dedup.accepted_at < ?
            """)
        dedupFind = try RawStatement(db, "SELECT accepted_at, event_seq FROM dedup WHERE queue = ? AND source = ? AND id = ?")
        dedupPrune = try RawStatement(db, """
            DELETE FROM dedup WHERE (queue, source, id) IN
                (SELECT queue, source, id FROM dedup WHERE queue = ? AND accepted_at < ? ORDER BY accepted_at LIMIT ?)
            """)
    }
}

/// One log record waiting for the tick's flush.
struct LogRow: BatchRow {
    static let table = "log"
    static let columns = ["at", "kind", "event_seq", "queue", "message_id", "attempt", "duration_us", "error", "detail"]
    /// The log is most of the rows the engine writes (five per event).
    static let perStatement = 32

    var at: Int64
    var kind: String
    var eventSeq: Int64
    var queue: String?
    var messageID: Int64?
    var attempt: Int?
    var durationMicros: Int64?
    var error: String?
    var detail: String?

    func bind(to statement: RawStatement) {
        statement.bind(at)
        statement.bind(kind)
        statement.bind(eventSeq)
        statement.bind(queue)
        statement.bind(messageID)
        statement.bind(attempt)
        statement.bind(durationMicros)
        statement.bind(error)
        statement.bind(detail)
    }
}

/// A new event, with the seq its tick assigned.
struct EventRow: BatchRow {
    static let table = "events"
    static let columns = [
        "seq", "id", "source", "type", "time", "subject", "datacontenttype", "dataschema", "correlation_id",
        "causation_id", "traceparent", "extensions", "data", "data_kind", "published_at", "routed",
    ]
    static let perStatement = 16

    var seq: Int64
    var event: CloudEvent
    var extensions: String?
    var data: Data?
    var dataKind: Int
    var publishedAt: Int64
    var routed: Bool

    func bind(to statement: RawStatement) {
        statement.bind(seq)
        statement.bind(event.id)
        statement.bind(event.source)
        statement.bind(event.type)
        statement.bind(event.time?.micros)
        statement.bind(event.subject)
        statement.bind(event.datacontenttype)
        statement.bind(event.dataschema)
        statement.bind(event.correlationID)
        statement.bind(event.causationID)
        statement.bind(event.traceparent)
        statement.bind(extensions)
        statement.bind(data)
        statement.bind(dataKind)
        statement.bind(publishedAt)
        statement.bind(routed ? 1 : 0)
    }
}

/// A new message, with the id its tick assigned.
struct MessageRow: BatchRow {
    static let table = "messages"
    static let columns = ["id", "queue", "event_seq", "state", "ready_at", "enqueued_at", "attempt", "deliveries"]
    static let perStatement = 16

    var id: Int64
    var queue: String
    var eventSeq: Int64
    var state: SQLiteSchema.State
    var readyAt: Int64
    var enqueuedAt: Int64
    var attempt: Int
    var deliveries: Int

    func bind(to statement: RawStatement) {
        statement.bind(id)
        statement.bind(queue)
        statement.bind(eventSeq)
        statement.bind(state.rawValue)
        statement.bind(readyAt)
        statement.bind(enqueuedAt)
        statement.bind(attempt)
        statement.bind(deliveries)
    }
}
