import Foundation

// The delivery state machine's vocabulary, defined once for every backend: message states, the
// dead-letter policy, the shape of a lifecycle record as written, the lifetime counters, and what
// the operator's operations (redrive, delete) and their audit records carry. `Tick` (Tick.swift)
// decides with these; a backend (`StoreTransaction`) only executes.

/// Where a message is. Stored as the raw value (SQLite: `messages.state`); every query names a
/// state through this type, never through a literal.
public enum MessageState: Int, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// Waiting for its batch window to close.
    case held = 0
    /// Deliverable from `readyAt` (now, or later for a scheduled retry).
    case ready = 1
    /// Claimed under a lease that ends at `readyAt`.
    case inFlight = 2
    /// A dead letter: kept, with its history, until redriven or deleted.
    case dead = 3

    public var description: String {
        switch self {
        case .held: return "held"
        case .ready: return "ready"
        case .inFlight: return "in-flight"
        case .dead: return "dead"
        }
    }

    public init?(name: String) {
        guard let state = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = state
    }

    /// Not yet done: what the lag counts.
    public static let live: [MessageState] = [.held, .ready, .inFlight]
}

/// When a message stops being delivered: the one dead-letter rule, used by the workers after a
/// failed run and by every backend's claims (through `Tick`).
public struct DeadLetterPolicy: Sendable, Equatable {
    /// Attempts before a message is dead-lettered (the first run counts).
    public var maxAttempts: Int
    /// A message older than this (since first enqueued) is not delivered or retried again.
    public var maxAge: Duration?
    /// Off: an exhausted message is dropped (recorded `deleted`) instead of kept as a dead letter.
    public var keepsDeadLetters: Bool

    public init(maxAttempts: Int, maxAge: Duration? = nil, keepsDeadLetters: Bool = true) {
        self.maxAttempts = maxAttempts
        self.maxAge = maxAge
        self.keepsDeadLetters = keepsDeadLetters
    }

    /// After a failed run of `attempt`, whose retry would start at `retryAt`: why the message is
    /// done, or nil to retry.
    public func afterFailure(attempt: Int, nonRetryable: Bool, enqueuedAt: Timestamp, retryAt: Timestamp) -> DeadLetterReason? {
        if nonRetryable { return .nonRetryable }
        if attempt >= maxAttempts { return .maxAttempts }
        if let maxAge, retryAt - enqueuedAt > maxAge { return .maxAge }
        return nil
    }

    /// At a claim that would start `attempt` (lease expiries spend attempts without a failed
    /// run): why the message is not run again, or nil to deliver it.
    public func atClaim(attempt: Int, enqueuedAt: Timestamp, now: Timestamp) -> DeadLetterReason? {
        if let maxAge, now - enqueuedAt > maxAge { return .maxAge }
        if attempt > maxAttempts { return .maxAttempts }
        return nil
    }

    /// The error recorded for a message dead-lettered at a claim.
    public static func claimError(_ reason: DeadLetterReason) -> String {
        reason == .maxAge ? "older than the queue's max age" : "no attempts left after lease expiry"
    }
}

extension QueueSpec {
    public var deadLetterPolicy: DeadLetterPolicy {
        DeadLetterPolicy(maxAttempts: maxAttempts, maxAge: maxAge, keepsDeadLetters: deadLetter)
    }
}

/// One lifecycle record as a backend writes it: the one definition of a record's shape. Readers
/// get it back as a `LifecycleRecord` (with its `seq` and its event's id, type and correlation,
/// which live once with the event). A change of the stored shape (several steps per row) starts
/// here and in the backend's mapping of this type, nowhere else.
public struct LifecycleEntry: Sendable, Equatable {
    public var kind: LifecycleKind
    public var at: Timestamp
    /// The event's `seq` in the store.
    public var eventSeq: Int64
    public var queue: String?
    public var messageID: Int64?
    public var attempt: Int?
    public var duration: Duration?
    public var error: String?
    public var detail: String?

    public init(
        _ kind: LifecycleKind, at: Timestamp, eventSeq: Int64, queue: String? = nil, messageID: Int64? = nil, attempt: Int? = nil,
        duration: Duration? = nil, error: String? = nil, detail: String? = nil
    ) {
        self.kind = kind
        self.at = at
        self.eventSeq = eventSeq
        self.queue = queue
        self.messageID = messageID
        self.attempt = attempt
        self.duration = duration
        self.error = error
        self.detail = detail
    }
}

extension LifecycleRecord {
    /// A stored entry as readers see it.
    public init(seq: Int64, entry: LifecycleEntry, eventID: String, eventType: String?, correlationID: String?) {
        self.init(
            seq: seq, time: entry.at, kind: entry.kind, eventID: eventID, eventType: eventType, correlationID: correlationID,
            queue: entry.queue, messageID: entry.messageID, attempt: entry.attempt, duration: entry.duration, error: entry.error,
            detail: entry.detail)
    }
}

/// A queue's lifetime counters (and, during a transaction, the change to add to them).
public struct QueueCounters: Sendable, Equatable {
    public var enqueued: Int64 = 0
    public var claimed: Int64 = 0
    public var succeeded: Int64 = 0
    public var failed: Int64 = 0
    public var retried: Int64 = 0
    public var deadLettered: Int64 = 0
    public var duplicates: Int64 = 0

    public init() {}
}

/// Who did something to a store, as audit records name them: `user@host`.
public struct Operator: Sendable, Equatable, Codable, CustomStringConvertible {
    public var user: String
    public var host: String

    public init(user: String, host: String) {
        self.user = user
        self.host = host
    }

