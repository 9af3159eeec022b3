import Foundation
import Testing
@testable import PipetopCore

/// Replay jobs on every backend, through `Store` only: the fixed set, steps, rate, pause, resume,
/// cancel, skipped letters, the automatic stop, leases and exactly once across runners.
@Suite struct ReplayJobTests {
    static let backends = StoreFactory.all

    @Test(arguments: backends) func theSetIsFixedWhenTheJobIsCreated(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let now = try h.deadLetters(5)
        let job = try h.store.createReplayJob(ReplayJobRequest(selection: .all, rate: 0), at: now)
        #expect(job.total == 5 && job.state == .running && job.remaining == 5)
        // Letters that die after it started are not swept in.
        let later = try h.deadLetters(2, prefix: "late", at: now + .seconds(1))
        let step = try h.store.stepReplayJob(job.id, runner: "a", lease: .seconds(5), moves: 100, at: later)
        #expect(step.moved == 5 && step.job.state == .done && step.job.cursor == 5)
        #expect(try h.store.deadLetters(queue: nil, limit: 10).map(\.event.id).sorted() == ["late0", "late1"])
        #expect(try h.stats(at: later)?.ready == 5)
        let redriven = try h.log().filter { $0.kind == .redriven }
        #expect(redriven.count == 5 && redriven.allSatisfy { $0.detail?.contains("replay job \(job.id) by ") == true })
        let audit = try h.store.audit(page: PageRequest(limit: 10)).items
        #expect(audit.map(\.action) == [.replayJob, .replayJob])
        #expect(audit[0].detail.contains("done: 5 moved") && audit[0].count == 5)
        #expect(audit[1].detail.contains("created") && audit[1].count == 5)
        // A finished job changes no more.
        #expect(throws: ReplayJobError.self) { try h.store.controlReplayJob(job.id, .pause, by: .current, at: later) }
        #expect(try h.store.replayJob(id: job.id)?.state == .done)
    }

    @Test(arguments: backends) func stepsMoveAtMostTheirShareAndPauseResumeCancelAndRateAreAudited(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let now = try h.deadLetters(10)
        let job = try h.store.createReplayJob(ReplayJobRequest(selection: .all, rate: 100, limit: 8), at: now)
        #expect(job.total == 8, "at most the limit, oldest first")
        var step = try h.store.stepReplayJob(job.id, runner: "a", lease: .seconds(5), moves: 3, at: now)
        #expect(step.moved == 3 && step.job.moved == 3 && step.job.remaining == 5)
        let paused = try h.store.controlReplayJob(job.id, .pause, by: .current, at: now)
        #expect(paused.state == .paused)
        #expect(throws: ReplayJobError.self) { try h.store.controlReplayJob(job.id, .pause, by: .current, at: now) }
        step = try h.store.stepReplayJob(job.id, runner: "a", lease: .seconds(5), moves: 3, at: now)
        #expect(step.moved == 0, "a paused job moves nothing")
        _ = try h.store.controlReplayJob(job.id, .rate(0), by: .current, at: now)
        _ = try h.store.controlReplayJob(job.id, .resume, by: .current, at: now)
        #expect(throws: ReplayJobError.self) { try h.store.controlReplayJob(job.id, .rate(-1), by: .current, at: now) }
        step = try h.store.stepReplayJob(job.id, runner: "a", lease: .seconds(5), moves: 2, at: now)
        #expect(step.moved == 2 && step.job.rate == 0)
        let cancelled = try h.store.controlReplayJob(job.id, .cancel, by: .current, at: now)
        #expect(cancelled.state == .cancelled && cancelled.moved == 5 && cancelled.remaining == 3)
        step = try h.store.stepReplayJob(job.id, runner: "a", lease: .seconds(5), moves: 100, at: now)
        #expect(step.moved == 0)
        #expect(try h.store.deadLetterCount(.all) == 5, "what moved stays moved, the rest stays dead")
        let details = try h.store.audit(page: PageRequest(limit: 10)).items.map(\.detail)
        #expect(details.contains { $0.contains("pause") } && details.contains { $0.contains("100/s → unthrottled") })
        #expect(details.contains { $0.contains("resume") } && details.contains { $0.contains("cancel: 5 moved stay moved, 3 not moved") })
    }

