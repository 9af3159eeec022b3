/// One step in the life of an event or message: one row of the event log.
public enum LifecycleKind: String, Sendable, CaseIterable, Codable {
    case published
    case routed
    case enqueued
    case claimed
    case succeeded
    case failed
    case retryScheduled = "retry-scheduled"
    case deadLettered = "dead-lettered"
    case redriven
    case deleted
    case batchReleased = "batch-released"
    case rejected
    case leaseExpired = "lease-expired"
    /// Not enqueued: the queue had accepted an event with the same `source` and `id` within its
    /// deduplication window (`detail` names when).
    case duplicate
    /// A dead letter's payload was edited before its replay: the message now carries a new version
    /// of the event (same id; `detail` names who, the replay id and the original's event seq).
    case edited
}

/// A row of the event log. `seq` orders the log; the dashboard follows it by sequence.
public struct LifecycleRecord: Sendable, Equatable {
    public var seq: Int64
    public var time: Timestamp
    public var kind: LifecycleKind
    public var eventID: String
    public var eventType: String?
    public var correlationID: String?
    public var queue: String?
    public var messageID: Int64?
    public var attempt: Int?
    public var duration: Duration?
    public var error: String?
    /// Free text: the queues an event was routed to, a retry's due time, a dead letter's reason.
    public var detail: String?

    public init(
        seq: Int64 = 0, time: Timestamp, kind: LifecycleKind, eventID: String, eventType: String? = nil,
        correlationID: String? = nil, queue: String? = nil, messageID: Int64? = nil, attempt: Int? = nil,
        duration: Duration? = nil, error: String? = nil, detail: String? = nil
    ) {
        self.seq = seq
        self.time = time
        self.kind = kind
        self.eventID = eventID
        self.eventType = eventType
        self.correlationID = correlationID
        self.queue = queue
        self.messageID = messageID
        self.attempt = attempt
        self.duration = duration
        self.error = error
        self.detail = detail
    }
}

/// Why a message became a dead letter.
public enum DeadLetterReason: String, Sendable, Codable, CaseIterable {
    case maxAttempts = "max-attempts"
    case maxAge = "max-age"
    case nonRetryable = "non-retryable"
}
