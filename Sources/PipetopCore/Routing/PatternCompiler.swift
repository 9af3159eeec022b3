import Foundation

/// One matcher of a field, compiled: everything an event value is compared with is computed here,
/// once, when the pattern is parsed.
enum Matcher: Sendable, Equatable {
    case string(String)
    /// A number literal: `value` when comparable, else the text as written.
    case number(value: Double?, text: String)
    case bool(Bool)
    case null
    /// A string literal that is an IP address: matches the same address however it is written.
    case address([UInt8])
    case prefix([UInt8])
    case suffix([UInt8])
    case prefixIgnoringCase(FoldedText)
    case suffixIgnoringCase(FoldedText)
    case equalsIgnoringCase(FoldedText)
    case wildcard(Wildcard)
    case anythingButStrings([String])
    case anythingButNumbers([Double])
    case anythingButPrefixes([[UInt8]])
    case anythingButSuffixes([[UInt8]])
    case anythingButIgnoringCase([FoldedText])
    case anythingButWildcards([Wildcard])
    /// `numeric`; nil bounds are open-ended.
    case numeric(lower: Double?, lowerInclusive: Bool, upper: Double?, upperInclusive: Bool)
    case cidr(IPRange)
    /// `exists: true`: any value.
    case exists

    var needsAddress: Bool {
        switch self {
        case .address, .cidr: return true
        default: return false
        }
    }
}

/// A field of one alternative: a path into the event and the matchers of its value.
struct Field: Sendable, Equatable {
    let path: [String]
    /// The dotted path, for ordering as event-ruler orders fields.
    let dotted: String
    let matchers: [Matcher]
    /// The field has an `exists: false`: having no value (consistent with the others) satisfies it.
    let allowsAbsence: Bool
    /// Some matcher compares IP addresses, so string values are parsed as addresses.
    let needsAddress: Bool
    /// Some matcher is satisfied by any value.
    let anyValue: Bool
}

/// One alternative of a pattern: fields sorted by dotted path, with the number of leading keys
/// each pair of fields shares (for the array-consistency check).
struct Alternative: Sendable, Equatable {
    let fields: [Field]
    let shared: [Int]
    /// The order in which `search` takes the fields (indices into `fields`). With an `exists: false`
    /// it must be event-ruler's (dotted-path) order, which decides what the absence is judged
    /// against; without one the answer does not depend on the order, and fields sorted by their
    /// lists of keys keep each subtree of paths together, which bounds the search (see `search`).
    let searchOrder: [Int]

    init(fields: [Field]) {
        self.fields = fields.sorted { $0.dotted.utf16.lexicographicallyPrecedes($1.dotted.utf16) }
        var shared: [Int] = []
        for a in self.fields {
            for b in self.fields {
                shared.append(zip(a.path, b.path).prefix { $0 == $1 }.count)
            }
        }
        self.shared = shared
        let sorted = self.fields
        if sorted.contains(where: \.allowsAbsence) {
            searchOrder = Array(sorted.indices)
        } else {
            searchOrder = sorted.indices.sorted { a, b in
                sorted[a].path.lexicographicallyPrecedes(sorted[b].path) { $0.utf16.lexicographicallyPrecedes($1.utf16) }
            }
        }
    }
}

/// Turns pattern JSON into alternatives, in event-ruler's `JsonRuleCompiler` order: keys in the
/// order written, an `$or` forking every alternative so far, later keys added to every alternative.
struct PatternCompiler {
    typealias Draft = [String: Field]
    private(set) var drafts: [Draft] = []
    static let maxAlternatives = 1024

    var alternatives: [[Field]] { drafts.map { Array($0.values) } }

    /// Event-ruler's `RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP`.
    static let reservedInOr: Set<String> = [
        "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists", "wildcard", "numeric", "cidr",
        "=", "<", "<=", ">", ">=", "regex", "not-wildcard", "not-equals-ignore-case", "date-after",
        "date-on-or-after", "date-before", "date-on-or-before", "in-date-range", "ip-address-in-range",
        "ip-address-not-in-range",
    ]

    static func join(_ display: String, _ key: String) -> String { display.isEmpty ? key : display + "." + key }