    @Test(arguments: backends) func aLetterNoLongerDeadWhenItsTurnComesIsSkipped(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let now = try h.deadLetters(4)
        let job = try h.store.createReplayJob(ReplayJobRequest(selection: .all, rate: 0), at: now)
        let newest = try h.store.deadLetters(queue: nil, limit: 1)[0]
        #expect(try h.store.redrive(RedriveRequest(selection: DeadLetterSelection(messageIDs: [newest.messageID])), at: now).count == 1)
        let oldest = try h.store.deadLetters(queue: nil, limit: 10).last!
        #expect(try h.store.delete(DeleteRequest(selection: DeadLetterSelection(messageIDs: [oldest.messageID])), at: now).count == 1)
        let step = try h.store.stepReplayJob(job.id, runner: "a", lease: .seconds(5), moves: 10, at: now)
        #expect(step.job.state == .done && step.job.moved == 2 && step.job.skipped == 2)
        #expect(try h.log().filter { $0.kind == .redriven }.count == 3, "one by hand, two by the job: none twice")
    }

    @Test(arguments: backends) func itStopsByItselfWhenReplayedLettersFailAgainAndResumeStartsTheWindowAgain(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let now = try h.deadLetters(80)
        let job = try h.store.createReplayJob(ReplayJobRequest(selection: .all, rate: 0), at: now)
        var step = try h.store.stepReplayJob(job.id, runner: "a", lease: .seconds(5), moves: 50, at: now)
        #expect(step.moved == 50)
        // Their new deliveries: 39 succeed, 11 fail (22 %: more than 20 % of the last 50).
        let claimed = try h.claim(now, h.request(limit: 50))
        #expect(claimed.count == 50)
        var outcomes = WriteBatch(now: now)
        outcomes.outcomes = claimed.enumerated().map { index, message in
            Outcome(claim: message.claim, duration: .zero, finishedAt: now,
                    result: index < 11 ? .retry(error: "still broken", at: now + .seconds(60)) : .succeeded(children: []))
        }
        _ = try h.store.apply(outcomes)
        step = try h.store.stepReplayJob(job.id, runner: "a", lease: .seconds(5), moves: 50, at: now)
        #expect(step.moved == 0 && step.job.state == .stopped)
        #expect(step.job.succeeded == 39 && step.job.failedAgain == 11 && step.job.recentFailures == 11)
        #expect(step.job.stopReason?.contains("11 of the last 50 replayed failed again") == true)
        #expect(try h.store.audit(page: PageRequest(limit: 1)).items.first?.detail.contains("stopped by itself") == true)
        let resumed = try h.store.controlReplayJob(job.id, .resume, by: .current, at: now)
        #expect(resumed.state == .running && resumed.recentCount == 0 && resumed.stopReason == nil)
        step = try h.store.stepReplayJob(job.id, runner: "a", lease: .seconds(5), moves: 50, at: now)
        #expect(step.moved == 30 && step.job.state == .done)
    }

    @Test(arguments: backends) func theWindowJudgesOnlyOutcomesKnownAndTenOfFiftyIsNotEnough(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let now = try h.deadLetters(60)
        let job = try h.store.createReplayJob(ReplayJobRequest(selection: .all, rate: 0), at: now)
        _ = try h.store.stepReplayJob(job.id, runner: "a", lease: .seconds(5), moves: 50, at: now)
        let claimed = try h.claim(now, h.request(limit: 50))
        var outcomes = WriteBatch(now: now)
        // 10 of 50 fail: 20 %, not more: it goes on. The others are still in flight (not known).
        outcomes.outcomes = claimed.prefix(10).map {
            Outcome(claim: $0.claim, duration: .zero, finishedAt: now, result: .retry(error: "x", at: now + .seconds(60)))
        }
        _ = try h.store.apply(outcomes)
        var step = try h.store.stepReplayJob(job.id, runner: "a", lease: .seconds(5), moves: 0, at: now)
        #expect(step.job.state == .running && step.job.failedAgain == 10 && step.job.undecided == 40, "10 known of 50: not judged yet")
        outcomes.outcomes = claimed.dropFirst(10).map { Outcome(claim: $0.claim, duration: .zero, finishedAt: now, result: .succeeded(children: [])) }
        _ = try h.store.apply(outcomes)
        step = try h.store.stepReplayJob(job.id, runner: "a", lease: .seconds(5), moves: 0, at: now)
        #expect(step.job.state == .running && step.job.succeeded == 40 && step.job.recentCount == 50)
    }

