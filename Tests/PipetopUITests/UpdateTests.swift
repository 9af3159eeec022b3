import Foundation
@testable import PipetopCore
@testable import PipetopUI
import Testing

/// Key sequences through the update function: state + message → state, effects out.
@Suite struct UpdateTests {
    @Test func theHeaderSaysWhenTheStoreRefusesTheRuntimesWrites() throws {
        var (state, _) = try Fixture.state(size: Size(width: 160, height: 48))
        let index = try #require(state.runtimes.firstIndex { $0.name == "demo" })
        state.runtimes[index].storeUnwritable = StoreWriteFailure(since: Fixture.t0 - .seconds(30), error: "disk I/O error: disk full\u{1b}[2J", attempts: 12)
        let header = Dashboard.render(state).row(0)
        #expect(header.contains("STORE NOT WRITABLE since 07:59:30.000: disk I/O error: disk full\\e[2J"), "\(header)")
        state.runtimes[index].storeUnwritable?.gaveUp = true
        #expect(Dashboard.render(state).row(0).contains("STORE NOT WRITABLE, GAVE UP: since"))
    }

    func state() throws -> AppState { try Fixture.state(size: Size(width: 100, height: 30)).0 }

    func press(_ state: inout AppState, _ keys: [Key]) -> [Effect] {
        keys.flatMap { state.update(.key($0)) }
    }

    @Test func viewsSwitchByNumberTabAndCommandAndEscGoesBack() throws {
        var s = try state()
        #expect(s.view == .overview)
        _ = press(&s, [.char("2")])
        #expect(s.view == .events)
        _ = press(&s, [.tab])
        #expect(s.view == .deadLetters)
        _ = press(&s, [.tab])
        #expect(s.view == .trace)
        _ = press(&s, [.tab])
        #expect(s.view == .cpu)
        _ = press(&s, [.tab])
        #expect(s.view == .overview)
        _ = press(&s, [.backTab])
        #expect(s.view == .cpu, "shift-tab wraps around")
        _ = press(&s, [.char("6")])
        #expect(s.view == .cpu && s.shared.notice?.text == "no view 6: the views are 1–5")
        _ = press(&s, [.char("1")])
        _ = press(&s, [.char(":")] + Key.typing("events") + [.enter])
        #expect(s.view == .events)
        _ = press(&s, [.escape])
        #expect(s.view == .overview)
    }

    @Test func quitByQByCtrlCAndByCommand() throws {
        var s = try state()
        #expect(press(&s, [.char("q")]) == [.quit])
        s = try state()
        _ = press(&s, [.char(":")])
        #expect(press(&s, [.ctrl("c")]) == [.quit], "Ctrl-C quits even from the prompt")
        s = try state()
        #expect(press(&s, [.char(":")] + Key.typing("q") + [.enter]) == [.quit])
    }

    @Test func qInsideThePromptIsText() throws {
        var s = try state()
        #expect(press(&s, [.char(":")] + Key.typing("qu")).isEmpty)
        #expect(s.mode == .prompt(LineEditor("qu")))
    }

    @Test func followPausesOnScrollAndResumesWithG() throws {
        var s = try state()
        _ = press(&s, [.char("2")])
        #expect(s.events.follow)
        let last = s.events.records.last!.seq
        _ = press(&s, [.char("k"), .char("k")])
        #expect(!s.events.follow)
        let (rows, selected) = s.eventRows
        #expect(rows[selected!].seq < last)
        // New records arrive while paused: the selection stays where the user put it.
        let before = rows[selected!].seq
        _ = s.update(.data(DataSnapshot(time: s.now + .seconds(1), records: [LifecycleRecord(seq: last + 1, time: s.now, kind: .published, eventID: "x")],
                                        queues: s.queues, runtimes: s.runtimes, published: 0)))
        #expect(s.eventRows.rows[s.eventRows.selected!].seq == before)
        _ = press(&s, [.char("G")])
        #expect(s.events.follow)
        #expect(s.eventRows.rows[s.eventRows.selected!].seq == last + 1)
    }

    @Test func scrollingPastTheRingAsksTheStoreForOlderRecords() throws {
        var s = try state()
        // A small ring: the fixture's log does not fit, so older records live only in the store.
        var small = AppState(size: s.size, now: s.now, theme: s.theme, themeNames: [], storeLocation: "x", capacity: 100)
        let fixture = try Fixture()
        try fixture.run(into: &small)
        s = small
        #expect(s.events.records.count == 100)
        #expect(s.events.olderAvailable)
        _ = press(&s, [.char("2")])
        let effects = press(&s, [.char("g")])
        // The ring holds every record from `from` on (shown by time: the first row may be a later seq).
        let first = s.events.ring.from
        #expect(effects == [.read(.history(before: first, limit: 500), for: .events)])
        #expect(press(&s, [.char("k")]).isEmpty, "one request at a time")
        let older = try fixture.store.history(before: first, limit: 500)
        _ = s.update(.answer(.history(older, requested: 500), for: .events))
        #expect(s.events.records.count == 100, "memory stays bounded")
        #expect(s.events.ring.from < first)
        #expect(s.events.records.map(\.key) == s.events.records.map(\.key).sorted(), "in time order")
        #expect(s.events.detached)
        // Newer records are not appended while scrolled back; G reloads the newest.
        #expect(press(&s, [.char("G")]) == [.read(.latest(limit: 100), for: .events)])
        _ = s.update(.answer(.latest(try fixture.store.history(before: .max, limit: 100).reversed()), for: .events))
        #expect(!s.events.detached && s.events.follow)
        #expect(s.events.records.last!.seq == (try fixture.store.tail(after: 0, limit: 100_000)).last!.seq)
    }

