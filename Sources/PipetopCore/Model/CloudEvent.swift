import Foundation

/// A CloudEvents 1.0 envelope, with pipetop's `correlationid` and `causationid` extensions.
///
/// `correlationid` names the whole business flow and is set once, at the entry point;
/// `causationid` is the `id` of the event that directly caused this one. `traceparent` (W3C trace
/// context) is carried through untouched. Other extensions are kept as strings.
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
    public var extensions: [String: String]

    public init(
        id: String = CloudEvent.newID(), source: String, type: String, time: Timestamp? = .now(),
        subject: String? = nil, datacontenttype: String? = nil, dataschema: String? = nil,
        data: Payload? = nil, correlationID: String? = nil, causationID: String? = nil,
        traceparent: String? = nil, extensions: [String: String] = [:]
    ) {
        self.id = id
        self.source = source
        self.type = type
        self.specversion = "1.0"
        self.time = time
        self.subject = subject
        self.datacontenttype = datacontenttype ?? (data?.isJSON == true ? "application/json" : nil)
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

/// The `data` of an event, kept as the bytes it arrived as.
///
/// `.json` holds the JSON text of the `data` member; `.binary` holds the bytes of `data_base64`.
/// Handlers decode it themselves; the runtime only parses JSON when a rule looks inside it.
public enum Payload: Sendable, Equatable {
    case json(Data)
    case binary(Data)

    public var isJSON: Bool { if case .json = self { return true } else { return false } }
    public var bytes: Data {
        switch self {
        case .json(let data), .binary(let data): return data
        }
    }

    /// JSON data from any `JSONSerialization`-compatible value (dictionary, array, string, number…).
    public static func json(object: Any) throws -> Payload {
        .json(try JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed, .sortedKeys]))
    }

    /// The decoded JSON value, or nil for binary data or text that is not JSON.
    public func jsonObject() -> Any? {
        guard case .json(let data) = self else { return nil }
        return try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    }
}
