import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// One connection to a PostgreSQL server, used synchronously: the store's protocols are
/// synchronous (the engine's writer thread, the dashboard's poll), so each statement waits for
/// its result on the calling thread while postgres-nio's event loop does the I/O. A session is
/// used by one thread at a time (its owner serialises).
final class PostgresSession: @unchecked Sendable {
    private let connection: PostgresConnection
    private let logger: Logger
    /// What errors name: `postgres://user@host:port/db`, never the password.
    let location: String

    /// The event loops every session shares (one thread: the I/O is small, the waits are the caller's).
    private static let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    init(_ url: PostgresURL, readOnly: Bool) throws {
        location = url.redacted
        logger = Logger(label: "pipetop.postgres") { _ in SwiftLogNoOpLogHandler() }
        var configuration: PostgresConnection.Configuration
        let tls = try Self.tls(url)
        if url.host.hasPrefix("/") {
            let socket = (url.host as NSString).appendingPathComponent(".s.PGSQL.\(url.port)")
            configuration = .init(unixSocketPath: socket, username: url.user, password: url.password, database: url.database)
        } else {
            configuration = .init(host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: tls)
        }
        configuration.options.connectTimeout = .seconds(10)
        var startup: [(String, String)] = [("application_name", url.applicationName ?? "pipetop")]
        if readOnly { startup.append(("default_transaction_read_only", "on")) }
        configuration.options.additionalStartupParameters = startup
        do {
            connection = try PostgresConnection.connect(on: Self.loops.next(), configuration: configuration, id: 1, logger: logger).wait()
        } catch {
            throw StoreError("could not connect to the PostgreSQL store \(location): \(Self.describe(error))")
        }
    }

    deinit { try? connection.close().wait() }

