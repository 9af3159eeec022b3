import Foundation

/// A message a claim may deliver, as the backend found it (oldest ready first).
struct ClaimCandidate {
    var messageID: Int64
    /// Attempts and deliveries so far (before this claim).
    var attempt: Int
    var deliveries: Int
    var enqueuedAt: Timestamp
    var eventSeq: Int64
    /// How often it was replayed (a replay restarts its latency clock).
    var replays: Int
    /// When its event was published, and its flow's root (nil: the event is the root).
    var publishedAt: Timestamp
    var flowAt: Timestamp?
    var event: CloudEvent
}

/// A new message row.
struct NewMessage {
    var id: Int64
    var queue: String
    var eventSeq: Int64
    var state: MessageState
    /// Ready since (or, in flight, the lease end).
    var readyAt: Timestamp
    var enqueuedAt: Timestamp
    var attempt: Int
    var deliveries: Int
    /// In flight: the node that holds it (`RuntimeInfo.node`).
    var claimedBy: Int64?
}

/// An in-flight message whose lease ended.
struct ExpiredLease {
    var messageID: Int64
    var queue: String
    var attempt: Int
    var leaseEnd: Timestamp
    var eventSeq: Int64
}

extension ExpiredLease {
    /// The columns of `messages` a lease is read from (`init(row:)`).
    static let columns = "id, queue, attempt, ready_at, event_seq"

    init(row: some ColumnReader) {
        self.init(messageID: row.int64(0), queue: row.string(1) ?? "", attempt: row.int(2), leaseEnd: Timestamp(micros: row.int64(3)), eventSeq: row.int64(4))
    }
}

/// A dead letter an operation selected.
struct SelectedDeadLetter {
    var messageID: Int64
    var queue: String
    var attempt: Int
    var eventSeq: Int64
    var cause: DeadLetterCause
    var replays: Int
    /// Attempt errors in its history (a replay job sees it fail again when this grows).
    var errorCount: Int
}

/// What dead letters are counted by (the Dead letters screen's groups): queue, event type, fingerprint.
struct DeadLetterCause: Hashable {
    var queue: String
    var type: String
    var fingerprint: String
}

/// The primitive operations of one write transaction of a backend. They decide nothing: which
/// records are written, which counters change, what is dispatched directly and what a claim
/// dead-letters are `Tick`'s. Each guarded transition returns false when the message is no longer
/// where the caller saw it (in flight under that delivery, or dead), and then changes nothing.
protocol StoreTransaction {
    // Ids: an event seq and a message id are never reused, even past deleted rows.
    mutating func nextEventSeq() throws -> Int64
    mutating func nextMessageID() throws -> Int64

    // Rows. Inserts and entries may be buffered until `finish`, in order.
    /// `flowAt`: for a caused event, when its flow's root was published (nil: it is a root).
    mutating func insertEvent(_ event: CloudEvent, seq: Int64, routed: Bool, at: Timestamp, flowAt: Timestamp?) throws
    mutating func insertMessage(_ message: NewMessage) throws
    /// A lifecycle row, complete (`Tick` groups the steps).
    mutating func append(_ row: LifecycleRow) throws
    /// Marks an unrouted event routed and returns when it was published; nil if another runtime routed it first.
    mutating func markRouted(seq: Int64) throws -> Timestamp?

    /// Deduplication: takes (queue, source, id) as accepted at `at` unless it was accepted after
    /// `cutoff`; returns that earlier acceptance (its time and event seq), or nil when accepted now.
    mutating func acceptOnce(queue: String, source: String, id: String, seq: Int64, at: Timestamp, cutoff: Timestamp) throws -> (at: Timestamp, seq: Int64)?
    /// Forgets up to `limit` acceptances of `queue` older than `cutoff`.
    mutating func pruneAccepted(queue: String, before cutoff: Timestamp, limit: Int) throws

    // Claims.
    mutating func claimCandidates(queue: String, readyBy now: Timestamp, limit: Int) throws -> [ClaimCandidate]
    /// The claims a tick is about to make (one request per queue), before any: a backend with a
    /// round trip per statement may read every queue's candidates and next retry at once.
    mutating func prepareClaims(_ requests: [ClaimRequest], readyBy now: Timestamp) throws
    /// In flight under the claim's lease, held by `node` (`RuntimeInfo.node`).
    mutating func markClaimed(messageID: Int64, attempt: Int, delivery: Int, leaseUntil: Timestamp, by node: Int64?) throws
    /// The claims of one request together (one statement, for a backend with a round trip per statement).
    mutating func markClaimed(_ claims: [Claim], by node: Int64?) throws
    /// The earliest `readyAt` after `now` of a ready message (a scheduled retry).
    mutating func nextReady(queue: String, after now: Timestamp) throws -> Timestamp?

