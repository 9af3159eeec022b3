import Foundation
import Testing
@testable import PipetopCore

/// A seeded, deterministic fuzz of the pattern parser and matcher: generated and mutated patterns
/// either parse or throw a `PatternError`; matching never traps; the per-field shortcut gives the
/// same answer as the full event-ruler walk; and a pattern that does not examine `data` gives the
/// same answer whether or not the payload was parsed.
@Suite struct EventPatternFuzzTests {
    static let keys = ["a", "b", "c", "data", "type", "source", "subject", "tenant", "$or", "x.y", "é", "prefix", "numeric", ""]
    static let strings = ["", "a", "A", "abc", "ABC", "ß", "SS", "é", "e\u{301}", "10.0.0.1", "::1", "2001:db8::1", "300.1.1.1",
                          "a*b", "*", "**", "a\\*", "a\\\\b", "\\", "t", "/s", "null", "true", "5", "日本", "😀", "İ", "1:2"]
    static let numbers = ["0", "-0", "1", "1.0", "1e0", "1E2", "-1.5e-3", "1e400", "-1e400", "1e-400", "0.30000000000000001",
                          "123456789012345678", "9007199254740993", "1.7976931348623157e308", "5e-324", "42", "-7"]
    static let operators = ["prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists", "cidr",
                            "prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists", "cidr",
                            "exactly", "regex", "$or", "", "=", ">"]
    static let cidrs = ["10.0.0.0/8", "10.0.0.0/32", "0.0.0.0/0", "2001:db8::/32", "::/0", "1.2.3.4/x", "/", "a/b/c", "10.0.0.0/"]

    static func quote(_ text: String) -> String { JSONText.quote(text) }

    static func scalar(_ random: inout SeededRandom) -> String {
        switch random.below(5) {
        case 0: return quote(random.pick(strings))
        case 1: return random.pick(numbers)
        case 2: return random.chance(50) ? "true" : "false"
        case 3: return "null"
        default: return quote(random.pick(strings) + random.pick(strings))
        }
    }

    static func anyJSON(_ random: inout SeededRandom, depth: Int) -> String {
        if depth <= 0 || random.chance(50) { return scalar(&random) }
        if random.chance(50) {
            return "[" + (0..<random.below(4)).map { _ in anyJSON(&random, depth: depth - 1) }.joined(separator: ",") + "]"
        }
        return "{" + (0..<random.below(3)).map { _ in quote(random.pick(keys)) + ":" + anyJSON(&random, depth: depth - 1) }
            .joined(separator: ",") + "}"
    }

    static let validMatchers = [
        #""a""#, #""abc""#, #""t""#, #""/s""#, "1", "42", "-0", "1.0", "true", "null", #""10.0.0.1""#, #""ß""#,
        #"{"prefix": "a"}"#, #"{"prefix": ""}"#, #"{"suffix": "c"}"#, #"{"prefix": {"equals-ignore-case": "A"}}"#,
        #"{"suffix": {"equals-ignore-case": "BC"}}"#, #"{"equals-ignore-case": "ABC"}"#, #"{"wildcard": "*b*"}"#,
        #"{"wildcard": "a*"}"#, #"{"wildcard": "a\\*"}"#, #"{"anything-but": "a"}"#, #"{"anything-but": [1, 42]}"#,
        #"{"anything-but": {"prefix": ["a", "t"]}}"#, #"{"anything-but": {"suffix": "c"}}"#,
        #"{"anything-but": {"equals-ignore-case": ["ABC", "T"]}}"#, #"{"anything-but": {"wildcard": "*a*"}}"#,
        #"{"numeric": [">", 0]}"#, #"{"numeric": ["<", 42]}"#, #"{"numeric": [">=", -7, "<=", 42]}"#, #"{"numeric": ["=", 1e0]}"#,
        #"{"exists": true}"#, #"{"exists": false}"#, #"{"cidr": "10.0.0.0/8"}"#, #"{"cidr": "2001:db8::/32"}"#,
    ]
    static let validKeys = ["a", "b", "c", "data", "type", "subject", "tenant", "é"]

