import Foundation
import GRDB

extension SQLiteStore {
    /// One read transaction on a reader connection (WAL: it never blocks the writer). Inside
    /// another `read` on the same thread, the enclosing transaction serves (same snapshot).
    public func read<T>(_ body: (StoreSnapshot) throws -> T) throws -> T {
        try pool.unsafeReentrantRead { db in
            if db.isInsideTransaction { return try body(SQLiteSnapshot(db: db)) }
            var value: T?
            try db.inTransaction(.deferred) {
                value = try body(SQLiteSnapshot(db: db))
                return .commit
            }
            return value!
        }
    }
}

/// A SQLite read transaction as a `StoreSnapshot`: valid only inside `SQLiteStore.read`.
struct SQLiteSnapshot: StoreSnapshot {
    let db: Database

    /// Log records of one query, read through the C API: the dashboard follows the log with these,
    /// and GRDB's `Row` costs more per row than the join itself (measured with pipetop-bench).
    private func records(_ sql: String, _ bind: (RawStatement) -> Void) throws -> [LifecycleRecord] {
        let query = try RawStatement(cached: db.cachedStatement(sql: sql), in: db)
        bind(query)
        var records: [LifecycleRecord] = []
        try query.query { RecordQuery.decode($0, into: &records) }
        return records
    }

    func publishedTotal() throws -> Int64 {
        // Events are never deleted, so the last seq is the count, in O(1).
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT coalesce(max(seq), 0) FROM events")) ?? 0
    }

    /// Records read row by row until `limit` are in, those not `wanted` (the steps of the first row
    /// on the cursor's side) left out; a row holds one or more records, so rows are read only as
    /// far as needed.
    private func records(_ sql: String, limit: Int, wanted: (Int64) -> Bool, _ bind: (RawStatement) -> Void) throws -> [LifecycleRecord] {
        let query = try RawStatement(cached: db.cachedStatement(sql: sql), in: db)
        bind(query)
        var records: [LifecycleRecord] = []
        guard limit > 0 else { return records }
        var row: [LifecycleRecord] = []
        try query.queryWhile { statement in
            row.removeAll(keepingCapacity: true)
            RecordQuery.decode(statement, into: &row)
            for record in row where wanted(record.seq) { records.append(record) }
            return records.count < limit
        }
        return records
    }

    func tail(after seq: Int64, limit: Int) throws -> [LifecycleRecord] {
        // From the row `seq` is in (its later steps follow it).
        let records = try records(
            "SELECT \(RecordQuery.select) FROM \(RecordQuery.from) WHERE l.seq >= ? ORDER BY l.seq", limit: limit, wanted: { $0 > seq }
        ) { $0.bind(LogPosition.row(of: seq)) }
        return Array(records.prefix(limit))
    }

    func history(before seq: Int64, limit: Int) throws -> [LifecycleRecord] {
        guard seq > 1 else { return [] }
        let rows = try records(
            "SELECT \(RecordQuery.select) FROM \(RecordQuery.from) WHERE l.seq <= ? ORDER BY l.seq DESC", limit: limit, wanted: { $0 < seq }
        ) { $0.bind(LogPosition.row(of: seq - 1)) }
        // Rows newest first, each row's records oldest first: reversed within each row.
        return Array(Self.newestFirst(rows).prefix(limit))
    }

    /// Records read row by row (rows newest first, each one's steps oldest first), newest first.
    static func newestFirst(_ records: [LifecycleRecord]) -> [LifecycleRecord] {
        var result: [LifecycleRecord] = []
        result.reserveCapacity(records.count)
        var index = records.startIndex
        while index < records.endIndex {
            let row = LogPosition.row(of: records[index].seq)
            var end = index + 1
            while end < records.endIndex, LogPosition.row(of: records[end].seq) == row { end += 1 }
            result.append(contentsOf: records[index..<end].reversed())
            index = end
        }
        return result
    }

