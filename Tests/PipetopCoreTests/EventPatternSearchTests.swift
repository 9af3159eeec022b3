import Foundation
import Testing
@testable import PipetopCore

/// The full search (values inside arrays of objects, with array consistency) on events built to
/// make a backtracking walk take n^k steps. Work is counted in steps, never timed: the reference
/// walk (event-ruler's walk as written) runs out of a budget of `referenceBudget` steps, the search
/// answers within `searchBound`, and both agree where the reference can finish.
@Suite struct EventPatternSearchTests {
    static let referenceBudget = 5_000_000
    static let searchBound = 200_000

    func event(_ data: Any) throws -> (CloudEvent, Any?) {
        let event = CloudEvent(id: "e", source: "/s", type: "t", data: try Payload.json(object: data))
        return (event, event.data?.jsonObject())
    }

    /// `matches`, the search's answer and steps, and the reference's answer within its budget.
    func run(_ json: String, _ data: Any, label: String) throws -> (matches: Bool, search: Bool, steps: Int, reference: Bool?, referenceSteps: Int) {
        let pattern = try EventPattern(json: json)
        let (event, payload) = try event(data)
        var steps = 0
        let search = pattern.matchesBySearch(event, data: payload, steps: &steps)
        var referenceSteps = 0
        let reference = pattern.matchesByReferenceWalk(event, data: payload, steps: &referenceSteps, budget: Self.referenceBudget)
        let matches = pattern.matches(event, data: payload)
        print("search \(label): \(search) in \(steps) steps; reference walk: "
              + (reference.map { "\($0) in \(referenceSteps) steps" } ?? "gave up after \(referenceSteps) steps"))
        return (matches, search, steps, reference, referenceSteps)
    }

    static func objects(_ count: Int, _ make: (Int) -> [String: Any]) -> [[String: Any]] { (0..<count).map(make) }

    /// Three fields in three unrelated arrays of 1,000 objects each (every element matches), and a
    /// fourth array where `x` and `y` never sit in one element: 10^9 combinations for the walk.
    @Test func independentArraysAndAnUnsatisfiableField() throws {
        let n = 1000
        let pattern = #"{"data": {"p": {"x": ["1"]}, "q": {"x": ["1"]}, "r": {"x": ["1"]}, "s": {"x": ["1"], "y": ["2"]}}}"#
        let data: [String: Any] = [
            "p": Self.objects(n) { _ in ["x": "1"] }, "q": Self.objects(n) { _ in ["x": "1"] },
            "r": Self.objects(n) { _ in ["x": "1"] },
            "s": Self.objects(n) { $0 % 2 == 0 ? ["x": "1", "y": "0"] : ["x": "0", "y": "2"] },
        ]
        let result = try run(pattern, data, label: "independent arrays, unsatisfiable")
        #expect(!result.search && !result.matches)
        #expect(result.reference == nil, "the reference walk blows up here; if it no longer does, the test lost its point")
        #expect(result.steps < Self.searchBound)

        // The same with one element of `s` that satisfies both: now it matches.
        var satisfiable = data
        var s = data["s"] as! [[String: Any]]
        s[n - 1] = ["x": "1", "y": "2"]
        satisfiable["s"] = s
        let yes = try run(pattern, satisfiable, label: "independent arrays, satisfiable")
        #expect(yes.search && yes.matches && yes.reference == true)
        #expect(yes.steps < Self.searchBound)
    }

    /// As above with `exists: false` last: the walk judges absence after every combination of the
    /// fields before it; here `s.x` always has a value in `s`, so the pattern fails.
    @Test func independentArraysAndAnAbsenceThatFails() throws {
        let n = 1000
        let pattern = #"{"data": {"p": {"x": ["1"]}, "q": {"x": ["1"]}, "r": {"x": ["1"]}, "s": {"x": [{"exists": false}]}}}"#
        let data: [String: Any] = [
            "p": Self.objects(n) { _ in ["x": "1"] }, "q": Self.objects(n) { _ in ["x": "1"] },
            "r": Self.objects(n) { _ in ["x": "1"] }, "s": Self.objects(n) { _ in ["x": "0"] },
        ]
        let result = try run(pattern, data, label: "independent arrays, exists:false")
        #expect(!result.search && !result.matches)
        #expect(result.reference == nil)
        #expect(result.steps < Self.searchBound)
    }