    @Test(arguments: backends) func aLeaseKeepsOtherRunnersOutUntilItEndsOrIsGivenBack(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let now = try h.deadLetters(6)
        let job = try h.store.createReplayJob(ReplayJobRequest(selection: .all, rate: 0), at: now)
        _ = try h.store.stepReplayJob(job.id, runner: "a", lease: .seconds(5), moves: 1, at: now)
        var step = try h.store.stepReplayJob(job.id, runner: "b", lease: .seconds(5), moves: 1, at: now + .seconds(1))
        #expect(step.heldBy == "a" && step.moved == 0)
        step = try h.store.stepReplayJob(job.id, runner: "b", lease: .seconds(5), moves: 1, at: now + .seconds(6))
        #expect(step.heldBy == nil && step.moved == 1 && step.job.runner == "b", "a's lease ended: b goes on")
        try h.store.releaseReplayJob(job.id, runner: "b", at: now + .seconds(6))
        step = try h.store.stepReplayJob(job.id, runner: "a", lease: .seconds(5), moves: 1, at: now + .seconds(6))
        #expect(step.heldBy == nil && step.moved == 1)
    }

    @Test(arguments: backends) func aBadRateOrUnknownJobIsRefused(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        #expect(throws: ReplayJobError.self) { try h.store.createReplayJob(ReplayJobRequest(selection: .all, rate: -5), at: h.t0) }
        #expect(throws: ReplayJobError.self) { try h.store.controlReplayJob(99, .pause, by: .current, at: h.t0) }
        #expect(throws: ReplayJobError.self) { try h.store.stepReplayJob(99, runner: "a", lease: .seconds(1), moves: 1, at: h.t0) }
        #expect(try h.store.audit(page: PageRequest(limit: 10)).items.isEmpty, "nothing written")
        let empty = try h.store.createReplayJob(ReplayJobRequest(selection: .all), at: h.t0)
        #expect(empty.total == 0 && empty.state == .done)
    }

    @Test(arguments: backends) func twoRunnersOnTwoConnectionsMoveEachLetterOnce(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        _ = try h.deadLetters(3_000)
        let job = try h.store.createReplayJob(ReplayJobRequest(selection: .all, rate: 0), at: .now())
        let stores = [h.store, try h.made.openAgain()]
        let failures = Results()
        let group = DispatchGroup()
        for (index, store) in stores.enumerated() {
            DispatchQueue.global().async(group: group) {
                do {
                    // Short leases, so the two take the job from each other while it runs.
                    let runner = ReplayJobRunner(store: store, name: "r\(index)")
                    runner.lease = .milliseconds(1)
                    runner.stepInterval = .milliseconds(1)
                    try runner.run(job.id)
                } catch {
                    failures.fail(error)
                }
            }
        }
        group.wait()
        #expect(failures.errors.isEmpty, "\(failures.errors)")
        let done = try #require(try h.store.replayJob(id: job.id))
        #expect(done.state == .done && done.moved == 3_000 && done.skipped == 0)
        #expect(try h.log().filter { $0.kind == .redriven }.count == 3_000, "each letter moved once")
        #expect(try h.stats(at: .now())?.ready == 3_000)
        #expect(done.runner == nil, "the lease was given back")
    }

