import Foundation
import PipetopTestSupport
@testable import PipetopCore
import Testing

/// The README's "On-call in four questions", key by key: the README shows these keys (checked by
/// `WalkthroughReadmeTests`) and `WalkthroughTests` presses exactly them in the real dashboard.
enum Walkthrough {
    /// One step: the key as the README writes it (in backticks), and what tmux sends for it. A
    /// step without README text is the count the confirmation asks for, read from the screen.
    struct Step: CustomStringConvertible {
        let readme: String?
        let tmux: [String]
        var description: String { readme ?? "<the count>" }
    }

    static func key(_ readme: String, _ tmux: String...) -> Step { Step(readme: readme, tmux: tmux.isEmpty ? [readme] : tmux) }
    static let typeTheCount = Step(readme: nil, tmux: [])

    /// The four questions, each with its keys in the order pressed.
    static let questions: [(question: String, steps: [Step])] = [
        ("who is behind", [key("1"), key("s")]),
        ("the story of one listing", [key("2"), key("space", "Space"), key("c"), key("enter", "Enter")]),
        ("failures by cause", [key("3")]),
        ("replay at a safe rate", [key("R"), key("tab", "Tab"), key("backspace", "BSpace", "BSpace", "BSpace"), key("10", "1", "0"),
                                   key("enter", "Enter"), typeTheCount, key("enter", "Enter"), key("J")]),
    ]

    /// The rate the walk-through sets (the `10` above).
    static let rate = 10

    static let readme = Child.packageRoot.appendingPathComponent("README.md")

    /// The README's walk-through: the numbered items between `<!-- walkthrough -->` and
    /// `<!-- /walkthrough -->`, each item's text (its lines joined).
    static func readmeItems() throws -> [String] {
        let text = try String(contentsOf: readme, encoding: .utf8)
        let start = try #require(text.range(of: "<!-- walkthrough -->"), "README.md has no <!-- walkthrough --> marker")
        let end = try #require(text.range(of: "<!-- /walkthrough -->", range: start.upperBound..<text.endIndex), "README.md has no <!-- /walkthrough --> marker")
        var items: [String] = []
        for line in text[start.upperBound..<end.lowerBound].components(separatedBy: "\n") {
            if line.range(of: #"^\d+\. "#, options: .regularExpression) != nil {
                items.append(line)
            } else if !items.isEmpty, !line.trimmingCharacters(in: .whitespaces).isEmpty {
                items[items.count - 1] += " " + line.trimmingCharacters(in: .whitespaces)
            }
        }
        return items
    }

    /// The code spans (`…`) of a README text, in order.
    static func codeSpans(_ text: String) -> [String] {
        let regex = try! NSRegularExpression(pattern: "`([^`]+)`")
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { String(text[Range($0.range(at: 1), in: text)!]) }
    }
}

/// The README shows the walk-through's keys, and only them, question by question.
@Suite struct WalkthroughReadmeTests {
    @Test func theReadmeWalkthroughShowsTheKeysTheTestPresses() throws {
        let items = try Walkthrough.readmeItems()
        #expect(items.count == Walkthrough.questions.count, "\(items)")
        for (item, question) in zip(items, Walkthrough.questions) {
            let shown = Walkthrough.codeSpans(item)
            let pressed = question.steps.compactMap(\.readme)
            #expect(shown == pressed, "README's \"\(question.question)\" shows the keys \(shown), the walk-through test presses \(pressed) (keep other code out of the item)")
        }
    }
}

