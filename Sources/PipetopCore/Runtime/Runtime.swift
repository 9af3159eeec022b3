import Foundation

/// The pipetop event runtime: routes events to queues, delivers them to handlers at least once,
/// retries with backoff, dead-letters what is exhausted, and records every step in its store.
///
/// ```swift
/// let runtime = try Runtime(name: "shop", store: SQLiteStore(path: "shop.sqlite"),
///     queues: [QueueSpec("orders")],
///     rules: [Rule("orders", pattern: .type("order.placed"), targets: ["orders"])])
/// runtime.handle("orders") { delivery in
///     delivery.publish(type: "order.confirmed")
/// }
/// try runtime.start()
/// try runtime.publish(CloudEvent(source: "/shop", type: "order.placed"))
/// ```
public final class Runtime: @unchecked Sendable {
    public struct Options: Sendable {
        /// How often CPU samples are taken and stored.
        public var cpuSampleInterval: Duration = .seconds(1)
        /// How long CPU samples are kept (by age and by count), enforced by the runtime once a minute.
        public var cpuRetention = CPURetention.default
        /// How long `stop()` waits for running handlers.
        public var shutdownGrace: Duration = .seconds(10)
        /// Whether to announce the runtime in the registry directory (for `pipetop ls` / `attach`).
        public var register = true
        /// Whether the runtime carries the store's running replay jobs (`ReplayJobRunner`).
        public var carriesReplayJobs = true
        /// Store errors the engine met: a `StoreWriteFailure` when the store starts refusing writes
        /// (again for another error, and every 30 s while it lasts; the engine retries with a
        /// backoff, carrying the outcomes and CPU samples it could not write, and publishes
        /// throw), `StoreWritableAgain` when it takes them again.
        public var onError: @Sendable (Error) -> Void = { error in
            FileHandle.standardError.write(Data("pipetop runtime: \(error)\n".utf8))
        }
        /// How long the store may refuse every write before the runtime gives up: it stops
        /// delivering, `publish` throws the failure, and `storeWriteFailure` says `gaveUp`.
        public var giveUpAfter: Duration? = .seconds(300)

        public init() {}
    }

    public let name: String
    public let store: Store
    public let queues: [QueueSpec]
    public let rules: [Rule]
    private let options: Options
    private let router: Router
    private var handlers: [String: Handler] = [:]
    private var engine: Engine?
    private var announcer: Registry.Announcer?
    private var replayJobs: ReplayJobRunner?
    /// This run's node, as registered in the store.
    private var info: RuntimeInfo?
    private let lock = NSLock()

