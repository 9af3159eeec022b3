import Foundation
import PipetopTestSupport
import Testing
@testable import PipetopCore

/// `pipetop dlq edit`, the real binary, with a shell script standing in for the user's editor.
@Suite(.serialized) struct DeadLetterEditCommandTests {
    let db = try! TestStore()
    let t0 = Timestamp(micros: 1_800_000_000_000_000)
    var log: String { db.directory.appendingPathComponent("editor.log").path }

    /// An editor script: it logs the file it was given, its mode and its directory's mode, then runs `body` on it ("$1").
    func editor(_ body: String) throws -> String {
        let path = db.directory.appendingPathComponent("editor-\(UUID().uuidString).sh").path
        let script = """
            #!/bin/sh
            printf '%s\\n' "$1" >> '\(log)'
            stat -c '%a' "$1" >> '\(log)'
            stat -c '%a' "$(dirname "$1")" >> '\(log)'
            \(body)
            """
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    /// The repair of the demo's malformed listings: the price "12,500" becomes the number 12500.
    static let repair = #"sed -i 's/"price": "\([0-9]*\),\([0-9]*\)"/"price": \1\2/' "$1""#

    func run(_ arguments: [String], editor: String? = nil, stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        var env = ["XDG_RUNTIME_DIR": db.directory.path, "XDG_STATE_HOME": db.directory.path, "VISUAL": "", "TMPDIR": db.directory.path]
        if let editor { env["EDITOR"] = editor }
        return try Child.run([Child.pipetop] + arguments + ["--store", db.path], environment: Child.environment(adding: env), stdin: stdin, in: db.directory)
    }

    /// Listings L1 and L2 (a price as text) and L3 (a text payload) dead on parse; L1 also on index-batch (a fan-out).
    func fill() throws -> [String: Int64] {
        try db.store.declare(
            queues: [QueueSpec("parse"), QueueSpec("index-batch")], rules: [],
            runtime: RuntimeInfo(name: "t", pid: 1, host: "h", store: db.path, startedAt: t0, heartbeatAt: t0))
        let events = [
            CloudEvent(id: "listing-1", source: "/scraper", type: "listing.uploaded", time: t0, subject: "L1", data: .json(Data(#"{"listingId":"L1","price":"12,500","make":"Volvo"}"#.utf8)), correlationID: "listing-1"),
            CloudEvent(id: "listing-2", source: "/scraper", type: "listing.uploaded", time: t0, subject: "L2", data: .json(Data(#"{"listingId":"L2","price":"7,900","make":"Kia"}"#.utf8)), correlationID: "listing-2"),
            CloudEvent(id: "listing-3", source: "/scraper", type: "listing.note", time: t0, datacontenttype: "text/plain", data: .text("price: 12,500"), correlationID: "listing-3"),
        ]
        var batch = WriteBatch(now: t0)
        batch.publishes = events.map { RoutedEvent(event: $0, targets: [Target(queue: "parse", held: false)] + ($0.id == "listing-1" ? [Target(queue: "index-batch", held: false)] : [])) }
        batch.claims = [ClaimRequest(queue: "parse", limit: 10, lease: .seconds(30), maxAttempts: 3), ClaimRequest(queue: "index-batch", limit: 10, lease: .seconds(30), maxAttempts: 3)]
        // Claimed as they are published (nothing else is waiting).
        let claimed = try db.store.apply(batch).claimed
        var fail = WriteBatch(now: t0)
        fail.outcomes = claimed.map { Outcome(claim: $0.claim, duration: .milliseconds(1), finishedAt: t0, result: .deadLetter(error: "malformed listing: price is not a number", reason: .nonRetryable)) }
        _ = try db.store.apply(fail)
        var ids: [String: Int64] = [:]
        for letter in try db.store.deadLetters(queue: "parse", limit: 10) { ids[letter.event.id] = letter.messageID }
        return ids
    }

    /// What the editor script logged: the file, its mode, its directory's mode.
    func edited() throws -> (path: String, mode: String, directoryMode: String) {
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        try #require(lines.count >= 3)
        return (lines[lines.count - 3], lines[lines.count - 2], lines[lines.count - 1])
    }

    @Test func theEditorRepairsAListingWhichIsReplayedAsANewVersionOfItsEvent() throws {
        let ids = try fill()
        let id = try #require(ids["listing-1"])
        let out = try run(["dlq", "edit", "\(id)", "--yes"], editor: try editor(Self.repair))
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains(#"-   "price": "12,500","#) && out.stdout.contains(#"+   "price": 12500,"#), "\(out.stdout)")
        #expect(out.stdout.contains("edited and replayed dead letter \(id)"))
        // A private file, gone afterwards with its directory.
        let file = try edited()
        #expect(file.mode == "600" && file.directoryMode == "700")
        #expect(file.path.hasSuffix("/dead-letter-\(id).json") && file.path.hasPrefix(db.directory.path))
        #expect(!FileManager.default.fileExists(atPath: (file.path as NSString).deletingLastPathComponent))

        // Ready on parse with the repaired payload; index-batch's copy of the same event is untouched.
        let ready = try db.store.messages(queue: "parse", state: .ready, page: PageRequest(limit: 10)).items
        #expect(ready.map(\.id) == [id])
        #expect(ready.first?.event.data?.jsonObject().flatMap { ($0 as? [String: Any])?["price"] as? Int } == 12500)
        #expect(ready.first?.event.id == "listing-1" && ready.first?.event.correlationID == "listing-1")
        #expect(try db.store.deadLetters(queue: "index-batch", limit: 10).first?.event.data == .json(Data(#"{"listingId":"L1","price":"12,500","make":"Volvo"}"#.utf8)))
        #expect(try db.store.events(correlationID: "listing-1").count == 2, "the original and the edited version")
        let audit = try #require(try db.store.audit(page: PageRequest(limit: 1)).items.first)
        #expect(audit.action == .edit && audit.count == 1)
        #expect(try db.log().contains { $0.kind == .edited && $0.messageID == id })
    }

    @Test func anInvalidOrEmptyEditOrAFailedEditorChangesNothing() throws {
        let ids = try fill()
        let id = try #require(ids["listing-1"])
        let cases: [(script: String, status: Int32, message: String)] = [
            (#"sed -i 's/"id": "listing-1"/"id": "listing-9"/' "$1""#, 2, "attribute 'id' was changed ('listing-1' → 'listing-9')"),
            (#"sed -i 's/"price": "12,500"/"price": 12,500/' "$1""#, 2, "not valid JSON at line 12"),
            ("true", 2, "the edit changed nothing"),
            ("exit 3", 1, "exited with status 3: nothing was changed"),
        ]
        for (script, status, message) in cases {
            let out = try run(["dlq", "edit", "\(id)", "--yes"], editor: try editor(script))
            #expect(out.status == status && out.stderr.contains(message), "\(script): \(out.stderr)")
            #expect(!FileManager.default.fileExists(atPath: (try edited().path as NSString).deletingLastPathComponent), "removed in every path")
        }
        // No terminal and no --yes: the diff is shown, nothing replayed.
        let unconfirmed = try run(["dlq", "edit", "\(id)"], editor: try editor(Self.repair))
        #expect(unconfirmed.status == 2 && unconfirmed.stderr.contains("add --yes"), "\(unconfirmed.stderr)")
        #expect(unconfirmed.stdout.contains(#"+   "price": 12500,"#))
        let dry = try run(["dlq", "edit", "\(id)", "--dry-run"], editor: try editor(Self.repair))
        #expect(dry.status == 0 && dry.stdout.contains("dry run: would replay dead letter \(id)"), "\(dry.stderr)")
        let readOnly = try run(["dlq", "edit", "\(id)", "--read-only"], editor: try editor(Self.repair))
        #expect(readOnly.status == 2 && readOnly.stderr.contains("refused with --read-only"))
        let two = try run(["dlq", "edit", "\(id)", "\(id + 1)"], editor: try editor(Self.repair))
        #expect(two.status == 2 && two.stderr.contains("exactly one dead letter id"))
        let missing = try run(["dlq", "edit", "424242", "--yes"], editor: try editor(Self.repair))
        #expect(missing.status == 2 && missing.stderr.contains("no dead letter with id 424242"))

        #expect(try db.store.deadLetterCount(.all) == 4, "nothing moved")
        #expect(try db.store.audit(page: PageRequest(limit: 10)).items.isEmpty)
        #expect(try db.store.publishedTotal() == 3, "no version stored")
    }

    @Test func setFieldsOnEveryMatchingLetterOrNoneAndAsksForTheCount() throws {
        let ids = try fill()
        // L3's payload is text: the whole set is refused, naming it.
        let all = try run(["dlq", "edit", "--all-matching", "--queue", "parse", "--set", "/price=12500", "--yes"])
        #expect(all.status == 2 && all.stderr.contains("1 of the 3 dead letters cannot take set /price=12500, so none was changed"), "\(all.stderr)")
        #expect(all.stderr.contains("\(ids["listing-3"]!): the payload is not JSON (text/plain)"))
        let badValue = try run(["dlq", "edit", "--all-matching", "--set", "/currency=EUR", "--yes"])
        #expect(badValue.status == 2 && badValue.stderr.contains(#"a string needs its quotes"#), "\(badValue.stderr)")
        let badPath = try run(["dlq", "edit", "--all-matching", "--type", "listing.uploaded", "--set", "/seller/name=\"Ada\"", "--yes"])
        #expect(badPath.status == 2 && badPath.stderr.contains("the payload has no member 'seller'"), "\(badPath.stderr)")

        let uploads = ["--all-matching", "--type", "listing.uploaded", "--queue", "parse", "--set", "/price=0", "--set", "/checked=true"]
        let dry = try run(["dlq", "edit"] + uploads + ["--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains(#"+   "price": 0,"#) && dry.stdout.contains(#"+   "checked": true"#), "\(dry.stdout)")
        #expect(dry.stdout.contains("dry run: would edit (set /price=0 /checked=true) and replay 2 dead letters"), "\(dry.stdout)")
        let wrongCount = try run(["dlq", "edit"] + uploads, stdin: "3\n")
        #expect(wrongCount.status == 2, "no terminal: refused without --yes")
        #expect(try db.store.deadLetterCount(.all) == 4)

        let done = try run(["dlq", "edit"] + uploads + ["--yes"])
        #expect(done.status == 0 && done.stdout.contains("edited and replayed 2 dead letters"), "\(done.stderr)")
        let ready = try db.store.messages(queue: "parse", state: .ready, page: PageRequest(limit: 10)).items
        #expect(Set(ready.map(\.id)) == [ids["listing-1"]!, ids["listing-2"]!])
        #expect(ready.allSatisfy { ($0.event.data?.jsonObject() as? [String: Any])?["checked"] as? Bool == true })
        #expect(try db.store.audit(page: PageRequest(limit: 1)).items.first?.detail.contains("set /price=0 /checked=true") == true)
    }
}
