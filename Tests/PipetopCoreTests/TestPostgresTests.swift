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
    /// offers it (`.ci/postgres` does, with a self-signed certificate), `disable` never does,
    /// `verify-full` refuses a certificate no authority signed.
    @Test func tlsAsTheSSLModeSays() throws {
        let url = try TestPostgres.freshDatabase()
        let offered = try TestPostgres.psql("show ssl", on: url).trimmingCharacters(in: .whitespacesAndNewlines) == "on"
        guard offered else {
            // CI's server offers TLS; another may not.
            if TestPostgres.required { Issue.record("the test server does not offer TLS (.ci/postgres turns it on)") }
            return
        }
        for (mode, encrypted) in [("require", true), ("prefer", true), ("disable", false), (nil, true)] {
            let session = try PostgresSession(PostgresURL(parsing: url + (mode.map { "?sslmode=\($0)" } ?? "")), readOnly: true)
            let ssl = try session.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").rows.first?.int64(0)
            #expect(ssl == (encrypted ? 1 : 0), "sslmode=\(mode ?? "(default)")")
        }
        #expect(throws: StoreError.self) { try PostgresSession(PostgresURL(parsing: url + "?sslmode=verify-full"), readOnly: true) }
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
