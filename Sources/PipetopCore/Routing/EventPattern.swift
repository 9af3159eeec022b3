import Foundation

/// An EventBridge event pattern, matched as Amazon EventBridge and its open-source engine
/// aws/event-ruler match them.
///
/// **Our mapping.** Our events are CloudEvents, not EventBridge events: a pattern's top-level keys
/// name envelope attributes (`id`, `source`, `type`, `specversion`, `time`, `subject`,
/// `datacontenttype`, `dataschema`, `correlationid`, `causationid`, `traceparent`, any extension)
/// and `data` holds the fields of the JSON payload (`{"data": {"make": ["Volvo"]}}`). Everything
/// else follows event-ruler (README, `JsonRuleCompiler`, `ByteMachine`, `StructuredFinder`,
/// `ComparableNumber`, `CIDR`, `WildcardParser`, `EqualsIgnoreCaseParser`, read at commit 337e8d9)
/// and the EventBridge guide ("Content filtering in Amazon EventBridge event patterns").
///
/// **Structure.** A pattern is an object of fields; a field is a non-empty list of matchers or an
/// object of nested fields. The pattern matches when every field matches; a field matches when any
/// of its matchers does. `"$or": [{…}, {…}, …]` (at least two non-empty objects, at any level)
/// matches when any of its objects does; like event-ruler we expand it into alternatives, each a
/// flat set of fields, and the pattern matches when one alternative does. A key repeated in an
/// object, or a field an `$or` object names again, replaces the earlier one (event-ruler's
/// compiler "overrides"). Inside an `$or` object, event-ruler's reserved words (`prefix`,
/// `numeric`, `=`, `regex`, …) are refused as field names.
///
/// **Values in events.** As in event-ruler, an event is its leaves: strings, numbers, booleans and
/// nulls, each at the path of keys that leads to it. An array contributes each element, at the
/// array's own path, at any depth: `{"employees": {"name": ["Anna"]}}` matches
/// `{"employees": [{"name": "John"}, [{"name": "Anna"}]]}`. Objects and arrays are not values, so a
/// field whose value is an object, an empty array, or an array of objects has no value at its own
/// path. *Array consistency* (event-ruler's `rulesForJSONEvent`, which EventBridge uses): the
/// values one alternative matches must not come from different elements of the same array of
/// objects (or arrays), so `{"employees": {"first": ["Anna"], "last": ["Jones"]}}` does not match
/// Anna Smith next to Peter Jones. Fields are tried in the order of their dotted paths, as
/// event-ruler's machine sorts them, and an `exists: false` is judged against the array elements the
/// fields before it chose, exactly as event-ruler judges it.
///
/// **Matchers.**
/// - a literal: a string, number, `true`, `false` or `null`; a string that is an IP address
///   literal matches the same address written any way (`"::1"` matches "0:0:0:0:0:0:0:1"), as in
///   event-ruler; a number matches any number of equal value (`1`, `1.0`, `1e0`; `-0` equals `0`).
/// - `{"prefix": "…"}`, `{"suffix": "…"}`, each also as `{"prefix": {"equals-ignore-case": "…"}}`.
/// - `{"equals-ignore-case": "…"}` (see `FoldedText` for what "case" means).
/// - `{"wildcard": "…"}`: `*` matches any run of characters; `\*` and `\\` escape; `**` is refused.
/// - `{"anything-but": …}`: a string, a number, or a list of only strings or only numbers; or
///   `{"prefix": …}`, `{"suffix": …}`, `{"equals-ignore-case": …}`, `{"wildcard": …}`, each with a
///   string or a list of strings. It needs the field to have a value, and (as in event-ruler's
///   machine) any value of another type passes: `{"anything-but": [100]}` matches "100", `true`, `null`.
/// - `{"numeric": ["=", n]}`, `[">" or ">=", n]`, `["<" or "<=", n]`, `[">" or ">=", a, "<" or "<=", b]`
///   with `a < b`; only numbers match.
/// - `{"exists": true}` (the field has a value, `null` included) and `{"exists": false}` (it has none).
/// - `{"cidr": "10.0.0.0/24"}` and IPv6 (`"2001:db8::/32"`); like event-ruler, the mask must be
///   below 32 (IPv4) or 128 (IPv6).
///
/// **Numbers** compare as IEEE doubles, over the whole double range, but only numbers that
/// event-ruler can compare: finite, with no more digits than their double holds (see
/// `PatternNumber.comparable`). A pattern is refused when a `numeric` bound or an `anything-but`
/// number cannot be compared; a literal that cannot (`123456789012345678901`) is kept and, as in
/// event-ruler, matches only the same text.
///
/// **Where we differ from or go beyond event-ruler.**
/// - Paths are lists of keys: a key containing a dot is not the same as nested keys (event-ruler
///   joins keys with dots and calls `{"a.b": …}` and `{"a": {"b": …}}` the same, which its README
///   says may change and should not be relied on).
/// - Event numbers are read by `JSONSerialization`, so one event-ruler cannot compare is matched by
///   Foundation's text of it (`12345678901234567890`, `0.30000000000000001`), not by the bytes as sent.
/// - Characters outside the Basic Multilingual Plane in `equals-ignore-case` match themselves
///   (event-ruler turns each UTF-16 surrogate into "?" and never matches them).
/// - `{"exactly": "…"}`, an event-ruler extension EventBridge does not document, is refused as
///   unsupported, as are the words event-ruler reserves for later (`regex`, `date-after`, …).
/// - Bounds we add: JSON nested at most 64 deep, and at most 1024 alternatives after `$or`
///   expansion (EventBridge bounds pattern size and complexity too).
///
/// Errors name the field and the matcher: `field 'data.price' matcher 2: …`, with `$or[2]` in the
/// path for the second object of an `$or` (both counted from 1).
public struct EventPattern: Sendable, Equatable {
    /// The alternatives (one unless the pattern uses `$or`); the pattern matches when any does.
    let alternatives: [Alternative]
    /// The pattern as written, for display and storage.
    public let source: String
    /// Whether any field under `data` is examined: only then is the payload parsed for routing.
    public let examinesData: Bool

