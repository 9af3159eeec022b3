import Foundation

// JSON as an edit of a dead letter sees it: written back compactly or pretty-printed with the
// producer's key order and number text kept (`JSONValue` keeps both), addressed by RFC 6901 JSON
// Pointers, and changed by `FieldAssignment`s (`--set /price=12500`).

/// An edit that cannot be made: what is wrong, in words (the attribute, the path, the line).
public struct EditError: Error, CustomStringConvertible, Equatable, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension JSONValue {
    /// The value as JSON text without insignificant whitespace; strings are written with
    /// `JSONText.quote` (every terminal-unsafe character as a `\uXXXX` escape: the same value).
    var compactText: String {
        var out = ""
        writeCompact(into: &out)
        return out
    }

    private func writeCompact(into out: inout String) {
        switch self {
        case .object(let members):
            out += "{"
            for (index, member) in members.enumerated() {
                if index > 0 { out += "," }
                out += JSONText.quote(member.key) + ":"
                member.value.writeCompact(into: &out)
            }
            out += "}"
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                item.writeCompact(into: &out)
            }
            out += "]"
        default: out += scalarText
        }
    }

    private var scalarText: String {
        switch self {
        case .string(let text): return JSONText.quote(text)
        case .number(let text): return text
        case .bool(let value): return value ? "true" : "false"
        case .null: return "null"
        case .object, .array: return compactText
        }
    }

    /// The value pretty-printed, two spaces a level, one member or element a line, in the order
    /// written (unlike `JSONSerialization`, which sorts keys and rewrites numbers).
    func prettyLines() -> [String] {
        var lines: [String] = []
        writePretty(prefix: "", indent: "", suffix: "", into: &lines)
        return lines
    }

    private func writePretty(prefix: String, indent: String, suffix: String, into lines: inout [String]) {
        let inner = indent + "  "
        switch self {
        case .object(let members) where !members.isEmpty:
            lines.append(indent + prefix + "{")
            for (index, member) in members.enumerated() {
                member.value.writePretty(prefix: JSONText.quote(member.key) + ": ", indent: inner, suffix: index < members.count - 1 ? "," : "", into: &lines)
            }
            lines.append(indent + "}" + suffix)
        case .array(let items) where !items.isEmpty:
            lines.append(indent + prefix + "[")
            for (index, item) in items.enumerated() {
                item.writePretty(prefix: "", indent: inner, suffix: index < items.count - 1 ? "," : "", into: &lines)
            }
            lines.append(indent + "]" + suffix)
        default:
            lines.append(indent + prefix + compactText + suffix)
        }
    }

    var typeName: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        }
    }

    /// Parses JSON text (exactly one value).
    static func parse(_ text: some Collection<UInt8>) throws(JSONSyntaxError) -> JSONValue {
        try JSONScanner.tree(Array(text), maxDepth: JSONScanner.maxDepth)
    }
}

/// An RFC 6901 JSON Pointer: `""` is the whole document, `/a/0/b` a path of member names and
/// array indexes, with `~1` for `/` and `~0` for `~` inside a token.
public struct JSONPointer: Sendable, Equatable, CustomStringConvertible {
    public var tokens: [String]

    public init(tokens: [String]) { self.tokens = tokens }

    public init(_ text: String) throws {
        guard !text.isEmpty else {
            tokens = []
            return
        }
        guard text.hasPrefix("/") else {
            throw EditError("'\(text)' is not a JSON Pointer: it must start with '/' (like /price or /seller/name)")
        }
        var tokens: [String] = []
        for raw in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            var token = ""
            var scalars = raw.unicodeScalars.makeIterator()
            while let scalar = scalars.next() {
                guard scalar == "~" else {
                    token.unicodeScalars.append(scalar)
                    continue
                }
                switch scalars.next() {
                case "0": token += "~"
                case "1": token += "/"
                default: throw EditError("'\(text)' is not a JSON Pointer: '~' must be followed by 0 (for ~) or 1 (for /)")
                }
            }
            tokens.append(token)
        }
        self.tokens = tokens
    }

    /// The pointer as written (RFC 6901 escapes).
    public var description: String {
        tokens.map { "/" + $0.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") }.joined()
    }

    /// The prefix of `count` tokens, as written (for messages).
    func prefix(_ count: Int) -> String { JSONPointer(tokens: Array(tokens.prefix(count))).description }
}

/// `PATH=VALUE`: set the member or element at a JSON Pointer to a JSON value, the way JSON Patch's
/// `add` does (an object member is added or replaced; an array element at an index is replaced,
/// `-` appends). The path's parent must exist: nothing is created on the way.
public struct FieldAssignment: Sendable, Equatable, CustomStringConvertible {
    public var pointer: JSONPointer
    /// The value as compact JSON text.
    public var value: String

    public init(pointer: JSONPointer, value: String) {
        self.pointer = pointer
        self.value = value
    }

    /// Parses `PATH=VALUE`: split at the first `=` (so a member name holding `=` cannot be set
    /// this way), the value JSON (a string needs its quotes: `/currency="EUR"`).
    public init(parsing text: String) throws {
        guard let equals = text.firstIndex(of: "=") else {
            throw EditError("'\(text)' is not PATH=VALUE (like /price=12500 or /currency=\"EUR\")")
        }
        pointer = try JSONPointer(String(text[..<equals]))
        let raw = String(text[text.index(after: equals)...])
        do {
            value = try JSONValue.parse(Array(raw.utf8)).compactText
        } catch {
            let hint = raw.first.map { "\"{[-0123456789tfn".contains($0) } ?? false ? "" : " (a string needs its quotes: \(pointer)='\"\(raw)\"')"
            throw EditError("the value of \(pointer) is not JSON: \(error.problem)\(hint)")
        }
    }

    public var description: String { "\(pointer)=\(value)" }

    /// `document` with this assignment made; the error names the path and what was in the way.
    func apply(to document: JSONValue) throws -> JSONValue {
        let newValue = try JSONValue.parse(Array(value.utf8))
        return try set(newValue, in: document, at: 0)
    }

    private func set(_ newValue: JSONValue, in node: JSONValue, at depth: Int) throws -> JSONValue {
        guard depth < pointer.tokens.count else { return newValue }
        let token = pointer.tokens[depth]
        let last = depth == pointer.tokens.count - 1
        let here = pointer.prefix(depth)
        switch node {
        case .object(var members):
            if let index = members.lastIndex(where: { $0.key == token }) {
                members[index].value = try set(newValue, in: members[index].value, at: depth + 1)
            } else {
                guard last else { throw EditError("\(pointer): \(here.isEmpty ? "the payload" : here) has no member '\(token)'") }
                members.append((token, newValue))
            }
            return .object(members)
        case .array(var items):
            if token == "-" {
                guard last else { throw EditError("\(pointer): '-' (the end of \(here.isEmpty ? "the payload" : here)) can only be the last token") }
                items.append(newValue)
                return .array(items)
            }
            guard let index = Int(token), String(index) == token, index >= 0 else {
                throw EditError("\(pointer): \(here.isEmpty ? "the payload" : here) is an array; '\(token)' is not an index (0, 1, … or - to append)")
            }
            guard index < items.count else {
                throw EditError("\(pointer): \(here.isEmpty ? "the payload" : here) has \(items.count) element\(items.count == 1 ? "" : "s"); there is no index \(index)")
            }
            items[index] = try set(newValue, in: items[index], at: depth + 1)
            return .array(items)
        default:
            throw EditError("\(pointer): \(here.isEmpty ? "the payload" : here) is \(node.typeName), not an object or array")
        }
    }
}