    /// libpq's TLS: disable, allow and prefer and require encrypt without checking the
    /// certificate unless a root certificate is there (`PostgresURL.rootCertificate`): then the
    /// chain is checked in every mode; verify-ca checks the chain and needs the roots,
    /// verify-full the chain and the host name. One difference from libpq, swift-nio-ssl's: an
    /// IP address in the certificate is matched against the address connected to, so a
    /// certificate for 10.0.0.5 also holds when the URL names a host that resolves to it (libpq
    /// compares only the name given); a name in the certificate is matched as libpq does.
    static func tls(_ url: PostgresURL) throws -> PostgresConnection.Configuration.TLS {
        let mode = url.tls
        guard mode != .disable else { return .disable }
        let verifying = mode == .verifyCA || mode == .verifyFull
        var configuration = TLSConfiguration.makeClientConfiguration()
        var roots: String?
        switch url.rootCertificate {
        case .system:
            configuration.trustRoots = .default
            roots = "the system's trusted roots"
        case .file(let path):
            var info = stat()
            if stat(path, &info) == 0 {
                configuration.trustRoots = .file(path)
                roots = "root certificate file \"\(path.terminalSafe)\""
            } else if verifying {
                throw StoreError("could not connect to the PostgreSQL store \(url.redacted): sslmode=\(mode.rawValue) needs the root certificates to check the server's against, and the root certificate file \"\(path.terminalSafe)\" does not exist; provide it (sslrootcert=PATH), use the system's trusted roots with sslrootcert=system, or choose an sslmode that does not check the certificate")
            }
        case .none:
            if verifying {
                throw StoreError("could not connect to the PostgreSQL store \(url.redacted): sslmode=\(mode.rawValue) needs the root certificates to check the server's against, and there is no home directory to find ~/.postgresql/root.crt in; give sslrootcert=PATH or sslrootcert=system")
            }
        }
        configuration.certificateVerification = mode == .verifyFull ? .fullVerification : roots != nil ? .noHostnameVerification : .none
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw StoreError("could not connect to the PostgreSQL store \(url.redacted): cannot read \(roots ?? "the TLS settings"): \(error)")
        }
        return mode == .allow || mode == .prefer ? .prefer(context) : .require(context)
    }

    /// Runs one statement; `bind` gives its `$1, $2…` values in order. Returns its rows and how
    /// many rows it changed.
    @discardableResult
    func query(_ sql: String, _ bind: (PostgresBinder) -> Void = { _ in }) throws -> PostgresResult {
        let binder = PostgresBinder()
        bind(binder)
        do {
            let result = try connection.query(PostgresQuery(unsafeSQL: sql, binds: binder.bindings), logger: logger).wait()
            return PostgresResult(rows: result.rows.map(PostgresRowReader.init), changed: result.metadata.rows ?? 0)
        } catch {
            throw PostgresStatementError(message: Self.describe(error), sqlState: (error as? PSQLError)?.serverInfo?[.sqlState], location: location)
        }
    }

    /// Calls `handler` with each notification's payload on `channel` (then `LISTEN`s to it).
    func listen(_ channel: String, _ handler: @escaping @Sendable (String) -> Void) throws -> PostgresListenContext {
        let context = connection.addListener(channel: channel) { _, notification in handler(notification.payload) }
        do {
            try execute("LISTEN \(channel)")
        } catch {
            context.stop()
            throw error
        }
        return context
    }

    /// Ends the transaction after a failure.
    func rollback() throws { try query("ROLLBACK") }

    /// Runs a statement with no parameters and no result.
    func execute(_ sql: String) throws { try query(sql) }

    /// Runs a script of statements, each ending with `;` at the end of a line (a migration); a
    /// `$$`-quoted body (a function's) is part of its statement, whatever its lines end with.
    func executeScript(_ script: String) throws {
        var pieces: [String] = []
        for piece in script.components(separatedBy: ";\n") {
            pieces.append(piece)
            let statement = pieces.joined(separator: ";\n")
            // Inside a `$$` body while the quotes so far are odd.
            guard statement.components(separatedBy: "$$").count % 2 == 1 else { continue }
            pieces = []
            if !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { try query(statement) }
        }
        // An unterminated body: the server says what is wrong with it.
        if !pieces.isEmpty { try query(pieces.joined(separator: ";\n")) }
    }

    /// The server's message (postgres-nio's own description hides it), else the error's.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let server = error.serverInfo, let message = server[.message] {
            return [server[.severity], message, server[.detail]].compactMap { $0 }.joined(separator: ": ")
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }
}

/// A statement the server refused.
struct PostgresStatementError: Error, CustomStringConvertible {
    var message: String
    var sqlState: String?
    var location: String
    var description: String { "the PostgreSQL store \(location) refused a statement: \(message)" }
}

struct PostgresResult {
    var rows: [PostgresRowReader]
    var changed: Int
}

/// A statement's values, in order (`$1, $2…`).
final class PostgresBinder: ParameterBinder {
    var bindings = PostgresBindings()
    /// The placeholder of the next value bound.
    var next: String { "$\(bindings.count + 1)" }

    func bind(_ value: Int64) { bindings.append(value) }
    func bind(_ value: Int64?) { if let value { bindings.append(value) } else { bindings.appendNull() } }
    func bind(_ value: String?) { if let value { bindings.append(value) } else { bindings.appendNull() } }
    func bind(_ value: Data?) {
        if let value { bindings.append(ByteBuffer(bytes: value)) } else { bindings.appendNull() }
    }
    func bind(_ values: [Int64]) { bindings.append(values) }
    func bind(_ values: [String]) { bindings.append(values) }
}

/// One column of a batch of rows, bound as a single PostgreSQL array (binary format, NULLs
/// allowed, which postgres-nio's arrays are not): filled a row at a time through
/// `ParameterBinder`, its element type set by the first value bound.
final class PostgresColumnArray: ParameterBinder, PostgresDynamicTypeEncodable {
    private var element: PostgresDataType?
    private var body = ByteBuffer()
    private var count: Int32 = 0
    private var hasNull = false

