import Foundation
import GRDB
import PipetopTestSupport
import Testing
@testable import PipetopCore

/// Stored envelopes out: `Store.events(matching:)` and `pipetop events`.
@Suite struct StoredEventQueryTests {
    let db = try! TestStore()
    let t0 = Timestamp(micros: 1_800_000_000_000_000)

    func publish() throws {
        for n in 0..<10 {
            let event = CloudEvent(
                id: "e\(n)", source: n % 2 == 0 ? "/even" : "/odd", type: n < 5 ? "early" : "late", time: nil,
                correlationID: "flow-\(n % 3)")
            try db.store.publishUnrouted([event], at: t0 + .seconds(Int64(n)))
        }
    }

    // Every filter and both directions: `StoreConformanceTests.storedEventsMatchEveryFilterInBothDirections`.

    /// The plan of the very SQL `events(matching:)` runs: a correlation id goes through its index,
    /// in both directions, with no sort; without one the walk is along the primary key, no sort either.
    @Test func theCorrelationLookupUsesItsIndex() throws {
        try publish()
        func plan(_ query: EventQuery, forward: Bool, arguments: StatementArguments) throws -> [String] {
            let sql = SQLiteSnapshot.storedEventsQuery(query, cursor: 0, forward: forward).sql
            return try db.store.database.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] as String }
            }
        }
        for forward in [true, false] {
            let byCorrelation = try plan(EventQuery(correlationID: "flow-1"), forward: forward, arguments: [0, "flow-1", 5])
            #expect(byCorrelation.contains { $0.contains("events_by_correlation") }, "\(byCorrelation)")
            #expect(!byCorrelation.contains { $0.contains("TEMP B-TREE") }, "\(byCorrelation)")
            let byType = try plan(EventQuery(type: "early"), forward: forward, arguments: [0, "early", 5])
            #expect(!byType.contains { $0.contains("TEMP B-TREE") }, "walked in seq order, never sorted: \(byType)")
        }
    }
}

/// A trace reads its flow along indexes only: the events by correlation id, each event's
/// publication row by `log_seq` (the primary key), its later rows along the partial `log_by_event`.
@Suite struct TraceQueryPlanTests {
    let db = try! TestStore()

    @Test func aTraceNeverScansTheLog() throws {
        var batch = WriteBatch(now: Timestamp(micros: 1_800_000_000_000_000))
        batch.publishes = (0..<50).map { RoutedEvent(event: CloudEvent(id: "e\($0)", source: "/s", type: "t", correlationID: "flow-\($0 % 5)"), targets: [Target(queue: "q", held: false)]) }
        _ = try db.store.apply(batch)
        let statement = try db.store.database.read { db in
            // The statement `trace` runs, from the statement cache of a reader that just ran it.
            _ = try SQLiteSnapshot(db: db).trace(correlationID: "flow-1")
            return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + SQLiteSnapshot.traceSQL, arguments: ["flow-1"])
                .map { $0["detail"] as String }
        }
        #expect(statement.filter { $0.contains("events_by_correlation") }.count == 2, "\(statement)")
        #expect(statement.contains { $0.contains("log_by_event") }, "\(statement)")
        #expect(!statement.contains { $0.hasPrefix("SCAN l") || $0.hasPrefix("SCAN log") }, "\(statement)")
        #expect(try db.store.trace(correlationID: "flow-1").count == 30, "published, routed, enqueued for 10 events")
    }
}

/// The real binary: `pipetop events` gives back what `pipetop publish` was given.
@Suite(.serialized) struct EventsCommandTests {
    let db = try! TestStore()
    var env: [String: String] { ["XDG_RUNTIME_DIR": db.directory.path, "XDG_STATE_HOME": db.directory.path] }

    func run(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        try Child.run([Child.pipetop] + arguments, environment: Child.environment(adding: env), stdin: stdin, in: db.directory)
    }

    static let fixtures = CloudEventConformanceTests.sdkFixtures + [
        #"{"specversion":"1.0","id":"n","source":"/s","type":"t","data":null,"flag":false,"unset":null}"#,
        #"{"specversion":"1.0","id":"u","source":"/s","type":"t\u202e","subject":"\u200b\udb40\udc41","datacontenttype":"text/plain","data":"caf\u00e9 \u001b]0;pwned\u0007 \u200b"}"#,
    ]

