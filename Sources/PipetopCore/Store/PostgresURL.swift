import Foundation

/// A `postgres://` store URL, read the way libpq reads a connection URI
/// (https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS), with the
/// environment defaults libpq takes (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGPASSFILE`,
/// `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT`, `PGAPPNAME`) and its password file (`~/.pgpass`,
/// https://www.postgresql.org/docs/current/libpq-pgpass.html):
///
///     postgresql://[user[:password]@][host][:port][/dbname][?name=value[&...]]
///
/// - The user, password, host, port, database and every query name and value are
///   percent-decoded (`%2F` is `/`; `+` is a plus, not a space; `%00` is refused).
/// - The first `@` before any `/` ends the user and password, so a password holding `@` or `/`
///   must be percent-encoded; `:` ends the user, and the password runs to that `@`.
/// - An IPv6 address is written in brackets: `postgres://[::1]:5433/db`.
/// - A Unix socket is a host that starts with `/`: `?host=/var/run/postgresql`, or the directory
///   percent-encoded in the host part, `postgres://%2Fvar%2Frun%2Fpostgresql/db`.
/// - A query parameter overrides the same value given before it (`?host=`, `?port=`, `?user=`,
///   `?password=`, `?dbname=`); the others are `sslmode`, `sslrootcert`, `application_name`,
///   `fallback_application_name`, `passfile` and `ssl=true` (libpq's alias for `sslmode=require`).
///   Any other parameter is an error naming it, as in libpq.
/// - Unset values come from the environment, then the defaults: user `$PGUSER`, else the
///   operating system user; port `$PGPORT`, else 5432; database `$PGDATABASE`, else the user;
///   host `$PGHOST`, else `localhost` (where libpq would use its compiled-in socket directory:
///   pipetop's backend connects over TCP unless told a socket directory); TLS `$PGSSLMODE`, else
///   `prefer`.
/// - The password: the URL's, else `$PGPASSWORD`, else the first matching line of the password
///   file (`?passfile=`, else `$PGPASSFILE`, else `~/.pgpass`). A password file with any group or
///   world access is ignored, as libpq ignores it, with a warning in `warnings`.
///
/// What libpq takes and pipetop does not: several hosts (`host1,host2`), abstract Unix sockets
/// (`@name`), and the other connection parameters (`connect_timeout`, `sslcert`, …): each is
/// an error saying so, never silently dropped.
///
/// The password never appears in `redacted`, `description`, a mirror or an error message.
public struct PostgresURL: Sendable, Equatable {
    public var user: String
    /// Resolved: from the URL, else `$PGPASSWORD`, else the password file (`~/.pgpass`, `$PGPASSFILE`).
    public var password: String?
    /// A host name or IP address, or the directory of a Unix socket (starts with "/").
    public var host: String
    /// Default 5432.
    public var port: Int
    /// Default: the user.
    public var database: String
    /// From `?sslmode=`: disable | allow | prefer (default) | require | verify-ca | verify-full.
    public var tls: TLSMode
    public enum TLSMode: String, Sendable { case disable, allow, prefer, require, verifyCA = "verify-ca", verifyFull = "verify-full" }
    /// The certificates the server's is checked against, as libpq's `sslrootcert` (else
    /// `$PGSSLROOTCERT`, else `~/.postgresql/root.crt`) says: a PEM file, or `system`, the
    /// machine's trusted roots. Whether the file exists is looked at when connecting, as libpq
    /// does: then the server's certificate chain is checked in every mode that encrypts (libpq's
    /// "if a root CA file exists, require behaves as verify-ca"), and verify-ca or verify-full
    /// without it is an error naming the file.
    public var rootCertificate: RootCertificate
    public enum RootCertificate: Sendable, Equatable {
        case system
        /// A PEM file's path (given, or the default one: libpq treats both alike).
        case file(String)
        /// No default path: no home directory.
        case none
    }
    /// `?application_name=` (else `$PGAPPNAME`, else `?fallback_application_name=`).
    public var applicationName: String?
    /// What the caller should print: why a password file was ignored (libpq prints the same
    /// warnings), and environment settings libpq would use that pipetop does not.
    public var warnings: [String] = []

