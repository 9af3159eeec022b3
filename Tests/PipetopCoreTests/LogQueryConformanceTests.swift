import Foundation
import Testing
import GRDB
@testable import PipetopCore

/// The log read through a `LogQuery` (`StoreSnapshot.log(matching:…)`, `logCount`), on every
/// backend: whatever path a query takes (a flow's index, the rare steps' index, a scan of the log
/// a span at a time), paging back, paging on and counting find exactly the records of the whole
/// log that `LogQuery.matches` accepts: the one definition the dashboard's memory also uses.
@Suite struct LogQueryConformanceTests {
    static let backends = StoreFactory.all

    /// A log with every step and row shape: fan-out, children, retries, dead letters (kept and
    /// dropped), lease expiries, duplicates, rejections, unrouted publishes, a batch release,
    /// redrives, deletes and an edit; ids, types and errors in mixed case, with non-ASCII text
    /// and LIKE's own characters (`%`, `_`, `\`).
    static func variedLog(_ h: StoreHarness) throws -> [LifecycleRecord] {
        try h.declare(["q", "Fan_Out", "batch"])
        var random = SeededRandom(seed: 7)
        var now = h.t0
        let types = ["listing.Uploaded", "listing.parsed", "order.placed", "listing.价格", "price_100%"]
        let correlations = ["Flow-A", "flow-a", "flow-b", "flow-b2", "flöw-ü", "x%_\\y"]
        let errors = ["timeout: pricing 50% slow", "Malformed PRICE_x", "shard\\3 down", "échec ÉCHEC", "gone"]
        var number = 0
        for round in 0..<120 {
            now = now + .milliseconds(Int64(100 + random.below(900)))
            var batch = WriteBatch(now: now)
            batch.expireLeases = ["q"]
            if round % 15 == 14 { batch.releases = ["batch"] }
            batch.claims = ["q", "Fan_Out", "batch"].map { h.request($0, limit: random.below(4), lease: .seconds(2), deadLetter: $0 != "Fan_Out") }
            for _ in 0..<random.below(5) {
                number += 1
                let event = CloudEvent(
                    id: random.chance(20) ? "dup" : "e\(number)", source: "/s", type: random.pick(types), time: now,
                    data: try .json(object: ["n": number]), correlationID: random.chance(10) ? nil : random.pick(correlations))
                let targets: [Target]
                switch random.below(10) {
                case 0: targets = []  // rejected
                case 1: targets = [Target(queue: "q", held: false), Target(queue: "Fan_Out", held: false)]
                case 2: targets = [Target(queue: "batch", held: true)]
                case 3: targets = [Target(queue: "q", held: false, deduplicate: .seconds(60))]
                default: targets = [Target(queue: random.pick(["q", "Fan_Out"]), held: false)]
                }
                batch.publishes.append(RoutedEvent(event: event, targets: targets))
            }
            if round % 40 == 10 {
                // The same source and id twice within a queue's deduplication window: a duplicate.
                let twice = RoutedEvent(event: CloudEvent(id: "once", source: "/s", type: "Once", correlationID: "flow-b"),
                                        targets: [Target(queue: "q", held: false, deduplicate: .seconds(600))])
                batch.publishes += [twice, twice]
            }
            let claimed = try h.store.apply(batch).claimed
            var outcomes = WriteBatch(now: now + .milliseconds(5))
            for message in claimed where !random.chance(15) {  // some are left to expire
                let at = now + .milliseconds(Int64(1 + random.below(4)))
                let result: Outcome.Result
                switch random.below(6) {
                case 0: result = .retry(error: random.pick(errors), at: at + .milliseconds(300))
                case 1: result = .deadLetter(error: random.pick(errors), reason: .nonRetryable)
                case 2: result = .drop(error: random.pick(errors))
                case 3:
                    let child = message.event.child(type: random.pick(types))
                    result = .succeeded(children: [RoutedEvent(event: child, targets: [Target(queue: "q", held: false)])])
                default: result = .succeeded(children: [])
                }
                outcomes.outcomes.append(Outcome(claim: message.claim, duration: .microseconds(Int64(100 + random.below(900))), finishedAt: at, result: result))
            }
            _ = try h.store.apply(outcomes)
            if random.chance(10) { try h.store.publishUnrouted([CloudEvent(id: "u\(round)", source: "/cli", type: "Manual_Entry", correlationID: "flow-a")], at: now) }
            if random.chance(15) { _ = try h.store.redrive(RedriveRequest(selection: .all, limit: 2), at: now) }
            if random.chance(8) { _ = try h.store.delete(DeleteRequest(selection: .all, limit: 1), at: now) }
            if random.chance(8) {
                // A letter without a JSON payload (a child) refuses the edit, which then changes nothing.
                _ = try? h.store.edit(EditRequest(.set([try FieldAssignment(parsing: "/fixed=\(round)")], selection: .all, limit: 1)), at: now)
            }
        }
        return try h.log()
    }

