import DequeModule
import Foundation
@testable import PipetopCore
@testable import PipetopUI
import Testing

/// The Events screen with a ring smaller than the log: a committed filter (`/`, `c`) is read
/// from the store, so a flow older than the ring shows every record, counts are the store's,
/// scrolling back pages through the store, and new matches are still appended.
@Suite struct EventsSearchTests {
    let size = Size(width: 120, height: 30)

    /// The fixture's store and a dashboard whose ring holds 100 records of its log.
    func small() throws -> (AppState, Fixture) {
        let fixture = try Fixture()
        var state = AppState(size: size, now: Fixture.t0 - .seconds(11), theme: try Fixture.theme(), themeNames: [], storeLocation: "x", capacity: 100)
        try fixture.run(into: &state)
        #expect(state.events.olderAvailable, "the log does not fit the ring")
        _ = state.update(.key(.char("2")))
        return (state, fixture)
    }

    /// Keys through the update function, each read answered from the store (with `span`: each
    /// read of the log searches at most that many rows, as in a store of millions).
    func press(_ state: inout AppState, _ fixture: Fixture, _ keys: [Key], span: Int? = nil) throws {
        for key in keys { try settle(&state, state.update(.key(key)), fixture, span: span) }
    }

    func settle(_ state: inout AppState, _ effects: [Effect], _ fixture: Fixture, span: Int? = nil) throws {
        var pending = effects[...]
        while let effect = pending.popFirst() {
            guard case .read(let request, let id) = effect else { continue }
            pending += state.update(.answer(try answer(request, fixture.store, span: span), for: id))
        }
    }

    func answer(_ request: StoreRequest, _ store: SQLiteStore, span: Int?) throws -> StoreAnswer {
        guard let span else { return try request.answer(from: store) }
        return try store.read { snapshot in
            switch request {
            case .logMatches(let query, let before, let limit, let counting):
                return .logMatches(
                    try snapshot.log(matching: query, before: before, limit: limit, span: span),
                    count: counting ? try snapshot.logCount(matching: query, before: before, span: span) : nil,
                    newest: try snapshot.history(before: .max, limit: 1).first?.seq ?? 0, for: request)
            case .logCount(let query, let before):
                return .logCount(try snapshot.logCount(matching: query, before: before, span: span), for: request)
            default:
                return try request.answer(from: store)
            }
        }
    }

    /// Every record of the store a filter matches, in the order the screen shows them (time).
    func matches(_ filter: String, _ fixture: Fixture) throws -> [LifecycleRecord] {
        try fixture.store.tail(after: 0, limit: 1_000_000).filter(Filter(filter).matches).sorted { $0.key < $1.key }
    }

    func shown(_ state: AppState) -> [LifecycleRecord] { Array(state.eventRows.rows) }

    func status(_ state: AppState) -> String { Dashboard.render(state).row(size.height - 2) }

    @Test func aFlowOlderThanTheRingShowsEveryRecordWithItsTrueCount() throws {
        var (s, fixture) = try small()
        let flow = try matches("corr:listing-0003", fixture)
        #expect(flow.count > 10)
        #expect(!s.events.records.contains { $0.correlationID == "listing-0003" }, "none of it is in the ring")
        try press(&s, fixture, [.char("/")] + Key.typing("corr:listing-0003"))
        #expect(shown(s).isEmpty, "as typed, the filter applies to the ring")
        try press(&s, fixture, [.enter])
        #expect(shown(s) == flow)
        #expect(status(s).contains("\(flow.count)/\(flow.count)"), "\(status(s))")
        #expect(!status(s).contains("in memory"))
    }

