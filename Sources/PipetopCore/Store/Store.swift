import Foundation

/// The contract between the runtime, the dashboard, the CLI and any other language: everything
/// pipetop knows lives in a store. Two protocols, as GRDB has `DatabaseReader` and
/// `DatabaseWriter`: a `ReadableStore` (the dashboard, reading CLI commands) and a `Store`, which
/// also writes (the runtime, `pipetop publish`, redrive).
///
/// Reads go through `read { snapshot in … }`: every read of one `StoreSnapshot` sees one state of
/// the store, so a poll that reads the log, the queues and the runtimes cannot mix two states.
/// The one-shot reads below (`store.tail(…)`) are each their own snapshot.
public protocol ReadableStore: AnyObject, Sendable {
    /// A human-readable location: the file path or the database URL.
    var location: String { get }

    /// Runs `body` with one consistent snapshot of the store (one read transaction). The snapshot
    /// is valid only inside `body`. Readers never block the writer.
    func read<T>(_ body: (StoreSnapshot) throws -> T) throws -> T

    /// Nil while `location` still names the store opened; else what happened to it (a store file
    /// replaced or removed under it: its connections keep reading the old one). The dashboard
    /// checks it with each poll and opens the store again.
    func locationChanged() -> String?

    /// Calls `wake` soon after another connection commits new work (messages, events), where the
    /// backend can tell (PostgreSQL: LISTEN/NOTIFY); nil where readers poll (SQLite, or a watch
    /// that could not be set up). It only shortens waits: whoever watches polls all the same.
    func watchForWork(_ wake: @escaping @Sendable () -> Void) -> (any StoreWatch)?
}

/// A watch set by `ReadableStore.watchForWork`, until cancelled.
public protocol StoreWatch: AnyObject, Sendable {
    func cancel()
}

extension ReadableStore {
    public func locationChanged() -> String? { nil }
    public func watchForWork(_ wake: @escaping @Sendable () -> Void) -> (any StoreWatch)? { nil }
}

/// One consistent state of a store, for reading (see `ReadableStore.read`).
public protocol StoreSnapshot {
    /// Events ever stored: those published, and each edited version of a dead letter's event
    /// (rare, made by an operator; counting them apart would cost every poll a scan).
    func publishedTotal() throws -> Int64
    /// Log records with `seq > after`, oldest first (following the log).
    func tail(after seq: Int64, limit: Int) throws -> [LifecycleRecord]
    /// Log records with `seq < before`, newest first (scrolling back).
    func history(before seq: Int64, limit: Int) throws -> [LifecycleRecord]
    /// Every log record of one business flow, oldest first.
    func trace(correlationID: String) throws -> [LifecycleRecord]
    /// Log records matching `query` with `seq < before`, newest first: up to `limit`, searched
    /// along the query's index, or over at most `span` rows of the log (nil: the backend's
    /// choice) when none narrows it. Read on from `next` until `reachedEnd`.
    func log(matching query: LogQuery, before seq: Int64, limit: Int, span: Int?) throws -> LogMatches
    /// Log records matching `query` with `seq > after`, oldest first (following, paging on), as above.
    func log(matching query: LogQuery, after seq: Int64, limit: Int, span: Int?) throws -> LogMatches
    /// How many log records match `query` with `seq < before`, counted as `log(matching:before:…)`
    /// searches: the counts from `next` on add up to the true total once one `reachedEnd`.
    func logCount(matching query: LogQuery, before seq: Int64, span: Int?) throws -> LogCount
    /// Log records in the store (every step, however many rows hold them): a true total, read by
    /// counting, so for tools and the bench, not for every poll.
    func logTotal() throws -> Int64
    /// Per-queue depth, lag and lifetime counters.
    func queueStats(now: Timestamp) throws -> [QueueStats]
    /// Every queue's seconds (`QueueSecond`) from `since` on (the store keeps `QueueSecond.kept`), by queue, oldest first.
    func queueSeconds(since: Timestamp) throws -> [QueueSecond]
    /// Dead letters matching `selection`, newest dead first, a page at a time.
    func deadLetters(_ selection: DeadLetterSelection, page: PageRequest) throws -> Page<DeadLetter>
    /// How many dead letters match `selection` (a true count).
    func deadLetterCount(_ selection: DeadLetterSelection) throws -> Int
    /// The dead letters matching `selection` by cause (queue, type, fingerprint), largest first.
    func deadLetterGroups(_ selection: DeadLetterSelection) throws -> [DeadLetterGroup]
    /// The messages of one queue in one state, in delivery order (`readyAt`, then id), a page at a time.
    func messages(queue: String, state: MessageState, page: PageRequest) throws -> Page<MessageInfo>
    /// Audit records, newest first, a page at a time.
    func audit(page: PageRequest) throws -> Page<AuditRecord>
    /// Dead letters made per cause and minute since `since` (kept a day), oldest first.
    func deadLetterArrivals(since: Timestamp) throws -> [DeadLetterArrivals]
    /// Replay jobs, newest first, a page at a time.
    func replayJobs(page: PageRequest) throws -> Page<ReplayJob>
    func replayJob(id: Int64) throws -> ReplayJob?
    /// CPU samples taken since `since`, oldest first (every scope; the store keeps `CPURetention`).
    func cpuSamples(since: Timestamp) throws -> [CPUSample]
    /// CPU samples in the store (a count: for tests and tools).
    func cpuSampleCount() throws -> Int
    /// The handler runs that ended in `from..<to`: their `succeeded`, `failed` and `dead-lettered`
    /// records (a queue's), oldest first, at most `limit` (the CPU screen's cursor).
    func outcomes(from: Timestamp, to: Timestamp, limit: Int) throws -> [LifecycleRecord]
    /// Runtimes that registered in this store, with their last heartbeat.
    func runtimes() throws -> [RuntimeInfo]
    /// The events of one business flow (the root and everything it caused), oldest first. An
    /// edited dead letter's event is there once per version (the same id; see `EditRequest`):
    /// the later one is what its message carries now.
    func events(correlationID: String) throws -> [CloudEvent]
    /// Stored events matching `query` with `seq > after`, oldest first: paging forward, following.
    func events(matching query: EventQuery, after seq: Int64, limit: Int) throws -> [StoredEvent]
    /// Stored events matching `query` with `seq < before`, newest first: the last N, paging back.
    func events(matching query: EventQuery, before seq: Int64, limit: Int) throws -> [StoredEvent]
}

