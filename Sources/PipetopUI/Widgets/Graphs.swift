/// Small charts drawn with block and braille characters.
public enum Sparkline {
    static let blocks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// The last `width` values as block characters scaled to `maximum` (default: their own
    /// maximum); each with its level 0...1 for a gradient. Zero shows as a space-like baseline.
    public static func glyphs(_ values: [Double], width: Int, maximum: Double? = nil) -> [(Character, Double)] {
        guard width > 0 else { return [] }
        let shown = values.suffix(width)
        let top = maximum ?? (shown.max() ?? 0)
        return shown.map { value in
            guard top > 0, value > 0 else { return (" ", 0) }
            let level = min(1, value / top)
            return (blocks[min(7, max(0, Int((level * 8).rounded(.up)) - 1))], level)
        }
    }

    public static func render(_ values: [Double], into grid: inout Grid, x: Int, y: Int, width: Int, gradient: (Double) -> Style, maximum: Double? = nil) {
        let glyphs = self.glyphs(values, width: width, maximum: maximum)
        var column = x + (width - glyphs.count)
        for (glyph, level) in glyphs {
            grid.put(String(glyph), x: column, y: y, style: gradient(level))
            column += 1
        }
    }
}

/// An area chart in braille dots: each cell is 2 samples wide and 4 dots high.
public enum BrailleGraph {
    // Dot bits by (column, row from the top) in a braille cell.
    static let bits: [[UInt32]] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]]

    /// Rows of braille text (top first) for `values` in a `width`×`height` area.
    public static func rows(_ values: [Double], width: Int, height: Int, maximum: Double? = nil) -> [String] {
        guard width > 0, height > 0 else { return [] }
        let samples = Array(values.suffix(width * 2))
        let padded = Array(repeating: 0.0, count: width * 2 - samples.count) + samples
        let top = maximum ?? (samples.max() ?? 0)
        let dotsHigh = height * 4
        let levels = padded.map { value -> Int in
            guard top > 0, value > 0 else { return 0 }
            return max(1, Int((min(1, value / top) * Double(dotsHigh)).rounded()))
        }
        var out: [String] = []
        for row in 0..<height {
            var line = ""
            for cell in 0..<width {
                var pattern: UInt32 = 0
                for side in 0..<2 {
                    let level = levels[cell * 2 + side]
                    for dot in 0..<4 {
                        let fromBottom = (height - 1 - row) * 4 + (3 - dot)
                        if fromBottom < level { pattern |= bits[side][dot] }
                    }
                }
                line.unicodeScalars.append(Unicode.Scalar(0x2800 + pattern)!)
            }
            out.append(line)
        }
        return out
    }

    public static func render(_ values: [Double], into grid: inout Grid, _ rect: Rect, gradient: (Double) -> Style, maximum: Double? = nil) {
        let lines = rows(values, width: rect.width, height: rect.height, maximum: maximum)
        for (index, line) in lines.enumerated() {
            let level = Double(rect.height - index) / Double(max(1, rect.height))
            grid.put(line, x: rect.x, y: rect.y + index, style: gradient(level))
        }
    }
}

/// Horizontal bars with eighth-block precision, for histograms.
public enum Bars {
    static let eighths: [Character] = ["▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"]

    /// A bar of `value`/`maximum` of `width` cells.
    public static func bar(_ value: Double, maximum: Double, width: Int) -> String {
        guard width > 0, maximum > 0, value > 0 else { return "" }
        let eighthsTotal = Int((min(1, value / maximum) * Double(width * 8)).rounded())
        guard eighthsTotal > 0 else { return String(eighths[0]) }
        var out = String(repeating: "█", count: eighthsTotal / 8)
        if eighthsTotal % 8 > 0 { out.append(eighths[eighthsTotal % 8 - 1]) }
        return out
    }

