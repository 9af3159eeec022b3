import Foundation
import PipetopTestSupport
@testable import PipetopCore
import Testing

/// The throwaway PostgreSQL server the tests use (`.ci/postgres`, `TestPostgres`): each test gets
/// a database of its own. Fails in CI when the server is missing; skipped, saying why, elsewhere.
@Suite(.enabled("needs PostgreSQL (PIPETOP_TEST_POSTGRES)", { TestPostgres.shouldRun() }))
struct TestPostgresTests {
    @Test func freshDatabasesAreNewEmptyAndUsable() throws {
        let first = try TestPostgres.freshDatabase()
        let second = try TestPostgres.freshDatabase()
        #expect(first != second)
        for url in [first, second] {
            #expect(try TestPostgres.psql("select 1", on: url).trimmingCharacters(in: .whitespacesAndNewlines) == "1")
            let name = try #require(URLComponents(string: url)?.path.dropFirst())
            #expect(try TestPostgres.psql("select current_database()", on: url).trimmingCharacters(in: .whitespacesAndNewlines) == String(name))
            // Empty: no tables of anyone else's.
            #expect(try TestPostgres.psql("select count(*) from pg_tables where schemaname = 'public'", on: url)
                .trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        }
        // A table made in one is not in the other.
        try TestPostgres.psql("create table t (x int)", on: first)
        #expect(try TestPostgres.psql("select count(*) from pg_tables where tablename = 't'", on: second)
            .trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }

    /// Suites run in parallel, so databases are made at the same time.
    @Test func databasesMadeAtOnceAreAllMade() async throws {
        let urls = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<6 { group.addTask { try TestPostgres.freshDatabase() } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(urls.count == 6)
    }

    /// TLS as libpq's `sslmode` says: `require` and `prefer` (the default) encrypt when the server
    /// offers it (`.ci/postgres` does, with a self-signed certificate), `disable` never does;
    /// `verify-ca` and `verify-full` check the certificate against the root certificates
    /// (`sslrootcert`, else `~/.postgresql/root.crt`), and refuse to connect without them; with
    /// a root certificate there, every mode checks the chain.
    @Test func tlsAsTheSSLModeSays() throws {
        let url = try TestPostgres.freshDatabase()
        let offered = try TestPostgres.psql("show ssl", on: url).trimmingCharacters(in: .whitespacesAndNewlines) == "on"
        guard offered else {
            // CI's server offers TLS; another may not.
            if TestPostgres.required { Issue.record("the test server does not offer TLS (.ci/postgres turns it on)") }
            return
        }
        // A home of our own: no ~/.postgresql/root.crt but the one this test puts there.
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home + "/.postgresql", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: home) }
        let environment = ["HOME": home]
        func connect(_ query: String) throws -> Int64? {
            let session = try PostgresSession(PostgresURL(parsing: url + query, environment: environment), readOnly: true)
            return try session.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").rows.first?.int64(0)
        }
        func refusal(_ query: String) -> String {
            do {
                _ = try connect(query)
                return "(connected)"
            } catch {
                return "\(error)"
            }
        }
        for (query, encrypted) in [("?sslmode=require", true), ("?sslmode=prefer", true), ("?sslmode=disable", false), ("", true)] {
            #expect(try connect(query) == (encrypted ? 1 : 0), "\(query)")
        }
        // No root certificates: verify-ca and verify-full say which file they looked for.
        for mode in ["verify-ca", "verify-full"] {
            let message = refusal("?sslmode=\(mode)")
            #expect(message.contains("sslmode=\(mode) needs the root certificates") && message.contains("\(home)/.postgresql/root.crt\" does not exist"), "\(message)")
        }
        // The system's roots do not hold a self-signed certificate.
        #expect(refusal("?sslrootcert=system").contains("could not connect"))

        guard let root = TestPostgres.rootCertificate else {
            if TestPostgres.required { Issue.record("no root certificate for the test server (.ci/postgres sets PIPETOP_TEST_POSTGRES_ROOTCERT)") }
            return
        }
        // The server's own certificate as the root: the chain holds; the certificate names
        // localhost, so by 127.0.0.1 verify-full refuses (the name) and verify-ca does not.
        for mode in ["verify-ca", "require", "prefer"] {
            #expect(try connect("?sslmode=\(mode)&sslrootcert=\(root)") == 1, "\(mode)")
        }
        #expect(refusal("?sslmode=verify-full&sslrootcert=\(root)").contains("could not connect"))
        // Another root (the system's bundle, or any PEM that did not sign it) fails every mode that encrypts.
        let other = "/etc/ssl/certs/ca-certificates.crt"
        if FileManager.default.fileExists(atPath: other) {
            for mode in ["verify-ca", "require", "prefer"] {
                #expect(refusal("?sslmode=\(mode)&sslrootcert=\(other)").contains("could not connect"), "\(mode)")
            }
        }
        // The default root file is found in the home directory, and then require checks it too.
        try FileManager.default.copyItem(atPath: root, toPath: home + "/.postgresql/root.crt")
        #expect(try connect("?sslmode=verify-ca") == 1)
        #expect(try connect("?sslmode=require") == 1)
        // By the name the certificate gives, verify-full holds (where localhost reaches the server).
        let byName = url.replacingOccurrences(of: "@127.0.0.1:", with: "@localhost:")
        if byName != url, (try? PostgresSession(PostgresURL(parsing: byName + "?sslmode=disable", environment: environment), readOnly: true)) != nil {
            let session = try PostgresSession(PostgresURL(parsing: byName + "?sslmode=verify-full", environment: environment), readOnly: true)
            #expect(try session.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").rows.first?.int64(0) == 1)
        } else if TestPostgres.required {
            Issue.record("localhost does not reach the test server, so verify-full is not checked by name")
        }
    }

    @Test func errorsNeverShowThePassword() throws {
        let server = try #require(TestPostgres.serverURL)
        let password = try #require(URLComponents(string: server)?.password)
        let url = try TestPostgres.freshDatabase()
        do {
            try TestPostgres.psql("select no_such_column", on: url)
            Issue.record("a bad query succeeded")
        } catch {
            #expect("\(error)".contains("no_such_column"))
            #expect(!"\(error)".contains(password))
        }
    }
}
