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
