/// One measured figure, its target, and whether the target was met.
struct Figure {
    enum Comparison { case atLeast, atMost, below }

    var name: String
    var value: Double
    var unit: String
    var target: Double?
    var comparison: Comparison
    /// Extra facts a reader needs (events, percentiles, store size).
    var note: String

    init(_ name: String, value: Double, unit: String, target: Double? = nil, _ comparison: Comparison = .atLeast, note: String = "") {
        self.name = name
        self.value = value
        self.unit = unit
        self.target = target
        self.comparison = comparison
        self.note = note
    }

    var met: Bool? {
        guard let target else { return nil }
        switch comparison {
        case .atLeast: return value >= target
        case .atMost: return value <= target
        case .below: return value < target
        }
    }

    var targetText: String {
        guard let target else { return "" }
        let symbol = comparison == .atLeast ? "≥" : comparison == .atMost ? "≤" : "<"
        return "\(symbol) \(Self.format(target)) \(unit)"
    }

    var valueText: String { "\(Self.format(value)) \(unit)" }

    static func format(_ value: Double) -> String {
        if value >= 1000 { return grouped(Int(value.rounded())) }
        if value >= 100 { return String(format: "%.0f", value) }
        if value >= 10 { return String(format: "%.1f", value) }
        return String(format: "%.3g", value)
    }

    /// 1234567 → "1,234,567".
    static func grouped(_ number: Int) -> String {
        var text = String(number)
        var index = text.count - 3
        while index > (number < 0 ? 1 : 0) {
            text.insert(",", at: text.index(text.startIndex, offsetBy: index))
            index -= 3
        }
        return text
    }
}
