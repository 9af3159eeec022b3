import Foundation
import Testing
@testable import PipetopCore

/// What the store keeps for lag, drain and latency: the oldest message not yet done, and per queue
/// and second the backlog's arrivals, releases and departures and the successes' latencies. On
/// every backend, through the protocols.
@Suite struct QueueSecondsTests {
    static let backends = StoreFactory.all

    /// The seeds' case: a batch queue's held messages have waited since their enqueue, before the
    /// window releases them and after.
    @Test(arguments: backends) func lagSecondsCountsHeldMessagesFromTheirEnqueue(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish([h.event("a")], held: true, at: h.t0)
        try h.publish([h.event("b")], held: true, at: h.t0 + .seconds(3))
        let waiting = try #require(try h.stats(at: h.t0 + .milliseconds(14_700)))
        #expect(waiting.lagSeconds == 14.7)
        #expect(waiting.oldestHeldAt == h.t0)
        try h.tick(h.t0 + .seconds(15)) { $0.releases = ["q"] }
        let released = try #require(try h.stats(at: h.t0 + .milliseconds(16_600)))
        #expect(released.held == 0 && released.ready == 2)
        #expect(released.lagSeconds == 16.6)
        // In flight, still not done: still counted from the enqueue.
        _ = try h.claim(h.t0 + .seconds(17))
        #expect(try h.stats(at: h.t0 + .seconds(18))?.lagSeconds == 18)
    }

    /// Every change of the lag is counted in its second: counted back from the lag now, the
    /// seconds give the lag at the start (0), whatever happened (publishes held or not, claims,
    /// retries, dead letters at a claim and after a run, drops, lease expiries, releases,
    /// replays, edits, deletes).
    @Test(arguments: backends) func everyChangeOfTheBacklogIsCountedInItsSecond(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        var random = SeededRandom(seed: 42)
        var now = h.t0
        for round in 0..<60 {
            now = now + .milliseconds(Int64(300 + random.below(900)))
            let queue = random.pick(["q", "r", "b"])
            var batch = WriteBatch(now: now)
            batch.claims = [h.request(queue, limit: random.below(8), lease: .seconds(2), maxAttempts: 2, deadLetter: random.chance(80))]
            if random.chance(30) { batch.releases = ["b"] }
            if random.chance(20) { batch.expireLeases = [queue] }
            batch.publishes = (0..<random.below(5)).map {
                RoutedEvent(event: h.event("e\(round)-\($0)"), targets: [Target(queue: queue, held: queue == "b" && random.chance(70))])
            }
            let claimed = try h.store.apply(batch).claimed
            var outcomes = WriteBatch(now: now + .milliseconds(5))
            outcomes.outcomes = claimed.filter { _ in random.chance(85) }.map { message in
                let result: Outcome.Result = switch random.below(4) {
                case 0: .retry(error: "later", at: now + .milliseconds(Int64(random.below(1500))))
                case 1: message.claim.attempt >= 2 ? .drop(error: "no") : .deadLetter(error: "bad", reason: .nonRetryable)
                default: .succeeded(children: random.chance(30) ? [RoutedEvent(event: h.event("c\(round)"), targets: [Target(queue: "r", held: false)])] : [])
                }
                return Outcome(claim: message.claim, duration: .milliseconds(1), finishedAt: now + .milliseconds(5), result: result)
            }
            _ = try h.store.apply(outcomes)
            if random.chance(20) { _ = try h.store.redrive(RedriveRequest(selection: .all, to: random.chance(50) ? "q" : nil, limit: random.below(3)), at: now) }
            if random.chance(10) { _ = try h.store.delete(DeleteRequest(selection: .all, limit: 1), at: now) }
            if random.chance(10) {
                _ = try h.store.edit(EditRequest(.set([try FieldAssignment(parsing: "/fixed=\(round)")], selection: .all, limit: 1)), at: now)
            }
            let seconds = try h.store.queueSeconds(since: h.t0 - .seconds(1))
            for stats in try h.store.queueStats(now: now) {
                let mine = seconds.filter { $0.queue == stats.name }
                #expect(mine.reduce(0) { $0 + $1.enqueued - $1.done } == stats.lagMessages, "round \(round) \(stats.name)")
                #expect(mine.reduce(0) { $0 + $1.enqueued - $1.held + $1.released - $1.done } == stats.lagMessages - stats.held, "round \(round) \(stats.name)")
                let health = QueueHealth(stats, seconds: seconds, consumer: nil, now: now)
                #expect(health.lag.last == stats.lagMessages)
                #expect(health.lag.allSatisfy { $0 >= 0 })
            }
        }
    }

