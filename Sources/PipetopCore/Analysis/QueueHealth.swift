import Foundation

/// One queue's backlog in one second, as the transactions of that second changed it, and the
/// latencies of its successes. The store keeps `kept` of them per queue; a window of them, with the
/// queue's figures now (`QueueStats`), is what `QueueHealth` reads status, trend, time to drain
/// and percentiles from.
///
/// The lag at any second of the window follows from the lag now and these changes, counted back:
/// every change of the backlog (held + ready + scheduled + in flight) is one of them.
public struct QueueSecond: Sendable, Equatable {
    /// How long the store keeps them.
    public static let kept: Duration = .seconds(600)

    public var queue: String
    /// Seconds since the epoch (of the time of the transaction that made the change).
    public var second: Int64
    /// Messages that joined the backlog: new ones (held or not) and replays.
    public var enqueued: Int
    /// Of them, held for a batch window.
    public var held: Int
    /// Held messages a window released (they stay in the backlog, deliverable now).
    public var released: Int
    /// Messages that left the backlog: succeeded, dead-lettered, dropped.
    public var done: Int
    /// Published → succeeded of the successes (a replayed message counts from its replay).
    public var latency: LatencyBuckets
    /// The flow's first publish (its root event's) → succeeded: the pipeline up to this queue.
    public var flowLatency: LatencyBuckets

    public init(queue: String, second: Int64, enqueued: Int = 0, held: Int = 0, released: Int = 0, done: Int = 0,
                latency: LatencyBuckets = LatencyBuckets(), flowLatency: LatencyBuckets = LatencyBuckets()) {
        self.queue = queue
        self.second = second
        self.enqueued = enqueued
        self.held = held
        self.released = released
        self.done = done
        self.latency = latency
        self.flowLatency = flowLatency
    }

    /// The change of the lag (`QueueStats.lagMessages`) in this second.
    var lagChange: Int { enqueued - done }
    /// The change of what is deliverable (ready, scheduled, in flight: the lag less the held).
    var deliverableChange: Int { enqueued - held + released - done }
}

/// What one transaction did to one queue's second (`QueueSecond`): `Tick` counts it, a backend
/// adds it to the stored second.
struct BacklogChange {
    var enqueued = 0
    var held = 0
    var released = 0
    var done = 0
    var latency = LatencyBuckets.Tally()
    var flowLatency = LatencyBuckets.Tally()
}

/// Where a queue is going, over a window: Burrow's status, the lag's trend, a time to drain from
/// the arrival and completion rates, and end-to-end latency percentiles. Worked out from the
/// store's figures (`QueueStats` now, `QueueSecond`s of the window, the consumer's heartbeat),
/// never from what a reader happened to see, so the dashboard and `pipetop queues` agree.
public struct QueueHealth: Sendable, Equatable {
    /// The sliding window of the rates, the status and the percentiles.
    public static let window: Duration = .seconds(60)
    /// The trend compares the lag now with the lag this long ago.
    public static let trendWindow: Duration = .seconds(10)
    /// Less history than this (the queue was declared since): no status yet.
    public static let minimumHistory: Duration = .seconds(10)
    /// A batch queue's held messages older than its window plus this: the window did not release.
    public static let releaseGrace: Duration = .seconds(5)

    /// Burrow's rules, checked in this order (`rules` says them in words).
    public enum Status: String, Sendable, Equatable, CaseIterable {
        /// No live heartbeat from the runtime that consumes the queue.
        case stopped = "STOPPED"
        /// Nothing completed over the window while messages waited (and some are deliverable now),
        /// or a batch window did not release its held messages.
        case stalled = "STALLED"
        /// The lag never fell over the window, and rose.
        case slow = "SLOW"
        /// The lag reached zero, or fell, in the window.
        case ok = "OK"
    }

