import Foundation
import Histogram
import Testing
@testable import PipetopCore

/// Status, trend, time to drain and latency of a queue, worked out from synthetic arrival and
/// completion series (as the store's `QueueSecond`s hold them) and the queue's figures now.
@Suite struct QueueHealthTests {
    let now = Timestamp(micros: 1_800_000_060_400_000)  // 0.4 s into a second
    var second: Int64 { now.micros / 1_000_000 }

    func consumer(heartbeat: Duration = .milliseconds(300), stopped: Bool = false) -> RuntimeInfo {
        RuntimeInfo(name: "rt", pid: 1, host: "h", store: "s", startedAt: now - .seconds(3600), heartbeatAt: now - heartbeat,
                    stoppedAt: stopped ? now - heartbeat : nil)
    }

    /// A stream queue declared an hour ago by `rt`, with `ready` and `inFlight` now.
    func queue(ready: Int = 0, inFlight: Int = 0, scheduled: Int = 0, held: Int = 0, mode: QueueMode = .stream) -> QueueStats {
        var stats = QueueStats(name: "q", mode: mode, concurrency: 2, maxAttempts: 3)
        stats.ready = ready
        stats.inFlight = inFlight
        stats.scheduled = scheduled
        stats.held = held
        stats.runtime = "rt"
        stats.declaredAt = now - .seconds(3600)
        return stats
    }

    /// The last `arrivals.count` seconds (the current one last): so many arrived and were done in each.
    func series(arrivals: [Int], done: [Int], held: [Int]? = nil, released: [Int]? = nil) -> [QueueSecond] {
        arrivals.indices.map { index in
            QueueSecond(queue: "q", second: second - Int64(arrivals.count - 1 - index), enqueued: arrivals[index], held: held?[index] ?? 0,
                        released: released?[index] ?? 0, done: done[index])
        }
    }

    func health(_ stats: QueueStats, _ seconds: [QueueSecond], consumer: RuntimeInfo? = nil) -> QueueHealth {
        QueueHealth(stats, seconds: seconds, consumer: consumer ?? self.consumer(), now: now)
    }

    @Test func aQueueThatEmptiesIsOKAndDrained() {
        let h = health(queue(), series(arrivals: Array(repeating: 5, count: 60), done: Array(repeating: 5, count: 60)))
        #expect(h.status == .ok)
        #expect(h.drain == .drained)
        #expect(h.trend == .flat)
        #expect(h.arrivalsPerSecond > 4.9 && h.arrivalsPerSecond < 5.1)
        #expect(h.lag.allSatisfy { $0 == 0 })
    }

    /// 10 in, 8 done every second: the lag rises by 2 a second and never falls.
    @Test func aLagThatNeverFallsIsSlowAndNeverDrains() {
        let h = health(queue(ready: 130, inFlight: 20), series(arrivals: Array(repeating: 10, count: 60), done: Array(repeating: 8, count: 60)))
        #expect(h.status == .slow)
        #expect(h.reason.contains("never fell"))
        #expect(h.drain == .never)
        #expect(h.trend == .rising(by: 20))
        #expect(h.lag.last == 150 && h.lag.first == 30)
        // Burrow: a lag that was 0 at any point of the window is OK.
        #expect(health(queue(ready: 100, inFlight: 20), series(arrivals: Array(repeating: 10, count: 60), done: Array(repeating: 8, count: 60))).status == .ok)
    }

    /// The issue's series: 131, 156, 182 while it grows is rising, never ↓.
    @Test func theTrendAgreesWithTheNumbers() {
        var seconds = series(arrivals: Array(repeating: 2, count: 60), done: Array(repeating: 2, count: 60))
        // The last three seconds: +25, +26 (the lag read 131, then 156, then 182).
        seconds[58].enqueued += 25
        seconds[59].enqueued += 26
        let h = health(queue(ready: 182), seconds)
        #expect(h.lag.suffix(3) == [131, 156, 182])
        #expect(h.trend == .rising(by: 51))
        #expect(h.drain == .never)
    }