    @Test func publishedEnvelopesComeBackIntactOnePerLine() throws {
        let published = try run(["publish", "--store", db.path], stdin: Self.fixtures.joined(separator: "\n"))
        #expect(published.status == 0, "\(published.stderr)")
        let out = try run(["events", "--store", db.path, "--all"])
        #expect(out.status == 0, "\(out.stderr)")
        let lines = out.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == Self.fixtures.count)
        for (line, fixture) in zip(lines, Self.fixtures) {
            #expect(try CloudEvent(json: Data(line.utf8)) == CloudEvent(json: Data(fixture.utf8)))
            #expect(!line.unicodeScalars.contains { $0.isTerminalUnsafe }, "escaped for the terminal: \(line)")
        }
        // Publishing the output again into another store gives the same envelopes back.
        let other = db.directory.appendingPathComponent("other.sqlite").path
        #expect(try run(["publish", "--store", other, "--create"], stdin: out.stdout).status == 0)
        #expect(try run(["events", "--store", other, "--all"]).stdout == out.stdout)
    }

    @Test func filtersBatchAndBadInput() throws {
        _ = try run(["publish", "--store", db.path], stdin: Self.fixtures.joined(separator: "\n"))
        let go = try run(["events", "--store", db.path, "--source", "/go", "-n", "1", "--json"])
        #expect(go.stdout.split(separator: "\n").map { try! CloudEvent(json: Data($0.utf8)).id } == ["t1"])
        let batch = try run(["events", "--store", db.path, "--type", "com.example.js", "--batch"])
        #expect(try CloudEvent.decodeAll(Data(batch.stdout.utf8)).map(\.id) == ["5f8b2bde-4ac8-46e9-9b9e-1c0b5d2d8a53", "b"])
        let none = try run(["events", "--store", db.path, "--id", "missing", "--batch"])
        #expect(none.status == 0 && none.stdout == "[]\n")
        let recent = try run(["events", "--store", db.path, "--since", "1h", "--id", "1"])
        #expect(recent.stdout.split(separator: "\n").count == 1)
        let old = try run(["events", "--store", db.path, "--until", "2000-01-01T00:00:00Z"])
        #expect(old.status == 0 && old.stdout.isEmpty)

        let badTime = try run(["events", "--store", db.path, "--since", "yesterday"])
        #expect(badTime.status == 2)
        #expect(badTime.stderr == "pipetop: --since takes an RFC 3339 time (2026-12-01T10:00:00Z) or a duration ago (10m, 2h), not 'yesterday'\n")
        let huge = try run(["events", "--store", db.path, "--since", "1e300"])
        #expect(huge.status == 2 && huge.stderr.contains("--since takes an RFC 3339 time"), "once a trap: \(huge.stderr)")
        let both = try run(["events", "--store", db.path, "--batch", "--follow"])
        #expect(both.status == 2 && both.stderr.contains("--batch"))
        let missing = try run(["events", "--store", db.directory.appendingPathComponent("nope.sqlite").path])
        #expect(missing.status == 1 && missing.stderr.contains("no store at"))
    }

    @Test func followPrintsNewMatchingEventsUntilStopped() throws {
        _ = try run(["publish", "--store", db.path, #"{"specversion":"1.0","id":"old","source":"/s","type":"t"}"#])
        let follower = try Child(
            [Child.pipetop, "events", "--store", db.path, "--type", "t", "-n", "0", "--follow"],
            environment: Child.environment(adding: env), in: db.directory)
        var status: Int32?
        defer { if status == nil { follower.signal(SIGKILL); _ = follower.wait() } }
        // Published until seen: the follower may start after the first of them.
        #expect(try eventually {
            _ = try run(["publish", "--store", db.path, #"{"specversion":"1.0","id":"other","source":"/s","type":"u"}"#])
            _ = try run(["publish", "--store", db.path, #"{"specversion":"1.0","id":"new","source":"/s","type":"t"}"#])
            return follower.stdout.contains(#""id":"new""#)
        })
        follower.signal(SIGTERM)
        status = follower.wait()
        #expect(status == 0)
        let ids = follower.stdout.split(separator: "\n").map { try? CloudEvent(json: Data($0.utf8)).id }
        #expect(!ids.contains("old") && !ids.contains("other") && ids.allSatisfy { $0 == "new" })
    }

    @Test func whatAMessageQuotesIsEscaped() throws {
        let path = db.directory.appendingPathComponent("no\u{1B}]0;pwned\u{07}pe.sqlite").path
        let missing = try run(["events", "--store", path])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains(#"no\e]0;pwned\u{7}pe.sqlite"#) && !missing.stderr.contains("\u{1B}"))
        let argument = try run(["events", "--store", db.path, "\u{1B}[31mx"])
        #expect(argument.status == 2 && !argument.stderr.contains("\u{1B}"), "\(argument.stderr)")
    }

    @Test func badInputToPublishIsExit2AndStoresNothing() throws {
        let empty = try run(["publish", "--store", db.path], stdin: "[]")
        #expect(empty.status == 2)
        #expect(empty.stderr == "pipetop: no events: the batch is empty\n")
        // Invalid UTF-8 on standard input, straight from a shell (a Swift String could not carry it).
        let badBytes = try Child.run(
            ["/bin/sh", "-c", #"printf '{"specversion":"1.0","id":"caf\303(","source":"/s","type":"t"}' | "$0" publish --store "$1""#, Child.pipetop, db.path],
            environment: Child.environment(adding: env), in: db.directory)
        #expect(badBytes.status == 2)
        #expect(badBytes.stderr == "pipetop: invalid envelope: the envelope is refused: invalid UTF-8 at byte 30\n")
        let deep = try run(["publish", "--store", db.path], stdin: #"{"specversion":"1.0","id":"d","source":"/s","type":"t","data":"# + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}")
        #expect(deep.status == 2 && deep.stderr.contains("nested too deep"))
        let nanos = try run(["publish", "--store", db.path, #"{"specversion":"1.0","id":"go","source":"/s","type":"t","time":"2025-12-31T23:59:59.123456789-07:00"}"#])
        #expect(nanos.status == 0, "seven or more fraction digits once trapped: \(nanos.stderr)")
        #expect(try db.count("SELECT count(*) FROM events") == 1)
    }
}

/// The official CloudEvents Python SDK reads what `pipetop events` writes and finds it equal to
/// what was published (CI installs the package; elsewhere the suite is skipped when it is missing).
@Suite(.enabled(if: PythonSDK.wanted, "needs python3 with the cloudevents package (pip install cloudevents==2.2.0)"))
struct SDKRoundTripTests {
    /// Reads envelopes one per line with the SDK's JSON format; prints each as canonical JSON
    /// (time as UTC with microseconds; the SDK invents a time when none is given, so it is dropped
    /// when the line has none).
    static let script = #"""
        import base64, json, sys
        from datetime import timezone
        from cloudevents.core.formats.json import JSONFormat
        fmt = JSONFormat()
        for line in sys.stdin.buffer:
            if not line.strip():
                continue
            raw = json.loads(line)
            event = fmt.read(None, line)
            # The spec: a null attribute is unset (the SDK keeps it as None).
            attributes = {k: v for k, v in event.get_attributes().items() if v is not None}
            if "time" not in raw or raw["time"] is None:
                attributes.pop("time", None)
            elif attributes.get("time") is not None:
                attributes["time"] = attributes["time"].astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            data = event.get_data()
            if isinstance(data, (bytes, bytearray)):
                data = {"bytes": base64.b64encode(data).decode()}
            elif isinstance(data, str):
                data = {"text": data}
            else:
                data = {"json": data}
            print(json.dumps({"attributes": attributes, "data": data}, sort_keys=True))
        """#

    @Test func theSDKParsesWhatWasPublished() throws {
        let db = try TestStore()
        let input = EventsCommandTests.fixtures.joined(separator: "\n") + "\n"
        #expect(try Child.run([Child.pipetop, "publish", "--store", db.path], stdin: input, in: db.directory).status == 0)
        let out = try Child.run([Child.pipetop, "events", "--store", db.path, "--all"], in: db.directory)
        #expect(out.status == 0)
        let before = try Child.run(["python3", "-c", Self.script], stdin: input, in: db.directory)
        let after = try Child.run(["python3", "-c", Self.script], stdin: out.stdout, in: db.directory)
        #expect(before.status == 0 && after.status == 0, "\(before.stderr)\(after.stderr)")
        let expected = before.stdout.split(separator: "\n")
        #expect(expected.count == EventsCommandTests.fixtures.count)
        for (original, back) in zip(expected, after.stdout.split(separator: "\n")) {
            #expect(original == back)
        }
    }
}

enum PythonSDK {
    /// Run the SDK tests when the package is there, and always where `.ci/run` installed it (so a
    /// missing package fails CI instead of skipping).
    static let wanted: Bool = {
        if ProcessInfo.processInfo.environment["PIPETOP_REQUIRE_PYTHON_SDK"] == "1" { return true }
        guard let result = try? Child.run(["python3", "-c", "import cloudevents.core.formats.json"], in: FileManager.default.temporaryDirectory) else { return false }
        return result.status == 0
    }()
}
