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

/// One lifecycle step as `Tick` records it. Readers get it back as a `LifecycleRecord` (with its
/// `seq` and its event's id, type and correlation, which live once with the event). Consecutive
/// steps are stored together as one `LifecycleRow`, the one definition of the stored shape.
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

// MARK: The stored shape of the log

extension LifecycleKind {
    /// Its bit in a stored row's step set (`LifecycleRow.steps`), in the order steps happen to one
    /// message within one moment. Stored on disk: never renumber, only add.
    public var step: Int {
        switch self {
        case .published: return 0
        case .routed: return 1
        case .rejected: return 2
        case .duplicate: return 3
        case .enqueued: return 4
        case .batchReleased: return 5
        case .redriven: return 6
        case .leaseExpired: return 7
        case .claimed: return 8
        case .succeeded: return 9
        case .failed: return 10
        case .retryScheduled: return 11
        case .deadLettered: return 12
        case .deleted: return 13
        case .edited: return 14
        }
    }

    /// The kinds by step (the inverse of `step`).
    static let bySteps: [LifecycleKind] = {
        var kinds = [LifecycleKind](repeating: .failed, count: LifecycleKind.allCases.count)
        for kind in LifecycleKind.allCases { kinds[kind.step] = kind }
        return kinds
    }()

    /// Which of a record's fields a step of this kind has, in a row of several steps.
    enum Scope {
        /// The event's own steps: no queue, message or attempt.
        case event
        /// A message's steps outside a delivery: queue and message, no attempt.
        case message
        /// A delivery's steps: queue, message and attempt.
        case delivery
    }

    var scope: Scope {
        switch self {
        case .published, .routed, .rejected: return .event
        case .duplicate, .enqueued, .batchReleased: return .message
        case .redriven, .leaseExpired, .claimed, .succeeded, .failed, .retryScheduled, .deadLettered, .deleted, .edited: return .delivery
        }
    }

    /// A run's outcome: the only steps with a duration.
    var hasRun: Bool { self == .succeeded || self == .failed }
}

/// One row of the lifecycle log as every backend stores it: the consecutive steps one transaction
/// took for one event (and one of its messages) at one moment, e.g. published, routed, enqueued
/// and claimed together, or a failed run and its scheduled retry. Two rows per event instead of
/// five is what lets the engine write at its schema's floor (issue 10).
///
/// Nothing is lost: `entries` gives back every step with its own fields, exactly as appended.
/// Steps share the row's time, event, queue, message and attempt (each step takes the fields its
/// kind has: `LifecycleKind.Scope`); the error and the detail say which steps they belong to. An
/// entry that would not round-trip so starts a new row (`absorb` returns false).
public struct LifecycleRow: Sendable, Equatable {
    public var at: Timestamp
    public var eventSeq: Int64
    /// The steps, as `1 << kind.step` bits; they happened in step order.
    public var steps: Int
    public var queue: String?
    public var messageID: Int64?
    public var attempt: Int?
    public var duration: Duration?
    public var error: String?
    /// The steps `error` belongs to.
    public var errorSteps: Int
    public var detail: String?
    /// The step `detail` belongs to.
    public var detailSteps: Int

    public init(
        at: Timestamp, eventSeq: Int64, steps: Int, queue: String?, messageID: Int64?, attempt: Int?, duration: Duration?, error: String?,
        errorSteps: Int, detail: String?, detailSteps: Int
    ) {
        self.at = at
        self.eventSeq = eventSeq
        self.steps = steps
        self.queue = queue
        self.messageID = messageID
        self.attempt = attempt
        self.duration = duration
        self.error = error
        self.errorSteps = errorSteps
        self.detail = detail
        self.detailSteps = detailSteps
    }

