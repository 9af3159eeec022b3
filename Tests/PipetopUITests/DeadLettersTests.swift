import Foundation
@testable import PipetopCore
@testable import PipetopUI
import Testing

/// The store's answers to what the update function asked, fed back in as the store reader does
/// (the same `StoreRequest.answer` and `StoreMutation.apply`), until nothing more is asked.
func settle(_ state: inout AppState, _ effects: [Effect], store: SQLiteStore, writer: Bool = true) throws -> [Effect] {
    var pending = effects[...]
    var rest: [Effect] = []
    while let effect = pending.popFirst() {
        switch effect {
        case .read(let request, let id): pending += state.update(.answer(try request.answer(from: store), for: id))
        case .mutate(let mutation, let id): pending += state.update(.answer(mutation.apply(to: writer ? store : nil, at: Fixture.t0 + .seconds(1)), for: id))
        default: rest.append(effect)
        }
    }
    return rest
}

/// Keys of the Dead letters screen through the update function, against the fixture's store.
@Suite struct DeadLettersTests {
    let size = Size(width: 120, height: 30)

    func press(_ state: inout AppState, _ fixture: Fixture, _ keys: [Key]) throws -> [Effect] {
        var rest: [Effect] = []
        for key in keys { rest += try settle(&state, state.update(.key(key)), store: fixture.store) }
        return rest
    }

    @Test func enterOpensGroupThenDetailEscGoesBackAndLTogglesTheFlatList() throws {
        var (s, fixture) = try Fixture.state(size: size)
        _ = try press(&s, fixture, [.char("3")])
        #expect(s.view == .deadLetters)
        let groups = try #require(s.deadLetters.groups)
        #expect(groups == (try fixture.store.deadLetterGroups(.all)))
        #expect(groups.count >= 2, "the fixture has malformed listings and an unavailable index shard")
        _ = try press(&s, fixture, [.enter])
        #expect(s.deadLetters.level == .list)
        #expect(s.deadLetters.total == groups[0].count)
        #expect(s.deadLetters.letters.allSatisfy { $0.fingerprint == groups[0].fingerprint && $0.queue == groups[0].queue })
        _ = try press(&s, fixture, [.enter])
        #expect(s.deadLetters.level == .detail)
        _ = try press(&s, fixture, [.escape])
        #expect(s.deadLetters.level == .list)
        _ = try press(&s, fixture, [.escape])
        #expect(s.deadLetters.level == .groups)
        #expect(s.view == .deadLetters, "esc goes back inside the screen before leaving it")
        _ = try press(&s, fixture, [.char("L")])
        #expect(s.deadLetters.level == .list && s.deadLetters.group == nil)
        #expect(s.deadLetters.total == (try fixture.store.deadLetterCount(.all)))
        #expect(s.deadLetters.letters.map(\.messageID) == (try fixture.store.deadLetters(.all, page: PageRequest(limit: 100)).items.map(\.messageID)))
        _ = try press(&s, fixture, [.escape])
        #expect(s.view == .overview, "the flat list has no level above it: esc leaves the screen")
        _ = try press(&s, fixture, [.char("3"), .char("L")])
        #expect(s.deadLetters.level == .groups)
    }

    @Test func filterRunsInTheStore() throws {
        var (s, fixture) = try Fixture.state(size: size)
        _ = try press(&s, fixture, [.char("3"), .char("/")] + Key.typing("queue:index") + [.enter])
        #expect(s.deadLetters.groups?.allSatisfy { $0.queue == "index" } == true)
        #expect(s.deadLetters.groups == (try fixture.store.deadLetterGroups(DeadLetterSelection(queue: "index"))))
        _ = try press(&s, fixture, [.char("/")] + Key.typing(" bogus") + [.enter])
        let effects = s.update(.key(.char("j")))
        #expect(effects.isEmpty, "an unknown term reads nothing")
        #expect(Dashboard.render(s).text.contains("not a dead-letter filter term: bogus"))
    }