    /// The rules, in words, for help and `pipetop queues --help`.
    public static let rules: [(Status, String)] = [
        (.stopped, "no live heartbeat from the runtime that consumes it"),
        (.stalled, "none done in 60 s while some wait, or a batch window late"),
        (.slow, "the lag never fell in 60 s, and rose"),
        (.ok, "the lag reached 0 or fell in 60 s"),
    ]

    public enum Trend: Sendable, Equatable {
        case rising(by: Int)
        case falling(by: Int)
        case flat
    }

    public enum Drain: Sendable, Equatable {
        /// Nothing waits.
        case drained
        /// At the window's rates (completions outpace arrivals).
        case within(Duration)
        /// Completions keep pace with arrivals over the window, and the lag is not rising now or
        /// nothing waits for a worker (what waits is in flight, or a retry waiting for its time).
        case steady
        /// Nothing completes while messages are deliverable; or arrivals keep pace with
        /// completions or outrun them, the lag is rising and messages wait for a worker.
        case never
        /// A batch queue's held messages leave when its window closes, at this time.
        case nextWindow(Timestamp)
    }

    /// nil: not enough history yet (`reason` says how much there is).
    public var status: Status?
    /// Why, in words.
    public var reason: String
    /// The lag now against `trendWindow` ago.
    public var trend: Trend
    public var drain: Drain
    public var arrivalsPerSecond: Double
    public var completionsPerSecond: Double
    /// The history the figures are over: the window, or less for a queue declared since.
    public var span: Duration
    /// The lag at the start of each second of the span, then now (the last value is `QueueStats.lagMessages`).
    public var lag: [Int]
    /// Published → succeeded on this queue, over the span.
    public var latency: LatencyPercentiles?
    /// The flow's first publish → succeeded on this queue: the pipeline up to here.
    public var flowLatency: LatencyPercentiles?

