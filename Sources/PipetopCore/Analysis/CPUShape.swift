import Foundation

/// The shape of one scope's CPU use (a queue's handlers, or the whole process) over a window of
/// samples: the statistics of its per-interval use, a histogram of its utilisation, what it costs
/// to provision, and a verdict in one word (the seeds' "spiky batch vs steady stream").
///
/// Every figure comes from the stored `CPUSample`s: cores used in an interval is its CPU time over
/// its length; utilisation is that over the scope's capacity (a queue's concurrency, the
/// machine's cores for the process). A handler run's CPU counts in the interval it finished in.
public struct CPUShape: Sendable, Equatable {
    public enum Verdict: String, Sendable, Equatable, CaseIterable {
        case idle, steady, bursty, spiky
    }

    /// The thresholds of the verdict, in one place: `rules` states them in words (help, CLI).
    public struct Thresholds: Sendable, Equatable {
        /// An interval is idle when it used less than this many cores (0.2 ms of CPU per second)…
        public var idleCores = 0.0002
        /// …or less than this share of the window's busiest interval (a retry's blip between two
        /// batch windows is not work the shape is about).
        public var idleOfPeak = 0.02
        /// Spiky and the lone burst: at least this share of the intervals idle…
        public var mostlyIdle = 0.25
        /// …and the peak at least this many times the mean.
        public var spikyPeakToMean = 2.0
        /// Steady: less than this share idle…
        public var steadyIdle = 0.1
        /// …and the busy intervals' upper quartile within this many times their lower quartile.
        public var steadyQuartileRatio = 3.0

        public init() {}
    }

    public static let thresholds = Thresholds()

    /// The verdict's rules, the first that holds, in words (the help screen and `pipetop cpu --help`).
    public static func rules(_ t: Thresholds = thresholds) -> [(Verdict, String)] {
        let idle = String(format: "%g", t.idleCores * 1000)
        return [
            (.idle, "no busy interval (an interval is idle under \(idle) ms of CPU per second or under \(percent(t.idleOfPeak)) of the window's peak)"),
            (.spiky, "idle in ≥ \(percent(t.mostlyIdle)) of the intervals, peak ≥ \(String(format: "%g", t.spikyPeakToMean))× the mean, busy in 2 or more separate runs (the cron: idle, flat out, idle)"),
            (.bursty, "idle in ≥ \(percent(t.mostlyIdle)) with one busy run (a lone burst), idle in ≥ \(percent(t.steadyIdle)), or the busy intervals uneven (upper quartile > \(String(format: "%g", t.steadyQuartileRatio))× the lower)"),
            (.steady, "otherwise: busy in more than \(percent(1 - t.steadyIdle)) of the intervals at an even level"),
        ]
    }

    static func percent(_ share: Double) -> String { "\(Int((share * 100).rounded())) %" }

    public var scope: String
    /// Threads that could have run (the newest sample's).
    public var capacity: Int
    /// Intervals in the window (samples of this scope).
    public var intervals: Int
    /// The window's samples' total length.
    public var span: Duration
    /// Cores used per interval: mean, 95th percentile, max.
    public var mean: Double
    public var p95: Double
    public var max: Double
    /// When the busiest interval ended.
    public var maxAt: Timestamp?
    /// max ÷ mean (0 when idle).
    public var peakToMean: Double
    /// Coefficient of variation: standard deviation ÷ mean (0 when idle).
    public var cv: Double
    /// Share of the intervals that were idle (`Thresholds.idleCores`, `idleOfPeak`).
    public var idleShare: Double
    /// Separate runs of busy intervals.
    public var busyRuns: Int
    /// Intervals by utilisation (cores ÷ capacity): 10 buckets, 0–10 % … 90–100 %.
    public var histogram: [Int]
    /// Handler runs finished in the window.
    public var runs: Int
    public var verdict: Verdict

    /// Cores to provision for the peak (its busiest interval) and for the mean: what the shape costs.
    public var provisionPeak: Double { max }
    public var provisionMean: Double { mean }
    /// Mean utilisation of the capacity.
    public var meanUtilisation: Double { capacity > 0 ? mean / Double(capacity) : 0 }

    /// The shape of `samples` (one scope's, oldest first).
    public init(scope: String, samples: [CPUSample], thresholds t: Thresholds = CPUShape.thresholds) {
        self.init(scope: scope, samples: samples[...], thresholds: t)
    }