    @Test func filterTermsParseIntoASelection() {
        let f = DeadLetterFilter("queue:parse type:listing.uploaded again fp:malformed listing L<n>: price")
        #expect(f.selection == DeadLetterSelection(queue: "parse", type: "listing.uploaded", fingerprint: "malformed listing L<n>: price", failedAgain: true))
        #expect(f.error == nil)
        #expect(DeadLetterFilter("never").selection.failedAgain == false)
        #expect(DeadLetterFilter("queue:a what").unknown == ["what"])
    }

    @Test func textAndTimeTermsParseIntoASelection() throws {
        let now = Fixture.t0
        let f = DeadLetterFilter(#"error:"shard 3" PAYLOAD:L12 since:10m until:2027-01-15T08:00:00Z q:index"#, now: now)
        #expect(f.error == nil)
        #expect(f.selection == DeadLetterSelection(
            queue: "index", deadSince: now - .seconds(600), deadUntil: Timestamp(rfc3339: "2027-01-15T08:00:00Z"), errorText: "shard 3", payloadText: "L12"))
        // Inside quotes \" is a quote and \\ a backslash; everything else is the text, FTS syntax included.
        #expect(DeadLetterFilter(#"payload:"say \"hi\" \\ AND *""#).selection.payloadText == #"say "hi" \ AND *"#)
        #expect(DeadLetterFilter(#"error:NEAR("#).selection.errorText == "NEAR(")
        #expect(DeadLetterFilter(#"error:"" again"#).error?.contains("error text takes at least 3 characters") == true)
        // fp: still takes the rest of the line, after the other terms.
        #expect(DeadLetterFilter(#"error:"a b c" fp:timeout after <n>s"#).selection == DeadLetterSelection(fingerprint: "timeout after <n>s", errorText: "a b c"))
        // What cannot be read is refused in words (nothing is read).
        #expect(DeadLetterFilter("error:ab").error?.contains("error text takes at least 3 characters (the text index holds runs of three); 'ab' has 2") == true)
        #expect(DeadLetterFilter(#"error:"unclosed text"#).error?.contains(#"error:"… has no closing quote"#) == true)
        #expect(DeadLetterFilter(#"payload:"abc"def"#).error?.contains("a quoted value ends its term") == true)
        #expect(DeadLetterFilter("since:yesterday", now: now).error?.contains("since: takes an RFC 3339 time (2026-12-01T10:00:00Z) or a duration ago (10m, 2h), not 'yesterday'") == true)
        #expect(DeadLetterFilter("until:soon").selection.deadUntil == nil)
        let hostile = try #require(DeadLetterFilter("error:\u{1B}[2J payload:\u{9B}x").error)
        #expect(!hostile.contains("\u{1B}") && !hostile.contains("\u{9B}"), "the user's text is escaped: \(hostile)")
        #expect(DeadLettersScreen.filterTerms.contains("error:TEXT") && DeadLettersScreen.filterTerms.contains("since:"))
    }

    @Test func textAndTimeFiltersRunInTheStore() throws {
        var (s, fixture) = try Fixture.state(size: size)
        _ = try press(&s, fixture, [.char("3"), .char("/")] + Key.typing(#"error:"SHARD 3 unavailable (attempt 2""#) + [.enter])
        // An earlier attempt's error (the letters died with "index shard 3 unavailable").
        let byError = DeadLetterSelection(errorText: "SHARD 3 unavailable (attempt 2")
        let groups = try #require(s.deadLetters.groups)
        #expect(!groups.isEmpty && groups.allSatisfy { $0.queue == "index" })
        #expect(groups == (try fixture.store.deadLetterGroups(byError)))
        _ = try press(&s, fixture, [.enter])
        #expect(s.deadLetters.total == groups[0].count)
        // The flat list by payload text: the enriched events are the index queue's.
        _ = try press(&s, fixture, [.escape, .char("L"), .char("/")] + Array(repeating: Key.backspace, count: 40) + Key.typing("payload:ENRICHED") + [.enter])
        let byPayload = DeadLetterSelection(payloadText: "ENRICHED")
        #expect(s.deadLetters.lettersSelection == byPayload)
        #expect(s.deadLetters.total == (try fixture.store.deadLetterCount(byPayload)))
        #expect(s.deadLetters.letters.map(\.messageID) == (try fixture.store.deadLetters(byPayload, page: PageRequest(limit: 100)).items.map(\.messageID)))
        #expect(s.deadLetters.letters.allSatisfy { $0.queue == "index" } && !s.deadLetters.letters.isEmpty)
        // A duration counts back from the dashboard's clock when the filter was typed, and stays put.
        _ = try press(&s, fixture, [.char("/")] + Array(repeating: Key.backspace, count: 40) + Key.typing("since:4s") + [.enter])
        let typedAt = s.shared.now
        #expect(s.deadLetters.lettersSelection == DeadLetterSelection(deadSince: typedAt - .seconds(4)))
        #expect(s.deadLetters.total == (try fixture.store.deadLetterCount(DeadLetterSelection(deadSince: typedAt - .seconds(4)))))
        let later = s.update(.tick(typedAt + .seconds(30)))
        #expect(later.isEmpty, "the clock moving does not change the selection: nothing read again")
        // Too short a text: refused on screen, nothing read.
        _ = try press(&s, fixture, [.char("/")] + Array(repeating: Key.backspace, count: 40) + Key.typing("error:ab") + [.enter])
        #expect(s.update(.key(.char("j"))).isEmpty)
        #expect(Dashboard.render(s).text.contains("error text takes at least 3 characters"))
    }

    @Test func markedReplayAsksForTheCountTypedAndReplaysExactlyThose() throws {
        var (s, fixture) = try Fixture.state(size: size)
        _ = try press(&s, fixture, [.char("3"), .char("L")])
        let all = s.deadLetters.letters
        #expect(all.count >= 3)
        _ = try press(&s, fixture, [.char(" "), .char(" ")])
        #expect(s.deadLetters.marked == Set(all.prefix(2).map(\.messageID)))
        _ = try press(&s, fixture, [.char("r")])
        let confirmation = try #require(s.deadLetters.confirmation)
        #expect(confirmation.preview.count == 2 && confirmation.asksCount)
        #expect(Dashboard.render(s).text.contains("a new delivery with a fresh attempt budget; event id, correlation and causation kept"))
        // Digits are typed into the confirmation, not switching views; a wrong count is refused.
        _ = try press(&s, fixture, Key.typing("3") + [.enter])
        #expect(s.view == .deadLetters)
        #expect(s.deadLetters.confirmation?.typed == "")
        #expect(try fixture.store.deadLetterCount(.all) == all.count)
        _ = try press(&s, fixture, Key.typing("2") + [.enter])
        #expect(s.deadLetters.confirmation == nil)
        #expect(s.notice?.text.hasPrefix("replayed 2 dead letters: new deliveries with fresh attempt budgets") == true)
        #expect(try fixture.store.deadLetterCount(.all) == all.count - 2)
        #expect(s.deadLetters.marked.isEmpty)
        #expect(s.deadLetters.total == all.count - 2, "read again after the replay")
        #expect(!s.deadLetters.letters.contains { all.prefix(2).map(\.messageID).contains($0.messageID) })
    }

    @Test func singleReplayAsksYesOrNoAndEscCancels() throws {
        var (s, fixture) = try Fixture.state(size: size)
        _ = try press(&s, fixture, [.char("3"), .char("L"), .char("r")])
        #expect(s.deadLetters.confirmation?.asksCount == false)
        let before = try fixture.store.deadLetterCount(.all)
        _ = try press(&s, fixture, [.char("n")])
        #expect(s.deadLetters.confirmation == nil)
        #expect(try fixture.store.deadLetterCount(.all) == before)
        _ = try press(&s, fixture, [.char("d"), .escape])
        #expect(try fixture.store.deadLetterCount(.all) == before)
        #expect(s.notice?.text == "cancelled: nothing was changed")
        _ = try press(&s, fixture, [.char("d"), .char("y")])
        #expect(try fixture.store.deadLetterCount(.all) == before - 1)
        #expect(s.notice?.text == "deleted 1 dead letter")
    }

    @Test func replayAllOfAGroupTakesTheWholeGroupOnly() throws {
        var (s, fixture) = try Fixture.state(size: size)
        _ = try press(&s, fixture, [.char("3")])
        let group = try #require(s.deadLetters.groups?.first)
        _ = try press(&s, fixture, [.char("R")])
        #expect(s.deadLetters.confirmation?.preview.count == group.count)
        #expect(s.deadLetters.confirmation?.preview.queues == [group.queue])
        #expect(s.deadLetters.confirmation?.asJob == true)
        let others = try fixture.store.deadLetterCount(.all) - group.count
        _ = try press(&s, fixture, Key.typing("\(group.count)") + [.enter])
        // A replay job with its set fixed, at the default rate; a runner moves it.
        let job = try #require(try fixture.store.replayJobs(page: PageRequest(limit: 10)).items.first)
        #expect(job.total == group.count && job.rate == ReplayJobRequest.defaultRate && job.state == .running)
        #expect(s.notice?.text.hasPrefix("replay job \(job.id): \(group.count) dead letters at 100/s, the set fixed now") == true, "\(s.notice?.text ?? "")")
        try ReplayJobRunner(store: fixture.store, name: "test").run(job.id)
        #expect(try fixture.store.deadLetterCount(group.selection) == 0)
        #expect(try fixture.store.deadLetterCount(.all) == others)
        let queues = try fixture.store.queueStats(now: s.now)
        _ = try settle(&s, s.update(.data(DataSnapshot(time: s.now + .seconds(1), records: [], queues: queues, runtimes: s.runtimes, published: 0))), store: fixture.store)
        #expect(s.deadLetters.groups?.contains(group) == false)
        #expect(s.deadLetters.jobs?.first?.state == .done)
    }

    @Test func theConfirmationOfAJobTakesARateAfterTab() throws {
        var (s, fixture) = try Fixture.state(size: size)
        _ = try press(&s, fixture, [.char("3"), .char("L"), .char("R")])
        let count = try #require(s.deadLetters.confirmation?.preview.count)
        _ = try press(&s, fixture, [.tab, .backspace, .backspace, .backspace] + Key.typing("0"))
        #expect(s.deadLetters.confirmation?.rate == "0" && s.deadLetters.confirmation?.editingRate == true)
        #expect(Dashboard.render(s).text.contains("as a replay job at 0 (unthrottled)"))
        _ = try press(&s, fixture, [.enter] + Key.typing("\(count)") + [.enter])
        let job = try #require(try fixture.store.replayJobs(page: PageRequest(limit: 1)).items.first)
        #expect(job.rate == 0 && job.total == count)
        // Emptied rate: refused with a clear word, nothing created.
        _ = try press(&s, fixture, [.char("R"), .tab, .backspace, .backspace, .backspace, .enter] + Key.typing("\(count)") + [.enter])
        #expect(s.notice?.text.contains("the rate is letters per second") == true)
        #expect(try fixture.store.replayJobs(page: PageRequest(limit: 10)).items.count == 1)
    }

    /// The rate shown when tab begins editing is replaced by the first digit typed (not typed
    /// after: 100 then 5 is 5, not 1005); a backspace edits it instead.
    @Test func typingARateAfterTabReplacesTheOneShown() throws {
        var (s, fixture) = try Fixture.state(size: size)
        _ = try press(&s, fixture, [.char("3"), .char("L"), .char("R")])
        #expect(s.deadLetters.confirmation?.rate == String(ReplayJobRequest.defaultRate))
        _ = try press(&s, fixture, [.tab] + Key.typing("25"))
        #expect(s.deadLetters.confirmation?.rate == "25")
        _ = try press(&s, fixture, [.enter, .tab] + Key.typing("0"))
        #expect(s.deadLetters.confirmation?.rate == "0", "each time editing begins")
        _ = try press(&s, fixture, [.tab, .tab, .backspace] + Key.typing("5"))
        #expect(s.deadLetters.confirmation?.rate == "5", "0 with its digit removed, then 5")
        _ = try press(&s, fixture, [.tab, .tab] + Key.typing("4") + [.tab, .tab, .backspace])
        #expect(s.deadLetters.confirmation?.rate == "", "backspace after tab edits the rate shown")
    }

    @Test func theDetailShowsTheLettersReplaysAndTOpensItsFlowAndCtrlAMarksAll() throws {
        var (s, fixture) = try Fixture.state(size: Size(width: 160, height: 60))
        // One letter replayed, then dead again.
        let letter = try #require(try fixture.store.deadLetters(DeadLetterSelection(queue: "parse"), page: PageRequest(limit: 1)).items.first)
        let later = Fixture.t0 + .seconds(2)
        _ = try fixture.store.redrive(RedriveRequest(selection: DeadLetterSelection(messageIDs: [letter.messageID]), actor: Operator(user: "oncall", host: "laptop"), replayID: "r-1"), at: later)
        var batch = WriteBatch(now: later)
        batch.claims = [ClaimRequest(queue: "parse", limit: 50, lease: .seconds(30), maxAttempts: 4)]
        let claimed = try fixture.store.apply(batch).claimed.filter { $0.claim.messageID == letter.messageID }
        #expect(claimed.count == 1)
        var fail = WriteBatch(now: later)
        fail.outcomes = claimed.map { Outcome(claim: $0.claim, duration: .zero, finishedAt: later, result: .deadLetter(error: "still malformed", reason: .nonRetryable)) }
        _ = try fixture.store.apply(fail)
        _ = try press(&s, fixture, [.char("3"), .char("L")])
        let index = try #require(s.deadLetters.letters.firstIndex { $0.messageID == letter.messageID })
        _ = try press(&s, fixture, Array(repeating: Key.char("j"), count: index) + [.enter])
        #expect(s.deadLetters.level == .detail && s.deadLetters.selectedLetter?.messageID == letter.messageID)
        #expect(s.deadLetters.replays?.items.count == 1)
        let text = Dashboard.render(s).text
        #expect(text.contains("replay r-1 by oncall@laptop  → dead again: still malformed"), "\(text)")
        _ = try press(&s, fixture, [.char("t")])
        #expect(s.view == .trace && s.traceScreen.correlationID == letter.event.correlationID)
        #expect(s.traceScreen.trace?.nodes.flatMap(\.hops).contains { $0.messageID == letter.messageID && $0.replays.count == 1 } == true)
        _ = try press(&s, fixture, [.char("3"), .escape, .ctrl("a")])
        #expect(s.deadLetters.marked.count == s.deadLetters.letters.count)
        _ = try press(&s, fixture, [.ctrl("a")])
        #expect(s.deadLetters.marked.isEmpty)
    }

    @Test func xExportsTheMarkedOrTheGroupToAPrivateFile() throws {
        var (s, fixture) = try Fixture.state(size: size)
        let directory = fixture.store.location.components(separatedBy: "/").dropLast().joined(separator: "/")
        _ = try press(&s, fixture, [.char("3")])
        let group = try #require(s.deadLetters.groups?.first)
        let effects = s.update(.key(.char("x")))
        guard case .read(.exportDeadLetters(let selection, let name), _) = try #require(effects.first) else { Issue.record("\(effects)"); return }
        #expect(selection == group.selection && name.hasPrefix("pipetop-dead-letters-") && name.hasSuffix(".jsonl"))
        let path = directory + "/" + name
        let answer = try StoreRequest.exportDeadLetters(selection, path: path).answer(from: fixture.store)
        _ = s.update(.answer(answer, for: .deadLetters))
        #expect(s.notice?.text == "exported \(group.count) dead letters to \(path) (0600)", "\(s.notice?.text ?? "")")
        #expect(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").count == group.count)
        // The same file again: refused, said so.
        _ = s.update(.answer(try StoreRequest.exportDeadLetters(selection, path: path).answer(from: fixture.store), for: .deadLetters))
        #expect(s.notice?.isError == true && s.notice?.text.contains("exists") == true)
    }

    @Test func theJobsArePausedResumedRatedAndCancelledFromJ() throws {
        var (s, fixture) = try Fixture.state(size: size)
        let job = try fixture.store.createReplayJob(ReplayJobRequest(selection: .all, rate: 40), at: Fixture.t0)
        _ = try press(&s, fixture, [.char("3"), .char("J")])
        #expect(s.deadLetters.level == .jobs && s.deadLetters.jobs?.map(\.id) == [job.id])
        _ = try press(&s, fixture, [.char("p")])
        #expect(try fixture.store.replayJob(id: job.id)?.state == .paused)
        #expect(s.notice?.text.hasPrefix("replay job \(job.id): paused") == true, "\(s.notice?.text ?? "")")
        _ = try press(&s, fixture, [.char("p"), .char("+")])
        #expect(try fixture.store.replayJob(id: job.id).map { $0.state == .running && $0.rate == 80 } == true)
        _ = try press(&s, fixture, [.char("-"), .char("-")])
        #expect(try fixture.store.replayJob(id: job.id)?.rate == 20)
        _ = try press(&s, fixture, [.char("C")])
        #expect(try fixture.store.replayJob(id: job.id)?.state == .cancelled)
        _ = try press(&s, fixture, [.char("p")])
        #expect(s.notice?.text == "replay job \(job.id) is cancelled: it changes no more")
        #expect(try fixture.store.deadLetterCount(.all) > 0, "nothing moved: no runner ran it")
        _ = try press(&s, fixture, [.escape])
        #expect(s.deadLetters.level == .groups)
    }

    @Test func readOnlyHasNoMarkReplayOrDelete() throws {
        var (s, fixture) = try Fixture.state(size: size, readOnly: true)
        _ = try press(&s, fixture, [.char("3"), .char("L")])
        let keys = DeadLettersScreen.keymap.active(readOnly: true).flatMap(\.keys)
        for key in [Key.char(" "), .char("r"), .char("R"), .char("d")] { #expect(!keys.contains(key)) }
        #expect(DeadLettersScreen.keymap.active(readOnly: false).flatMap(\.keys).contains(.char("R")))
        #expect(!s.hints.contains { ["r", "R", "d", "space"].contains($0.key) })
        #expect(!s.helpLines.contains { ["r", "R", "d", "space"].contains($0.0) })
        for key in [Key.char(" "), .char("r"), .char("R"), .char("d")] {
            #expect(s.update(.key(key)).isEmpty)
        }
        #expect(s.deadLetters.confirmation == nil && s.deadLetters.marked.isEmpty)
        // Without a writer a mutation is answered refused, never dropped.
        let answer = StoreMutation.delete(DeleteRequest(selection: .all)).apply(to: nil, at: Fixture.t0)
        guard case .mutated(_, .failure(let failure)) = answer else { Issue.record("a mutation without a writer must fail"); return }
        #expect(failure.message.contains("read-only"))
    }

    /// New letters arrive on top while the user looks at one: the selection stays on that letter,
    /// and a letter replayed elsewhere closes its detail instead of showing another one.
    @Test func theSelectionFollowsItsLetterWhenTheListMoves() throws {
        var (s, fixture) = try Fixture.state(size: size)
        _ = try press(&s, fixture, [.char("3"), .char("L"), .char("j"), .char("j")])
        let chosen = try #require(s.deadLetters.selectedLetter?.messageID)
        func newDeadLetter(_ id: String) throws {
            let now = Fixture.t0 + .seconds(5)
            var batch = WriteBatch(now: now)
            batch.claims = [ClaimRequest(queue: "parse", limit: 10, lease: .seconds(30), maxAttempts: 3)]
            batch.publishes = [RoutedEvent(event: CloudEvent(id: id, source: "/s", type: "listing.uploaded"), targets: [Target(queue: "parse", held: false)])]
            let claimed = try fixture.store.apply(batch).claimed.filter { $0.event.id == id }
            var fail = WriteBatch(now: now)
            fail.outcomes = claimed.map { Outcome(claim: $0.claim, duration: .zero, finishedAt: now, result: .deadLetter(error: "new", reason: .nonRetryable)) }
            _ = try fixture.store.apply(fail)
        }
        func countersMoved() throws {
            let queues = try fixture.store.queueStats(now: s.now)
            _ = try settle(&s, s.update(.data(DataSnapshot(time: s.now + .seconds(1), records: [], queues: queues, runtimes: s.runtimes, published: 0))), store: fixture.store)
        }
        try newDeadLetter("fresh-1")
        try countersMoved()
        #expect(s.deadLetters.letters.first?.event.id == "fresh-1", "the new letter is on top")
        #expect(s.deadLetters.selectedLetter?.messageID == chosen, "the selection stayed on its letter")
        _ = try press(&s, fixture, [.enter])
        #expect(s.deadLetters.level == .detail)
        _ = try fixture.store.redrive(RedriveRequest(selection: DeadLetterSelection(messageIDs: [chosen])), at: Fixture.t0 + .seconds(6))
        try countersMoved()
        #expect(s.deadLetters.level == .list, "its detail closed: the letter is no longer dead")
        #expect(s.deadLetters.selectedLetter?.messageID != chosen)
    }

    /// Scrolled past the first page while letters keep dying: the deep list is read again at most
    /// once a second (each read decodes every letter shown so far).
    @Test func aDeepListIsReadAgainAtMostOnceASecond() throws {
        var (s, fixture) = try Fixture.state(size: size)
        let now = Fixture.t0 + .seconds(5)
        var batch = WriteBatch(now: now)
        batch.claims = [ClaimRequest(queue: "parse", limit: 500, lease: .seconds(30), maxAttempts: 3)]
        batch.publishes = (0..<150).map { RoutedEvent(event: CloudEvent(id: "many-\($0)", source: "/s", type: "listing.uploaded"), targets: [Target(queue: "parse", held: false)]) }
        let claimed = try fixture.store.apply(batch).claimed.filter { $0.event.id.hasPrefix("many-") }
        var fail = WriteBatch(now: now)
        fail.outcomes = claimed.map { Outcome(claim: $0.claim, duration: .zero, finishedAt: now, result: .deadLetter(error: "many", reason: .nonRetryable)) }
        _ = try fixture.store.apply(fail)
        _ = try press(&s, fixture, [.char("3"), .char("L")] + Array(repeating: Key.char("j"), count: 120))
        #expect(s.deadLetters.letters.count > 100, "the second page was read as the selection neared the end")
        func countersMove(after seconds: Double) -> [Effect] {
            var queues = s.queues
            queues[0].deadLettered += 1
            return s.update(.data(DataSnapshot(time: s.now + .microseconds(Int64(seconds * 1_000_000)), records: [], queues: queues, runtimes: s.runtimes, published: 0)))
        }
        // The replay jobs are read at every poll; the letters are what this is about.
        func letterReads(_ effects: [Effect]) -> [Effect] { effects.filter { $0 != .read(.replayJobs(limit: 20), for: .deadLetters) } }
        let first = countersMove(after: 0.25)
        #expect(letterReads(first).count == 1, "read again: \(first)")
        _ = try settle(&s, first, store: fixture.store)
        #expect(letterReads(countersMove(after: 0.25)).isEmpty, "not again within the second")
        #expect(letterReads(countersMove(after: 0.8)).count == 1, "again once the second has passed (1.05 s after the last)")
    }

    @Test func aNewDeadLetterInTheQueueCountersReadsAgain() throws {
        var (s, fixture) = try Fixture.state(size: size)
        _ = try press(&s, fixture, [.char("3")])
        #expect(s.update(.key(.char("j"))).isEmpty, "nothing changed: nothing is read again")
        var queues = s.queues
        queues[0].deadLettered += 1
        let now = s.now + .seconds(1)
        let effects = s.update(.data(DataSnapshot(time: now, records: [], queues: queues, runtimes: s.runtimes, published: 0)))
        // The groups are read with their arrivals (the last hour up to the current minute's end).
        let end = Timestamp(micros: (now.micros / 60_000_000 + 1) * 60_000_000)
        #expect(effects == [.read(.replayJobs(limit: 20), for: .deadLetters), .read(.deadLetterGroups(.all), for: .deadLetters),
                            .read(.deadLetterArrivals(since: end - .seconds(3_600)), for: .deadLetters)])
    }
}
