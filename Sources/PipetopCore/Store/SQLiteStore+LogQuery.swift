import GRDB

// The log read through a `LogQuery`: the Events filter and `pipetop tail --corr/--queue/--kind`.
//
// Each read takes the query's best path: a correlation id goes through `events_by_correlation`
// to its flow's rows (`log_seq`, `log_by_event`); a kind of trouble (failed, dead-lettered…)
// walks `log_rare_steps`; anything else walks the log by seq, a bounded span of rows per read.
// In SQL, each row's matching steps are worked out from its columns (`LogQuerySQL.matched`), so
// rows without a match are skipped and counts need no decoding; the records of a page are then
// decoded and kept by `LogQuery.matches`, the one definition, which the SQL must agree with
// (the conformance suite checks every count against what paging finds).

/// What a backend's snapshot gives the log queries below, which are the same on every backend.
protocol LogQueryReader {
    var dialect: SQLDialect { get }
    /// The newest log row's seq (0: none), in O(1).
    func newestLogRow() throws -> Int64
    /// Counts the rows of `sql` (for `LogPlan.choose`).
    func count(_ sql: String, _ parameters: SQLParameters) throws -> Int
    /// Reads the statement's rows until `row` returns false.
    func read(_ statement: LogStatement, _ row: (any ColumnReader) throws -> Bool) throws
}

extension LogQueryReader {
    func log(matching query: LogQuery, before seq: Int64, limit: Int, span: Int?) throws -> LogMatches {
        let top = try newestRow(before: seq)
        guard top > 0, !query.matchesNothing else { return LogMatches(records: [], next: 1, reachedEnd: true) }
        guard limit > 0 else { return LogMatches(records: [], next: seq, reachedEnd: false) }
        let statement = try logStatement(query, .back, from: top, span: span)
        var records: [LifecycleRecord] = []
        var row: [LifecycleRecord] = []
        try read(statement) { statement in
            row.removeAll(keepingCapacity: true)
            RecordQuery.decode(statement, into: &row)
            // A row's records are oldest first: newest first, they are taken from its end.
            for record in row.reversed() where record.seq < seq && query.matches(record) { records.append(record) }
            return records.count < limit
        }
        if records.count >= limit {
            records.removeLast(records.count - limit)
            return LogMatches(records: records, next: records.last!.seq, reachedEnd: false)
        }
        guard let lowest = statement.rows.lowest, lowest > 1 else { return LogMatches(records: records, next: 1, reachedEnd: true) }
        return LogMatches(records: records, next: LogPosition.record(row: lowest, index: 0), reachedEnd: false)
    }

    func log(matching query: LogQuery, after seq: Int64, limit: Int, span: Int?) throws -> LogMatches {
        let newest = try newestLogRow()
        // Once this read is done, everything up to the newest row's last possible record was searched.
        let end = max(seq, Self.lastRecord(ofRow: newest))
        let bottom = LogPosition.row(of: max(seq, 1))
        guard !query.matchesNothing, bottom <= newest else { return LogMatches(records: [], next: end, reachedEnd: true) }
        guard limit > 0 else { return LogMatches(records: [], next: seq, reachedEnd: false) }
        let statement = try logStatement(query, .on, from: bottom, span: span, newest: newest)
        var records: [LifecycleRecord] = []
        var row: [LifecycleRecord] = []
        try read(statement) { statement in
            row.removeAll(keepingCapacity: true)
            RecordQuery.decode(statement, into: &row)
            for record in row where record.seq > seq && query.matches(record) { records.append(record) }
            return records.count < limit
        }
        if records.count >= limit {
            records.removeLast(records.count - limit)
            return LogMatches(records: records, next: records.last!.seq, reachedEnd: false)
        }
        guard let highest = statement.rows.highest, highest < newest else { return LogMatches(records: records, next: end, reachedEnd: true) }
        return LogMatches(records: records, next: Self.lastRecord(ofRow: highest), reachedEnd: false)
    }

    func logCount(matching query: LogQuery, before seq: Int64, span: Int?) throws -> LogCount {
        let top = try newestRow(before: seq)
        guard top > 0, !query.matchesNothing else { return LogCount(count: 0, next: 1, reachedEnd: true) }
        let statement = try logStatement(query, .back, from: top, span: span, counting: true)
        var count = 0
        // Of the newest row, only the records before `seq`: the first `seq - first` of its steps.
        let before = seq - LogPosition.record(row: top, index: 0)
        try read(statement) { statement in
            var matched = statement.int(2)
            if statement.int64(0) == top, before < matched.bitWidth {
                var steps = statement.int(1), kept = 0
                for _ in 0..<before where steps != 0 {
                    kept |= steps & -steps
                    steps &= steps - 1
                }
                matched &= kept
            }
            count += matched.nonzeroBitCount
            return true
        }
        guard let lowest = statement.rows.lowest, lowest > 1 else { return LogCount(count: count, next: 1, reachedEnd: true) }
        return LogCount(count: count, next: LogPosition.record(row: lowest, index: 0), reachedEnd: false)
    }