/// A store that is also written: one transaction per call, each reported if it fails.
///
/// The runtime writes through `apply(_:)`, so one call is one group commit: publishes, handler
/// outcomes, claims, batch releases, lease expiries, CPU samples and the heartbeat of one engine
/// tick land together or not at all. What a tick does to each message (which lifecycle records,
/// which counters, direct dispatch, dead-lettering at a claim) is decided once, in `Tick`; a
/// backend executes it through `StoreTransaction`. A store for several runtime nodes (PostgreSQL)
/// implements the same primitives: claims become `FOR UPDATE SKIP LOCKED`, stale acks are refused
/// by the `delivery` token as here. Every backend passes the conformance suite (Tests).
public protocol Store: ReadableStore {
    /// Applies one engine tick in one transaction.
    func apply(_ batch: WriteBatch) throws -> WriteResult

    /// Stores events published from outside a runtime (`pipetop publish`, other languages), with
    /// an audit record. They are recorded `published` and wait, unrouted, until a running runtime
    /// routes them.
    func publishUnrouted(_ events: [CloudEvent], at time: Timestamp, by actor: Operator) throws

    /// Declares the queues a runtime serves, so readers know their modes and limits.
    func declare(queues: [QueueSpec], rules: [Rule], runtime: RuntimeInfo) throws

    /// Marks a runtime stopped (clean exit).
    /// Marks one node (`name@host:pid`) stopped; the other nodes of its name are not touched.
    func markStopped(runtime: RuntimeInfo, at time: Timestamp) throws

    /// Moves the selected dead letters back to be delivered (see `RedriveRequest`), in one
    /// transaction with their `redriven` records and an audit record. A message another redrive
    /// moved first is not moved again.
    func redrive(_ request: RedriveRequest, at time: Timestamp) throws -> MutationResult

    /// Deletes the selected dead letters, in one transaction with their `deleted` records and an
    /// audit record.
    func delete(_ request: DeleteRequest, at time: Timestamp) throws -> MutationResult

    /// Creates a replay job (`ReplayJob`) over the dead letters the request selects now, its set
    /// fixed in the same transaction, with an audit record. It runs once a runner steps it.
    func createReplayJob(_ request: ReplayJobRequest, at time: Timestamp) throws -> ReplayJob
    /// Pauses, resumes, cancels a job or changes its rate, with an audit record.
    func controlReplayJob(_ id: Int64, _ control: ReplayJobControl, by actor: Operator, at time: Timestamp) throws -> ReplayJob
    /// One step of a job for `runner` (one transaction; see `ReplayJobRunner`).
    func stepReplayJob(_ id: Int64, runner: String, lease: Duration, moves: Int, at time: Timestamp) throws -> ReplayJobStep
    /// `runner` gives the job's lease back.
    func releaseReplayJob(_ id: Int64, runner: String, at time: Timestamp) throws
    /// Edits dead letters and replays them (see `EditRequest`), in one transaction with their
    /// edited envelopes (new versions of their events; the originals stay), their `edited` and
    /// `redriven` records and an audit record. Invalid edits throw `EditError` and store nothing.
    func edit(_ request: EditRequest, at time: Timestamp) throws -> MutationResult
}

