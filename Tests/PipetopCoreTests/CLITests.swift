import Foundation
import PipetopTestSupport
import GRDB
import Testing
@testable import PipetopCore

/// The real `pipetop` binary: exit statuses, messages on stderr, and what reaches the store.
@Suite(.serialized) struct CLITests {
    let db = try! TestStore()
    var env: [String: String] { ["XDG_RUNTIME_DIR": db.directory.path, "XDG_STATE_HOME": db.directory.path] }

    func run(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        try Child.run([Child.pipetop] + arguments, environment: Child.environment(adding: env), stdin: stdin, in: db.directory)
    }

    @Test func anInvalidEnvelopeIsRefusedWholeWithStatus2() throws {
        let good = #"{"specversion":"1.0","id":"ok-1","source":"/cli","type":"listing.uploaded"}"#
        let bad = #"{"specversion":"1.0","id":"bad","type":"listing.uploaded"}"#
        let result = try run(["publish", "--store", db.path], stdin: good + "\n" + bad + "\n")
        #expect(result.status == 2)
        #expect(result.stderr == "pipetop: invalid envelope: event #2 (line 2, byte 76): required attribute 'source' is missing\n")
        #expect(try db.count("SELECT count(*) FROM events") == 0, "nothing of the batch is stored")

        let notJSON = try run(["publish", "--store", db.path, "{nope"])
        #expect(notJSON.status == 2)
        #expect(notJSON.stderr.hasPrefix("pipetop: invalid envelope"))
    }