    // Transitions of a message in flight under `delivery`.
    /// Ack or drop: the message is gone.
    mutating func remove(messageID: Int64, delivery: Int) throws -> Bool
    /// Acks of one transaction together: the deliveries removed (the others were stale). A
    /// backend with a round trip per statement does it in one.
    mutating func remove(_ deliveries: [MessageDelivery]) throws -> Set<MessageDelivery>
    /// Ready again at `readyAt`, `error` appended to its history (at `failedAt`).
    mutating func scheduleRetry(messageID: Int64, delivery: Int, readyAt: Timestamp, failedAt: Timestamp, error: String) throws -> Bool
    /// Dead, `error` appended to its history.
    /// Returns how often it had been replayed before, or nil when the delivery was stale.
    mutating func deadLetterInFlight(messageID: Int64, delivery: Int, at: Timestamp, reason: DeadLetterReason, error: String, fingerprint: String) throws -> Int?
    /// Ready again at `at` with the attempt given back.
    mutating func returnUnstarted(messageID: Int64, delivery: Int, at: Timestamp) throws -> Bool

    // Transitions of a ready message met by a claim.
    /// Dead, `error` appended to its history (its fingerprint is of that error); returns how often it had been replayed before.
    mutating func deadLetterReady(messageID: Int64, at: Timestamp, reason: DeadLetterReason, error: String, fingerprint: String) throws -> Int
    /// Adds `count` dead letters (negative: removes) to a cause's totals, `failedAgain` of them
    /// replayed before; `deadAt` is when the added ones died (nil for a removal: the backend works
    /// out the cause's first and last again by `finish`). Added ones also count as arrivals in
    /// their minute (`DeadLetterArrivals`), kept `DeadLetterArrivals.keptMinutes`.
    mutating func countCause(_ cause: DeadLetterCause, by count: Int, failedAgain: Int, deadAt: Timestamp?) throws
    mutating func removeReady(messageID: Int64) throws

    // The dead letters' text index (what `DeadLetterSelection.errorText`/`payloadText` search);
    // a backend may apply these as the transaction commits, in order.
    /// Indexes a message that just became a dead letter, as the transaction leaves it: every
    /// attempt's error and its payload when JSON or text (each up to `DeadLetterSelection.indexedTextLength`).
    mutating func indexDeadLetterText(messageID: Int64) throws
    /// Takes a message out of the index (it was replayed or deleted); nothing if it was not in it.
    /// A backend may leave its row until a purge, if its text queries never count it meanwhile.
    mutating func unindexDeadLetterText(messageID: Int64) throws
    /// Drops up to `limit` rows left by `unindexDeadLetterText` (see `WriteBatch.purgeStaleText`).
    mutating func purgeStaleDeadLetterText(limit: Int) throws

    // Batch windows and leases.
    /// Held messages of `queue` become ready at `at`; returns them (id, event seq) in id order.
    mutating func releaseHeld(queue: String, at: Timestamp) throws -> [(messageID: Int64, eventSeq: Int64)]
    mutating func expiredLeases(queue: String, now: Timestamp) throws -> [ExpiredLease]
    /// The messages in flight claimed by `node`, on every queue, whatever is left of their leases.
    mutating func leases(heldBy node: Int64) throws -> [ExpiredLease]
    /// An expired message becomes ready at `at`, `error` appended to its history.
    mutating func returnExpired(messageID: Int64, at: Timestamp, error: String) throws

    // Dead letters (operator operations).
    mutating func selectDeadLetters(_ selection: DeadLetterSelection, limit: Int?) throws -> [SelectedDeadLetter]
    /// Back to ready at `at` on `queue`, with a fresh attempt budget, its replays counted; false if it is no longer dead.
    mutating func redrive(messageID: Int64, to queue: String, at: Timestamp) throws -> Bool
    /// Deleted; false if it is no longer dead.
    mutating func deleteDeadLetter(messageID: Int64) throws -> Bool
    /// The stored event with this seq.
    mutating func event(seq: Int64) throws -> CloudEvent?
    /// Back to ready at `at` on its own queue as `redrive` does, now carrying event `newSeq`;
    /// false unless it is still dead, carrying `eventSeq`, replayed `replays` times before.
    mutating func redriveEdited(messageID: Int64, eventSeq: Int64, replays: Int, newSeq: Int64, at: Timestamp) throws -> Bool
    mutating func appendAudit(_ record: AuditRecord) throws

    // The rest of a tick.
    mutating func fetchUnrouted(limit: Int) throws -> [(seq: Int64, event: CloudEvent)]
    /// The declared rules' generation (`DeclaredRouting.generation`): read by every runtime's tick, so cheap.
    mutating func routingGeneration() throws -> Int64
    /// Every runtime's declared rules, the liveness of its nodes and the declared queues' routing.
    mutating func declaredRouting() throws -> DeclaredRouting
    /// Stores the samples, those of one time together (`CPUTick`).
    mutating func insertCPUSamples(_ samples: [CPUSample]) throws
    /// Deletes the CPU samples taken before `before`, and the oldest beyond the newest `keep` (whole ticks).
    mutating func pruneCPUSamples(before: Timestamp, keep: Int) throws
    /// Registers the node or moves its heartbeat and throughput; clears its stop.
    mutating func upsertRuntime(_ runtime: RuntimeInfo) throws
    /// Every node of the store, as `ReadableStore.runtimes` lists them.
    mutating func runtimes() throws -> [RuntimeInfo]
    /// The node stopped at `time` (its heartbeat no earlier); the routing generation moves on.
    mutating func markStopped(runtime: RuntimeInfo, at time: Timestamp) throws