    /// The health of `stats`'s queue at `now`, from its `seconds` (any order, other queues' ignored)
    /// and the runtime that consumes it (nil: none is registered).
    public init(_ stats: QueueStats, seconds: [QueueSecond], consumer: RuntimeInfo?, now: Timestamp) {
        // The whole seconds of the window (the first one that starts in it), or since the declaration.
        let current = now.micros.floorDiv(1_000_000)
        var first = (now - Self.window).micros.floorDiv(1_000_000) + 1
        if let declared = stats.declaredAt { first = max(first, declared.micros.floorDiv(1_000_000)) }
        first = min(first, current)
        let count = Int(current - first) + 1
        span = now - Timestamp(micros: first * 1_000_000)

        var lagChanges = [Int](repeating: 0, count: count)
        var deliverableChanges = [Int](repeating: 0, count: count)
        var arrived = 0, done = 0
        var latencies: [LatencyBuckets] = [], flowLatencies: [LatencyBuckets] = []
        for second in seconds where second.queue == stats.name && second.second >= first && second.second <= current {
            let index = Int(second.second - first)
            lagChanges[index] += second.lagChange
            deliverableChanges[index] += second.deliverableChange
            arrived += second.enqueued
            done += second.done
            latencies.append(second.latency)
            flowLatencies.append(second.flowLatency)
        }
        // Counted back from now: the value at the start of each second, then now.
        func series(now value: Int, _ changes: [Int]) -> [Int] {
            var values = [Int](repeating: 0, count: changes.count + 1)
            values[changes.count] = value
            for index in changes.indices.reversed() { values[index] = values[index + 1] - changes[index] }
            return values.map { max(0, $0) }
        }
        lag = series(now: stats.lagMessages, lagChanges)
        let deliverable = series(now: stats.lagMessages - stats.held, deliverableChanges)
        let seconds = max(span.secondsDouble, 1e-6)
        arrivalsPerSecond = Double(arrived) / seconds
        completionsPerSecond = Double(done) / seconds
        latency = LatencyPercentiles(latencies)
        flowLatency = LatencyPercentiles(flowLatencies)

        let back = min(count, Int(Self.trendWindow.micros / 1_000_000))
        let change = lag[count] - lag[count - back]
        trend = change > 0 ? .rising(by: change) : change < 0 ? .falling(by: -change) : .flat

        if stats.lagMessages == 0 {
            drain = .drained
        } else if stats.held > 0, let release = stats.mode?.nextRelease(after: now) {
            drain = .nextWindow(release)
        } else if done > arrived {
            drain = .within(.microseconds(Int64(Double(stats.lagMessages) / (completionsPerSecond - arrivalsPerSecond) * 1_000_000)))
        } else if stats.ready + stats.inFlight > 0 && done == 0 || stats.ready > 0 && change > 0 {
            // Nothing completes; or arrivals keep pace with completions or outrun them, the lag
            // rises and messages wait for a worker: it grows.
            drain = .never
        } else {
            // What waits is being worked on, or waits for its retry's time.
            drain = .steady
        }

        let window = Format.seconds(span)
        if consumer?.isLive(at: now) != true {
            status = .stopped
            reason = consumer.map { runtime in
                runtime.stoppedAt != nil ? "its runtime \(runtime.name) stopped \(Format.seconds(now - runtime.stoppedAt!)) ago"
                    : "its runtime \(runtime.name) sent no heartbeat for \(Format.seconds(now - runtime.heartbeatAt))"
            } ?? (stats.mode == nil ? "no runtime declared this queue" : "its runtime \(stats.runtime ?? "?") is not registered")
        } else if case .batch(let every)? = stats.mode, let held = stats.oldestHeldAt, now - held > every + Self.releaseGrace {
            status = .stalled
            reason = "held messages have waited \(Format.seconds(now - held)), past the \(Format.seconds(every)) window: it did not release them"
        } else if span < Self.minimumHistory {
            status = nil
            reason = "\(window) of history so far: a status needs \(Format.seconds(Self.minimumHistory))"
        } else if deliverable.contains(0) {
            status = .ok
            reason = stats.lagMessages == stats.held && stats.held > 0 ? "nothing deliverable waits: \(stats.held) held for the window"
                : "the lag reached 0 in the last \(window)"
        } else if done == 0 {
            if stats.ready + stats.inFlight > 0 {
                status = .stalled
                reason = "nothing completed in \(window) while \(deliverable.min()!)–\(deliverable.max()!) messages waited"
            } else {
                status = .ok
                reason = "only retries scheduled for later wait (\(stats.scheduled))"
            }
        } else if zip(deliverable, deliverable.dropFirst()).allSatisfy({ $1 >= $0 }), deliverable.last! > deliverable.first! {
            status = .slow
            reason = "the lag rose from \(deliverable.first!) to \(deliverable.last!) in \(window) and never fell, while \(done) completed"
        } else {
            status = .ok
            reason = deliverable.last! == deliverable.first! && Set(deliverable).count == 1
                ? "the lag held at \(deliverable.last!) for \(window) while \(done) completed"
                : "the lag fell in the last \(window) (\(done) completed)"
        }
    }

    /// Every queue's health, its consumer found among `runtimes` (as the queue's declaration names it).
    public static func of(_ queues: [QueueStats], seconds: [QueueSecond], runtimes: [RuntimeInfo], now: Timestamp) -> [String: QueueHealth] {
        let byQueue = Dictionary(grouping: seconds, by: \.queue)
        var health: [String: QueueHealth] = [:]
        for queue in queues {
            let consumer = queue.runtime.flatMap { name in runtimes.first { $0.name == name } }
            health[queue.name] = QueueHealth(queue, seconds: byQueue[queue.name] ?? [], consumer: consumer, now: now)
        }
        return health
    }
}

extension QueueHealth {
    /// Short forms for reasons (the dashboard formats its own figures).
    enum Format {
        static func seconds(_ duration: Duration) -> String {
            let value = duration.secondsDouble
            if value >= 120 { return "\(Int(value / 60)) min" }
            return value >= 10 || value == value.rounded() ? "\(Int(value.rounded())) s" : String(format: "%.1f s", value)
        }
    }
}