    /// A row of one step.
    public init(_ entry: LifecycleEntry) {
        let bit = 1 << entry.kind.step
        self.init(
            at: entry.at, eventSeq: entry.eventSeq, steps: bit, queue: entry.queue, messageID: entry.messageID, attempt: entry.attempt,
            duration: entry.duration, error: entry.error, errorSteps: entry.error == nil ? 0 : bit, detail: entry.detail,
            detailSteps: entry.detail == nil ? 0 : bit)
    }

    /// How many steps (records) the row holds.
    public var count: Int { steps.nonzeroBitCount }

    private static let messageSteps = LifecycleKind.allCases.filter { $0.scope != .event }.reduce(0) { $0 | 1 << $1.step }
    private static let deliverySteps = LifecycleKind.allCases.filter { $0.scope == .delivery }.reduce(0) { $0 | 1 << $1.step }
    private static let runSteps = LifecycleKind.allCases.filter(\.hasRun).reduce(0) { $0 | 1 << $1.step }

    /// Whether a step of `kind` with these fields has only those its kind keeps in a row of several steps.
    private static func fits(_ kind: LifecycleKind, queue: String?, messageID: Int64?, attempt: Int?, duration: Duration?) -> Bool {
        switch kind.scope {
        case .event: if queue != nil || messageID != nil || attempt != nil { return false }
        case .message: if attempt != nil { return false }
        case .delivery: break
        }
        return duration == nil || kind.hasRun
    }

    /// Adds `entry` as the row's next step if it happened at the same moment to the same event
    /// (and message), after the row's steps, and the row can give every step back exactly.
    public mutating func absorb(_ entry: LifecycleEntry) -> Bool {
        let bit = 1 << entry.kind.step
        guard entry.at == at, entry.eventSeq == eventSeq, bit > steps,
              Self.fits(entry.kind, queue: entry.queue, messageID: entry.messageID, attempt: entry.attempt, duration: entry.duration)
        else { return false }
        // A row of one step keeps its fields as given; it grows only if they are its kind's.
        if count == 1, !Self.fits(LifecycleKind.bySteps[steps.trailingZeroBitCount], queue: queue, messageID: messageID, attempt: attempt, duration: duration) {
            return false
        }
        // A shared field: set by the first step that has it, then the same for every later one.
        func shares<T: Equatable>(_ mine: T?, _ theirs: T?, among scope: Int, entryHas: Bool) -> Bool {
            guard entryHas else { return true }
            return steps & scope == 0 ? true : mine == theirs
        }
        let hasMessage = entry.kind.scope != .event, hasAttempt = entry.kind.scope == .delivery, hasRun = entry.kind.hasRun
        guard shares(queue, entry.queue, among: Self.messageSteps, entryHas: hasMessage),
              shares(messageID, entry.messageID, among: Self.messageSteps, entryHas: hasMessage),
              shares(attempt, entry.attempt, among: Self.deliverySteps, entryHas: hasAttempt),
              shares(duration, entry.duration, among: Self.runSteps, entryHas: hasRun)
        else { return false }
        if entry.detail != nil, detail != nil { return false }
        if let error = entry.error, let mine = self.error, mine != error { return false }
        if hasMessage, steps & Self.messageSteps == 0 {
            queue = entry.queue
            messageID = entry.messageID
        }
        if hasAttempt, steps & Self.deliverySteps == 0 { attempt = entry.attempt }
        if hasRun, steps & Self.runSteps == 0 { duration = entry.duration }
        if let error = entry.error {
            self.error = error
            errorSteps |= bit
        }
        if let detail = entry.detail {
            self.detail = detail
            detailSteps |= bit
        }
        steps |= bit
        return true
    }

    /// The steps, oldest first, each with its own fields.
    public func entries() -> [LifecycleEntry] {
        var entries: [LifecycleEntry] = []
        entries.reserveCapacity(count)
        forEachEntry { entries.append($0) }
        return entries
    }

