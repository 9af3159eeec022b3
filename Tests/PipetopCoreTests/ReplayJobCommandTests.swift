import Foundation
import PipetopTestSupport
import Testing
@testable import PipetopCore

/// `pipetop dlq replay --all-matching` and `pipetop dlq jobs`, the real binary.
@Suite(.serialized) struct ReplayJobCommandTests {
    let db = try! TestStore()
    let t0 = Timestamp(micros: 1_800_000_000_000_000)
    var env: [String: String] { ["XDG_RUNTIME_DIR": db.directory.path, "XDG_STATE_HOME": db.directory.path] }

    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try Child.run([Child.pipetop] + arguments + ["--store", db.path], environment: Child.environment(adding: env), in: db.directory)
    }

    func fill(_ count: Int) throws {
        try db.store.declare(
            queues: [QueueSpec("q")], rules: [], runtime: RuntimeInfo(name: "t", pid: 1, host: "h", store: db.path, startedAt: t0, heartbeatAt: t0))
        var batch = WriteBatch(now: t0)
        batch.claims = [ClaimRequest(queue: "q", limit: count, lease: .seconds(30), maxAttempts: 3)]
        batch.publishes = (0..<count).map { RoutedEvent(event: CloudEvent(id: "e\($0)", source: "/s", type: "t"), targets: [Target(queue: "q", held: false)]) }
        let claimed = try db.store.apply(batch).claimed
        var fail = WriteBatch(now: t0)
        fail.outcomes = claimed.map { Outcome(claim: $0.claim, duration: .zero, finishedAt: t0, result: .deadLetter(error: "boom", reason: .nonRetryable)) }
        _ = try db.store.apply(fail)
    }

    @Test func aBulkReplayIsAJobThatRunsInTheForegroundAndIsListed() throws {
        try fill(30)
        let replay = try run(["dlq", "replay", "--all-matching", "--rate", "0", "--yes"])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains("replay job 1: 30 dead letters at unthrottled, the set fixed now"), "\(replay.stdout)")
        #expect(replay.stdout.contains("replay job 1: done · 30 of 30 moved"), "piped: plain lines, no bar: \(replay.stdout)")
        #expect(!replay.stdout.contains("\r") && !replay.stdout.contains("█"))
        #expect(try db.store.deadLetterCount(.all) == 0)
        let list = try run(["dlq", "jobs", "--json"])
        let job = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])
        #expect(job["id"] as? Int == 1 && job["state"] as? String == "done" && job["moved"] as? Int == 30 && job["rate"] as? Int == 0)
        let text = try run(["dlq", "jobs"])
        #expect(text.status == 0 && text.stdout.contains("done · 30 of 30 moved") && text.stdout.contains("1 replay job"), "\(text.stdout)")
    }

    @Test func aDetachedJobIsPausedResumedRatedRunAndCancelRefusedWhenDone() throws {
        try fill(12)
        let created = try run(["dlq", "replay", "--all-matching", "--rate", "1", "--detach", "--yes"])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("no runtime is running: it waits for one, or `pipetop dlq jobs run 1` runs it now"), "\(created.stdout)")
        #expect(try db.store.deadLetterCount(.all) == 12, "nothing moves until a runner runs it")
        #expect(try run(["dlq", "jobs", "pause", "1"]).stdout.contains("replay job 1: paused"))
        let twice = try run(["dlq", "jobs", "pause", "1"])
        #expect(twice.status == 2 && twice.stderr.contains("replay job 1 is paused, not running"), "\(twice.stderr)")
        let negative = try run(["dlq", "jobs", "rate", "1", "--", "-3"])
        #expect(negative.status == 2, "\(negative.stderr)")
        #expect(try run(["dlq", "jobs", "rate", "1", "0"]).stdout.contains("unthrottled"))
        let readOnly = try run(["dlq", "jobs", "resume", "1", "--read-only"])
        #expect(readOnly.status == 2 && readOnly.stderr.contains("refused with --read-only"))
        #expect(try run(["dlq", "jobs", "resume", "1"]).status == 0)
        let ran = try run(["dlq", "jobs", "run", "1"])
        #expect(ran.status == 0 && ran.stdout.contains("done · 12 of 12 moved"), "\(ran.stdout) \(ran.stderr)")
        let cancel = try run(["dlq", "jobs", "cancel", "1"])
        #expect(cancel.status == 2 && cancel.stderr.contains("replay job 1 is done: nothing to cancel"))
        let missing = try run(["dlq", "jobs", "show", "7"])
        #expect(missing.status == 2 && missing.stderr.contains("no replay job 7"))
        let rateWithIDs = try run(["dlq", "replay", "1", "--rate", "5", "--yes"])
        #expect(rateWithIDs.status == 2 && rateWithIDs.stderr.contains("--rate and --detach apply to --all-matching"))
        let actions = try db.store.audit(page: PageRequest(limit: 20)).items.filter { $0.action == .replayJob }.map(\.detail)
        #expect(actions.count == 5, "created, paused, rate, resumed, done: \(actions)")
    }

    @Test func exportWritesOneCloudEventPerLineInAPrivateFileAndNeverOverwrites() throws {
        try fill(3)
        let path = db.directory.appendingPathComponent("dead.jsonl").path
        let out = try run(["dlq", "export", path])
        #expect(out.status == 0 && out.stdout.contains("exported 3 dead letters"), "\(out.stderr)")
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        let event = try CloudEvent(json: Data(lines[0].utf8))
        #expect(event.specversion == "1.0" && event.extensions["dlqqueue"] == .string("q") && event.extensions["dlqreason"] == .string("non-retryable"))
        guard case .string(let errors) = event.extensions["dlqerrors"] else { Issue.record("no dlqerrors"); return }
        #expect(errors.contains("boom"))
        let again = try run(["dlq", "export", path])
        #expect(again.status == 2 && again.stderr.contains("exists: nothing was written"), "\(again.stderr)")
        #expect(try run(["dlq", "export", path, "--force", "--type", "nothing"]).stdout.contains("exported 0 dead letters"))
        #expect(try String(contentsOfFile: path, encoding: .utf8).isEmpty)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: db.directory.path).filter { $0.contains("partial") }
        #expect(leftovers.isEmpty)
    }

    @Test func interruptingTheForegroundRunPausesTheJob() throws {
        try fill(50)
        let child = try Child(
            [Child.pipetop, "dlq", "replay", "--all-matching", "--rate", "5", "--yes", "--store", db.path],
            environment: Child.environment(adding: env), in: db.directory)
        // Wait until it moved some, then Ctrl-C.
        #expect(try eventually { try db.store.replayJob(id: 1).map { $0.moved > 0 } ?? false })
        child.signal(SIGINT)
        #expect(child.wait() == 130, "\(child.stderr)")
        #expect(child.stdout.contains("paused replay job 1 at "), "\(child.stdout)")
        let job = try #require(try db.store.replayJob(id: 1))
        #expect(job.state == .paused && job.moved < 50 && job.runner == nil, "paused, its lease given back")
        #expect(try db.store.deadLetterCount(.all) == 50 - job.moved)
    }
}
