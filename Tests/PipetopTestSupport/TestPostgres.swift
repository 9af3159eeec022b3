import Foundation

/// The PostgreSQL server the tests may use: `PIPETOP_TEST_POSTGRES`, a
/// `postgres://user:password@host:port/db` URL of a role that may create databases (what
/// `.ci/postgres start DIR` prints). `.ci/run` starts one and sets `PIPETOP_REQUIRE_POSTGRES=1`,
/// so a test that needs it fails in CI when it is missing, and is skipped, saying why, elsewhere:
///
///     @Suite(.enabled("needs PostgreSQL", { TestPostgres.shouldRun() })) struct …
///
/// The password goes to `createdb` and `psql` in `PGPASSWORD`, never on their command line,
/// and never into an error message.
public enum TestPostgres {
    /// `PIPETOP_TEST_POSTGRES`; nil when unset or empty.
    public static var serverURL: String? {
        guard let url = ProcessInfo.processInfo.environment["PIPETOP_TEST_POSTGRES"], !url.isEmpty else { return nil }
        return url
    }

    /// `PIPETOP_TEST_POSTGRES_ROOTCERT`: the test server's certificate (`.ci/postgres` makes
    /// it), a root certificate that verifies it; nil when unset or empty.
    public static var rootCertificate: String? {
        guard let path = ProcessInfo.processInfo.environment["PIPETOP_TEST_POSTGRES_ROOTCERT"], !path.isEmpty else { return nil }
        return path
    }

    /// `PIPETOP_REQUIRE_POSTGRES` is "1" (CI): a test that needs PostgreSQL must fail without it.
    public static var required: Bool { ProcessInfo.processInfo.environment["PIPETOP_REQUIRE_POSTGRES"] == "1" }

    /// Nil when a server is there; else why the PostgreSQL tests are skipped.
    public static func skipReason() -> String? {
        serverURL == nil ? "PostgreSQL tests skipped: PIPETOP_TEST_POSTGRES is not set; `eval \"$(.ci/postgres start /tmp/pg)\"` to run them" : nil
    }

    /// Whether a test that needs PostgreSQL runs: when a server is there, and when one is
    /// `required` (so that its absence fails the test). Prints the skip reason otherwise.
    public static func shouldRun() -> Bool {
        guard let reason = skipReason() else { return true }
        if required { return true }
        print(reason)
        return false
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Creates a new, empty database on the server (a unique name) and returns its URL: the
    /// server URL with that database.
    public static func freshDatabase() throws -> String {
        let server = try connection(serverURL)
        let name = "pipetop_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        _ = try run("createdb", ["--maintenance-db", server.database, name], server)
        var components = server.components
        components.path = "/" + name
        guard let url = components.string else { throw Failure(description: "cannot form the URL of database \(name)") }
        return url
    }

    /// Runs `sql` with `psql` on the database `url` names; returns what it printed (unaligned,
    /// tuples only). Fails with psql's error when it fails.
    @discardableResult
    public static func psql(_ sql: String, on url: String) throws -> String {
        let target = try connection(url)
        return try run("psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", target.database, "-c", sql], target)
    }

    struct Connection {
        var components: URLComponents
        var host: String
        var port: String
        var user: String
        var password: String?
        var database: String
        /// What may be shown: the URL without its password.
        var redacted: String
    }

    static func connection(_ url: String?) throws -> Connection {
        guard let url else {
            throw Failure(description: required
                ? "PostgreSQL is required here (PIPETOP_REQUIRE_POSTGRES=1), but PIPETOP_TEST_POSTGRES is not set; `eval \"$(.ci/postgres start /tmp/pg)\"` starts a server"
                : skipReason() ?? "PIPETOP_TEST_POSTGRES is not set")
        }
        guard var components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme?.lowercased() ?? ""),
              let host = components.host, !host.isEmpty, let user = components.user, !user.isEmpty else {
            throw Failure(description: "PIPETOP_TEST_POSTGRES is not a postgres://user:password@host:port/db URL")
        }
        let password = components.password
        var shown = components
        shown.password = nil
        components.query = nil
        let database = String(components.path.dropFirst())
        return Connection(components: components, host: host, port: components.port.map(String.init) ?? "5432", user: user,
                          password: password, database: database.isEmpty ? user : database, redacted: shown.string ?? "(unprintable URL)")
    }

    /// `tool` (found in PATH) against `target`, the password in `PGPASSWORD`.
    static func run(_ tool: String, _ arguments: [String], _ target: Connection) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool, "-h", target.host, "-p", target.port, "-U", target.user, "-w"] + arguments
        var environment = ProcessInfo.processInfo.environment
        for variable in ["PGPASSWORD", "PGPASSFILE", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE", "PGOPTIONS"] {
            environment[variable] = nil
        }
        if let password = target.password { environment["PGPASSWORD"] = password }
        // No ~/.pgpass of the developer's: the URL's password or none.
        environment["PGPASSFILE"] = "/dev/null"
        process.environment = environment
        let output = Pipe()
        // stderr to a private file: only stdout is read through a pipe, so neither can fill and block.
        let errorPath = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-\(tool)-\(UUID().uuidString)").path
        guard FileManager.default.createFile(atPath: errorPath, contents: nil, attributes: [.posixPermissions: 0o600]),
              let errorFile = FileHandle(forWritingAtPath: errorPath) else {
            throw Failure(description: "cannot create \(errorPath) for \(tool)'s errors")
        }
        defer { try? FileManager.default.removeItem(atPath: errorPath) }
        process.standardOutput = output
        process.standardError = errorFile
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            try? errorFile.close()
            throw Failure(description: "cannot run \(tool) (PostgreSQL's client programs must be in PATH): \(error)")
        }
        try? errorFile.close()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errorData = FileManager.default.contents(atPath: errorPath) ?? Data()
        let stdout = String(decoding: outputData, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            var stderr = String(decoding: errorData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if let password = target.password, !password.isEmpty { stderr = stderr.replacingOccurrences(of: password, with: "***") }
            throw Failure(description: "\(tool) on \(target.redacted) failed (exit \(process.terminationStatus)): \(stderr)")
        }
        return stdout
    }
}
