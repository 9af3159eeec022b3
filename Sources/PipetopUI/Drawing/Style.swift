/// A colour as a theme names it. The terminal backend maps it to what the terminal can show
/// (`resolved(for:)`): truecolor → 256 → 16 → 8 → none.
public enum Color: Hashable, Sendable, CustomStringConvertible {
    /// The terminal's own foreground or background.
    case `default`
    /// One of the 16 basic colours (0-7 normal, 8-15 bright).
    case basic(UInt8)
    /// An xterm 256-colour index.
    case indexed(UInt8)
    case rgb(UInt8, UInt8, UInt8)

    public static let basicNames = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"]

    public var description: String {
        switch self {
        case .default: return "default"
        case .basic(let n): return n < 8 ? Self.basicNames[Int(n)] : "bright-" + Self.basicNames[Int(n - 8)]
        case .indexed(let n): return "\(n)"
        case .rgb(let r, let g, let b):
            let hex = [r, g, b].map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            return "#" + hex
        }
    }

    /// The RGB value of a colour, with the xterm defaults for the basic and indexed palettes.
    public var rgbValue: (Int, Int, Int)? {
        switch self {
        case .default: return nil
        case .rgb(let r, let g, let b): return (Int(r), Int(g), Int(b))
        case .basic(let n): return Color.xtermRGB(Int(n))
        case .indexed(let n): return Color.xtermRGB(Int(n))
        }
    }

    static let basicRGB: [(Int, Int, Int)] = [
        (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
        (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
    ]
    static let cubeLevels = [0, 95, 135, 175, 215, 255]

    static func xtermRGB(_ index: Int) -> (Int, Int, Int) {
        if index < 16 { return basicRGB[index] }
        if index < 232 {
            let i = index - 16
            return (cubeLevels[i / 36], cubeLevels[(i / 6) % 6], cubeLevels[i % 6])
        }
        let gray = 8 + (index - 232) * 10
        return (gray, gray, gray)
    }

    static func distance(_ a: (Int, Int, Int), _ b: (Int, Int, Int)) -> Int {
        // Weighted for the eye (a cheap "redmean" approximation).
        let rm = (a.0 + b.0) / 2
        let dr = a.0 - b.0, dg = a.1 - b.1, db = a.2 - b.2
        return (((512 + rm) * dr * dr) >> 8) + 4 * dg * dg + (((767 - rm) * db * db) >> 8)
    }

    static func nearest(_ rgb: (Int, Int, Int), among indices: Range<Int>) -> UInt8 {
        var best = indices.lowerBound, bestDistance = Int.max
        for index in indices {
            let d = distance(rgb, xtermRGB(index))
            if d < bestDistance { best = index; bestDistance = d }
        }
        return UInt8(best)
    }

    /// This colour as a terminal of `depth` can show it (nil: no colour, use attributes only).
    public func resolved(for depth: ColorDepth) -> Color? {
        switch (depth, self) {
        case (.monochrome, _): return nil
        case (_, .default): return .default
        case (.truecolor, _): return self
        case (.colors256, .rgb): return .indexed(Color.nearest(rgbValue!, among: 16..<256))
        case (.colors256, _): return self
        case (.colors16, .basic): return self
        case (.colors16, _): return .basic(Color.nearest(rgbValue!, among: 0..<16))
        case (.colors8, .basic(let n)): return .basic(n % 8)
        case (.colors8, _): return .basic(Color.nearest(rgbValue!, among: 0..<8))
        }
    }
}

/// What the terminal can show, best first.
public enum ColorDepth: String, Sendable, CaseIterable, Comparable {
    case truecolor, colors256 = "256", colors16 = "16", colors8 = "8", monochrome = "mono"

    public static func < (a: ColorDepth, b: ColorDepth) -> Bool {
        allCases.firstIndex(of: a)! > allCases.firstIndex(of: b)!
    }
}

public struct Attributes: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let bold = Attributes(rawValue: 1)
    public static let dim = Attributes(rawValue: 2)
    public static let italic = Attributes(rawValue: 4)
    public static let underline = Attributes(rawValue: 8)
    public static let reverse = Attributes(rawValue: 16)

    static let names: [(String, Attributes)] = [("bold", .bold), ("dim", .dim), ("italic", .italic), ("underline", .underline), ("reverse", .reverse)]
}

/// How one cell looks.
public struct Style: Hashable, Sendable, CustomStringConvertible {
    public var fg: Color
    public var bg: Color
    public var attributes: Attributes

    public init(fg: Color = .default, bg: Color = .default, attributes: Attributes = []) {
        self.fg = fg
        self.bg = bg
        self.attributes = attributes
    }

    public static let plain = Style()

    public func with(_ extra: Attributes) -> Style {
        var copy = self
        copy.attributes.formUnion(extra)
        return copy
    }


    /// The style as one number (fg in bits 0–25, bg in 26–51, attributes in 52–59): what a grid
    /// cell stores, so that cells compare as plain words. `Style(packed:)` reads it back.
    var packed: UInt64 { Self.pack(fg) | Self.pack(bg) << 26 | UInt64(attributes.rawValue) << 52 }
    static let packedMask: UInt64 = (1 << 60) - 1

    init(packed: UInt64) {
        self.init(fg: Self.unpack(packed & 0x3FF_FFFF), bg: Self.unpack(packed >> 26 & 0x3FF_FFFF),
                  attributes: Attributes(rawValue: UInt8(truncatingIfNeeded: packed >> 52)))
    }

    private static func pack(_ color: Color) -> UInt64 {
        switch color {
        case .default: return 0
        case .basic(let n): return 1 | UInt64(n) << 2
        case .indexed(let n): return 2 | UInt64(n) << 2
        case .rgb(let r, let g, let b): return 3 | UInt64(r) << 2 | UInt64(g) << 10 | UInt64(b) << 18
        }
    }

    private static func unpack(_ bits: UInt64) -> Color {
        let n = UInt8(truncatingIfNeeded: bits >> 2)
        switch bits & 3 {
        case 0: return .default
        case 1: return .basic(n)
        case 2: return .indexed(n)
        default: return .rgb(n, UInt8(truncatingIfNeeded: bits >> 10), UInt8(truncatingIfNeeded: bits >> 18))
        }
    }

    public var description: String {
        var parts = ["fg=\(fg)", "bg=\(bg)"]
        for (name, attribute) in Attributes.names where attributes.contains(attribute) { parts.append(name) }
        return parts.joined(separator: " ")
    }

    /// This style for a terminal of `depth`. Without colour, a style that stood out by its
    /// background (selection, badges, bars) is shown reversed so it still stands out.
    public func resolved(for depth: ColorDepth, base: Style) -> (fg: Color?, bg: Color?, attributes: Attributes) {
        if depth == .monochrome {
            var attributes = self.attributes
            if bg != .default && bg != base.bg { attributes.formSymmetricDifference(.reverse) }
            return (nil, nil, attributes)
        }
        return (fg.resolved(for: depth), bg.resolved(for: depth), attributes)
    }
}