/// The walk-through test's reading of the Overview, on rows as a busy demo shows them.
@Suite struct WalkthroughScreenReadingTests {
    @Test func theOverviewRowsAreReadWithTheirLag() {
        let screen = """
             QUEUE       STATUS  READY INFL SCHED HELD   LAG↓ LAG s       DRAIN   p50   p99 THRU/s DEAD POISON›
             index-batch STALLED 47.7k    4     0 9704 57.4k↓ 1m42s window 4.7s     –     –      –  157    317›
             enrich      –       38.8k    4     0    0 38.8k↑ 1m40s       never     –     –      –    0    344›
             parse       OK         16    4     0    0    20↓   34s       2m23s     –     –      –  980      0›
             notify      SLOW        0    2     0    0     2→   2ms      steady     –     –      –    0      0›
            """
        let rows = WalkthroughTests.lagRows(screen)
        #expect(rows.map(\.queue) == ["index-batch", "enrich", "parse", "notify"])
        #expect(rows.map(\.lag) == [57_400, 38_800, 20, 2])
    }
}

/// The walk-through in the real dashboard (`pipetop demo` in tmux, a private store): each
/// question's keys as the README gives them, and what each screen then shows. Polled with
/// generous deadlines; nothing here depends on speed.
@Suite(.enabled(if: Child.tmux != nil, "needs tmux"))
struct WalkthroughTests {
    /// The Overview's table rows: the queue and its lag in messages (`Format.count`: 9999, 38.8k, 1.2M).
    static func lagRows(_ screen: String) -> [(queue: String, lag: Double)] {
        let count = #"\d+(?:\.\d)?[kM]?"#
        let regex = try! NSRegularExpression(pattern: #"^ (\S+) +(?:OK|SLOW|STALLED|STOPPED|–) +"# + Array(repeating: count + " +", count: 4).joined() + "(\(count))[↑↓→]", options: .anchorsMatchLines)
        return regex.matches(in: screen, range: NSRange(screen.startIndex..., in: screen)).map { match in
            let queue = String(screen[Range(match.range(at: 1), in: screen)!])
            var text = String(screen[Range(match.range(at: 2), in: screen)!])
            let scale: Double = text.hasSuffix("k") ? 1_000 : text.hasSuffix("M") ? 1_000_000 : 1
            if scale > 1 { text.removeLast() }
            return (queue, (Double(text) ?? -1) * scale)
        }
    }

    static func firstMatch(_ pattern: String, in screen: String) -> [String]? {
        let regex = try! NSRegularExpression(pattern: pattern)
        guard let match = regex.firstMatch(in: screen, range: NSRange(screen.startIndex..., in: screen)) else { return nil }
        return (0..<match.numberOfRanges).map { Range(match.range(at: $0), in: screen).map { String(screen[$0]) } ?? "" }
    }

    @Test func theReadmeWalkthroughAnswersItsFourQuestions() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-walkthrough-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let storePath = dir.appendingPathComponent("demo.sqlite").path
        let env = ["XDG_RUNTIME_DIR": dir.appendingPathComponent("run").path, "XDG_STATE_HOME": dir.appendingPathComponent("state").path,
                   "XDG_CONFIG_HOME": dir.appendingPathComponent("config").path, "TMPDIR": dir.path]
        let session = try TmuxSession(width: 100, height: 30, command: [Child.pipetop, "demo", "--store", storePath, "--window", "2s", "--rate", "60"], environment: env)
        func press(_ step: Walkthrough.Step) { session.keys(step.tmux.first!); for key in step.tmux.dropFirst() { session.keys(key) } }
        func steps(_ n: Int) -> [Walkthrough.Step] { Walkthrough.questions[n].steps }

        #expect(session.waitFor { $0.contains("1 Overview") && $0.contains("index-batch") }, "\(session.screen())")

        // 1. Who is behind: the Overview sorted by lag, the queue furthest behind first.
        for step in steps(0) { press(step) }
        #expect(session.waitFor { screen in
            let rows = Self.lagRows(screen)
            return screen.contains("sorted by lag") && screen.contains("LAG↓") && rows.count == 5 && Set(rows.map(\.queue)).contains("index-batch")
                && zip(rows, rows.dropFirst()).allSatisfy { $0.lag >= $1.lag }
        }, "\(session.screen())")

        // 2. The story of one listing: Events, paused on the newest record, only its flow, its trace.
        let story = steps(1)
        press(story[0])
        #expect(session.waitFor { $0.contains("Events") && $0.contains("FOLLOW") && $0.contains("listing.uploaded") }, "\(session.screen())")
        press(story[1])
        #expect(session.waitFor { $0.contains("PAUSED") }, "\(session.screen())")
        press(story[2])
        var correlation = ""
        #expect(session.waitFor { screen in
            guard let match = Self.firstMatch(#"one flow: corr:(listing-\d+)"#, in: screen) else { return false }
            correlation = match[1]
            return screen.contains("/corr:\(correlation)")
        }, "\(session.screen())")
        press(story[3])
        #expect(session.waitFor { screen in
            guard screen.contains("trace \(correlation) ·"), screen.contains("TRACE"),
                  let store = try? SQLiteStore(path: storePath, readOnly: true),
                  let events = try? store.events(correlationID: correlation), !events.isEmpty
            else { return false }
            // Every event type of the flow (as the store has it) is in the tree.
            return Set(events.map(\.type)).allSatisfy { screen.contains($0) }
        }, "\(correlation): \(session.screen())")

        // 3. Failures by cause: the dead letters grouped by cause, the malformed listings among them.
        for step in steps(2) { press(step) }
        #expect(session.waitFor { screen in
            guard screen.contains("GROUPS"), screen.contains("CAUSE"), screen.contains("malformed listi"),
                  let top = Self.firstMatch(#"(?m)^ +(\d+)  \S"#, in: screen), let count = Int(top[1]) else { return false }
            return count >= 2  // a group to replay as a job (one letter would ask y/n, not the count)
        }, "\(session.screen())")

        // 4. Replay at a safe rate: the selected group as a replay job, its rate set to 10/s.
        let replay = steps(3)
        let countAt = try #require(replay.firstIndex { $0.readme == nil })
        // The selected group may still hold one letter when `R` is pressed (the groups are
        // re-sorted as letters arrive; a slow machine sees the first window's letters late):
        // that one would be confirmed with y, not as a job, so it is cancelled and asked again.
        var asJob = false
        for _ in 0..<30 where !asJob {
            press(replay[0])
            #expect(session.waitFor { $0.contains("confirm replay") && $0.contains("as a replay job at 100/s") }, "\(session.screen())")
            asJob = !session.screen().contains("replay 1 dead letter:")
            if !asJob {
                session.keys("Escape")
                Thread.sleep(forTimeInterval: 1)
            }
        }
        #expect(asJob, "a group of several letters to replay as a job: \(session.screen())")
        for step in replay[1..<countAt] { press(step) }
        var count = 0
        #expect(session.waitFor { screen in
            guard screen.contains("as a replay job at \(Walkthrough.rate)/s · tab changes the rate"),
                  let match = Self.firstMatch(#"type (\d+) then enter"#, in: screen) else { return false }
            count = Int(match[1]) ?? 0
            return count >= 2
        }, "\(session.screen())")
        session.type(String(count))
        for step in replay[(countAt + 1)...] { press(step) }
        #expect(session.waitFor { screen in
            screen.contains("replay jobs ·") && screen.contains("JOB") && screen.contains("RATE")
                && Self.firstMatch(#"(?m)^ +\d+  \S+ .* \d+/\#(count) +\#(Walkthrough.rate)/s "#, in: screen) != nil
        }, "\(session.screen())")
        // The store has the job: the set confirmed, at the rate typed.
        let job = try #require(try SQLiteStore(path: storePath, readOnly: true).replayJobs(page: PageRequest(limit: 10)).items.first)
        #expect(job.rate == Walkthrough.rate && job.total == count, "\(job)")

        session.keys("q")
        #expect(session.exitStatus() == 0)
        #expect(TerminalTests.problems(session) == [])
    }
}