    /// Validates the configuration: every queue and rule is checked, and an invalid pattern or
    /// unknown target is reported with the rule's name.
    public init(name: String, store: Store, queues: [QueueSpec], rules: [Rule], options: Options = Options()) throws {
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw ConfigurationError("runtime name '\(name)' must be letters, digits, '-', '_' or '.'")
        }
        var names = Set<String>()
        for queue in queues {
            try queue.validate()
            if !names.insert(queue.name).inserted { throw ConfigurationError("queue '\(queue.name)' is defined twice") }
        }
        self.name = name
        self.store = store
        self.queues = queues
        self.rules = rules
        self.options = options
        router = try Router(rules: rules, queues: queues)
    }

    /// Sets the handler of `queue`. A queue without a handler keeps its messages for another
    /// runtime (or a later start) to deliver.
    public func handle(_ queue: String, _ handler: @escaping Handler) {
        precondition(queues.contains { $0.name == queue }, "pipetop: no queue named '\(queue)'")
        lock.withLock { handlers[queue] = handler }
    }

    public var isRunning: Bool { lock.withLock { engine != nil } }

    /// Declares the queues in the store, registers the runtime and starts delivering.
    public func start() throws {
        try lock.withLock {
            guard engine == nil else { return }
            // Another process of this name on the same store is another node of this runtime
            // (`pipetop demo --nodes`); on another store, it is another runtime with this name.
            if options.register, let other = try Registry.entries().first(where: {
                $0.runtime.name == name && $0.alive && $0.runtime.pid != getpid() && $0.runtime.store != store.location
            }) {
                throw ConfigurationError("a runtime named '\(name)' is already running on another store (pid \(other.runtime.pid), \(other.runtime.store)); choose another name")
            }
            let now = Timestamp.now()
            let info = RuntimeInfo(
                name: name, pid: getpid(), host: ProcessInfo.processInfo.hostName, store: store.location, startedAt: now, heartbeatAt: now)
            // Read before `declare` rewrites this name's row: a crashed run of this runtime is there.
            let registered = try store.runtimes()
            // A node is `name@host:pid`: a second live registration of one node would share its row.
            if registered.contains(where: { $0.name == name && $0.host == info.host && $0.pid == info.pid && $0.isLive(at: now) }) {
                throw ConfigurationError("the runtime '\(name)' is already running in this process (node \(name)@\(info.host):\(info.pid)); stop it first or choose another name")
            }
            // A crashed run's leases come back with the first heartbeats (`RuntimeInfo.foundDead`).
            try store.declare(queues: queues, rules: rules, runtime: info)
            self.info = info
            var timing = Engine.Timing()
            timing.cpuSample = options.cpuSampleInterval
            timing.cpuRetention = options.cpuRetention
            var onHeartbeat: (@Sendable (RuntimeInfo) -> Void)?
            if options.register {
                let announcer = Registry.Announcer()
                self.announcer = announcer
                onHeartbeat = { announcer.announce($0) }
            }
            // Events go by every live runtime's rules, this one's among them (routing ownership).
            let router = FleetRouter(local: router, runtime: name)
            let engine = Engine(
                store: store, router: router, specs: queues, info: info, timing: timing, onError: options.onError, onHeartbeat: onHeartbeat,
                giveUpAfter: options.giveUpAfter)
            for spec in queues {
                guard let handler = handlers[spec.name] else { continue }
                engine.workers[spec.name] = QueueWorkers(
                    spec: spec, handler: handler, router: router,
                    // Weak: a handler that outlives stop()'s grace reports to an engine that is gone;
                    // its outcome is dropped and the lease redelivers the message.
                    report: { [weak engine] in engine?.report($0) })
            }
            if options.register { try Registry.write(info) }
            for workers in engine.workers.values { workers.start() }
            engine.start()
            self.engine = engine
            if options.carriesReplayJobs {
                let runner = ReplayJobRunner(store: store, name: ReplayJobRunner.name("runtime \(name)"), onError: options.onError)
                runner.startCarrying()
                replayJobs = runner
            }
        }
    }

    /// Publishes events and returns once they are durably stored and routed. An event without a
    /// `correlationid` starts a flow and becomes its own correlation.
    public func publish(_ events: [CloudEvent]) throws {
        guard let engine = lock.withLock({ engine }) else {
            throw ConfigurationError("the runtime '\(name)' is not running; call start() first")
        }
        try engine.publish(events)
    }

    public func publish(_ event: CloudEvent) throws { try publish([event]) }

    /// Whether the store refuses this runtime's writes now (nil: it takes them, or it is not running).
    public var storeWriteFailure: StoreWriteFailure? { lock.withLock { engine }?.storeWriteFailure }

    /// Stops delivering: running handlers finish (within the grace period), their outcomes are
    /// committed, unstarted messages are handed back, and the runtime is marked stopped.
    public func stop() {
        guard let (engine, replayJobs) = lock.withLock({ () -> (Engine, ReplayJobRunner?)? in
            defer { self.engine = nil; self.replayJobs = nil }
            return self.engine.map { ($0, self.replayJobs) }
        }) else { return }
        replayJobs?.stop()
        engine.stop(grace: options.shutdownGrace)
        if let info = lock.withLock({ self.info }) { try? store.markStopped(runtime: info, at: .now()) }
        announcer?.withdraw(name: name)
    }

    deinit { stop() }
}
