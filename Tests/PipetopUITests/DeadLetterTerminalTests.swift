import Foundation
import PipetopTestSupport
@testable import PipetopCore
import Testing

/// The demo's dead letters in a real terminal (tmux), the real binary end to end: a replay goes
/// through its queue again, and a malformed listing repaired in `$EDITOR` (a script standing in
/// for the editor) goes through the pipeline. Assertions are on the screen and the store, polled
/// with a generous deadline; nothing here depends on speed.
@Suite(.enabled(if: Child.tmux != nil, "needs tmux"), .serialized)
struct DeadLetterTerminalTests {
    final class Demo {
        let directory: URL
        let session: TmuxSession
        var storePath: String { directory.appendingPathComponent("demo.sqlite").path }

        init(environment extra: [String: String] = [:]) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-dlq-e2e-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            var env = ["XDG_RUNTIME_DIR": directory.appendingPathComponent("run").path, "XDG_STATE_HOME": directory.appendingPathComponent("state").path,
                       "XDG_CONFIG_HOME": directory.appendingPathComponent("config").path, "TMPDIR": directory.path, "VISUAL": ""]
            env.merge(extra) { $1 }
            session = try TmuxSession(width: 160, height: 48, command: [Child.pipetop, "demo", "--store", directory.appendingPathComponent("demo.sqlite").path, "--window", "2s", "--rate", "60"], environment: env)
        }

        deinit { try? FileManager.default.removeItem(at: directory) }

        /// The store, read as another process would (the demo keeps writing to it).
        func store() throws -> SQLiteStore { try SQLiteStore(path: storePath, readOnly: true) }

