import Foundation
import GRDB
import Testing
@testable import PipetopCore

/// The stored shape of the log (`LifecycleRow`): steps grouped into rows give back every step
/// exactly; record seqs page the log across and inside rows; old stores migrate.
@Suite struct LifecycleRowTests {
    let t0 = Timestamp(micros: 1_800_000_000_000_000)

    /// Groups `entries` as `Tick` does (each joins the pending row or starts the next).
    static func rows(_ entries: [LifecycleEntry]) -> [LifecycleRow] {
        var rows: [LifecycleRow] = []
        for entry in entries {
            if rows.isEmpty || !rows[rows.count - 1].absorb(entry) { rows.append(LifecycleRow(entry)) }
        }
        return rows
    }

    @Test func aDeliveredEventIsTwoRowsThatGiveBackItsFiveSteps() {
        let steps = [
            LifecycleEntry(.published, at: t0, eventSeq: 7),
            LifecycleEntry(.routed, at: t0, eventSeq: 7, detail: "q,r"),
            LifecycleEntry(.enqueued, at: t0, eventSeq: 7, queue: "q", messageID: 3),
            LifecycleEntry(.claimed, at: t0, eventSeq: 7, queue: "q", messageID: 3, attempt: 1),
            LifecycleEntry(.enqueued, at: t0, eventSeq: 7, queue: "r", messageID: 4, detail: "held for the batch window"),
            LifecycleEntry(.succeeded, at: t0 + .milliseconds(2), eventSeq: 7, queue: "q", messageID: 3, attempt: 1, duration: .microseconds(150)),
            LifecycleEntry(.failed, at: t0 + .seconds(1), eventSeq: 7, queue: "r", messageID: 4, attempt: 1, duration: .milliseconds(3), error: "boom"),
            LifecycleEntry(.retryScheduled, at: t0 + .seconds(1), eventSeq: 7, queue: "r", messageID: 4, attempt: 1, detail: "retry in 0.100s"),
            LifecycleEntry(.failed, at: t0 + .seconds(2), eventSeq: 7, queue: "r", messageID: 4, attempt: 2, duration: .milliseconds(3), error: "boom"),
            LifecycleEntry(.deadLettered, at: t0 + .seconds(2), eventSeq: 7, queue: "r", messageID: 4, attempt: 2, error: "boom", detail: "max-attempts"),
        ]
        let rows = Self.rows(steps)
        #expect(rows.map(\.count) == [4, 1, 1, 2, 2])
        #expect(rows.flatMap { $0.entries() } == steps)
    }

    /// Any sequence of steps, grouped and given back, is the sequence: random kinds, fields,
    /// times and events, with runs that share them (fixed seed: every run tries the same cases).
    @Test func everySequenceOfStepsRoundTrips() {
        var random = SeededRandom(seed: 10)
        func maybe<T>(_ value: T) -> T? { random.chance(50) ? value : nil }
        for _ in 0..<2_000 {
            var entries: [LifecycleEntry] = []
            var at = t0, event: Int64 = 1, message: Int64 = 1, attempt = 1
            for _ in 0..<random.below(12) + 1 {
                if random.chance(30) { at = at + .microseconds(Int64(random.below(3))) }
                if random.chance(20) { event += 1 }
                if random.chance(20) { message += 1 }
                if random.chance(20) { attempt += 1 }
                let kind = random.pick(LifecycleKind.allCases)
                let tidy = random.chance(70)  // fields as Tick gives them, or anything at all
                let scope = kind.scope
                entries.append(LifecycleEntry(
                    kind, at: at, eventSeq: event,
                    queue: tidy ? (scope == .event ? nil : "q\(message % 2)") : maybe("q\(random.below(2))"),
                    messageID: tidy ? (scope == .event ? nil : message) : maybe(message),
                    attempt: tidy ? (scope == .delivery ? attempt : nil) : maybe(attempt),
                    duration: tidy ? (kind.hasRun ? .microseconds(Int64(random.below(3))) : nil) : maybe(.microseconds(1)),
                    error: maybe(random.pick(["e1", "e2"])), detail: maybe(random.pick(["d1", "d2"]))))
            }
            let rows = Self.rows(entries)
            #expect(rows.flatMap { $0.entries() } == entries, "\(entries)")
            #expect(rows.reduce(0) { $0 + $1.count } == entries.count)
        }
    }

    @Test func recordSeqsStartAtOneAndOrderRowsAndSteps() {
        #expect(LogPosition.record(row: 1, index: 0) == 1)
        #expect(LogPosition.row(of: 0) == 0)
        for row in Int64(1)...50 {
            for index in 0..<14 {
                let seq = LogPosition.record(row: row, index: index)
                #expect(LogPosition.row(of: seq) == row)
                #expect(seq < LogPosition.record(row: row + 1, index: 0))
            }
        }
    }
}

@Suite struct LogPagingTests {
    let db = try! TestStore()
    let t0 = Timestamp(micros: 1_800_000_000_000_000)

