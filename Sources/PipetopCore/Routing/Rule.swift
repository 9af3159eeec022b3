/// Routes every event that matches `pattern` to each of `targets` (queue names).
public struct Rule: Sendable, Equatable {
    public var name: String
    public var pattern: EventPattern
    public var targets: [String]

    public init(_ name: String, pattern: EventPattern, targets: [String]) {
        self.name = name
        self.pattern = pattern
        self.targets = targets
    }

    /// A rule whose pattern is EventBridge JSON; an invalid pattern is reported with the rule's name.
    public init(_ name: String, pattern json: String, targets: [String]) throws {
        do {
            self.init(name, pattern: try EventPattern(json: json), targets: targets)
        } catch let error as PatternError {
            throw ConfigurationError("rule '\(name)': invalid pattern: \(error)")
        }
    }
}

/// Matches events against the rules and returns the queues each event goes to.
struct Router: Sendable {
    let rules: [Rule]
    private let parsesData: Bool
    /// Batch queues: their messages are held until the window closes.
    private let batchQueues: Set<String>
    /// Queues that deduplicate, with their windows.
    private let deduplicate: [String: Duration]

    init(rules: [Rule], queues specs: [QueueSpec]) throws {
        let queues = Set(specs.map(\.name))
        let batchQueues = Set(specs.filter { $0.mode != .stream }.map(\.name))
        let deduplicate = Dictionary(uniqueKeysWithValues: specs.compactMap { spec in spec.deduplicate.map { (spec.name, $0) } })
        var seen = Set<String>()
        for rule in rules {
            if !seen.insert(rule.name).inserted { throw ConfigurationError("rule '\(rule.name)' is defined twice") }
            if rule.targets.isEmpty { throw ConfigurationError("rule '\(rule.name)' has no target queue") }
            for target in rule.targets where !queues.contains(target) {
                throw ConfigurationError("rule '\(rule.name)' targets unknown queue '\(target)'")
            }
        }
        self.init(checked: rules, held: batchQueues, deduplicate: deduplicate)
    }

    /// A router over rules already checked: `held` are the batch queues, `deduplicate` the queues' windows.
    init(checked rules: [Rule], held: Set<String>, deduplicate: [String: Duration]) {
        self.rules = rules
        batchQueues = held
        self.deduplicate = deduplicate
        parsesData = rules.contains { $0.pattern.examinesData }
    }

    /// Where `event` goes: one target per matching queue, held on batch queues.
    func targets(of event: CloudEvent) -> [Target] {
        route(event).map { Target(queue: $0, held: batchQueues.contains($0), deduplicate: deduplicate[$0]) }
    }

    var heldQueues: Set<String> { batchQueues }
    var deduplicatedQueues: [String: Duration] { deduplicate }

    /// The target queues of `event`, each once, in rule order.
    func route(_ event: CloudEvent) -> [String] {
        let data = parsesData ? event.data?.jsonObject() : nil
        var targets: [String] = []
        for rule in rules where rule.pattern.matches(event, data: data) {
            for target in rule.targets where !targets.contains(target) { targets.append(target) }
        }
        return targets
    }
}
