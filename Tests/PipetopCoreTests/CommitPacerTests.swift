import Testing
@testable import PipetopCore

/// The group-commit pacer, with explicit times (µs): it holds a tick back only while work arrives
/// fast and holding gathers more of it.
@Suite struct CommitPacerTests {
    /// Feeds `perTick` items every `every` µs for `duration` µs, as the engine would.
    func paced(_ pacer: inout CommitPacer, perTick: Int, every: Int64, for duration: Int64, from start: Int64 = 0) -> Int64 {
        var now = start
        while now < start + duration {
            pacer.note(items: perTick, at: now)
            now += every
        }
        return now
    }

    @Test func lowRatesAreNeverHeldBack() {
        // 2,000 items/s (1,000 events/s: a publish and an outcome each): 0.9 expected in 450 µs.
        var pacer = CommitPacer()
        let now = paced(&pacer, perTick: 1, every: 500, for: 200_000)
        #expect(pacer.rate > 1_500 && pacer.rate < 2_500)
        #expect(pacer.hold(lastTick: now - 100, now: now, waiting: 1) == nil)
    }

    @Test func highRatesSpaceTheTicks() {
        // 20,000 items/s: 9 expected in 450 µs, worth waiting for.
        var pacer = CommitPacer()
        let now = paced(&pacer, perTick: 2, every: 100, for: 200_000)
        #expect(pacer.hold(lastTick: now - 100, now: now, waiting: 2) == pacer.spacing - 100)
        #expect(pacer.hold(lastTick: now - pacer.spacing, now: now, waiting: 2) == nil, "the spacing has passed")
    }

    @Test func aFullInboxStartsAtOnce() {
        var pacer = CommitPacer()
        let now = paced(&pacer, perTick: 2, every: 100, for: 200_000)
        #expect(pacer.hold(lastTick: now, now: now, waiting: pacer.enough) == nil)
    }

    @Test func aClockThatJumpsNeverHoldsLongerThanTheSpacing() {
        var pacer = CommitPacer()
        let now = paced(&pacer, perTick: 2, every: 100, for: 200_000)
        #expect(pacer.hold(lastTick: now + 5_000_000, now: now, waiting: 2) == pacer.spacing)
    }

    @Test func holdsThatGatherNothingStopAndAreTriedAgainLater() {
        // A lone producer: publish, wait for the commit, publish again. The rate is high, but a
        // hold gathers nothing (the producer waits for this very tick).
        var pacer = CommitPacer()
        var now = paced(&pacer, perTick: 2, every: 100, for: 100_000)
        #expect(pacer.hold(lastTick: now, now: now, waiting: 1) != nil, "it tries holding")
        for _ in 0..<20 {
            pacer.noteHold(gathered: 0)
            now = paced(&pacer, perTick: 2, every: 100, for: 5_000, from: now)
        }
        now = paced(&pacer, perTick: 2, every: 100, for: 50_000, from: now)
        #expect(pacer.hold(lastTick: now, now: now, waiting: 1) == nil, "holding paid nothing: paused")
        now = paced(&pacer, perTick: 2, every: 100, for: Int64(pacer.pause + 1) * pacer.window, from: now)
        #expect(pacer.hold(lastTick: now, now: now, waiting: 1) != nil, "and tried again after the pause")
    }

    @Test func aFewHoldsAreEnoughToJudge() {
        var pacer = CommitPacer()
        let now = paced(&pacer, perTick: 2, every: 100, for: 100_000)
        for _ in 0..<(pacer.probe - 1) { pacer.noteHold(gathered: 1) }
        #expect(pacer.hold(lastTick: now, now: now, waiting: 1) != nil, "not judged yet")
        pacer.noteHold(gathered: 1)
        #expect(pacer.hold(lastTick: now, now: now, waiting: 1) == nil, "judged at once, without waiting for the window")
    }

    @Test func holdsThatGatherKeepHolding() {
        var pacer = CommitPacer()
        var now = paced(&pacer, perTick: 2, every: 100, for: 100_000)
        for _ in 0..<20 {
            pacer.noteHold(gathered: 8)
            now = paced(&pacer, perTick: 8, every: 450, for: 5_000, from: now)
        }
        #expect(pacer.hold(lastTick: now, now: now, waiting: 1) != nil)
    }

    @Test func aLullEndsTheHolding() {
        var pacer = CommitPacer()
        var now = paced(&pacer, perTick: 2, every: 100, for: 200_000)
        let lastTick = now - 100
        now += 100_000
        // The first item after the lull: its previous tick was long ago, so there is no hold.
        #expect(pacer.hold(lastTick: lastTick, now: now, waiting: 1) == nil)
        pacer.note(items: 1, at: now)
        // Slow arrivals from then on: once a window of them is counted, nothing is held.
        for _ in 0..<6 {
            now += 10_000
            pacer.note(items: 1, at: now)
        }
        #expect(pacer.rate < 1_000)
        #expect(pacer.hold(lastTick: now, now: now, waiting: 1) == nil)
    }
}

@Suite struct NamedThreadTests {
    @Test func kernelNamesKeepTheirSuffixWithin15Bytes() {
        #expect(NamedThread.shortName("pipetop.engine", suffix: "") == "pipetop.engine")
        #expect(NamedThread.shortName("parse", suffix: "#0") == "parse#0")
        #expect(NamedThread.shortName("listing-enrichment", suffix: "#12") == "listing-enri#12")
        #expect(NamedThread.shortName("åäöåäöåäö", suffix: "#1").utf8.count <= 15)
    }
}
