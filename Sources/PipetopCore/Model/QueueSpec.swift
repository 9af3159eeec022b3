/// How a queue delivers: each message on arrival, or everything at once when a window closes.
public enum QueueMode: Sendable, Equatable, CustomStringConvertible {
    case stream
    /// Messages wait (state `held`) and are released together when the window closes. Windows are
    /// aligned to the epoch, like cron: `every: .seconds(15)` closes at :00, :15, :30 and :45.
    case batch(every: Duration)

    public var description: String {
        switch self {
        case .stream: return "stream"
        case .batch(let every): return "batch/\(every.micros / 1_000_000)s"
        }
    }

    public var isBatch: Bool {
        if case .batch = self { return true }
        return false
    }

    /// The first window close strictly after `time`.
    public func nextRelease(after time: Timestamp) -> Timestamp? {
        guard case .batch(let every) = self else { return nil }
        let period = max(every.micros, 1000)
        return Timestamp(micros: (time.micros.floorDiv(period) + 1) * period)
    }
}

/// Exponential backoff with jitter: attempt n waits `min(cap, base·2^(n−1))`, of which the
/// `jitter` fraction is randomised (0 = fixed, 1 = "full jitter" in AWS's terms).
public struct Backoff: Sendable, Equatable {
    public var base: Duration
    public var cap: Duration
    public var jitter: Double

    public init(base: Duration = .milliseconds(200), cap: Duration = .seconds(30), jitter: Double = 0.5) {
        self.base = base
        self.cap = cap
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The delay before the retry that follows failed attempt `attempt` (1-based).
    /// `random` is a uniform draw in 0..<1, passed in so tests are exact.
    public func delay(afterAttempt attempt: Int, random: Double = Double.random(in: 0..<1)) -> Duration {
        let exponent = min(max(attempt - 1, 0), 40)
        let ceiling = min(Double(base.micros) * pow2(exponent), Double(cap.micros))
        let micros = ceiling * (1 - jitter * random)
        return .microseconds(Int64(micros))
    }

    private func pow2(_ n: Int) -> Double { Double(sign: .plus, exponent: n, significand: 1) }
}

/// Everything the runtime needs to know about one queue.
public struct QueueSpec: Sendable, Equatable {
    public var name: String
    public var mode: QueueMode
    /// Handlers of this queue that may run at once (one worker thread each).
    public var concurrency: Int
    /// The delivery lease: a claimed message not acked within it is delivered again.
    public var visibilityTimeout: Duration
    /// Attempts before a message is dead-lettered (the first run counts).
    public var maxAttempts: Int
    public var backoff: Backoff
    /// A message older than this (since first enqueued) is dead-lettered instead of retried.
    public var maxAge: Duration?
    /// With dead-lettering off, an exhausted message is dropped (recorded as `deleted`).
    public var deadLetter: Bool
    /// Opt-in deduplication: an event whose `source` and `id` this queue already accepted within
    /// the window is recorded `duplicate` and not delivered again (CloudEvents lets consumers treat
    /// such events as the same event). Checked when the runtime enqueues, per (queue, source, id);
    /// a replay moves an existing message back and is never a duplicate. nil: every event is enqueued.
    public var deduplicate: Duration?

    public init(
        _ name: String, mode: QueueMode = .stream, concurrency: Int = 2,
        visibilityTimeout: Duration = .seconds(30), maxAttempts: Int = 5, backoff: Backoff = Backoff(),
        maxAge: Duration? = nil, deadLetter: Bool = true, deduplicate: Duration? = nil
    ) {
        self.name = name
        self.mode = mode
        self.concurrency = concurrency
        self.visibilityTimeout = visibilityTimeout
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.maxAge = maxAge
        self.deadLetter = deadLetter
        self.deduplicate = deduplicate
    }

    /// Problems that would make this queue misbehave, named for the operator.
    func validate() throws {
        func fail(_ why: String) throws -> Never { throw ConfigurationError("queue '\(name)': \(why)") }
        if name.isEmpty || name.count > 64 || name.contains(where: { $0.isWhitespace || $0.isNewline }) {
            try fail("a queue name is 1 to 64 characters without spaces")
        }
        if concurrency < 1 || concurrency > 256 { try fail("concurrency must be 1...256, not \(concurrency)") }
        if maxAttempts < 1 { try fail("maxAttempts must be at least 1, not \(maxAttempts)") }
        if visibilityTimeout.micros < 1000 { try fail("visibility timeout must be at least 1 ms") }
        if case .batch(let every) = mode, every.micros < 10_000 { try fail("a batch window must be at least 10 ms") }
        if backoff.base.micros < 0 || backoff.cap < backoff.base { try fail("backoff needs 0 ≤ base ≤ cap") }
        if let window = deduplicate, window.micros < 1000 { try fail("a deduplication window must be at least 1 ms") }
    }
}

/// A runtime configuration that cannot work, named so the operator can fix it.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
