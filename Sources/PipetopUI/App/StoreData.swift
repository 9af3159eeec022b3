import PipetopCore

/// One store read a screen (or the dashboard's header) needs while visible. The poller runs the
/// reads of everything visible in one consistent read (one `StoreSnapshot`) and hands the values over in a
/// `DataSnapshot`. A new data need is one new `DataKey` in `StoreData`: its name, its read, its type.
public struct DataNeed: Hashable, Sendable {
    public let name: String
    let read: @Sendable (StoreSnapshot, ReadContext) throws -> any Sendable

    public static func == (a: DataNeed, b: DataNeed) -> Bool { a.name == b.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}

/// A `DataNeed` with the type of its value, for reading it back out of a snapshot.
public struct DataKey<Value: Sendable>: Sendable {
    public let need: DataNeed
    public init(_ name: String, read: @escaping @Sendable (StoreSnapshot, ReadContext) throws -> Value) {
        need = DataNeed(name: name) { store, context in try read(store, context) }
    }
}

/// What a read may depend on: the reader's clock, and where it is in the log.
public struct ReadContext: Sendable {
    public var now: Timestamp
    public var log: LogCursor
    public init(now: Timestamp, log: LogCursor) {
        self.now = now
        self.log = log
    }
}

/// Where the poller is in the log: after `after` (nil: not read yet, take the newest `capacity`).
public struct LogCursor: Sendable {
    public var after: Int64?
    /// At most this many records per poll when continuing.
    public var limit: Int
    public var capacity: Int
    /// The log was not needed for a while (its screen was hidden): if more than `capacity` records
    /// came meanwhile, take the newest instead of crawling through the gap.
    public var resumed: Bool
    public init(after: Int64?, limit: Int, capacity: Int, resumed: Bool = false) {
        self.after = after
        self.limit = limit
        self.capacity = capacity
        self.resumed = resumed
    }
}

/// Records of the log read by one poll.
public struct LogPage: Sendable {
    public var records: [LifecycleRecord]
    /// The newest records of the store, not a continuation of the last page: they replace the ring.
    public var reset: Bool
    public init(records: [LifecycleRecord], reset: Bool) {
        self.records = records
        self.reset = reset
    }
}

/// Every read the dashboard's screens can ask for.
public enum StoreData {
    /// With the registry's word on stores that refuse a runtime's writes (`Registry.annotated`).
    public static let runtimes = DataKey<[RuntimeInfo]>("runtimes") { store, _ in Registry.annotated(try store.runtimes()) }
    public static let publishedTotal = DataKey<Int64>("published total") { store, _ in try store.publishedTotal() }
    public static let queueStats = DataKey<[QueueStats]>("queue stats") { store, context in try store.queueStats(now: context.now) }
    /// The queues' seconds of the health window (with the queue stats and runtimes: `QueueHealth`).
    public static let queueSeconds = DataKey<[QueueSecond]>("queue seconds") { store, context in
        try store.queueSeconds(since: context.now - QueueHealth.window)
    }
    /// Every scope's CPU samples of the last minute (the Overview's shape column).
    public static let cpuRecent = DataKey<[CPUSample]>("cpu recent") { store, context in
        try store.cpuSamples(since: context.now - OverviewScreen.shapeWindow)
    }
    public static let log = DataKey<LogPage>("log") { store, context in
        let cursor = context.log
        guard let after = cursor.after else {
            return LogPage(records: try store.history(before: .max, limit: cursor.capacity).reversed(), reset: true)
        }
        if cursor.resumed {
            // Record seqs are positions, not counts: read the gap (at most a ring's worth more).
            let gap = try store.tail(after: after, limit: cursor.capacity + 1)
            guard gap.count > cursor.capacity else { return LogPage(records: gap, reset: false) }
            return LogPage(records: try store.history(before: .max, limit: cursor.capacity).reversed(), reset: true)
        }
        return LogPage(records: try store.tail(after: after, limit: cursor.limit), reset: false)
    }

    /// Reads `needs` in one consistent read of the store (one snapshot).
    public static func read(_ needs: Set<DataNeed>, from store: ReadableStore, context: ReadContext) throws -> DataSnapshot {
        try store.read { reader in
            var snapshot = DataSnapshot(time: context.now)
            for need in needs { snapshot.values[need.name] = try need.read(reader, context) }
            return snapshot
        }
    }
}

/// What one poll of the store brought: the values of the needs that were read.
public struct DataSnapshot: Sendable {
    /// When the store was read (the reader's clock): rates are differences over these times.
    public var time: Timestamp
    /// Set when the store could not be read this time; there are no values then.
    public var error: String?
    /// Something the user must hear about the store, beside the values (it was opened again).
    public var notice: String?
    var values: [String: any Sendable] = [:]

    public init(time: Timestamp, error: String? = nil) {
        self.time = time
        self.error = error
    }

    /// A snapshot of the four reads the Overview, the Events and the header need (for tests and benchmarks).
    public init(time: Timestamp, records: [LifecycleRecord], queues: [QueueStats], runtimes: [RuntimeInfo], published: Int64, initial: Bool = false) {
        self.time = time
        self[StoreData.log] = LogPage(records: records, reset: initial)
        self[StoreData.queueStats] = queues
        self[StoreData.runtimes] = runtimes
        self[StoreData.publishedTotal] = published
    }

    public subscript<Value>(key: DataKey<Value>) -> Value? {
        get { values[key.need.name] as? Value }
        set { values[key.need.name] = newValue }
    }

    public func contains(_ need: DataNeed) -> Bool { values[need.name] != nil }

    /// The log records read, if the log was (empty otherwise).
    public var records: [LifecycleRecord] { self[StoreData.log]?.records ?? [] }
}