    mutating func object(_ members: [(key: String, value: PatternJSON)], path: [String], display: String, insideOr: Bool) throws {
        guard !members.isEmpty else { throw PatternError(path: display, problem: "an empty object matches nothing") }
        for (key, value) in members {
            if key == "$or" {
                try or(value, path: path, display: display, insideOr: insideOr)
                continue
            }
            let here = Self.join(display, key)
            if insideOr && Self.reservedInOr.contains(key) {
                throw PatternError(path: here, problem: "'\(key)' is a reserved word and cannot name a field inside '$or'")
            }
            switch value {
            case .object(let nested):
                try object(nested, path: path + [key], display: here, insideOr: insideOr)
            case .array(let list):
                try field(list, path: path + [key], display: here)
            default:
                throw PatternError(path: here, problem: "expected a list of matchers such as [\"value\"] or an object of fields, not \(value.kind)")
            }
        }
    }

    private mutating func or(_ value: PatternJSON, path: [String], display: String, insideOr: Bool) throws {
        let here = Self.join(display, "$or")
        guard case .array(let items) = value, items.count >= 2 else {
            throw PatternError(path: here, problem: "'$or' takes a list of at least two objects of fields")
        }
        let before = drafts.isEmpty ? [Draft()] : drafts
        var after: [Draft] = []
        for (index, item) in items.enumerated() {
            let display = here + "[\(index + 1)]"
            guard case .object(let members) = item else {
                throw PatternError(path: display, problem: "'$or' takes objects of fields, not \(item.kind)")
            }
            drafts = before
            try object(members, path: path, display: display, insideOr: true)
            after += drafts
            guard after.count <= Self.maxAlternatives else {
                throw PatternError(path: here, problem: "unsupported: the '$or' lists multiply out to more than \(Self.maxAlternatives) alternatives")
            }
        }
        drafts = after
    }

    private mutating func field(_ list: [PatternJSON], path: [String], display: String) throws {
        guard !list.isEmpty else { throw PatternError(path: display, problem: "an empty list of matchers matches nothing") }
        var matchers: [Matcher] = []
        var allowsAbsence = false
        for (index, item) in list.enumerated() {
            do {
                if let matcher = try Self.matcher(item) { matchers.append(matcher) } else { allowsAbsence = true }
            } catch let error as PatternError {
                throw PatternError(path: display, problem: error.problem, matcher: index + 1)
            }
        }
        let anyValue = matchers.contains(.exists)
        let compiled = Field(
            path: path, dotted: path.joined(separator: "."), matchers: matchers.filter { $0 != .exists },
            allowsAbsence: allowsAbsence, needsAddress: matchers.contains { $0.needsAddress }, anyValue: anyValue)
        if drafts.isEmpty { drafts = [Draft()] }
        let key = path.joined(separator: "\u{0}")
        for index in drafts.indices { drafts[index][key] = compiled }
    }

    // MARK: Matchers

    private static func problem(_ text: String) -> PatternError { PatternError(path: "", problem: text) }

    static let operators = "prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr"

    /// The matcher for one list item; nil for `exists: false`, which is a property of the field.
    static func matcher(_ item: PatternJSON) throws -> Matcher? {
        switch item {
        case .string(let text):
            if let address = IPAddress.parse(text) { return .address(address) }
            return .string(text)
        case .number(let text):
            // The text matters only for a number that cannot be compared (an event number whose text
            // equals a comparable number's text is comparable too), so 1 and 1.0 compile alike.
            let value = PatternNumber.comparable(text)
            return .number(value: value, text: value == nil ? text : "")
        case .bool(let flag): return .bool(flag)
        case .null: return .null
        case .array:
            throw problem("a matcher is a literal (string, number, true, false, null) or an object with one operator, not a list")
        case .object(let members):
            guard members.count == 1, let (name, operand) = members.first else {
                throw problem("a matcher object has exactly one operator, not \(members.count)")
            }
            return try self.operator(name, operand)
        }
    }

    private static func text(_ name: String, _ operand: PatternJSON) throws -> String {
        guard case .string(let text) = operand else { throw problem("'\(name)' takes a string, not \(operand.kind)") }
        return text
    }

