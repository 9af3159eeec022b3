import Foundation

/// Where a pattern's paths start: the first key names an envelope attribute, or `data`. The event
/// is held by reference so that matching does not copy (and retain) its dozen strings per field.
struct EventSource {
    let event: UnsafePointer<CloudEvent>
    let data: Any?

    @inline(__always)
    func root(_ key: String) -> Any? { key == "data" ? data : EventPattern.attribute(key, of: event.pointee) }

    static func with<R>(_ event: CloudEvent, _ data: Any?, _ body: (EventSource) -> R) -> R {
        withUnsafePointer(to: event) { body(EventSource(event: $0, data: data)) }
    }
}

/// A value of an event: event-ruler's leaves. Objects and arrays are not values.
enum Leaf {
    case string(String)
    case number(EventNumber)
    case bool(Bool)
    case null
}

/// A JSON value as `JSONSerialization` (or an envelope attribute) gives it.
private enum Node {
    case leaf(Leaf)
    case object([String: Any])
    case array([Any])
    case other
}

@inline(__always)
private func node(_ value: Any) -> Node {
    if let text = value as? String { return .leaf(.string(text)) }
    if let object = value as? [String: Any] { return .object(object) }
    if let array = value as? [Any] { return .array(array) }
    if let number = value as? NSNumber {
        if number.objCType.pointee == CChar(UInt8(ascii: "c")) { return .leaf(.bool(number.boolValue)) }
        return .leaf(.number(PatternNumber.event(number)))
    }
    if value is NSNull { return .leaf(.null) }
    if let flag = value as? Bool { return .leaf(.bool(flag)) }
    if let integer = value as? Int { return .leaf(.number(PatternNumber.event(NSNumber(value: integer)))) }
    if let double = value as? Double { return .leaf(.number(PatternNumber.event(NSNumber(value: double)))) }
    return .other
}

/// Where a value sits inside arrays of objects or arrays: for each such array on its way, how many
/// keys of the path led to the array, and which element the value is in. Elements that are
/// themselves values (an array of strings) leave no step, as in event-ruler's `ArrayMembership`.
struct Step: Equatable {
    var keys: Int32
    var index: Int32
}

/// Visits the values at `path[depth...]` under `value`; `inside` tells whether the value is inside
/// an element of an array of objects or arrays. `body` returns true to stop.
private func visit(_ value: Any, _ path: [String], _ depth: Int, _ inside: Bool, _ body: (Leaf, Bool) -> Bool) -> Bool {
    switch node(value) {
    case .leaf(let leaf):
        return depth == path.count ? body(leaf, inside) : false
    case .object(let object):
        guard depth < path.count, let child = object[path[depth]] else { return false }
        return visit(child, path, depth + 1, inside, body)
    case .array(let elements):
        for element in elements {
            let container = element is [String: Any] || element is [Any]
            if visit(element, path, depth, inside || container, body) { return true }
        }
        return false
    case .other:
        return false
    }
}

/// As `visit`, recording the steps of each value.
private func collect(_ value: Any, _ path: [String], _ depth: Int, _ steps: inout [Step], _ body: (Leaf, [Step]) -> Void) {
    switch node(value) {
    case .leaf(let leaf):
        if depth == path.count { body(leaf, steps) }
    case .object(let object):
        guard depth < path.count, let child = object[path[depth]] else { return }
        collect(child, path, depth + 1, &steps, body)
    case .array(let elements):
        for (index, element) in elements.enumerated() {
            if element is [String: Any] || element is [Any] {
                steps.append(Step(keys: Int32(depth), index: Int32(index)))
                collect(element, path, depth, &steps, body)
                steps.removeLast()
            } else {
                collect(element, path, depth, &steps, body)
            }
        }
    case .other:
        return
    }
}

extension Alternative {
    private enum Verdict { case holds, fails, unsure }

    func matches(_ source: EventSource) -> Bool {
        var unsure = false
        for field in fields {
            switch quick(field, source) {
            case .fails: return false
            case .holds: continue
            case .unsure: unsure = true
            }
        }
        return unsure ? search(source) : true
    }