    /// 40 events to two queues, delivered: rows of four, two and one steps.
    func fill() throws {
        var publish = WriteBatch(now: t0)
        publish.claims = [ClaimRequest(queue: "a", limit: 100, lease: .seconds(30), maxAttempts: 3)]
        publish.publishes = (0..<40).map {
            RoutedEvent(event: CloudEvent(id: "e\($0)", source: "/s", type: "t", correlationID: "flow-\($0 % 4)"), targets: [
                Target(queue: "a", held: false), Target(queue: "b", held: false),
            ])
        }
        let claimed = try db.store.apply(publish).claimed
        var finish = WriteBatch(now: t0 + .milliseconds(1))
        finish.outcomes = claimed.map { Outcome(claim: $0.claim, duration: .microseconds(9), finishedAt: t0 + .milliseconds(1), result: .succeeded(children: [])) }
        _ = try db.store.apply(finish)
    }

    @Test func pagesForwardAndBackFromAnyCursorJoinToTheWholeLog() throws {
        try fill()
        let all = try db.log()
        #expect(all.count == 40 * 6, "published, routed, enqueued a, claimed a, enqueued b, succeeded a")
        #expect(try db.store.logTotal() == Int64(all.count))
        #expect(try db.count("SELECT count(*) FROM log") == 40 * 3)
        #expect(Set(all.map(\.seq)).count == all.count)
        #expect(all.map(\.seq) == all.map(\.seq).sorted())
        for size in [1, 3, 5, 7, 64] {
            var forward: [LifecycleRecord] = []
            var cursor: Int64 = 0
            while true {
                let page = try db.store.tail(after: cursor, limit: size)
                guard let last = page.last else { break }
                #expect(page.count <= size)
                forward += page
                cursor = last.seq
            }
            #expect(forward == all, "pages of \(size) forward")
            var backward: [LifecycleRecord] = []
            cursor = .max
            while true {
                let page = try db.store.history(before: cursor, limit: size)
                guard let last = page.last else { break }
                #expect(page.count <= size)
                backward += page
                cursor = last.seq
            }
            #expect(backward == all.reversed(), "pages of \(size) back")
        }
        // From inside a row: its later steps first.
        let middle = all[2]
        #expect(try db.store.tail(after: middle.seq, limit: 2) == Array(all[3...4]))
        #expect(try db.store.history(before: middle.seq, limit: 5) == [all[1], all[0]])
        #expect(try db.store.trace(correlationID: "flow-1") == all.filter { $0.correlationID == "flow-1" })
    }
}

@Suite struct LogMigrationTests {
    /// A store written by the schema before rows held several steps (v3: one record per row, the
    /// kind as text) opens with every record as it was, in order, traceable.
    @Test func aVersion3LogBecomesRowsOfOneStep() throws {
        let old = try OldStore(upTo: "v3-audit", rows: """
                    INSERT INTO events (seq, id, source, type, correlation_id, causation_id, data_kind, published_at, routed)
                    VALUES (1, 'a', '/s', 't', 'flow', 'a', 0, 10, 1), (2, 'b', '/s', 't', 'flow', 'a', 0, 11, 1), (3, 'c', '/s', 't', 'other', 'c', 0, 12, 1);
                    INSERT INTO log (seq, at, kind, event_seq, queue, message_id, attempt, duration_us, error, detail) VALUES
                        (1, 10, 'published', 1, NULL, NULL, NULL, NULL, NULL, NULL),
                        (2, 10, 'routed', 1, NULL, NULL, NULL, NULL, NULL, 'q'),
                        (3, 10, 'enqueued', 1, 'q', 1, NULL, NULL, NULL, NULL),
                        (4, 11, 'published', 2, NULL, NULL, NULL, NULL, NULL, NULL),
                        (5, 12, 'published', 3, NULL, NULL, NULL, NULL, NULL, NULL),
                        (6, 13, 'claimed', 1, 'q', 1, 1, NULL, NULL, NULL),
                        (7, 14, 'failed', 1, 'q', 1, 1, 900, 'boom', NULL),
                        (8, 14, 'retry-scheduled', 1, 'q', 1, 1, NULL, NULL, 'retry in 0.100s');
                    """)
        let path = old.path
        let store = try SQLiteStore(path: path)
        let records = try store.tail(after: 0, limit: 100)
        #expect(records.map(\.kind) == [.published, .routed, .enqueued, .published, .published, .claimed, .failed, .retryScheduled])
        #expect(records.map(\.seq) == (1...8).map { LogPosition.record(row: Int64($0), index: 0) })
        #expect(records[1].detail == "q")
        #expect(records[6].error == "boom" && records[6].duration == .microseconds(900) && records[6].attempt == 1)
        #expect(records[7].detail == "retry in 0.100s" && records[7].error == nil)
        #expect(try store.trace(correlationID: "flow").map(\.kind) == [.published, .routed, .enqueued, .published, .claimed, .failed, .retryScheduled])
        #expect(try store.events(correlationID: "other").map(\.id) == ["c"])
        #expect(try store.logTotal() == 8)
    }
}
