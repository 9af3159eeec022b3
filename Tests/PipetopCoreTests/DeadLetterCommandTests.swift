import Foundation
import PipetopTestSupport
import Testing
@testable import PipetopCore

/// `pipetop dlq`, the real binary on a store with dead letters of two causes.
@Suite(.serialized) struct DeadLetterCommandTests {
    let db = try! TestStore()
    let t0 = Timestamp(micros: 1_800_000_000_000_000)
    var env: [String: String] { ["XDG_RUNTIME_DIR": db.directory.path, "XDG_STATE_HOME": db.directory.path] }

    func run(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        try Child.run([Child.pipetop] + arguments + ["--store", db.path], environment: Child.environment(adding: env), stdin: stdin, in: db.directory)
    }

    /// Three timeouts (one with an escape sequence, quoted, in its error) and two malformed listings on q.
    func fill() throws {
        try db.store.declare(
            queues: [QueueSpec("q"), QueueSpec("repair")], rules: [],
            runtime: RuntimeInfo(name: "t", pid: 1, host: "h", store: db.path, startedAt: t0, heartbeatAt: t0))
        let errors = ["timeout after 2s on L1 'a'", "timeout after 3s on L2 'b'", "timeout after 4s on L3 '\u{1B}]0;pwned\u{07}'", "malformed: price 'abc'", "malformed: price 'x'"]
        for (n, error) in errors.enumerated() {
            let now = t0 + .seconds(Int64(n))
            var batch = WriteBatch(now: now)
            batch.claims = [ClaimRequest(queue: "q", limit: 10, lease: .seconds(30), maxAttempts: 3)]
            batch.publishes = [RoutedEvent(event: CloudEvent(id: "e\(n)", source: "/s", type: "listing.uploaded", correlationID: "flow-\(n)"), targets: [Target(queue: "q", held: false)])]
            let claimed = try db.store.apply(batch).claimed
            var fail = WriteBatch(now: now)
            fail.outcomes = claimed.map { Outcome(claim: $0.claim, duration: .milliseconds(1), finishedAt: now, result: .deadLetter(error: error, reason: .nonRetryable)) }
            _ = try db.store.apply(fail)
        }
    }