    private static func `operator`(_ name: String, _ operand: PatternJSON) throws -> Matcher? {
        switch name {
        case "prefix", "suffix":
            if case .object(let inner) = operand {
                guard inner.count == 1, let (innerName, innerOperand) = inner.first else {
                    throw problem("'\(name)' takes a string or {\"equals-ignore-case\": \"…\"}")
                }
                guard innerName == "equals-ignore-case" else {
                    throw problem("unsupported: '\(name)' with '\(innerName)' (only {\"equals-ignore-case\": \"…\"} may be nested in '\(name)')")
                }
                guard case .string(let text) = innerOperand else {
                    throw problem("'\(name)' with 'equals-ignore-case' takes a string, not \(innerOperand.kind)")
                }
                return name == "prefix" ? .prefixIgnoringCase(FoldedText(text)) : .suffixIgnoringCase(FoldedText(text))
            }
            guard case .string(let text) = operand else {
                throw problem("'\(name)' takes a string or {\"equals-ignore-case\": \"…\"}, not \(operand.kind)")
            }
            return name == "prefix" ? .prefix(Array(text.utf8)) : .suffix(Array(text.utf8))
        case "equals-ignore-case":
            return .equalsIgnoringCase(FoldedText(try text(name, operand)))
        case "wildcard":
            switch Wildcard.parse(try text(name, operand)) {
            case .success(let wildcard): return .wildcard(wildcard)
            case .failure(let error): throw problem("'wildcard' \(error.problem)")
            }
        case "exists":
            guard case .bool(let flag) = operand else { throw problem("'exists' takes true or false, not \(operand.kind)") }
            return flag ? .exists : nil
        case "cidr":
            return .cidr(try cidr(try text(name, operand)))
        case "numeric":
            return try numeric(operand)
        case "anything-but":
            return try anythingBut(operand)
        case "exactly":
            throw problem("unsupported operator 'exactly' (an event-ruler extension EventBridge does not document); use a string literal")
        default:
            throw problem("unsupported operator '\(name)' (EventBridge's are \(operators))")
        }
    }

