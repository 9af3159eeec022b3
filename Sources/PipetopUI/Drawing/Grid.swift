import PipetopCore

/// One terminal cell: a grapheme and its style. A wide grapheme (CJK, emoji) occupies its cell and
/// the next, which is marked `continuation` and holds no text of its own.
public struct Cell: Hashable, Sendable {
    public var character: Character
    public var style: Style
    public var isWide: Bool
    public var isContinuation: Bool

    public init(_ character: Character = " ", style: Style = .plain, isWide: Bool = false, isContinuation: Bool = false) {
        self.character = character
        self.style = style
        self.isWide = isWide
        self.isContinuation = isContinuation
    }
}

public struct Size: Hashable, Sendable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }
    public var description: String { "\(width)×\(height)" }
}

public struct Rect: Hashable, Sendable {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = max(0, width)
        self.height = max(0, height)
    }
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
}

/// The in-memory screen every view draws into. The terminal backend flushes only what differs
/// from the previous grid (`diff`).
///
/// Text written here is made safe first: control characters (ESC, CR, BEL, C1 …) are shown
/// escaped like `String.terminalSafe` does, so no string reaching the grid can drive the terminal.
public struct Grid: Equatable, Sendable {
    public let size: Size
    public private(set) var cells: [Cell]

    public init(size: Size, style: Style = .plain) {
        self.size = Size(width: max(0, size.width), height: max(0, size.height))
        cells = Array(repeating: Cell(style: style), count: self.size.width * self.size.height)
    }

    public var width: Int { size.width }
    public var height: Int { size.height }
    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
    }

    /// Fills `rect` with spaces in `style`.
    public mutating func fill(_ rect: Rect, style: Style, character: Character = " ") {
        let x0 = max(0, rect.x), x1 = min(width, rect.maxX), y0 = max(0, rect.y), y1 = min(height, rect.maxY)
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 {
            repairWide(x: x0, y: y)
            repairWide(x: x1 - 1, y: y)
            for x in x0..<x1 { cells[y * width + x] = Cell(character, style: style) }
        }
    }

    /// Writes `text` from (x, y), clipped at `maxX` (default: the right edge); returns the column
    /// after the last cell written. A wide grapheme that does not fit whole leaves a space.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: Style, maxX: Int? = nil) -> Int {
        guard y >= 0, y < height else { return x }
        let limit = min(maxX ?? width, width)
        var column = x
        // Printable ASCII is most of what the dashboard shows, several thousand cells a frame:
        // each byte is one grapheme one cell wide with nothing to escape, so it needs neither
        // grapheme breaking nor a width lookup.
        if DisplayWidth.isPrintableASCII(text) {
            for byte in text.utf8 {
                if column >= limit { break }
                if column >= 0 {
                    repairWide(x: column, y: y)
                    cells[y * width + column] = Cell(Character(Unicode.Scalar(byte)), style: style)
                }
                column += 1
            }
            return column
        }
        // Graphs and bars: box drawing, block and braille glyphs (with ASCII), one scalar a cell.
        if DisplayWidth.isSimple(text) {
            for scalar in text.unicodeScalars {
                if column >= limit { break }
                if column >= 0 {
                    repairWide(x: column, y: y)
                    cells[y * width + column] = Cell(Character(scalar), style: style)
                }
                column += 1
            }
            return column
        }
        return putGraphemes(text, x: column, y: y, style: style, limit: limit)
    }

    /// The general path of `put`: grapheme by grapheme, escaping what a terminal must not get raw.
    @discardableResult
    mutating func putGraphemes(_ text: String, x: Int, y: Int, style: Style, limit: Int) -> Int {
        var column = x
        for character in text {
            if column >= limit { break }
            if character.unicodeScalars.contains(where: \.isTerminalUnsafe) {
                for escaped in String(character).terminalSafe {  // the grid's last line of defence
                    column = putOne(escaped, x: column, y: y, style: style, limit: limit)
                    if column >= limit { break }
                }
                continue
            }
            column = putOne(character, x: column, y: y, style: style, limit: limit)
        }
        return column
    }

    private mutating func putOne(_ character: Character, x: Int, y: Int, style: Style, limit: Int) -> Int {
        let w = DisplayWidth.of(character)
        if w == 0 { return x }  // a stray combining mark on its own: nothing to show
        if x < 0 { return x + w }
        if w == 2 {
            guard x + 1 < limit else {
                repairWide(x: x, y: y)
                cells[y * width + x] = Cell(" ", style: style)
                return x + 1
            }
            repairWide(x: x, y: y)
            repairWide(x: x + 1, y: y)
            cells[y * width + x] = Cell(character, style: style, isWide: true)
            cells[y * width + x + 1] = Cell(" ", style: style, isContinuation: true)
            return x + 2
        }
        repairWide(x: x, y: y)
        cells[y * width + x] = Cell(character, style: style)
        return x + 1
    }

    /// Before (x, y) is overwritten: if it is half of a wide grapheme, blank the other half.
    private mutating func repairWide(x: Int, y: Int) {
        guard x >= 0, x < width else { return }
        let index = y * width + x
        if cells[index].isContinuation, x > 0 {
            cells[index - 1] = Cell(" ", style: cells[index - 1].style)
            cells[index] = Cell(" ", style: cells[index].style)
        } else if cells[index].isWide, x + 1 < width {
            cells[index + 1] = Cell(" ", style: cells[index + 1].style)
            cells[index] = Cell(" ", style: cells[index].style)
        }
    }

    // MARK: Reading back (tests, goldens)

    /// The text of row `y` (continuation cells omitted, so wide graphemes read naturally).
    public func row(_ y: Int) -> String {
        var line = ""
        for x in 0..<width where !self[x, y].isContinuation { line.append(self[x, y].character) }
        return line
    }

    public var text: String { (0..<height).map { row($0) }.joined(separator: "\n") }

    // MARK: Diffing

    /// A horizontal run of cells that changed, to be written from (x, y).
    public struct Run: Equatable, Sendable {
        public var x: Int
        public var y: Int
        public var cells: [Cell]
    }

    /// The runs of `self` that differ from `previous` (everything when there is none or its size
    /// differs). A run never starts on the second half of a wide grapheme.
    public func diff(from previous: Grid?) -> [Run] {
        guard let previous, previous.size == size else {
            return (0..<height).map { y in Run(x: 0, y: y, cells: Array(cells[(y * width)..<((y + 1) * width)])) }
        }
        var runs: [Run] = []
        for y in 0..<height {
            let base = y * width
            var x = 0
            while x < width {
                if cells[base + x] == previous.cells[base + x] { x += 1; continue }
                var start = x
                if cells[base + start].isContinuation && start > 0 { start -= 1 }
                var end = x + 1
                while end < width && (cells[base + end] != previous.cells[base + end] || cells[base + end].isContinuation) { end += 1 }
                if let last = runs.last, last.y == y, last.x + last.cells.count >= start {
                    let from = last.x + last.cells.count
                    runs[runs.count - 1].cells.append(contentsOf: cells[(base + from)..<(base + end)])
                } else {
                    runs.append(Run(x: start, y: y, cells: Array(cells[(base + start)..<(base + end)])))
                }
                x = end
            }
        }
        return runs
    }
}