    /// The field judged alone. A value outside arrays of objects is consistent with any choice for
    /// the other fields, so it settles the field; values inside them may need the full search.
    private func quick(_ field: Field, _ source: EventSource) -> Verdict {
        guard let root = source.root(field.path[0]) else { return field.allowsAbsence ? .holds : .fails }
        var matchedFree = false, matchedInside = false, anyValue = false, freeValue = false
        _ = visit(root, field.path, 1, false) { leaf, inside in
            anyValue = true
            if !inside { freeValue = true }
            guard field.matches(leaf) else { return false }
            if inside { matchedInside = true; return false }
            matchedFree = true
            return true
        }
        if matchedFree || (!anyValue && field.allowsAbsence) { return .holds }
        if !matchedInside && (!field.allowsAbsence || freeValue) { return .fails }
        return .unsure
    }

    /// The values at each field's path (indexed like `fields`), with their steps: a candidate's
    /// steps are `steps[start..<start + count]`. Values come in document order.
    fileprivate func gatherCandidates(_ source: EventSource) -> (steps: [Step], candidates: [[Candidate]]) {
        var steps: [Step] = []
        var candidates: [[Candidate]] = []
        candidates.reserveCapacity(fields.count)
        for field in fields {
            var list: [Candidate] = []
            if let root = source.root(field.path[0]) {
                var stack: [Step] = []
                collect(root, field.path, 1, &stack) { leaf, path in
                    list.append(Candidate(matches: field.matches(leaf), start: steps.count, count: path.count))
                    steps.append(contentsOf: path)
                }
            }
            candidates.append(list)
        }
        return (steps, candidates)
    }

    /// event-ruler's walk (`StructuredFinder.walk`), as written: fields in order, each either absent
    /// (no value consistent with the values chosen so far) when it allows absence, or one of its
    /// matching values that is consistent with those chosen so far. It backtracks over every
    /// combination of choices, so it can take on the order of n^k steps for k fields with n values
    /// each inside arrays of objects; `search` gives the same answers in polynomial time. Kept for
    /// tests as the reference. `steps` counts calls of the walk and values compared; past `budget`
    /// the walk gives up and returns nil.
    func referenceWalk(_ source: EventSource, steps work: inout Int, budget: Int = .max) -> Bool? {
        let (steps, candidates) = gatherCandidates(source)
        let count = fields.count

        func consistent(_ i: Int, _ a: Candidate, _ j: Int, _ b: Candidate) -> Bool {
            let keys = Int32(shared[i * count + j])
            for k in 0..<min(a.count, b.count) {
                let x = steps[a.start + k], y = steps[b.start + k]
                // Different arrays (or arrays below where the two paths part): no constraint.
                if x.keys != y.keys || x.keys > keys { return true }
                if x.index != y.index { return false }
            }
            return true
        }

        var chosen: [(Int, Candidate)] = []
        var taken = 0, exceeded = false
        func walk(_ i: Int) -> Bool {
            taken += 1
            if taken > budget { exceeded = true; return true }
            if i == count { return true }
            let list = candidates[i]
            if fields[i].allowsAbsence {
                let present = list.contains { candidate in
                    taken += 1
                    return chosen.allSatisfy { consistent(i, candidate, $0.0, $0.1) }
                }
                if !present && walk(i + 1) { return true }
            }
            for candidate in list {
                taken += 1
                guard candidate.matches, chosen.allSatisfy({ consistent(i, candidate, $0.0, $0.1) }) else { continue }
                chosen.append((i, candidate))
                if walk(i + 1) { return true }
                chosen.removeLast()
            }
            return false
        }
        let result = walk(0)
        work += taken
        return exceeded ? nil : result
    }

    func search(_ source: EventSource) -> Bool {
        var steps = 0
        return search(source, steps: &steps)
    }

