import Foundation

/// The columns of a table or query, in one definition: the SQL column list and the positions a
/// decoder reads are the same cases, so they cannot drift apart. Raw values are the positions
/// (0, 1, 2… in declaration order; `SQLiteColumnsTests` checks it).
protocol ColumnSet: CaseIterable, RawRepresentable where RawValue == Int32, AllCases == [Self] {
    /// The column's SQL (a name, or an expression for a query).
    var sql: String { get }
}

extension ColumnSet {
    /// The columns as a select list, with `alias.` before each name.
    static func list(_ alias: String? = nil) -> String {
        allCases.map { column in alias.map { "\($0).\(column.sql)" } ?? column.sql }.joined(separator: ", ")
    }
    static var count: Int32 { Int32(allCases.count) }
}

extension MessageState {
    /// The state as a SQL literal (a constant, so partial indexes on a state apply).
    var sql: String { String(rawValue) }
}

/// A row of a query result by position: a SQLite statement's current row (`RawStatement`) or a
/// PostgreSQL row (`PostgresRowReader`), so one decoder per table serves both backends.
protocol ColumnReader {
    func int64(_ column: Int32) -> Int64
    func optionalInt64(_ column: Int32) -> Int64?
    func string(_ column: Int32) -> String?
    func data(_ column: Int32) -> Data?
}

extension ColumnReader {
    func int(_ column: Int32) -> Int { Int(int64(column)) }
}

/// Where a row's values are bound, in order: a SQLite statement or a PostgreSQL query's bindings.
protocol ParameterBinder {
    func bind(_ value: Int64)
    func bind(_ value: Int64?)
    func bind(_ value: String?)
    func bind(_ value: Data?)
}

extension ParameterBinder {
    func bind(_ value: Int) { bind(Int64(value)) }
    func bind(_ value: Int?) { bind(value.map(Int64.init)) }
    func bind(_ value: String) { bind(Optional(value)) }
}

/// A query's columns read from `base` on: `row[column]`.
struct Columns<C: ColumnSet, Reader: ColumnReader> {
    let row: Reader
    let base: Int32

    func int64(_ column: C) -> Int64 { row.int64(base + column.rawValue) }
    func int(_ column: C) -> Int { row.int(base + column.rawValue) }
    func optionalInt64(_ column: C) -> Int64? { row.optionalInt64(base + column.rawValue) }
    func string(_ column: C) -> String? { row.string(base + column.rawValue) }
    func data(_ column: C) -> Data? { row.data(base + column.rawValue) }
    func timestamp(_ column: C) -> Timestamp { Timestamp(micros: int64(column)) }
    func optionalTimestamp(_ column: C) -> Timestamp? { optionalInt64(column).map(Timestamp.init(micros:)) }
}

extension ColumnReader {
    func columns<C: ColumnSet>(_ set: C.Type, from base: Int32 = 0) -> Columns<C, Self> { Columns(row: self, base: base) }
}

// MARK: events

/// `events`: every column, inserted and read in this order.
enum EventColumn: Int32, ColumnSet {
    case seq, id, source, type, time, subject, datacontenttype, dataschema, correlationID, causationID, traceparent, extensions
    case data, dataKind, publishedAt, routed, logSeq, flowAt

    var sql: String {
        switch self {
        case .seq: return "seq"
        case .id: return "id"
        case .source: return "source"
        case .type: return "type"
        case .time: return "time"
        case .subject: return "subject"
        case .datacontenttype: return "datacontenttype"
        case .dataschema: return "dataschema"
        case .correlationID: return "correlation_id"
        case .causationID: return "causation_id"
        case .traceparent: return "traceparent"
        case .extensions: return "extensions"
        case .data: return "data"
        case .dataKind: return "data_kind"
        case .publishedAt: return "published_at"
        case .routed: return "routed"
        case .logSeq: return "log_seq"
        case .flowAt: return "flow_at"
        }
    }
}

/// How an event's data is stored (`events.data_kind`).
enum DataKind: Int {
    case none = 0, json = 1, binary = 2, text = 3
}

/// A new event, with the seq its tick assigned.
struct EventRow: BatchRow {
    static let table = "events"
    static let columns = EventColumn.allCases
    static let perStatement = 16

    var seq: Int64
    var event: CloudEvent
    var extensions: String?
    var data: Data?
    var dataKind: DataKind
    var publishedAt: Int64
    var routed: Bool
    /// The log row that records the event's publication (set when that row is written).
    var logSeq: Int64?
    /// A caused event: when its flow's root was published (nil: it is a root).
    var flowAt: Int64?

