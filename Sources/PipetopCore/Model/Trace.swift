import Foundation

/// One business flow as a tree, built from the store (`events(correlationID:)` and
/// `trace(correlationID:)`): each event a node under the event that caused it (`causationid`),
/// each of its deliveries a hop with its wait, its attempts and how it ended, and the critical
/// path (the chain that decided when the flow was done) marked.
///
/// Bad data is shown, not dropped: an event whose cause is not in the flow is an orphan root,
/// and causes that loop are cut where the loop closes (that node becomes a root, marked).
public struct Trace: Sendable, Equatable {
    public var correlationID: String
    /// Events in tree order (each followed by its subtree), with their depth.
    public var nodes: [Node]
    /// When the flow started (its first record) and when its last record was written.
    public var start: Timestamp
    public var end: Timestamp

    public struct Node: Sendable, Equatable {
        /// The event as the flow's latest version of it holds it (an edited event has two).
        public var event: CloudEvent
        public var publishedAt: Timestamp?
        public var depth: Int
        public var parent: Int?
        public var children: [Int]
        /// Its cause is not in the flow.
        public var orphan = false
        /// Its cause led back to itself; the loop was cut here.
        public var cycle = false
        /// No rule matched it.
        public var rejected = false
        public var hops: [Hop]
        /// On the critical path: the chain from the root to the last success (or the last record).
        public var critical = false

        /// When its last hop finished (or its last record, if it has no hops).
        public var finishedAt: Timestamp?
    }

    /// One delivery of an event: one message on one queue.
    public struct Hop: Sendable, Equatable {
        public var queue: String
        public var messageID: Int64
        public var enqueuedAt: Timestamp
        /// For a batch queue: when the window released it (it waited for the bus until then).
        public var releasedAt: Timestamp?
        public var attempts: [Attempt]
        /// When it was replayed (each a fresh attempt budget).
        public var replays: [Timestamp]
        /// When it was edited before a replay.
        public var edits: [Timestamp]
        public var state: State
        /// When it ended (succeeded, dead, deleted), if it did.
        public var endedAt: Timestamp?
        public var error: String?

        public enum State: String, Sendable, Equatable {
            case held, waiting, running, retrying, succeeded, dead, deleted
        }

        /// Time spent waiting to be claimed (from enqueue, or from the last retry or replay), in total.
        public var wait: Duration {
            var total = Duration.zero
            var since = enqueuedAt
            for attempt in attempts {
                total += attempt.claimedAt - since
                since = attempt.finishedAt ?? attempt.claimedAt
            }
            return max(.zero, total)
        }

        /// Time spent running (claimed → finished), in total.
        public var run: Duration {
            attempts.reduce(Duration.zero) { $0 + (($1.finishedAt ?? $1.claimedAt) - $1.claimedAt) }
        }
    }

    public struct Attempt: Sendable, Equatable {
        public var number: Int
        public var claimedAt: Timestamp
        public var finishedAt: Timestamp?
        public var outcome: Outcome
        /// The handler's own time (the run bar is claimed → finished).
        public var duration: Duration?

        public enum Outcome: Sendable, Equatable {
            case running
            case succeeded
            case failed(String)
            case leaseExpired(String)
        }
    }

    // MARK: Summary

    /// Published → the last success (nil: nothing succeeded).
    public var endToEnd: Duration? {
        let successes = nodes.flatMap(\.hops).filter { $0.state == .succeeded }.compactMap(\.endedAt)
        guard let last = successes.max(), let first = nodes.compactMap(\.publishedAt).min() else { return nil }
        return last - first
    }

    public var hopCount: Int { nodes.reduce(0) { $0 + $1.hops.count } }
    public var attemptCount: Int { nodes.reduce(0) { $0 + $1.hops.reduce(0) { $0 + $1.attempts.count } } }
    public var retryCount: Int { nodes.reduce(0) { $0 + $1.hops.reduce(0) { $0 + max(0, $1.attempts.count - 1 - $1.replays.count) } } }

    /// Wait and run per queue, in first-seen order.
    public var timeByQueue: [(queue: String, wait: Duration, run: Duration)] {
        var order: [String] = []
        var totals: [String: (Duration, Duration)] = [:]
        for hop in nodes.flatMap(\.hops) {
            if totals[hop.queue] == nil { order.append(hop.queue) }
            let sum = totals[hop.queue] ?? (.zero, .zero)
            totals[hop.queue] = (sum.0 + hop.wait, sum.1 + hop.run)
        }
        return order.map { ($0, totals[$0]!.0, totals[$0]!.1) }
    }