    /// The socket directory Debian's libpq uses when no host is given; a `.pgpass` line for
    /// `localhost` matches it (libpq's `DEFAULT_PGSOCKET_DIR`).
    static let defaultSocketDirectory = "/var/run/postgresql"
    static let schemes = ["postgresql://", "postgres://"]
    static let tlsModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
    /// The query parameters read here, as libpq names them.
    static let parameters = ["host", "port", "dbname", "user", "password", "passfile", "sslmode",
                             "sslrootcert", "application_name", "fallback_application_name", "ssl"]
    /// libpq's other connection parameters: refused by name, as settings pipetop does not apply.
    static let libpqParameters: Set<String> = [
        "hostaddr", "connect_timeout", "client_encoding", "options", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "tcp_user_timeout", "replication", "gssencmode",
        "requiressl", "sslnegotiation", "sslcompression", "sslcert", "sslkey", "sslkeylogfile", "sslpassword",
        "sslcertmode", "sslcrl", "sslcrldir", "sslsni", "requirepeer",
        "ssl_min_protocol_version", "ssl_max_protocol_version", "min_protocol_version",
        "max_protocol_version", "krbsrvname", "gsslib", "gssdelegation", "service",
        "target_session_attrs", "load_balance_hosts", "require_auth", "channel_binding",
        "scram_client_key", "scram_server_key", "oauth_issuer", "oauth_client_id", "oauth_client_secret",
        "oauth_scope",
    ]

    /// True for postgres:// and postgresql:// (any case).
    public static func isPostgres(_ url: String) -> Bool { schemeLength(Array(url.utf8)) != nil }