    /// Writes what is buffered, adds `counters` to each queue's lifetime counters and `backlog` to
    /// each queue's second of `now` (`QueueSecond`), forgetting seconds older than `QueueSecond.kept`.
    mutating func finish(counters: [String: QueueCounters], backlog: [String: BacklogChange], at now: Timestamp) throws
}

/// A message and one delivery of it (the token a late ack must match).
struct MessageDelivery: Hashable {
    var messageID: Int64
    var delivery: Int
}

extension StoreTransaction {
    mutating func prepareClaims(_ requests: [ClaimRequest], readyBy now: Timestamp) throws {}

    mutating func markClaimed(_ claims: [Claim], by node: Int64?) throws {
        for claim in claims {
            try markClaimed(messageID: claim.messageID, attempt: claim.attempt, delivery: claim.delivery, leaseUntil: claim.leaseUntil, by: node)
        }
    }

    mutating func remove(_ deliveries: [MessageDelivery]) throws -> Set<MessageDelivery> {
        var removed = Set<MessageDelivery>()
        for delivery in deliveries where try remove(messageID: delivery.messageID, delivery: delivery.delivery) { removed.insert(delivery) }
        return removed
    }
}

/// One write transaction, decided: the delivery state machine and the lifecycle plan (which
/// records, which counters, direct dispatch, when a claim dead-letters), executed on any backend's
/// `StoreTransaction`. The one place a record's kind, detail and counter change are chosen.
struct Tick<Transaction: StoreTransaction> {
    var tx: Transaction
    let now: Timestamp
    var counters: [String: QueueCounters] = [:]
    /// What this transaction does to each queue's backlog, and its successes' latencies (`QueueSecond`).
    var backlog: [String: BacklogChange] = [:]
    /// Children of acked deliveries, published after the claims so they can be dispatched directly,
    /// each with its flow's start (its parent's).
    var children: [(event: RoutedEvent, flowStartedAt: Timestamp)] = []
    /// Claim capacity left per queue once the backlog was claimed: new messages within it are
    /// inserted already in flight, saving a claim per message.
    var direct: [String: (request: ClaimRequest, remaining: Int)] = [:]
    var directlyClaimed: [ClaimedMessage] = []
    /// The successes of this transaction's outcomes whose acks removed their messages (`apply(_:)`).
    var acked = Set<MessageDelivery>()
    /// Queues that deduplicate and accepted events this tick: their window's cutoff, and how many.
    var deduplicated: [String: (cutoff: Timestamp, accepted: Int)] = [:]
    /// The log row the next step may join (see `LifecycleRow`).
    var pendingRow: LifecycleRow?
    /// The batch's router, up to date: an event decided under another generation is routed again by it.
    var router: FleetRouter?
    /// The node claiming (`WriteBatch.claimedBy`).
    var claimedBy: Int64?

    init(_ tx: Transaction, now: Timestamp) {
        self.tx = tx
        self.now = now
    }

    mutating func apply(_ batch: WriteBatch) throws -> WriteResult {
        var result = WriteResult()
        if let heartbeat = batch.heartbeat {
            try tx.upsertRuntime(heartbeat)
            try returnLeasesOfDeadNodes(seenBy: heartbeat)
        }
        router = batch.router
        claimedBy = batch.claimedBy
        if let router {
            // Routing ownership: the rules of every live runtime as this transaction sees them.
            let generation = try tx.routingGeneration()
            if batch.refreshRouting || generation != router.routingGeneration {
                result.routingProblems = router.update(try tx.declaredRouting(), at: now)
            }
        }
        // The successes' acks first, together (a success only removes its message).
        acked = try tx.remove(batch.outcomes.compactMap { outcome in
            guard case .succeeded = outcome.result else { return nil }
            return MessageDelivery(messageID: outcome.claim.messageID, delivery: outcome.claim.delivery)
        })
        for outcome in batch.outcomes {
            guard try apply(outcome) else {
                result.staleOutcomes += 1
                continue
            }
            if case .unstarted = outcome.result { continue }
            result.completed += 1
        }
        for queue in batch.releases { try release(queue: queue) }
        for queue in batch.expireLeases { try expireLeases(queue: queue) }
        // The backlog first (oldest ready first), then new messages take what capacity is left.
        try tx.prepareClaims(batch.claims.filter { $0.limit > 0 }, readyBy: now)
        for request in batch.claims {
            let (claimed, candidates, next) = try claim(request)
            result.claimed += claimed
            if let next { result.nextReady[request.queue] = next }
            // Only when the backlog ran out (fewer rows than asked for, dead-lettered ones
            // included) may new messages skip it.
            if candidates < request.limit { direct[request.queue] = (request, request.limit - claimed.count) }
        }
        for child in children { try publish(child.event, flowStartedAt: child.flowStartedAt) }
        for routed in batch.publishes { try publish(routed) }
        for routing in batch.routings {
            // Another runtime on the same store may have routed it since it was fetched.
            guard let published = try tx.markRouted(seq: routing.seq) else { continue }
            try route(
                seq: routing.seq, event: routing.event, targets: routing.targets, routedUnder: batch.routingsRoutedUnder,
                publishedAt: published, flowStartedAt: published)
        }
        result.claimed += directlyClaimed
        if batch.fetchUnrouted > 0 { result.unrouted = try tx.fetchUnrouted(limit: batch.fetchUnrouted) }
        try tx.insertCPUSamples(batch.cpuSamples)
        if batch.purgeStaleText > 0 { try tx.purgeStaleDeadLetterText(limit: batch.purgeStaleText) }
        if let prune = batch.pruneCPUSamples { try tx.pruneCPUSamples(before: prune.before, keep: prune.keep) }
        try finish()
        return result
    }

