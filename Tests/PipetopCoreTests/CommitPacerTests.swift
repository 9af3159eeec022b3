import Testing
@testable import PipetopCore

/// The group-commit pacer, with explicit times: it holds a tick back only while work arrives fast.
@Suite struct CommitPacerTests {
    let t0 = Timestamp(micros: 1_800_000_000_000_000)

    /// Feeds `perTick` items every `every` for `duration`, as the engine would, and returns the pacer.
    func paced(perTick: Int, every: Duration, for duration: Duration) -> (CommitPacer, Timestamp) {
        var pacer = CommitPacer()
        var now = t0
        while now < t0 + duration {
            pacer.note(items: perTick, at: now)
            now = now + every
        }
        return (pacer, now)
    }

    @Test func lowRatesAreNeverHeldBack() {
        // 2,000 items/s (1,000 events/s: a publish and an outcome each): 0.9 expected in 450 µs.
        let (pacer, now) = paced(perTick: 1, every: .microseconds(500), for: .milliseconds(200))
        #expect(pacer.rate > 1_500 && pacer.rate < 2_500)
        #expect(pacer.hold(lastTick: now, waiting: 1) == nil)
    }

    @Test func highRatesSpaceTheTicks() {
        // 20,000 items/s: 9 expected in 450 µs, worth waiting for.
        let (pacer, now) = paced(perTick: 2, every: .microseconds(100), for: .milliseconds(200))
        #expect(pacer.hold(lastTick: now, waiting: 2) == now + pacer.spacing)
    }

    @Test func aFullInboxStartsAtOnce() {
        let (pacer, now) = paced(perTick: 2, every: .microseconds(100), for: .milliseconds(200))
        #expect(pacer.hold(lastTick: now, waiting: pacer.enough) == nil)
    }

    @Test func aLullEndsTheHolding() {
        var (pacer, now) = paced(perTick: 2, every: .microseconds(100), for: .milliseconds(200))
        let lastTick = now - .microseconds(100)
        now = now + .milliseconds(100)
        // The first item after the lull: its previous tick was long ago, so any hold is over.
        if let until = pacer.hold(lastTick: lastTick, waiting: 1) { #expect(until <= now) }
        pacer.note(items: 1, at: now)
        // Slow arrivals from then on: once a window of them is counted, nothing is held.
        for _ in 0..<6 {
            now = now + .milliseconds(10)
            pacer.note(items: 1, at: now)
        }
        #expect(pacer.rate < 1_000)
        #expect(pacer.hold(lastTick: now, waiting: 1) == nil)
    }
}