    /// This process's user and host.
    public static var current: Operator {
        let environment = ProcessInfo.processInfo.environment
        let user = environment["USER"].flatMap { $0.isEmpty ? nil : $0 } ?? environment["LOGNAME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? String(getuid())
        return Operator(user: user, host: ProcessInfo.processInfo.hostName)
    }

    public var description: String { "\(user)@\(host)" }

    public init?(parsing text: String) {
        guard let at = text.lastIndex(of: "@") else { return nil }
        self.init(user: String(text[..<at]), host: String(text[text.index(after: at)...]))
    }
}

/// What an operator's mutation was.
public enum AuditAction: String, Sendable, Codable, CaseIterable {
    case publish
    case redrive
    case delete
}

/// One operator mutation: who, when, what, how many. Written in the mutation's own transaction.
public struct AuditRecord: Sendable, Equatable {
    public var seq: Int64
    public var at: Timestamp
    public var actor: Operator
    public var action: AuditAction
    /// What was asked, in words (the selection, the target queue, the replay id).
    public var detail: String
    /// How many items the mutation changed (messages moved or deleted, events published).
    public var count: Int

    public init(seq: Int64 = 0, at: Timestamp, actor: Operator, action: AuditAction, detail: String, count: Int) {
        self.seq = seq
        self.at = at
        self.actor = actor
        self.action = action
        self.detail = detail
        self.count = count
    }
}

// MARK: Paging

/// Where a page ends, to ask for the next one: opaque to callers, a keyset position to backends
/// (no offsets, so a page stays right while writers insert and delete).
public struct PageCursor: Sendable, Hashable, CustomStringConvertible {
    /// The ordering key of the last item (a time or a seq) and its tiebreaker (an id).
    var key: Int64
    var tiebreak: Int64

    init(key: Int64, tiebreak: Int64) {
        self.key = key
        self.tiebreak = tiebreak
    }

    /// As text, for a CLI's `--after`: `key.tiebreak`.
    public var description: String { "\(key).\(tiebreak)" }

    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let key = Int64(parts[0]), let tiebreak = Int64(parts[1]) else { return nil }
        self.init(key: key, tiebreak: tiebreak)
    }
}

/// Up to `limit` items after `cursor` (nil: from the start).
public struct PageRequest: Sendable, Equatable {
    public var limit: Int
    public var after: PageCursor?

    public init(limit: Int, after: PageCursor? = nil) {
        // 0...2^30: a page is never negative (SQLite reads LIMIT -1 as no limit), and limit + 1 never overflows.
        self.limit = min(max(limit, 0), 1 << 30)
        self.after = after
    }
}

/// One page, and the cursor of the next (nil: this was the last).
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var next: PageCursor?

    public init(items: [Item], next: PageCursor?) {
        self.items = items
        self.next = next
    }
}

/// Which dead letters an operation reads or changes: every condition given must hold.
public struct DeadLetterSelection: Sendable, Equatable, CustomStringConvertible {
    /// The source queue.
    public var queue: String?
    /// These messages only.
    public var messageIDs: [Int64]?

    public init(queue: String? = nil, messageIDs: [Int64]? = nil) {
        self.queue = queue
        self.messageIDs = messageIDs
    }

    public static let all = DeadLetterSelection()

    public var description: String {
        var parts: [String] = []
        if let queue { parts.append("queue \(queue)") }
        if let messageIDs { parts.append("messages \(messageIDs.map(String.init).joined(separator: ","))") }
        return parts.isEmpty ? "all dead letters" : parts.joined(separator: ", ")
    }
}

/// Moving dead letters back to be delivered again: their source queue, or `to`. The event (id,
/// correlation, causation) is unchanged; the message gets a fresh attempt budget and its next
/// claim is a new delivery. One transaction: a dead letter is moved by exactly one redrive, however
/// many run at once.
public struct RedriveRequest: Sendable, Equatable {
    public var selection: DeadLetterSelection
    /// Another queue to deliver to; nil: each message's own.
    public var to: String?
    public var actor: Operator
    /// Names this replay in the log and the audit record.
    public var replayID: String
    /// At most this many (oldest dead first); nil: all selected.
    public var limit: Int?

    public init(selection: DeadLetterSelection, to: String? = nil, actor: Operator = .current, replayID: String = UUID().uuidString.lowercased(), limit: Int? = nil) {
        self.selection = selection
        self.to = to
        self.actor = actor
        self.replayID = replayID
        self.limit = limit
    }
}

/// Deleting dead letters for good (recorded `deleted` in the log; the events stay).
public struct DeleteRequest: Sendable, Equatable {
    public var selection: DeadLetterSelection
    public var actor: Operator
    public var limit: Int?

    public init(selection: DeadLetterSelection, actor: Operator = .current, limit: Int? = nil) {
        self.selection = selection
        self.actor = actor
        self.limit = limit
    }
}

/// The messages an operation changed.
public struct MutationResult: Sendable, Equatable {
    public var messageIDs: [Int64]
    public var count: Int { messageIDs.count }
    public init(messageIDs: [Int64]) { self.messageIDs = messageIDs }
}

/// One message as `messages(queue:state:page:)` lists it.
public struct MessageInfo: Sendable, Equatable {
    public var id: Int64
    public var queue: String
    public var state: MessageState
    /// Ready: deliverable from; in flight: lease end.
    public var readyAt: Timestamp
    public var enqueuedAt: Timestamp
    public var attempt: Int
    public var deliveries: Int
    public var errors: [AttemptError]
    public var event: CloudEvent
}