    mutating func finish() throws {
        if let row = pendingRow { try tx.append(row) }
        pendingRow = nil
        try tx.finish(counters: counters, backlog: backlog, at: now)
        counters.removeAll()
        backlog.removeAll()
        for (queue, tick) in deduplicated {
            // Twice the pace entries were added (and a few more), so the table holds about one window.
            try tx.pruneAccepted(queue: queue, before: tick.cutoff, limit: 2 * tick.accepted + 16)
        }
        deduplicated.removeAll()
    }

    // MARK: Events and routing

    /// Stores events published from outside a runtime: unrouted until a runtime routes them.
    mutating func publishUnrouted(_ events: [CloudEvent], by actor: Operator) throws {
        for event in events {
            let seq = try tx.nextEventSeq()
            try tx.insertEvent(event, seq: seq, routed: false, at: now, flowAt: nil)
            try record(.published, eventSeq: seq)
        }
        try tx.appendAudit(AuditRecord(
            at: now, actor: actor, action: .publish, detail: "published unrouted: \(events.prefix(20).map(\.id).joined(separator: ","))\(events.count > 20 ? ",…" : "")",
            count: events.count))
        try finish()
    }

    /// `flowStartedAt`: a caused event's flow start (its parent's); nil for a root, whose flow starts now.
    mutating func publish(_ routed: RoutedEvent, flowStartedAt: Timestamp? = nil) throws {
        let event = routed.event
        let seq = try tx.nextEventSeq()
        try tx.insertEvent(event, seq: seq, routed: true, at: now, flowAt: flowStartedAt)
        try record(.published, eventSeq: seq)
        try route(seq: seq, event: event, targets: routed.targets, routedUnder: routed.routedUnder, publishedAt: now, flowStartedAt: flowStartedAt ?? now)
    }

    mutating func route(
        seq: Int64, event: CloudEvent, targets decided: [Target], routedUnder: Int64?, publishedAt: Timestamp, flowStartedAt: Timestamp
    ) throws {
        var targets = decided
        if let router, let now = router.decideAgain(event, decidedUnder: routedUnder) { targets = now }
        guard !targets.isEmpty else {
            try record(.rejected, eventSeq: seq, error: "no rule matched")
            return
        }
        try record(.routed, eventSeq: seq, detail: targets.map(\.queue).joined(separator: ","))
        for target in targets {
            if let window = target.deduplicate, try isDuplicate(event, seq: seq, queue: target.queue, window: window) { continue }
            let id = try tx.nextMessageID()
            counters[target.queue, default: QueueCounters()].enqueued += 1
            backlog[target.queue, default: BacklogChange()].enqueued += 1
            if target.held { backlog[target.queue, default: BacklogChange()].held += 1 }
            if !target.held, let slot = direct[target.queue], slot.remaining > 0 {
                // Dispatched directly: inserted in flight, attempt 1, under a lease.
                direct[target.queue]!.remaining -= 1
                let lease = now + slot.request.lease
                try tx.insertMessage(NewMessage(
                    id: id, queue: target.queue, eventSeq: seq, state: .inFlight, readyAt: lease, enqueuedAt: now, attempt: 1, deliveries: 1,
                    claimedBy: claimedBy))
                let claim = Claim(
                    messageID: id, queue: target.queue, delivery: 1, attempt: 1, eventSeq: seq, eventID: event.id,
                    eventType: event.type, correlationID: event.correlationID, enqueuedAt: now, leaseUntil: lease, publishedAt: publishedAt,
                    flowStartedAt: flowStartedAt)
                try record(.enqueued, eventSeq: seq, queue: target.queue, messageID: id)
                try record(.claimed, claim: claim, at: now)
                directlyClaimed.append(ClaimedMessage(claim: claim, event: event))
                counters[target.queue, default: QueueCounters()].claimed += 1
                continue
            }
            try tx.insertMessage(NewMessage(
                id: id, queue: target.queue, eventSeq: seq, state: target.held ? .held : .ready, readyAt: now, enqueuedAt: now,
                attempt: 0, deliveries: 0, claimedBy: nil))
            try record(.enqueued, eventSeq: seq, queue: target.queue, messageID: id, detail: target.held ? "held for the batch window" : nil)
        }
    }