    /// The answer of `referenceWalk`, without its exponential worst case. `steps` counts the work
    /// (calls of the walk, trie nodes visited, values offered), for tests.
    ///
    /// What the fields still to come need to know of the values chosen so far is, for each of
    /// them, a *chain*: the steps of the chosen values cut where their path parts from that
    /// field's (`consistent` ignores arrays below that point), of which only the longest counts,
    /// since consistent values agree on their common steps. So the walk is memoized: a state is
    /// the position in `searchOrder` and the chains of the fields from there on, and a state that
    /// failed once fails again. The values of a field consistent with a chain are found in a trie of
    /// their steps, along the chain, instead of by comparing every value with every chosen one.
    ///
    /// Bound: with fields in an order that keeps each subtree of paths together (`searchOrder`
    /// always does without `exists: false`; with one it is the dotted order, which does unless
    /// keys contain dots or characters below "."), the chains of a state are cuts of one chain
    /// along one path, so there are at most (number of distinct step prefixes) x (path depth)^fields
    /// states per position, each costing its key plus the values it offers: polynomial in the
    /// event's size (near-linear in practice). Interleaved subtrees make it a polynomial of
    /// higher degree, bounded by the pattern, not by the event.
    func search(_ source: EventSource, steps work: inout Int) -> Bool {
        let (steps, candidates) = gatherCandidates(source)
        let order = searchOrder
        let count = order.count
        let width = fields.count
        let taken = WorkCounter()
        let tries = order.map { StepTrie(candidates[$0], steps) }

        // The chosen values: field (index into `fields`) and candidate.
        var chosen: [(field: Int, candidate: Candidate)] = []
        var failed = [Set<[Int32]>](repeating: [], count: count)

        /// The chains the chosen values impose on field `k`: maximal, sorted when more than one
        /// (one in every event we know of; more are handled exactly all the same).
        func chains(_ k: Int) -> [ArraySlice<Step>] {
            var result: [ArraySlice<Step>] = []
            for (j, candidate) in chosen {
                let keys = Int32(shared[j * width + k])
                var end = candidate.start
                let limit = candidate.start + candidate.count
                while end < limit && steps[end].keys <= keys { end += 1 }
                let cut = steps[candidate.start..<end]
                if cut.isEmpty { continue }
                var merged = false
                for index in result.indices {
                    let have = result[index]
                    if cut.count <= have.count {
                        if have.starts(with: cut) { merged = true; break }
                    } else if cut.starts(with: have) {
                        result[index] = cut
                        merged = true
                        break
                    }
                }
                if !merged { result.append(cut) }
            }
            if result.count > 1 {
                result.sort { $0.lexicographicallyPrecedes($1) { ($0.keys, $0.index) < ($1.keys, $1.index) } }
            }
            return result
        }

        func walk(_ position: Int) -> Bool {
            taken.steps += 1
            if position == count { return true }
            var key: [Int32] = []
            var first: [ArraySlice<Step>] = []
            for later in position..<count {
                let list = chains(order[later])
                if later == position { first = list }
                key.append(Int32(list.count))
                for chain in list {
                    key.append(Int32(chain.count))
                    for step in chain { key.append(step.keys); key.append(step.index) }
                }
            }
            if failed[position].contains(key) { return false }
            let i = order[position]
            let trie = tries[position]
            let list = candidates[i]
            let primary = first.first ?? []
            let others = first.dropFirst()
            func agrees(_ id: Int32) -> Bool {
                let candidate = list[Int(id)]
                return others.allSatisfy { chainAgrees(steps[candidate.start..<candidate.start + candidate.count], $0) }
            }
            if fields[i].allowsAbsence {
                let present = trie.forEachConsistent(primary, matchingOnly: false, list, taken) { agrees($0) }
                if !present && walk(position + 1) { return true }
            }
            let found = trie.forEachConsistent(primary, matchingOnly: true, list, taken) { id in
                guard agrees(id) else { return false }
                chosen.append((i, list[Int(id)]))
                if walk(position + 1) { return true }
                chosen.removeLast()
                return false
            }
            if found { return true }
            failed[position].insert(key)
            return false
        }
        let result = walk(0)
        work += taken.steps
        return result
    }
}

/// Work done by `search`, counted for tests (a reference, as the walk's closures count too).
private final class WorkCounter {
    var steps = 0
}

/// A candidate: whether its value matches the field, and where its steps are.
fileprivate struct Candidate {
    var matches: Bool
    var start: Int
    var count: Int
}

/// `consistent` of a value's steps with a chain: they agree until one ends, or until their arrays
/// differ (no constraint from there).
private func chainAgrees(_ steps: ArraySlice<Step>, _ chain: ArraySlice<Step>) -> Bool {
    for (x, y) in zip(steps, chain) {
        if x.keys != y.keys { return true }
        if x.index != y.index { return false }
    }
    return true
}

/// One field's values, in a trie of their steps. Values come in document order, so the children of
/// a node (the elements of the one array that follows it on the path) come with the same keys and
/// increasing indices, and a child is found by binary search; should that ever not hold
/// (`regular` false), children are scanned instead, with the same answers.
private struct StepTrie {
    struct Node {
        var step: Step
        var children: [Int32] = []
        /// Values whose steps end here.
        var terminals: [Int32] = []
        /// Some value in the subtree matches the field.
        var matching = false
    }