extension Store {
    public func publishUnrouted(_ events: [CloudEvent], at time: Timestamp) throws {
        try publishUnrouted(events, at: time, by: .current)
    }
}

/// One-shot reads: each its own snapshot. A caller that reads twice and needs both to agree uses
/// `read { snapshot in … }` instead.
extension ReadableStore {
    public func publishedTotal() throws -> Int64 { try read { try $0.publishedTotal() } }
    public func tail(after seq: Int64, limit: Int) throws -> [LifecycleRecord] { try read { try $0.tail(after: seq, limit: limit) } }
    public func history(before seq: Int64, limit: Int) throws -> [LifecycleRecord] { try read { try $0.history(before: seq, limit: limit) } }
    public func trace(correlationID: String) throws -> [LifecycleRecord] { try read { try $0.trace(correlationID: correlationID) } }
    public func logTotal() throws -> Int64 { try read { try $0.logTotal() } }
    public func log(matching query: LogQuery, before seq: Int64, limit: Int, span: Int? = nil) throws -> LogMatches {
        try read { try $0.log(matching: query, before: seq, limit: limit, span: span) }
    }
    public func log(matching query: LogQuery, after seq: Int64, limit: Int, span: Int? = nil) throws -> LogMatches {
        try read { try $0.log(matching: query, after: seq, limit: limit, span: span) }
    }
    public func logCount(matching query: LogQuery, before seq: Int64 = .max, span: Int? = nil) throws -> LogCount {
        try read { try $0.logCount(matching: query, before: seq, span: span) }
    }
    public func queueStats(now: Timestamp) throws -> [QueueStats] { try read { try $0.queueStats(now: now) } }
    public func queueSeconds(since: Timestamp) throws -> [QueueSecond] { try read { try $0.queueSeconds(since: since) } }
    /// The newest `limit` dead letters, optionally of one queue.
    public func deadLetters(queue: String?, limit: Int) throws -> [DeadLetter] {
        try read { try $0.deadLetters(DeadLetterSelection(queue: queue), page: PageRequest(limit: limit)).items }
    }
    public func deadLetters(_ selection: DeadLetterSelection, page: PageRequest) throws -> Page<DeadLetter> {
        try read { try $0.deadLetters(selection, page: page) }
    }
    public func deadLetterCount(_ selection: DeadLetterSelection) throws -> Int { try read { try $0.deadLetterCount(selection) } }
    public func deadLetterGroups(_ selection: DeadLetterSelection) throws -> [DeadLetterGroup] { try read { try $0.deadLetterGroups(selection) } }
    public func messages(queue: String, state: MessageState, page: PageRequest) throws -> Page<MessageInfo> {
        try read { try $0.messages(queue: queue, state: state, page: page) }
    }
    public func audit(page: PageRequest) throws -> Page<AuditRecord> { try read { try $0.audit(page: page) } }
    public func replayJobs(page: PageRequest) throws -> Page<ReplayJob> { try read { try $0.replayJobs(page: page) } }
    public func deadLetterArrivals(since: Timestamp) throws -> [DeadLetterArrivals] { try read { try $0.deadLetterArrivals(since: since) } }
    public func replayJob(id: Int64) throws -> ReplayJob? { try read { try $0.replayJob(id: id) } }
    public func cpuSamples(since: Timestamp) throws -> [CPUSample] { try read { try $0.cpuSamples(since: since) } }
    public func cpuSampleCount() throws -> Int { try read { try $0.cpuSampleCount() } }
    public func outcomes(from: Timestamp, to: Timestamp, limit: Int) throws -> [LifecycleRecord] {
        try read { try $0.outcomes(from: from, to: to, limit: limit) }
    }
    public func runtimes() throws -> [RuntimeInfo] { try read { try $0.runtimes() } }
    public func events(correlationID: String) throws -> [CloudEvent] { try read { try $0.events(correlationID: correlationID) } }
    public func events(matching query: EventQuery, after seq: Int64, limit: Int) throws -> [StoredEvent] {
        try read { try $0.events(matching: query, after: seq, limit: limit) }
    }
    public func events(matching query: EventQuery, before seq: Int64, limit: Int) throws -> [StoredEvent] {
        try read { try $0.events(matching: query, before: seq, limit: limit) }
    }
}

/// Opens the store a URL names: a file path (or `file://` URL) is a SQLite store; `postgres://`
/// and `postgresql://` a PostgreSQL store (`PostgresStore`). With `readOnly`, the result only
/// reads (nothing is created or migrated), which is all the dashboard and reading commands get.
/// With `create`, a missing store is made (a runtime's, the demo's); otherwise it is an error.
/// `readOnly` opens it without writing to it or beside it (`--read-only`; see `SQLiteStore.untouchedPath`).
/// `progress` hears of a schema upgrade as it goes (see `SQLiteStore.init`).
public func openStore(url: String, readOnly: Bool, create: Bool = true, busyTimeout: Duration = SQLiteStore.defaultBusyTimeout,
                      progress: (@Sendable (String) -> Void)? = nil) throws -> any Store {
    try openStoreBackend(url: url, readOnly: readOnly, create: create, busyTimeout: busyTimeout, untouched: readOnly, progress: progress)
}

