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

    private struct Candidate {
        var matches: Bool
        var start: Int
        var count: Int
    }

    /// event-ruler's walk (`StructuredFinder.walk`): fields in order, each either absent (no value
    /// consistent with the values chosen so far) when it allows absence, or one of its matching
    /// values that is consistent with those chosen so far.
    func search(_ source: EventSource) -> Bool {
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
        func walk(_ i: Int) -> Bool {
            if i == count { return true }
            let list = candidates[i]
            if fields[i].allowsAbsence {
                let present = list.contains { candidate in chosen.allSatisfy { consistent(i, candidate, $0.0, $0.1) } }
                if !present && walk(i + 1) { return true }
            }
            for candidate in list where candidate.matches && chosen.allSatisfy({ consistent(i, candidate, $0.0, $0.1) }) {
                chosen.append((i, candidate))
                if walk(i + 1) { return true }
                chosen.removeLast()
            }
            return false
        }
        return walk(0)
    }
}

extension EventPattern {
    /// `matches` without the per-field shortcut: every alternative goes through the full search.
    /// For tests, which check that the shortcut never changes an answer.
    func matchesBySearch(_ event: CloudEvent, data: Any? = nil) -> Bool {
        EventSource.with(event, data) { source in alternatives.contains { $0.search(source) } }
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
