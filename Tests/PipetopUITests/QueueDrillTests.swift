import Foundation
@testable import PipetopCore
@testable import PipetopUI
import Testing

/// The Overview's drill-down (`enter` on a queue) and its table, through the update function,
/// against the fixture's store.
@Suite struct QueueDrillTests {
    func press(_ state: inout AppState, _ fixture: Fixture, _ keys: [Key]) throws {
        for key in keys { _ = try settle(&state, state.update(.key(key)), store: fixture.store) }
    }

    @Test func enterOpensAQueuesMessagesByStateThenAMessagesFlow() throws {
        var (s, fixture) = try Fixture.state(size: Size(width: 100, height: 30))
        try press(&s, fixture, [.enter])
        let drill = try #require(s.overview.drill)
        #expect(drill.queue == "enrich")
        #expect(drill.state == .scheduled, "opens on the first state holding messages")
        let stats = try #require(s.queues.first { $0.name == "enrich" })
        #expect(drill.messages.count == stats.scheduled)
        #expect(drill.messages.allSatisfy { $0.readyAt > Fixture.t0 && $0.errors.last?.error.hasPrefix("timeout") == true })
        // enter on a message: its trace (the flow from the store).
        let correlation = try #require(drill.selected?.event.correlationID)
        try press(&s, fixture, [.enter])
        #expect(s.view == .trace)
        #expect(s.filter.source == correlation)
        try press(&s, fixture, [.escape, .escape])
        #expect(s.view == .overview && s.overview.drill != nil)
        try press(&s, fixture, [.escape])
        #expect(s.overview.drill == nil, "esc goes back to the queues")
    }

    /// Each state lists what the store holds in it, as many as its true count says.
    @Test func everyStateListsTheStoresMessagesInDeliveryOrder() throws {
        var (s, fixture) = try Fixture.state(size: Size(width: 100, height: 30))
        for queue in s.queues {
            try press(&s, fixture, [.char(":")] + Key.typing("queue \(queue.name)") + [.enter, .enter])
            for _ in QueueMessageState.allCases {
                let drill = try #require(s.overview.drill)
                #expect(drill.loaded == drill.state)
                #expect(drill.messages.count == drill.state.count(in: queue), "\(queue.name) \(drill.state)")
                #expect(drill.messages.allSatisfy { $0.state == drill.state.state && $0.queue == queue.name })
                let order = drill.messages.map { ($0.readyAt.micros, $0.id) }
                #expect(zip(order, order.dropFirst()).allSatisfy { $0 < $1 })
                try press(&s, fixture, [.right])
            }
            try press(&s, fixture, [.escape])
        }
    }

    /// 250 ready messages: pages of 100 are read as the selection nears the end, none twice.
    @Test func theListReadsOnPageByPage() throws {
        var (s, fixture) = try Fixture.state(size: Size(width: 100, height: 30))
        let events = (0..<250).map { fixture.event("bulk\($0)", type: "bulk", at: Fixture.t0, correlation: "bulk-\($0)") }
        try fixture.tick(Fixture.t0 + .milliseconds(500)) { $0.publishes = events.map { RoutedEvent(event: $0, targets: [Target(queue: "bulk", held: false)]) } }
        _ = s.update(.data(try StoreReader.snapshot(store: fixture.store, after: nil, limit: 100, now: Fixture.t0 + .seconds(1))))
        try press(&s, fixture, [.char(":")] + Key.typing("queue bulk") + [.enter, .enter])
        #expect(s.overview.drill?.state == .ready)
        #expect(s.overview.drill?.messages.count == 100)
        for _ in 0..<3 { try press(&s, fixture, [.char("G")]) }
        let drill = try #require(s.overview.drill)
        #expect(drill.messages.count == 250)
        #expect(Set(drill.messages.map(\.id)).count == 250)
        #expect(drill.next == nil)
        #expect(drill.index == 249)
    }

    /// At 80 columns the columns that say who is behind stay; those that give way are named, and
    /// every row with a value in one is marked.
    @Test func columnsThatGiveWayAreMarked() throws {
        let (s, _) = try Fixture.state(size: Size(width: 80, height: 24))
        let grid = Dashboard.render(s)
        let header = grid.row(2)
        for kept in ["QUEUE", "STATUS", "READY", "INFL", "SCHED", "HELD", "LAG", "LAG s", "DRAIN", "DEAD", "POISON"] { #expect(header.contains(kept), "\(kept)") }
        #expect(header.trimmingCharacters(in: .whitespaces).hasSuffix(Table.cutMark))
        for row in 3..<8 { #expect(grid.row(row).trimmingCharacters(in: .whitespaces).hasSuffix(Table.cutMark), "row \(row) has its mode cut") }
        #expect(grid.row(22).contains("hidden: MODE p50 p95 p99 THRU/s RETRY/m FAIL/m"))
        // The rows add up: READY + INFL + SCHED + HELD = LAG.
        for row in 3..<8 {
            let numbers = grid.row(row).split(separator: " ").dropFirst(2).prefix(5).map { Int($0.filter(\.isNumber)) ?? -1 }
            #expect(numbers[0] + numbers[1] + numbers[2] + numbers[3] == numbers[4], "\(grid.row(row))")
        }
    }

    @Test func thePeakIsNeverBelowNow() throws {
        var (s, _) = try Fixture.state(size: Size(width: 100, height: 30))
        s.shared.trends["enrich"]!.perSecond = 99
        #expect(Dashboard.render(s).text.contains("now 99 · peak 99"))
    }

    /// The status column and the detail read the store's figures: a stopped runtime stops every queue.
    @Test func aStoppedRuntimeShowsEveryQueueStopped() throws {
        var (s, fixture) = try Fixture.state(size: Size(width: 160, height: 48))
        try fixture.store.markStopped(runtime: try #require(try fixture.store.runtimes().first { $0.name == "demo" }), at: Fixture.t0 + .seconds(1))
        _ = s.update(.data(try StoreReader.snapshot(store: fixture.store, after: nil, limit: 100, now: Fixture.t0 + .seconds(2))))
        #expect(s.overview.health.values.allSatisfy { $0.status == .stopped })
        #expect(Dashboard.render(s).text.contains("STOPPED · its runtime demo stopped"))
    }
}