        /// Polls `check` on the store until it holds (the deadline only bounds a failure).
        func eventually(_ timeout: Double = 60, _ check: (SQLiteStore) throws -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if let store = try? store(), (try? check(store)) == true { return true }
                Thread.sleep(forTimeInterval: 0.1)
            }
            return false
        }

        /// Dead letters (3), the parse queue's malformed listings, one opened: its message id and correlation id.
        func openAMalformedListing(sourceLocation: SourceLocation = #_sourceLocation) throws -> (id: Int64, correlation: String) {
            #expect(session.waitFor { $0.contains("1 Overview") && $0.contains("index-batch") }, "\(session.screen())", sourceLocation: sourceLocation)
            session.keys("3")
            #expect(session.waitFor { $0.contains("GROUPS") && $0.contains("parse") && $0.contains("price is not a number") }, "\(session.screen())", sourceLocation: sourceLocation)
            session.keys("/")
            session.type("queue:parse")
            session.keys("Enter")
            #expect(session.waitFor { $0.contains("/queue:parse") && !$0.contains("index-batch  listing") }, "\(session.screen())", sourceLocation: sourceLocation)
            session.keys("Enter")
            #expect(session.waitFor { $0.contains("DEAD AT") && $0.range(of: #" 1/\d+ "#, options: .regularExpression) != nil }, "\(session.screen())", sourceLocation: sourceLocation)
            session.keys("Enter")
            var found: (Int64, String)?
            #expect(session.waitFor { screen in
                guard screen.contains("DETAIL"),
                      let header = screen.range(of: #"dead letter (\d+) of parse"#, options: .regularExpression),
                      let line = screen.range(of: #"correlation +listing-\d+"#, options: .regularExpression),
                      let id = Int64(screen[header].split(separator: " ")[2])
                else { return false }
                found = (id, String(screen[line].split(separator: " ").last!))
                return true
            }, "\(session.screen())", sourceLocation: sourceLocation)
            return try #require(found, sourceLocation: sourceLocation)
        }

        /// The Events screen filtered to one flow: its lines (the flow's own correlation column only).
        func flowLines(_ correlation: String) -> [String] {
            session.lines().filter { $0.contains(" \(correlation) ") }
        }

        func showFlow(_ correlation: String) {
            session.keys("2")
            _ = session.waitFor { $0.contains("FOLLOW") || $0.contains("PAUSED") }
            session.keys("/")
            session.type("corr:\(correlation)")
            session.keys("Enter")
        }

        func quit(sourceLocation: SourceLocation = #_sourceLocation) {
            session.keys("q")
            #expect(session.exitStatus() == 0, sourceLocation: sourceLocation)
            #expect(TerminalTests.problems(session) == [], sourceLocation: sourceLocation)
        }
    }

    /// The kinds of one message's records, in order.
    static func kinds(_ store: SQLiteStore, correlation: String, message: Int64) throws -> [LifecycleKind] {
        try store.trace(correlationID: correlation).filter { $0.messageID == message }.map(\.kind)
    }

    /// Whether `sequence` appears in `kinds` in order (not necessarily next to each other).
    static func inOrder(_ kinds: [LifecycleKind], _ sequence: [LifecycleKind]) -> Bool {
        var rest = sequence[...]
        for kind in kinds where kind == rest.first { rest = rest.dropFirst() }
        return rest.isEmpty
    }

    @Test func aReplayedDeadLetterOfTheDemoGoesThroughItsQueueAgain() throws {
        let demo = try Demo()
        let (id, correlation) = try demo.openAMalformedListing()
        demo.session.keys("r")
        #expect(demo.session.waitFor { $0.contains("confirm replay") && $0.contains("a new delivery with a fresh attempt budget") }, "\(demo.session.screen())")
        demo.session.keys("y")
        #expect(demo.session.waitFor { $0.contains("replayed 1 dead letter") }, "\(demo.session.screen())")
        // The store: redriven, a new delivery on parse, and (still malformed) dead again, its history kept.
        #expect(demo.eventually { store in
            Self.inOrder(try Self.kinds(store, correlation: correlation, message: id), [.deadLettered, .redriven, .claimed, .failed, .deadLettered])
        }, "\((try? Self.kinds(try demo.store(), correlation: correlation, message: id)) ?? [])")
        #expect(demo.eventually { store in
            let letter = try store.deadLetters(DeadLetterSelection(messageIDs: [id]), page: PageRequest(limit: 1)).items.first
            return letter?.replays == 1 && letter?.errors.count == 2
        })
        // The screen: the flow's log shows the replay and the delivery after it.
        demo.showFlow(correlation)
        #expect(demo.session.waitFor { _ in
            let lines = demo.flowLines(correlation)
            guard let redriven = lines.firstIndex(where: { $0.contains(" redriven ") && $0.contains(" parse ") }) else { return false }
            return lines[(redriven + 1)...].contains { $0.contains(" claimed ") && $0.contains(" parse ") }
        }, "\(demo.session.screen())")
        demo.quit()
    }

    @Test func aMalformedListingRepairedInTheEditorIsReplayedAndSucceeds() throws {
        // The editor: a script that turns the price "12,500" into the number 12500.
        let scriptDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-editor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scriptDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scriptDirectory) }
        let script = scriptDirectory.appendingPathComponent("repair.sh").path
        try """
            #!/bin/sh
            printf '%s\\n' "$1" > '\(scriptDirectory.path)/edited'
            sed -i 's/"price": "\\([0-9]*\\),\\([0-9]*\\)"/"price": \\1\\2/' "$1"
            """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let demo = try Demo(environment: ["EDITOR": script])
        let (id, correlation) = try demo.openAMalformedListing()
        demo.session.keys("e")
        #expect(demo.session.waitFor { $0.contains("confirm edit") && $0.range(of: #"\+   "price": \d+,"#, options: .regularExpression) != nil && $0.contains(#"-   "price": ""#) },
                "\(demo.session.screen())")
        // The private file is gone once the editor exited.
        let edited = try String(contentsOfFile: scriptDirectory.appendingPathComponent("edited").path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(edited.hasSuffix("/dead-letter-\(id).json") && !FileManager.default.fileExists(atPath: edited))
        demo.session.keys("y")
        #expect(demo.session.waitFor { $0.contains("edited and replayed 1 dead letter") }, "\(demo.session.screen())")
        // The store: edited, replayed, delivered and succeeded on parse; the next hop published; the original kept.
        #expect(demo.eventually { store in
            Self.inOrder(try Self.kinds(store, correlation: correlation, message: id), [.deadLettered, .edited, .redriven, .claimed, .succeeded])
        }, "\((try? Self.kinds(try demo.store(), correlation: correlation, message: id)) ?? [])")
        #expect(demo.eventually { store in
            let events = try store.events(correlationID: correlation)
            let versions = events.filter { $0.id == correlation }
            guard versions.count == 2, let fixed = versions.last?.data?.jsonObject() as? [String: Any], let original = versions.first?.data?.jsonObject() as? [String: Any]
            else { return false }
            return fixed["price"] is Int && original["price"] is String && events.contains { $0.type == "listing.parsed" && $0.causationID == correlation }
        })
        // The screen: the flow's log shows the edit, then parse succeeding.
        demo.showFlow(correlation)
        #expect(demo.session.waitFor { _ in
            let lines = demo.flowLines(correlation)
            guard let edit = lines.firstIndex(where: { $0.contains(" edited ") && $0.contains(" parse ") }) else { return false }
            return lines[(edit + 1)...].contains { $0.contains(" succeeded ") && $0.contains(" parse ") }
        }, "\(demo.session.screen())")
        demo.quit()
    }
}