    /// The shape of a slice of one scope's samples, oldest first (the screen's window of what it
    /// holds). Concrete, not generic: called from another module, a generic one ran unspecialised.
    public init(scope: String, samples: ArraySlice<CPUSample>, thresholds t: Thresholds = CPUShape.thresholds) {
        self.scope = scope
        capacity = samples.last?.capacity ?? 0
        intervals = samples.count
        var spanMicros: Int64 = 0, runs = 0
        for index in samples.indices {
            spanMicros += samples[index].interval.micros
            runs += samples[index].runs
        }
        span = .microseconds(spanMicros)
        self.runs = runs
        var cores: [Double] = []
        cores.reserveCapacity(samples.count)
        var histogram = [Int](repeating: 0, count: 10)
        var top = 0.0, topAt: Timestamp?
        for index in samples.indices {
            let sample = samples[index]
            let used = sample.cores
            cores.append(used)
            if topAt == nil || used > top { top = used; topAt = sample.time }
            let utilisation = sample.capacity > 0 ? used / Double(sample.capacity) : 0
            histogram[Swift.min(9, Swift.max(0, Int(utilisation * 10)))] += 1
        }
        self.histogram = histogram
        max = top
        maxAt = topAt
        let count = Double(Swift.max(cores.count, 1))
        let mean = cores.reduce(0, +) / count
        self.mean = mean
        let variance = cores.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / count
        cv = mean > 0 ? variance.squareRoot() / mean : 0
        peakToMean = mean > 0 ? top / mean : 0
        let sorted = cores.sorted()
        p95 = Self.percentile(sorted, 0.95)
        let idleBelow = Swift.max(t.idleCores, t.idleOfPeak * top)
        var idle = 0, busyRuns = 0, inRun = false
        for used in cores {
            if used < idleBelow {
                idle += 1
                inRun = false
            } else {
                if !inRun { busyRuns += 1 }
                inRun = true
            }
        }
        self.busyRuns = busyRuns
        idleShare = cores.isEmpty ? 1 : Double(idle) / Double(cores.count)
        // The busy intervals are the sorted values from the first at or above the idle line.
        var firstBusy = sorted.count
        do {
            var low = 0, high = sorted.count
            while low < high {
                let middle = (low + high) / 2
                if sorted[middle] < idleBelow { low = middle + 1 } else { high = middle }
            }
            firstBusy = low
        }
        let busy = sorted[firstBusy...]
        let quartileRatio: Double = {
            guard !busy.isEmpty else { return 1 }
            let low = Self.percentile(busy, 0.25), high = Self.percentile(busy, 0.75)
            return low > 0 ? high / low : .infinity
        }()

        if busy.isEmpty {
            verdict = .idle
        } else if idleShare >= t.mostlyIdle && peakToMean >= t.spikyPeakToMean && busyRuns >= 2 {
            verdict = .spiky
        } else if idleShare >= t.steadyIdle || quartileRatio > t.steadyQuartileRatio {
            verdict = .bursty
        } else {
            verdict = .steady
        }
    }

    /// Nearest-rank percentile of sorted values (0 when empty).
    static func percentile(_ sorted: some RandomAccessCollection<Double>, _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[sorted.index(sorted.startIndex, offsetBy: Swift.min(sorted.count - 1, Swift.max(0, rank - 1)))]
    }

    /// The shapes of every scope in `samples` (any order), queues by name then the process.
    public static func of(_ samples: [CPUSample], thresholds: Thresholds = CPUShape.thresholds) -> [CPUShape] {
        byScope(samples).map { CPUShape(scope: $0.key, samples: $0.value, thresholds: thresholds) }
    }

    /// Samples grouped by scope, each oldest first; queues by name, then the process.
    public static func byScope(_ samples: [CPUSample]) -> [(key: String, value: [CPUSample])] {
        var groups: [String: [CPUSample]] = [:]
        for sample in samples { groups[sample.scope, default: []].append(sample) }
        return groups.map { (key: $0.key, value: $0.value.sorted { $0.time < $1.time }) }
            .sorted { order($0.key) < order($1.key) }
    }

    /// Queues by name, the process last.
    public static func order(_ scope: String) -> (Int, String) {
        (scope == CPUSample.processScope ? 1 : 0, scope)
    }
}

/// How long CPU samples are kept: the runtime deletes those older than `age` and, beyond
/// `count`, the oldest, once a minute (and at its first sample).
public struct CPURetention: Sendable, Equatable {
    public var age: Duration
    public var count: Int

    public static let `default` = CPURetention(age: .seconds(24 * 3600), count: 1_000_000)

    public init(age: Duration, count: Int) {
        self.age = age
        self.count = count
    }
}

/// What `pipetop cpu` and the CPU screen show beside each shape: its queue's mode and end-to-end
/// latency (the flow's first publish → succeeded on the queue), over the same window as far as
/// the store keeps it (`QueueSecond.kept`).
public struct CPUShapeReport: Sendable, Equatable {
    public var window: Duration
    public var shapes: [CPUShape]
    /// Per queue: "stream" or "batch every …" (declared queues only).
    public var modes: [String: String]
    public var latency: [String: LatencyPercentiles]
    /// The span the latency covers (the window, or what the store keeps of it).
    public var latencyWindow: Duration

    public init(window: Duration, shapes: [CPUShape], modes: [String: String], latency: [String: LatencyPercentiles], latencyWindow: Duration) {
        self.window = window
        self.shapes = shapes
        self.modes = modes
        self.latency = latency
        self.latencyWindow = latencyWindow
    }

    /// Reads the window ending `now` in one snapshot.
    public static func read(_ snapshot: StoreSnapshot, window: Duration, now: Timestamp, thresholds: CPUShape.Thresholds = CPUShape.thresholds) throws -> CPUShapeReport {
        let samples = try snapshot.cpuSamples(since: now - window)
        let latencyWindow = min(window, QueueSecond.kept)
        let seconds = try snapshot.queueSeconds(since: now - latencyWindow)
        let queues = try snapshot.queueStats(now: now)
        return CPUShapeReport(
            window: window, shapes: CPUShape.of(samples, thresholds: thresholds),
            modes: Dictionary(queues.map { ($0.name, $0.modeName) }, uniquingKeysWith: { a, _ in a }),
            latency: latency(seconds), latencyWindow: latencyWindow)
    }

    /// Each queue's flow latency percentiles over `seconds`.
    public static func latency(_ seconds: [QueueSecond]) -> [String: LatencyPercentiles] {
        var parts: [String: [LatencyBuckets]] = [:]
        for second in seconds where !second.flowLatency.isEmpty { parts[second.queue, default: []].append(second.flowLatency) }
        return parts.compactMapValues { LatencyPercentiles($0) }
    }
}
