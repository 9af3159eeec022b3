/// The JSON of a pattern, read by the strict scanner the envelopes use (`JSONScanner.tree`) rather
/// than `JSONSerialization`: a pattern needs what that API loses, namely the order of an object's
/// keys and its repeated keys (a later key replaces an earlier one, as in event-ruler's compiler,
/// which reads with Jackson), and the text of each number (event-ruler decides from the text
/// whether a number can be compared).
typealias PatternJSON = JSONValue

extension JSONValue {
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
    static let patternMaxDepth = 64

    static func parse(_ text: String) throws -> PatternJSON {
        do {
            return try JSONScanner.tree(Array(text.utf8), maxDepth: patternMaxDepth)
        } catch {
            throw PatternError(path: "", problem: "the pattern is not valid JSON: \(error)")
        }
    }
}