    /// Whether `queue` accepted this `source` + `id` within `window`; records `duplicate` if so,
    /// and otherwise remembers it as accepted now.
    mutating func isDuplicate(_ event: CloudEvent, seq: Int64, queue: String, window: Duration) throws -> Bool {
        let cutoff = now - window
        guard let accepted = try tx.acceptOnce(queue: queue, source: event.source, id: event.id, seq: seq, at: now, cutoff: cutoff) else {
            deduplicated[queue, default: (cutoff, 0)].accepted += 1
            return false
        }
        try record(.duplicate, eventSeq: seq, queue: queue, detail: "source and id accepted at \(accepted.at.rfc3339) (event seq \(accepted.seq))")
        counters[queue, default: QueueCounters()].duplicates += 1
        return true
    }

    // MARK: Outcomes

    /// Applies a handler's outcome; false when the delivery had lost its lease (nothing changes).
    mutating func apply(_ outcome: Outcome) throws -> Bool {
        let claim = outcome.claim
        let at = outcome.finishedAt
        switch outcome.result {
        case .succeeded(let published):
            guard acked.remove(MessageDelivery(messageID: claim.messageID, delivery: claim.delivery)) != nil else { return false }
            try record(.succeeded, claim: claim, at: at, duration: outcome.duration)
            counters[claim.queue, default: QueueCounters()].succeeded += 1
            leaves(claim.queue, succeededAt: at, claim)
            children += published.map { ($0, claim.flowStartedAt) }
        case .retry(let error, let readyAt):
            guard try tx.scheduleRetry(messageID: claim.messageID, delivery: claim.delivery, readyAt: readyAt, failedAt: at, error: error) else { return false }
            try record(.failed, claim: claim, at: at, duration: outcome.duration, error: error)
            try record(.retryScheduled, claim: claim, at: at, detail: String(format: "retry in %.3fs", (readyAt - at).secondsDouble))
            counters[claim.queue, default: QueueCounters()].failed += 1
            counters[claim.queue, default: QueueCounters()].retried += 1
        case .deadLetter(let error, let reason):
            let fingerprint = FailureFingerprint.of(error)
            guard let replays = try tx.deadLetterInFlight(
                messageID: claim.messageID, delivery: claim.delivery, at: at, reason: reason, error: error, fingerprint: fingerprint)
            else { return false }
            try tx.indexDeadLetterText(messageID: claim.messageID)
            try tx.countCause(DeadLetterCause(queue: claim.queue, type: claim.eventType, fingerprint: fingerprint), by: 1, failedAgain: replays > 0 ? 1 : 0, deadAt: at)
            try record(.failed, claim: claim, at: at, duration: outcome.duration, error: error)
            try record(.deadLettered, claim: claim, at: at, error: error, detail: reason.rawValue)
            counters[claim.queue, default: QueueCounters()].failed += 1
            counters[claim.queue, default: QueueCounters()].deadLettered += 1
            leaves(claim.queue)
        case .drop(let error):
            guard try tx.remove(messageID: claim.messageID, delivery: claim.delivery) else { return false }
            try record(.failed, claim: claim, at: at, duration: outcome.duration, error: error)
            try record(.deleted, claim: claim, at: at, detail: "exhausted; dead-lettering is off for this queue")
            counters[claim.queue, default: QueueCounters()].failed += 1
            leaves(claim.queue)
        case .unstarted:
            guard try tx.returnUnstarted(messageID: claim.messageID, delivery: claim.delivery, at: at) else { return false }
        }
        return true
    }

    /// A message left `queue`'s backlog (succeeded, with its latencies, or dead or dropped).
    mutating func leaves(_ queue: String, succeededAt: Timestamp? = nil, _ claim: Claim? = nil) {
        backlog[queue, default: BacklogChange()].done += 1
        if let succeededAt, let claim {
            backlog[queue]!.latency.record(succeededAt - claim.publishedAt)
            backlog[queue]!.flowLatency.record(succeededAt - claim.flowStartedAt)
        }
    }

    // MARK: Batch windows and leases

    mutating func release(queue: String) throws {
        let released = try tx.releaseHeld(queue: queue, at: now)
        guard !released.isEmpty else { return }
        backlog[queue, default: BacklogChange()].released += released.count
        let detail = "window released \(released.count) message\(released.count == 1 ? "" : "s")"
        for message in released {
            try record(.batchReleased, eventSeq: message.eventSeq, queue: queue, messageID: message.messageID, detail: detail)
        }
    }