    /// How each branch ended: the hops of the leaves (events that caused nothing), by state.
    public var branchStates: [(state: Hop.State, count: Int)] {
        var counts: [Hop.State: Int] = [:]
        for node in nodes where node.children.isEmpty { for hop in node.hops { counts[hop.state, default: 0] += 1 } }
        let order: [Hop.State] = [.succeeded, .dead, .retrying, .running, .waiting, .held, .deleted]
        return order.compactMap { state in counts[state].map { (state, $0) } }
    }

    /// One line: end to end, hops, attempts, retries, how the branches ended, where the time went.
    public var summary: String {
        var parts: [String] = []
        parts.append(endToEnd.map { "end to end \(Self.durationText($0))" } ?? "not done")
        parts.append("\(nodes.count) event\(nodes.count == 1 ? "" : "s"), \(hopCount) hop\(hopCount == 1 ? "" : "s"), \(attemptCount) attempt\(attemptCount == 1 ? "" : "s"), \(retryCount) retr\(retryCount == 1 ? "y" : "ies")")
        let branches = branchStates.map { "\($0.count) \($0.state.rawValue)" }.joined(separator: ", ")
        if !branches.isEmpty { parts.append("branches: \(branches)") }
        let time = timeByQueue.map { "\($0.queue) wait \(Self.durationText($0.wait)) run \(Self.durationText($0.run))" }.joined(separator: ", ")
        if !time.isEmpty { parts.append(time) }
        return parts.joined(separator: " · ")
    }

    /// `840µs`, `12ms`, `1.4s`, `3m10s`, `2h05m`.
    public static func durationText(_ duration: Duration) -> String {
        let micros = max(0, duration.micros)
        if micros < 1_000 { return "\(micros)µs" }
        if micros < 1_000_000 { return "\(micros / 1_000)ms" }
        if micros < 60_000_000 { return String(format: "%.1fs", Double(micros) / 1e6) }
        return ReplayJob.durationText(duration)
    }

    // MARK: Building

    /// The flow's tree from its events (the store's `events(correlationID:)`, oldest first) and
    /// its log records (`trace(correlationID:)`, oldest first).
    public static func build(correlationID: String, events: [CloudEvent], records unordered: [LifecycleRecord]) -> Trace {
        // In time order (then log order): a record committed later with an earlier time is placed by its time.
        let records = unordered.sorted { $0.time != $1.time ? $0.time < $1.time : $0.seq < $1.seq }
        // One node per event id, in first-seen order; a later version (an edit) replaces the envelope.
        var index: [String: Int] = [:]
        var nodes: [Node] = []
        for event in events {
            if let at = index[event.id] {
                nodes[at].event = event
            } else {
                index[event.id] = nodes.count
                nodes.append(Node(event: event, depth: 0, children: [], hops: []))
            }
        }
        // Records name their event by id; one not among the events still gets a node (shown, not dropped).
        var hopIndex: [Int64: (node: Int, hop: Int)] = [:]
        for record in records {
            let n: Int
            if let at = index[record.eventID] {
                n = at
            } else {
                n = nodes.count
                index[record.eventID] = n
                let stand = CloudEvent(id: record.eventID, source: "?", type: record.eventType ?? "?", time: nil, correlationID: record.correlationID)
                nodes.append(Node(event: stand, depth: 0, children: [], hops: []))
            }
            switch record.kind {
            case .published: nodes[n].publishedAt = nodes[n].publishedAt ?? record.time
            case .rejected: nodes[n].rejected = true
            default: break
            }
            guard let messageID = record.messageID else { continue }
            if hopIndex[messageID] == nil {
                hopIndex[messageID] = (n, nodes[n].hops.count)
                let held = record.kind == .enqueued && record.detail?.contains("held") == true
                nodes[n].hops.append(Hop(
                    queue: record.queue ?? "?", messageID: messageID, enqueuedAt: record.time, attempts: [], replays: [], edits: [],
                    state: held ? .held : .waiting))
            }
            let (hn, hh) = hopIndex[messageID]!
            apply(record, to: &nodes[hn].hops[hh])
        }
        // Parents by causation id; orphans and loops become roots, marked.
        var parent = [Int?](repeating: nil, count: nodes.count)
        for (n, node) in nodes.enumerated() {
            guard let cause = node.event.causationID, cause != node.event.id else { continue }
            if let p = index[cause] { parent[n] = p } else { nodes[n].orphan = true }
        }
        for n in nodes.indices {
            var seen: Set<Int> = [n]
            var x = n
            while let p = parent[x] {
                // x's cause is already on the way up: the causes loop; cut the loop at x.
                if seen.contains(p) {
                    parent[x] = nil
                    nodes[x].cycle = true
                    break
                }
                seen.insert(p)
                x = p
            }
        }
        for n in nodes.indices { nodes[n].finishedAt = nodes[n].hops.compactMap { $0.endedAt ?? $0.attempts.last?.finishedAt }.max() }
        // Tree order: roots in first-seen order, each followed by its subtree.
        var children = [[Int]](repeating: [], count: nodes.count)
        for n in nodes.indices { if let p = parent[n] { children[p].append(n) } }
        var order: [Int] = []
        var depth = [Int](repeating: 0, count: nodes.count)
        func visit(_ n: Int, _ d: Int) {
            depth[n] = d
            order.append(n)
            for c in children[n] { visit(c, d + 1) }
        }
        for n in nodes.indices where parent[n] == nil { visit(n, 0) }
        var position = [Int](repeating: 0, count: nodes.count)
        for (p, n) in order.enumerated() { position[n] = p }
        var ordered = order.map { n -> Node in
            var node = nodes[n]
            node.depth = depth[n]
            node.parent = parent[n].map { position[$0] }
            node.children = children[n].map { position[$0] }
            return node
        }
        markCriticalPath(&ordered)
        let times = records.map(\.time)
        return Trace(correlationID: correlationID, nodes: ordered, start: times.min() ?? Timestamp(micros: 0), end: times.max() ?? Timestamp(micros: 0))
    }

