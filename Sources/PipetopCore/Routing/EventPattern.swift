import Foundation

/// An EventBridge-style event pattern.
///
/// A pattern is a JSON object whose keys name envelope attributes (`type`, `source`, `subject`,
/// `correlationid`, any extension…) or, under `data`, fields of a JSON payload. Each leaf is a
/// non-empty array of matchers; a field matches when any of its matchers does, and the pattern
/// matches when every field does. When the event's field is an array, any element may match.
///
/// Matchers: a literal (`"listing.uploaded"`, `42`, `true`, `null`), `{"prefix": "…"}`,
/// `{"suffix": "…"}`, `{"equals-ignore-case": "…"}`, `{"anything-but": [literals]}` (or one
/// literal, or `{"prefix": "…"}`), `{"exists": true|false}` and
/// `{"numeric": [">", 0, "<=", 100]}`.
public struct EventPattern: Sendable, Equatable {
    indirect enum Node: Sendable, Equatable {
        case fields([String: Node])
        case anyOf([Matcher])
    }

    enum Scalar: Sendable, Equatable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case null
    }

    enum Comparison: String, Sendable, Equatable {
        case less = "<", lessOrEqual = "<=", equal = "=", greaterOrEqual = ">=", greater = ">"

        func holds(_ value: Double, _ bound: Double) -> Bool {
            switch self {
            case .less: return value < bound
            case .lessOrEqual: return value <= bound
            case .equal: return value == bound
            case .greaterOrEqual: return value >= bound
            case .greater: return value > bound
            }
        }
    }

    enum Matcher: Sendable, Equatable {
        case exact(Scalar)
        case prefix(String)
        case suffix(String)
        case equalsIgnoreCase(String)
        case anythingBut([Scalar])
        case anythingButPrefix(String)
        case exists(Bool)
        case numeric([(Comparison, Double)])

        static func == (a: Matcher, b: Matcher) -> Bool {
            switch (a, b) {
            case let (.exact(x), .exact(y)): return x == y
            case let (.prefix(x), .prefix(y)), let (.suffix(x), .suffix(y)),
                 let (.equalsIgnoreCase(x), .equalsIgnoreCase(y)), let (.anythingButPrefix(x), .anythingButPrefix(y)):
                return x == y
            case let (.anythingBut(x), .anythingBut(y)): return x == y
            case let (.exists(x), .exists(y)): return x == y
            case let (.numeric(x), .numeric(y)): return x.map(\.0) == y.map(\.0) && x.map(\.1) == y.map(\.1)
            default: return false
            }
        }
    }

    let root: [String: Node]
    /// The pattern as written, for display and storage.
    public let source: String

    /// Whether any field under `data` is examined: only then is the payload parsed for routing.
    public var examinesData: Bool { root["data"] != nil }

    /// Parses and validates a pattern; the error names the field and what is wrong.
    public init(json: String) throws {
        guard let data = json.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        else { throw PatternError(path: "", problem: "the pattern is not valid JSON") }
        guard let fields = object as? [String: Any] else {
            throw PatternError(path: "", problem: "a pattern must be a JSON object of fields")
        }
        guard !fields.isEmpty else { throw PatternError(path: "", problem: "a pattern needs at least one field") }
        root = try Self.parseFields(fields, path: "")
        source = json
    }

    /// A pattern matching events of one of `types`, the common case.
    public static func type(_ types: String...) -> EventPattern {
        let list = types.map { JSONText.quote($0) }.joined(separator: ",")
        return try! EventPattern(json: "{\"type\":[\(list)]}")
    }

    public static func == (a: EventPattern, b: EventPattern) -> Bool { a.root == b.root }
}

/// A pattern that cannot be used, with the path of the offending field.
public struct PatternError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var problem: String
    public var description: String { path.isEmpty ? problem : "field '\(path)': \(problem)" }
}

// MARK: - Parsing

extension EventPattern {
    private static func parseFields(_ fields: [String: Any], path: String) throws -> [String: Node] {
        var nodes: [String: Node] = [:]
        for (key, value) in fields {
            let here = path.isEmpty ? key : path + "." + key
            switch value {
            case let nested as [String: Any]:
                guard !nested.isEmpty else { throw PatternError(path: here, problem: "an empty object matches nothing") }
                nodes[key] = .fields(try parseFields(nested, path: here))
            case let list as [Any]:
                guard !list.isEmpty else {
                    throw PatternError(path: here, problem: "an empty list of matchers matches nothing")
                }
                nodes[key] = .anyOf(try list.map { try parseMatcher($0, path: here) })
            default:
                throw PatternError(path: here, problem: "expected a list of matchers such as [\"value\"] or an object of fields")
            }
        }
        return nodes
    }

    private static func scalar(_ value: Any) -> Scalar? {
        switch value {
        case is NSNull: return .null
        case let text as String: return .string(text)
        case let number as NSNumber:
            // JSONSerialization boxes booleans as NSNumber with the objCType of a C char.
            if String(cString: number.objCType) == "c" { return .bool(number.boolValue) }
            return .number(number.doubleValue)
        default: return nil
        }
    }

