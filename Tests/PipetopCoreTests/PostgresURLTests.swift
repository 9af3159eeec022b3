import Foundation
import Testing
@testable import PipetopCore

/// `PostgresURL` reads a store URL as libpq reads a connection URI, with libpq's environment
/// defaults and password file, and never shows the password.
@Suite struct PostgresURLTests {
    /// A password no other part of any URL here contains.
    static let secret = "Zq9-s3cr3t-Xw"
    let directory: URL
    /// No password file: tests never read the developer's `~/.pgpass`.
    var noFile: String { directory.appendingPathComponent("no-such-pgpass").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-pgurl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func parse(_ url: String, _ environment: [String: String] = [:], pgpass: String? = nil) throws -> PostgresURL {
        try PostgresURL(parsing: url, environment: environment, pgpassPath: pgpass ?? noFile)
    }

    /// The error `url` fails with (the test fails when it parses).
    func error(_ url: String, _ environment: [String: String] = [:]) -> String {
        do {
            let parsed = try parse(url, environment)
            Issue.record("'\(url)' parsed as \(parsed)")
            return ""
        } catch let error as StoreError {
            #expect(!error.description.contains(Self.secret), "the error shows the password: \(error)")
            #expect(error.unsupported, "bad input (exit 2): \(error)")
            return error.description
        } catch {
            Issue.record("not a StoreError: \(error)")
            return ""
        }
    }

    func pgpass(_ text: String, mode: Int = 0o600) throws -> String {
        let path = directory.appendingPathComponent("pgpass-\(UUID().uuidString)").path
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        #expect(chmod(path, mode_t(mode)) == 0)
        return path
    }

    var osUser: String { PostgresURL.operatingSystemUser() ?? "" }

    // MARK: schemes

    @Test func bothSchemesInAnyCaseArePostgres() {
        for url in ["postgres://h/db", "postgresql://h/db", "POSTGRES://h", "PostgreSQL://", "postgres://"] {
            #expect(PostgresURL.isPostgres(url), "\(url)")
        }
        for url in ["", "postgres:/h", "postgres:h", "postgresx://h", "file:///tmp/a", "/tmp/store.sqlite", "mysql://h", " postgres://h"] {
            #expect(!PostgresURL.isPostgres(url), "\(url)")
        }
        #expect(error("mysql://u:\(Self.secret)@h/db").contains("'mysql://' is not a PostgreSQL URL"))
        #expect(error("/tmp/x").contains("postgres:// or postgresql://"))
    }

    // MARK: the parts

    @Test func everyPartIsRead() throws {
        let url = try parse("postgresql://alice:\(Self.secret)@db.example.com:6543/orders?sslmode=verify-full&application_name=pipetop-node-1")
        #expect(url.user == "alice" && url.password == Self.secret && url.host == "db.example.com" && url.port == 6543)
        #expect(url.database == "orders" && url.tls == .verifyFull && url.applicationName == "pipetop-node-1" && url.warnings.isEmpty)
    }

    @Test func missingPartsTakeLibpqsDefaults() throws {
        for text in ["postgres://", "postgres:///", "postgres://@", "postgres://:@/", "postgres://h:/"] {
            let url = try parse(text)
            #expect(url.user == osUser && url.password == nil && url.port == 5432 && url.database == osUser, "\(text)")
            #expect(url.tls == .prefer && url.applicationName == nil, "\(text)")
        }
        #expect(try parse("postgres://").host == "localhost")
        #expect(try parse("postgres://h:/").host == "h")
        #expect(try parse("postgres://bob@h").database == "bob", "the database defaults to the user")
    }

    @Test func theEnvironmentFillsWhatTheURLLeavesOut() throws {
        let env = ["PGUSER": "envuser", "PGHOST": "envhost", "PGPORT": "7000", "PGDATABASE": "envdb",
                   "PGPASSWORD": Self.secret, "PGSSLMODE": "require", "PGAPPNAME": "envapp"]
        let url = try parse("postgres://", env)
        #expect(url.user == "envuser" && url.host == "envhost" && url.port == 7000 && url.database == "envdb")
        #expect(url.password == Self.secret && url.tls == .require && url.applicationName == "envapp")
        let given = try parse("postgres://u:pw@h:1/d?sslmode=disable&application_name=a", env)
        #expect(given.user == "u" && given.host == "h" && given.port == 1 && given.database == "d")
        #expect(given.password == "pw" && given.tls == .disable && given.applicationName == "a")
        // Empty settings mean the built-in defaults.
        let empty = try parse("postgres://", ["PGUSER": "", "PGHOST": "", "PGPORT": "", "PGDATABASE": ""])
        #expect(empty.user == osUser && empty.host == "localhost" && empty.port == 5432 && empty.database == osUser)
        // $PGDATABASE, not the user, when the URL names no database; the user when none at all.
        #expect(try parse("postgres://u@h", ["PGDATABASE": "envdb"]).database == "envdb")
        #expect(try parse("postgres://u@h/", ["PGDATABASE": "envdb"]).database == "envdb")
    }

    @Test func anEmptyUserOrPasswordInTheURLIsNotGiven() throws {
        let url = try parse("postgres://:@h/d", ["PGUSER": "envuser", "PGPASSWORD": Self.secret])
        #expect(url.user == "envuser" && url.password == Self.secret)
        #expect(try parse("postgres://u:@h/d", ["PGPASSWORD": Self.secret]).password == Self.secret)
        #expect(try parse("postgres://u@h/d").password == nil)
    }

    @Test func userPasswordAndDatabaseArePercentDecoded() throws {
        let url = try parse("postgres://al%40ice%3Ax:p%40ss%2Fw%3Ard%25@h/my%20db%2Fx")
        #expect(url.user == "al@ice:x" && url.password == "p@ss/w:rd%" && url.database == "my db/x")
        #expect(try parse("postgres://u:a+b@h/c+d").password == "a+b", "'+' is a plus, not a space")
        #expect(try parse("postgres://u:a+b@h/c+d").database == "c+d")
        #expect(try parse("postgres://u:%C3%A9t%C3%A9@h/%E6%97%A5").password == "été")
        #expect(try parse("postgres://u:%C3%A9t%C3%A9@h/%E6%97%A5").database == "日")
        #expect(try parse("postgres://u@h/a/b").database == "a/b", "the database runs to the query")
        #expect(try parse("postgres://u:a:b@h/d").password == "a:b", "the password runs from the first ':' to the '@'")
        #expect(try parse("postgres://%75ser@%68ost:%35432/d").user == "user")
        #expect(try parse("postgres://%75ser@%68ost:%35432/d").host == "host")
        #expect(try parse("postgres://%75ser@%68ost:%35432/d").port == 5432)
    }

    @Test func badPercentEncodingIsAnErrorThatNeverShowsThePassword() {
        #expect(error("postgres://u%zz@h/d").contains("the user 'u%zz' is not valid percent-encoding"))
        #expect(error("postgres://u@h/d%4").contains("the database name 'd%4' is not valid percent-encoding"))
        #expect(error("postgres://u@h/d%00").contains("%00 is not allowed"))
        #expect(error("postgres://u@h/%FF").contains("UTF-8"))
        let password = error("postgres://u:\(Self.secret)%g1@h/d")
        #expect(password.contains("the password is not valid percent-encoding"))
        let query = error("postgres://u@h/d?password=\(Self.secret)%")
        #expect(query.contains("not valid percent-encoding"))
    }

    // MARK: hosts

    @Test func aUnixSocketDirectoryIsAHostStartingWithASlash() throws {
        let query = try parse("postgres:///pipetop?host=/var/run/postgresql")
        #expect(query.host == "/var/run/postgresql" && query.database == "pipetop")
        let encoded = try parse("postgresql://%2Ftmp%2Fpg%20sock:5433/pipetop")
        #expect(encoded.host == "/tmp/pg sock" && encoded.port == 5433)
        #expect(try parse("postgres://", ["PGHOST": "/run/pg"]).host == "/run/pg")
        #expect(encoded.redacted == "postgres://\(osUser)@%2Ftmp%2Fpg%20sock:5433/pipetop")
        #expect(try parse(encoded.redacted).host == "/tmp/pg sock", "the redacted form parses back")
        #expect(error("postgres:///d?host=@abstract").contains("abstract Unix socket"))
    }

    @Test func anIPv6AddressIsInBrackets() throws {
        let url = try parse("postgres://u@[::1]:5433/d")
        #expect(url.host == "::1" && url.port == 5433 && url.database == "d")
        #expect(url.redacted == "postgres://u@[::1]:5433/d")
        #expect(try parse("postgres://[2001:db8::7]").host == "2001:db8::7")
        #expect(try parse("postgres://[2001:db8::7]?sslmode=disable").tls == .disable)
        #expect(try parse("postgres://[fe80::1%25eth0]/d").host == "fe80::1%eth0")
        #expect(try parse(try parse("postgres://[fe80::1%25eth0]/d").redacted).host == "fe80::1%eth0")
        #expect(error("postgres://u:\(Self.secret)@[::1/d").contains("no closing ']'"))
        #expect(error("postgres://[]/d").contains("IPv6 address in brackets is empty"))
        #expect(error("postgres://[::1]x/d").contains("'x' after the IPv6 address's ']'"))
    }

    @Test func severalHostsAreRefused() {
        for url in ["postgres://h1,h2/d", "postgres://h1:5432,h2:5433/d", "postgres://[::1],[::2]/d",
                    "postgres://u:\(Self.secret)@h1,h2/d"] {
            #expect(error(url).contains("several hosts"), "\(url)")
        }
        #expect(error("postgres://h1,h2/d").contains("'h1,h2'"))
        #expect(error("postgres:///d?host=a,b").contains("the URL's host 'a,b' names several hosts"))
        #expect(error("postgres:///d?host=a%2Cb").contains("several hosts"))
        #expect(error("postgres://h/d?port=1,2").contains("several ports"))
        #expect(error("postgres://", ["PGHOST": "a,b"]).contains("$PGHOST 'a,b' names several hosts"))
    }

    @Test func aPortIsANumberFrom1To65535() throws {
        #expect(try parse("postgres://h:1").port == 1)
        #expect(try parse("postgres://h:65535").port == 65535)
        #expect(try parse("postgres://h/d?port=6000").port == 6000)
        for bad in ["0", "65536", "abc", "-1", "+5", "54 32", "99999999999999999999"] {
            let encoded = bad.replacingOccurrences(of: " ", with: "%20")
            #expect(error("postgres://h:\(encoded)/d").contains("the URL's port '\(bad)' is not a port"), "\(bad)")
        }
        #expect(error("postgres://h", ["PGPORT": "x1"]).contains("$PGPORT 'x1' is not a port (a number from 1 to 65535)"))
    }

    // MARK: query parameters

    @Test func queryParametersOverrideTheAuthorityAndLaterOnesWin() throws {
        let url = try parse("postgres://u:pw@h:1/d?host=h2&port=2&user=u2&dbname=d2&password=\(Self.secret)&port=3")
        #expect(url.host == "h2" && url.port == 3 && url.user == "u2" && url.database == "d2" && url.password == Self.secret)
        // An empty query value is set: it means the built-in default, not the environment's.
        let empty = try parse("postgres://h?dbname=&user=", ["PGDATABASE": "envdb", "PGUSER": "envuser"])
        #expect(empty.user == osUser && empty.database == osUser)
        #expect(try parse("postgres://h?application_name=a%20b%26c%3Dd").applicationName == "a b&c=d")
        #expect(try parse("postgres://h?fallback_application_name=fb").applicationName == "fb")
        #expect(try parse("postgres://h?fallback_application_name=fb&application_name=a").applicationName == "a")
        #expect(try parse("postgres://h?fallback_application_name=fb", ["PGAPPNAME": "env"]).applicationName == "env")
        #expect(try parse("postgres://h?application_name=").applicationName == nil)
        #expect(try parse("postgres://h?").host == "h")
    }

    @Test func everySSLModeAndLibpqsSSLTrueAlias() throws {
        let modes: [(String, PostgresURL.TLSMode)] = [("disable", .disable), ("allow", .allow), ("prefer", .prefer),
                                                      ("require", .require), ("verify-ca", .verifyCA), ("verify-full", .verifyFull)]
        for (text, mode) in modes {
            #expect(try parse("postgres://h/d?sslmode=\(text)").tls == mode)
            #expect(try parse("postgres://h/d", ["PGSSLMODE": text]).tls == mode)
        }
        #expect(try parse("postgres://h/d?ssl=true").tls == .require)
        #expect(error("postgres://h/d?ssl=false").contains("only ssl=true"))
        #expect(error("postgres://h/d?sslmode=Require").contains("the URL's sslmode 'Require' is not an sslmode"))
        #expect(error("postgres://h/d?sslmode=").contains("the URL's sslmode '' is not an sslmode"))
        #expect(error("postgres://h/d", ["PGSSLMODE": "on"]).contains("$PGSSLMODE 'on' is not an sslmode"))
    }

    /// libpq's `sslrootcert`: the URL's, else `$PGSSLROOTCERT`, else `~/.postgresql/root.crt`;
    /// `system` makes verify-full the default and refuses a weaker mode.
    @Test func rootCertificatesAsLibpqFindsThem() throws {
        #expect(try parse("postgres://h/d?sslrootcert=/etc/ca.pem").rootCertificate == .file("/etc/ca.pem"))
        #expect(try parse("postgres://h/d?sslrootcert=%2Fetc%2Fca.pem").rootCertificate == .file("/etc/ca.pem"))
        #expect(try parse("postgres://h/d", ["PGSSLROOTCERT": "/env/ca.pem"]).rootCertificate == .file("/env/ca.pem"))
        #expect(try parse("postgres://h/d?sslrootcert=/url.pem", ["PGSSLROOTCERT": "/env/ca.pem"]).rootCertificate == .file("/url.pem"))
        #expect(try parse("postgres://h/d", ["HOME": "/home/alice"]).rootCertificate == .file("/home/alice/.postgresql/root.crt"))
        #expect(try parse("postgres://h/d?sslrootcert=", ["HOME": "/home/alice"]).rootCertificate == .file("/home/alice/.postgresql/root.crt"))

        let system = try parse("postgres://h/d?sslrootcert=system")
        #expect(system.rootCertificate == .system && system.tls == .verifyFull)
        #expect(try parse("postgres://h/d?sslrootcert=system&sslmode=verify-full").tls == .verifyFull)
        #expect(try parse("postgres://h/d", ["PGSSLROOTCERT": "system"]).tls == .verifyFull)
        #expect(error("postgres://h/d?sslrootcert=system&sslmode=require").contains("the URL's sslmode 'require' is too weak for sslrootcert=system"))
        #expect(error("postgres://h/d?sslrootcert=system", ["PGSSLMODE": "verify-ca"]).contains("$PGSSLMODE 'verify-ca' is too weak"))
        // A file named "system" is ./system, as libpq says.
        #expect(try parse("postgres://h/d?sslrootcert=./system&sslmode=require").rootCertificate == .file("./system"))
        // What the header shows stays user@host:port/db.
        #expect(try parse("postgres://u@h/d?sslrootcert=/etc/ca.pem").redacted == "postgres://u@h:5432/d")
    }

    @Test func anUnknownOrUnsupportedParameterIsAnErrorNamingIt() {
        let unknown = error("postgres://u:\(Self.secret)@h/d?sslmode=require&colour=blue")
        #expect(unknown.contains("unknown query parameter 'colour'") && unknown.contains("supported: host, port, dbname"))
        #expect(error("postgres://h/d?connect_timeout=10").contains("'connect_timeout' is a libpq setting pipetop does not support"))
        #expect(error("postgres://h/d?sslcert=/me.pem").contains("'sslcert' is a libpq setting pipetop does not support"))
        #expect(error("postgres://h/d?Host=x").contains("unknown query parameter 'Host'"), "names are case-sensitive, as in libpq")
        #expect(error("postgres://h/d?sslmode").contains("'sslmode' has no '='"))
        #expect(error("postgres://h/d?a=b=c").contains("'a' has a second '='"))
        #expect(error("postgres://h/d?&sslmode=require").contains("'' has no '='"))
    }

    @Test func anAtSignAfterTheUserAndPasswordIsRefusedWithoutEchoingAnything() {
        // A password holding an unencoded '/' or '@' would otherwise be read in part as the host.
        for url in ["postgres://u:qq/\(Self.secret)@h/d", "postgres://u:qq@\(Self.secret)@h/d", "postgres://u:qq@h/\(Self.secret)@d"] {
            let message = error(url)
            #expect(message.contains("must percent-encode"), "\(url)")
            #expect(!message.contains("qq"), "\(message)")
        }
        #expect((try? parse("postgres://h/d?application_name=me@host"))?.applicationName == "me@host", "'@' in the query is fine")
    }

    // MARK: the password file

    @Test func thePasswordFileMatchesHostPortDatabaseAndUserFirstMatchWins() throws {
        let file = try pgpass("""
            # hostname:port:database:username:password
            other:5432:d:u:wrong-host
            h:5433:d:u:wrong-port
            h:5432:e:u:wrong-database
            h:5432:d:v:wrong-user
            h:5432:d:u:\(Self.secret)
            h:5432:d:u:second-match
            *:*:*:*:catch-all

            """)
        #expect(try parse("postgres://u@h/d", pgpass: file).password == Self.secret)
        #expect(try parse("postgres://u@h:5433/d", pgpass: file).password == "wrong-port")
        #expect(try parse("postgres://z@q/d", pgpass: file).password == "catch-all")
        // The defaults are what is looked up: user, database, port and host.
        #expect(try parse("postgres://", ["PGUSER": "u", "PGDATABASE": "d", "PGHOST": "h"], pgpass: file).password == Self.secret)
        #expect(try parse("postgres://u@h/d", pgpass: file).warnings.isEmpty)
    }

    @Test func wildcardsEscapesCommentsAndLineEndings() throws {
        let file = try pgpass("""
            #h:5432:d:u:commented
            \\*:5432:d:u:star-is-literal-when-escaped
            h\\:x:5432:d:u:colon-in-host
            h\\\\y:5432:d:u:backslash-in-host
            *:5432:d:u:pa\\:ss\\\\wo\\rd:ignored-after-colon
            *:*:star:*:*
            """.replacingOccurrences(of: "\n", with: "\r\n"))
        #expect(try parse("postgres://u@%2A/d", pgpass: file).password == "star-is-literal-when-escaped")
        #expect(try parse("postgres://u@h%3Ax/d", pgpass: file).password == "colon-in-host")
        #expect(try parse("postgres://u@h%5Cy/d", pgpass: file).password == "backslash-in-host")
        #expect(try parse("postgres://u@h/d", pgpass: file).password == "pa:ss\\word")
        #expect(try parse("postgres://u@h/star", pgpass: file).password == "*", "a '*' password is a password")
        // A line with too few fields matches nothing; an empty password is none.
        let short = try pgpass("h:5432:d:u\nh:5432:d:u:\n")
        #expect(try parse("postgres://u@h/d", pgpass: short).password == nil)
    }

    @Test func aSocketInTheDefaultDirectoryIsLookedUpAsLocalhost() throws {
        let file = try pgpass("localhost:5432:d:u:local\n/tmp/pg:5432:d:u:socket-dir\n")
        #expect(try parse("postgres://u@/d", pgpass: file).password == "local")
        #expect(try parse("postgres://u@%2Fvar%2Frun%2Fpostgresql/d", pgpass: file).password == "local")
        #expect(try parse("postgres://u@%2Ftmp%2Fpg/d", pgpass: file).password == "socket-dir")
    }

    @Test func aGivenPasswordWinsAndTheFileIsNotRead() throws {
        let file = try pgpass("*:*:*:*:from-file\n", mode: 0o644)
        let url = try parse("postgres://u:given@h/d", pgpass: file)
        #expect(url.password == "given" && url.warnings.isEmpty, "an insecure file not needed is not read, nor warned about")
        #expect(try parse("postgres://u@h/d", ["PGPASSWORD": "env"], pgpass: file).password == "env")
    }

    @Test func aFileOthersCanAccessIsIgnoredWithAWarning() throws {
        for mode in [0o644, 0o640, 0o604, 0o620, 0o610, 0o601] {
            let file = try pgpass("*:*:*:*:\(Self.secret)\n", mode: mode)
            let url = try parse("postgres://u@h/d", pgpass: file)
            #expect(url.password == nil, "mode \(String(mode, radix: 8))")
            #expect(url.warnings == ["password file \"\(file)\" has group or world access; permissions should be u=rw (0600) or less; ignoring it (chmod 0600 \(file))"])
            #expect(!url.warnings.joined().contains(Self.secret))
        }
        #expect(try parse("postgres://u@h/d", pgpass: try pgpass("*:*:*:*:ok\n", mode: 0o400)).password == "ok")
        let dir = try parse("postgres://u@h/d", pgpass: directory.path)
        #expect(dir.password == nil && dir.warnings == ["password file \"\(directory.path)\" is not a plain file; ignoring it"])
    }

    @Test func theFileIsPassfileThenPGPASSFILEThenHome() throws {
        let a = try pgpass("*:*:*:*:from-passfile\n")
        let b = try pgpass("*:*:*:*:from-PGPASSFILE\n")
        let home = directory.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let homeFile = home.appendingPathComponent(".pgpass").path
        try "*:*:*:*:from-home\n".write(toFile: homeFile, atomically: false, encoding: .utf8)
        #expect(chmod(homeFile, 0o600) == 0)
        let encodedA = a.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        #expect(try parse("postgres://u@h/d?passfile=\(encodedA)", ["PGPASSFILE": b]).password == "from-passfile")
        #expect(try parse("postgres://u@h/d", ["PGPASSFILE": b]).password == "from-PGPASSFILE")
        #expect(try PostgresURL(parsing: "postgres://u@h/d", environment: ["HOME": home.path]).password == "from-home")
        #expect(try parse("postgres://u@h/d", ["HOME": home.path], pgpass: a).password == "from-passfile", "pgpassPath replaces ~/.pgpass")
        // A missing default file is no news; a missing named one is.
        #expect(try parse("postgres://u@h/d").warnings.isEmpty)
        let named = try parse("postgres://u@h/d", ["PGPASSFILE": noFile])
        #expect(named.warnings.count == 1 && named.warnings[0].contains("\(noFile)\" cannot be read"))
    }

    @Test func environmentSettingsPipetopDoesNotUseAreWarnedAbout() throws {
        let url = try parse("postgres://h/d", ["PGHOSTADDR": "10.0.0.1", "PGSERVICE": "prod"])
        #expect(url.warnings.count == 2 && url.warnings[0].hasPrefix("$PGHOSTADDR is set, but pipetop does not use it"))
    }

    // MARK: never the password

    @Test func theRedactedFormAndDescriptionNeverShowThePassword() throws {
        let url = try parse("postgresql://alice:\(Self.secret)@db.example:6543/orders?sslmode=require")
        #expect(url.redacted == "postgres://alice@db.example:6543/orders")
        #expect(url.description == url.redacted && "\(url)" == url.redacted)
        #expect(String(reflecting: url) == url.redacted)
        var dumped = ""
        dump(url, to: &dumped)
        #expect(!dumped.contains(Self.secret) && dumped.contains("<redacted>"))
        #expect(!url.redacted.contains(Self.secret))
        let defaults = try parse("postgres://h", pgpass: try pgpass("*:*:*:*:\(Self.secret)\n"))
        #expect(defaults.password == Self.secret && !defaults.redacted.contains(Self.secret))
    }

    @Test func theRedactedFormEncodesWhatTheSyntaxOrATerminalWouldMisread() throws {
        let url = try parse("postgres://a%40b%3Ac%1B%5B31m@h/d%2Fb%3Fx%E2%80%AEy%C3%A9")
        #expect(url.redacted == "postgres://a%40b%3Ac%1B%5B31m@h:5432/d%2Fb%3Fx%E2%80%AEyé")
        let back = try parse(url.redacted)
        #expect(back.user == url.user && back.host == url.host && back.port == url.port && back.database == url.database)
    }

    @Test func redactingRemovesThePasswordFromAnyPostgresURLInText() {
        let s = Self.secret
        let cases: [(String, String)] = [
            ("postgres://u:\(s)@h/d", "postgres://u@h/d"),
            ("cannot open 'postgresql://u:\(s)@h:5432/d?sslmode=require': refused", "cannot open 'postgresql://u@h:5432/d?sslmode=require': refused"),
            ("POSTGRES://u:\(s)@h and postgres://v:\(s)@k/x", "POSTGRES://u@h and postgres://v@k/x"),
            ("postgres://:\(s)@h", "postgres://@h"),
            ("postgres://u@h/d?password=\(s)", "postgres://u@h/d"),
            ("postgres://u@h/d?password=\(s)&sslmode=disable", "postgres://u@h/d?sslmode=disable"),
            ("postgres://u@h/d?sslmode=disable&password=\(s)&x=1", "postgres://u@h/d?sslmode=disable&x=1"),
            ("postgres://u:a/\(s)@h/d", "postgres://u@h/d"),
            ("postgres://u:a@\(s)@h/d", "postgres://u@h/d"),
            ("postgres://u:a\(s) b@h/d", "postgres://u@h/d"),
            ("no URL: u:\(s)@h", "no URL: u:\(s)@h"),
            ("postgres://h:5432/d is fine", "postgres://h:5432/d is fine"),
            ("postgres://u@h/d\npostgres://u:\(s)@h", "postgres://u@h/d\npostgres://u@h"),
        ]
        for (text, expected) in cases {
            #expect(PostgresURL.redacting(text) == expected)
        }
    }

    /// Many malformed and well-formed URLs: no error, redacted form or description shows the
    /// password, in any of its encodings.
    @Test func noErrorEverShowsThePassword() throws {
        let s = Self.secret
        let templates = [
            "postgres://u:\(s)@h:x/d", "postgres://u:\(s)@h:0/d", "postgres://u:\(s)@[::1/d", "postgres://u:\(s)@[]/d",
            "postgres://u:\(s)@[::1]x/d", "postgres://u:\(s)@h1,h2/d", "postgres://u:\(s)@h/d?x=1", "postgres://u:\(s)@h/d?sslmode=bad",
            "postgres://u:\(s)@h/d?connect_timeout=1", "postgres://u:\(s)@h/d?a", "postgres://u:\(s)@h/d?a=b=c",
            "postgres://u:\(s)@h/d%zz", "postgres://u%zz:\(s)@h/d", "postgres://u:\(s)%zz@h/d", "postgres://u:\(s)@h/d?password=\(s)%",
            "postgres://u:\(s)@h/d?host=a,b", "postgres://u:\(s)@h/d?ssl=no", "postgres://u:\(s)@h/d?host=@x",
            "postgres://u@h/d?password=\(s)&port=x", "postgres://u@h/d?sslmode=x&password=\(s)", "postgresql://u:\(s)@h/d?port=1,2",
            "postgres://u:\(s)@h/d%00", "postgres://u:\(s)/x@h/d", "postgres://u:\(s)@h:/d?&", "POSTGRES://u:\(s)@h:99999",
        ]
        for url in templates {
            _ = error(url)
            _ = error(url.replacingOccurrences(of: "s3cr3t", with: "s%33cr3t"))
        }
        let good = try parse("postgres://u:\(s)@h/d?password=\(s)")
        #expect(!good.redacted.contains(s) && !good.description.contains(s) && !String(reflecting: good).contains(s))
    }
}