    @Test func cKeepsTheFlowAsTheRingMovesOn() throws {
        var (s, fixture) = try small()
        // A flow whose newer records are in the ring, its older ones already gone from it: the
        // second oldest row's (the oldest would read older records when selected).
        for _ in 0..<98 { _ = s.update(.key(.char("k"))) }
        #expect(s.eventRows.selected == 1)
        let correlation = try #require(s.eventRows.rows[s.eventRows.selected!].correlationID)
        let flow = try matches("corr:" + correlation, fixture)
        #expect(s.events.records.filter { $0.correlationID == correlation }.count < flow.count)
        try press(&s, fixture, [.char("c")])
        #expect(s.filter.source == "corr:" + correlation)
        #expect(shown(s) == flow, "every record of the flow, from the store")
        // Paused on its first record, while the log moves on: the ring takes 200 records of other
        // flows; the flow stays whole, and the selection where it was.
        _ = s.update(.key(.char("g")))
        #expect(s.eventRows.selected == 0)
        var seq = s.events.ring.newest
        for n in 0..<4 {
            let records = (0..<50).map { i -> LifecycleRecord in
                seq += 1
                return LifecycleRecord(seq: seq, time: s.now + .milliseconds(Int64(n * 50 + i)), kind: .published, eventID: "x\(seq)", correlationID: "other-\(seq)")
            }
            _ = s.update(.data(DataSnapshot(time: s.now + .seconds(1), records: records, queues: s.queues, runtimes: s.runtimes, published: 0)))
        }
        #expect(!s.events.records.contains { $0.correlationID == correlation }, "the ring has moved past the flow")
        #expect(shown(s) == flow)
        #expect(s.eventRows.selected == 0, "the selection stays on the flow's first record")
        _ = s.update(.key(.char("G")))
        // A new record of the flow is appended as it is followed, and counted.
        let late = LifecycleRecord(seq: seq + 1, time: s.now + .seconds(2), kind: .succeeded, eventID: "y", correlationID: correlation, queue: "notify")
        _ = s.update(.data(DataSnapshot(time: s.now + .seconds(2), records: [late], queues: s.queues, runtimes: s.runtimes, published: 0)))
        #expect(shown(s) == flow + [late])
        #expect(status(s).contains("\(flow.count + 1)/\(flow.count + 1)"), "\(status(s))")
        // esc clears the filter: the ring again, as it follows.
        _ = s.update(.key(.escape))
        #expect(shown(s).last == late && shown(s).count == 100)
    }

    @Test func aKindFilterCountsTheStoreAndScrollingBackPagesThroughIt() throws {
        var (s, fixture) = try small()
        let all = try matches("listing", fixture)
        #expect(all.count > 300, "more matches than the ring holds: \(all.count)")
        try press(&s, fixture, [.char("/")] + Key.typing("listing") + [.enter])
        #expect(shown(s) == Array(all.suffix(100)), "the newest page, from the store")
        #expect(status(s).contains("\(all.count)/\(all.count)"), "the true count: \(status(s))")
        // Back to the oldest: each time the top is reached, the page before it is read.
        var pages = 0
        while s.events.search!.olderAvailable {
            try press(&s, fixture, [.char("g")])
            pages += 1
            #expect(pages < 50)
            #expect(shown(s).count <= 100, "memory stays bounded")
        }
        #expect(pages >= 2)
        #expect(shown(s) == Array(all.prefix(shown(s).count)), "the oldest matches, in order")
        // The selection stayed on its record as older ones came in above it; g goes to the first.
        try press(&s, fixture, [.char("g")])
        #expect(status(s).contains("1/\(all.count)"), "the selection is the first match of all: \(status(s))")
        #expect(status(s).contains("newer not shown"))
        // New matches keep coming while the view is paused on the oldest: what it shows stays,
        // the new ones are counted and not shown.
        let before = shown(s)
        var seq = s.events.ring.newest
        let burst = (0..<150).map { i -> LifecycleRecord in
            seq += 1
            return LifecycleRecord(seq: seq, time: s.now + .milliseconds(Int64(i)), kind: .published, eventID: "n\(seq)", eventType: "listing.new")
        }
        _ = s.update(.data(DataSnapshot(time: s.now + .seconds(1), records: burst, queues: s.queues, runtimes: s.runtimes, published: 0)))
        #expect(shown(s) == before)
        #expect(status(s).contains("1/\(all.count + 150)"), "\(status(s))")
        // G follows again: the newest matches are read back.
        try press(&s, fixture, [.char("G")])
        #expect(shown(s) == Array(all.suffix(100)), "the store's newest (the burst was never written to it)")
        #expect(s.events.follow)
    }

