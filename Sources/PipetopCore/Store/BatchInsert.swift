import GRDB

/// A row the write path inserts in multi-row statements: its table, columns and values.
protocol BatchRow {
    associatedtype Column: ColumnSet
    static var table: String { get }
    /// The columns inserted, in binding order.
    static var columns: [Column] { get }
    /// Rows per statement: starting, stepping and resetting a statement are paid once per batch
    /// instead of once per row.
    static var perStatement: Int { get }
    /// Binds the value of one column.
    func bind(_ column: Column, to statement: some ParameterBinder)
}

/// The prepared inserts of one table: full batches through one multi-row statement, the
/// remainder one row per statement.
final class BatchInsert<Row: BatchRow> {
    private let one: RawStatement
    private let many: RawStatement

    init(_ db: Database) throws {
        let prefix = "INSERT INTO \(Row.table) (\(Row.columns.map(\.sql).joined(separator: ", "))) VALUES "
        let values = "(" + Array(repeating: "?", count: Row.columns.count).joined(separator: ", ") + ")"
        one = try RawStatement(db, prefix + values)
        many = try RawStatement(db, prefix + Array(repeating: values, count: Row.perStatement).joined(separator: ", "))
    }

    /// Inserts `rows` in order.
    func insert(_ rows: [Row]) throws {
        let columns = Row.columns
        var index = 0
        while index < rows.count {
            let full = rows.count - index >= Row.perStatement
            let statement = full ? many : one
            let end = index + (full ? Row.perStatement : 1)
            for row in rows[index..<end] {
                for column in columns { row.bind(column, to: statement) }
            }
            try statement.execute()
            index = end
        }
    }
}

/// The new events, messages and log records of one write transaction, with the ids it assigned
/// them, kept until the backend's `finish` writes them together (multi-row inserts): inside a
/// write transaction nothing else takes ids (one writer at a time, on every backend).
struct BufferedRows {
    typealias IDs = (event: Int64, message: Int64, log: Int64)
    var events: [EventRow] = []
    var messages: [NewMessage] = []
    var log: [LogRow] = []
    /// The next event seq, message id and log row seq: given (`start`) or read (`read`) at the
    /// transaction's first insert.
    private var nextIDs: IDs?

    /// The next ids, when the backend reads them before the first insert.
    mutating func start(from ids: IDs) { nextIDs = ids }

    mutating func nextID(_ which: WritableKeyPath<IDs, Int64>, read: () throws -> IDs) rethrows -> Int64 {
        if nextIDs == nil { nextIDs = try read() }
        defer { nextIDs![keyPath: which] += 1 }
        return nextIDs![keyPath: which]
    }

    mutating func insertEvent(_ event: CloudEvent, seq: Int64, routed: Bool, at: Timestamp, flowAt: Timestamp?) {
        events.append(EventRow(seq: seq, event: event, publishedAt: at, routed: routed, flowAt: flowAt))
    }

    mutating func append(_ row: LifecycleRow, seq: Int64) {
        log.append(LogRow(seq: seq, row: row))
        // An event's publication row: the event points at it (it is not in `log_by_event`).
        if row.steps & 1 << LifecycleKind.published.step != 0, let first = events.first?.seq {
            let index = Int(row.eventSeq - first)
            if events.indices.contains(index), events[index].seq == row.eventSeq { events[index].logSeq = seq }
        }
    }

    /// An event this transaction inserted.
    func event(seq: Int64) -> CloudEvent? { events.first { $0.seq == seq }?.event }

    /// Once written.
    mutating func written() {
        events.removeAll()
        messages.removeAll()
        log.removeAll()
    }
}