    /// In-flight messages whose lease ran out (handler hung, process died) become ready again.
    mutating func expireLeases(queue: String) throws {
        for expired in try tx.expiredLeases(queue: queue, now: now) {
            try returnLease(expired, error: "lease expired: no ack by \(expired.leaseEnd.rfc3339) (handler hung or process died)")
        }
    }

    mutating func returnLease(_ expired: ExpiredLease, error: String) throws {
        try tx.returnExpired(messageID: expired.messageID, at: now, error: error)
        try record(.leaseExpired, eventSeq: expired.eventSeq, queue: expired.queue, messageID: expired.messageID, attempt: expired.attempt, error: error)
        counters[expired.queue, default: QueueCounters()].leaseExpired += 1
    }

    /// The nodes `me` finds dead (`RuntimeInfo.foundDead`): the messages each held in flight are
    /// returned at once, whatever is left of their leases, and it is marked stopped at its last
    /// heartbeat. One transaction under the store's one writer: a dead node's leases come back
    /// once, however many peers look.
    mutating func returnLeasesOfDeadNodes(seenBy me: RuntimeInfo) throws {
        for node in try tx.runtimes() {
            guard let reason = node.foundDead(seenBy: me, at: now) else { continue }
            for lease in try tx.leases(heldBy: node.node) { try returnLease(lease, error: "lease expired at once: \(reason)") }
            try tx.markStopped(runtime: node, at: node.heartbeatAt)
        }
    }

    // MARK: Claims

    /// Claims what the request asks for; returns the claimed messages, how many candidates the
    /// backend returned (dead-lettered ones included), and when the next scheduled retry is due.
    mutating func claim(_ request: ClaimRequest) throws -> ([ClaimedMessage], Int, Timestamp?) {
        guard request.limit > 0 else { return ([], 0, nil) }
        let candidates = try tx.claimCandidates(queue: request.queue, readyBy: now, limit: request.limit)
        var claimed: [ClaimedMessage] = []
        claimed.reserveCapacity(candidates.count)
        for candidate in candidates {
            // A replay is a new delivery: its latency counts from the replay (its enqueue), not the first publish.
            let published = candidate.replays > 0 ? candidate.enqueuedAt : candidate.publishedAt
            var claim = Claim(
                messageID: candidate.messageID, queue: request.queue, delivery: candidate.deliveries + 1, attempt: candidate.attempt + 1,
                eventSeq: candidate.eventSeq, eventID: candidate.event.id, eventType: candidate.event.type,
                correlationID: candidate.event.correlationID, enqueuedAt: candidate.enqueuedAt, leaseUntil: now + request.lease,
                publishedAt: published, flowStartedAt: candidate.replays > 0 ? candidate.enqueuedAt : candidate.flowAt ?? candidate.publishedAt)
            // A message whose budget ran out by lease expiries, or that aged out, is not run again.
            if let reason = request.policy.atClaim(attempt: claim.attempt, enqueuedAt: claim.enqueuedAt, now: now) {
                claim.attempt -= 1
                let error = DeadLetterPolicy.claimError(reason)
                if request.policy.keepsDeadLetters {
                    let fingerprint = FailureFingerprint.of(error)
                    let replays = try tx.deadLetterReady(messageID: claim.messageID, at: now, reason: reason, error: error, fingerprint: fingerprint)
                    try tx.indexDeadLetterText(messageID: claim.messageID)
                    try tx.countCause(
                        DeadLetterCause(queue: claim.queue, type: claim.eventType, fingerprint: fingerprint), by: 1, failedAgain: replays > 0 ? 1 : 0,
                        deadAt: now)
                    try record(.deadLettered, claim: claim, at: now, error: error, detail: reason.rawValue)
                    counters[request.queue, default: QueueCounters()].deadLettered += 1
                } else {
                    try tx.removeReady(messageID: claim.messageID)
                    try record(.deleted, claim: claim, at: now, error: error, detail: "dead-lettering is off for this queue")
                }
                leaves(request.queue)
                continue
            }
            try record(.claimed, claim: claim, at: now, detail: claim.delivery > claim.attempt ? "delivery \(claim.delivery)" : nil)
            claimed.append(ClaimedMessage(claim: claim, event: candidate.event))
        }
        try tx.markClaimed(claimed.map(\.claim), by: claimedBy)
        // Only a claim counts (an empty one would write a row of zeros to the counters).
        if !claimed.isEmpty { counters[request.queue, default: QueueCounters()].claimed += Int64(claimed.count) }
        let next = candidates.count < request.limit ? try tx.nextReady(queue: request.queue, after: now) : nil
        return (claimed, candidates.count, next)
    }

    // MARK: Dead letters