    private static func cidr(_ text: String) throws -> IPRange {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw problem("'cidr' takes an address, one '/' and the mask bits, such as \"10.0.0.0/24\"") }
        guard let address = IPAddress.parse(String(parts[0])) else {
            throw problem("'cidr' needs an IPv4 or IPv6 address before '/', not '\(parts[0])'")
        }
        guard !parts[1].isEmpty, parts[1].count <= 4, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let bits = Int(parts[1])
        else { throw problem("'cidr' mask bits must be a whole number, not '\(parts[1])'") }
        // event-ruler's CIDR.cidr refuses /32 for IPv4 and /128 for IPv6 (a single address is a literal).
        if address.count == 4, bits > 31 { throw problem("'cidr' IPv4 mask bits must be below 32, not \(bits)") }
        if address.count == 16, bits > 127 { throw problem("'cidr' IPv6 mask bits must be below 128, not \(bits)") }
        return IPRange(address: address, maskBits: bits)
    }

    private static func comparable(_ text: String, for what: String) throws -> Double {
        guard let value = PatternNumber.comparable(text) else {
            throw problem("\(what) cannot compare \(text): a number must be finite and have no more digits than a double holds")
        }
        return value
    }

    private static func numeric(_ operand: PatternJSON) throws -> Matcher {
        let usage = "'numeric' takes an operator and a number, or '>'/'>=' a number '<'/'<=' a number, such as [\">\", 0, \"<=\", 100]"
        guard case .array(let list) = operand else { throw problem(usage + ", not \(operand.kind)") }
        guard list.count >= 2 else { throw problem(usage) }
        func symbol(_ index: Int) throws -> String {
            guard case .string(let symbol) = list[index], ["=", "<", "<=", ">", ">="].contains(symbol) else {
                throw problem("'numeric' operator must be one of < <= = >= >, not \(describe(list[index]))")
            }
            return symbol
        }
        func bound(_ index: Int, after symbol: String) throws -> Double {
            guard case .number(let text) = list[index] else {
                throw problem("'numeric' bound after '\(symbol)' must be a number, not \(list[index].kind)")
            }
            return try comparable(text, for: "'numeric'")
        }
        let first = try symbol(0)
        let a = try bound(1, after: first)
        switch first {
        case "=", "<", "<=":
            guard list.count == 2 else {
                throw problem("'numeric' takes nothing after \"\(first)\" and its number (a range starts with '>' or '>=')")
            }
            if first == "=" { return .numeric(lower: a, lowerInclusive: true, upper: a, upperInclusive: true) }
            return .numeric(lower: nil, lowerInclusive: false, upper: a, upperInclusive: first == "<=")
        default:
            if list.count == 2 { return .numeric(lower: a, lowerInclusive: first == ">=", upper: nil, upperInclusive: false) }
            guard list.count == 4 else { throw problem("'numeric' takes at most two operators and two numbers") }
            let second = try symbol(2)
            guard second == "<" || second == "<=" else {
                throw problem("'numeric' range after '\(first)' must close with '<' or '<=', not '\(second)'")
            }
            let b = try bound(3, after: second)
            guard a < b else { throw problem("'numeric' range is empty: its lower bound \(describe(list[1])) must be below its upper bound \(describe(list[3]))") }
            return .numeric(lower: a, lowerInclusive: first == ">=", upper: b, upperInclusive: second == "<=")
        }
    }

    private static func describe(_ value: PatternJSON) -> String {
        switch value {
        case .string(let text): return "'\(text)'"
        case .number(let text): return text
        default: return value.kind
        }
    }

    private static func anythingBut(_ operand: PatternJSON) throws -> Matcher {
        switch operand {
        case .string(let text): return .anythingButStrings([text])
        case .number(let text): return .anythingButNumbers([try comparable(text, for: "'anything-but'")])
        case .array(let list):
            var strings: [String] = [], numbers: [Double] = []
            for item in list {
                switch item {
                case .string(let text): strings.append(text)
                case .number(let text): numbers.append(try comparable(text, for: "'anything-but'"))
                default: throw problem("'anything-but' lists strings or numbers, not \(item.kind)")
                }
            }
            guard strings.isEmpty != numbers.isEmpty else {
                throw problem(list.isEmpty ? "'anything-but' needs at least one value" : "'anything-but' lists only strings or only numbers, not both")
            }
            return strings.isEmpty ? .anythingButNumbers(numbers) : .anythingButStrings(strings)
        case .object(let members):
            guard members.count == 1, let (name, inner) = members.first else {
                throw problem("'anything-but' takes one of prefix, suffix, equals-ignore-case or wildcard, not \(members.count) operators")
            }
            guard ["prefix", "suffix", "equals-ignore-case", "wildcard"].contains(name) else {
                throw problem("unsupported: 'anything-but' with '\(name)' (it takes a value, a list, or one of prefix, suffix, equals-ignore-case, wildcard)")
            }
            var texts: [String] = []
            switch inner {
            case .string(let text): texts = [text]
            case .array(let list):
                for item in list {
                    guard case .string(let text) = item else {
                        throw problem("'anything-but' with '\(name)' takes strings, not \(item.kind)")
                    }
                    texts.append(text)
                }
            default: throw problem("'anything-but' with '\(name)' takes a string or a list of strings, not \(inner.kind)")
            }
            switch name {
            case "prefix", "suffix":
                if texts.contains("") { throw problem("'anything-but' with '\(name)' cannot take an empty string") }
                let bytes = texts.map { Array($0.utf8) }
                return name == "prefix" ? .anythingButPrefixes(bytes) : .anythingButSuffixes(bytes)
            case "equals-ignore-case":
                return .anythingButIgnoringCase(texts.map(FoldedText.init))
            default:
                return .anythingButWildcards(try texts.map { text in
                    switch Wildcard.parse(text) {
                    case .success(let wildcard): return wildcard
                    case .failure(let error): throw problem("'anything-but' with 'wildcard' \(error.problem)")
                    }
                })
            }
        default:
            throw problem("'anything-but' takes a string, a number, a list of them, or an object such as {\"prefix\": \"…\"}, not \(operand.kind)")
        }
    }
}