    @Test func theRuntimeCarriesAJobAndSettlesItsOutcomes() throws {
        let db = try TestStore()
        var options = Runtime.Options()
        options.register = false
        let runtime = try Runtime(
            name: "carrier", store: db.store, queues: [QueueSpec("orders", maxAttempts: 1)],
            rules: [Rule("orders", pattern: .type("order.placed"), targets: ["orders"])], options: options)
        let healed = Healed()
        runtime.handle("orders") { _ in if !healed.value { throw PermanentFailure("pricing rejected it") } }
        try runtime.start()
        defer { runtime.stop() }
        try runtime.publish((0..<20).map { CloudEvent(id: "o\($0)", source: "/shop", type: "order.placed") })
        #expect(try eventually { try db.store.deadLetterCount(.all) == 20 })
        healed.value = true
        let job = try db.store.createReplayJob(ReplayJobRequest(selection: .all, rate: 1_000), at: .now())
        #expect(try eventually { try db.store.replayJob(id: job.id).map { $0.state == .done && $0.succeeded == 20 } ?? false })
        #expect(try db.store.deadLetterCount(.all) == 0)
        #expect(try db.store.replayJob(id: job.id)?.runner?.hasPrefix("runtime carrier pid ") == true)
    }
}

final class Healed: @unchecked Sendable {
    private let lock = NSLock()
    private var healed = false
    var value: Bool {
        get { lock.withLock { healed } }
        set { lock.withLock { healed = newValue } }
    }
}

extension StoreHarness {
    /// Dead-letters `count` messages of `queue` in one tick (non-retryable failures) at `at`; returns `at`.
    @discardableResult
    func deadLetters(_ count: Int, prefix: String = "d", queue: String = "q", at: Timestamp? = nil) throws -> Timestamp {
        let now = at ?? t0
        var batch = WriteBatch(now: now)
        batch.claims = [request(queue, limit: count)]
        batch.publishes = (0..<count).map { RoutedEvent(event: event("\(prefix)\($0)"), targets: [Target(queue: queue, held: false)]) }
        let claimed = try store.apply(batch).claimed
        var fail = WriteBatch(now: now)
        fail.outcomes = claimed.map { Outcome(claim: $0.claim, duration: .zero, finishedAt: now, result: .deadLetter(error: "malformed", reason: .nonRetryable)) }
        _ = try store.apply(fail)
        return now
    }
}

/// Dead letters made per cause and minute: counted when they die, never taken back, kept a day.
@Suite struct DeadLetterArrivalTests {
    @Test(arguments: StoreFactory.all) func arrivalsAreCountedPerMinuteKeptADayAndSurviveAReplay(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        _ = try h.deadLetters(3, prefix: "a", at: h.t0)
        _ = try h.deadLetters(2, prefix: "b", at: h.t0 + .seconds(120))
        var arrivals = try h.store.deadLetterArrivals(since: h.t0 - .seconds(60))
        #expect(arrivals.map(\.count) == [3, 2] && arrivals.allSatisfy { $0.queue == "q" && $0.fingerprint == "malformed" })
        #expect(arrivals[1].minute.micros - arrivals[0].minute.micros == 120_000_000)
        _ = try h.store.redrive(RedriveRequest(selection: .all), at: h.t0 + .seconds(130))
        #expect(try h.store.deadLetterArrivals(since: h.t0 - .seconds(60)).map(\.count) == [3, 2], "history: a replay does not take them back")
        let group = DeadLetterGroup(queue: "q", type: "listing.uploaded", fingerprint: "malformed", count: 0, firstDeadAt: h.t0, lastDeadAt: h.t0, failedAgain: 0)
        let series = DeadLetterArrivals.series(arrivals, of: group, end: h.t0 + .seconds(180), buckets: 3, width: .seconds(60))
        #expect(series == [3, 0, 2])
        // A day later, the old minutes are forgotten when new letters die.
        _ = try h.deadLetters(1, prefix: "c", at: h.t0 + .seconds(86_400 + 300))
        arrivals = try h.store.deadLetterArrivals(since: h.t0 - .seconds(60))
        #expect(arrivals.map(\.count) == [1])
    }
}