    /// Parses `url`, taking unset values from `environment` as libpq takes them from its own.
    /// `pgpassPath` is the password file read in place of `~/.pgpass` (for tests); `?passfile=`
    /// and `$PGPASSFILE` still come first, as in libpq. Throws a `StoreError` naming what was
    /// wrong (never containing the password).
    public init(parsing url: String, environment: [String: String] = ProcessInfo.processInfo.environment, pgpassPath: String? = nil) throws {
        let given = try Self.parse(url)
        let env = environment
        func fail(_ what: String) -> StoreError {
            Self.badInput("invalid PostgreSQL URL '\(Self.redacting(url).terminalSafe)': \(what)")
        }
        // An option left unset takes its environment variable, even an empty one (libpq's
        // conninfo_add_defaults); an empty value then means the built-in default.
        func resolved(_ key: String, _ variable: String) -> (value: String, source: String)? {
            if let value = given.options[key] { return (value, "the URL's \(key)") }
            if let value = env[variable] { return (value, "$\(variable)") }
            return nil
        }

        var warnings: [String] = []
        for variable in ["PGHOSTADDR", "PGSERVICE"] where !(env[variable] ?? "").isEmpty {
            warnings.append("$\(variable) is set, but pipetop does not use it (libpq would); give the host in the store URL instead")
        }

        // User: the URL's, else $PGUSER; empty is the operating system user.
        var user = resolved("user", "PGUSER")?.value ?? ""
        if user.isEmpty {
            guard let name = Self.operatingSystemUser() else {
                throw fail("no user given, and the operating system user name cannot be found; give one (postgres://USER@host/db)")
            }
            user = name
        }

        // Host: the URL's, else $PGHOST; empty is localhost.
        var host = "localhost"
        if let (value, source) = resolved("host", "PGHOST"), !value.isEmpty {
            guard !value.contains(",") else {
                throw fail("\(source) '\(value.terminalSafe)' names several hosts; pipetop connects to one host")
            }
            guard !value.hasPrefix("@") else {
                throw fail("\(source) '\(value.terminalSafe)' is an abstract Unix socket, which pipetop does not support; give a socket directory (starting with /) or a host")
            }
            host = value
        }

        // Port: the URL's, else $PGPORT; empty is 5432.
        var port = 5432
        if let (value, source) = resolved("port", "PGPORT"), !value.isEmpty {
            guard !value.contains(",") else {
                throw fail("\(source) '\(value.terminalSafe)' names several ports; pipetop connects to one host")
            }
            guard value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let number = Int(value), (1...65535).contains(number) else {
                throw fail("\(source) '\(value.terminalSafe)' is not a port (a number from 1 to 65535)")
            }
            port = number
        }

        // Database: the URL's, else $PGDATABASE; empty is the user.
        var database = resolved("dbname", "PGDATABASE")?.value ?? ""
        if database.isEmpty { database = user }

        // TLS: the URL's sslmode, else $PGSSLMODE, else prefer.
        var tls = TLSMode.prefer
        if let (value, source) = resolved("sslmode", "PGSSLMODE") {
            guard let mode = TLSMode(rawValue: value) else {
                throw fail("\(source) '\(value.terminalSafe)' is not an sslmode (one of \(Self.tlsModes.joined(separator: ", ")))")
            }
            tls = mode
        }

        // Root certificates: the URL's sslrootcert, else $PGSSLROOTCERT, else ~/.postgresql/root.crt.
        // `system` (libpq 16) makes verify-full the default and refuses a weaker mode given.
        var rootCertificate = RootCertificate.none
        if let (value, _) = resolved("sslrootcert", "PGSSLROOTCERT"), !value.isEmpty {
            if value == "system" {
                if let (mode, source) = resolved("sslmode", "PGSSLMODE"), tls != .verifyFull {
                    throw fail("\(source) '\(mode.terminalSafe)' is too weak for sslrootcert=system: any server can get a certificate the system trusts for a name it controls, so only verify-full checks it is the one named (libpq refuses it too)")
                }
                tls = .verifyFull
                rootCertificate = .system
            } else {
                rootCertificate = .file(value)
            }
        } else if let home = Self.homeDirectory(env) {
            rootCertificate = .file((home as NSString).appendingPathComponent(".postgresql/root.crt"))
        }

        var applicationName = resolved("application_name", "PGAPPNAME")?.value
        if applicationName?.isEmpty ?? true { applicationName = given.options["fallback_application_name"] }
        if applicationName?.isEmpty ?? true { applicationName = nil }

        // Password: the URL's, else $PGPASSWORD; empty or none, then the password file.
        var password = resolved("password", "PGPASSWORD")?.value
        if password?.isEmpty ?? true {
            password = nil
            var file: (path: String, named: Bool)?
            if let value = resolved("passfile", "PGPASSFILE")?.value, !value.isEmpty {
                file = (value, true)
            } else if let pgpassPath {
                file = (pgpassPath, false)
            } else if let home = Self.homeDirectory(env) {
                file = ((home as NSString).appendingPathComponent(".pgpass"), false)
            }
            if let file {
                // libpq looks a socket in its default directory up as localhost.
                let lookupHost = host == Self.defaultSocketDirectory ? "localhost" : host
                password = Self.passwordFromFile(file.path, explicitlyNamed: file.named, host: lookupHost, port: String(port),
                                                 database: database, user: user, warnings: &warnings)
            }
        }

        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.database = database
        self.tls = tls
        self.rootCertificate = rootCertificate
        self.applicationName = applicationName
        self.warnings = warnings
    }

    /// "postgres://user@host:port/db": what the header, `ls`, logs and errors show. Never the password.
    ///
    /// Each part is percent-encoded where it holds a character the URL syntax gives a meaning to,
    /// or one `terminalSafe` would escape, so the text is safe to print and parses back to the
    /// same user, host, port and database. A socket directory is percent-encoded in the host part.
    public var redacted: String {
        let hostPart = host.contains(":") && !host.hasPrefix("/")
            ? "[\(Self.percentEncoded(host, keeping: ":"))]"
            : Self.percentEncoded(host)
        return "postgres://\(Self.percentEncoded(user))@\(hostPart):\(port)/\(Self.percentEncoded(database))"
    }