    @Test func aValidEnvelopeIsStoredAndWaitsForARuntime() throws {
        let result = try run(["publish", "--store", db.path, #"{"specversion":"1.0","id":"cli-1","source":"/cli","type":"listing.uploaded","data":{"make":"Volvo"}}"#])
        #expect(result.status == 0)
        #expect(result.stdout.contains("published 1 event (cli-1)"))
        #expect(result.stderr.contains("wait unrouted"))
        // A CLI publish starts a flow: the event is its own correlation once routed; stored as given until then.
        let stored = try db.store.database.read { try Row.fetchOne($0, sql: "SELECT id, data FROM events") }
        #expect(stored?["id"] as String? == "cli-1")
        #expect(try JSONSerialization.jsonObject(with: stored?["data"] as Data? ?? Data()) as? [String: String] == ["make": "Volvo"])
        #expect(try db.log().map(\.kind) == [.published])
    }

    @Test func pipetopStoreNamesTheStoreWhereNoStoreIsGiven() throws {
        let envelope = #"{"specversion":"1.0","id":"env-1","source":"/cli","type":"listing.uploaded"}"#
        let environment = Child.environment(adding: env.merging(["PIPETOP_STORE": db.path]) { $1 })
        let published = try Child.run([Child.pipetop, "publish", envelope], environment: environment, in: db.directory)
        #expect(published.status == 0, "\(published.stderr)")
        #expect(try db.count("SELECT count(*) FROM events WHERE id = 'env-1'") == 1)
        let listed = try Child.run([Child.pipetop, "events"], environment: environment, in: db.directory)
        #expect(listed.status == 0 && listed.stdout.contains("\"env-1\""), "\(listed.stderr)")
        // --store wins over it.
        let other = db.directory.appendingPathComponent("other.sqlite").path
        let explicit = try Child.run([Child.pipetop, "publish", "--store", other, "--create", envelope], environment: environment, in: db.directory)
        #expect(explicit.status == 0 && FileManager.default.fileExists(atPath: other))
        #expect(try db.count("SELECT count(*) FROM events") == 1)
    }

    @Test func versionNamesTheBuildAndTheStoreSchema() throws {
        let result = try run(["--version"])
        #expect(result.status == 0)
        let (schema, count) = SQLiteSchema.version
        #expect(result.stdout == "pipetop 0.1.0 (SQLite store schema \(schema), \(count) migrations)\n")
        #expect(schema.hasPrefix("v") && count >= 16)
    }

    /// A store of an older schema is upgraded by the next command that writes, which says so as it
    /// goes (on a large store a migration can take a while): not silence.
    @Test func aSchemaUpgradeIsSaidAsItGoes() throws {
        let old = try OldStore(upTo: "v15-runtime-nodes")
        let path = old.path
        let result = try run(["publish", "--store", path, #"{"specversion":"1.0","id":"u1","source":"/cli","type":"t"}"#])
        #expect(result.status == 0, "\(result.stderr)")
        let pending = SQLiteSchema.migrator.migrations.drop { $0 != "v15-runtime-nodes" }.dropFirst()
        #expect(!pending.isEmpty)
        for (index, migration) in pending.enumerated() {
            #expect(result.stderr.contains("upgrading the store at \(path) to schema \(migration) (\(index + 1) of \(pending.count))…"))
        }
        #expect(result.stderr.contains("upgraded the store at \(path) in "))
        // The next command has nothing to upgrade and says nothing of it.
        let again = try run(["publish", "--store", path, #"{"specversion":"1.0","id":"u2","source":"/cli","type":"t"}"#])
        #expect(again.status == 0 && !again.stderr.contains("upgrad"))
    }

    @Test func badArgumentsExitWithStatus2() throws {
        let result = try run(["demo", "--headless", "--duration", "soon", "--store", db.path])
        #expect(result.status == 2)
        #expect(result.stderr == "pipetop: --duration 'soon' is not a duration such as 30s or 2m\n")
        let unknown = try run(["queues", "--colour"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("--colour"))
    }

    @Test func aStoreFromTheFutureIsAClearFailure() throws {
        try db.store.database.write { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99')") }
        let result = try run(["queues", "--store", db.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("was written by a newer pipetop"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    /// The demo, headless: queues move, retries happen, dead letters appear; SIGTERM stops it
    /// cleanly (status 0, registry file gone, runtime marked stopped).
    /// Two demos side by side on one store (two runtimes of one fleet) never publish the same
    /// listing id: each counted from the store's total when it started, and collided.
    @Test func twoDemosOnOneStoreNeverShareAnEventId() throws {
        let demos = try ["demo", "second"].map { name in
            try Child([Child.pipetop, "demo", "--headless", "--store", db.path, "--create", "--name", name, "--rate", "200"],
                      environment: Child.environment(adding: env), in: db.directory)
        }
        let both = eventually(timeout: 120) {
            ((try? db.count("SELECT count(*) FROM events WHERE id LIKE 'listing-%@second'")) ?? 0) > 300
                && ((try? db.count("SELECT count(*) FROM events WHERE id LIKE 'listing-%' AND id NOT LIKE '%@%'")) ?? 0) > 300
        }
        #expect(both, "\(demos.map(\.stderr))")
        for demo in demos { demo.signal(SIGTERM) }
        for demo in demos { #expect(demo.wait() == 0, "stderr: \(demo.stderr)") }
        #expect(try db.count("SELECT count(*) FROM (SELECT id FROM events GROUP BY source, id HAVING count(*) > 1)") == 0)
    }

    @Test func theHeadlessDemoMovesAndStopsOnSIGTERM() throws {
        let demo = try Child(
            [Child.pipetop, "demo", "--headless", "--store", db.path, "--rate", "200", "--window", "1s"],
            environment: Child.environment(adding: env), in: db.directory)
        let moving = eventually(timeout: 120) {
            let lines = demo.stdout.split(separator: "\n").filter { $0.contains("published") }
            guard let last = lines.last else { return false }
            return lines.count >= 3 && last.contains("dead") && !last.contains("parse done 0 ")
                && ((try? db.count("SELECT count(*) FROM log WHERE steps & \(1 << LifecycleKind.retryScheduled.step) != 0")) ?? 0) > 0
                && ((try? db.store.deadLetters(queue: nil, limit: 1).count) ?? 0) > 0
                && ((try? db.count("SELECT count(*) FROM log WHERE steps & \(1 << LifecycleKind.batchReleased.step) != 0")) ?? 0) > 0
        }
        #expect(moving, "stdout: \(demo.stdout.suffix(600)) stderr: \(demo.stderr)")
        #expect(FileManager.default.fileExists(atPath: db.directory.appendingPathComponent("pipetop/demo.json").path))
        let listed = try run(["ls"])
        #expect(listed.stdout.contains("demo\tpid \(demo.pid)\t\(db.path)"))

        demo.signal(SIGTERM)
        #expect(demo.wait() == 0, "stderr: \(demo.stderr)")
        #expect(demo.stdout.contains("stopped:"))
        #expect(!FileManager.default.fileExists(atPath: db.directory.appendingPathComponent("pipetop/demo.json").path))
        #expect(try db.store.runtimes().first { $0.name == "demo" }?.stoppedAt != nil)
        #expect(try db.store.queueStats(now: .now()).allSatisfy { $0.inFlight == 0 }, "nothing left in flight")

        let queues = try run(["queues", "--store", db.path, "--json"])
        #expect(queues.status == 0)
        let names = queues.stdout.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["name"] as? String
        }
        #expect(names == ["enrich", "index", "index-batch", "notify", "parse"])

        let tail = try run(["tail", "--store", db.path, "-n", "5", "--json"])
        #expect(tail.status == 0)
        #expect(tail.stdout.split(separator: "\n").count == 5)
    }
}