    /// Moves selected dead letters back; each one only if it is still dead when its turn comes.
    mutating func redrive(_ request: RedriveRequest) throws -> MutationResult {
        var moved: [Int64] = []
        for letter in try tx.selectDeadLetters(request.selection, limit: request.limit)
        where try redrive(letter, to: request.to, as: "replay \(request.replayID) by \(request.actor)") {
            moved.append(letter.messageID)
        }
        try tx.appendAudit(AuditRecord(
            at: now, actor: request.actor, action: .redrive,
            detail: "replay \(request.replayID): \(request.selection)\(request.to.map { " to \($0)" } ?? "")\(request.limit.map { ", at most \($0)" } ?? "")",
            count: moved.count))
        try finish()
        return MutationResult(messageIDs: moved)
    }

    /// Moves one dead letter back (to `queue`, or its own), if it is still dead, with its
    /// `redriven` record (`what`: which replay, by whom); false if it is no longer dead.
    mutating func redrive(_ letter: SelectedDeadLetter, to queue: String?, as what: String) throws -> Bool {
        let queue = queue ?? letter.queue
        guard try tx.redrive(messageID: letter.messageID, to: queue, at: now) else { return false }
        try tx.unindexDeadLetterText(messageID: letter.messageID)
        backlog[queue, default: BacklogChange()].enqueued += 1
        try tx.countCause(letter.cause, by: -1, failedAgain: letter.replays > 0 ? -1 : 0, deadAt: nil)
        let from = queue == letter.queue ? "" : " from \(letter.queue)"
        try record(.redriven, eventSeq: letter.eventSeq, queue: queue, messageID: letter.messageID, attempt: 0,
               detail: "\(what)\(from): fresh attempt budget, new delivery")
        return true
    }

    mutating func delete(_ request: DeleteRequest) throws -> MutationResult {
        var deleted: [Int64] = []
        for letter in try tx.selectDeadLetters(request.selection, limit: request.limit) {
            guard try tx.deleteDeadLetter(messageID: letter.messageID) else { continue }
            try tx.unindexDeadLetterText(messageID: letter.messageID)
            deleted.append(letter.messageID)
            try tx.countCause(letter.cause, by: -1, failedAgain: letter.replays > 0 ? -1 : 0, deadAt: nil)
            try record(.deleted, eventSeq: letter.eventSeq, queue: letter.queue, messageID: letter.messageID, attempt: letter.attempt,
                   detail: "dead letter deleted by \(request.actor)")
        }
        try tx.appendAudit(AuditRecord(
            at: now, actor: request.actor, action: .delete,
            detail: "\(request.selection)\(request.limit.map { ", at most \($0)" } ?? "")", count: deleted.count))
        try finish()
        return MutationResult(messageIDs: deleted)
    }

    /// Edits the requested dead letters and moves them back (see `EditRequest`): every check
    /// first, then each letter only if it is still dead and as it was read.
    mutating func edit(_ request: EditRequest) throws -> MutationResult {
        // Each letter with its event as stored, and its edited version (nil: the edit leaves it as it was).
        var plans: [(letter: SelectedDeadLetter, edited: CloudEvent?)] = []
        switch request.change {
        case .replace(let id, let original, let replays, let edited):
            // No longer dead (replayed or deleted meanwhile): nothing to do.
            guard let letter = try tx.selectDeadLetters(DeadLetterSelection(messageIDs: [id]), limit: 1).first else { break }
            guard letter.replays == replays, try tx.event(seq: letter.eventSeq) == original else {
                throw EditError("dead letter \(id) changed since it was read (replayed or edited meanwhile): nothing was changed; open it again")
            }
            let checked = try EventEdit.validate(edited, against: original)
            guard EventEdit.changes(original, checked) else { throw EditError("the edit changes nothing: nothing was changed (a replay sends it unchanged)") }
            plans.append((letter, checked))
        case .set(let assignments, let selection, let limit):
            guard !assignments.isEmpty else { throw EditError("a field edit needs at least one PATH=VALUE") }
            let most = EditRequest.maxLetters
            if let limit, limit > most { throw EditError("a field edit takes at most \(most) dead letters at once, not \(limit)") }
            let letters = try tx.selectDeadLetters(selection, limit: limit ?? most + 1)
            guard letters.count <= most else {
                throw EditError("more than \(most) dead letters match (\(selection)); a field edit takes at most \(most) at once: narrow the selection or give a limit")
            }
            var refused: [String] = []
            for letter in letters {
                guard let current = try tx.event(seq: letter.eventSeq) else {
                    refused.append("\(letter.messageID): its event is missing")
                    continue
                }
                do {
                    let edited = try EventEdit.applying(assignments, to: current)
                    plans.append((letter, EventEdit.changes(current, edited) ? edited : nil))
                } catch {
                    refused.append("\(letter.messageID): \(error)")
                }
            }
            if !refused.isEmpty {
                throw EditError("\(refused.count) of \(letters.count) dead letters cannot take the edit, so none was changed: "
                    + refused.prefix(10).joined(separator: "; ") + (refused.count > 10 ? "; …" : ""))
            }
        }
        var moved: [Int64] = []
        for (letter, edited) in plans {
            let seq = edited == nil ? letter.eventSeq : try tx.nextEventSeq()
            guard try tx.redriveEdited(messageID: letter.messageID, eventSeq: letter.eventSeq, replays: letter.replays, newSeq: seq, at: now) else { continue }
            if let edited { try tx.insertEvent(edited, seq: seq, routed: true, at: now, flowAt: nil) }
            // No longer a dead letter: out of the text index (if it dies again, its edited text goes in).
            try tx.unindexDeadLetterText(messageID: letter.messageID)
            moved.append(letter.messageID)
            backlog[letter.queue, default: BacklogChange()].enqueued += 1
            try tx.countCause(letter.cause, by: -1, failedAgain: letter.replays > 0 ? -1 : 0, deadAt: nil)
            let what: String
            switch request.change {
            case .replace: what = "payload replaced"
            case .set(let assignments, _, _): what = "set " + assignments.map(\.description).joined(separator: " ") + (edited == nil ? " (it was so already: event unchanged)" : "")
            }
            try record(.edited, eventSeq: seq, queue: letter.queue, messageID: letter.messageID, attempt: letter.attempt,
                       detail: "edited by \(request.actor) for replay \(request.replayID): \(what); the original is kept (event seq \(letter.eventSeq))")
            try record(.redriven, eventSeq: seq, queue: letter.queue, messageID: letter.messageID, attempt: 0,
                       detail: "replay \(request.replayID) by \(request.actor) after an edit: fresh attempt budget, new delivery")
        }
        try tx.appendAudit(AuditRecord(
            at: now, actor: request.actor, action: .edit, detail: "replay \(request.replayID): \(request.change)", count: moved.count))
        try finish()
        return MutationResult(messageIDs: moved)
    }