    private func start(_ type: PostgresDataType) {
        if let element { precondition(element == type, "a column bound with two types") } else { element = type }
        count += 1
    }

    func bind(_ value: Int64) {
        start(.int8)
        body.writeInteger(Int32(8))
        body.writeInteger(value)
    }
    func bind(_ value: Int64?) {
        guard let value else {
            start(.int8)
            return markNull()
        }
        bind(value)
    }
    func bind(_ value: String?) {
        start(.text)
        guard let value else { return markNull() }
        body.writeInteger(Int32(value.utf8.count))
        body.writeString(value)
    }
    func bind(_ value: Data?) {
        start(.bytea)
        guard let value else { return markNull() }
        body.writeInteger(Int32(value.count))
        body.writeBytes(value)
    }
    private func markNull() {
        body.writeInteger(Int32(-1))
        hasNull = true
    }

    var psqlType: PostgresDataType {
        switch element {
        case .text?: return .textArray
        case .bytea?: return .byteaArray
        default: return .int8Array
        }
    }
    var psqlFormat: PostgresFormat { .binary }

    /// PostgreSQL's binary array: dimensions, has-nulls, element type, then per dimension its
    /// length and lower bound (1), then each element as a length (-1: NULL) and its bytes.
    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(Int32(count == 0 ? 0 : 1))
        buffer.writeInteger(Int32(hasNull ? 1 : 0))
        buffer.writeInteger((element ?? .int8).rawValue)
        guard count > 0 else { return }
        buffer.writeInteger(count)
        buffer.writeInteger(Int32(1))
        buffer.writeImmutableBuffer(body)
    }
}

/// A result row read by position (`ColumnReader`): integers of any width, text, bytea.
struct PostgresRowReader: ColumnReader {
    let cells: [PostgresCell]

    init(_ row: PostgresRow) { cells = Array(row) }

    func optionalInt64(_ column: Int32) -> Int64? {
        let cell = cells[Int(column)]
        guard var bytes = cell.bytes else { return nil }
        if cell.format == .binary {
            switch cell.dataType {
            case .int8: return bytes.readInteger(as: Int64.self)
            case .int4: return bytes.readInteger(as: Int32.self).map(Int64.init)
            case .int2: return bytes.readInteger(as: Int16.self).map(Int64.init)
            case .bool: return bytes.readInteger(as: UInt8.self).map(Int64.init)
            default: break
            }
        }
        // numeric (a sum) and anything in text format: its text.
        guard let text = bytes.readString(length: bytes.readableBytes) else { return nil }
        return Int64(text) ?? Double(text).map { Int64($0) }
    }

    func int64(_ column: Int32) -> Int64 { optionalInt64(column) ?? 0 }

    func string(_ column: Int32) -> String? {
        let cell = cells[Int(column)]
        guard var bytes = cell.bytes else { return nil }
        // jsonb's binary form is a version byte, then the text.
        if cell.dataType == .jsonb, cell.format == .binary { bytes.moveReaderIndex(forwardBy: 1) }
        return bytes.readString(length: bytes.readableBytes)
    }

    func data(_ column: Int32) -> Data? {
        guard var bytes = cells[Int(column)].bytes else { return nil }
        return bytes.readData(length: bytes.readableBytes)
    }

    func isNull(_ column: Int32) -> Bool { cells[Int(column)].bytes == nil }

    /// The position of a column by name (for `SELECT *`-shaped reads of small tables).
    func column(_ name: String) -> Int32 {
        guard let index = cells.firstIndex(where: { $0.columnName == name }) else { preconditionFailure("no column \(name)") }
        return Int32(index)
    }

    func int64(_ name: String) -> Int64 { int64(column(name)) }
    func int(_ name: String) -> Int { int(column(name)) }
    func optionalInt64(_ name: String) -> Int64? { optionalInt64(column(name)) }
    func string(_ name: String) -> String? { string(column(name)) }
}