/// A reader only: the dashboard and reading CLI commands.
/// `untouched`: not a byte written to the store or beside it (`--read-only`).
public func openReader(url: String, busyTimeout: Duration = SQLiteStore.defaultBusyTimeout, untouched: Bool = false) throws -> any ReadableStore {
    try openStoreBackend(url: url, readOnly: true, busyTimeout: busyTimeout, untouched: untouched)
}

private func openStoreBackend(url: String, readOnly: Bool, create: Bool = true, busyTimeout: Duration = SQLiteStore.defaultBusyTimeout,
                              untouched: Bool = false, progress: (@Sendable (String) -> Void)? = nil) throws -> any Store {
    let lowered = url.lowercased()
    if PostgresURL.isPostgres(url) {
        // A database, not a file: it is there or not (`create` makes the schema in an empty one).
        return try PostgresStore(url: PostgresURL(parsing: url), readOnly: readOnly, create: create, progress: progress)
    }
    if let scheme = lowered.range(of: "://"), !lowered.hasPrefix("file://") {
        throw StoreError("'\(url[..<scheme.lowerBound])' stores are not supported; use a SQLite file path or a postgres:// URL", unsupported: true)
    }
    var path = url
    if lowered.hasPrefix("file://") {
        guard let parsed = URL(string: url), parsed.isFileURL, !parsed.path.isEmpty else { throw StoreError("'\(url)' is not a file URL") }
        path = parsed.path
    }
    guard !path.isEmpty else { throw StoreError("the store path is empty") }
    return try SQLiteStore(path: path, readOnly: readOnly, create: create, busyTimeout: busyTimeout, untouched: untouched, progress: progress)
}

/// Which stored events to read (`pipetop events`): every condition given must hold.
///
/// A correlation id is looked up through its index. The other conditions filter a walk along
/// the events in store order (`seq`), which a cursor and a limit bound: the store keeps no
/// index on event id, type or time, as each would cost every publish a B-tree write.
public struct EventQuery: Sendable, Equatable {
    public var correlationID: String?
    public var id: String?
    public var source: String?
    public var type: String?
    /// Stored at or after this time (the store's clock, when the event was published into it).
    public var publishedSince: Timestamp?
    /// Stored before this time.
    public var publishedUntil: Timestamp?

    public init(
        correlationID: String? = nil, id: String? = nil, source: String? = nil, type: String? = nil,
        publishedSince: Timestamp? = nil, publishedUntil: Timestamp? = nil
    ) {
        self.correlationID = correlationID
        self.id = id
        self.source = source
        self.type = type
        self.publishedSince = publishedSince
        self.publishedUntil = publishedUntil
    }
}

/// An event as the store holds it: its envelope, its place in the store and when it was stored.
public struct StoredEvent: Sendable, Equatable {
    /// The store's sequence number: a cursor for paging.
    public var seq: Int64
    public var publishedAt: Timestamp
    public var event: CloudEvent

    public init(seq: Int64, publishedAt: Timestamp, event: CloudEvent) {
        self.seq = seq
        self.publishedAt = publishedAt
        self.event = event
    }
}

/// Where a routed event goes: one message per target.
public struct Target: Sendable, Equatable {
    public var queue: String
    /// True for batch queues: the message waits for the window to close.
    public var held: Bool
    /// The queue's deduplication window (`QueueSpec.deduplicate`), if it has one.
    public var deduplicate: Duration?

    public init(queue: String, held: Bool, deduplicate: Duration? = nil) {
        self.queue = queue
        self.held = held
        self.deduplicate = deduplicate
    }
}

/// An event together with its routing decision.
public struct RoutedEvent: Sendable {
    public var event: CloudEvent
    public var targets: [Target]
    /// The rules' generation `targets` were decided under, by a `FleetRouter` (nil: by its own
    /// rules before it read any): a transaction whose router is past it routes the event again.
    var routedUnder: Int64?

    public init(event: CloudEvent, targets: [Target]) {
        self.event = event
        self.targets = targets
    }
}