    // MARK: Records

    /// Adds a step to the log: to the pending row if it joins it, else in a new row.
    mutating func record(_ entry: LifecycleEntry) throws {
        if pendingRow?.absorb(entry) == true { return }
        if let row = pendingRow { try tx.append(row) }
        pendingRow = LifecycleRow(entry)
    }

    mutating func record(_ kind: LifecycleKind, claim: Claim, at: Timestamp, duration: Duration? = nil, error: String? = nil, detail: String? = nil) throws {
        try record(LifecycleEntry(
            kind, at: at, eventSeq: claim.eventSeq, queue: claim.queue, messageID: claim.messageID, attempt: claim.attempt,
            duration: duration, error: error, detail: detail))
    }

    mutating func record(
        _ kind: LifecycleKind, eventSeq: Int64, queue: String? = nil, messageID: Int64? = nil, attempt: Int? = nil,
        error: String? = nil, detail: String? = nil
    ) throws {
        try record(LifecycleEntry(kind, at: now, eventSeq: eventSeq, queue: queue, messageID: messageID, attempt: attempt, error: error, detail: detail))
    }
}

/// A backend whose writes are each one `Tick` in one transaction of its own (`transaction(at:_:)`):
/// the store's operations below are that, on every backend.
protocol TickStore: Store {
    associatedtype Transaction: ReplayJobTransaction
    func transaction<T>(at now: Timestamp, _ body: (inout Tick<Transaction>) throws -> T) throws -> T
}

extension TickStore {
    public func apply(_ batch: WriteBatch) throws -> WriteResult {
        try transaction(at: batch.now) { try $0.apply(batch) }
    }

    public func publishUnrouted(_ events: [CloudEvent], at time: Timestamp, by actor: Operator) throws {
        try transaction(at: time) { try $0.publishUnrouted(events, by: actor) }
    }

    public func redrive(_ request: RedriveRequest, at time: Timestamp) throws -> MutationResult {
        try transaction(at: time) { try $0.redrive(request) }
    }

    public func delete(_ request: DeleteRequest, at time: Timestamp) throws -> MutationResult {
        try transaction(at: time) { try $0.delete(request) }
    }

    public func edit(_ request: EditRequest, at time: Timestamp) throws -> MutationResult {
        try transaction(at: time) { try $0.edit(request) }
    }

    public func createReplayJob(_ request: ReplayJobRequest, at time: Timestamp) throws -> ReplayJob {
        try transaction(at: time) { try $0.createReplayJob(request) }
    }

    public func controlReplayJob(_ id: Int64, _ control: ReplayJobControl, by actor: Operator, at time: Timestamp) throws -> ReplayJob {
        try transaction(at: time) { try $0.controlReplayJob(id: id, control, by: actor) }
    }

    public func stepReplayJob(_ id: Int64, runner: String, lease: Duration, moves: Int, at time: Timestamp) throws -> ReplayJobStep {
        try transaction(at: time) { try $0.stepReplayJob(id: id, runner: runner, lease: lease, moves: moves) }
    }

    public func releaseReplayJob(_ id: Int64, runner: String, at time: Timestamp) throws {
        try transaction(at: time) { try $0.releaseReplayJob(id: id, runner: runner) }
    }
}

extension SQLiteStore: TickStore {}
extension PostgresStore: TickStore {}
