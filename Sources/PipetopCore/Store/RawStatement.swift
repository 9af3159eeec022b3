import Foundation
import GRDB
import GRDBSQLite

/// A prepared statement bound, stepped and read through the SQLite C API.
///
/// The engine's write path runs a handful of statements several times per event; going through
/// GRDB's `StatementArguments` boxes every value in an existential array and looks the statement
/// up by hashing its SQL. Profiling the throughput benchmark put that overhead near a third of the
/// engine's CPU, so the hot statements bind directly. GRDB still owns the connection, the
/// transaction and the statement's lifetime.
final class RawStatement {
    private let statement: Statement
    private let handle: OpaquePointer
    private let connection: OpaquePointer
    private var index: Int32 = 0

    convenience init(_ db: Database, _ sql: String) throws {
        self.init(cached: try db.makeStatement(sql: sql), in: db)
    }

    /// Wraps a statement GRDB prepared (and caches) on `db`.
    init(cached statement: Statement, in db: Database) {
        self.statement = statement
        handle = statement.sqliteStatement
        connection = db.sqliteConnection!
        sqlite3_reset(handle)
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    @inline(__always) private func next() -> Int32 {
        index += 1
        return index
    }

    func bind(_ value: Int64) { _ = sqlite3_bind_int64(handle, next(), value) }
    func bind(_ value: Int) { _ = sqlite3_bind_int64(handle, next(), Int64(value)) }

    func bind(_ value: Int64?) {
        if let value { sqlite3_bind_int64(handle, next(), value) } else { _ = sqlite3_bind_null(handle, next()) }
    }

    func bind(_ value: Int?) { bind(value.map(Int64.init)) }

    func bind(_ value: String?) {
        guard var value else {
            sqlite3_bind_null(handle, next())
            return
        }
        let position = next()
        value.withUTF8 { bytes in
            _ = sqlite3_bind_text(handle, position, bytes.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, Int32(bytes.count), Self.transient)
        }
    }

    func bind(_ value: Data?) {
        guard let value else {
            sqlite3_bind_null(handle, next())
            return
        }
        let position = next()
        // Empty data has no base address, which SQLite would store as NULL: bind an empty blob.
        guard !value.isEmpty else {
            _ = sqlite3_bind_zeroblob(handle, position, 0)
            return
        }
        value.withUnsafeBytes { bytes in
            _ = sqlite3_bind_blob(handle, position, bytes.baseAddress, Int32(bytes.count), Self.transient)
        }
    }

    /// Runs a statement that returns no rows.
    func execute() throws {
        let code = sqlite3_step(handle)
        finish()
        guard code == SQLITE_DONE else { throw error(code) }
    }

    /// Runs a query, calling `row` for each result row (read it with the column accessors).
    func query(_ row: (RawStatement) throws -> Void) throws {
        defer { finish() }
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw error(code) }
            try row(self)
        }
    }

    /// Runs a query while `row` returns true for the rows it is given (the rest are never read).
    func queryWhile(_ row: (RawStatement) throws -> Bool) throws {
        defer { finish() }
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw error(code) }
            if try !row(self) { return }
        }
    }

    /// Every use binds every parameter, so bindings are overwritten, never cleared.
    private func finish() {
        sqlite3_reset(handle)
        index = 0
    }

    private func error(_ code: Int32) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)), sql: statement.sql)
    }

    // MARK: Columns of the current row

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }

    func string(_ column: Int32) -> String? {
        guard let text = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// The text of a column as its UTF-8 bytes, valid only inside `body` (no String is made).
    func withText<R>(_ column: Int32, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        guard let text = sqlite3_column_text(handle, column) else { return body(UnsafeBufferPointer(start: nil, count: 0)) }
        return body(UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(handle, column))))
    }

    /// The bytes of a blob column, valid only inside `body` (no Data is made).
    func withBlob<R>(_ column: Int32, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let bytes = sqlite3_column_blob(handle, column) else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return body(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    func data(_ column: Int32) -> Data? {
        guard !isNull(column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let bytes = sqlite3_column_blob(handle, column) else { return Data() }
        return Data(bytes: bytes, count: count)
    }
}

extension RawStatement: ColumnReader, ParameterBinder {}