    @Test func nothingCompletingWhileMessagesWaitIsStalled() {
        let h = health(queue(ready: 40, inFlight: 2), series(arrivals: Array(repeating: 0, count: 59) + [1], done: Array(repeating: 0, count: 60)))
        #expect(h.status == .stalled)
        #expect(h.drain == .never)
    }

    @Test func onlyRetriesScheduledForLaterAreNotAStall() {
        let h = health(queue(scheduled: 3), series(arrivals: Array(repeating: 0, count: 60), done: Array(repeating: 0, count: 60)))
        #expect(h.status == .ok)
        #expect(h.reason.contains("scheduled"))
    }

    @Test func aConsumerWithoutAHeartbeatIsStoppedWhateverTheLag() {
        let series = self.series(arrivals: Array(repeating: 5, count: 60), done: Array(repeating: 5, count: 60))
        #expect(health(queue(), series, consumer: consumer(heartbeat: .seconds(30))).status == .stopped)
        #expect(health(queue(), series, consumer: consumer(stopped: true)).reason.contains("stopped"))
        var undeclared = queue()
        undeclared.runtime = nil
        #expect(QueueHealth(undeclared, seconds: series, consumer: nil, now: now).status == .stopped)
    }

    /// 2 in, 5 done a second: the lag falls by 3 a second, so 30 waiting drain in 10 s.
    @Test func catchingUpDrainsAtTheNetRate() {
        let h = health(queue(ready: 30), series(arrivals: Array(repeating: 2, count: 60), done: Array(repeating: 5, count: 60)))
        #expect(h.status == .ok)
        guard case .within(let time) = h.drain else { Issue.record("drain \(h.drain)"); return }
        // Over the window's span (59.4 s: its whole seconds up to now), 3 a second net.
        let expected = 30 / ((5.0 - 2.0) * 60 / h.span.secondsDouble)
        #expect(abs(time.secondsDouble - expected) < 0.01)
        #expect(h.trend == .falling(by: 30))
    }

    @Test func completionsKeepingPaceWithArrivalsAreSteady() {
        let h = health(queue(inFlight: 9), series(arrivals: Array(repeating: 3, count: 60), done: Array(repeating: 3, count: 60)))
        #expect(h.drain == .steady)
        #expect(h.status == .ok)
        #expect(h.lag.allSatisfy { $0 == 9 })
    }

    /// Held messages pile up for the window (the lag grows), but nothing deliverable waits: OK,
    /// draining at the next window.
    @Test func aBatchQueueWaitsForItsNextWindow() {
        let mode = QueueMode.batch(every: .seconds(15))
        var stats = queue(held: 24, mode: mode)
        stats.oldestHeldAt = now - .seconds(14)
        let h = health(stats, series(arrivals: Array(repeating: 0, count: 46) + Array(repeating: 2, count: 12) + [0, 0],
                                     done: Array(repeating: 0, count: 60), held: Array(repeating: 0, count: 46) + Array(repeating: 2, count: 12) + [0, 0]))
        #expect(h.status == .ok)
        #expect(h.drain == .nextWindow(mode.nextRelease(after: now)!))
        #expect(h.trend == .rising(by: 16))
    }

    @Test func aBatchWindowThatDidNotReleaseIsStalled() {
        var stats = queue(held: 24, mode: .batch(every: .seconds(15)))
        stats.oldestHeldAt = now - .seconds(21)
        let h = health(stats, series(arrivals: Array(repeating: 0, count: 60), done: Array(repeating: 0, count: 60)))
        #expect(h.status == .stalled)
        #expect(h.reason.contains("did not release"))
    }

    /// A window released 24 (held → ready), which then drain: the deliverable lag reaches 0.
    @Test func releasedMessagesCountAsDeliverableFromTheirRelease() {
        var held = Array(repeating: 0, count: 60), released = held, arrivals = held, done = held
        for s in 0..<24 { arrivals[s] = 1; held[s] = 1 }
        released[30] = 24
        for s in 31..<55 { done[s] = 1 }
        let h = health(queue(mode: .batch(every: .seconds(15))), series(arrivals: arrivals, done: done, held: held, released: released))
        #expect(h.status == .ok)
        #expect(h.drain == .drained)
        #expect(h.lag.max() == 24)
    }

