import Foundation

/// Routing ownership on a store several runtimes share: an event goes by the union of the rules
/// of every runtime alive now (its own, declared with it, and the others' as the store holds them,
/// `DeclaredRouting`), so it is rejected only when no live runtime's rule matches it. It goes once
/// (an unrouted event is marked routed by whoever routes it first), into the queues the rules name,
/// whichever runtime serves them.
///
/// Each engine tick's transaction brings it up to date (`WriteBatch.router`): whenever the rules'
/// generation moved (one row read per tick), and with every heartbeat, so a runtime that stopped
/// beating stops counting after `RuntimeInfo.isLive`'s window. When it changed, the tick routes
/// its events again by it, so none goes by rules outdated when it is stored. Publishers on any
/// thread (`publish`, handlers' children) read it; only transactions update it, one at a time.
final class FleetRouter: @unchecked Sendable {
    /// This runtime's own rules and queues.
    let local: Router
    private let runtime: String
    private let lock = NSLock()
    private var current: Router
    private var generation: Int64?
    /// The others' rules in use, and what they were built from (generation, live runtimes).
    private var builtFrom: (generation: Int64, live: [String], rules: [[DeclaredRouting.Rule]])?
    /// Patterns parsed, by their JSON (the same rule is declared again by every node of its runtime).
    private var parsed: [String: Result<EventPattern, Error>] = [:]

    init(local: Router, runtime: String) {
        self.local = local
        self.runtime = runtime
        current = local
    }

    /// The generation of the declared rules this router routes by (nil: none read yet, its own rules only).
    var routingGeneration: Int64? { lock.withLock { generation } }

    /// Where `event` goes: one target per matching queue of any live runtime, held on batch queues.
    func targets(of event: CloudEvent) -> [Target] {
        lock.withLock { current }.targets(of: event)
    }

    /// The router and the generation it was built for, together.
    private var snapshot: (Router, Int64?) {
        lock.lock()
        defer { lock.unlock() }
        return (current, generation)
    }

    /// `event` with where it goes and the generation that decided it.
    func route(_ event: CloudEvent) -> RoutedEvent {
        let (router, generation) = snapshot
        var routed = RoutedEvent(event: event, targets: router.targets(of: event))
        routed.routedUnder = generation
        return routed
    }

    /// Where `event` goes now, if it was decided under another generation (nil: the decision stands).
    func decideAgain(_ event: CloudEvent, decidedUnder: Int64?) -> [Target]? {
        let (router, generation) = snapshot
        return generation == decidedUnder ? nil : router.targets(of: event)
    }

    /// Takes the declared rules as read at `now`. Returns what it cannot route by (another
    /// runtime's rule whose pattern this one cannot read, or whose queues are not declared) when
    /// the router changed, so each problem is told once per change.
    func update(_ routing: DeclaredRouting, at now: Timestamp) -> [String] {
        let others = routing.runtimes.filter { $0.runtime != runtime && $0.isLive(at: now) }
        let key = (generation: routing.generation, live: others.map(\.runtime))
        if let builtFrom, builtFrom.live == key.live, builtFrom.rules == others.map(\.rules) {
            // The same rules of the same runtimes (a stop of another node, say): nothing to rebuild.
            if builtFrom.generation != key.generation {
                self.builtFrom?.generation = key.generation
                lock.withLock { generation = key.generation }
            }
            return []
        }
        var rules = local.rules
        var held = local.heldQueues
        var deduplicate = local.deduplicatedQueues
        var problems: [String] = []
        for other in others {
            for rule in other.rules {
                let pattern: EventPattern
                switch parsed[rule.pattern] ?? Result(catching: { try EventPattern(json: rule.pattern) }) {
                case .success(let value):
                    parsed[rule.pattern] = .success(value)
                    pattern = value
                case .failure(let error):
                    parsed[rule.pattern] = .failure(error)
                    problems.append("runtime '\(other.runtime)' declared rule '\(rule.name)' with a pattern this runtime cannot read (\(error)); events it alone matches are rejected here")
                    continue
                }
                let targets = rule.targets.filter { routing.queues[$0] != nil }
                if targets.count < rule.targets.count {
                    let missing = rule.targets.filter { routing.queues[$0] == nil }
                    problems.append("runtime '\(other.runtime)' declared rule '\(rule.name)' for queues not declared in the store: \(missing.joined(separator: ", "))")
                }
                guard !targets.isEmpty else { continue }
                for target in targets {
                    guard let queue = routing.queues[target] else { continue }
                    if queue.held { held.insert(target) }
                    if let window = queue.deduplicate { deduplicate[target] = window }
                }
                rules.append(Rule("\(other.runtime)/\(rule.name)", pattern: pattern, targets: targets))
            }
        }
        let router = Router(checked: rules, held: held, deduplicate: deduplicate)
        lock.withLock {
            current = router
            generation = routing.generation
        }
        builtFrom = (key.generation, key.live, others.map(\.rules))
        return problems
    }
}
