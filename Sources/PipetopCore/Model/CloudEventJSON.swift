import Foundation

/// Why an envelope was refused. The message names the attribute and what was wrong with it.
public struct EnvelopeError: Error, CustomStringConvertible, Equatable {
    public var description: String
    init(_ description: String) { self.description = description }
}

extension CloudEvent {
    static let knownAttributes: Set<String> = [
        "id", "source", "type", "specversion", "time", "subject", "datacontenttype", "dataschema",
        "data", "data_base64", "correlationid", "causationid", "traceparent",
    ]

    /// Decodes the CloudEvents JSON format (structured mode), validating every required attribute.
    public init(json: Data) throws {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: json, options: [.fragmentsAllowed])
        } catch {
            throw EnvelopeError("the envelope is not valid JSON")
        }
        guard let fields = object as? [String: Any] else {
            throw EnvelopeError("the envelope must be a JSON object")
        }
        try self.init(fields: fields)
    }

    init(fields: [String: Any]) throws {
        func string(_ name: String, required: Bool) throws -> String? {
            guard let value = fields[name], !(value is NSNull) else {
                if required { throw EnvelopeError("required attribute '\(name)' is missing") }
                return nil
            }
            guard let text = value as? String else {
                throw EnvelopeError("attribute '\(name)' must be a string")
            }
            if text.isEmpty { throw EnvelopeError("attribute '\(name)' must not be empty") }
            return text
        }
        let specversion = try string("specversion", required: true)!
        guard specversion == "1.0" else {
            throw EnvelopeError("unsupported specversion '\(specversion)' (pipetop reads CloudEvents 1.0)")
        }
        var time: Timestamp?
        if let text = try string("time", required: false) {
            guard let parsed = Timestamp(rfc3339: text) else {
                throw EnvelopeError("attribute 'time' is not an RFC 3339 timestamp: '\(text)'")
            }
            time = parsed
        }
        var payload: Payload?
        let hasData = fields["data"] != nil && !(fields["data"] is NSNull)
        if hasData && fields["data_base64"] != nil {
            throw EnvelopeError("an envelope may carry 'data' or 'data_base64', not both")
        }
        if let encoded = try string("data_base64", required: false) {
            guard let bytes = Data(base64Encoded: encoded) else {
                throw EnvelopeError("attribute 'data_base64' is not valid base64")
            }
            payload = .binary(bytes)
        } else if hasData {
            payload = .json(
                try JSONSerialization.data(withJSONObject: fields["data"]!, options: [.fragmentsAllowed, .sortedKeys]))
        }
        var extensions: [String: String] = [:]
        for (name, value) in fields where !Self.knownAttributes.contains(name) {
            guard !name.isEmpty, name.utf8.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) }) else {
                throw EnvelopeError("extension name '\(name)' must be lower-case letters and digits only")
            }
            switch value {
            case let text as String: extensions[name] = text
            case let number as NSNumber: extensions[name] = number.stringValue
            default: throw EnvelopeError("extension '\(name)' must be a string, number or boolean")
            }
        }
        self.init(
            id: try string("id", required: true)!, source: try string("source", required: true)!,
            type: try string("type", required: true)!, time: time,
            subject: try string("subject", required: false),
            datacontenttype: try string("datacontenttype", required: false),
            dataschema: try string("dataschema", required: false), data: payload,
            correlationID: try string("correlationid", required: false),
            causationID: try string("causationid", required: false),
            traceparent: try string("traceparent", required: false), extensions: extensions)
    }

    /// Encodes the CloudEvents JSON format: `data` inline when it is JSON, `data_base64` otherwise.
    public func jsonString() -> String {
        var out = "{\"specversion\":" + JSONText.quote(specversion)
        func add(_ name: String, _ value: String?) {
            guard let value else { return }
            out += ",\"" + name + "\":" + JSONText.quote(value)
        }
        add("id", id)
        add("source", source)
        add("type", type)
        add("time", time?.rfc3339)
        add("subject", subject)
        add("datacontenttype", datacontenttype)
        add("dataschema", dataschema)
        add("correlationid", correlationID)
        add("causationid", causationID)
        add("traceparent", traceparent)
        for name in extensions.keys.sorted() { add(name, extensions[name]) }
        switch data {
        case .json(let bytes)?: out += ",\"data\":" + String(decoding: bytes, as: UTF8.self)
        case .binary(let bytes)?: add("data_base64", bytes.base64EncodedString())
        case nil: break
        }
        return out + "}"
    }
}

enum JSONText {
    /// A JSON string literal for `text`, escaping quotes, backslashes and control characters.
    static func quote(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