/// The identity of one delivery. An outcome is applied only if the message is still in flight
/// under this very delivery, so a handler that outlived its lease cannot ack a redelivery.
public struct Claim: Sendable, Equatable {
    public var messageID: Int64
    public var queue: String
    public var delivery: Int
    public var attempt: Int
    /// The event's `seq` in the store, which log records are indexed by.
    public var eventSeq: Int64
    public var eventID: String
    public var eventType: String
    public var correlationID: String?
    public var enqueuedAt: Timestamp
    /// When this delivery's lease ends; a message still unstarted by then is not run.
    public var leaseUntil: Timestamp
    /// When its event was published (a replayed message: when it was replayed, a new delivery),
    /// and when its flow's root was: a success's latencies count from these (`QueueSecond`).
    public var publishedAt: Timestamp
    public var flowStartedAt: Timestamp
}

/// A message handed to a handler.
public struct ClaimedMessage: Sendable {
    public var claim: Claim
    public var event: CloudEvent
}

/// What became of one delivery.
public struct Outcome: Sendable {
    public enum Result: Sendable {
        /// Acked; `children` are published in the same transaction (an outbox, in effect).
        case succeeded(children: [RoutedEvent])
        case retry(error: String, at: Timestamp)
        case deadLetter(error: String, reason: DeadLetterReason)
        /// Exhausted on a queue with dead-lettering off.
        case drop(error: String)
        /// Claimed but never started (the runtime is stopping): ready again, the attempt not spent.
        case unstarted
    }

    public var claim: Claim
    public var duration: Duration
    public var finishedAt: Timestamp
    public var result: Result

    public init(claim: Claim, duration: Duration, finishedAt: Timestamp, result: Result) {
        self.claim = claim
        self.duration = duration
        self.finishedAt = finishedAt
        self.result = result
    }
}

/// A request to claim up to `limit` ready messages of one queue.
public struct ClaimRequest: Sendable {
    public var queue: String
    public var limit: Int
    public var lease: Duration
    /// Which messages are dead-lettered at the claim instead of delivered (see `DeadLetterPolicy.atClaim`).
    public var policy: DeadLetterPolicy

    public init(queue: String, limit: Int, lease: Duration, policy: DeadLetterPolicy) {
        self.queue = queue
        self.limit = limit
        self.lease = lease
        self.policy = policy
    }

    public init(queue: String, limit: Int, lease: Duration, maxAttempts: Int, maxAge: Duration? = nil, deadLetter: Bool = true) {
        self.init(queue: queue, limit: limit, lease: lease, policy: DeadLetterPolicy(maxAttempts: maxAttempts, maxAge: maxAge, keepsDeadLetters: deadLetter))
    }
}

/// One engine tick's writes.
public struct WriteBatch: Sendable {
    public var now: Timestamp
    /// New events with their routing (no targets: recorded as rejected).
    public var publishes: [RoutedEvent] = []
    /// Routing for events that were published unrouted (by `seq`).
    public var routings: [(seq: Int64, event: CloudEvent, targets: [Target])] = []
    public var outcomes: [Outcome] = []
    /// Batch queues whose window has closed: their held messages become ready.
    public var releases: [String] = []
    /// Queues whose in-flight messages with an expired lease return to ready.
    public var expireLeases: [String] = []
    public var claims: [ClaimRequest] = []
    /// Fetch up to this many unrouted events.
    public var fetchUnrouted = 0
    /// The router `publishes`, children and `routings` were decided by (routing ownership,
    /// `FleetRouter`). The transaction brings it up to date when the rules the store holds moved
    /// past it (another runtime declared or stopped), and routes again by it every event decided
    /// under another generation than its own, so none goes by outdated rules. Nil: the targets
    /// stand as given (tests, tools).
    var router: FleetRouter?
    /// The generation `routings` were decided under.
    var routingsRoutedUnder: Int64?
    /// Bring `router` up to date even if no rule changed: the runtime does so with each
    /// heartbeat, so a runtime that stopped beating stops counting (`RuntimeInfo.isLive`).
    public var refreshRouting = false
    public var cpuSamples: [CPUSample] = []
    /// Delete CPU samples older than `before` and all but the newest `keep` (`CPURetention`).
    public var pruneCPUSamples: (before: Timestamp, keep: Int)?
    /// The node's heartbeat: registers it, and it looks at its peers: those it finds dead
    /// (`RuntimeInfo.foundDead`) have their leases returned at once and are marked stopped.
    public var heartbeat: RuntimeInfo?
    /// The node claiming this tick (`RuntimeInfo.node`): its claims carry it (nil: none).
    public var claimedBy: Int64?
    /// Rows of the dead letters' text index left by letters no longer dead (replayed, edited,
    /// deleted) to purge, at most: the runtime's writer purges some when idle, a few otherwise.
    public var purgeStaleText = 0

    public init(now: Timestamp) { self.now = now }