    /// The flow's events by correlation id; each event's publication row by its `log_seq`, its
    /// later rows along `log_by_event` (which indexes only those). Binds: the correlation id.
    static let traceSQL: String = {
        let flow = "FROM events WHERE correlation_id = ?1"
        return """
            SELECT \(RecordQuery.select) FROM \(RecordQuery.from) WHERE l.seq IN (SELECT log_seq \(flow))
            UNION ALL
            SELECT \(RecordQuery.select) FROM \(RecordQuery.from) WHERE l.event_seq IN (SELECT seq \(flow)) AND l.\(LogColumn.laterRows)
            ORDER BY 1
            """
    }()

    func trace(correlationID: String) throws -> [LifecycleRecord] {
        try records(Self.traceSQL) { $0.bind(correlationID) }
    }

    func logTotal() throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT coalesce(\(LogColumn.recordCount), 0) FROM log")) ?? 0
    }

    func queueStats(now: Timestamp) throws -> [QueueStats] {
        var stats: [String: QueueStats] = [:]
        try RawStatement(cached: db.cachedStatement(sql: QueueStats.declaredQuery), in: db).query { row in
            let queue = QueueStats(declared: row)
            stats[queue.name] = queue
        }
        // Live messages from `messages_by_queue_state` alone (it covers every column read here): one
        // range per queue and live state, each aggregated by its own statement (dead rows are not
        // walked). One grouped query over them all cost about twice as much (comparing the group's
        // queue and state at every row), `sum(condition)` more than `FILTER`. Every queue that
        // ever had a message has a counters row.
        let live = try RawStatement(cached: db.cachedStatement(sql: """
            SELECT count(*), count(*) FILTER (WHERE ready_at > ?), min(enqueued_at), count(*) FILTER (WHERE attempt >= ?)
            FROM messages INDEXED BY messages_by_queue_state WHERE queue = ? AND state = ?
            """), in: db)
        for name in try String.fetchAll(db.cachedStatement(sql: "SELECT queue FROM queue_counters")) {
            var queue = stats[name] ?? .undeclared(name)
            for state in MessageState.live {
                // Poison: ready after a first attempt, or in flight for a second or later.
                let poisonFrom: Int64 = switch state { case .ready: 1; case .inFlight: 2; default: .max }
                live.bind(now.micros)
                live.bind(poisonFrom)
                live.bind(name)
                live.bind(Int64(state.rawValue))
                try live.query { row in
                    queue.add(live: state, count: row.int(0), later: row.int(1), oldest: row.optionalInt64(2).map(Timestamp.init(micros:)), poison: row.int(3))
                }
            }
            queue.lagSeconds = queue.oldestEnqueuedAt.map { max(0, (now - $0).secondsDouble) } ?? 0
            if queue.lagMessages > 0 || stats[name] != nil { stats[name] = queue }
        }
        // Dead letters from their counts by cause, kept by every transaction that makes or moves one.
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT queue, sum(count) AS count FROM dead_letter_causes GROUP BY queue HAVING sum(count) > 0")) {
            let name: String = row["queue"]
            stats[name, default: .undeclared(name)].dead = row["count"]
        }
        return stats.values.sorted { $0.name < $1.name }
    }

    /// Each queue's seconds along the primary key, from `since` (every queue written to has a counters row).
    func queueSeconds(since: Timestamp) throws -> [QueueSecond] {
        let query = try RawStatement(cached: db.cachedStatement(sql: """
            SELECT s.queue, s.second, s.enqueued, s.held, s.released, s.done, s.latency, s.flow_latency
            FROM queue_counters c JOIN queue_seconds s ON s.queue = c.queue AND s.second >= ? ORDER BY s.queue, s.second
            """), in: db)
        query.bind(since.micros.floorDiv(1_000_000))
        var seconds: [QueueSecond] = []
        try query.query { row in
            seconds.append(QueueSecond(
                queue: row.string(0) ?? "", second: row.int64(1), enqueued: row.int(2), held: row.int(3), released: row.int(4), done: row.int(5),
                latency: LatencyBuckets(encoded: row.data(6) ?? Data()), flowLatency: LatencyBuckets(encoded: row.data(7) ?? Data())))
        }
        return seconds
    }

    /// Newest dead first: keyset (dead_at, id) descending, along `messages_dead_by_time`.
    func deadLetters(_ selection: DeadLetterSelection, page: PageRequest) throws -> Page<DeadLetter> {
        if selection.hasText, let letters = try newestVerified(selection, page: page) {
            return Self.page(letters, limit: page.limit) { PageCursor(key: $0.deadAt.micros, tiebreak: $0.messageID) }
        }
        var (conditions, binds) = try DeadLetterQuery.conditions(selection)
        if let after = page.after {
            conditions += " AND (m.dead_at, m.id) < (?, ?)"
            binds.append { $0.bind(after.key) }
            binds.append { $0.bind(after.tiebreak) }
        }
        let order = "ORDER BY m.dead_at DESC, m.id DESC"
        let sql: String
        if selection.hasText {
            // The text index hands over every match: the page is chosen by (dead_at, id) alone, and
            // only its rows are read in full (sorting whole rows, payloads and all, cost twice as much).
            let from = selection.type == nil ? "messages m" : "messages m JOIN events e ON e.seq = m.event_seq"
            sql = """
                SELECT \(MessageColumn.list("m")), \(EventColumn.list("e"))
                FROM messages m JOIN events e ON e.seq = m.event_seq
                WHERE m.id IN (SELECT m.id FROM \(from) WHERE \(conditions) \(order) LIMIT ?) \(order)
                """
        } else {
            sql = """
                SELECT \(MessageColumn.list("m")), \(EventColumn.list("e"))
                FROM messages m JOIN events e ON e.seq = m.event_seq
                WHERE \(conditions) \(order) LIMIT ?
                """
        }
        let query = try RawStatement(cached: db.cachedStatement(sql: sql), in: db)
        for bind in binds { bind(query) }
        query.bind(page.limit + 1)
        return Self.page(try Self.deadLetters(query), limit: page.limit) { PageCursor(key: $0.deadAt.micros, tiebreak: $0.messageID) }
    }

    /// How many of the newest candidates a text page looks for in the index, per row of the page,
    /// before it asks the index for all its matches: a text in one letter of 30 or more fills a
    /// page from them (1,632 candidates for a page of 50: a few milliseconds, measured).
    static let verifiedPerRow = 32
    /// How far apart the candidates' ids may be, per candidate, for one range of rowids.
    static let idSpreadPerCandidate: Int64 = 8

    /// A text page from the newest candidates (the other conditions, along (dead_at, id)): the
    /// index's matches among their ids (one range of rowids: a seek in each doclist, then the
    /// rows of that range only), when at least a page's worth is among the first `verifiedPerRow`
    /// × page, so a text most letters hold (the payload's usual words) never has the index hand
    /// over its whole doclist for a page. Nil when too few of them match (a rarer text: its
    /// doclist is short, the caller reads it) or their ids are too far apart (letters that died
    /// again long after they were made). Exact either way: the page is the first rows in order
    /// that match, and a dead letter's row holds its text now.
    private func newestVerified(_ selection: DeadLetterSelection, page: PageRequest) throws -> [DeadLetter]? {
        try DeadLetterQuery.check(selection)
        let matches = DeadLetterText.matches(selection)
        guard !matches.isEmpty else { return nil }
        var rest = selection
        rest.errorText = nil
        rest.payloadText = nil
        var (conditions, binds) = try DeadLetterQuery.conditions(rest)
        if let after = page.after {
            conditions += " AND (m.dead_at, m.id) < (?, ?)"
            binds.append { $0.bind(after.key) }
            binds.append { $0.bind(after.tiebreak) }
        }
        let from = selection.type == nil ? "messages m" : "messages m JOIN events e ON e.seq = m.event_seq"
        let order = "ORDER BY m.dead_at DESC, m.id DESC"
        let probe = (page.limit + 1) * Self.verifiedPerRow
        let newest = try RawStatement(cached: db.cachedStatement(sql: "SELECT m.id FROM \(from) WHERE \(conditions) \(order) LIMIT ?"), in: db)
        for bind in binds { bind(newest) }
        newest.bind(probe)
        var candidates: [Int64] = []
        try newest.query { candidates.append($0.int64(0)) }
        // Fewer than a page: the caller's way costs no more.
        guard candidates.count > page.limit, let low = candidates.min(), let high = candidates.max(),
              high - low < Int64(probe) * Self.idSpreadPerCandidate else { return nil }
        let matching = try RawStatement(cached: db.cachedStatement(sql: """
            SELECT t.rowid \(DeadLetterText.source(matches)) AND t.rowid BETWEEN ? AND ?
            """), in: db)
        for match in matches { matching.bind(match.phrase) }
        matching.bind(low)
        matching.bind(high)
        var matched = Set<Int64>()
        try matching.query { matched.insert($0.int64(0)) }
        let ids = candidates.filter(matched.contains).prefix(page.limit + 1)
        // A full page, or every candidate seen.
        guard ids.count > page.limit || candidates.count < probe else { return nil }
        let rows = try RawStatement(cached: db.cachedStatement(sql: """
            SELECT \(MessageColumn.list("m")), \(EventColumn.list("e"))
            FROM messages m JOIN events e ON e.seq = m.event_seq
            WHERE m.id IN (SELECT value FROM json_each(?)) \(order)
            """), in: db)
        rows.bind("[" + ids.map(String.init).joined(separator: ",") + "]")
        return try Self.deadLetters(rows)
    }

    /// Dead letters from rows of `MessageColumn`s then `EventColumn`s.
    private static func deadLetters(_ query: RawStatement) throws -> [DeadLetter] {
        var letters: [DeadLetter] = []
        try query.query { row in
            let message = row.columns(MessageColumn.self)
            letters.append(DeadLetter(
                messageID: message.int64(.id), queue: message.string(.queue) ?? "",
                event: EventRow.decode(row.columns(EventColumn.self, from: MessageColumn.count)),
                reason: message.string(.reason).flatMap(DeadLetterReason.init(rawValue:)) ?? .maxAttempts, attempts: message.int(.attempt),
                deliveries: message.int(.deliveries), errors: MessageColumn.errors(message), enqueuedAt: message.timestamp(.enqueuedAt),
                firstFailedAt: message.optionalTimestamp(.firstFailedAt), deadAt: message.timestamp(.deadAt),
                fingerprint: message.string(.fingerprint) ?? "", replays: message.int(.replays)))
        }
        return letters
    }

    func deadLetterCount(_ selection: DeadLetterSelection) throws -> Int {
        if DeadLetterQuery.byCause(selection) { return try deadLetterGroups(selection).reduce(0) { $0 + $1.count } }
        let query: RawStatement
        if DeadLetterQuery.byTextOnly(selection) {
            try DeadLetterQuery.check(selection)
            return try textCount(DeadLetterText.matches(selection))
        } else {
            let (conditions, binds) = try DeadLetterQuery.conditions(selection)
            // The events join only when the selection reads the event's type.
            let from = selection.type == nil ? "messages m" : "messages m JOIN events e ON e.seq = m.event_seq"
            query = try RawStatement(cached: db.cachedStatement(sql: "SELECT count(*) FROM \(from) WHERE \(conditions)"), in: db)
            for bind in binds { bind(query) }
        }
        var count = 0
        try query.query { count = $0.int(0) }
        return count
    }

    /// The dead letters whose text matches, from the index alone: it holds the dead letters and
    /// the stale rows listed in `dead_letter_text_stale` (letters no longer dead, not purged yet),
    /// so the count is its matches less the listed ones'. Listed ids close together (a recent
    /// replay of a few letters) are matched as one range of rowids and subtracted; spread out,
    /// each match is looked up in the list (~0.15-0.5 µs a match, measured). A MATCH per listed
    /// rowid would cost milliseconds each. `inRange` forces one way (tests compare them).
    func textCount(_ matches: [DeadLetterText.Match], inRange: Bool? = nil) throws -> Int {
        let source = DeadLetterText.source(matches)
        func count(_ sql: String, _ values: [Int64] = []) throws -> Int {
            let query = try RawStatement(cached: db.cachedStatement(sql: sql), in: db)
            for match in matches { query.bind(match.phrase) }
            for value in values { query.bind(value) }
            var count = 0
            try query.query { count = $0.int(0) }
            return count
        }
        let stale = DeadLetterText.staleTable
        var listed: (low: Int64, high: Int64)?
        let bounds = try RawStatement(cached: db.cachedStatement(sql: """
            SELECT (SELECT min(id) FROM \(stale)), (SELECT max(id) FROM \(stale)), (SELECT max(id) FROM messages)
            """), in: db)
        var newest: Int64 = 0
        try bounds.query { row in
            if !row.isNull(0) { listed = (row.int64(0), row.int64(1)) }
            newest = row.isNull(2) ? 0 : row.int64(2)
        }
        guard let listed else { return try count("SELECT count(*) \(source)") }
        if inRange ?? ((listed.high - listed.low) * 8 <= newest) {
            return try count("SELECT count(*) \(source)")
                - count("""
                    SELECT count(*) \(source) AND t.rowid BETWEEN ? AND ?
                        AND EXISTS (SELECT 1 FROM \(stale) s WHERE s.id = t.rowid)
                    """, [listed.low, listed.high])
        }
        return try count("SELECT count(*) \(source) AND NOT EXISTS (SELECT 1 FROM \(stale) s WHERE s.id = t.rowid)")
    }

    func deadLetterGroups(_ selection: DeadLetterSelection) throws -> [DeadLetterGroup] {
        if DeadLetterQuery.byCause(selection) {
            // A row per cause, kept in step with the dead letters by every transaction.
            var conditions = ["count > 0"]
            var binds: [(RawStatement) -> Void] = []
            func add(_ column: String, _ value: String?) {
                guard let value else { return }
                conditions.append("\(column) = ?")
                binds.append { $0.bind(value) }
            }
            add("queue", selection.queue)
            add("type", selection.type)
            add("fingerprint", selection.fingerprint)
            let query = try RawStatement(cached: db.cachedStatement(sql: """
                SELECT queue, type, fingerprint, count, first_dead_at, last_dead_at, failed_again
                FROM dead_letter_causes WHERE \(conditions.joined(separator: " AND ")) ORDER BY count DESC, last_dead_at DESC
                """), in: db)
            for bind in binds { bind(query) }
            return try Self.groups(query)
        }
        let (conditions, binds) = try DeadLetterQuery.conditions(selection)
        let query = try RawStatement(cached: db.cachedStatement(sql: """
            SELECT m.queue, e.type, m.fingerprint, count(*), min(m.dead_at), max(m.dead_at), sum(m.replays > 0)
            FROM messages m JOIN events e ON e.seq = m.event_seq
            WHERE \(conditions) GROUP BY m.queue, e.type, m.fingerprint ORDER BY count(*) DESC, max(m.dead_at) DESC
            """), in: db)
        for bind in binds { bind(query) }
        return try Self.groups(query)
    }

    /// Groups from rows of queue, type, fingerprint, count, first, last, failed again.
    private static func groups(_ query: RawStatement) throws -> [DeadLetterGroup] {
        var groups: [DeadLetterGroup] = []
        try query.query { row in
            groups.append(DeadLetterGroup(
                queue: row.string(0) ?? "", type: row.string(1) ?? "", fingerprint: row.string(2) ?? "", count: row.int(3),
                firstDeadAt: Timestamp(micros: row.int64(4)), lastDeadAt: Timestamp(micros: row.int64(5)), failedAgain: row.int(6)))
        }
        return groups
    }

    /// Delivery order: keyset (ready_at, id), along `messages_by_queue_state`.
    func messages(queue: String, state: MessageState, page: PageRequest) throws -> Page<MessageInfo> {
        let after = page.after.map { _ in "AND (m.ready_at, m.id) > (?, ?)" } ?? ""
        let query = try RawStatement(cached: db.cachedStatement(sql: """
            SELECT \(MessageColumn.list("m")), \(EventColumn.list("e"))
            FROM messages m JOIN events e ON e.seq = m.event_seq
            WHERE m.queue = ? AND m.state = ? \(after) ORDER BY m.ready_at, m.id LIMIT ?
            """), in: db)
        query.bind(queue)
        query.bind(state.rawValue)
        if let cursor = page.after {
            query.bind(cursor.key)
            query.bind(cursor.tiebreak)
        }
        query.bind(page.limit + 1)
        var messages: [MessageInfo] = []
        try query.query { row in
            let message = row.columns(MessageColumn.self)
            messages.append(MessageInfo(
                id: message.int64(.id), queue: message.string(.queue) ?? "", state: MessageState(rawValue: message.int(.state)) ?? state,
                readyAt: message.timestamp(.readyAt), enqueuedAt: message.timestamp(.enqueuedAt), attempt: message.int(.attempt),
                deliveries: message.int(.deliveries), errors: MessageColumn.errors(message),
                event: EventRow.decode(row.columns(EventColumn.self, from: MessageColumn.count))))
        }
        return Self.page(messages, limit: page.limit) { PageCursor(key: $0.readyAt.micros, tiebreak: $0.id) }
    }

    func audit(page: PageRequest) throws -> Page<AuditRecord> {
        let after = page.after.map { _ in "WHERE seq < ?" } ?? ""
        let query = try RawStatement(cached: db.cachedStatement(sql: """
            SELECT \(AuditColumn.list()) FROM audit \(after) ORDER BY seq DESC LIMIT ?
            """), in: db)
        if let cursor = page.after { query.bind(cursor.key) }
        query.bind(page.limit + 1)
        var records: [AuditRecord] = []
        try query.query { row in
            let audit = row.columns(AuditColumn.self)
            let actor = audit.string(.actor) ?? ""
            records.append(AuditRecord(
                seq: audit.int64(.seq), at: audit.timestamp(.at), actor: Operator(parsing: actor) ?? Operator(user: actor, host: ""),
                action: audit.string(.action).flatMap(AuditAction.init(rawValue:)) ?? .publish, detail: audit.string(.detail) ?? "",
                count: audit.int(.count)))
        }
        return Self.page(records, limit: page.limit) { PageCursor(key: $0.seq, tiebreak: 0) }
    }

    /// A page of up to `limit` from `limit + 1` rows read: the extra row says a next page exists.
    static func page<Item>(_ rows: [Item], limit: Int, cursor: (Item) -> PageCursor) -> Page<Item> {
        guard rows.count > limit else { return Page(items: rows, next: nil) }
        let items = Array(rows.prefix(limit))
        return Page(items: items, next: items.last.map(cursor))
    }

    /// An hour of 20 queues is 3,600 rows (`CPUTick`), read whole when the CPU screen opens its hour.
    func cpuSamples(since: Timestamp) throws -> [CPUSample] { try CPUTick.samples(since: since, in: db) }

    func cpuSampleCount() throws -> Int {
        try Int.fetchOne(db.cachedStatement(sql: "SELECT coalesce(sum(count), 0) FROM cpu_ticks")) ?? 0
    }

    /// The log has no index by time (each index is one more write per event), but its rows are
    /// written in time order, give or take the moments between a step and its commit: the rows of
    /// the span are found by bisecting the primary key on `at`, with `runMargin` either side, and
    /// only those rows are read.
    func outcomes(from: Timestamp, to: Timestamp, limit: Int) throws -> [LifecycleRecord] {
        guard to > from, let last = try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(seq) FROM log")),
              let first = try Int64.fetchOne(db.cachedStatement(sql: "SELECT min(seq) FROM log")) else { return [] }
        let probe = try RawStatement(cached: db.cachedStatement(sql: "SELECT at FROM log WHERE seq >= ? ORDER BY seq LIMIT 1"), in: db)
        /// The first row whose `at` (that of the next row present, rows deleted or not) is at or after `time`.
        func firstRow(atOrAfter time: Timestamp) throws -> Int64 {
            var low = first, high = last + 1
            while low < high {
                let middle = low + (high - low) / 2
                probe.bind(middle)
                var at = Int64.max
                try probe.queryWhile { row in at = row.int64(0); return false }
                if at < time.micros { low = middle + 1 } else { high = middle }
            }
            return low
        }
        let lowRow = try firstRow(atOrAfter: from - Self.runMargin)
        let highRow = try firstRow(atOrAfter: to + Self.runMargin)
        guard highRow > lowRow else { return [] }
        let query = try RawStatement(cached: db.cachedStatement(sql: """
            SELECT \(RecordQuery.select) FROM \(RecordQuery.from) WHERE l.seq >= ? AND l.seq < ? ORDER BY l.seq
            """), in: db)
        query.bind(lowRow)
        query.bind(highRow)
        var found: [LifecycleRecord] = []
        var row: [LifecycleRecord] = []
        try query.queryWhile { statement in
            row.removeAll(keepingCapacity: true)
            RecordQuery.decode(statement, into: &row)
            for record in row where Self.outcomeKinds.contains(record.kind) && record.queue != nil && record.time >= from && record.time < to {
                found.append(record)
            }
            return found.count < limit
        }
        return found
    }

    /// How far a log row's time may lie from its neighbours' (a run's outcome is committed after it finished).
    static let runMargin: Duration = .seconds(2)
    static let outcomeKinds: Set<LifecycleKind> = [.succeeded, .failed, .deadLettered]

    func runtimes() throws -> [RuntimeInfo] {
        try SQLiteStore.runtimes(db)
    }

    func events(correlationID: String) throws -> [CloudEvent] {
        let query = try RawStatement(
            cached: db.cachedStatement(sql: """
                SELECT \(EventColumn.list("e")) FROM events e WHERE e.correlation_id = ? ORDER BY e.seq
                """), in: db)
        query.bind(correlationID)
        var events: [CloudEvent] = []
        try query.query { events.append(EventRow.decode($0.columns(EventColumn.self))) }
        return events
    }

    func events(matching query: EventQuery, after seq: Int64, limit: Int) throws -> [StoredEvent] {
        try storedEvents(query, cursor: seq, forward: true, limit: limit)
    }

    func events(matching query: EventQuery, before seq: Int64, limit: Int) throws -> [StoredEvent] {
        try storedEvents(query, cursor: seq, forward: false, limit: limit)
    }

    private func storedEvents(_ query: EventQuery, cursor: Int64, forward: Bool, limit: Int) throws -> [StoredEvent] {
        let (sql, bindings) = Self.storedEventsQuery(query, cursor: cursor, forward: forward)
        let statement = try RawStatement(cached: db.cachedStatement(sql: sql), in: db)
        for bind in bindings { bind(statement) }
        statement.bind(limit)
        var events: [StoredEvent] = []
        try statement.query { row in
            let columns = row.columns(EventColumn.self)
            events.append(StoredEvent(seq: columns.int64(.seq), publishedAt: columns.timestamp(.publishedAt), event: EventRow.decode(columns)))
        }
        return events
    }

    /// The SQL of `events(matching:)` (its last parameter is the limit) and the bindings before it;
    /// tests read its query plan.
    static func storedEventsQuery(_ query: EventQuery, cursor: Int64, forward: Bool) -> (sql: String, bindings: [(RawStatement) -> Void]) {
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
            SELECT \(EventColumn.list("e")) FROM events e
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY e.seq \(forward ? "ASC" : "DESC") LIMIT ?
            """
        return (sql, bindings)
    }
}