    /// Labelled bars, one per line: `label │████▌ value`.
    public static func render(_ items: [(label: String, value: Double, text: String, style: Style)], into grid: inout Grid, _ rect: Rect, labelStyle: Style) {
        guard rect.height > 0 else { return }
        let labelWidth = min(rect.width / 3, items.map { DisplayWidth.of($0.label) }.max() ?? 0)
        let textWidth = items.map { DisplayWidth.of($0.text) }.max() ?? 0
        let barWidth = max(1, rect.width - labelWidth - textWidth - 3)
        let maximum = items.map(\.value).max() ?? 0
        for (index, item) in items.prefix(rect.height).enumerated() {
            let y = rect.y + index
            grid.put(DisplayWidth.pad(item.label, to: labelWidth) + " ", x: rect.x, y: y, style: labelStyle)
            let barText = bar(item.value, maximum: maximum, width: barWidth)
            grid.put(barText, x: rect.x + labelWidth + 1, y: y, style: item.style, maxX: rect.maxX)
            grid.put(DisplayWidth.pad(item.text, to: textWidth, right: true), x: rect.maxX - textWidth, y: y, style: labelStyle)
        }
    }
}

/// Text wrapped at word boundaries to a width in cells (long words are cut).
public enum WrappedText {
    public static func lines(_ text: String, width: Int) -> [String] {
        guard width > 0 else { return [] }
        var out: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            var used = 0
            for word in paragraph.split(separator: " ") {
                var word = String(word)
                let w = DisplayWidth.of(word)
                if used > 0 && used + 1 + w > width {
                    out.append(line)
                    line = ""
                    used = 0
                }
                while DisplayWidth.of(word) > width {
                    let head = DisplayWidth.truncate(word, to: width, ellipsis: false)
                    if used > 0 { out.append(line); line = ""; used = 0 }
                    out.append(head)
                    word = String(word.dropFirst(head.count))
                }
                if used > 0 { line += " "; used += 1 }
                line += word
                used += DisplayWidth.of(word)
            }
            out.append(line)
        }
        return out
    }

    public static func render(_ text: String, into grid: inout Grid, _ rect: Rect, style: Style) {
        for (index, line) in lines(text, width: rect.width).prefix(rect.height).enumerated() {
            grid.put(line, x: rect.x, y: rect.y + index, style: style, maxX: rect.maxX)
        }
    }
}

// The bottom bars: a status line of segments, and key hints.

public struct StatusSegment: Sendable {
    public var text: String
    public var style: Style
    public init(_ text: String, _ style: Style) {
        self.text = text
        self.style = style
    }
}

public enum StatusBar {
    /// Left segments from the left, right segments against the right edge (dropped if no room).
    public static func render(left: [StatusSegment], right: [StatusSegment], into grid: inout Grid, y: Int, width: Int, style: Style) {
        grid.fill(Rect(x: 0, y: y, width: width, height: 1), style: style)
        var x = 0
        for segment in left where x < width {
            x = grid.put(" " + segment.text + " ", x: x, y: y, style: segment.style)
        }
        let rightWidth = right.reduce(0) { $0 + DisplayWidth.of($1.text) + 2 }
        guard x + rightWidth < width else { return }
        var rx = width - rightWidth
        for segment in right { rx = grid.put(" " + segment.text + " ", x: rx, y: y, style: segment.style) }
    }
}

public enum KeyHints {
    /// `key label` pairs as far as they fit; the last `kept` (help and quit) are always shown, at
    /// the end, when the others do not all fit.
    public static func render(_ hints: [(key: String, label: String)], kept: Int = 2, into grid: inout Grid, y: Int, width: Int, key: Style, text: Style) {
        grid.fill(Rect(x: 0, y: y, width: width, height: 1), style: text)
        func cells(_ hint: (key: String, label: String)) -> Int { DisplayWidth.of(hint.key) + 1 + DisplayWidth.of(hint.label) + 2 }
        let tail = hints.suffix(min(kept, hints.count))
        let reserved = tail.reduce(0) { $0 + cells($1) }
        var x = 1
        func put(_ hint: (key: String, label: String)) {
            x = grid.put(hint.key, x: x, y: y, style: key)
            x = grid.put(" " + hint.label + "  ", x: x, y: y, style: text)
        }
        for hint in hints.dropLast(tail.count) {
            guard x + cells(hint) + reserved <= width else { break }
            put(hint)
        }
        for hint in tail where x + cells(hint) <= width { put(hint) }
    }
}