    init(seq: Int64, event: CloudEvent, publishedAt: Timestamp, routed: Bool, flowAt: Timestamp? = nil) {
        self.seq = seq
        self.event = event
        self.publishedAt = publishedAt.micros
        self.routed = routed
        self.flowAt = flowAt?.micros
        if !event.extensions.isEmpty {
            // Typed JSON (`"priority":5`, `"flag":true`): the value's CloudEvents type is kept.
            extensions = "{" + event.extensions.keys.sorted().map { JSONText.quote($0) + ":" + event.extensions[$0]!.jsonText }.joined(separator: ",") + "}"
        }
        switch event.data {
        case nil: (dataKind, data) = (.none, nil)
        case .json(let bytes)?: (dataKind, data) = (.json, bytes)
        case .binary(let bytes)?: (dataKind, data) = (.binary, bytes)
        case .text(let text)?: (dataKind, data) = (.text, Data(text.utf8))
        }
    }

    func bind(_ column: EventColumn, to statement: some ParameterBinder) {
        switch column {
        case .seq: statement.bind(seq)
        case .id: statement.bind(event.id)
        case .source: statement.bind(event.source)
        case .type: statement.bind(event.type)
        case .time: statement.bind(event.time?.micros)
        case .subject: statement.bind(event.subject)
        case .datacontenttype: statement.bind(event.datacontenttype)
        case .dataschema: statement.bind(event.dataschema)
        case .correlationID: statement.bind(event.correlationID)
        case .causationID: statement.bind(event.causationID)
        case .traceparent: statement.bind(event.traceparent)
        case .extensions: statement.bind(extensions)
        case .data: statement.bind(data)
        case .dataKind: statement.bind(dataKind.rawValue)
        case .publishedAt: statement.bind(publishedAt)
        case .routed: statement.bind(routed ? 1 : 0)
        case .logSeq: statement.bind(logSeq)
        case .flowAt: statement.bind(flowAt)
        }
    }

    /// The event in a row of `EventColumn.list(…)` read from `columns.base`.
    static func decode(_ columns: Columns<EventColumn, some ColumnReader>) -> CloudEvent {
        var extensions: [String: ExtensionValue] = [:]
        if let text = columns.string(.extensions), let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] {
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
        if let data = columns.data(.data) {
            switch DataKind(rawValue: columns.int(.dataKind)) {
            case .binary: payload = .binary(data)
            case .text: payload = .text(String(decoding: data, as: UTF8.self))
            default: payload = .json(data)
            }
        }
        var event = CloudEvent(
            id: columns.string(.id) ?? "", source: columns.string(.source) ?? "", type: columns.string(.type) ?? "",
            time: columns.optionalTimestamp(.time), subject: columns.string(.subject), datacontenttype: nil,
            dataschema: columns.string(.dataschema), data: payload, correlationID: columns.string(.correlationID),
            causationID: columns.string(.causationID), traceparent: columns.string(.traceparent), extensions: extensions)
        // Set after init, which would default it from the payload.
        event.datacontenttype = columns.string(.datacontenttype)
        return event
    }
}

// MARK: messages

/// `messages`: every column, read in this order (inserts write the first eight).
enum MessageColumn: Int32, ColumnSet {
    case id, queue, eventSeq, state, readyAt, enqueuedAt, attempt, deliveries, errors, firstFailedAt, deadAt, reason, fingerprint, replays, claimedBy

    var sql: String {
        switch self {
        case .id: return "id"
        case .queue: return "queue"
        case .eventSeq: return "event_seq"
        case .state: return "state"
        case .readyAt: return "ready_at"
        case .enqueuedAt: return "enqueued_at"
        case .attempt: return "attempt"
        case .deliveries: return "deliveries"
        case .errors: return "errors"
        case .firstFailedAt: return "first_failed_at"
        case .deadAt: return "dead_at"
        case .reason: return "reason"
        case .fingerprint: return "fingerprint"
        case .replays: return "replays"
        case .claimedBy: return "claimed_by"
        }
    }

    /// The columns a new message is inserted with; the others start at their defaults.
    static let inserted: [MessageColumn] = [.id, .queue, .eventSeq, .state, .readyAt, .enqueuedAt, .attempt, .deliveries, .claimedBy]

    /// Appends `{attempt, at, error}` (binding `at`, `error`) to a message's error history.
    static let appendError = "errors = json_insert(errors, '$[#]', json_object('attempt', attempt, 'at', ?, 'error', ?))"

