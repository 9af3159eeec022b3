/// What a handler receives: one delivery of one message, and the way to publish follow-up events.
///
/// Events published here are committed in the same transaction as the handler's success, so a
/// follow-up event exists exactly when its cause was acked. If the handler throws, they are dropped.
public final class Delivery: @unchecked Sendable {
    public let event: CloudEvent
    public let queue: String
    /// 1-based handler starts within the current attempt budget.
    public let attempt: Int
    /// Claims of this message so far, lease expiries included.
    public let delivery: Int
    /// When this handler run started (a prefetched message may have been claimed a little earlier).
    public let startedAt: Timestamp
    private(set) var published: [CloudEvent] = []

    init(message: ClaimedMessage, startedAt: Timestamp) {
        event = message.event
        queue = message.claim.queue
        attempt = message.claim.attempt
        delivery = message.claim.delivery
        self.startedAt = startedAt
    }

    /// Publishes a follow-up event. Its `correlationid` and `causationid` are set from this
    /// delivery's event unless already set, and `traceparent` is carried through.
    public func publish(_ child: CloudEvent) {
        var child = child
        if child.correlationID == nil { child.correlationID = event.correlationID ?? event.id }
        if child.causationID == nil { child.causationID = event.id }
        if child.traceparent == nil { child.traceparent = event.traceparent }
        published.append(child)
    }

    /// Publishes a child of this delivery's event with a new type and data.
    public func publish(type: String, data: Payload? = nil, subject: String? = nil) {
        publish(event.child(type: type, subject: subject, data: data))
    }
}

/// An error that retrying cannot fix (a malformed event, a rejected business rule): the message is
/// dead-lettered at once instead of retried.
public protocol NonRetryable: Error {}

/// A ready-made non-retryable error with a message.
public struct PermanentFailure: NonRetryable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs one message. Throwing schedules a retry (or dead-letters, see `NonRetryable`).
public typealias Handler = @Sendable (Delivery) throws -> Void
