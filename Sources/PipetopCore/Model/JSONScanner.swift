/// JSON text that was refused: what was wrong, and the byte offset in the input where it was found.
public struct JSONSyntaxError: Error, CustomStringConvertible, Equatable {
    /// What kind of refusal: the text is not UTF-8, it nests past the limit, or it is not JSON.
    public enum Reason: Sendable, Equatable { case encoding, depth, syntax }

    public var offset: Int
    public var problem: String
    public var reason: Reason = .syntax

    public init(offset: Int, problem: String, reason: Reason = .syntax) {
        self.offset = offset
        self.problem = problem
        self.reason = reason
    }

    public var description: String { "\(problem) at byte \(offset)" }
}

/// A JSON value as written: object members in order, with repeated keys kept; numbers as their
/// text (whether `1.0` or `1e400` can be compared is the reader's business).
indirect enum JSONValue: Sendable {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null
}

/// A strict RFC 8259 scanner for envelopes and patterns: it validates the text (UTF-8 included), measures its
/// nesting, and hands back each value minified, with the byte ranges of a top-level object's
/// members.
///
/// Why not `JSONSerialization` alone: it re-encodes `data` (key order, `1.0` → `1`, big integers
/// rounded through `Double`), so the payload would not come back as it was published; it names no
/// byte offset; and a nesting past its limit reads as "not in the correct format". The scanner
/// keeps the payload's own text (only insignificant whitespace is dropped, so an envelope fits on
/// one line) and says what is wrong and where.
enum JSONScanner {
    /// The deepest nesting accepted, counting the envelope object itself: Foundation's own limit,
    /// so that `Payload.jsonObject()` can read every payload the scanner accepts.
    static let maxDepth = 512

    enum Kind: Equatable { case object, array, string, number, literal }

    /// One JSON value, minified.
    struct Value {
        var kind: Kind
        /// The value's text without insignificant whitespace.
        var text: [UInt8]
        /// Where the value started in the input (for messages).
        var offset: Int
        /// The deepest nesting inside it (1 for a flat object or array, 0 for a scalar), and where
        /// that depth was first reached.
        var depth = 0
        var deepestOffset = 0
        /// For an object: its members in order, each value's range in `text`.
        var members: [(key: String, value: Range<Int>)] = []
        /// For an array: each element's range in `text`, where it started in the input, and each
        /// object element read as a value of its own (nil for other elements).
        var elements: [Range<Int>] = []
        var elementOffsets: [Int] = []
        var elementObjects: [Value?] = []
    }

    /// Every JSON value in `input`, one after another, separated by whitespace (one value, JSON
    /// lines, or concatenated JSON). A leading UTF-8 byte order mark is skipped.
    static func values(_ input: [UInt8], maxDepth: Int = maxDepth) throws(JSONSyntaxError) -> [Value] {
        try validateUTF8(input)
        var scanner = Scanner(input: input, maxDepth: maxDepth)
        if input.starts(with: [0xEF, 0xBB, 0xBF]) { scanner.index = 3 }
        var values: [Value] = []
        scanner.skipWhitespace()
        while scanner.index < input.count {
            values.append(try scanner.topLevel())
            scanner.skipWhitespace()
        }
        return values
    }