    /// The statement of one read: a page's rows with their records' columns, or (`counting`) each
    /// row's seq, steps and matching steps. Tests read its query plan.
    func logStatement(
        _ query: LogQuery, _ direction: LogPlan.Direction, from row: Int64, span: Int?, newest: Int64 = .max, counting: Bool = false
    ) throws -> LogStatement {
        let plan = try LogPlan.choose(query, dialect) { try count($0, $1) }
        var parameters = plan.parameters(dialect)
        let rows = plan.rows(reading: direction, from: row, span: span ?? plan.span(query), &parameters, newest: newest)
        // A count joins the event's columns only if a term reads them (a count of kinds reads an index alone).
        let sql = LogQuerySQL(query, &parameters, events: !counting)
        let columns = counting ? "l.seq, l.steps, \(sql.matched)" : RecordQuery.select
        let order = counting ? nil : direction == .back ? "DESC" : "ASC"
        return LogStatement(sql: plan.select(columns, rows: rows, sql, order: order, dialect), parameters: parameters, rows: rows)
    }

    /// The newest row holding a record before `seq` could be in (0: none), in O(1).
    private func newestRow(before seq: Int64) throws -> Int64 {
        guard seq > 1 else { return 0 }
        return min(try newestLogRow(), LogPosition.row(of: seq - 1))
    }

    /// The last record seq row `row` could hold.
    static func lastRecord(ofRow row: Int64) -> Int64 { LogPosition.record(row: row + 1, index: 0) - 1 }
}

extension SQLiteSnapshot: LogQueryReader {
    var dialect: SQLDialect { .sqlite }

    func newestLogRow() throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT coalesce(max(seq), 0) FROM log")) ?? 0
    }

    func count(_ sql: String, _ parameters: SQLParameters) throws -> Int {
        let statement = try RawStatement(cached: db.cachedStatement(sql: sql), in: db)
        parameters.bind(statement)
        var count = 0
        try statement.query { count = $0.int(0) }
        return count
    }

    func read(_ statement: LogStatement, _ row: (any ColumnReader) throws -> Bool) throws {
        let query = try RawStatement(cached: db.cachedStatement(sql: statement.sql), in: db)
        statement.parameters.bind(query)
        try query.queryWhile(row)
    }

    /// The statement of one read (`logStatement`) on `db`: tests read its query plan.
    static func logStatement(
        _ query: LogQuery, _ direction: LogPlan.Direction, from row: Int64, span: Int?, newest: Int64 = .max, counting: Bool = false, db: Database
    ) throws -> LogStatement {
        try SQLiteSnapshot(db: db).logStatement(query, direction, from: row, span: span, newest: newest, counting: counting)
    }
}

/// One read of the log through a `LogQuery`: its SQL, its parameters, the rows it covers.
struct LogStatement {
    let sql: String
    let parameters: SQLParameters
    let rows: RowRange
}

/// The SQL the two backends write differently in a log query.
enum SQLDialect {
    case sqlite, postgres

    /// A numbered parameter: `?N` (SQLite), `$N` (PostgreSQL).
    func parameter(_ number: Int) -> String { self == .sqlite ? "?\(number)" : "$\(number)" }
    /// `column` matches the LIKE `pattern` (a parameter), ASCII letters in either case and
    /// everything else exactly, as `LogQuery` does: SQLite's LIKE; PostgreSQL's ILIKE under the
    /// C collation, whatever the database's own (which could fold other letters too).
    func like(_ column: String, _ pattern: String) -> String {
        self == .sqlite ? "\(column) LIKE \(pattern) ESCAPE '\\'" : "\(column) ILIKE (\(pattern) COLLATE \"C\") ESCAPE '\\'"
    }
}

/// SQL parameters by number: each value is bound once and named `?N` (`$N`) wherever the SQL needs it.
struct SQLParameters {
    var dialect: SQLDialect = .sqlite
    private(set) var binds: [(any ParameterBinder) -> Void] = []

    init(_ dialect: SQLDialect = .sqlite) { self.dialect = dialect }

    mutating func add(_ value: String) -> String {
        binds.append { $0.bind(value) }
        return dialect.parameter(binds.count)
    }

    mutating func add(_ value: Int64) -> String {
        binds.append { $0.bind(value) }
        return dialect.parameter(binds.count)
    }

    func bind(_ statement: some ParameterBinder) {
        for bind in binds { bind(statement) }
    }
}