    static func errors(_ columns: Columns<MessageColumn, some ColumnReader>) -> [AttemptError] {
        (try? JSONDecoder().decode([AttemptError].self, from: Data((columns.string(.errors) ?? "[]").utf8))) ?? []
    }
}

extension NewMessage: BatchRow {
    static let table = "messages"
    static let columns = MessageColumn.inserted
    static let perStatement = 16

    func bind(_ column: MessageColumn, to statement: some ParameterBinder) {
        switch column {
        case .id: statement.bind(id)
        case .queue: statement.bind(queue)
        case .eventSeq: statement.bind(eventSeq)
        case .state: statement.bind(state.rawValue)
        case .readyAt: statement.bind(readyAt.micros)
        case .enqueuedAt: statement.bind(enqueuedAt.micros)
        case .attempt: statement.bind(attempt)
        case .deliveries: statement.bind(deliveries)
        case .claimedBy: statement.bind(claimedBy)
        case .errors, .firstFailedAt, .deadAt, .reason, .fingerprint, .replays: preconditionFailure("not inserted")
        }
    }
}

/// The SQL of a `DeadLetterSelection` over `messages m JOIN events e`: one definition for every
/// query and operation that selects dead letters.
enum DeadLetterQuery {
    /// Whether `dead_letter_causes` answers counts and groups for this selection: by queue, type
    /// and fingerprint only (other conditions read the dead letters themselves).
    static func byCause(_ selection: DeadLetterSelection) -> Bool {
        selection.messageIDs == nil && selection.deadSince == nil && selection.deadUntil == nil && selection.failedAgain == nil
            && !selection.hasText
    }

    /// Whether the text index alone answers a count: a text condition and no other.
    static func byTextOnly(_ selection: DeadLetterSelection) -> Bool {
        var rest = selection
        rest.errorText = nil
        rest.payloadText = nil
        return selection.hasText && rest == .all
    }

    /// Throws the selection's `problem` (a text too short for the index), so it is never run.
    static func check(_ selection: DeadLetterSelection) throws {
        if let problem = selection.problem { throw StoreError(problem) }
    }

    static func conditions(_ selection: DeadLetterSelection) throws -> (sql: String, binds: [(RawStatement) -> Void]) {
        try check(selection)
        var conditions = ["m.state = \(MessageState.dead.sql)"]
        var binds: [(RawStatement) -> Void] = []
        func add(_ condition: String, _ bind: @escaping (RawStatement) -> Void) {
            conditions.append(condition)
            binds.append(bind)
        }
        if let queue = selection.queue { add("m.queue = ?") { $0.bind(queue) } }
        if let ids = selection.messageIDs {
            let list = "[" + ids.map(String.init).joined(separator: ",") + "]"
            add("m.id IN (SELECT value FROM json_each(?))") { $0.bind(list) }
        }
        if let type = selection.type { add("e.type = ?") { $0.bind(type) } }
        if let fingerprint = selection.fingerprint { add("m.fingerprint = ?") { $0.bind(fingerprint) } }
        if let failedAgain = selection.failedAgain { conditions.append(failedAgain ? "m.replays > 0" : "m.replays = 0") }
        if let since = selection.deadSince { add("m.dead_at >= ?") { $0.bind(since.micros) } }
        if let until = selection.deadUntil { add("m.dead_at < ?") { $0.bind(until.micros) } }
        for match in DeadLetterText.matches(selection) {
            // The index drives: it hands over the matching ids, each looked up by primary key.
            add("m.id IN (SELECT rowid FROM \(match.table) WHERE \(match.table) MATCH ?)") { $0.bind(match.phrase) }
        }
        return (conditions.joined(separator: " AND "), binds)
    }
}

/// `dead_letter_errors` and `dead_letter_payloads`: the text index of the dead letters (FTS5,
/// trigram tokenizer), a table per column so a payload text never reads the errors' trigrams
/// (nor an error text the payloads'), each with a row per dead letter (NULL where it has no such
/// text), the message id its rowid; written by the transactions that make a dead letter (a letter
/// that dies again replaces its rows: its text now). A letter that is replayed, edited or deleted
/// keeps its rows for a while, listed in `dead_letter_text_stale` (deleting from FTS5 costs as much
/// as the rest of a replay), until a writer purges them: the index holds the dead letters and the
/// listed stale rows, never a dead letter's old text, and every query counts only the dead
/// letters' rows (`messages.state = 3`, or not listed). Their own copy of the text (not an
/// external-content table): a row leaves by its rowid alone, whatever has happened to the message
/// and event since.
enum DeadLetterText {
    static let errorsTable = "dead_letter_errors"
    static let payloadsTable = "dead_letter_payloads"
    static let tables = [errorsTable, payloadsTable]
    static let staleTable = "dead_letter_text_stale"
    static let markStale = "INSERT OR IGNORE INTO \(staleTable) (id) VALUES (?)"
    static let unmarkStale = "DELETE FROM \(staleTable) WHERE id = ?"

