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

    /// Decodes one event in the CloudEvents JSON format (structured mode), validating every
    /// attribute. The spec's rules, exactly: an attribute whose value is `null` is unset; `data`
    /// is kept as its JSON text (`"data": null` included) unless `datacontenttype` says the data
    /// is not JSON, when the JSON string is the data (`.text`); `data_base64` is binary data;
    /// extensions keep their type (String, Integer, Boolean); no `datacontenttype` is invented.
    /// The input must be UTF-8 and one JSON object; errors name what is wrong and where.
    public init(json: Data) throws {
        let values: [JSONScanner.Value]
        do { values = try JSONScanner.values(Array(json)) } catch { throw EnvelopeError.json(error) }
        guard values.count == 1 else {
            throw EnvelopeError(values.isEmpty ? "the envelope is empty" : "expected one JSON object, found \(values.count) JSON values")
        }
        try self.init(scanned: values[0])
    }

    /// Decodes every event of `input`: one JSON object, a JSON batch (an array of objects, which the
    /// spec lets be empty), or objects and batches one after another (JSON lines; appended batches).
    /// The error names the event that is wrong (`event #3 (line 3, byte 412): …`); nothing is
    /// returned unless every event is valid. The nesting limit counts from each envelope, so an event
    /// in a batch may nest as deep as one on its own.
    public static func decodeAll(_ input: Data) throws -> [CloudEvent] {
        let bytes = Array(input)
        let limit = JSONScanner.maxDepth
        func line(_ offset: Int) -> Int { bytes.prefix(offset).reduce(1) { $1 == 0x0A ? $0 + 1 : $0 } }
        func tooDeep(_ offset: Int) -> JSONSyntaxError {
            JSONSyntaxError(offset: offset, problem: "nested too deep (more than \(limit) levels of objects and arrays)", reason: .depth)
        }
        let values: [JSONScanner.Value]
        do throws(JSONSyntaxError) {
            // A batch's array is one level more than its envelopes: any envelope past the limit
            // fails here, at its own offset; a value that is not a batch is checked on its own.
            do {
                values = try JSONScanner.values(bytes, maxDepth: limit + 1)
            } catch where error.reason == .depth {
                throw tooDeep(error.offset)
            }
            if let deep = values.first(where: { $0.kind != .array && $0.depth > limit }) { throw tooDeep(deep.deepestOffset) }
        } catch {
            let at = line(error.offset)
            throw at == 1 ? EnvelopeError.json(error) : EnvelopeError("line \(at): " + EnvelopeError.json(error).description)
        }
        guard !values.isEmpty else { throw EnvelopeError("no envelope given") }
        var documents: [(value: JSONScanner.Value?, offset: Int)] = []  // nil: a batch element that is not an object
        for value in values {
            guard value.kind == .array else {
                documents.append((value, value.offset))
                continue
            }
            for (element, offset) in zip(value.elementObjects, value.elementOffsets) { documents.append((element, offset)) }
        }
        var events: [CloudEvent] = []
        events.reserveCapacity(documents.count)
        for (index, document) in documents.enumerated() {
            do {
                guard let value = document.value else { throw EnvelopeError("an envelope must be a JSON object") }
                events.append(try CloudEvent(scanned: value))
            } catch let error as EnvelopeError {
                if values.count == 1 && values[0].kind != .array { throw error }
                throw EnvelopeError("event #\(index + 1) (line \(line(document.offset)), byte \(document.offset)): \(error.description)")
            }
        }
        return events
    }

    init(scanned envelope: JSONScanner.Value) throws {
        guard envelope.kind == .object else { throw EnvelopeError("an envelope must be a JSON object") }
        var fields: [String: ArraySlice<UInt8>] = [:]
        for member in envelope.members {
            guard fields.updateValue(envelope.text[member.value], forKey: member.key) == nil else {
                throw EnvelopeError("attribute '\(member.key)' appears more than once")
            }
        }
        // The spec: "an attribute with a null value MUST be treated as unset".
        func isNull(_ text: ArraySlice<UInt8>) -> Bool { text.elementsEqual("null".utf8) }
        func string(_ name: String, required: Bool) throws -> String? {
            guard let text = fields[name], !isNull(text) else {
                if required { throw EnvelopeError("required attribute '\(name)' is missing") }
                return nil
            }
            guard text.first == 0x22 else { throw EnvelopeError("attribute '\(name)' must be a string") }
            let value = JSONScanner.decodeString(text)
            if value.isEmpty { throw EnvelopeError("attribute '\(name)' must not be empty") }
            try Self.checkString(value, attribute: name)
            return value
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
        let contentType = try string("datacontenttype", required: false)
        var payload: Payload?
        let data = fields["data"]
        if let encoded = fields["data_base64"], !isNull(encoded) {
            if let data, !isNull(data) { throw EnvelopeError("an envelope may carry 'data' or 'data_base64', not both") }
            guard encoded.first == 0x22 else { throw EnvelopeError("attribute 'data_base64' must be a string") }
            // Empty is empty binary data, not a missing attribute.
            guard let bytes = Self.base64(JSONScanner.decodeString(encoded)) else {
                throw EnvelopeError("attribute 'data_base64' is not valid base64")
            }
            payload = .binary(bytes)
        } else if let data {
            if data.first == 0x22, let contentType, !Self.isJSON(contentType: contentType) {
                payload = .text(JSONScanner.decodeString(data))
            } else {
                payload = .json(Data(data))
            }
        }
        var extensions: [String: ExtensionValue] = [:]
        for (name, text) in fields where !Self.knownAttributes.contains(name) && !isNull(text) {
            guard !name.isEmpty, name.utf8.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) }) else {
                throw EnvelopeError("extension name '\(name)' must be lower-case letters and digits only")
            }
            switch text.first ?? 0 {
            case 0x22:
                let value = JSONScanner.decodeString(text)
                try Self.checkString(value, attribute: name)
                extensions[name] = .string(value)
            case 0x74: extensions[name] = .boolean(true)
            case 0x66: extensions[name] = .boolean(false)
            case 0x2D, 0x30...0x39:
                // The JSON format: an Integer is a JSON number with "only the int component", in 32 bits.
                guard !text.contains(where: { $0 == 0x2E || $0 | 0x20 == 0x65 }),
                      let number = Int32(String(decoding: text, as: UTF8.self))
                else {
                    throw EnvelopeError("extension '\(name)' is a number but not a CloudEvents Integer (a whole number from -2147483648 to 2147483647, without fraction or exponent)")
                }
                extensions[name] = .integer(number)
            default: throw EnvelopeError("extension '\(name)' must be a string, an integer or a boolean")
            }
        }
        self.init(
            id: try string("id", required: true)!, source: try string("source", required: true)!,
            type: try string("type", required: true)!, time: time,
            subject: try string("subject", required: false), datacontenttype: nil,
            dataschema: try string("dataschema", required: false), data: payload,
            correlationID: try string("correlationid", required: false),
            causationID: try string("causationid", required: false),
            traceparent: try string("traceparent", required: false), extensions: extensions)
        // After init, which would fill it in from the payload: only what the producer wrote.
        datacontenttype = contentType
    }

    /// The spec's rule for String values: no control characters (U+0000–U+001F, U+007F–U+009F) and
    /// no noncharacters (U+FDD0–U+FDEF, and U+xFFFE and U+xFFFF in every plane); surrogates cannot
    /// reach a Swift String (the scanner refuses unpaired ones).
    static func checkString(_ value: String, attribute name: String) throws {
        for scalar in value.unicodeScalars {
            let v = scalar.value
            if v < 0x20 || (0x7F...0x9F).contains(v) || (0xFDD0...0xFDEF).contains(v) || v & 0xFFFE == 0xFFFE {
                throw EnvelopeError("attribute '\(name)' contains \(String(format: "U+%04X", v)), which CloudEvents does not allow in a String (control characters and noncharacters)")
            }
        }
    }

    /// Whether a media type declares JSON data: `application/json`, `text/json`, or a `+json`
    /// suffix (`application/cloudevents+json`, `application/vnd.api+json`), parameters ignored.
    static func isJSON(contentType: String) -> Bool {
        let media = contentType.split(separator: ";", maxSplits: 1).first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        return media == "application/json" || media == "text/json" || media.hasSuffix("+json")
    }

    /// Standard base64 (RFC 4648, section 4), strictly: its alphabet only, `=` padding only at the
    /// end (or none), and no stray bits in the last character, so no two texts decode to the same
    /// bytes and nothing invalid is quietly read as something (Foundation's decoder on Linux is
    /// lenient: `"===="` gave one zero byte).
    static func base64(_ text: String) -> Data? {
        var bytes = Array(text.utf8)
        var padding = 0
        while bytes.last == 0x3D, padding < 2 { bytes.removeLast(); padding += 1 }
        if padding > 0, (bytes.count + padding) % 4 != 0 { return nil }
        guard bytes.count % 4 != 1 else { return nil }
        func value(_ byte: UInt8) -> UInt32? {
            switch byte {
            case 0x41...0x5A: return UInt32(byte - 0x41)
            case 0x61...0x7A: return UInt32(byte - 0x61 + 26)
            case 0x30...0x39: return UInt32(byte - 0x30 + 52)
            case 0x2B: return 62
            case 0x2F: return 63
            default: return nil
            }
        }
        var out = Data(capacity: bytes.count * 3 / 4)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 4, bytes.count)]
            var bits: UInt32 = 0
            for byte in chunk {
                guard let v = value(byte) else { return nil }
                bits = bits << 6 | v
            }
            switch chunk.count {
            case 4:
                out.append(contentsOf: [UInt8(bits >> 16), UInt8(truncatingIfNeeded: bits >> 8), UInt8(truncatingIfNeeded: bits)])
            case 3:
                guard bits & 0x3 == 0 else { return nil }
                out.append(contentsOf: [UInt8(bits >> 10), UInt8(truncatingIfNeeded: bits >> 2)])
            default:  // 2
                guard bits & 0xF == 0 else { return nil }
                out.append(UInt8(bits >> 4))
            }
            index += 4
        }
        return out
    }

    /// Encodes the CloudEvents JSON format on one line: `data` as its JSON text, a `.text`
    /// payload as a JSON string, binary as `data_base64`, extensions with their types. A `.json`
    /// payload made by hand that is not valid JSON goes out as `data_base64`, so no byte is lost.
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
        for name in extensions.keys.sorted() { out += "," + JSONText.quote(name) + ":" + extensions[name]!.jsonText }
        switch data {
        case .json(let bytes)?:
            if let text = Self.oneLineJSON(bytes) { out += ",\"data\":" + text } else { add("data_base64", bytes.base64EncodedString()) }
        case .text(let text)?: add("data", text)
        case .binary(let bytes)?: add("data_base64", bytes.base64EncodedString())
        case nil: break
        }
        return out + "}"
    }

    /// JSON text on one line (minified; what the decoder stored already is), or nil when it is not
    /// one JSON value.
    private static func oneLineJSON(_ bytes: Data) -> String? {
        guard let values = try? JSONScanner.values(Array(bytes)), values.count == 1 else { return nil }
        return JSONText.escapingUnsafe(String(decoding: values[0].text, as: UTF8.self))
    }
}

extension EnvelopeError {
    static func json(_ error: JSONSyntaxError) -> EnvelopeError {
        switch error.reason {
        case .encoding, .depth: return EnvelopeError("the envelope is refused: \(error)")
        case .syntax: return EnvelopeError("the envelope is not valid JSON: \(error)")
        }
    }
}

enum JSONText {
    /// A JSON string literal for `text`, escaping quotes, backslashes, and as `\uXXXX` every
    /// character `terminalSafe` would escape (controls, bidi, zero-width): still the same string
    /// to any JSON parser, and safe to print on a terminal.
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
            case _ where scalar.isTerminalUnsafe: out += scalar.jsonEscaped
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Valid JSON text with every terminal-unsafe character (which can only stand inside its
    /// strings) written as a `\uXXXX` escape: the same JSON value, safe to print.
    static func escapingUnsafe(_ json: String) -> String {
        guard json.unicodeScalars.contains(where: \.isTerminalUnsafe) else { return json }
        var out = ""
        out.reserveCapacity(json.utf8.count + 16)
        for scalar in json.unicodeScalars {
            if scalar.isTerminalUnsafe { out += scalar.jsonEscaped } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }
}