    /// Each step, oldest first, with its own fields, without building an array (readers decode
    /// the log with this).
    public func forEachEntry(_ body: (LifecycleEntry) -> Void) {
        let single = count == 1
        var rest = steps
        while rest != 0 {
            let step = rest.trailingZeroBitCount
            rest &= rest - 1
            let bit = 1 << step
            guard step < LifecycleKind.bySteps.count else { continue }
            let kind = LifecycleKind.bySteps[step]
            guard !single else {
                body(LifecycleEntry(
                    kind, at: at, eventSeq: eventSeq, queue: queue, messageID: messageID, attempt: attempt, duration: duration, error: error,
                    detail: detail))
                return
            }
            let hasMessage = kind.scope != .event
            body(LifecycleEntry(
                kind, at: at, eventSeq: eventSeq, queue: hasMessage ? queue : nil, messageID: hasMessage ? messageID : nil,
                attempt: kind.scope == .delivery ? attempt : nil, duration: kind.hasRun ? duration : nil,
                error: errorSteps & bit != 0 ? error : nil, detail: detailSteps & bit != 0 ? detail : nil))
        }
    }
}

/// Where a lifecycle record is: its row and its step within the row, as one number that orders
/// the log (`LifecycleRecord.seq`). The first record of the log is 1, as it was when a row held one
/// record; a cursor of either kind pages the same way.
public enum LogPosition {
    /// Steps a row may hold, as a power of two (16 kinds fit; 15 are used).
    static let stepBits: Int64 = 4

    /// The record seq of step `index` of row `row` (rows count from 1).
    public static func record(row: Int64, index: Int) -> Int64 { ((row - 1) << stepBits) + Int64(index) + 1 }

    /// The row a record seq is in (0 for seq 0, "before the first").
    public static func row(of record: Int64) -> Int64 { ((record - 1) >> stepBits) + 1 }

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
    public var leaseExpired: Int64 = 0

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
    /// A replay job created, changed (pause, resume, cancel, rate), stopped by itself or done.
    case replayJob = "replay-job"
    /// Dead letters edited, then replayed (`Store.edit`).
    case edit
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
///
/// `errorText` and `payloadText` are case-insensitive substrings, found through the store's text
/// index (a trigram index: every run of three characters), so each takes at least
/// `minimumTextLength` characters (`problem` says so; the store refuses such a selection rather
/// than read every dead letter). The error text is every attempt's error of the dead letter, one
/// per line; the payload text is the event's data as stored, when it is JSON or text (a binary
/// payload is not searchable). Of each, the first `indexedTextLength` characters are indexed.
public struct DeadLetterSelection: Sendable, Equatable, CustomStringConvertible {
    /// The source queue.
    public var queue: String?
    /// These messages only.
    public var messageIDs: [Int64]?
    /// The event's type.
    public var type: String?
    /// The failure's fingerprint (`FailureFingerprint`), as stored.
    public var fingerprint: String?
    /// Only those that failed again after a replay (true), or only those never replayed (false).
    public var failedAgain: Bool?
    /// Dead at or after.
    public var deadSince: Timestamp?
    /// Dead before.
    public var deadUntil: Timestamp?
    /// Text in any attempt's error (case-insensitive).
    public var errorText: String?
    /// Text in the payload, JSON or text (case-insensitive).
    public var payloadText: String?

    public init(
        queue: String? = nil, messageIDs: [Int64]? = nil, type: String? = nil, fingerprint: String? = nil, failedAgain: Bool? = nil,
        deadSince: Timestamp? = nil, deadUntil: Timestamp? = nil, errorText: String? = nil, payloadText: String? = nil
    ) {
        self.queue = queue
        self.messageIDs = messageIDs
        self.type = type
        self.fingerprint = fingerprint
        self.failedAgain = failedAgain
        self.deadSince = deadSince
        self.deadUntil = deadUntil
        self.errorText = errorText
        self.payloadText = payloadText
    }

    public static let all = DeadLetterSelection()

    /// The fewest characters (Unicode scalars) a text condition takes: the index holds runs of three.
    public static let minimumTextLength = 3
    /// How much of a dead letter's error text and of its payload is indexed, in characters.
    public static let indexedTextLength = 16_384