    /// Any postgres URL inside `text` with its password (user:PASSWORD@) replaced by nothing, for echoing user input in errors.
    ///
    /// What libpq would read as the password goes: from the first `:` of the user part to the
    /// first `@` before any `/` (on the same line), or to a later `@` before a `?` or a space (a
    /// password holding an unencoded `/` or `@`), and the value of any `password=` query
    /// parameter (to the next `&` or the end of the line). Where the text is not a well-formed
    /// URL this errs towards removing too much.
    public static func redacting(_ text: String) -> String {
        var bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            guard let length = schemeLength(bytes, at: index) else { index += 1; continue }
            let start = index + length
            // libpq's rule: the first '@' before any '/'. Then, in case the password holds an
            // unencoded '/' or '@', the last '@' before a '?' or a space.
            var cut: Int?
            var end = start
            while end < bytes.count, !isLineBreak(bytes[end]), bytes[end] != UInt8(ascii: "@"), bytes[end] != UInt8(ascii: "/") { end += 1 }
            if end < bytes.count, bytes[end] == UInt8(ascii: "@") { cut = end }
            end = start
            while end < bytes.count, !isLineBreak(bytes[end]), bytes[end] != UInt8(ascii: "?"), bytes[end] != UInt8(ascii: " ") {
                if bytes[end] == UInt8(ascii: "@") { cut = max(cut ?? end, end) }
                end += 1
            }
            if let cut, let colon = bytes[start..<cut].firstIndex(of: UInt8(ascii: ":")) {
                bytes.removeSubrange(colon..<cut)
            }
            // `password=` values later on the line.
            var scan = start
            while scan < bytes.count, !isLineBreak(bytes[scan]) {
                if bytes[scan] == UInt8(ascii: "?") || bytes[scan] == UInt8(ascii: "&"),
                   let after = matchesKeyword(bytes, at: scan + 1, "password=") {
                    var valueEnd = after
                    while valueEnd < bytes.count, !isLineBreak(bytes[valueEnd]), bytes[valueEnd] != UInt8(ascii: "&") { valueEnd += 1 }
                    // `?password=x&y=z` keeps `?y=z`; `&password=x` goes with its `&`.
                    if bytes[scan] == UInt8(ascii: "?"), valueEnd < bytes.count, bytes[valueEnd] == UInt8(ascii: "&") {
                        bytes.removeSubrange((scan + 1)...valueEnd)
                    } else {
                        bytes.removeSubrange(scan..<valueEnd)
                    }
                    continue
                }
                scan += 1
            }
            index = start
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Every error here is the input's: a `StoreError` flagged `unsupported`, which the CLI
    /// reports as bad input (exit 2).
    static func badInput(_ message: String) -> StoreError { StoreError(message, unsupported: true) }

    // MARK: - Parsing the URI (libpq's conninfo_uri_parse_options)

    struct Given {
        /// libpq keyword → decoded value, for every option the URL sets (an empty query value
        /// counts as set; an empty user, password, host, port or database in the authority does not).
        var options: [String: String] = [:]
    }

    static func parse(_ url: String) throws -> Given {
        let bytes = Array(url.utf8)
        guard let schemeLength = schemeLength(bytes) else {
            let scheme = url.range(of: "://").map { String(url[..<$0.lowerBound]) }
            throw badInput(scheme.map { "'\($0.terminalSafe)://' is not a PostgreSQL URL (postgres:// or postgresql://)" }
                ?? "not a PostgreSQL URL: it must start with postgres:// or postgresql://")
        }
        func fail(_ what: String) -> StoreError {
            badInput("invalid PostgreSQL URL '\(redacting(url).terminalSafe)': \(what)")
        }
        func decoded(_ range: Range<Int>, _ what: String, secret: Bool = false) throws -> String {
            do {
                return try percentDecoded(bytes[range])
            } catch let problem as DecodingProblem {
                let raw = String(decoding: bytes[range], as: UTF8.self).terminalSafe
                throw fail(secret ? "the \(what) is not valid percent-encoding (\(problem.reason))"
                                  : "the \(what) '\(raw)' is not valid percent-encoding (\(problem.reason))")
            }
        }
        var given = Given()
        var p = schemeLength
        func at(_ i: Int) -> UInt8? { i < bytes.count ? bytes[i] : nil }

        // user[:password]@: up to the first '@' before any '/'.
        var scan = p
        while let b = at(scan), b != UInt8(ascii: "@"), b != UInt8(ascii: "/") { scan += 1 }
        if at(scan) == UInt8(ascii: "@") {
            let colon = bytes[p..<scan].firstIndex(of: UInt8(ascii: ":"))
            let userRange = p..<(colon ?? scan)
            if !userRange.isEmpty { given.options["user"] = try decoded(userRange, "user") }
            if let colon, colon + 1 < scan {
                given.options["password"] = try decoded((colon + 1)..<scan, "password", secret: true)
            }
            p = scan + 1
        }

        // Another '@' before the query (in the host, port or database name) is most likely a user
        // or password holding an unencoded '@' or '/': libpq would read part of it as the host,
        // port or database, and an error or log line showing those would show part of the
        // password. Refused without echoing anything.
        if bytes[p...].prefix(while: { $0 != UInt8(ascii: "?") }).contains(UInt8(ascii: "@")) {
            throw badInput("invalid PostgreSQL URL: it has an '@' after the one that ends the user and password; a user or password holding '@' or '/' must percent-encode them (%40, %2F), and so must a host or database name holding '@'")
        }

        // host[:port], the host an IPv6 address in brackets.
        let hostRange: Range<Int>
        if at(p) == UInt8(ascii: "[") {
            let open = p
            p += 1
            while let b = at(p), b != UInt8(ascii: "]") { p += 1 }
            guard at(p) != nil else { throw fail("the IPv6 address that starts at '[' has no closing ']'") }
            guard p > open + 1 else { throw fail("the IPv6 address in brackets is empty") }
            hostRange = (open + 1)..<p
            p += 1
            if let b = at(p), ![":", "/", "?", ","].contains(Character(Unicode.Scalar(b))) {
                throw fail("'\(String(Character(Unicode.Scalar(b))).terminalSafe)' after the IPv6 address's ']' (expected ':', '/' or '?')")
            }
        } else {
            let start = p
            while let b = at(p), ![":", "/", "?", ","].contains(Character(Unicode.Scalar(b))) { p += 1 }
            hostRange = start..<p
        }
        var portRange: Range<Int>?
        if at(p) == UInt8(ascii: ":") {
            let start = p + 1
            p = start
            while let b = at(p), !["/", "?", ","].contains(Character(Unicode.Scalar(b))) { p += 1 }
            portRange = start..<p
        }
        if at(p) == UInt8(ascii: ",") {
            let listStart = hostRange.lowerBound - (bytes[hostRange.lowerBound - 1] == UInt8(ascii: "[") ? 1 : 0)
            var listEnd = p
            while let b = at(listEnd), b != UInt8(ascii: "/"), b != UInt8(ascii: "?") { listEnd += 1 }
            let list = String(decoding: bytes[listStart..<listEnd], as: UTF8.self).terminalSafe
            throw fail("it names several hosts ('\(list)'); pipetop connects to one host")
        }
        if !hostRange.isEmpty { given.options["host"] = try decoded(hostRange, "host") }
        if let portRange, !portRange.isEmpty { given.options["port"] = try decoded(portRange, "port") }

        // /dbname, up to the query.
        if at(p) == UInt8(ascii: "/") {
            let start = p + 1
            p = start
            while let b = at(p), b != UInt8(ascii: "?") { p += 1 }
            if p > start { given.options["dbname"] = try decoded(start..<p, "database name") }
        }

        // ?name=value&...: later values win; each name must be one pipetop reads.
        if at(p) == UInt8(ascii: "?") {
            p += 1
            while p < bytes.count {
                let start = p
                var equals: Int?
                while let b = at(p), b != UInt8(ascii: "&") {
                    if b == UInt8(ascii: "=") {
                        if equals != nil {
                            let name = String(decoding: bytes[start..<equals!], as: UTF8.self).terminalSafe
                            throw fail("the query parameter '\(name)' has a second '='")
                        }
                        equals = p
                    }
                    p += 1
                }
                let end = p
                if at(p) == UInt8(ascii: "&") { p += 1 }
                guard let equals else {
                    throw fail("the query parameter '\(String(decoding: bytes[start..<end], as: UTF8.self).terminalSafe)' has no '=' (name=value)")
                }
                var name = try decoded(start..<equals, "query parameter name")
                var value = try decoded((equals + 1)..<end, "value of the query parameter '\(name.terminalSafe)'", secret: name == "password")
                if name == "ssl" {
                    guard value == "true" else {
                        throw fail("ssl='\(value.terminalSafe)': only ssl=true (libpq's alias for sslmode=require) is accepted; use sslmode=")
                    }
                    (name, value) = ("sslmode", "require")
                }
                guard parameters.contains(name) else {
                    let supported = "supported: \(parameters.filter { $0 != "ssl" }.joined(separator: ", "))"
                    if libpqParameters.contains(name) {
                        throw fail("the query parameter '\(name)' is a libpq setting pipetop does not support (\(supported))")
                    }
                    throw fail("unknown query parameter '\(name.terminalSafe)' (\(supported))")
                }
                given.options[name] = value
            }
        }
        return given
    }

    /// The length of `postgresql://` or `postgres://` (any case) at `start` in `bytes`, if there.
    static func schemeLength(_ bytes: [UInt8], at start: Int = 0) -> Int? {
        for scheme in schemes where matchesKeyword(bytes, at: start, scheme) != nil { return scheme.utf8.count }
        return nil
    }

    /// The index after `keyword` (ASCII, any case) at `start` in `bytes`, if it is there.
    static func matchesKeyword(_ bytes: [UInt8], at start: Int, _ keyword: String) -> Int? {
        var index = start
        for expected in keyword.utf8 {
            guard index < bytes.count, lowercased(bytes[index]) == expected else { return nil }
            index += 1
        }
        return index
    }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    static func isLineBreak(_ byte: UInt8) -> Bool { byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") }

    struct DecodingProblem: Error { var reason: String }

    /// libpq's conninfo_uri_decode: `%XX` is a byte, `%00` is refused, nothing else is special.
    static func percentDecoded(_ bytes: ArraySlice<UInt8>) throws -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "%") else { out.append(byte); index += 1; continue }
            guard index + 2 < bytes.endIndex, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                throw DecodingProblem(reason: "'%' must be followed by two hexadecimal digits")
            }
            let value = high << 4 | low
            guard value != 0 else { throw DecodingProblem(reason: "%00 is not allowed") }
            out.append(value)
            index += 3
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            throw DecodingProblem(reason: "it does not decode to UTF-8 text")
        }
        return text
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// `text` with every character outside the URL's unreserved set (and `keeping`) that the
    /// URL syntax gives a meaning to, or that `terminalSafe` would escape, percent-encoded.
    static func percentEncoded(_ text: String, keeping: String = "") -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            let ascii = scalar.isASCII
            let unreserved = ascii && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-._~".unicodeScalars.contains(scalar))
            if unreserved || keeping.unicodeScalars.contains(scalar) || (!ascii && !scalar.isTerminalUnsafe) {
                out.unicodeScalars.append(scalar)
            } else {
                for byte in String(scalar).utf8 { out += String(format: "%%%02X", byte) }
            }
        }
        return out
    }

    // MARK: - Defaults and the password file

    /// libpq's pg_fe_getauthname: the effective user's name from the password database.
    static func operatingSystemUser() -> String? { passwordEntry { $0.pw_name } }

    /// `$HOME`, else the effective user's home directory (libpq's pqGetHomeDirectory).
    static func homeDirectory(_ environment: [String: String]) -> String? {
        if let home = environment["HOME"], !home.isEmpty { return home }
        return passwordEntry { $0.pw_dir }
    }

    /// A field of the effective user's password database entry (`getpwuid_r`: parsing may run
    /// on several threads at once).
    static func passwordEntry(_ field: (passwd) -> UnsafeMutablePointer<CChar>?) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        return buffer.withUnsafeMutableBufferPointer { storage -> String? in
            guard getpwuid_r(geteuid(), &entry, storage.baseAddress!, storage.count, &result) == 0, result != nil,
                  let text = field(entry).map({ String(cString: $0) }), !text.isEmpty else { return nil }
            return text
        }
    }

    /// libpq's passwordFromFile: the password of the first line `hostname:port:database:username:password`
    /// whose first four fields match (`*` matches anything; `\:` and `\\` are a literal `:` and
    /// `\`; lines starting with `#` are comments). A file that is not a plain file, or that
    /// group or others may access, is ignored with a warning; a missing one silently, as libpq
    /// does, unless it was named (`?passfile=`, `$PGPASSFILE`).
    static func passwordFromFile(_ path: String, explicitlyNamed: Bool, host: String, port: String, database: String, user: String,
                                 warnings: inout [String]) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if explicitlyNamed {
                warnings.append("password file \"\(path.terminalSafe)\" cannot be read (\(String(cString: strerror(errno)))); no password from it")
            }
            return nil
        }
        guard info.st_mode & 0o170000 == 0o100000 else {
            warnings.append("password file \"\(path.terminalSafe)\" is not a plain file; ignoring it")
            return nil
        }
        guard info.st_mode & 0o077 == 0 else {
            warnings.append("password file \"\(path.terminalSafe)\" has group or world access; permissions should be u=rw (0600) or less; ignoring it (chmod 0600 \(path.terminalSafe))")
            return nil
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            warnings.append("password file \"\(path.terminalSafe)\" cannot be read; no password from it")
            return nil
        }
        return passwordFromLines(Array(data), host: host, port: port, database: database, user: user)
    }

    /// The matching described at `passwordFromFile`, on the file's bytes.
    static func passwordFromLines(_ file: [UInt8], host: String, port: String, database: String, user: String) -> String? {
        let tokens = [host, port, database, user].map { Array($0.utf8) }
        for rawLine in file.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            var line = Array(rawLine)
            while let last = line.last, isLineBreak(last) { line.removeLast() }
            guard !line.isEmpty, line[0] != UInt8(ascii: "#") else { continue }
            var index: Int? = 0
            for token in tokens {
                guard let at = index else { break }
                index = fieldMatches(line, at: at, token)
            }
            guard let passwordStart = index else { continue }
            var password: [UInt8] = []
            var i = passwordStart
            while i < line.count, line[i] != UInt8(ascii: ":") {
                if line[i] == UInt8(ascii: "\\"), i + 1 < line.count { i += 1 }
                password.append(line[i])
                i += 1
            }
            return password.isEmpty ? nil : String(decoding: password, as: UTF8.self)
        }
        return nil
    }

    /// libpq's pwdfMatchesString: whether the field at `start` is `*` or equals `token` (with its
    /// backslash escapes), and if so the index after its `:`.
    static func fieldMatches(_ line: [UInt8], at start: Int, _ token: [UInt8]) -> Int? {
        if start + 1 < line.count, line[start] == UInt8(ascii: "*"), line[start + 1] == UInt8(ascii: ":") { return start + 2 }
        var i = start
        var t = 0
        var escaped = false
        while i < line.count {
            if line[i] == UInt8(ascii: "\\"), !escaped {
                i += 1
                escaped = true
                guard i < line.count else { return nil }
            }
            if line[i] == UInt8(ascii: ":"), t == token.count, !escaped { return i + 1 }
            escaped = false
            guard t < token.count, line[i] == token[t] else { return nil }
            i += 1
            t += 1
        }
        return nil
    }
}

extension PostgresURL: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The redacted form.
    public var description: String { redacted }
    public var debugDescription: String { redacted }
    /// Without the password, so `dump` and test failure messages never show it.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "user": user, "password": password == nil ? "nil" : "<redacted>", "host": host, "port": port,
            "database": database, "tls": tls, "rootCertificate": rootCertificate, "applicationName": applicationName as Any, "warnings": warnings,
        ], displayStyle: .struct)
    }
}