    static let queries: [LogQuery] = [
        LogQuery(),
        LogQuery([.kinds([.deadLettered])]),
        LogQuery([.kinds([.failed, .retryScheduled])]),
        LogQuery([.kinds(LifecycleKind.named(prefix: "re"))]),
        LogQuery([.kinds([.claimed])]),
        LogQuery([.kinds([.published, .deadLettered])]),
        LogQuery([.kinds([.failed]), .kinds([.failed, .succeeded])]),
        LogQuery([.queue("q")]),
        LogQuery([.queue("FAN_OUT")]),
        LogQuery([.queue("fan%")]),
        LogQuery([.correlation("flow-a")]),
        LogQuery([.correlation("Flow-A"), .kinds([.failed])]),
        LogQuery([.correlationPrefix("flow-b")]),
        LogQuery([.correlationPrefix("fl")]),
        LogQuery([.correlationPrefix("")]),
        LogQuery([.correlationPrefix("x%_\\")]),
        LogQuery([.correlationPrefix("flö")]),
        LogQuery([.type("LISTING")]),
        LogQuery([.type("价")]),
        LogQuery([.type("_100%")]),
        LogQuery([.text("pricing")]),
        LogQuery([.text("price_")]),
        LogQuery([.text("50%")]),
        LogQuery([.text("\\3")]),
        LogQuery([.text("échec")]),
        LogQuery([.text("ÉCHEC")]),
        LogQuery([.text("dead")]),
        LogQuery([.text("fan_out")]),
        LogQuery([.text("dup")]),
        LogQuery([.text("replay")]),
        LogQuery([.text("retry in")]),
        LogQuery([.text("flow-a"), .kinds([.enqueued])]),
        LogQuery([.queue("q"), .kinds(LifecycleKind.named(prefix: "dead")), .text("malformed")]),
        LogQuery([.kinds([])]),
    ]

    /// Every page reading back, then on, and every count, with a small span and with the
    /// backend's own: each gives the matches of the whole log.
    @Test(arguments: backends) func pagesAndCountsFindExactlyWhatTheQueryMatches(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let log = try Self.variedLog(h)
        #expect(log.count > 1_000)
        #expect(Set(log.map(\.kind)) == Set(LifecycleKind.allCases), "every kind occurs: \(Set(LifecycleKind.allCases).subtracting(log.map(\.kind)))")
        for query in Self.queries {
            let expected = log.filter(query.matches)
            for span in [7, nil] as [Int?] {
                var back: [LifecycleRecord] = []
                var cursor = Int64.max
                var reads = 0
                while true {
                    let page = try h.store.log(matching: query, before: cursor, limit: 5, span: span)
                    #expect(page.records.count <= 5)
                    back += page.records
                    reads += 1
                    if page.reachedEnd { break }
                    #expect(page.next < cursor, "it moves back")
                    cursor = page.next
                }
                #expect(back.map(\.seq) == expected.reversed().map(\.seq), "\(query) span \(span.map(String.init) ?? "-") back")
                #expect(back == expected.reversed())

                var on: [LifecycleRecord] = []
                cursor = 0
                while true {
                    let page = try h.store.log(matching: query, after: cursor, limit: 5, span: span)
                    on += page.records
                    if page.reachedEnd { break }
                    #expect(page.next > cursor, "it moves on")
                    cursor = page.next
                }
                #expect(on.map(\.seq) == expected.map(\.seq), "\(query) span \(span.map(String.init) ?? "-") on")

                var counted = 0
                cursor = .max
                while true {
                    let count = try h.store.logCount(matching: query, before: cursor, span: span)
                    counted += count.count
                    if count.reachedEnd { break }
                    cursor = count.next
                }
                #expect(counted == expected.count, "\(query) span \(span.map(String.init) ?? "-") count")
            }
        }
    }

    /// A cursor may fall inside a row of several steps: reads and counts take only its records on the asked side.
    @Test(arguments: backends) func cursorsInsideARowTakeOnlyTheRecordsOnTheirSide(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let log = try Self.variedLog(h)
        var random = SeededRandom(seed: 3)
        for _ in 0..<40 {
            let cursor = log[random.below(log.count)].seq + Int64(random.below(2))
            let query = random.pick(Self.queries)
            let expected = log.filter(query.matches)
            let before = try h.store.logCount(matching: query, before: cursor, span: nil)
            #expect(before.reachedEnd)
            #expect(before.count == expected.filter { $0.seq < cursor }.count, "\(query) before \(cursor)")
            let back = try h.store.log(matching: query, before: cursor, limit: 3, span: nil)
            #expect(back.records == Array(expected.filter { $0.seq < cursor }.reversed().prefix(3)), "\(query) before \(cursor)")
            let on = try h.store.log(matching: query, after: cursor, limit: 3, span: nil)
            #expect(on.records == Array(expected.filter { $0.seq > cursor }.prefix(3)), "\(query) after \(cursor)")
        }
    }