    private static func apply(_ record: LifecycleRecord, to hop: inout Hop) {
        switch record.kind {
        case .batchReleased:
            hop.releasedAt = record.time
            hop.state = .waiting
        case .claimed:
            hop.attempts.append(Attempt(number: record.attempt ?? hop.attempts.count + 1, claimedAt: record.time, outcome: .running))
            hop.state = .running
        case .succeeded:
            finish(&hop, at: record.time, .succeeded, duration: record.duration)
            hop.state = .succeeded
            hop.endedAt = record.time
        case .failed:
            finish(&hop, at: record.time, .failed(record.error ?? ""), duration: record.duration)
            hop.error = record.error
        case .retryScheduled:
            hop.state = .retrying
        case .leaseExpired:
            finish(&hop, at: record.time, .leaseExpired(record.error ?? "lease expired"), duration: nil)
            hop.state = .retrying
            hop.error = record.error
        case .deadLettered:
            // At a claim (too old, attempts spent) the claim's record is the dead-lettering itself.
            if case .running? = hop.attempts.last?.outcome { finish(&hop, at: record.time, .failed(record.error ?? ""), duration: nil) }
            hop.state = .dead
            hop.endedAt = record.time
            hop.error = record.error ?? hop.error
        case .deleted:
            hop.state = .deleted
            hop.endedAt = record.time
        case .redriven:
            hop.replays.append(record.time)
            hop.state = .waiting
            hop.endedAt = nil
            if let queue = record.queue { hop.queue = queue }
        case .edited:
            hop.edits.append(record.time)
        default:
            break
        }
    }

    private static func finish(_ hop: inout Hop, at time: Timestamp, _ outcome: Attempt.Outcome, duration: Duration?) {
        guard let last = hop.attempts.indices.last, hop.attempts[last].outcome == .running else { return }
        hop.attempts[last].finishedAt = time
        hop.attempts[last].outcome = outcome
        hop.attempts[last].duration = duration
    }

    /// From the root whose subtree ends last, down the child whose subtree ends last, while that
    /// child ends after the node itself: the chain that decided when the flow was done.
    private static func markCriticalPath(_ nodes: inout [Node]) {
        guard !nodes.isEmpty else { return }
        var subtreeEnd = [Int64](repeating: .min, count: nodes.count)
        for n in nodes.indices.reversed() {
            var end = nodes[n].finishedAt?.micros ?? nodes[n].publishedAt?.micros ?? .min
            for c in nodes[n].children { end = max(end, subtreeEnd[c]) }
            subtreeEnd[n] = end
        }
        let roots = nodes.indices.filter { nodes[$0].parent == nil }
        guard var at = roots.max(by: { subtreeEnd[$0] < subtreeEnd[$1] }) else { return }
        while true {
            nodes[at].critical = true
            let own = nodes[at].finishedAt?.micros ?? .min
            guard let next = nodes[at].children.max(by: { subtreeEnd[$0] < subtreeEnd[$1] }), subtreeEnd[next] > own || own == .min else { break }
            at = next
        }
    }
}