    @Test func filterTermsNarrowTheEvents() throws {
        var s = try state()
        _ = press(&s, [.char("2"), .char("/")] + Key.typing("kind:failed queue:enrich") + [.enter])
        let rows = s.eventRows.rows
        #expect(!rows.isEmpty)
        #expect(rows.allSatisfy { $0.kind == .failed && $0.queue == "enrich" })
        _ = press(&s, [.escape])
        #expect(s.filter.isEmpty)
        // corr: from the selected record with `c`.
        _ = press(&s, [.char("k"), .char("c")])
        let corr = s.filter.source
        #expect(corr.hasPrefix("corr:listing-"))
        #expect(s.eventRows.rows.allSatisfy { "corr:" + ($0.correlationID ?? "") == corr })
        // Plain text matches the error text.
        _ = press(&s, [.escape, .char("/")] + Key.typing("pricing") + [.enter])
        #expect(!s.eventRows.rows.isEmpty)
        #expect(s.eventRows.rows.allSatisfy { ($0.error ?? "").contains("pricing") })
    }

    @Test func theFilterAppliesAsTypedAndEscPutsTheOldOneBack() throws {
        var s = try state()
        _ = press(&s, [.char("2"), .char("/")] + Key.typing("kind:failed") + [.enter])
        _ = press(&s, [.char("/"), .ctrl("u")] + Key.typing("queue:parse"))
        #expect(s.filter.source == "queue:parse", "filters as you type")
        _ = press(&s, [.escape])
        #expect(s.mode == .normal)
        #expect(s.filter.source == "kind:failed")
    }


    @Test func promptCompletesCommandsThemesAndQueuesAndKeepsHistory() throws {
        var s = try state()
        _ = press(&s, [.char(":")] + Key.typing("th") + [.tab])
        #expect(s.mode == .prompt(LineEditor("theme ")))
        _ = press(&s, Key.typing("dr") + [.tab])
        #expect(s.mode == .prompt(LineEditor("theme dracula")))
        #expect(press(&s, [.enter]) == [.loadTheme("dracula", save: true)])
        _ = press(&s, [.char(":")] + Key.typing("queue en") + [.tab])
        #expect(s.mode == .prompt(LineEditor("queue enrich")))
        _ = press(&s, [.enter])
        #expect(s.overview.selectedQueue == "enrich")
        _ = press(&s, [.char(":"), .up])
        #expect(s.mode == .prompt(LineEditor("queue enrich")))
        _ = press(&s, [.up])
        #expect(s.mode == .prompt(LineEditor("theme dracula")))
        _ = press(&s, [.down, .down])
        #expect(s.mode == .prompt(LineEditor("")))
        _ = press(&s, [.escape])
        #expect(s.mode == .normal)
    }

    @Test func unknownCommandsAndQueuesAreReported() throws {
        var s = try state()
        _ = press(&s, [.char(":")] + Key.typing("frobnicate") + [.enter])
        #expect(s.notice?.isError == true)
        #expect(s.notice?.text.contains("unknown command") == true)
        _ = press(&s, [.char(":")] + Key.typing("queue nope") + [.enter])
        #expect(s.notice?.text.contains("no queue 'nope'") == true)
    }

    @Test func themeMessagesSwitchTheThemeOrReport() throws {
        var s = try state()
        _ = s.update(.themeLoaded(try Fixture.theme("nord"), savedTo: "/x/config.yaml"))
        #expect(s.theme.name == "nord")
        #expect(Dashboard.render(s)[0, 0].style == s.theme[.headerTitle])
        _ = s.update(.themeFailed("theme nope: no such theme"))
        #expect(s.theme.name == "nord")
        #expect(s.notice == Notice(text: "theme nope: no such theme", isError: true))
    }

    @Test func helpOpensAndClosesAndSwallowsKeys() throws {
        var s = try state()
        _ = press(&s, [.char("?")])
        #expect(s.mode == .help)
        #expect(press(&s, [.char("2")]).isEmpty)
        #expect(s.view == .overview)
        _ = press(&s, [.escape])
        #expect(s.mode == .normal)
    }

    @Test func tooSmallScreenOnlyQuits() throws {
        var s = try state()
        _ = s.update(.resize(Size(width: 60, height: 20)))
        #expect(Dashboard.render(s).text.contains("terminal too small"))
        _ = press(&s, [.char("2")])
        #expect(s.view == .overview)
        _ = s.update(.resize(Size(width: 80, height: 24)))
        #expect(!Dashboard.render(s).text.contains("terminal too small"))
        #expect(press(&s, [.char("q")]) == [.quit])
    }

    @Test func headerShowsAStaleHeartbeatInTheWarningStyle() throws {
        var s = try state()
        #expect(!Dashboard.render(s).row(0).contains("STALE"))
        _ = s.update(.tick(s.runtime!.heartbeatAt + .seconds(5)))
        let grid = Dashboard.render(s)
        let row = grid.row(0)
        #expect(row.contains("♥ STALE 5.0s"))
        let x = DisplayWidth.of(String(row[..<row.range(of: "STALE")!.lowerBound]))
        #expect(grid[x, 0].style.fg == s.theme[.warning].fg)
    }

    @Test func ratesComeFromDifferencesOfSuccessiveReads() throws {
        let s = try state()
        let parse = try #require(s.trends["parse"])
        #expect(parse.throughput.count >= 8, "one point per second of the run")
        #expect((parse.perSecond ?? 0) > 0)
        #expect(s.eventsInPerSecond != nil && s.eventsOutPerSecond != nil)
        #expect((s.trends["enrich"]?.retriesPerMinute ?? 0) > 0)
    }
}
