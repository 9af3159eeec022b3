import Foundation
import PipetopTestSupport
@testable import PipetopCore
import PipetopUI
import Testing

/// The Events screen in a real terminal (tmux), the real binary on a running demo: a flow a minute
/// old, long gone from the dashboard's buffer, found with `/` and opened with `c`, shows every
/// record of it, with the store's count; `enter` then opens its trace.
/// Assertions are on the screen and the store, polled with a generous deadline; nothing here
/// depends on speed.
@Suite(.enabled(if: Child.tmux != nil, "needs tmux"), .serialized)
struct EventsTerminalTests {
    @Test func aFlowAMinuteOldOpensWithEveryHop() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-events-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let storePath = directory.appendingPathComponent("demo.sqlite").path
        let env = ["XDG_RUNTIME_DIR": directory.appendingPathComponent("run").path, "XDG_STATE_HOME": directory.appendingPathComponent("state").path,
                   "XDG_CONFIG_HOME": directory.appendingPathComponent("config").path, "TZ": "UTC"]
        let session = try TmuxSession(width: 160, height: 60, command: [
            Child.pipetop, "demo", "--store", storePath, "--rate", "40", "--buffer", "1000",
        ], environment: env)
        #expect(session.waitFor { $0.contains("1 Overview") && $0.contains("index-batch") }, "\(session.screen())")
        // The demo's 42nd listing, once it is a minute old: by then some 30,000 records have gone
        // through a buffer of 1,000.
        let id = "listing-42"
        func age(_ store: SQLiteStore) throws -> Duration? {
            guard let first = try store.trace(correlationID: id).first, let newest = try store.history(before: .max, limit: 1).first else { return nil }
            return newest.time - first.time
        }
        #expect(session.waitFor(300) { _ in ((try? SQLiteStore(path: storePath, readOnly: true)).flatMap { try? age($0) } ?? .zero) >= .seconds(60) })

        // Events: the listing found by its number (the oldest matches, from the store), then c.
        session.keys("2")
        #expect(session.waitFor { $0.contains("FOLLOW") })
        session.keys("/")
        session.type(id)
        session.keys("Enter")
        #expect(session.waitFor { $0.contains("/\(id)") && $0.contains(" \(id)") }, "\(session.screen())")
        #expect(session.waitFor(120) { screen in
            if screen.components(separatedBy: "\n").contains(where: { $0.range(of: #" 1/[0-9.,kM]+ *$"#, options: .regularExpression) != nil }) { return true }
            session.keys("g")
            return false
        }, "\(session.screen())")
        #expect(session.waitFor { screen in
            screen.components(separatedBy: "\n").dropFirst(3).first.map { $0.hasSuffix(" \(id)") || $0.contains(" \(id) ") } == true
        }, "the oldest match is the listing's: \(session.screen())")
        session.keys("c")
        #expect(session.waitFor { $0.contains("/corr:\(id) ") }, "\(session.screen())")
        let store = try SQLiteStore(path: storePath, readOnly: true)
        let flow = try store.trace(correlationID: id)
        #expect(try #require(try age(store)) >= .seconds(60), "a flow a minute old")
        #expect(flow.contains { $0.queue == "parse" } && flow.contains { $0.queue == "index-batch" }, "its stream and its batch hops")

        // Every record of it on screen, by time, kind and queue, and the true count in the footer.
        func line(of record: LifecycleRecord, in lines: [String]) -> Bool {
            let clock = Format.clock(record.time, offset: 0)
            return lines.contains { line in
                line.contains(" \(clock) ") && line.contains(" \(record.kind.rawValue) ") && line.contains(id)
                    && (record.queue.map { line.contains(" \($0) ") } ?? true)
            }
        }
        #expect(session.waitFor { screen in
            let lines = screen.components(separatedBy: "\n")
            let settled = try? store.trace(correlationID: id)
            guard let settled, screen.contains("\(settled.count)/\(settled.count)") else { return false }
            return settled.allSatisfy { line(of: $0, in: lines) }
        }, "\(session.screen())\nnot on screen: \((try? store.trace(correlationID: id))?.filter { !line(of: $0, in: session.lines()) }.map { "\(Format.clock($0.time, offset: 0)) \($0.kind.rawValue) \($0.queue ?? "")" } ?? [])")

        // enter on one of its records opens its trace, read from the store: the tree with the
        // stream and batch hops, and a summary of the whole flow.
        session.keys("Enter")
        #expect(session.waitFor { screen in
            let events = Set(((try? store.trace(correlationID: id)) ?? flow).map(\.eventID)).count
            return screen.contains("trace \(id) · end to end") && screen.contains(" \(events) event")
                && screen.contains("→ parse ") && screen.contains("→ index-batch ")
        }, "every event of the flow, its stream and batch hops: \(session.screen())")

        session.keys("q")
        #expect(session.exitStatus() == 0)
    }
}