    static func matcher(_ random: inout SeededRandom) -> String {
        if valid { return random.pick(validMatchers) }
        if random.chance(45) { return random.chance(70) ? quote(random.pick(strings)) : scalar(&random) }
        let name = random.pick(operators)
        var operand: String
        switch name {
        case "numeric":
            let ops = ["=", "<", "<=", ">", ">=", "~"]
            operand = "[" + (0..<random.below(5)).map { index in
                index % 2 == 0 && !random.chance(10) ? quote(random.pick(ops)) : random.pick(numbers)
            }.joined(separator: ",") + "]"
        case "cidr": operand = quote(random.pick(cidrs))
        case "exists": operand = random.chance(80) ? (random.chance(50) ? "true" : "false") : scalar(&random)
        case "anything-but":
            switch random.below(4) {
            case 0: operand = scalar(&random)
            case 1: operand = "[" + (0..<random.below(4)).map { _ in scalar(&random) }.joined(separator: ",") + "]"
            default:
                let inner = random.pick(["prefix", "suffix", "equals-ignore-case", "wildcard", "numeric"])
                let value = random.chance(50) ? quote(random.pick(strings))
                    : "[" + (0..<random.below(3)).map { _ in quote(random.pick(strings)) }.joined(separator: ",") + "]"
                operand = "{" + quote(inner) + ":" + value + "}"
            }
        case "prefix", "suffix":
            operand = random.chance(70) ? quote(random.pick(strings)) : "{\"equals-ignore-case\":" + scalar(&random) + "}"
        default:
            operand = random.chance(80) ? quote(random.pick(strings)) : anyJSON(&random, depth: 2)
        }
        var object = "{" + quote(name) + ":" + operand
        if random.chance(5) { object += ",\"suffix\":\"x\"" }
        return object + "}"
    }

    /// Whether the generator sticks to valid constructs (half the rounds), so that many patterns parse.
    nonisolated(unsafe) static var valid = false

    static func fields(_ random: inout SeededRandom, depth: Int) -> String {
        let count = 1 + random.below(3)
        return "{" + (0..<count).map { _ -> String in
            var key = random.pick(valid ? validKeys : keys)
            if valid && depth > 0 && random.chance(15) { key = "$or" }
            if key == "$or" && depth > 0 {
                let branches = (0..<(random.chance(10) ? 1 : 2 + random.below(2))).map { _ in fields(&random, depth: depth - 1) }
                return "\"$or\":[" + branches.joined(separator: ",") + "]"
            }
            if depth > 0 && random.chance(40) { return quote(key) + ":" + fields(&random, depth: depth - 1) }
            if !valid && random.chance(2) { return quote(key) + ":" + scalar(&random) }
            return quote(key) + ":[" + (0..<(!valid && random.chance(2) ? 0 : 1 + random.below(3))).map { _ in matcher(&random) }
                .joined(separator: ",") + "]"
        }.joined(separator: ",") + "}"
    }