/// A `LogQuery` as SQL over `log l` (and `events e`): conditions that skip rows cheaply, and
/// `matched`, the row's steps whose records match every term, as bits (`LogColumn.stepsWith…`
/// give each field to the steps `LifecycleRow.forEachEntry` gives it to).
struct LogQuerySQL {
    var conditions: [String] = []
    var matched: String
    /// Whether a term reads the event's columns (`events e` must be joined).
    var readsEvents = false

    /// With `events`, the event's columns are joined whatever the terms read (a page decodes them).
    init(_ query: LogQuery, _ parameters: inout SQLParameters, events: Bool) {
        var masks = ["l.steps"]
        readsEvents = events
        for term in query.terms {
            switch term {
            case .kinds(let kinds):
                let mask = kinds.reduce(0) { $0 | 1 << $1.step }
                conditions.append("l.steps & \(mask) != 0")
                masks.append("\(mask)")
            case .queue(let name):
                conditions.append(parameters.dialect.like("l.queue", parameters.add(Self.like(name))))
                masks.append("(\(LogColumn.stepsWithQueue))")
            case .correlation(let id):
                conditions.append("e.correlation_id = \(parameters.add(id))")
                readsEvents = true
            case .correlationPrefix(let prefix):
                guard !prefix.isEmpty else { continue }
                conditions.append(Self.prefix("e.correlation_id", prefix, &parameters))
                readsEvents = true
            case .type(let text):
                guard !text.isEmpty else { continue }
                conditions.append(parameters.dialect.like("e.type", parameters.add(Self.like(text, within: true))))
                readsEvents = true
            case .text(let text):
                guard !text.isEmpty else { continue }
                let pattern = parameters.add(Self.like(text, within: true))
                let dialect = parameters.dialect
                func like(_ column: String) -> String { dialect.like(column, pattern) }
                let kinds = LifecycleKind.named(containing: text).reduce(0) { $0 | 1 << $1.step }
                masks.append("""
                    (CASE WHEN \(like("e.type")) OR \(like("e.id")) OR \(like("e.correlation_id")) THEN l.steps ELSE 0 END \
                    | CASE WHEN \(like("l.queue")) THEN \(LogColumn.stepsWithQueue) ELSE 0 END \
                    | CASE WHEN \(like("l.error")) THEN \(LogColumn.stepsWithError) ELSE 0 END \
                    | CASE WHEN \(like("l.detail")) THEN \(LogColumn.stepsWithDetail) ELSE 0 END | \(kinds))
                    """)
                readsEvents = true
            }
        }
        matched = masks.joined(separator: " & ")
        if masks.count > 1 { conditions.append("\(matched) != 0") }
    }

    /// A LIKE pattern for `text` as it is (`within`: anywhere in the value): SQLite's LIKE
    /// compares ASCII letters in either case and everything else exactly, as `LogQuery` does.
    static func like(_ text: String, within: Bool = false) -> String {
        var pattern = within ? "%" : ""
        for character in text.unicodeScalars {
            if character == "%" || character == "_" || character == "\\" { pattern.unicodeScalars.append("\\") }
            pattern.unicodeScalars.append(character)
        }
        return within ? pattern + "%" : pattern
    }

    /// `column` starts with `prefix`, byte for byte, as a range an index serves. SQLite: 0xF5
    /// never occurs in UTF-8, so every value starting with the prefix sorts below it. PostgreSQL:
    /// a left-anchored LIKE, which the planner turns into that range on a column of the C
    /// collation (`events.correlation_id` is).
    static func prefix(_ column: String, _ prefix: String, _ parameters: inout SQLParameters) -> String {
        switch parameters.dialect {
        case .sqlite:
            let parameter = parameters.add(prefix)
            return "\(column) >= \(parameter) AND \(column) < (\(parameter) || CAST(x'F5' AS TEXT))"
        case .postgres:
            return "\(column) LIKE \(parameters.add(like(prefix) + "%")) ESCAPE '\\'"
        }
    }
}

/// How a `LogQuery` is read: the path its terms allow, and which rows one read covers.
enum LogPlan {
    /// The rows of one flow's events (a correlation term): its events by `events_by_correlation`,
    /// their publication rows by `log_seq`, their later rows by `log_by_event`. The condition
    /// finds the events (on `events`, unaliased).
    case flow(String, SQLParameters)
    /// The rows with a rare step, along `log_rare_steps` (a kind term of rare kinds only).
    case rare
    /// The log by seq.
    case scan

    /// A correlation prefix matching more events than this is read as a scan: its pages fill at
    /// once, and sorting so large a flow's rows for each page would cost more.
    static let flowEvents = 2_000