    /// Fields in distinct arrays (one of them an array of arrays) inside the elements of one outer
    /// array of 1,000 objects, and a field of the outer elements that matches only where the others
    /// cannot: the walk tries every outer element x every pair of inner values.
    @Test func nestedArraysOfArrays() throws {
        let n = 1000, inner = 10
        let pattern = #"{"data": {"g": {"a": {"v": ["1"]}, "b": {"v": ["1"]}, "k": ["1"]}}}"#
        let data: [String: Any] = [
            "g": Self.objects(n) { index in
                [
                    "a": Self.objects(inner) { _ in ["v": index == 0 ? "0" : "1"] },
                    "b": (0..<inner).map { _ in Self.objects(inner) { _ in ["v": "1"] } },
                    "k": index == 0 ? "1" : "0",
                ]
            },
        ]
        let result = try run(pattern, data, label: "nested arrays of arrays, unsatisfiable")
        #expect(!result.search && !result.matches)
        #expect(result.reference == nil)
        #expect(result.steps < 2 * Self.searchBound)

        // Satisfiable in the last outer element only.
        var last = data
        var g = data["g"] as! [[String: Any]]
        g[n - 1]["k"] = "1"
        last["g"] = g
        let yes = try run(pattern, last, label: "nested arrays of arrays, satisfiable")
        #expect(yes.search && yes.matches)
        #expect(yes.steps < 2 * Self.searchBound)
    }

    /// Deeper: k fields each under its own array inside the same element of an outer array of
    /// arrays; the last field fails in every element.
    @Test func manyFieldsUnderOneOuterArray() throws {
        let outer = 100, inner = 20
        let fields = (0..<6).map { "f\($0)" }
        let pattern = #"{"data": {"g": {"# + fields.map { "\"\($0)\": {\"v\": [1]}" }.joined(separator: ",")
            + #", "z": {"w": [{"numeric": [">", 5]}], "u": ["no"]}}}}"#
        var element: [String: Any] = [:]
        for field in fields { element[field] = Self.objects(inner) { _ in ["v": 1] } }
        element["z"] = Self.objects(inner) { ["w": $0, "u": $0 > 5 ? "yes" : "no"] }
        let data: [String: Any] = ["g": (0..<outer).map { _ in [element, element] }]
        let result = try run(pattern, data, label: "six inner arrays per outer element")
        #expect(!result.search && !result.matches)
        #expect(result.reference == nil)
        #expect(result.steps < Self.searchBound)
    }

    /// The case the bound in `search` leaves at a higher degree: with an `exists: false` the fields
    /// keep event-ruler's dotted order, and a key with a dot (`"m.b"`) interleaves two subtrees of
    /// paths (`m.a`, `m.b.c`, `m.b.d`, `m.b.e`, `m.x`), so a state holds one chain in each: n x n/2
    /// states here, against the walk's n x n/2 x n. Polynomial with a degree set by the pattern,
    /// not by the event.
    @Test func interleavedSubtreesAreQuadratic() throws {
        let pattern = #"{"data": {"m": {"a": ["1"], "b": {"e": ["1"]}, "x": ["1"]}, "m.b": {"c": ["1"], "d": ["1"]}, "z": [{"exists": false}]}}"#
        func data(_ n: Int) -> [String: Any] {
            ["m": Self.objects(n) { _ in ["a": "1", "b": [["e": "1"]], "x": "1"] },
             "m.b": Self.objects(n) { $0 % 2 == 0 ? ["c": "1", "d": "0"] : ["c": "0", "d": "1"] }]
        }
        for n in [2, 5, 9] {
            let small = try run(pattern, data(n), label: "interleaved subtrees n=\(n)")
            #expect(small.reference == small.search && small.matches == small.search)
        }
        let n = 200
        let result = try run(pattern, data(n), label: "interleaved subtrees n=\(n)")
        #expect(!result.search && !result.matches)
        #expect(result.steps < 10 * n * n)
    }

    /// Search and reference agree on small versions of the cases above, where the reference finishes.
    @Test func smallCasesAgreeWithTheReference() throws {
        for n in [1, 2, 3, 5] {
            let data: [String: Any] = [
                "p": Self.objects(n) { ["x": $0 % 2 == 0 ? "1" : "0"] }, "q": Self.objects(n) { _ in ["x": "1"] },
                "s": Self.objects(n) { $0 == n - 1 ? ["x": "1", "y": "2"] : ["x": "1"] },
                "g": Self.objects(n) { index in ["a": Self.objects(n) { ["v": "\(($0 + index) % 2)"] }, "k": "\(index % 2)"] },
            ]
            for pattern in [
                #"{"data": {"p": {"x": ["1"]}, "q": {"x": ["1"]}, "s": {"x": ["1"], "y": ["2"]}}}"#,
                #"{"data": {"p": {"x": ["1"]}, "s": {"x": ["1"], "y": [{"exists": false}]}}}"#,
                #"{"data": {"g": {"a": {"v": ["1"]}, "k": ["1"]}}}"#,
                #"{"data": {"g": {"a": {"v": ["0"]}, "k": [{"exists": false}]}}}"#,
                #"{"data": {"g": {"a": {"v": [{"exists": false}]}, "k": ["1"]}}}"#,
            ] {
                let result = try run(pattern, data, label: "n=\(n)")
                #expect(result.reference == result.search, "\(pattern) n=\(n)")
                #expect(result.matches == result.search, "\(pattern) n=\(n)")
            }
        }
    }
}