    /// Whether a text condition is given (the store then reads its text index).
    public var hasText: Bool { errorText != nil || payloadText != nil }

    /// Why this selection cannot be run, in words (a text condition too short, or holding a NUL);
    /// nil when it can.
    public var problem: String? {
        for (name, text) in [("error", errorText), ("payload", payloadText)] {
            guard let text else { continue }
            if text.unicodeScalars.count < Self.minimumTextLength {
                let got = text.isEmpty ? "it is empty" : "'\(text)' has \(text.unicodeScalars.count)"
                return "\(name) text takes at least \(Self.minimumTextLength) characters (the text index holds runs of three); \(got)"
            }
            if text.unicodeScalars.contains("\u{0}") { return "\(name) text cannot hold a NUL character" }
        }
        return nil
    }

    public var description: String {
        var parts: [String] = []
        if let queue { parts.append("queue \(queue)") }
        if let messageIDs { parts.append("messages \(messageIDs.map(String.init).joined(separator: ","))") }
        if let type { parts.append("type \(type)") }
        if let fingerprint { parts.append("fingerprint \(fingerprint)") }
        if let errorText { parts.append("error text \(JSONText.quote(errorText))") }
        if let payloadText { parts.append("payload text \(JSONText.quote(payloadText))") }
        if let failedAgain { parts.append(failedAgain ? "failed again after a replay" : "never replayed") }
        if let deadSince { parts.append("dead since \(deadSince.rfc3339)") }
        if let deadUntil { parts.append("dead before \(deadUntil.rfc3339)") }
        return parts.isEmpty ? "all dead letters" : parts.joined(separator: ", ")
    }
}

/// Dead letters of one cause: one queue, one event type, one failure fingerprint.
public struct DeadLetterGroup: Sendable, Equatable {
    public var queue: String
    public var type: String
    public var fingerprint: String
    public var count: Int
    public var firstDeadAt: Timestamp
    public var lastDeadAt: Timestamp
    /// How many of them had been replayed before and failed again.
    public var failedAgain: Int

    public init(queue: String, type: String, fingerprint: String, count: Int, firstDeadAt: Timestamp, lastDeadAt: Timestamp, failedAgain: Int) {
        self.queue = queue
        self.type = type
        self.fingerprint = fingerprint
        self.count = count
        self.firstDeadAt = firstDeadAt
        self.lastDeadAt = lastDeadAt
        self.failedAgain = failedAgain
    }

    /// The selection of this group's dead letters.
    public var selection: DeadLetterSelection { DeadLetterSelection(queue: queue, type: type, fingerprint: fingerprint) }
}

/// How many dead letters of one cause (queue, type, fingerprint) were made in one minute.
/// Arrivals are history: a replay or delete does not take them back.
public struct DeadLetterArrivals: Sendable, Equatable {
    /// How long arrivals are kept.
    public static let keptMinutes: Int64 = 24 * 60

    public var queue: String
    public var type: String
    public var fingerprint: String
    /// The minute's start.
    public var minute: Timestamp
    public var count: Int

    public init(queue: String, type: String, fingerprint: String, minute: Timestamp, count: Int) {
        self.queue = queue
        self.type = type
        self.fingerprint = fingerprint
        self.minute = minute
        self.count = count
    }

    /// Per-bucket counts of one group's arrivals over `buckets` of `width` ending at `end`, oldest first.
    public static func series(_ arrivals: [DeadLetterArrivals], of group: DeadLetterGroup, end: Timestamp, buckets: Int, width: Duration) -> [Double] {
        var series = [Double](repeating: 0, count: buckets)
        let start = end.micros - Int64(buckets) * width.micros
        for a in arrivals where a.queue == group.queue && a.type == group.type && a.fingerprint == group.fingerprint {
            guard a.minute.micros >= start, a.minute.micros < end.micros else { continue }
            series[Int((a.minute.micros - start) / width.micros)] += Double(a.count)
        }
        return series
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