    /// Published → succeeded on each queue, and from the flow's first publish: a child's flow
    /// starts when its root was published. A replay is a new delivery: its clocks start at the replay.
    @Test(arguments: backends) func successesRecordTheirLatencyFromThePublishAndFromTheFlowsStart(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.declare(["parse", "enrich"])
        try h.publish([h.event("root")], to: "parse", at: h.t0)
        let parse = try h.claim(h.t0 + .seconds(1), h.request("parse"))
        let child = RoutedEvent(event: h.event("child"), targets: [Target(queue: "enrich", held: false)])
        try h.finish(parse[0], at: h.t0 + .seconds(2), .succeeded(children: [child]))
        let enrich = try h.claim(h.t0 + .seconds(3), h.request("enrich"))
        #expect(enrich[0].claim.publishedAt == h.t0 + .seconds(2))
        #expect(enrich[0].claim.flowStartedAt == h.t0)
        try h.finish(enrich[0], at: h.t0 + .seconds(5), .succeeded(children: []))
        // A second's latencies are written by the writer's first transaction of a later second.
        #expect(try h.store.queueSeconds(since: h.t0).first { $0.queue == "enrich" && $0.second == (h.t0 + .seconds(5)).micros / 1_000_000 }?.latency.isEmpty == true)
        try h.tick(h.t0 + .seconds(6)) { _ in }

        func percentiles(_ queue: String, at now: Timestamp) throws -> (LatencyPercentiles?, LatencyPercentiles?) {
            let stats = try #require(try h.stats(queue, at: now))
            let health = QueueHealth(stats, seconds: try h.store.queueSeconds(since: now - QueueHealth.window), consumer: nil, now: now)
            return (health.latency, health.flowLatency)
        }
        let (parseHop, parseFlow) = try percentiles("parse", at: h.t0 + .seconds(6))
        #expect(parseHop?.count == 1 && parseFlow?.count == 1)
        #expect(abs((parseHop?.p50.secondsDouble ?? 0) - 2) < 0.02)
        let (enrichHop, enrichFlow) = try percentiles("enrich", at: h.t0 + .seconds(6))
        #expect(abs((enrichHop?.p99.secondsDouble ?? 0) - 3) < 0.03)
        #expect(abs((enrichFlow?.p99.secondsDouble ?? 0) - 5) < 0.05)

        // Dead, then replayed an hour later and succeeding 1 s after the replay.
        let later = h.t0 + .seconds(3600)
        try h.publish([h.event("bad")], to: "parse", at: later)
        try h.finish(try h.claim(later, h.request("parse"))[0], at: later, .deadLetter(error: "bad", reason: .nonRetryable))
        _ = try h.store.redrive(RedriveRequest(selection: DeadLetterSelection(queue: "parse")), at: later + .seconds(10))
        let again = try h.claim(later + .seconds(10), h.request("parse"))
        #expect(again[0].claim.publishedAt == later + .seconds(10))
        try h.finish(again[0], at: later + .seconds(11), .succeeded(children: []))
        // Stopping writes what is still pending.
        try h.store.markStopped(runtime: try #require(try h.store.runtimes().first { $0.name == "test" }), at: later + .seconds(11))
        let (replayed, _) = try percentiles("parse", at: later + .seconds(12))
        #expect(replayed?.count == 1)
        #expect(abs((replayed?.p50.secondsDouble ?? 0) - 1) < 0.01)
    }

    /// A transaction's latencies join the pending ones only when it commits, and what a
    /// transaction wrote leaves them only when it commits: none lost, none written twice.
    @Test func pendingLatenciesFollowTheirTransactions() {
        let pending = PendingLatencies()
        var change = BacklogChange()
        change.latency.record(.milliseconds(5))
        pending.stage(queue: "q", second: 10, change)
        pending.rolledBack()
        #expect(pending.due(before: 11).isEmpty, "a rolled-back transaction's latencies are gone")
        pending.rolledBack()
        pending.stage(queue: "q", second: 10, change)
        pending.committed()
        #expect(pending.due(before: 10).isEmpty, "not before its second is over")
        pending.rolledBack()
        let due = pending.due(before: 11)
        #expect(due.count == 1 && due[0].tallies.latency.counts.values.reduce(0, +) == 1)
        pending.rolledBack()
        #expect(pending.due(before: 11).count == 1, "a failed write leaves them pending")
        pending.committed()
        #expect(pending.due(before: .max).isEmpty, "a committed write takes them")
    }

    @Test(arguments: backends) func secondsOlderThanKeptAreForgotten(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish([h.event("a")], at: h.t0)
        try h.publish([h.event("b")], at: h.t0 + QueueSecond.kept + .seconds(2))
        let seconds = try h.store.queueSeconds(since: Timestamp(micros: 0))
        #expect(seconds.map(\.second) == [(h.t0 + QueueSecond.kept + .seconds(2)).micros / 1_000_000])
    }
}