    /// What is indexed of one dead letter (binding its message id): every attempt's error, one per
    /// line, and the payload when it is JSON or text, each up to `indexedTextLength` characters.
    static let text = """
        SELECT substr((SELECT group_concat(json_extract(a.value, '$.error'), char(10)) FROM json_each(m.errors) a), 1, \(DeadLetterSelection.indexedTextLength)),
            CASE WHEN e.data_kind IN (\(DataKind.json.rawValue), \(DataKind.text.rawValue)) THEN substr(CAST(e.data AS TEXT), 1, \(DeadLetterSelection.indexedTextLength)) END
        FROM messages m JOIN events e ON e.seq = m.event_seq WHERE m.id = ?
        """

    /// Bind the message id and its errors, or its payload. OR REPLACE: a letter is never indexed
    /// twice, even past a row left by a bug (a failed insert would fail the whole tick, again and again).
    static let insertErrors = "INSERT OR REPLACE INTO \(errorsTable) (rowid, errors) VALUES (?, ?)"
    static let insertPayload = "INSERT OR REPLACE INTO \(payloadsTable) (rowid, payload) VALUES (?, ?)"

    static let deletes = tables.map { "DELETE FROM \($0) WHERE rowid = ?" }

    /// One text condition: its table and the FTS5 query of its text.
    struct Match: Equatable {
        var table: String
        var phrase: String
    }

    /// The selection's text conditions, each one phrase in its column's table. Inside a phrase
    /// nothing is syntax (`AND`, `*`, `NEAR(`, `:` are text) but the closing quote, so a `"` is
    /// doubled; with the trigram tokenizer a phrase is a case-insensitive substring.
    static func matches(_ selection: DeadLetterSelection) -> [Match] {
        var matches: [Match] = []
        if let text = selection.errorText { matches.append(Match(table: errorsTable, phrase: phrase(text))) }
        if let text = selection.payloadText { matches.append(Match(table: payloadsTable, phrase: phrase(text))) }
        return matches
    }

    /// `FROM first t WHERE t.first MATCH ?`, and each other match as `t.rowid IN` its own: the rows
    /// (as `t`) every match holds; bind the phrases in order, then what the caller adds after it.
    static func source(_ matches: [Match]) -> String {
        let first = matches[0].table
        return "FROM \(first) t WHERE t.\(first) MATCH ?" + matches.dropFirst().map { " AND t.rowid IN (SELECT rowid FROM \($0.table) WHERE \($0.table) MATCH ?)" }.joined()
    }