    /// Following reads on from the last `next`: new matches appear once, and nothing already
    /// searched is searched again (the cursor passes rows without a match).
    @Test(arguments: backends) func followingFindsEachNewMatchOnce(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let query = LogQuery([.kinds([.deadLettered])])
        try h.publish([h.event("a")], to: "other")
        var first = try h.store.log(matching: query, after: 0, limit: 100, span: nil)
        #expect(first.records.isEmpty && first.reachedEnd)
        let end = first.next
        let newest = try h.log().last!.seq
        #expect(end >= newest, "the cursor passed every record searched")
        try h.deadLetter(["b", "c"], from: h.t0 + .seconds(1))
        first = try h.store.log(matching: query, after: end, limit: 100, span: nil)
        #expect(first.records.map(\.eventID) == ["b", "c"])
        let again = try h.store.log(matching: query, after: first.next, limit: 100, span: nil)
        #expect(again.records.isEmpty && again.reachedEnd)
    }

    /// A broad correlation prefix (more events than a flow is read whole for) is read as a scan,
    /// with the same results; an empty log and a query no record can match read nothing.
    @Test(arguments: backends) func aBroadPrefixAndAnEmptyLog(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let empty = try h.store.log(matching: LogQuery([.text("x")]), before: .max, limit: 10, span: nil)
        #expect(empty.records.isEmpty && empty.reachedEnd)
        #expect(try h.store.logCount(matching: LogQuery([.queue("q")])) == LogCount(count: 0, next: 1, reachedEnd: true))
        #expect(try h.store.log(matching: LogQuery([.text("x")]), after: 0, limit: 10, span: nil).reachedEnd)
        let events = (0..<2_100).map { CloudEvent(id: "b\($0)", source: "/s", type: "t", correlationID: "bulk-\($0)") }
        try h.publish(events)
        let query = LogQuery([.correlationPrefix("bulk-1")])
        let expected = try h.log().filter(query.matches)
        #expect(expected.count == 3 * 1_111)
        let page = try h.store.log(matching: query, before: .max, limit: 50, span: nil)
        #expect(page.records == Array(expected.reversed().prefix(50)))
        var counted = 0
        var cursor = Int64.max
        while true {
            let count = try h.store.logCount(matching: query, before: cursor, span: 500)
            counted += count.count
            if count.reachedEnd { break }
            cursor = count.next
        }
        #expect(counted == expected.count)
        #expect(try h.store.logCount(matching: LogQuery([.kinds([])])).count == 0)
    }
}

/// What `LogQuery.matches` means, term by term (the store must agree: see above).
@Suite struct LogQueryTests {
    let record = LifecycleRecord(
        seq: 1, time: Timestamp(micros: 0), kind: .deadLettered, eventID: "Ev-1", eventType: "listing.Uploaded", correlationID: "Listing-817",
        queue: "Parse", error: "price \"12,500\" is not a number", detail: "non-retryable")

    @Test func termsMatchAsDocumented() {
        func matches(_ terms: LogQuery.Term...) -> Bool { LogQuery(terms).matches(record) }
        #expect(matches(.kinds([.deadLettered, .failed])) && !matches(.kinds([.failed])) && !matches(.kinds([])))
        #expect(matches(.queue("parse")) && matches(.queue("PARSE")) && !matches(.queue("par")))
        #expect(matches(.correlation("Listing-817")) && !matches(.correlation("listing-817")), "an id compares as stored")
        #expect(matches(.correlationPrefix("Listing-8")) && !matches(.correlationPrefix("listing-8")) && matches(.correlationPrefix("")))
        #expect(matches(.type("UPLOAD")) && !matches(.type("parsed")))
        #expect(matches(.text("12,500")) && matches(.text("EV-1")) && matches(.text("dead-l")) && matches(.text("retryable")) && matches(.text("LISTING-817")))
        #expect(!matches(.text("claimed")))
        #expect(matches(.queue("parse"), .kinds([.deadLettered]), .text("number")) && !matches(.queue("parse"), .text("nothing")))
        #expect(LogQuery([.text("é")]).matches(LifecycleRecord(time: Timestamp(micros: 0), kind: .failed, eventID: "é")))
        #expect(!LogQuery([.text("é")]).matches(LifecycleRecord(time: Timestamp(micros: 0), kind: .failed, eventID: "É")), "only ASCII letters fold")
        #expect(!LogQuery([.queue("x")]).matches(LifecycleRecord(time: Timestamp(micros: 0), kind: .published, eventID: "a")), "no queue is no match")
    }