    /// Whether the batch only looks for work (claims, unrouted events) and writes nothing unless
    /// it finds some: what a store may answer with a read when there is none. The text purge is
    /// housekeeping any later tick does, not a write of this one.
    var onlyLooks: Bool {
        publishes.isEmpty && routings.isEmpty && outcomes.isEmpty && releases.isEmpty && expireLeases.isEmpty
            && cpuSamples.isEmpty && pruneCPUSamples == nil && heartbeat == nil && !refreshRouting
            && (claims.contains { $0.limit > 0 } || fetchUnrouted > 0)
    }
}

public struct WriteResult: Sendable {
    public var claimed: [ClaimedMessage] = []
    public var unrouted: [(seq: Int64, event: CloudEvent)] = []
    /// For each queue claimed from: the earliest future `ready_at` (a scheduled retry), if any.
    public var nextReady: [String: Timestamp] = [:]
    /// Outcomes that arrived after their lease was lost and were ignored.
    public var staleOutcomes = 0
    /// Outcomes committed (succeeded, failed, dead-lettered; not unstarted, not stale): the node's throughput.
    public var completed = 0
    /// Rules of other runtimes the router could not route by (`FleetRouter.update`), told once per change.
    public var routingProblems: [String] = []
    public init() {}
}

/// The rules every runtime of a store declared, for routing ownership: an event is routed by the
/// union of the rules of the runtimes alive now, and rejected only when none of them matches it
/// (`FleetRouter`). `generation` grows with every declaration and every stop.
struct DeclaredRouting: Sendable, Equatable {
    public struct Rules: Sendable, Equatable {
        /// The runtime's name (all its nodes declare the same rules).
        public var runtime: String
        /// Its newest heartbeat among its nodes not stopped; nil when every node stopped.
        public var heartbeatAt: Timestamp?
        /// Its rules, by name.
        public var rules: [Rule]

        public init(runtime: String, heartbeatAt: Timestamp?, rules: [Rule]) {
            self.runtime = runtime
            self.heartbeatAt = heartbeatAt
            self.rules = rules
        }

        /// A node of it is running now (`RuntimeInfo.isLive`).
        public func isLive(at now: Timestamp) -> Bool {
            guard let heartbeatAt else { return false }
            return RuntimeInfo.heartbeatIsRecent(heartbeatAt, at: now)
        }
    }

    /// A rule as stored: its pattern is the EventBridge JSON it was declared with, parsed by the router.
    public struct Rule: Sendable, Equatable {
        public var name: String
        public var pattern: String
        public var targets: [String]
        public init(name: String, pattern: String, targets: [String]) {
            self.name = name
            self.pattern = pattern
            self.targets = targets
        }
    }

    /// What routing needs of a declared queue: whether it holds messages for a batch window, and its deduplication window.
    public struct QueueRouting: Sendable, Equatable {
        public var held: Bool
        public var deduplicate: Duration?
        public init(held: Bool, deduplicate: Duration?) {
            self.held = held
            self.deduplicate = deduplicate
        }
    }

    public var generation: Int64
    /// By runtime name.
    public var runtimes: [Rules]
    public var queues: [String: QueueRouting]

    public init(generation: Int64, runtimes: [Rules], queues: [String: QueueRouting]) {
        self.generation = generation
        self.runtimes = runtimes
        self.queues = queues
    }
}

/// A runtime as it announces itself.
public struct RuntimeInfo: Sendable, Equatable, Codable {
    public var name: String
    public var pid: Int32
    public var host: String
    public var store: String
    public var startedAt: Timestamp
    public var heartbeatAt: Timestamp
    public var stoppedAt: Timestamp?
    /// The runtime cannot write to its store (told through the registry, since the store is what
    /// fails; nil in the store's own rows).
    public var storeUnwritable: StoreWriteFailure?
    /// What this node has done, written with each heartbeat (nil: not known, a registry entry).
    public var throughput: NodeThroughput?

    public init(name: String, pid: Int32, host: String, store: String, startedAt: Timestamp, heartbeatAt: Timestamp, stoppedAt: Timestamp? = nil) {
        self.name = name
        self.pid = pid
        self.host = host
        self.store = store
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.stoppedAt = stoppedAt
    }
}

/// A node's own work: the outcomes (successes and failures) it committed since it started, and how
/// many per second between its last two heartbeats.
public struct NodeThroughput: Sendable, Equatable, Codable {
    public var done: Int64
    public var perSecond: Double
    public init(done: Int64, perSecond: Double) {
        self.done = done
        self.perSecond = perSecond
    }
}