    @Test func aCountThatNeedsManyReadsSaysAtLeastUntilItIsDone() throws {
        var (s, fixture) = try small()
        let failed = try matches("kind:failed", fixture)
        let dead = try matches("kind:dead", fixture)
        for (filter, expected) in [("kind:dead", dead), ("type:listing kind:fail", failed)] {
            if !s.filter.isEmpty { _ = s.update(.key(.escape)) }
            _ = s.update(.key(.char("/")))
            for key in Key.typing(filter) { _ = s.update(.key(key)) }
            // The first read only: a span of 40 rows finds a part of the matches and counts those rows.
            var effects = s.update(.key(.enter))
            guard case .read(let first, _)? = effects.first else { Issue.record("no read: \(effects)"); return }
            effects = s.update(.answer(try answer(first, fixture.store, span: 40), for: .events))
            #expect(status(s).contains("· counting…") && status(s).contains("≥ "), "\(status(s))")
            // Every next read goes on where the last stopped, until the count reaches the log's start.
            try settle(&s, effects, fixture, span: 40)
            #expect(shown(s) == expected, "\(filter)")
            #expect(status(s).contains("\(expected.count)/\(expected.count)") && !status(s).contains("counting"), "\(status(s))")
        }
    }

    @Test func corrIsOneFlowAndAStarMakesItAPrefix() throws {
        var (s, fixture) = try small()
        try press(&s, fixture, [.char("/")] + Key.typing("corr:listing-0001") + [.enter])
        #expect(!shown(s).isEmpty && shown(s).allSatisfy { $0.correlationID == "listing-0001" }, "not listing-0010's")
        _ = s.update(.key(.escape))
        try press(&s, fixture, [.char("/")] + Key.typing("corr:listing-001*") + [.enter])
        let prefixed = try matches("corr:listing-001*", fixture)
        #expect(Set(prefixed.compactMap(\.correlationID)) == Set((10...19).map { "listing-00\($0)" }))
        #expect(shown(s) == Array(prefixed.suffix(100)), "the newest page of them")
        #expect(status(s).contains("\(prefixed.count)/\(prefixed.count)"), "\(status(s))")
    }

    @Test func aFilterOfAWholeRingNeedsNoStore() throws {
        var (s, fixture) = try Fixture.state(size: size)
        _ = s.update(.key(.char("2")))
        #expect(!s.events.olderAvailable)
        var effects: [Effect] = []
        for key in [.char("/")] + Key.typing("kind:failed") + [.enter] { effects += s.update(.key(key)) }
        #expect(effects.isEmpty, "the ring holds the whole log: its matches are all of them")
        #expect(shown(s) == (try matches("kind:failed", fixture)))
        #expect(s.events.search == nil)
    }

    @Test func recordsArePlacedByTheirTime() throws {
        var s = AppState(size: size, now: Fixture.t0, theme: try Fixture.theme(), themeNames: [], storeLocation: "x", capacity: 100)
        _ = s.update(.key(.char("2")))
        func record(_ seq: Int64, _ ms: Int64, _ kind: LifecycleKind = .published) -> LifecycleRecord {
            LifecycleRecord(seq: seq, time: Fixture.t0 + .milliseconds(ms), kind: kind, eventID: "e\(seq)", correlationID: "f")
        }
        func poll(_ records: [LifecycleRecord], initial: Bool = false) {
            _ = s.update(.data(DataSnapshot(time: s.now, records: records, queues: [], runtimes: [], published: 0, initial: initial)))
        }
        poll([record(1, 10), record(2, 30), record(3, 20, .succeeded)], initial: true)
        #expect(shown(s).map(\.seq) == [1, 3, 2], "a record committed later with an earlier time is placed by its time")
        // Paused on a row, a late record above it does not move the selection off it.
        _ = s.update(.key(.char("k")))
        #expect(s.eventRows.rows[s.eventRows.selected!].seq == 3)
        poll([record(4, 15, .succeeded), record(5, 40)])
        #expect(shown(s).map(\.seq) == [1, 4, 3, 2, 5])
        #expect(s.eventRows.rows[s.eventRows.selected!].seq == 3)
        // A filter's rows are in the same order.
        for key in [.char("/")] + Key.typing("kind:succeeded") + [.enter] { _ = s.update(.key(key)) }
        #expect(shown(s).map(\.seq) == [4, 3])
    }
}