    private(set) var nodes: [Node]
    private(set) var regular = true

    init(_ list: [Candidate], _ steps: [Step]) {
        nodes = [Node(step: Step(keys: -1, index: -1))]
        var path: [Int32] = []
        for (id, candidate) in list.enumerated() {
            var node: Int32 = 0
            path.removeAll(keepingCapacity: true)
            path.append(0)
            for k in 0..<candidate.count {
                let step = steps[candidate.start + k]
                if let last = nodes[Int(node)].children.last {
                    let have = nodes[Int(last)].step
                    if have == step { node = last; path.append(node); continue }
                    if have.keys != step.keys || have.index > step.index { regular = false }
                    if !regular, let found = nodes[Int(node)].children.first(where: { nodes[Int($0)].step == step }) {
                        node = found
                        path.append(node)
                        continue
                    }
                }
                let child = Int32(nodes.count)
                nodes.append(Node(step: step))
                nodes[Int(node)].children.append(child)
                node = child
                path.append(node)
            }
            nodes[Int(node)].terminals.append(Int32(id))
            if candidate.matches { for visited in path { nodes[Int(visited)].matching = true } }
        }
    }

    /// The child of `node` with `step`, and whether the other children's steps all differ from it
    /// in their keys (so that the chain says nothing about them).
    private func child(_ node: Int, _ step: Step) -> Int32? {
        let children = nodes[node].children
        if regular {
            var low = 0, high = children.count
            while low < high {
                let middle = (low + high) / 2
                if nodes[Int(children[middle])].step.index < step.index { low = middle + 1 } else { high = middle }
            }
            if low < children.count && nodes[Int(children[low])].step == step { return children[low] }
            return nil
        }
        return children.first { nodes[Int($0)].step == step }
    }

    /// Offers `body` every value (every matching one with `matchingOnly`) whose steps agree with
    /// `chain` as `chainAgrees` says, until `body` returns true; returns whether it did.
    func forEachConsistent(_ chain: ArraySlice<Step>, matchingOnly: Bool, _ list: [Candidate], _ taken: WorkCounter,
                           _ body: (Int32) -> Bool) -> Bool {
        var node = 0
        var depth = 0
        while true {
            taken.steps += 1
            if matchingOnly && !nodes[node].matching { return false }
            for id in nodes[node].terminals where !matchingOnly || list[Int(id)].matches {
                taken.steps += 1
                if body(id) { return true }
            }
            let children = nodes[node].children
            if depth == chain.count {
                for child in children where subtree(Int(child), matchingOnly, list, taken, body) { return true }
                return false
            }
            let want = chain[chain.startIndex + depth]
            if regular {
                if let some = children.first, nodes[Int(some)].step.keys != want.keys {
                    for child in children where subtree(Int(child), matchingOnly, list, taken, body) { return true }
                    return false
                }
            } else {
                for child in children where nodes[Int(child)].step.keys != want.keys {
                    if subtree(Int(child), matchingOnly, list, taken, body) { return true }
                }
            }
            guard let next = child(node, want) else { return false }
            node = Int(next)
            depth += 1
        }
    }

    /// Offers `body` the values of the subtree at `root`.
    private func subtree(_ root: Int, _ matchingOnly: Bool, _ list: [Candidate], _ taken: WorkCounter,
                         _ body: (Int32) -> Bool) -> Bool {
        var stack = [root]
        while let node = stack.popLast() {
            taken.steps += 1
            if matchingOnly && !nodes[node].matching { continue }
            for id in nodes[node].terminals where !matchingOnly || list[Int(id)].matches {
                taken.steps += 1
                if body(id) { return true }
            }
            for child in nodes[node].children.reversed() { stack.append(Int(child)) }
        }
        return false
    }
}

extension EventPattern {
    /// `matches` without the per-field shortcut: every alternative goes through the full search.
    /// For tests, which check that the shortcut never changes an answer.
    func matchesBySearch(_ event: CloudEvent, data: Any? = nil) -> Bool {
        var steps = 0
        return matchesBySearch(event, data: data, steps: &steps)
    }

    /// As `matchesBySearch`, adding the search's work to `steps`.
    func matchesBySearch(_ event: CloudEvent, data: Any? = nil, steps: inout Int) -> Bool {
        EventSource.with(event, data) { source in
            for alternative in alternatives where alternative.search(source, steps: &steps) { return true }
            return false
        }
    }