    @Test func groupsListAndShowReadTheStoreEscaped() throws {
        try fill()
        let groups = try run(["dlq", "groups"])
        #expect(groups.status == 0, "\(groups.stderr)")
        let lines = groups.stdout.split(separator: "\n")
        #expect(lines.count == 4, "\(groups.stdout)")
        #expect(lines[1].contains("3") && lines[1].contains("timeout after <n>s on L<n> '…'"))
        #expect(lines[2].contains("2") && lines[2].contains("malformed: price '…'"))
        #expect(lines[3] == "5 dead letters in 2 groups")
        let json = try run(["dlq", "groups", "--json"])
        let first = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.split(separator: "\n")[0].utf8)) as? [String: Any])
        #expect(first["count"] as? Int == 3 && first["queue"] as? String == "q")

        let list = try run(["dlq", "ls", "-n", "2", "--fingerprint", "timeout after <n>s on L<n> '…'"])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(!list.stdout.contains("\u{1B}"), "an escape sequence in an error never reaches the terminal")
        #expect(list.stdout.contains("'\\e]0;pwned\\u{7}'"), "\(list.stdout)")
        #expect(list.stdout.contains("2 of 3 dead letters"), "true count beside the page: \(list.stdout)")
        let cursor = try #require(list.stdout.components(separatedBy: "more: --after ").last?.trimmingCharacters(in: .whitespacesAndNewlines))
        let rest = try run(["dlq", "ls", "-n", "2", "--fingerprint", "timeout after <n>s on L<n> '…'", "--after", cursor])
        #expect(rest.stdout.contains("1 of 3 dead letters") && rest.stdout.contains("flow-0") && !rest.stdout.contains("more:"))

        let ids = try run(["dlq", "ls", "--json"]).stdout.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
        #expect(ids.count == 5)
        #expect(ids.allSatisfy { ($0["event"] as? [String: Any])?["specversion"] as? String == "1.0" })
        let id = try #require(ids.first?["message_id"] as? Int)
        let show = try run(["dlq", "show", "\(id)"])
        #expect(show.status == 0 && show.stdout.contains("non-retryable after 1 attempt") && show.stdout.contains("malformed: price 'x'"))
        let missing = try run(["dlq", "show", "999999"])
        #expect(missing.status == 2 && missing.stderr.contains("no dead letter with id 999999"))
    }

    /// `--error` and `--payload` on every dlq command that filters: literal text, case-insensitive,
    /// any attempt's error; too short a text is bad input.
    @Test func errorAndPayloadTextFilterEveryCommand() throws {
        try db.store.declare(
            queues: [QueueSpec("q")], rules: [], runtime: RuntimeInfo(name: "t", pid: 1, host: "h", store: db.path, startedAt: t0, heartbeatAt: t0))
        let letters: [(id: String, payload: String, errors: [String])] = [
            ("a", #"{"dealer":"D-17","price":"call for price"}"#, ["connection refused by pricing", "gave up"]),
            ("b", #"{"dealer":"D-18","price":12000}"#, ["gave up"]),
            ("c", #"{"dealer":"D-17","note":"say \"AND\" *"}"#, [#"odd "AND" * text"#]),
        ]
        for (n, letter) in letters.enumerated() {
            var now = t0 + .seconds(Int64(n * 10))
            var batch = WriteBatch(now: now)
            batch.publishes = [RoutedEvent(event: CloudEvent(id: letter.id, source: "/s", type: "t", data: .json(Data(letter.payload.utf8))), targets: [Target(queue: "q", held: false)])]
            _ = try db.store.apply(batch)
            for (k, error) in letter.errors.enumerated() {
                var claim = WriteBatch(now: now)
                claim.claims = [ClaimRequest(queue: "q", limit: 10, lease: .seconds(30), maxAttempts: 5)]
                let message = try db.store.apply(claim).claimed
                try #require(message.count == 1)
                var fail = WriteBatch(now: now)
                fail.outcomes = [Outcome(claim: message[0].claim, duration: .zero, finishedAt: now,
                                         result: k == letter.errors.count - 1 ? .deadLetter(error: error, reason: .nonRetryable) : .retry(error: error, at: now))]
                _ = try db.store.apply(fail)
                now = now + .seconds(1)
            }
        }
        func ids(_ arguments: [String]) throws -> [String] {
            let out = try run(["dlq", "ls", "--json"] + arguments)
            #expect(out.status == 0, "\(out.stderr)")
            return out.stdout.split(separator: "\n").compactMap {
                (((try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any])?["event"] as? [String: Any])?["id"] as? String
            }.sorted()
        }
        #expect(try ids(["--error", "CONNECTION REFUSED"]) == ["a"], "an earlier attempt's error, any case")
        #expect(try ids(["--payload", "d-17"]) == ["a", "c"])
        #expect(try ids(["--payload", "d-17", "--error", "gave up"]) == ["a"])
        #expect(try ids(["--error", #""AND" *"#]) == ["c"], "quotes and operators are text")
        #expect(try ids(["--payload", #""price":12000"#]) == ["b"], "the JSON as stored")
        let list = try run(["dlq", "ls", "--payload", "call for price"])
        #expect(list.stdout.contains(#"1 of 1 dead letter (payload text "call for price")"#), "\(list.stdout)")
        let groups = try run(["dlq", "groups", "--error", "gave up"])
        #expect(groups.status == 0 && groups.stdout.contains("2 dead letters in 1 group"), "\(groups.stdout)")
        let dry = try run(["dlq", "replay", "--all-matching", "--payload", "D-17", "--dry-run"])
        #expect(dry.status == 0 && dry.stdout.contains("dry run: would replay 2 dead letters"), "\(dry.stdout)")
        // Too short, or empty: exit 2 with why, nothing read or changed.
        for arguments in [["dlq", "ls", "--error", "ab"], ["dlq", "groups", "--payload", ""], ["dlq", "rm", "--all-matching", "--error", "é", "--yes"]] {
            let refused = try run(arguments)
            #expect(refused.status == 2 && refused.stderr.contains("text takes at least 3 characters"), "\(arguments): \(refused.stderr)")
        }
        let removed = try run(["dlq", "rm", "--all-matching", "--error", "connection refused", "--yes"])
        #expect(removed.status == 0 && removed.stdout.contains("deleted 1 dead letter"), "\(removed.stdout) \(removed.stderr)")
        let replayed = try run(["dlq", "replay", "--all-matching", "--payload", "d-17", "--yes"])
        #expect(replayed.status == 0 && replayed.stdout.contains("done · 1 of 1 moved"), "\(replayed.stdout) \(replayed.stderr)")
        #expect(try ids([]) == ["b"])
        #expect(try ids(["--payload", "dealer"]) == ["b"], "replayed and deleted letters are no longer found")
        #expect(try db.count("SELECT count(*) FROM dead_letter_text_stale") == 0, "the commands purged the text rows they left stale")
        #expect(try db.count("SELECT count(*) FROM dead_letter_errors") == 1 && db.count("SELECT count(*) FROM dead_letter_payloads") == 1)
    }

    /// Two processes replay the same 3,000 dead letters at once, in batches: each letter is moved
    /// by exactly one of them (one redriven record each, the audits add up to the total).
    @Test func twoProcessesReplayingTheSameLettersMoveEachOnce() throws {
        try db.store.declare(
            queues: [QueueSpec("q")], rules: [], runtime: RuntimeInfo(name: "t", pid: 1, host: "h", store: db.path, startedAt: t0, heartbeatAt: t0))
        let total = 3_000
        var batch = WriteBatch(now: t0)
        batch.claims = [ClaimRequest(queue: "q", limit: total, lease: .seconds(30), maxAttempts: 3)]
        batch.publishes = (0..<total).map { RoutedEvent(event: CloudEvent(id: "e\($0)", source: "/s", type: "t"), targets: [Target(queue: "q", held: false)]) }
        let claimed = try db.store.apply(batch).claimed
        var fail = WriteBatch(now: t0)
        fail.outcomes = claimed.map { Outcome(claim: $0.claim, duration: .zero, finishedAt: t0, result: .deadLetter(error: "boom \($0.claim.messageID)", reason: .nonRetryable)) }
        _ = try db.store.apply(fail)
        #expect(try db.store.deadLetterCount(.all) == total)
        // Each process runs replay jobs of at most 250, oldest first, unthrottled, until none is left: both
        // fight over the same letters (a job whose letters the other moved first skips them).
        let script = "while \(Child.pipetop) dlq replay --all-matching --queue q --limit 250 --rate 0 --yes --store \(db.path) | grep 'replay job [0-9]*: [1-9]' >/dev/null; do :; done"
        let children = try (0..<2).map { _ in
            try Child(["/bin/sh", "-c", script], environment: Child.environment(adding: env), in: db.directory)
        }
        for child in children { #expect(child.wait() == 0, "\(child.stderr)") }
        let moved = try db.store.messages(queue: "q", state: .ready, page: PageRequest(limit: 10_000)).items
        #expect(moved.count == total, "every dead letter moved")
        #expect(Set(moved.map(\.id)).count == total)
        #expect(try db.store.deadLetterCount(.all) == 0)
        let redriven = try db.log().filter { $0.kind == .redriven }
        #expect(redriven.count == total, "one redriven record per letter, never two")
        #expect(Set(redriven.compactMap(\.messageID)).count == total)
        let audits = try db.store.audit(page: PageRequest(limit: 1_000)).items.filter { $0.action == .replayJob && $0.detail.contains(" done: ") }
        #expect(audits.reduce(0) { $0 + $1.count } == total, "the jobs' moves add up: \(audits.map(\.count))")
        let jobs = try db.store.replayJobs(page: PageRequest(limit: 1_000)).items
        #expect(jobs.allSatisfy { $0.state == .done } && jobs.reduce(0) { $0 + $1.moved } == total)
        #expect(try db.store.deadLetterGroups(.all).isEmpty, "the counts by cause agree")
    }

    /// A payload and ids with escape sequences, bidi and zero-width characters reach the terminal escaped.
    @Test func showEscapesThePayloadAndTheIds() throws {
        var batch = WriteBatch(now: t0)
        batch.claims = [ClaimRequest(queue: "q", limit: 10, lease: .seconds(30), maxAttempts: 3)]
        batch.publishes = [RoutedEvent(
            event: CloudEvent(id: "x\u{200B}y", source: "/s", type: "t\u{202E}", data: .text("line \u{1B}[31mred\u{9B}2J\nnext")),
            targets: [Target(queue: "q", held: false)])]
        let claimed = try db.store.apply(batch).claimed
        var fail = WriteBatch(now: t0)
        fail.outcomes = claimed.map { Outcome(claim: $0.claim, duration: .zero, finishedAt: t0, result: .deadLetter(error: "bad \u{1B}]0;t\u{07}", reason: .nonRetryable)) }
        _ = try db.store.apply(fail)
        for arguments in [["dlq", "show", "\(claimed[0].claim.messageID)"], ["dlq", "ls"], ["dlq", "groups"]] {
            let out = try run(arguments)
            #expect(out.status == 0, "\(out.stderr)")
            for raw in ["\u{1B}", "\u{9B}", "\u{202E}", "\u{200B}", "\u{07}"] { #expect(!out.stdout.contains(raw), "\(arguments): \(out.stdout)") }
        }
        #expect(try run(["dlq", "show", "\(claimed[0].claim.messageID)"]).stdout.contains("line \\e[31mred"))
    }

    @Test func replayMovesOnceAndRefusesWhatItCannotDo() throws {
        try fill()
        let ids = try run(["dlq", "ls", "--json", "--type", "listing.uploaded"]).stdout.split(separator: "\n").compactMap {
            ((try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any])?["message_id"] as? Int
        }
        #expect(ids.count == 5)
        // Refused, nothing changed: read-only, an unknown target queue, no terminal to confirm on, a bad id.
        let readOnly = try run(["dlq", "replay", "--read-only", "\(ids[0])", "--yes"])
        #expect(readOnly.status == 2 && readOnly.stderr.contains("refused with --read-only"))
        let unknown = try run(["dlq", "replay", "\(ids[0])", "--to", "nowhere", "--yes"])
        #expect(unknown.status == 2 && unknown.stderr.contains("--to nowhere: no such queue"))
        let unconfirmed = try run(["dlq", "replay", "--all-matching", "--queue", "q"])
        #expect(unconfirmed.status == 2 && unconfirmed.stderr.contains("add --yes"))
        let notDead = try run(["dlq", "replay", "\(ids[0])", "424242", "--yes"])
        #expect(notDead.status == 2 && notDead.stderr.contains("424242") && notDead.stderr.contains("nothing was changed"))
        let dry = try run(["dlq", "replay", "--all-matching", "--fingerprint", "malformed: price '…'", "--dry-run"])
        #expect(dry.status == 0 && dry.stdout.contains("dry run: would replay 2 dead letters"), "\(dry.stdout)")
        #expect(try db.store.deadLetterCount(.all) == 5, "nothing moved so far")
        #expect(try db.store.audit(page: PageRequest(limit: 10)).items.isEmpty)

        let replayed = try run(["dlq", "replay", "--all-matching", "--fingerprint", "malformed: price '…'", "--to", "repair", "--yes"])
        #expect(replayed.status == 0 && replayed.stdout.contains("replay job 1: 2 dead letters at 100/s"), "\(replayed.stderr)")
        #expect(replayed.stdout.contains("done · 2 of 2 moved"), "\(replayed.stdout)")
        #expect(try db.store.deadLetterCount(.all) == 3)
        #expect(try db.store.messages(queue: "repair", state: .ready, page: PageRequest(limit: 10)).items.count == 2)
        let again = try run(["dlq", "replay", "--all-matching", "--fingerprint", "malformed: price '…'", "--yes"])
        #expect(again.status == 0 && again.stdout.contains("replay 0 dead letters"), "moved once: \(again.stdout)")
        let audit = try db.store.audit(page: PageRequest(limit: 10)).items
        #expect(audit.first?.action == .replayJob && audit.first?.count == 2 && audit.first?.detail.contains("done") == true)

        let removed = try run(["dlq", "rm", "\(ids.last!)", "--yes"])
        #expect(removed.status == 0 && removed.stdout.contains("deleted 1 dead letter"), "\(removed.stdout) \(removed.stderr)")
        #expect(try db.store.deadLetterCount(.all) == 2)
    }
}
