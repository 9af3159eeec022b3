import Foundation
import PipetopTestSupport
import Testing
@testable import PipetopCore

/// The real binary: `pipetop tail` and its filters (`--corr`, `--queue`, `--kind`), text and JSON,
/// following, and bad input.
@Suite(.serialized) struct TailCommandTests {
    let db = try! TestStore()
    let t0 = Timestamp(micros: 1_800_000_000_000_000)
    var env: [String: String] { ["XDG_RUNTIME_DIR": db.directory.path, "XDG_STATE_HOME": db.directory.path] }

    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try Child.run([Child.pipetop, "tail", "--store", db.path] + arguments, environment: Child.environment(adding: env), in: db.directory)
    }

    /// Flows `flow-a` and `flow-b` (an upload, its parsed child on `enrich`, whose first run fails
    /// and is retried), and `flow-c` whose upload dead-letters with an error full of escapes.
    @discardableResult
    func flows(at start: Timestamp? = nil, suffix: String = "") throws -> Timestamp {
        var now = start ?? t0
        func tick(_ build: (inout WriteBatch) -> Void) throws -> WriteResult {
            now = now + .milliseconds(10)
            var batch = WriteBatch(now: now)
            build(&batch)
            return try db.store.apply(batch)
        }
        let claims = ["parse", "enrich"].map { ClaimRequest(queue: $0, limit: 10, lease: .seconds(30), maxAttempts: 3) }
        let uploads = ["a", "b", "c"].map {
            RoutedEvent(event: CloudEvent(id: "up-\($0)\(suffix)", source: "/s", type: "listing.uploaded", correlationID: "flow-\($0)\(suffix)"),
                        targets: [Target(queue: "parse", held: false)])
        }
        let parsed = try tick { $0.publishes = uploads; $0.claims = claims }.claimed
        let enriching = try tick { batch in
            batch.outcomes = parsed.map { message in
                let result: Outcome.Result = message.event.id.hasPrefix("up-c")
                    ? .deadLetter(error: "malformed \u{1B}[31mprice\u{07}", reason: .nonRetryable)
                    : .succeeded(children: [RoutedEvent(event: message.event.child(type: "listing.parsed"), targets: [Target(queue: "enrich", held: false)])])
                return Outcome(claim: message.claim, duration: .milliseconds(1), finishedAt: now, result: result)
            }
            batch.claims = claims
        }.claimed
        let retried = try tick { batch in
            batch.outcomes = enriching.map { Outcome(claim: $0.claim, duration: .milliseconds(2), finishedAt: now, result: .retry(error: "timeout", at: now)) }
            batch.claims = claims
        }.claimed
        _ = try tick { batch in batch.outcomes = retried.map { Outcome(claim: $0.claim, duration: .milliseconds(1), finishedAt: now, result: .succeeded(children: [])) } }
        return now
    }

    func records(_ query: LogQuery) throws -> [LifecycleRecord] { try db.log().filter(query.matches) }

    @Test func theTextFormShowsTheCorrelationIdSoAFlowIsOneGrep() throws {
        try flows()
        let all = try run(["-n", "1000"])
        #expect(all.status == 0, "\(all.stderr)")
        let lines = all.stdout.split(separator: "\n")
        #expect(lines.count == (try db.log().count))
        let flow = try records(LogQuery([.correlation("flow-a")]))
        #expect(flow.count == 13, "the upload's five steps, its child's four, a failed run, its retry, the run again")
        #expect(Set(flow.map(\.eventID)).count == 2, "two events of one flow")
        #expect(lines.filter { $0.contains(" flow-a ") }.count == flow.count, "grepping the flow finds every record of it")
        #expect(lines.first { $0.contains(" failed ") && $0.contains(" flow-a ") }?.contains(" enrich ") == true, "the queue column")
        // Untrusted text is escaped, never raw.
        #expect(!all.stdout.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 })
        #expect(all.stdout.contains(#"malformed \e[31mprice\u{7}"#))
    }

    @Test func filtersRunTogetherAndJSONCarriesEveryField() throws {
        try flows()
        func check(_ arguments: [String], _ query: LogQuery, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let out = try run(arguments + ["-n", "1000", "--json"])
            #expect(out.status == 0, "\(out.stderr)", sourceLocation: sourceLocation)
            let seqs = out.stdout.split(separator: "\n").map { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["seq"] as? Int64 ?? -1
            }
            let expected = try records(query)
            #expect(!expected.isEmpty, sourceLocation: sourceLocation)
            #expect(seqs == expected.map(\.seq), "\(arguments)", sourceLocation: sourceLocation)
        }
        try check(["--corr", "flow-b"], LogQuery([.correlation("flow-b")]))
        try check(["--queue", "ENRICH"], LogQuery([.queue("enrich")]))
        try check(["--kind", "failed", "--kind", "dead-lettered"], LogQuery([.kinds([.failed, .deadLettered])]))
        try check(["--kind", "claimed,succeeded", "--queue", "enrich", "--corr", "flow-a"],
                  LogQuery([.kinds([.claimed, .succeeded]), .queue("enrich"), .correlation("flow-a")]))
        // -n takes the last N matches, oldest of them first.
        let two = try run(["--corr", "flow-a", "-n", "2", "--json"])
        let kinds = two.stdout.split(separator: "\n").map { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["kind"] as? String }
        #expect(kinds == ["claimed", "succeeded"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(try run(["--kind", "dead-lettered", "--json"]).stdout.utf8)) as? [String: Any])
        #expect(json["correlation_id"] as? String == "flow-c" && json["queue"] as? String == "parse" && json["error"] as? String == "malformed \u{1B}[31mprice\u{07}")
        #expect(try run(["--corr", "flow-A"]).stdout.isEmpty, "a correlation id compares as stored")
        #expect(try run(["--corr", "nope"]).status == 0)
    }

    @Test func badFiltersAreExit2WithOneClearLine() throws {
        try flows()
        let unknown = try run(["--kind", "dead"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.hasPrefix("pipetop: --kind 'dead' is not a kind of record; the kinds are published, routed,"))
        #expect(unknown.stderr.split(separator: "\n").count == 1)
        let escaped = try run(["--kind", "x\u{1B}]0;t\u{07}"])
        #expect(escaped.status == 2 && !escaped.stderr.contains("\u{1B}"), "\(escaped.stderr)")
        #expect(try run(["--corr", ""]).status == 2)
        #expect(try run(["--queue", ""]).stderr == "pipetop: --queue needs a queue name\n")
        #expect(try run(["-n", "-1"]).status == 2)
    }

    @Test func followingPrintsOnlyNewMatchesUntilStopped() throws {
        var now = try flows()
        let follower = try Child(
            [Child.pipetop, "tail", "--store", db.path, "--corr", "flow-b-new", "-n", "0", "--follow", "--json"],
            environment: Child.environment(adding: env), in: db.directory)
        var status: Int32?
        defer { if status == nil { follower.signal(SIGKILL); _ = follower.wait() } }
        func printed() -> [[String: Any]] {
            follower.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        // Flows are written until the follower has printed two whole ones (it may start after the first).
        #expect(try eventually {
            now = try flows(at: now, suffix: "-new")
            return printed().filter { $0["kind"] as? String == "succeeded" }.count >= 4
        })
        follower.signal(SIGTERM)
        status = follower.wait()
        #expect(status == 0)
        // A run of the flow's records as the store holds them: none missed, none twice, no other.
        let seqs = printed().map { $0["seq"] as? Int64 ?? -1 }
        let expected = try records(LogQuery([.correlation("flow-b-new")])).map(\.seq)
        let start = try #require(expected.firstIndex(of: seqs.first ?? -1), "\(follower.stdout)")
        #expect(seqs == Array(expected[start..<min(expected.count, start + seqs.count)]))
    }
}