    /// event-ruler's walk as written, unoptimised, for every alternative: the reference `search` is
    /// checked against. nil when it took more than `budget` steps (counted over all alternatives).
    func matchesByReferenceWalk(_ event: CloudEvent, data: Any? = nil, steps: inout Int, budget: Int = .max) -> Bool? {
        EventSource.with(event, data) { source in
            for alternative in alternatives {
                guard let result = alternative.referenceWalk(source, steps: &steps, budget: budget - steps) else { return nil }
                if result { return true }
            }
            return false
        }
    }

    func matchesByReferenceWalk(_ event: CloudEvent, data: Any? = nil) -> Bool {
        var steps = 0
        return matchesByReferenceWalk(event, data: data, steps: &steps)!
    }
}

extension Field {
    /// Whether one value satisfies any matcher of the field (`exists: false` aside).
    func matches(_ leaf: Leaf) -> Bool {
        if anyValue { return true }
        switch leaf {
        case .string(let text):
            let address = needsAddress ? IPAddress.parse(text) : nil
            return withBytes(text) { bytes in
                for matcher in matchers where Self.matches(matcher, text, bytes, address) { return true }
                return false
            }
        case .number(let number):
            for matcher in matchers {
                switch matcher {
                case let .number(value, text):
                    if let have = number.value { if value == have { return true } } else if number.text == text { return true }
                case let .numeric(lower, lowerInclusive, upper, upperInclusive):
                    guard let have = number.value else { continue }
                    if let lower, lowerInclusive ? have < lower : have <= lower { continue }
                    if let upper, upperInclusive ? have > upper : have >= upper { continue }
                    return true
                case .anythingButNumbers(let excluded):
                    guard let have = number.value else { return true }
                    if !excluded.contains(have) { return true }
                case .anythingButStrings, .anythingButPrefixes, .anythingButSuffixes, .anythingButIgnoringCase,
                     .anythingButWildcards, .exists:
                    return true
                default: continue
                }
            }
            return false
        case .bool(let flag):
            return matchers.contains { matcher in
                if case .bool(let wanted) = matcher { return wanted == flag }
                return matcher.isAnythingBut
            }
        case .null:
            return matchers.contains { $0 == .null || $0.isAnythingBut }
        }
    }

    private static func matches(_ matcher: Matcher, _ text: String, _ bytes: UnsafeBufferPointer<UInt8>, _ address: [UInt8]?) -> Bool {
        switch matcher {
        case .string(let literal): return literal.utf8.count == bytes.count && literal.utf8.elementsEqual(bytes)
        case .address(let wanted): return address == wanted
        case .prefix(let prefix): return bytes.starts(with: prefix)
        case .suffix(let suffix): return hasSuffix(bytes, suffix)
        case .prefixIgnoringCase(let folded): return folded.matches(bytes, .prefix)
        case .suffixIgnoringCase(let folded): return folded.matches(bytes, .suffix)
        case .equalsIgnoringCase(let folded): return folded.matches(bytes, .whole)
        case .wildcard(let wildcard): return wildcard.matches(bytes)
        case .anythingButStrings(let excluded):
            return !excluded.contains { $0.utf8.count == bytes.count && $0.utf8.elementsEqual(bytes) }
        case .anythingButNumbers: return true
        case .anythingButPrefixes(let excluded): return !excluded.contains { bytes.starts(with: $0) }
        case .anythingButSuffixes(let excluded): return !excluded.contains { hasSuffix(bytes, $0) }
        case .anythingButIgnoringCase(let excluded): return !excluded.contains { $0.matches(bytes, .whole) }
        case .anythingButWildcards(let excluded): return !excluded.contains { $0.matches(bytes) }
        case .cidr(let range): return address.map(range.contains) ?? false
        case .exists: return true
        case .number, .bool, .null, .numeric: return false
        }
    }

    @inline(__always)
    private static func hasSuffix(_ bytes: UnsafeBufferPointer<UInt8>, _ suffix: [UInt8]) -> Bool {
        bytes.count >= suffix.count && bytes[(bytes.count - suffix.count)...].elementsEqual(suffix)
    }
}

extension Matcher {
    var isAnythingBut: Bool {
        switch self {
        case .anythingButStrings, .anythingButNumbers, .anythingButPrefixes, .anythingButSuffixes,
             .anythingButIgnoringCase, .anythingButWildcards:
            return true
        default:
            return false
        }
    }
}