    /// Refuses bytes that are not UTF-8 (overlong forms, surrogates and code points past U+10FFFF
    /// included), naming the offset of the first bad sequence.
    static func validateUTF8(_ bytes: [UInt8]) throws(JSONSyntaxError) {
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 { index += 1; continue }
            let length: Int
            var lower: UInt8 = 0x80, upper: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; upper = 0x9F
            case 0xF0: length = 4; lower = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upper = 0x8F
            default: throw JSONSyntaxError(offset: index, problem: "invalid UTF-8", reason: .encoding)
            }
            guard index + length <= count else { throw JSONSyntaxError(offset: index, problem: "invalid UTF-8 (truncated sequence)", reason: .encoding) }
            guard (lower...upper).contains(bytes[index + 1]) else { throw JSONSyntaxError(offset: index, problem: "invalid UTF-8", reason: .encoding) }
            for next in (index + 2)..<(index + length) where !(0x80...0xBF).contains(bytes[next]) {
                throw JSONSyntaxError(offset: index, problem: "invalid UTF-8", reason: .encoding)
            }
            index += length
        }
    }

    /// The text of a JSON string literal (quotes included), decoded. The literal was validated by
    /// the scanner (which refuses unpaired surrogate escapes; here they would become U+FFFD).
    static func decodeString(_ literal: ArraySlice<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        var index = literal.startIndex + 1
        let end = literal.endIndex - 1
        var pendingHigh: UInt32?
        func hex(_ at: Int) -> UInt32 {
            var value: UInt32 = 0
            for byte in literal[at..<at + 4] { value = value << 4 | UInt32(hexValue(byte) ?? 0) }
            return value
        }
        var plain: [UInt8] = []
        func flushPlain() {
            guard !plain.isEmpty else { return }
            scalars.append(contentsOf: String(decoding: plain, as: UTF8.self).unicodeScalars)
            plain.removeAll(keepingCapacity: true)
        }
        func flushHigh() {
            if pendingHigh != nil { scalars.append("\u{FFFD}"); pendingHigh = nil }
        }
        while index < end {
            let byte = literal[index]
            guard byte == 0x5C else {
                flushHigh()
                plain.append(byte)
                index += 1
                continue
            }
            flushPlain()
            let escape = literal[index + 1]
            index += 2
            if escape == 0x75 {  // \uXXXX
                let unit = hex(index)
                index += 4
                if (0xDC00...0xDFFF).contains(unit), let high = pendingHigh {
                    pendingHigh = nil
                    scalars.append(Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00))!)
                } else {
                    flushHigh()
                    if (0xD800...0xDBFF).contains(unit) { pendingHigh = unit }
                    else { scalars.append(Unicode.Scalar(unit) ?? "\u{FFFD}") }
                }
                continue
            }
            flushHigh()
            switch escape {
            case 0x62: scalars.append("\u{08}")
            case 0x66: scalars.append("\u{0C}")
            case 0x6E: scalars.append("\n")
            case 0x72: scalars.append("\r")
            case 0x74: scalars.append("\t")
            default: scalars.append(Unicode.Scalar(escape))  // " \ /
            }
        }
        flushPlain()
        flushHigh()
        return String(scalars)
    }

    /// Exactly one JSON value, as a tree: object members in order (repeated keys kept), numbers as
    /// their text. For patterns, which need all three (`JSONSerialization` keeps none).
    static func tree(_ input: [UInt8], maxDepth: Int) throws(JSONSyntaxError) -> JSONValue {
        let values = try values(input, maxDepth: maxDepth)
        guard values.count == 1 else {
            throw JSONSyntaxError(offset: values.count > 1 ? values[1].offset : input.count, problem: values.isEmpty ? "no JSON value" : "more than one JSON value")
        }
        var builder = TreeBuilder(text: values[0].text)
        return builder.value()
    }

    /// Builds the tree of text the scanner has validated and minified: no checks are left to make.
    private struct TreeBuilder {
        let text: [UInt8]
        var index = 0

        mutating func value() -> JSONValue {
            switch text[index] {
            case 0x7B:
                index += 1
                var members: [(key: String, value: JSONValue)] = []
                if text[index] == 0x7D { index += 1; return .object(members) }
                while true {
                    let key = string()
                    index += 1  // ':'
                    members.append((key, value()))
                    index += 1  // ',' or '}'
                    if text[index - 1] == 0x7D { return .object(members) }
                }
            case 0x5B:
                index += 1
                var items: [JSONValue] = []
                if text[index] == 0x5D { index += 1; return .array(items) }
                while true {
                    items.append(value())
                    index += 1  // ',' or ']'
                    if text[index - 1] == 0x5D { return .array(items) }
                }
            case 0x22: return .string(string())
            case 0x74: index += 4; return .bool(true)
            case 0x66: index += 5; return .bool(false)
            case 0x6E: index += 4; return .null
            default:
                let start = index
                while index < text.count, [0x2B, 0x2D, 0x2E, 0x45, 0x65].contains(text[index]) || (0x30...0x39).contains(text[index]) { index += 1 }
                return .number(String(decoding: text[start..<index], as: UTF8.self))
            }
        }

        mutating func string() -> String {
            let start = index
            index += 1
            while text[index] != 0x22 { index += text[index] == 0x5C ? 2 : 1 }
            index += 1
            return JSONScanner.decodeString(text[start..<index])
        }
    }

    private struct Scanner {
        let input: [UInt8]
        let maxDepth: Int
        var index = 0
        var out: [UInt8] = []
        var deepest: (depth: Int, offset: Int) = (0, 0)

        init(input: [UInt8], maxDepth: Int) {
            self.input = input
            self.maxDepth = maxDepth
        }

        mutating func skipWhitespace() {
            while index < input.count, [0x20, 0x09, 0x0A, 0x0D].contains(input[index]) { index += 1 }
        }

        func fail(_ problem: String, at offset: Int? = nil) -> JSONSyntaxError {
            JSONSyntaxError(offset: offset ?? index, problem: problem)
        }

        func describe(_ byte: UInt8) -> String {
            (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : String(format: "byte 0x%02x", byte)
        }

        mutating func topLevel() throws(JSONSyntaxError) -> Value {
            out = []
            deepest = (0, index)
            let start = index
            var value = Value(kind: .literal, text: [], offset: start)
            switch input[index] {
            case 0x7B: value.kind = .object; try object(depth: 1, members: &value.members, record: true)
            case 0x5B: value.kind = .array; try array(depth: 1, elements: &value.elements, offsets: &value.elementOffsets, objects: &value.elementObjects)
            default:
                value.kind = input[index] == 0x22 ? .string : (input[index] == 0x2D || (0x30...0x39).contains(input[index]) ? .number : .literal)
                try self.value(depth: 1)
            }
            value.text = out
            (value.depth, value.deepestOffset) = deepest
            return value
        }

        mutating func value(depth: Int) throws(JSONSyntaxError) {
            skipWhitespace()
            guard index < input.count else { throw fail("unexpected end of input, expected a value") }
            switch input[index] {
            case 0x7B:
                var ignored: [(key: String, value: Range<Int>)] = []
                try object(depth: depth, members: &ignored)
            case 0x5B:
                var ignored: [Range<Int>] = [], offsets: [Int] = [], objects: [Value?] = []
                try array(depth: depth, elements: &ignored, offsets: &offsets, objects: &objects)
            case 0x22: try string()
            case 0x2D, 0x30...0x39: try number()
            case 0x74: try literal("true")
            case 0x66: try literal("false")
            case 0x6E: try literal("null")
            default: throw fail("expected a value, found \(describe(input[index]))")
            }
        }

        mutating func nested(_ depth: Int) throws(JSONSyntaxError) {
            if depth > maxDepth {
                throw JSONSyntaxError(offset: index, problem: "nested too deep (more than \(maxDepth) levels of objects and arrays)", reason: .depth)
            }
            if depth > deepest.depth { deepest = (depth, index) }
        }

        /// `record`: keep the members' keys and ranges (a top-level object, or an envelope in a batch).
        mutating func object(depth: Int, members: inout [(key: String, value: Range<Int>)], record: Bool = false) throws(JSONSyntaxError) {
            try nested(depth)
            out.append(0x7B)
            index += 1
            skipWhitespace()
            if index < input.count, input[index] == 0x7D { out.append(0x7D); index += 1; return }
            while true {
                skipWhitespace()
                guard index < input.count else { throw fail("unexpected end of input inside an object") }
                guard input[index] == 0x22 else { throw fail("expected a member name in double quotes, found \(describe(input[index]))") }
                let keyStart = out.count
                try string()
                let key = record ? JSONScanner.decodeString(out[keyStart...]) : ""
                skipWhitespace()
                guard index < input.count, input[index] == 0x3A else {
                    throw fail(index < input.count ? "expected ':' after a member name, found \(describe(input[index]))" : "unexpected end of input inside an object")
                }
                out.append(0x3A)
                index += 1
                skipWhitespace()
                let valueStart = out.count
                try value(depth: depth + 1)
                if record { members.append((key, valueStart..<out.count)) }
                skipWhitespace()
                guard index < input.count else { throw fail("unexpected end of input inside an object") }
                switch input[index] {
                case 0x2C: out.append(0x2C); index += 1
                case 0x7D: out.append(0x7D); index += 1; return
                default: throw fail("expected ',' or '}' in an object, found \(describe(input[index]))")
                }
            }
        }

        /// At the top level, each element's range and input offset, and each object element as a
        /// `Value` of its own with its members (a batch's envelopes, read in this one pass).
        mutating func array(depth: Int, elements: inout [Range<Int>], offsets: inout [Int], objects: inout [Value?]) throws(JSONSyntaxError) {
            try nested(depth)
            let record = depth == 1
            out.append(0x5B)
            index += 1
            skipWhitespace()
            if index < input.count, input[index] == 0x5D { out.append(0x5D); index += 1; return }
            while true {
                skipWhitespace()
                let start = out.count, offset = index
                if record, index < input.count, input[index] == 0x7B {
                    let outer = deepest
                    deepest = (0, index)
                    var members: [(key: String, value: Range<Int>)] = []
                    try object(depth: depth + 1, members: &members, record: true)
                    var element = Value(kind: .object, text: Array(out[start...]), offset: offset)
                    element.members = members.map { ($0.key, ($0.value.lowerBound - start)..<($0.value.upperBound - start)) }
                    // The element's own depth, counted from the element.
                    element.depth = deepest.depth - depth
                    element.deepestOffset = deepest.offset
                    if outer.depth > deepest.depth { deepest = outer }
                    objects.append(element)
                } else {
                    try value(depth: depth + 1)
                    if record { objects.append(nil) }
                }
                if record {
                    elements.append(start..<out.count)
                    offsets.append(offset)
                }
                skipWhitespace()
                guard index < input.count else { throw fail("unexpected end of input inside an array") }
                switch input[index] {
                case 0x2C: out.append(0x2C); index += 1
                case 0x5D: out.append(0x5D); index += 1; return
                default: throw fail("expected ',' or ']' in an array, found \(describe(input[index]))")
                }
            }
        }

        mutating func string() throws(JSONSyntaxError) {
            let start = index
            index += 1
            while index < input.count {
                let byte = input[index]
                switch byte {
                case 0x22:
                    index += 1
                    out.append(contentsOf: input[start..<index])
                    return
                case 0x5C:
                    guard index + 1 < input.count else { throw fail("unterminated string", at: start) }
                    switch input[index + 1] {
                    case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: index += 2
                    case 0x75:
                        let unit = try hex4(at: index + 2)
                        if (0xDC00...0xDFFF).contains(unit) { throw fail("a lone UTF-16 surrogate in a \\u escape") }
                        if (0xD800...0xDBFF).contains(unit) {
                            guard index + 12 <= input.count, input[index + 6] == 0x5C, input[index + 7] == 0x75,
                                  (0xDC00...0xDFFF).contains(try hex4(at: index + 8))
                            else { throw fail("a lone UTF-16 surrogate in a \\u escape") }
                            index += 6
                        }
                        index += 6
                    default: throw fail("invalid escape: \\ followed by \(describe(input[index + 1])) in a string")
                    }
                case 0x00..<0x20:
                    throw fail("control character \(String(format: "U+%04X", byte)) in a string (it must be escaped)")
                default:
                    index += 1
                }
            }
            throw fail("unterminated string", at: start)
        }

        /// The four hex digits of a `\\u` escape at `at`.
        func hex4(at: Int) throws(JSONSyntaxError) -> UInt32 {
            guard at + 4 <= input.count else { throw fail("invalid \\u escape in a string (four hex digits expected)") }
            var value: UInt32 = 0
            for byte in input[at..<(at + 4)] {
                guard let digit = hexValue(byte) else { throw fail("invalid \\u escape in a string (four hex digits expected)") }
                value = value << 4 | UInt32(digit)
            }
            return value
        }

        mutating func number() throws(JSONSyntaxError) {
            let start = index
            func digits() -> Int {
                let from = index
                while index < input.count, (0x30...0x39).contains(input[index]) { index += 1 }
                return index - from
            }
            if input[index] == 0x2D { index += 1 }
            guard index < input.count, (0x30...0x39).contains(input[index]) else { throw fail("invalid number: a digit must follow '-'") }
            if input[index] == 0x30 {
                index += 1
                if index < input.count, (0x30...0x39).contains(input[index]) { throw fail("invalid number: no leading zeros", at: start) }
            } else {
                _ = digits()
            }
            if index < input.count, input[index] == 0x2E {
                index += 1
                guard digits() > 0 else { throw fail("invalid number: a digit must follow '.'") }
            }
            if index < input.count, input[index] | 0x20 == 0x65 {
                index += 1
                if index < input.count, input[index] == 0x2B || input[index] == 0x2D { index += 1 }
                guard digits() > 0 else { throw fail("invalid number: the exponent needs digits") }
            }
            out.append(contentsOf: input[start..<index])
        }

        mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
            let bytes = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
            guard index + bytes.count <= input.count, input[index..<(index + bytes.count)].elementsEqual(bytes) else {
                throw fail("expected a value, found \(describe(input[index]))")
            }
            out.append(contentsOf: bytes)
            index += bytes.count
        }
    }
}

/// The value of one hex digit, or nil.
func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}