    private static func parseMatcher(_ value: Any, path: String) throws -> Matcher {
        if let literal = scalar(value) { return .exact(literal) }
        guard let object = value as? [String: Any], object.count == 1, let (name, operand) = object.first else {
            throw PatternError(path: path, problem: "a matcher is a literal or an object with one operator")
        }
        func text() throws -> String {
            guard let string = operand as? String else {
                throw PatternError(path: path, problem: "'\(name)' takes a string")
            }
            return string
        }
        switch name {
        case "prefix": return .prefix(try text())
        case "suffix": return .suffix(try text())
        case "equals-ignore-case": return .equalsIgnoreCase(try text())
        case "exists":
            guard let flag = operand as? Bool, scalar(operand) == .bool(flag) else {
                throw PatternError(path: path, problem: "'exists' takes true or false")
            }
            return .exists(flag)
        case "anything-but":
            if let nested = operand as? [String: Any] {
                guard nested.count == 1, let prefix = nested["prefix"] as? String else {
                    throw PatternError(path: path, problem: "'anything-but' takes literals or {\"prefix\": \"…\"}")
                }
                return .anythingButPrefix(prefix)
            }
            let list = (operand as? [Any]) ?? [operand]
            let literals = list.compactMap(scalar)
            guard !literals.isEmpty, literals.count == list.count else {
                throw PatternError(path: path, problem: "'anything-but' takes literals or {\"prefix\": \"…\"}")
            }
            return .anythingBut(literals)
        case "numeric":
            guard let list = operand as? [Any], !list.isEmpty, list.count % 2 == 0, list.count <= 4 else {
                throw PatternError(path: path, problem: "'numeric' takes one or two pairs of operator and number, such as [\">\", 0, \"<=\", 100]")
            }
            var bounds: [(Comparison, Double)] = []
            for index in stride(from: 0, to: list.count, by: 2) {
                guard let symbol = list[index] as? String, let comparison = Comparison(rawValue: symbol) else {
                    throw PatternError(path: path, problem: "'numeric' operator must be one of < <= = >= >, not \(list[index])")
                }
                guard case .number(let bound)? = scalar(list[index + 1]) else {
                    throw PatternError(path: path, problem: "'numeric' bound after '\(symbol)' must be a number")
                }
                bounds.append((comparison, bound))
            }
            return .numeric(bounds)
        default:
            throw PatternError(path: path, problem: "unknown operator '\(name)' (prefix, suffix, equals-ignore-case, anything-but, exists, numeric)")
        }
    }
}

// MARK: - Matching

extension EventPattern {
    /// Whether `event` matches. `data` is the parsed payload, passed when `examinesData` is true.
    public func matches(_ event: CloudEvent, data: Any? = nil) -> Bool {
        for (key, node) in root {
            let value: Any? = key == "data" ? data : Self.attribute(key, of: event)
            if !Self.matches(node, value: value) { return false }
        }
        return true
    }

    static func attribute(_ name: String, of event: CloudEvent) -> Any? {
        switch name {
        case "id": return event.id
        case "source": return event.source
        case "type": return event.type
        case "specversion": return event.specversion
        case "time": return event.time?.rfc3339
        case "subject": return event.subject
        case "datacontenttype": return event.datacontenttype
        case "dataschema": return event.dataschema
        case "correlationid": return event.correlationID
        case "causationid": return event.causationID
        case "traceparent": return event.traceparent
        default: return event.extensions[name]?.jsonValue
        }
    }

    private static func matches(_ node: Node, value: Any?) -> Bool {
        switch node {
        case .fields(let fields):
            guard let object = value as? [String: Any] else { return false }
            return fields.allSatisfy { key, child in matches(child, value: object[key]) }
        case .anyOf(let matchers):
            let present = value != nil
            let values: [Scalar]
            if let list = value as? [Any] { values = list.compactMap(scalar) } else { values = value.flatMap(scalar).map { [$0] } ?? [] }
            return matchers.contains { matcher in
                if case .exists(let wanted) = matcher { return wanted == present }
                return values.contains { matches(matcher, $0) }
            }
        }
    }

    private static func matches(_ matcher: Matcher, _ value: Scalar) -> Bool {
        switch matcher {
        case .exact(let literal): return literal == value
        case .prefix(let prefix):
            if case .string(let text) = value { return text.hasPrefix(prefix) }
            return false
        case .suffix(let suffix):
            if case .string(let text) = value { return text.hasSuffix(suffix) }
            return false
        case .equalsIgnoreCase(let expected):
            if case .string(let text) = value { return text.lowercased() == expected.lowercased() }
            return false
        case .anythingBut(let excluded): return !excluded.contains(value)
        case .anythingButPrefix(let prefix):
            if case .string(let text) = value { return !text.hasPrefix(prefix) }
            return true
        case .exists: return false  // handled on presence, above
        case .numeric(let bounds):
            guard case .number(let number) = value else { return false }
            return bounds.allSatisfy { $0.0.holds(number, $0.1) }
        }
    }
}