    @Test func aQueueDeclaredMomentsAgoHasNoStatusYet() {
        var stats = queue(ready: 3)
        stats.declaredAt = now - .seconds(4)
        let h = health(stats, series(arrivals: [0, 0, 0, 0, 3], done: [0, 0, 0, 0, 0]))
        #expect(h.status == nil)
        #expect(h.span < .seconds(5))
    }

    @Test func latencyPercentilesComeFromTheWindowsBuckets() {
        var tally = LatencyBuckets.Tally(), other = LatencyBuckets.Tally()
        for ms in 1...100 {
            if ms % 2 == 0 { tally.record(.milliseconds(Int64(ms))) } else { other.record(.milliseconds(Int64(ms))) }
        }
        var seconds = series(arrivals: Array(repeating: 0, count: 60), done: Array(repeating: 0, count: 60))
        seconds[10].latency = tally.buckets
        seconds[40].latency = other.buckets
        seconds[40].flowLatency = other.buckets
        let h = health(queue(), seconds)
        let p = try! #require(h.latency)
        #expect(p.count == 100)
        #expect(abs(p.p50.secondsDouble - 0.050) < 0.0006)
        #expect(abs(p.p95.secondsDouble - 0.095) < 0.001)
        #expect(abs(p.p99.secondsDouble - 0.099) < 0.001)
        #expect(h.flowLatency?.count == 50)
        // Outside the window: not counted.
        var old = seconds
        old[10].second -= 120
        #expect(health(queue(), old).latency?.count == 50)
    }
}

@Suite struct LatencyBucketsTests {
    @Test func mergingEncodedBucketsEqualsRecordingBoth() {
        var a = LatencyBuckets.Tally(), b = LatencyBuckets.Tally(), both = LatencyBuckets.Tally()
        var random = SeededRandom(seed: 7)
        for _ in 0..<2_000 {
            let micros = Int64(random.below(5_000_000)) + 1
            if random.chance(50) { a.record(.microseconds(micros)) } else { b.record(.microseconds(micros)) }
            both.record(.microseconds(micros))
        }
        #expect(LatencyBuckets.merged(a.buckets, b.buckets) == both.buckets)
        #expect(LatencyBuckets.merged(a.buckets, LatencyBuckets()) == a.buckets)
        var counted: UInt64 = 0
        both.buckets.forEach { _, count in counted += count }
        #expect(counted == 2_000)
    }

    @Test func bucketsAreHdrHistogramsOwn() {
        var tally = LatencyBuckets.Tally()
        var histogram = LatencyBuckets.shape
        for micros in [1, 999, 1_000, 12_345, 987_654, 3_599_999_999] as [UInt64] {
            tally.record(.microseconds(Int64(micros)))
            _ = histogram.record(micros)
        }
        var fromBuckets = LatencyBuckets.shape
        tally.buckets.add(into: &fromBuckets)
        for percentile in [10.0, 50, 90, 99, 100] {
            #expect(histogram.valuesAreEquivalent(fromBuckets.valueAtPercentile(percentile), histogram.valueAtPercentile(percentile)))
        }
        // Longer than an hour counts as an hour; negative (a clock step back) as zero.
        var edge = LatencyBuckets.Tally()
        edge.record(.seconds(7200))
        edge.record(.microseconds(-5))
        #expect(LatencyPercentiles([edge.buckets])?.count == 2)
    }

    @Test func malformedBytesStopTheReadingNeverTrap() {
        let bytes = LatencyBuckets(encoded: Data([0x85, 0x01, 0x02, 0xFF]))
        var seen: [(UInt64, UInt64)] = []
        bytes.forEach { seen.append(($0, $1)) }
        #expect(seen.count == 1 && seen[0] == (133, 2))
    }
}
