import Foundation

/// A CloudEvents 1.0 envelope, with pipetop's `correlationid` and `causationid` extensions.
///
/// `correlationid` names the whole business flow and is set once, at the entry point;
/// `causationid` is the `id` of the event that directly caused this one. `traceparent` (W3C trace
/// context) is carried through untouched. Other extensions keep their CloudEvents type (String,
/// Integer or Boolean: the types the JSON format can tell apart).
public struct CloudEvent: Sendable, Equatable {
    public var id: String
    public var source: String
    public var type: String
    public var specversion: String
    public var time: Timestamp?
    public var subject: String?
    public var datacontenttype: String?
    public var dataschema: String?
    public var data: Payload?
    public var correlationID: String?
    public var causationID: String?
    public var traceparent: String?
    /// Extension attributes other than the three above, by name.
    public var extensions: [String: ExtensionValue]

    public init(
        id: String = CloudEvent.newID(), source: String, type: String, time: Timestamp? = .now(),
        subject: String? = nil, datacontenttype: String? = nil, dataschema: String? = nil,
        data: Payload? = nil, correlationID: String? = nil, causationID: String? = nil,
        traceparent: String? = nil, extensions: [String: ExtensionValue] = [:]
    ) {
        self.id = id
        self.source = source
        self.type = type
        self.specversion = "1.0"
        self.time = time
        self.subject = subject
        self.datacontenttype = datacontenttype ?? data?.defaultContentType
        self.dataschema = dataschema
        self.data = data
        self.correlationID = correlationID
        self.causationID = causationID
        self.traceparent = traceparent
        self.extensions = extensions
    }

    /// A random, sortable-enough id: 16 hex digits of time then 10 of randomness.
    public static func newID() -> String {
        let time = UInt64(Timestamp.now().micros)
        let random = UInt64.random(in: 0..<(1 << 40))
        return String(time, radix: 16) + String(random | (1 << 40), radix: 16).dropFirst()
    }

    /// The child of this event: a new id, the same correlation, this event as its cause, and the
    /// trace context carried through.
    public func child(
        type: String, source: String? = nil, subject: String? = nil, data: Payload? = nil
    ) -> CloudEvent {
        CloudEvent(
            source: source ?? self.source, type: type, subject: subject ?? self.subject, data: data,
            correlationID: correlationID ?? id, causationID: id, traceparent: traceparent)
    }
}

/// The `data` of an event, kept as it arrived.
///
/// `.json` holds the JSON text of the `data` member (any JSON value, `null` included: `"data": null`
/// is data, unlike an envelope without `data`); `.text` the string of a `data` member whose
/// `datacontenttype` is not JSON (`text/plain`, `text/csv`…), without the JSON quotes; `.binary`
/// the bytes of `data_base64`. Handlers decode it themselves; the runtime only parses JSON when a
/// rule looks inside it.
public enum Payload: Sendable, Equatable {
    case json(Data)
    case text(String)
    case binary(Data)

    public var isJSON: Bool { if case .json = self { return true } else { return false } }
    /// The payload's bytes: the JSON text, the string's UTF-8, or the binary data.
    public var bytes: Data {
        switch self {
        case .json(let data), .binary(let data): return data
        case .text(let text): return Data(text.utf8)
        }
    }

    /// What `CloudEvent.init` fills in when it is given data but no `datacontenttype` (the JSON
    /// decoder never does: it keeps what the producer wrote, or nothing).
    var defaultContentType: String? {
        switch self {
        case .json: return "application/json"
        case .text: return "text/plain"
        case .binary: return nil
        }
    }

    /// JSON data from any `JSONSerialization`-compatible value (dictionary, array, string, number…).
    public static func json(object: Any) throws -> Payload {
        .json(try JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed, .sortedKeys]))
    }

    /// The decoded JSON value, or nil for binary data, text, or bytes that are not JSON.
    public func jsonObject() -> Any? {
        guard case .json(let data) = self else { return nil }
        return try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    }
}

/// The value of an extension attribute, in the CloudEvents type the JSON format gives it: a JSON
/// string is a String (URI, URI-reference, Timestamp and Binary values travel as strings too), a
/// number is an Integer (a whole number in 32 bits, as the spec's type system says), `true` and
/// `false` are a Boolean.
public enum ExtensionValue: Sendable, Hashable, CustomStringConvertible,
    ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral
{
    case string(String)
    case integer(Int32)
    case boolean(Bool)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int32) { self = .integer(value) }
    public init(booleanLiteral value: Bool) { self = .boolean(value) }

    /// The canonical string form (the spec's: decimal for Integer, `true`/`false` for Boolean).
    public var description: String {
        switch self {
        case .string(let text): return text
        case .integer(let number): return String(number)
        case .boolean(let flag): return flag ? "true" : "false"
        }
    }

    /// The value as JSON text.
    public var jsonText: String {
        if case .string(let text) = self { return JSONText.quote(text) }
        return description
    }

    /// The value as `JSONSerialization` gives it (a String or an NSNumber), for patterns.
    public var jsonValue: Any {
        switch self {
        case .string(let text): return text
        case .integer(let number): return NSNumber(value: number)
        case .boolean(let flag): return NSNumber(value: flag)
        }
    }
}