    /// Parses and validates a pattern; the error names the field and what is wrong.
    public init(json: String) throws {
        let root = try PatternJSON.parse(json)
        guard case .object(let members) = root else {
            throw PatternError(path: "", problem: "a pattern must be a JSON object of fields, not \(root.kind)")
        }
        guard !members.isEmpty else { throw PatternError(path: "", problem: "a pattern needs at least one field") }
        var compiler = PatternCompiler()
        try compiler.object(members, path: [], display: "", insideOr: false)
        alternatives = compiler.alternatives.map { Alternative(fields: $0) }
        examinesData = alternatives.contains { $0.fields.contains { $0.path.first == "data" } }
        source = json
    }

    /// A pattern matching events of one of `types`, the common case.
    public static func type(_ types: String...) -> EventPattern {
        let list = types.map { JSONText.quote($0) }.joined(separator: ",")
        return try! EventPattern(json: "{\"type\":[\(list)]}")
    }

    public static func == (a: EventPattern, b: EventPattern) -> Bool { a.alternatives == b.alternatives }
}

/// A pattern that cannot be used, with the path of the offending field and, when one is to blame,
/// the position (from 1) of the matcher in the field's list.
public struct PatternError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var problem: String
    public var matcher: Int?

    public init(path: String, problem: String, matcher: Int? = nil) {
        self.path = path
        self.problem = problem
        self.matcher = matcher
    }

    public var description: String {
        if path.isEmpty { return problem }
        return "field '\(path)'" + (matcher.map { " matcher \($0)" } ?? "") + ": " + problem
    }
}

// MARK: - Matching

extension EventPattern {
    /// Whether `event` matches. `data` is the parsed payload, passed when `examinesData` is true.
    public func matches(_ event: CloudEvent, data: Any? = nil) -> Bool {
        EventSource.with(event, data) { source in
            for alternative in alternatives where alternative.matches(source) { return true }
            return false
        }
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
}