    /// The plan, `count` running a count (its SQL and parameters) on the backend.
    static func choose(_ query: LogQuery, _ dialect: SQLDialect, count: (String, SQLParameters) throws -> Int) throws -> LogPlan {
        var flow: (condition: String, parameters: SQLParameters)?
        for term in query.terms {
            var parameters = SQLParameters(dialect)
            switch term {
            case .correlation(let id): flow = ("correlation_id = \(parameters.add(id))", parameters)
            case .correlationPrefix(let prefix) where !prefix.isEmpty && flow == nil:
                flow = (LogQuerySQL.prefix("correlation_id", prefix, &parameters), parameters)
            default: continue
            }
            if case .correlation = term { break }
        }
        if let flow {
            let events = try count("SELECT count(*) FROM (SELECT 1 FROM events WHERE \(flow.condition) LIMIT \(flowEvents + 1)) AS flow", flow.parameters)
            if events <= flowEvents { return .flow(flow.condition, flow.parameters) }
        }
        let rare = query.terms.contains { term in
            guard case .kinds(let kinds) = term else { return false }
            let mask = kinds.reduce(0) { $0 | 1 << $1.step }
            return mask != 0 && mask & ~LogColumn.rareSteps == 0
        }
        return rare ? .rare : .scan
    }

    /// Rows one read may span when the caller gives none: about 20–60 ms of SQLite's work on
    /// the machine the bench runs on (a kind is a column test, text six LIKEs and a join), and
    /// more along the index of rare steps, whose span holds few rows.
    func span(_ query: LogQuery) -> Int {
        let text = query.terms.contains { if case .text = $0 { return true } else { return false } }
        let events = query.terms.contains {
            switch $0 {
            case .type, .correlation, .correlationPrefix: return true
            default: return false
            }
        }
        let scan = text ? 64_000 : events ? 250_000 : 1_000_000
        return self.isRare ? 16 * scan : scan
    }

    private var isRare: Bool { if case .rare = self { return true } else { return false } }

    /// The parameters a statement of this plan starts with (the flow's condition's, numbered first).
    func parameters(_ dialect: SQLDialect) -> SQLParameters {
        if case .flow(_, let parameters) = self { return parameters }
        return SQLParameters(dialect)
    }

    enum Direction { case back, on }

    /// The rows one read covers, from `start` in `direction`: a span of them (or, for a flow,
    /// all of its rows that way). Adds the bounds to `parameters`.
    func rows(reading direction: Direction, from start: Int64, span: Int, _ parameters: inout SQLParameters, newest: Int64 = .max) -> RowRange {
        var range: RowRange
        switch self {
        case .flow: range = direction == .back ? RowRange(lowest: nil, highest: start) : RowRange(lowest: start, highest: nil)
        case .rare, .scan:
            let span = Int64(max(span, 1))
            range = direction == .back
                ? RowRange(lowest: max(1, start - span + 1), highest: start)
                : RowRange(lowest: start, highest: min(newest, start + span - 1))
        }
        var conditions: [String] = []
        if let lowest = range.lowest { conditions.append("l.seq >= \(parameters.add(lowest))") }
        if let highest = range.highest { conditions.append("l.seq <= \(parameters.add(highest))") }
        range.sql = conditions.joined(separator: " AND ")
        return range
    }

    /// The statement reading `columns` of the rows in `rows` that `sql` may match, in seq order
    /// (`order`), or in any order (nil).
    func select(_ columns: String, rows: RowRange, _ sql: LogQuerySQL, order: String?, _ dialect: SQLDialect = .sqlite) -> String {
        let join = sql.readsEvents ? " JOIN events e ON e.seq = l.event_seq" : ""
        let conditions = ([rows.sql] + sql.conditions).joined(separator: " AND ")
        let ordered = order.map { " ORDER BY l.seq \($0)" } ?? ""
        switch self {
        case .flow(let events, _):
            // The flow's condition's parameters are the statement's first (`parameters`).
            return """
                SELECT \(columns) FROM log l\(join) WHERE l.seq IN (SELECT log_seq FROM events WHERE \(events)) AND \(conditions)
                UNION ALL
                SELECT \(columns) FROM log l\(join) WHERE l.event_seq IN (SELECT seq FROM events WHERE \(events))
                    AND l.\(LogColumn.laterRows) AND \(conditions)
                \(order.map { "ORDER BY 1 \($0)" } ?? "")
                """
        case .rare:
            // PostgreSQL has no INDEXED BY; the condition is the partial index's, so its planner can take it.
            let indexed = dialect == .sqlite ? " INDEXED BY log_rare_steps" : ""
            return "SELECT \(columns) FROM log l\(indexed)\(join) WHERE l.\(LogColumn.hasRareStep) AND \(conditions)\(ordered)"
        case .scan:
            return "SELECT \(columns) FROM log l\(join) WHERE \(conditions)\(ordered)"
        }
    }
}

/// The log rows (by seq) one read covers: nil bounds are open (a flow's rows that way).
struct RowRange {
    var lowest: Int64?
    var highest: Int64?
    var sql = ""
}
