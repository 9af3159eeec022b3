/// The JSON of a pattern, read by our own strict reader rather than `JSONSerialization`: a pattern
/// needs what that API loses, namely the order of an object's keys and its repeated keys (a later
/// key replaces an earlier one, as in event-ruler's compiler, which reads with Jackson), and the
/// text of each number (event-ruler decides from the text whether a number can be compared).
indirect enum PatternJSON: Sendable {
    case object([(key: String, value: PatternJSON)])
    case array([PatternJSON])
    case string(String)
    /// The number as written, already checked against the JSON grammar.
    case number(String)
    case bool(Bool)
    case null

    /// A short description for error messages.
    var kind: String {
        switch self {
        case .object: return "an object"
        case .array: return "a list"
        case .string: return "a string"
        case .number: return "a number"
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return "null"
        }
    }

    /// Deepest nesting accepted; patterns are small, and a bound keeps recursion safe.
    static let maxDepth = 64

    static func parse(_ text: String) throws -> PatternJSON {
        var reader = Reader(bytes: Array(text.utf8))
        reader.skipSpace()
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.position == reader.bytes.count else { throw reader.fail("unexpected text after the pattern") }
        return value
    }

    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        func fail(_ what: String) -> PatternError {
            PatternError(path: "", problem: "the pattern is not valid JSON: \(what) at byte \(position)")
        }

        mutating func skipSpace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        mutating func expect(_ word: String, _ value: PatternJSON) throws -> PatternJSON {
            let word = Array(word.utf8)
            guard bytes.count - position >= word.count, Array(bytes[position..<position + word.count]) == word else {
                throw fail("unexpected character")
            }
            position += word.count
            return value
        }

        mutating func value(depth: Int) throws -> PatternJSON {
            guard depth < PatternJSON.maxDepth else { throw fail("nested more than \(PatternJSON.maxDepth) deep") }
            guard position < bytes.count else { throw fail("unexpected end") }
            switch bytes[position] {
            case UInt8(ascii: "{"):
                position += 1
                var members: [(key: String, value: PatternJSON)] = []
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail("expected a quoted key") }
                    let key = try string()
                    skipSpace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    position += 1
                    skipSpace()
                    members.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    guard position < bytes.count else { throw fail("unexpected end") }
                    if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                    if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
                    throw fail("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                position += 1
                var items: [PatternJSON] = []
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard position < bytes.count else { throw fail("unexpected end") }
                    if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                    if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
                    throw fail("expected ',' or ']'")
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try expect("true", .bool(true))
            case UInt8(ascii: "f"): return try expect("false", .bool(false))
            case UInt8(ascii: "n"): return try expect("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw fail("unexpected character")
            }
        }

        mutating func number() throws -> String {
            let start = position
            func digits() -> Int {
                let from = position
                while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
                return position - from
            }
            if bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard position < bytes.count else { throw fail("a number needs digits") }
            if bytes[position] == UInt8(ascii: "0") {
                position += 1
            } else if digits() == 0 {
                throw fail("a number needs digits")
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                position += 1
                guard digits() > 0 else { throw fail("a number needs digits after '.'") }
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                    position += 1
                }
                guard digits() > 0 else { throw fail("a number needs digits in its exponent") }
            }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        mutating func hex4() throws -> UInt32 {
            guard bytes.count - position >= 4 else { throw fail("a \\u escape needs four hex digits") }
            var code: UInt32 = 0
            for _ in 0..<4 {
                guard let digit = hexValue(bytes[position]) else { throw fail("a \\u escape needs four hex digits") }
                code = code << 4 | UInt32(digit)
                position += 1
            }
            return code
        }

        mutating func string() throws -> String {
            position += 1  // the opening quote
            var out: [UInt8] = []
            while true {
                guard position < bytes.count else { throw fail("unterminated string") }
                let byte = bytes[position]
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    // The input came from a Swift String, so its bytes (and our escapes) are valid UTF-8.
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard position < bytes.count else { throw fail("unterminated string") }
                    let escape = bytes[position]
                    position += 1
                    switch escape {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        if (0xD800..<0xDC00).contains(code) {
                            guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"),
                                  bytes[position + 1] == UInt8(ascii: "u")
                            else { throw fail("a lone UTF-16 surrogate in a \\u escape") }
                            position += 2
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw fail("a lone UTF-16 surrogate in a \\u escape") }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00..<0xE000).contains(code) {
                            throw fail("a lone UTF-16 surrogate in a \\u escape")
                        }
                        out.append(contentsOf: Array(String(Character(Unicode.Scalar(code)!)).utf8))
                    default: throw fail("invalid escape '\\\(Character(Unicode.Scalar(escape)))'")
                    }
                case 0x00..<0x20: throw fail("a control character inside a string")
                default: out.append(byte)
                }
            }
        }
    }
}

func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}
