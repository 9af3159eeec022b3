import Foundation
@testable import PipetopCore
@testable import PipetopUI
import Testing

/// The Trace screen through the update function, against the fixture's store.
@Suite struct TraceScreenTests {
    let size = Size(width: 160, height: 48)

    func press(_ state: inout AppState, _ fixture: Fixture, _ keys: [Key]) throws {
        for key in keys { _ = try settle(&state, state.update(.key(key)), store: fixture.store) }
    }

    @Test func aFlowIsReadFromTheStoreFoldedAndItsHopsOpened() throws {
        var (s, fixture) = try Fixture.state(size: size)
        try press(&s, fixture, [.char("4")])
        #expect(Dashboard.render(s).text.contains("No flow chosen"))
        try press(&s, fixture, [.char("/")] + Key.typing("corr:listing-0030") + [.enter])
        let trace = try #require(s.traceScreen.trace)
        #expect(trace.correlationID == "listing-0030")
        let records = try fixture.store.trace(correlationID: "listing-0030")
        #expect(trace.end == records.map(\.time).max(), "every record of the flow, from the store")
        let all = s.traceScreen.rows.count
        #expect(all == trace.nodes.count + trace.hopCount)
        // Fold the root: only its row is left; unfold: all again, the selection on the root.
        try press(&s, fixture, [.char("h")])
        #expect(s.traceScreen.rows == [.event(0)] && s.traceScreen.folded == [trace.nodes[0].event.id])
        try press(&s, fixture, [.char("l"), .char("j"), .enter])
        #expect(s.traceScreen.rows.count == all && s.traceScreen.detail)
        #expect(Dashboard.render(s).text.contains("attempt 1"))
        try press(&s, fixture, [.escape])
        #expect(!s.traceScreen.detail && s.view == .trace, "esc leaves the detail first")
    }

    @Test func tOnAnEventsRecordOpensItsTrace() throws {
        var (s, fixture) = try Fixture.state(size: size)
        try press(&s, fixture, [.char("2"), .char("k"), .char("t")])
        #expect(s.view == .trace)
        let id = try #require(s.traceScreen.correlationID)
        #expect(s.traceScreen.trace?.correlationID == id && s.traceScreen.trace?.nodes.isEmpty == false)
    }

    @Test func anUnknownFlowSaysSo() throws {
        var (s, fixture) = try Fixture.state(size: size)
        try press(&s, fixture, [.char(":")] + Key.typing("trace nothing-like-it") + [.enter])
        #expect(s.view == .trace)
        #expect(Dashboard.render(s).text.contains("no events with correlation id nothing-like-it in the store"))
    }

    @Test func whileShownTheFlowIsReadAgainAtMostOnceASecond() throws {
        var (s, fixture) = try Fixture.state(size: size)
        try press(&s, fixture, [.char(":")] + Key.typing("trace listing-0030") + [.enter])
        #expect(s.update(.key(.char("j"))).isEmpty, "read just now")
        let later = s.update(.tick(s.now + .seconds(2)))
        #expect(later == [.read(.trace(correlationID: "listing-0030"), for: .trace)])
    }
}
