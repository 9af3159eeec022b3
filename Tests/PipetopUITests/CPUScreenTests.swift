import Foundation
@testable import PipetopCore
@testable import PipetopUI
import Testing

/// The CPU screen through the update function, against the fixture's store (five minutes of
/// samples, ten seconds of traffic).
@Suite struct CPUScreenTests {
    let size = Size(width: 160, height: 48)

    func press(_ state: inout AppState, _ fixture: Fixture, _ keys: [Key]) throws {
        for key in keys { _ = try settle(&state, state.update(.key(key)), store: fixture.store) }
    }

    @Test func theShapesAreTheStoresSamples() throws {
        var (s, fixture) = try Fixture.state(size: size)
        try press(&s, fixture, [.char("5")])
        let now = s.shared.now
        let stored = CPUShape.of(try fixture.store.cpuSamples(since: now - .seconds(300)))
        #expect(s.cpuScreen.shapes == stored)
        #expect(s.cpuScreen.shapes.map(\.scope) == ["enrich", "index", "index-batch", "notify", "parse", "process"])
        // The latency beside the shape is the store's too (the flow's first publish → succeeded).
        let seconds = try fixture.store.queueSeconds(since: now - .seconds(300))
        #expect(s.cpuScreen.latency == CPUShapeReport.latency(seconds))
        #expect(s.cpuScreen.latency["index-batch"] != nil && s.cpuScreen.latency["parse"] != nil)
    }

    @Test func theWindowChangesWithPlusAndMinusWithinItsSteps() throws {
        var (s, fixture) = try Fixture.state(size: size)
        try press(&s, fixture, [.char("5")])
        #expect(s.cpuScreen.window == .seconds(300))
        try press(&s, fixture, [.char("-"), .char("-")])
        #expect(s.cpuScreen.window == .seconds(60))
        // The minute before t0 + 0.7 s: samples end at .4 of each second, so 59 of them.
        #expect(s.cpuScreen.shapes.first { $0.scope == "parse" }?.intervals == 59)
        try press(&s, fixture, [.char("+"), .char("+"), .char("+"), .char("+")])
        #expect(s.cpuScreen.window == .seconds(3600))
        // Wider than what is held: read from the store again (the fixture has five minutes).
        #expect(s.cpuScreen.shapes.first { $0.scope == "parse" }?.intervals == 300)
        #expect(Dashboard.render(s).text.contains("CPU over the last 1h"))
    }

    @Test func refreshesReadOnlyTheNewestAgainAndCountEachSampleOnce() throws {
        var (s, fixture) = try Fixture.state(size: size)
        try press(&s, fixture, [.char("5")])
        let before = s.cpuScreen.shapes
        // Two seconds later: the refresh reads from the newest held minus the overlap, and the
        // overlap's samples are not counted twice.
        let later = s.shared.now + .seconds(2)
        let effects = s.update(.tick(later))
        let reads = effects.compactMap { effect -> StoreRequest? in if case .read(let r, .cpu) = effect { r } else { nil } }
        guard case .cpuSamples(let since, _)? = reads.first else { Issue.record("no refresh asked: \(effects)"); return }
        #expect(since > later - .seconds(60), "only the newest are read again")
        _ = try settle(&s, effects, store: fixture.store)
        #expect(s.cpuScreen.samples["parse"]?.count == 299, "as first read: the refresh added none twice")
        #expect(s.cpuScreen.shapes == CPUShape.of(try fixture.store.cpuSamples(since: later - .seconds(300))))
        #expect(s.cpuScreen.shapes != before, "the window moved on two seconds")
    }

    @Test func theCursorShowsASecondsRunsAndEnterOpensOnesTrace() throws {
        var (s, fixture) = try Fixture.state(size: size)
        try press(&s, fixture, [.char("5"), .enter])
        #expect(s.view == .cpu && s.shared.notice?.text.contains("h/l") == true, "enter without a cursor says what to do")
        try press(&s, fixture, [.char("-"), .char("j"), .char("j")] + Array(repeating: .char("h"), count: 4))
        let screen = s.cpuScreen
        let second = try #require(screen.cursorInterval(s.shared))
        // The runs shown are the store's: index-batch's outcomes that ended in that second.
        let stored = try fixture.store.outcomes(from: second.from, to: second.to, limit: 10_000).filter { $0.queue == "index-batch" }
        #expect(!stored.isEmpty)
        #expect(Set(screen.cursorRuns.map(\.seq)) == Set(stored.map(\.seq)))
        #expect(stored.allSatisfy { $0.time >= second.from && $0.time < second.to })
        // The queues in that second: the samples of every scope taken at its end.
        #expect(screen.cursorScopes(s.shared).map(\.scope).contains("enrich"))
        try press(&s, fixture, [.char("]")])
        #expect(s.cpuScreen.cursorRun == 1)
        let run = s.cpuScreen.cursorRuns[1]
        try press(&s, fixture, [.enter])
        #expect(s.view == .trace)
        #expect(s.traceScreen.correlationID == run.correlationID)
        #expect(s.traceScreen.trace?.nodes.contains { $0.event.id == run.eventID } == true)
    }

    @Test func escTakesTheCursorOffFirst() throws {
        var (s, fixture) = try Fixture.state(size: size)
        try press(&s, fixture, [.char("5"), .char("h")])
        #expect(s.cpuScreen.cursor != nil)
        try press(&s, fixture, [.escape])
        #expect(s.cpuScreen.cursor == nil && s.view == .cpu)
        try press(&s, fixture, [.char("l"), .char("l")])
        #expect(s.cpuScreen.cursor == s.cpuScreen.timeline(s.shared).end, "l stops at the newest column")
    }

    @Test func theFilterKeepsMatchingQueuesAndTheProcess() throws {
        var (s, fixture) = try Fixture.state(size: size)
        try press(&s, fixture, [.char("5"), .char("/")] + Key.typing("index") + [.enter])
        #expect(s.cpuScreen.visibleShapes.map(\.scope) == ["index", "index-batch", "process"])
    }

    @Test func aTimelineColumnHoldsTheBusiestIntervalOfItsSeconds() {
        let end = Timestamp(micros: 1_800_000_000_400_000)
        let axis = CPUTimeline(window: .seconds(60), end: end, cells: 10)  // 20 columns of 3 s
        #expect(axis.columns == 20 && axis.span == .seconds(3) && axis.dotsPerColumn == 1)
        #expect(axis.end.micros % 3_000_000 == 0 && axis.end > end)
        var samples: [CPUSample] = []
        for i in 0..<6 {
            let back: Duration = .seconds(Int64(5 - i)) + .milliseconds(500)
            let cpu: Duration = .milliseconds(Int64(100 * (i + 1)))
            samples.append(CPUSample(time: axis.end - back, scope: "q", interval: .seconds(1), cpu: cpu, busy: .zero, runs: 1, capacity: 1))
        }
        let values = axis.values(samples)
        #expect(values.count == 20)
        #expect(values[19] == 0.6 && values[18] == 0.3 && values[17] == nil)
        // A minute across 200 cells: one column a second, drawn 6 dots wide.
        let wide = CPUTimeline(window: .seconds(60), end: end, cells: 200)
        #expect(wide.columns == 60 && wide.dotsPerColumn == 6)
    }
}