    static func phrase(_ text: String) -> String { "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}

/// What a claim reads of a message (the event's columns follow).
enum ClaimColumn: Int32, ColumnSet {
    case id, attempt, deliveries, enqueuedAt, eventSeq, replays

    var sql: String {
        switch self {
        case .id: return "id"
        case .attempt: return "attempt"
        case .deliveries: return "deliveries"
        case .enqueuedAt: return "enqueued_at"
        case .eventSeq: return "event_seq"
        case .replays: return "replays"
        }
    }
}

extension ClaimCandidate {
    /// A claim query's row from `base` on: the message's `ClaimColumn`s, then its event's `EventColumn`s.
    init(row: some ColumnReader, from base: Int32 = 0) {
        let message = row.columns(ClaimColumn.self, from: base)
        let event = row.columns(EventColumn.self, from: base + ClaimColumn.count)
        self.init(
            messageID: message.int64(.id), attempt: message.int(.attempt), deliveries: message.int(.deliveries),
            enqueuedAt: message.timestamp(.enqueuedAt), eventSeq: message.int64(.eventSeq), replays: message.int(.replays),
            publishedAt: event.timestamp(.publishedAt), flowAt: event.optionalTimestamp(.flowAt), event: EventRow.decode(event))
    }
}

// MARK: log

/// `log`: a `LifecycleRow`'s columns (its one mapping). Readers select `l.seq`, these, then the
/// event's `RecordEventColumn`s.
enum LogColumn: Int32, ColumnSet {
    case seq, at, steps, eventSeq, queue, messageID, attempt, duration, error, errorSteps, detail, detailSteps

    var sql: String {
        switch self {
        case .seq: return "seq"
        case .at: return "at"
        case .steps: return "steps"
        case .eventSeq: return "event_seq"
        case .queue: return "queue"
        case .messageID: return "message_id"
        case .attempt: return "attempt"
        case .duration: return "duration_us"
        case .error: return "error"
        case .errorSteps: return "error_steps"
        case .detail: return "detail"
        case .detailSteps: return "detail_steps"
        }
    }

    /// The rows `log_by_event` indexes: all but an event's publication row, which its event
    /// points at (`events.log_seq`), so a delivered event adds one index entry, not two.
    static let laterRows = "steps & \(1 << LifecycleKind.published.step) = 0"

    /// The steps of trouble and of operators' actions: failures, retries, dead letters, lease
    /// expiries, duplicates, rejections, redrives, edits and deletes. Rare in a healthy pipeline,
    /// and what on-call filters for, so `log_rare_steps` indexes the rows that have one: a row of
    /// the common steps (published to succeeded, batch-released) adds nothing to it.
    static let rareSteps = [LifecycleKind.rejected, .duplicate, .redriven, .leaseExpired, .failed, .retryScheduled, .deadLettered, .deleted, .edited]
        .reduce(0) { $0 | 1 << $1.step }
    /// The rows `log_rare_steps` indexes (the literal its definition and every query using it share).
    static let hasRareStep = "steps & \(rareSteps) != 0"

    /// Which steps of a row have its queue, its error and its detail, as `LifecycleRow.forEachEntry`
    /// hands them out: a row of one step gives that step every field; in a row of several, the
    /// queue goes to the message's steps and the error and detail to the steps they name.
    static let stepsWithQueue = "CASE WHEN l.steps & (l.steps - 1) = 0 THEN l.steps ELSE l.steps & \(messageSteps) END"
    static let stepsWithError = "CASE WHEN l.steps & (l.steps - 1) = 0 THEN l.steps ELSE l.error_steps END"
    static let stepsWithDetail = "CASE WHEN l.steps & (l.steps - 1) = 0 THEN l.steps ELSE l.detail_steps END"
    private static let messageSteps = LifecycleKind.allCases.filter { $0.scope != .event }.reduce(0) { $0 | 1 << $1.step }

    /// How many records the rows hold: the sum of their steps' bits (SQLite has no popcount).
    static let recordCount = "sum(" + (0..<LifecycleKind.allCases.count).map { "(steps >> \($0) & 1)" }.joined(separator: " + ") + ")"
}

/// The event's part of a record (stored once, in `events`).
enum RecordEventColumn: Int32, ColumnSet {
    case id, type, correlationID

    var sql: String {
        switch self {
        case .id: return "id"
        case .type: return "type"
        case .correlationID: return "correlation_id"
        }
    }
}

/// A log row with the seq its transaction assigned.
struct LogRow: BatchRow {
    static let table = "log"
    static let columns = LogColumn.allCases
    /// The log is most of the rows the engine writes (two per event).
    static let perStatement = 32

    var seq: Int64
    var row: LifecycleRow

    func bind(_ column: LogColumn, to statement: some ParameterBinder) {
        switch column {
        case .seq: statement.bind(seq)
        case .at: statement.bind(row.at.micros)
        case .steps: statement.bind(row.steps)
        case .eventSeq: statement.bind(row.eventSeq)
        case .queue: statement.bind(row.queue)
        case .messageID: statement.bind(row.messageID)
        case .attempt: statement.bind(row.attempt)
        case .duration: statement.bind(row.duration?.micros)
        case .error: statement.bind(row.error)
        case .errorSteps: statement.bind(row.errorSteps)
        case .detail: statement.bind(row.detail)
        case .detailSteps: statement.bind(row.detailSteps)
        }
    }

    static func decode(_ columns: Columns<LogColumn, some ColumnReader>) -> LogRow {
        LogRow(seq: columns.int64(.seq), row: LifecycleRow(
            at: columns.timestamp(.at), eventSeq: columns.int64(.eventSeq), steps: columns.int(.steps), queue: columns.string(.queue),
            messageID: columns.optionalInt64(.messageID), attempt: columns.optionalInt64(.attempt).map { Int($0) },
            duration: columns.optionalInt64(.duration).map { .microseconds($0) }, error: columns.string(.error),
            errorSteps: columns.int(.errorSteps), detail: columns.string(.detail), detailSteps: columns.int(.detailSteps)))
    }
}

/// A lifecycle record query: the log's columns, then the event's; each row gives its records.
enum RecordQuery {
    static let select = "\(LogColumn.list("l")), \(RecordEventColumn.list("e"))"
    static let from = "log l JOIN events e ON e.seq = l.event_seq"

    static func decode(_ row: some ColumnReader, into records: inout [LifecycleRecord]) {
        let event = row.columns(RecordEventColumn.self, from: LogColumn.count)
        let stored = LogRow.decode(row.columns(LogColumn.self))
        let id = event.string(.id) ?? "", type = event.string(.type), correlationID = event.string(.correlationID)
        var index = 0
        stored.row.forEachEntry { entry in
            records.append(LifecycleRecord(
                seq: LogPosition.record(row: stored.seq, index: index), entry: entry, eventID: id, eventType: type,
                correlationID: correlationID))
            index += 1
        }
    }
}

// MARK: audit

enum AuditColumn: Int32, ColumnSet {
    case seq, at, actor, action, detail, count

    var sql: String {
        switch self {
        case .seq: return "seq"
        case .at: return "at"
        case .actor: return "actor"
        case .action: return "action"
        case .detail: return "detail"
        case .count: return "count"
        }
    }
}

// MARK: queues

extension QueueStats {
    /// The declared queues with their counters, read alike on both backends (`init(declared:)`).
    static let declaredQuery = """
        SELECT q.name, q.window_us, q.concurrency, q.max_attempts, q.runtime, q.declared_at, c.enqueued, c.succeeded, c.failed, c.retried,
            c.dead_lettered, c.duplicates, c.lease_expired
        FROM queues q LEFT JOIN queue_counters c ON c.queue = q.name
        """

    /// A row of `declaredQuery`.
    init(declared row: some ColumnReader) {
        self.init(
            name: row.string(0) ?? "", mode: row.optionalInt64(1).map { .batch(every: .microseconds($0)) } ?? .stream,
            concurrency: row.int(2), maxAttempts: row.int(3))
        runtime = row.string(4)
        declaredAt = row.optionalInt64(5).map(Timestamp.init(micros:))
        enqueued = row.int64(6)
        succeeded = row.int64(7)
        failed = row.int64(8)
        retried = row.int64(9)
        deadLettered = row.int64(10)
        duplicates = row.int64(11)
        leaseExpired = row.int64(12)
    }

    /// A queue messages were routed to by name only.
    static func undeclared(_ name: String) -> QueueStats { QueueStats(name: name, mode: nil, concurrency: 0, maxAttempts: 0) }

    /// The queue's live messages in `state`: how many, how many of them ready only `later` (a
    /// scheduled retry), the oldest one's enqueue time, and how many are poison (ready after a
    /// first attempt, or in flight for a second or later).
    mutating func add(live state: MessageState, count: Int, later: Int, oldest: Timestamp?, poison: Int) {
        self.poison += poison
        guard count > 0 else { return }
        if let oldest, oldest < oldestEnqueuedAt ?? Timestamp(micros: .max) { oldestEnqueuedAt = oldest }
        switch state {
        case .held:
            held = count
            oldestHeldAt = oldest
        case .ready:
            scheduled = later
            ready = count - later
        case .inFlight: inFlight = count
        case .dead: break
        }
    }
}

// MARK: runtimes

extension RuntimeInfo {
    /// Every node, by name, the running first, the latest heartbeat first (`init(row:)`).
    static let listQuery = """
        SELECT name, pid, host, store, started_at, heartbeat_at, stopped_at, done, done_rate FROM runtimes
        ORDER BY name, stopped_at IS NOT NULL, heartbeat_at DESC
        """

    /// A row of `listQuery`.
    init(row: some ColumnReader) {
        self.init(
            name: row.string(0) ?? "", pid: Int32(truncatingIfNeeded: row.int64(1)), host: row.string(2) ?? "", store: row.string(3) ?? "",
            startedAt: Timestamp(micros: row.int64(4)), heartbeatAt: Timestamp(micros: row.int64(5)),
            stoppedAt: row.optionalInt64(6).map(Timestamp.init(micros:)))
        throughput = NodeThroughput(done: row.int64(7), perSecond: Double(row.int64(8)) / 1000)
    }

    /// `done_rate`: thousandths of an outcome per second.
    var doneRate: Int64 { Int64(((throughput?.perSecond ?? 0) * 1000).rounded()) }
}