    @Test func kindsByPrefix() {
        #expect(LifecycleKind.named(prefix: "dead") == [.deadLettered])
        #expect(LifecycleKind.named(prefix: "RE") == [.redriven, .rejected, .retryScheduled])
        #expect(LifecycleKind.named(prefix: "") == Set(LifecycleKind.allCases))
        #expect(LifecycleKind.named(prefix: "zzz").isEmpty)
    }
}

/// What only SQLite has: the paths its statements take, and the SQLite behaviour `LogQuery`'s
/// agreement with the store rests on.
@Suite struct LogQuerySQLiteTests {
    let db = try! TestStore()

    func plan(_ query: LogQuery, _ direction: LogPlan.Direction = .back, counting: Bool = false) throws -> [String] {
        try db.store.database.read { db in
            let statement = try SQLiteSnapshot.logStatement(query, direction, from: 1_000, span: nil, counting: counting, db: db)
            let explain = try RawStatement(db, "EXPLAIN QUERY PLAN " + statement.sql)
            statement.parameters.bind(explain)
            var details: [String] = []
            try explain.query { details.append($0.string(3) ?? "") }
            return details
        }
    }

    @Test func eachQueryTakesItsIndexAndNoneSortsTheLog() throws {
        var batch = WriteBatch(now: Timestamp(micros: 1_800_000_000_000_000))
        batch.publishes = (0..<50).map { RoutedEvent(event: CloudEvent(id: "e\($0)", source: "/s", type: "t", correlationID: "flow-\($0 % 5)"), targets: [Target(queue: "q", held: false)]) }
        _ = try db.store.apply(batch)
        for counting in [false, true] {
            for query in [LogQuery([.correlation("flow-1")]), LogQuery([.correlationPrefix("flow-"), .kinds([.enqueued])])] {
                let flow = try plan(query, counting: counting)
                #expect(flow.contains { $0.contains("events_by_correlation") } && flow.contains { $0.contains("log_by_event") }, "\(flow)")
                #expect(!flow.contains { $0.hasPrefix("SCAN") }, "\(flow)")
            }
            let rare = try plan(LogQuery([.kinds([.deadLettered]), .queue("q")]), counting: counting)
            #expect(rare.contains { $0.contains("log_rare_steps") }, "\(rare)")
            let kinds = try plan(LogQuery([.kinds([.failed, .retryScheduled])]), counting: counting)
            #expect(kinds.contains { $0.contains("log_rare_steps") }, "\(kinds)")
            if counting { #expect(kinds == ["SEARCH l USING COVERING INDEX log_rare_steps (seq>? AND seq<?)"], "a count of kinds reads the index alone: \(kinds)") }
            for direction in [LogPlan.Direction.back, .on] {
                let scan = try plan(LogQuery([.text("x"), .kinds([.claimed])]), direction, counting: counting)
                #expect(scan.contains { $0.contains("SEARCH l USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)") }, "a span of the log: \(scan)")
                #expect(!scan.contains { $0.contains("TEMP B-TREE") }, "\(scan)")
            }
        }
    }

    /// `log_rare_steps` is defined with the very condition queries name (or SQLite would not use it).
    @Test func theRareStepsIndexIsDefinedByTheConditionQueriesName() throws {
        let sql = try db.store.database.read { try String.fetchOne($0, sql: "SELECT sql FROM sqlite_master WHERE name = 'log_rare_steps'") }
        #expect(sql == "CREATE INDEX log_rare_steps ON log(seq, steps) WHERE \(LogColumn.hasRareStep)")
        #expect(LogColumn.rareSteps & (1 << LifecycleKind.succeeded.step | 1 << LifecycleKind.published.step | 1 << LifecycleKind.claimed.step) == 0)
    }

    /// LIKE compares ASCII letters in either case and every other character exactly: what
    /// `LogQuery` defines. A SQLite built with ICU (whose LIKE folds more) would fail here.
    @Test func likeFoldsASCIIOnly() throws {
        let row = try db.store.database.read { try Row.fetchOne($0, sql: "SELECT 'A' LIKE 'a', 'Ä' LIKE 'ä', 'É' LIKE 'é', 'a%b' LIKE 'a\\%b' ESCAPE '\\', 'axb' LIKE 'a\\%b' ESCAPE '\\'") }!
        #expect(row[0] as Int == 1 && row[1] as Int == 0 && row[2] as Int == 0 && row[3] as Int == 1 && row[4] as Int == 0)
    }
}