extension RuntimeInfo {
    /// The number its claims carry (`messages.claimed_by`): from the node's name, host, pid and
    /// start, the same in every process (FNV-1a, 63 bits), so a peer that finds it dead knows
    /// which leases were its. A restart under the same pid is another node.
    public var node: Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(name)\u{0}\(host)\u{0}\(pid)\u{0}\(startedAt.micros)".utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return Int64(bitPattern: hash & UInt64(Int64.max))
    }

    /// Running now: not stopped, and its heartbeat (once a second) is recent; one far in the
    /// future (another machine's clock, or bad data) does not count as recent.
    public func isLive(at now: Timestamp, within: Duration = .seconds(10)) -> Bool {
        stoppedAt == nil && Self.heartbeatIsRecent(heartbeatAt, at: now, within: within)
    }

    /// Dead, as a peer (`seenBy`) judges at `now`: not stopped, silent for 10 s (no longer
    /// `isLive`), or, on this machine, silent for 3 s with its process gone. A heartbeat from the
    /// future (another machine's clock) is not silence. Nil: not dead; else why.
    public func foundDead(seenBy peer: RuntimeInfo, at now: Timestamp) -> String? {
        guard stoppedAt == nil, node != peer.node else { return nil }
        let silent = now - heartbeatAt
        let what = "runtime \(name) (pid \(pid) on \(host)) died: no heartbeat for \(Int(silent.secondsDouble)) s"
        if silent >= .seconds(10) { return what }
        if silent >= .seconds(3), host == Self.thisHost, kill(pid, 0) != 0, errno == ESRCH { return what + " and its process is gone" }
        return nil
    }

    /// This machine's host name, as its nodes register it.
    static let thisHost = ProcessInfo.processInfo.hostName

    /// A heartbeat within `within` of `now`, either way (one far in the future is not recent).
    static func heartbeatIsRecent(_ heartbeatAt: Timestamp, at now: Timestamp, within: Duration = .seconds(10)) -> Bool {
        let age = now - heartbeatAt
        return age < within && age > .zero - within
    }
}

extension Timestamp: Codable {
    public init(from decoder: Decoder) throws { micros = try decoder.singleValueContainer().decode(Int64.self) }
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(micros)
    }
}

/// CPU actually spent in one interval, by one queue's handlers or by the whole process.
public struct CPUSample: Sendable, Equatable {
    public static let processScope = "process"

    public var time: Timestamp
    /// A queue name, or `process`.
    public var scope: String
    public let interval: Duration
    /// Thread CPU time (queues) or user + system time (process).
    public let cpu: Duration
    /// Wall time spent inside handlers (queues); equal to `cpu` for the process.
    public var busy: Duration
    public var runs: Int
    /// Threads that could have run: the queue's concurrency, or the machine's cores.
    public var capacity: Int

    /// Cores used over the interval: CPU time ÷ its length (worked out once: screens read it per
    /// sample per frame, and `Duration`'s arithmetic is 128-bit).
    public let cores: Double

    public init(time: Timestamp, scope: String, interval: Duration, cpu: Duration, busy: Duration, runs: Int, capacity: Int) {
        self.init(time: time, scope: scope, intervalMicros: interval.micros, cpuMicros: cpu.micros, busyMicros: busy.micros, runs: runs, capacity: capacity)
    }

    /// From the store's microseconds.
    init(time: Timestamp, scope: String, intervalMicros: Int64, cpuMicros: Int64, busyMicros: Int64, runs: Int, capacity: Int) {
        self.time = time
        self.scope = scope
        interval = .microseconds(intervalMicros)
        cpu = .microseconds(cpuMicros)
        busy = .microseconds(busyMicros)
        self.runs = runs
        self.capacity = capacity
        cores = intervalMicros > 0 ? Double(cpuMicros) / Double(intervalMicros) : 0
    }

    /// CPU seconds over the seconds the capacity offered, 0...1.
    public var busyFraction: Double {
        let offered = interval.secondsDouble * Double(max(capacity, 1))
        return offered > 0 ? min(cpu.secondsDouble / offered, 1) : 0
    }
}

/// One queue as the dashboard's Overview shows it.
public struct QueueStats: Sendable, Equatable {
    public var name: String
    /// nil: no runtime declared this queue (messages were routed to it by name only).
    public var mode: QueueMode?
    public var concurrency: Int
    public var maxAttempts: Int
    /// Waiting for a batch window.
    public var held = 0
    /// Ready now.
    public var ready = 0
    /// Retries scheduled for later.
    public var scheduled = 0
    public var inFlight = 0
    public var dead = 0
    /// Ready or in flight with attempt ≥ 2: shown on their own, never hidden in the depth.
    public var poison = 0
    /// Now minus the enqueue time of the oldest message not yet done (held, ready, scheduled or in
    /// flight): a held batch message counts from its enqueue, since that wait is what the cron costs.
    public var lagSeconds: Double = 0
    /// The enqueue time of the oldest message not yet done, and of the oldest held one.
    public var oldestEnqueuedAt: Timestamp?
    public var oldestHeldAt: Timestamp?
    /// The runtime that declared the queue (its consumer), and when.
    public var runtime: String?
    public var declaredAt: Timestamp?
    public var enqueued: Int64 = 0
    public var succeeded: Int64 = 0
    public var failed: Int64 = 0
    public var retried: Int64 = 0
    public var deadLettered: Int64 = 0
    /// Events not enqueued because the queue had already accepted their `source` and `id`.
    public var duplicates: Int64 = 0
    /// Leases that ran out (a handler hung, a process died): counted apart from `failed`, which
    /// counts handlers' failures only (the `failed` records).
    public var leaseExpired: Int64 = 0

