/// A message's state as an operator asks about it: the store's states, with the ready ones split
/// at a time into those ready now and the retries scheduled for later (their `readyAt` is after it).
public enum QueueMessageState: String, CaseIterable, Sendable {
    case held
    case ready
    case inFlight = "in flight"
    case scheduled = "retry scheduled"
    case dead

    /// The stored state.
    public var state: MessageState {
        switch self {
        case .held: .held
        case .ready, .scheduled: .ready
        case .inFlight: .inFlight
        case .dead: .dead
        }
    }

    /// How many of `queue`'s messages are in this state (true counts, as `queueStats` read them).
    public func count(in queue: QueueStats) -> Int {
        switch self {
        case .held: queue.held
        case .ready: queue.ready
        case .inFlight: queue.inFlight
        case .scheduled: queue.scheduled
        case .dead: queue.dead
        }
    }
}

extension StoreSnapshot {
    /// A page of `queue`'s messages in `state` at `now`, in delivery order (`messages(queue:state:page:)`,
    /// keyset `readyAt`, id): held and ready ones oldest first, those in flight by lease end, retries
    /// by when they are due. Ready ones stop where the scheduled begin; those begin after `now`.
    public func messages(queue: String, _ state: QueueMessageState, page: PageRequest, now: Timestamp) throws -> Page<MessageInfo> {
        var request = page
        if state == .scheduled, request.after == nil { request.after = PageCursor(key: now.micros, tiebreak: .max) }
        let read = try messages(queue: queue, state: state.state, page: request)
        if state == .ready, let end = read.items.firstIndex(where: { $0.readyAt > now }) {
            return Page(items: Array(read.items[..<end]), next: nil)
        }
        return read
    }
}

extension ReadableStore {
    public func messages(queue: String, _ state: QueueMessageState, page: PageRequest, now: Timestamp) throws -> Page<MessageInfo> {
        try read { try $0.messages(queue: queue, state, page: page, now: now) }
    }
}