    static func mutate(_ text: String, _ random: inout SeededRandom) -> String {
        var scalars = Array(text.unicodeScalars)
        let alphabet = Array("{}[]\":,\\*-.eE01 \u{0}a😀".unicodeScalars)
        for _ in 0..<(1 + random.below(3)) {
            switch random.below(4) {
            case 0 where !scalars.isEmpty: scalars.remove(at: random.below(scalars.count))
            case 1: scalars.insert(random.pick(alphabet), at: random.below(scalars.count + 1))
            case 2 where !scalars.isEmpty: scalars.removeSubrange(random.below(scalars.count)...)
            default:
                if !scalars.isEmpty {
                    let from = random.below(scalars.count)
                    let slice = scalars[from..<min(scalars.count, from + random.below(12))]
                    scalars.insert(contentsOf: slice, at: random.below(scalars.count + 1))
                }
            }
        }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars)
        return String(out)
    }

    static func event(_ random: inout SeededRandom) -> CloudEvent {
        let payload = random.chance(80) ? fieldsEvent(&random, depth: 4) : anyJSON(&random, depth: 3)
        return CloudEvent(
            id: "e", source: random.pick(["/s", "a", "10.0.0.1"]), type: random.pick(["t", "a", "ABC"]), time: nil,
            subject: random.chance(50) ? random.pick(strings) : nil, data: .json(Data(payload.utf8)),
            extensions: random.chance(50)
                ? ["tenant": random.pick([.string(random.pick(strings)), .integer(Int32(random.below(11)) - 5), .boolean(random.chance(50))])]
                : [:])
    }

    static func fieldsEvent(_ random: inout SeededRandom, depth: Int) -> String {
        "{" + (0..<(1 + random.below(4))).map { _ -> String in
            let key = quote(random.pick(keys))
            guard depth > 0 else { return key + ":" + scalar(&random) }
            switch random.below(4) {
            case 0: return key + ":" + fieldsEvent(&random, depth: depth - 1)
            case 1:
                return key + ":[" + (0..<random.below(4)).map { _ in
                    random.chance(60) ? fieldsEvent(&random, depth: depth - 1)
                        : random.chance(50) ? "[" + fieldsEvent(&random, depth: depth - 1) + "," + scalar(&random) + "]" : scalar(&random)
                }.joined(separator: ",") + "]"
            default: return key + ":" + scalar(&random)
            }
        }.joined(separator: ",") + "}"
    }

    @Test func patternsParseOrExplainAndMatchingNeverTraps() throws {
        var random = SeededRandom(seed: 0x5EED_2024)
        var parsed = 0, refused = 0, matched = 0
        let events = (0..<64).map { _ in Self.event(&random) }
        let payloads = events.map { $0.data?.jsonObject() }
        for round in 0..<4000 {
            Self.valid = round % 2 == 0
            var text = Self.fields(&random, depth: 3)
            if round % 3 == 0 { text = Self.mutate(text, &random) }
            let pattern: EventPattern
            do {
                pattern = try EventPattern(json: text)
                parsed += 1
            } catch let error as PatternError {
                refused += 1
                #expect(!error.description.isEmpty)
                continue
            } catch {
                Issue.record("\(text) threw \(error), not a PatternError")
                continue
            }
            for _ in 0..<4 {
                let index = random.below(events.count)
                let result = pattern.matches(events[index], data: payloads[index])
                if result { matched += 1 }
                #expect(result == pattern.matchesBySearch(events[index], data: payloads[index]), "\(text)")
                #expect(result == pattern.matchesByReferenceWalk(events[index], data: payloads[index]), "\(text)")
                if !pattern.examinesData {
                    #expect(result == pattern.matches(events[index], data: nil), "\(text)")
                }
            }
        }
        // The generator must exercise both outcomes, and some matches.
        print("fuzz: \(parsed) patterns parsed, \(refused) refused, \(matched) matches")
        #expect(parsed > 500)
        #expect(refused > 500)
        #expect(matched > 100)
    }

    // MARK: Arrays of objects: the search against the reference walk

    /// Keys for the array fuzz: few, so that fields share paths and arrays; with a dot and a
    /// character below "." so that dotted order and key order differ.
    static let arrayKeys = ["a", "b", "c", "a.b", "a!"]
    static let arrayMatchers = [#""1""#, #""2""#, "1", "2", #"{"exists": true}"#, #"{"exists": false}"#,
                                #"{"anything-but": "1"}"#, #"{"prefix": "1"}"#, #"{"numeric": [">", 1]}"#, "null"]

    static func arrayPattern(_ random: inout SeededRandom, depth: Int) -> String {
        "{" + (0..<(1 + random.below(3))).map { _ -> String in
            if depth > 0 && random.chance(12) {
                return "\"$or\":[" + (0..<2).map { _ in arrayPattern(&random, depth: depth - 1) }.joined(separator: ",") + "]"
            }
            let key = quote(random.pick(arrayKeys))
            if depth > 0 && random.chance(55) { return key + ":" + arrayPattern(&random, depth: depth - 1) }
            let matchers = (0..<(1 + random.below(2))).map { _ in random.pick(arrayMatchers) }
            return key + ":[" + matchers.joined(separator: ",") + "]"
        }.joined(separator: ",") + "}"
    }

    static func arrayValue(_ random: inout SeededRandom, depth: Int) -> String {
        let scalars = [#""1""#, #""2""#, "1", "2", "3", "null", "true"]
        if depth <= 0 || random.chance(15) { return random.pick(scalars) }
        switch random.below(4) {
        case 0, 1, 2:
            // An array of objects, of arrays, or mixed.
            return "[" + (0..<(random.chance(10) ? 0 : 1 + random.below(3))).map { _ -> String in
                switch random.below(6) {
                case 0: return random.pick(scalars)
                case 1: return "[" + (0..<random.below(3)).map { _ in arrayValue(&random, depth: depth - 1) }.joined(separator: ",") + "]"
                default: return arrayObject(&random, depth: depth - 1)
                }
            }.joined(separator: ",") + "]"
        default: return arrayObject(&random, depth: depth - 1)
        }
    }

    static func arrayObject(_ random: inout SeededRandom, depth: Int) -> String {
        var keys = arrayKeys
        keys.shuffle(using: &random)
        return "{" + keys.prefix(2 + random.below(4)).map { quote($0) + ":" + arrayValue(&random, depth: depth) }.joined(separator: ",") + "}"
    }

    /// Random patterns (`exists: false`, `$or`, shared paths) on random events thick with arrays of
    /// objects and arrays of arrays: `search`, `matches` and the reference walk agree.
    @Test func searchAgreesWithTheReferenceWalkOnArrays() throws {
        var random = SeededRandom(seed: 0xA77A_5EA2)
        var matched = 0, searched = 0, steps = 0, referenceSteps = 0, walked = 0
        for _ in 0..<3000 {
            let text = "{\"data\":" + Self.arrayPattern(&random, depth: 2) + "}"
            guard let pattern = try? EventPattern(json: text) else { continue }
            for _ in 0..<6 {
                let body = Self.arrayObject(&random, depth: 3)
                let event = CloudEvent(id: "e", source: "/s", type: "t", data: .json(Data(body.utf8)))
                let payload = event.data?.jsonObject()
                let before = referenceSteps
                let reference = pattern.matchesByReferenceWalk(event, data: payload, steps: &referenceSteps)!
                if referenceSteps - before > 6 { walked += 1 }
                let search = pattern.matchesBySearch(event, data: payload, steps: &steps)
                #expect(search == reference, "\(text) on \(body)")
                #expect(pattern.matches(event, data: payload) == reference, "\(text) on \(body)")
                searched += 1
                if reference { matched += 1 }
            }
        }
        print("array fuzz: \(searched) searches, \(matched) matches, \(walked) walks of more than 6 steps; "
              + "steps: search \(steps), reference \(referenceSteps)")
        #expect(searched > 10_000)
        #expect(matched > searched / 20 && matched < searched * 19 / 20)
        #expect(walked > searched / 20)
    }

    @Test func arbitraryTextNeverTraps() {
        var random = SeededRandom(seed: 42)
        let alphabet = Array("{}[]\":,\\/*-+.eE0123456789 tfnrul$or\u{7F}é😀".unicodeScalars)
        for _ in 0..<3000 {
            var view = String.UnicodeScalarView()
            for _ in 0..<random.below(40) { view.append(random.pick(alphabet)) }
            do { _ = try EventPattern(json: String(view)) } catch { #expect(error is PatternError) }
        }
    }
}