    /// The mode as shown: `stream`, `batch/15s`, or `?` for an undeclared queue.
    public var modeName: String { mode?.description ?? "?" }

    /// Ready + in flight (+ held and scheduled: everything not yet done).
    public var lagMessages: Int { ready + inFlight + held + scheduled }
}

/// One attempt's failure, kept with the dead letter.
public struct AttemptError: Sendable, Equatable, Codable {
    public var attempt: Int
    public var at: Timestamp
    public var error: String
}

public struct DeadLetter: Sendable, Equatable {
    public var messageID: Int64
    public var queue: String
    public var event: CloudEvent
    public var reason: DeadLetterReason
    public var attempts: Int
    public var deliveries: Int
    public var errors: [AttemptError]
    public var enqueuedAt: Timestamp
    public var firstFailedAt: Timestamp?
    public var deadAt: Timestamp
    /// Its cause without what differs between occurrences (`FailureFingerprint` of the last error).
    public var fingerprint: String
    /// How often it was replayed before (so, if more than 0, it failed again after a replay).
    public var replays: Int
}

extension Store {
    /// A large redrive as a run of transactions of at most `batch` dead letters (oldest first),
    /// each with its audit record under the request's replay id, until `request.limit` (or every
    /// selected letter) is moved: one transaction of a million would hold the write lock for
    /// tens of seconds, longer than the runtime's engine waits for it.
    public func redriveInBatches(_ request: RedriveRequest, batch: Int = 1_000, clock: () -> Timestamp = Timestamp.now) throws -> MutationResult {
        try Self.inBatches(limit: request.limit, batch: batch) { part in
            var request = request
            request.limit = part
            return try redrive(request, at: clock())
        }
    }

    /// Purges up to `limit` stale rows of the dead letters' text index in a transaction of its own
    /// (`WriteBatch.purgeStaleText`): what a writer outside a runtime does after it replayed or
    /// deleted letters, so their rows do not wait for a runtime.
    public func purgeStaleText(limit: Int = 1_000) throws {
        guard limit > 0 else { return }
        var batch = WriteBatch(now: .now())
        batch.purgeStaleText = limit
        _ = try apply(batch)
    }

    /// A large delete as a run of transactions, as `redriveInBatches`.
    public func deleteInBatches(_ request: DeleteRequest, batch: Int = 1_000, clock: () -> Timestamp = Timestamp.now) throws -> MutationResult {
        try Self.inBatches(limit: request.limit, batch: batch) { part in
            var request = request
            request.limit = part
            return try delete(request, at: clock())
        }
    }

    /// Runs `step` with a limit of at most `batch` until `limit` items (nil: all) are done or a
    /// step does fewer than it was allowed.
    private static func inBatches(limit: Int?, batch: Int, _ step: (Int) throws -> MutationResult) throws -> MutationResult {
        var done: [Int64] = []
        while true {
            let part = min(batch, limit.map { $0 - done.count } ?? Int.max)
            guard part > 0 else { break }
            let result = try step(part)
            done += result.messageIDs
            if result.count < part { break }
        }
        return MutationResult(messageIDs: done)
    }
}

/// A runtime's store has refused its writes: since when, the last error, how many ticks failed,
/// and whether the runtime gave up (`Runtime.Options.giveUpAfter`).
public struct StoreWriteFailure: Sendable, Equatable, Codable, Error, CustomStringConvertible {
    public var since: Timestamp
    public var error: String
    public var attempts: Int
    public var gaveUp: Bool

    public init(since: Timestamp, error: String, attempts: Int, gaveUp: Bool = false) {
        self.since = since
        self.error = error
        self.attempts = attempts
        self.gaveUp = gaveUp
    }

    public var description: String {
        "store not writable since \(since.rfc3339) (\(attempts) attempt\(attempts == 1 ? "" : "s")): \(error)" + (gaveUp ? "; gave up" : "; retrying")
    }
}

/// The store takes writes again after a `StoreWriteFailure` (told through `onError`, once).
public struct StoreWritableAgain: Error, CustomStringConvertible {
    public var failure: StoreWriteFailure
    public var at: Timestamp
    public var description: String {
        "store writable again after \(String(format: "%.1f", (at - failure.since).secondsDouble)) s and \(failure.attempts) failed attempt\(failure.attempts == 1 ? "" : "s") (last: \(failure.error)); nothing was lost"
    }
}

