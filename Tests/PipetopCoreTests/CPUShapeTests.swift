import Foundation
import Testing
@testable import PipetopCore

/// The CPU shape's statistics and verdicts, on synthetic series of one-second samples.
@Suite struct CPUShapeTests {
    let start = Timestamp(micros: 1_800_000_000_000_000)

    /// One sample a second, `cores[i]` cores used in second i, on a queue of `capacity` threads.
    func samples(_ cores: [Double], capacity: Int = 2, scope: String = "q") -> [CPUSample] {
        cores.enumerated().map { i, used in
            CPUSample(time: start + .seconds(i + 1), scope: scope, interval: .seconds(1), cpu: .microseconds(Int64((used * 1_000_000).rounded())),
                      busy: .microseconds(Int64((used * 1_000_000).rounded())), runs: used > 0 ? 10 : 0, capacity: capacity)
        }
    }

    func shape(_ cores: [Double], capacity: Int = 2) -> CPUShape { CPUShape(scope: "q", samples: samples(cores, capacity: capacity)) }

    @Test func aSquareWaveIsSpiky() {
        // The cron: 3 s flat out on both threads, 7 s idle, six times.
        let series = (0..<60).map { $0 % 10 < 3 ? 2.0 : 0.0 }
        let s = shape(series)
        #expect(s.verdict == .spiky)
        #expect(abs(s.mean - 0.6) < 1e-9)
        #expect(s.max == 2.0)
        #expect(s.p95 == 2.0)
        #expect(abs(s.peakToMean - 2.0 / 0.6) < 1e-9)
        #expect(abs(s.idleShare - 0.7) < 1e-9)
        #expect(s.busyRuns == 6)
        // sd of a 0/2 wave with duty 0.3: 2·√(0.3·0.7); cv = that / 0.6.
        #expect(abs(s.cv - 2 * (0.3 * 0.7).squareRoot() / 0.6) < 1e-9)
        // Utilisation 0 % (42 intervals) and 100 % (18, in the top bucket).
        #expect(s.histogram == [42, 0, 0, 0, 0, 0, 0, 0, 0, 18])
        #expect(s.provisionPeak == 2.0)
        #expect(abs(s.provisionMean - 0.6) < 1e-9)
        // Half on, half off: still the cron's shape.
        #expect(shape((0..<60).map { $0 % 10 < 5 ? 1.0 : 0.0 }).verdict == .spiky)
    }

    @Test func aConstantLoadIsSteady() {
        let s = shape(Array(repeating: 0.5, count: 60))
        #expect(s.verdict == .steady)
        #expect(s.mean == 0.5 && s.max == 0.5 && s.p95 == 0.5)
        #expect(s.peakToMean == 1)
        #expect(s.cv == 0)
        #expect(s.idleShare == 0)
        #expect(s.busyRuns == 1)
        #expect(s.histogram == [0, 0, 60, 0, 0, 0, 0, 0, 0, 0])
        #expect(abs(s.meanUtilisation - 0.25) < 1e-9)
    }

    @Test func nothingIsIdle() {
        let s = shape(Array(repeating: 0, count: 60))
        #expect(s.verdict == .idle)
        #expect(s.mean == 0 && s.max == 0 && s.peakToMean == 0 && s.cv == 0)
        #expect(s.idleShare == 1)
        #expect(s.busyRuns == 0)
        // Below 0.2 ms of CPU a second is idle too.
        #expect(shape(Array(repeating: 0.0001, count: 60)).verdict == .idle)
        // No samples at all.
        let none = CPUShape(scope: "q", samples: [CPUSample]())
        #expect(none.verdict == .idle && none.intervals == 0 && none.idleShare == 1)
    }

    @Test func aNoisyLoadIsSteady() {
        var random = SeededRandom(seed: 13)
        // 0.4 cores ± 30 %, and now and then a burst of 5× (a scraper finding a dealer's stock).
        let series = (0..<300).map { i -> Double in
            let noise = 0.4 * (0.7 + 0.6 * Double(random.below(1000)) / 1000)
            return i % 12 == 6 ? noise * 5 : noise
        }
        let s = shape(series)
        #expect(s.verdict == .steady)
        #expect(s.idleShare == 0)
        #expect(s.peakToMean > 2, "the bursts make the peak high, but the stream never stops")
        #expect(s.cv > 0.3)
    }

    @Test func oneBurstIsBursty() {
        var series = Array(repeating: 0.0, count: 60)
        for i in 20..<25 { series[i] = 1.7 }  // 85 % of 2 threads
        let s = shape(series)
        #expect(s.verdict == .bursty)
        #expect(s.busyRuns == 1)
        #expect(abs(s.idleShare - 55.0 / 60) < 1e-9)
        #expect(s.maxAt == start + .seconds(21))
        #expect(s.histogram[9] == 0 && s.histogram[8] == 5 && s.histogram[0] == 55)
    }

    @Test func unevenWorkWithoutIdlenessIsBursty() {
        // Never idle, but half the seconds ten times busier than the others.
        let s = shape((0..<60).map { ($0 / 5) % 2 == 0 ? 1.0 : 0.1 })
        #expect(s.idleShare == 0)
        #expect(s.verdict == .bursty)
    }

    @Test func retryBlipsBetweenWindowsDoNotBreakTheCron() {
        // A batch window every 10 s; between them a retry's 1 ms now and then.
        let series = (0..<60).map { i -> Double in i % 10 < 2 ? 1.6 : (i % 10 == 5 ? 0.001 : 0) }
        let s = shape(series)
        #expect(s.verdict == .spiky)
        #expect(abs(s.idleShare - 0.8) < 1e-9)
    }

    @Test func percentilesAreNearestRank() {
        let s = shape((1...100).map { Double($0) / 100 })
        #expect(abs(s.p95 - 0.95) < 1e-9)
        #expect(CPUShape.percentile([], 0.95) == 0)
        #expect(CPUShape.percentile([3], 0.95) == 3)
    }

    @Test func shapesAreByScopeQueuesFirstThenTheProcess() {
        let mixed = samples([0.1, 0.2], scope: "process") + samples([1, 1], scope: "b") + samples([0, 0], scope: "a")
        let shapes = CPUShape.of(mixed.shuffled())
        #expect(shapes.map(\.scope) == ["a", "b", "process"])
        #expect(shapes[1].verdict == .steady && shapes[0].verdict == .idle)
    }

    @Test func theRulesNameTheThresholds() {
        let rules = CPUShape.rules()
        #expect(rules.map(\.0) == [.idle, .spiky, .bursty, .steady])
        #expect(rules[0].1.contains("0.2 ms") && rules[0].1.contains("2 %"))
        #expect(rules[1].1.contains("25 %") && rules[1].1.contains("2×"))
        #expect(rules[2].1.contains("10 %") && rules[2].1.contains("3×"))
    }
}
