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

/// A grapheme as the grid stores it: plain data, so that cells copy and compare as memory. Up to
/// six scalars are packed in two words, 21 bits each (a zero field ends them); a grapheme of more
/// scalars (a long emoji sequence, stacked combining marks), or one holding U+0000, is kept in its
/// grid's `extras` and the glyph holds its index there.
public struct Glyph: Hashable, Sendable {
    var low: UInt64
    var high: UInt64

    static let longFlag: UInt64 = 1 << 63
    static let scalarMask: UInt64 = (1 << 21) - 1
    /// A space: what a fresh or cleared cell holds.
    public static let space = Glyph(ascii: 0x20)

    init(ascii byte: UInt8) {
        low = UInt64(byte)
        high = 0
    }

    init(_ scalar: Unicode.Scalar) {
        low = UInt64(scalar.value)
        high = 0
    }

    init(long index: Int) {
        low = UInt64(index)
        high = Self.longFlag
    }

    /// The glyph of `character` when it packs (six scalars or fewer, none of them U+0000).
    init?(packing character: Character) {
        var low: UInt64 = 0, high: UInt64 = 0, n = 0
        for scalar in character.unicodeScalars {
            guard n < 6, scalar.value != 0 else { return nil }
            let value = UInt64(scalar.value)
            if n < 3 { low |= value << (21 * n) } else { high |= value << (21 * (n - 3)) }
            n += 1
        }
        guard n > 0 else { return nil }
        self.low = low
        self.high = high
    }

    /// Whether the grapheme is in the grid's `extras` (`Grid.scalars(of:)` has its scalars).
    public var isLong: Bool { high & Self.longFlag != 0 }
    var longIndex: Int { Int(truncatingIfNeeded: low) }

    /// The packed scalars' values, first to last (none for a long glyph).
    public var scalarValues: ScalarValues { ScalarValues(glyph: isLong ? Glyph(ascii: 0) : self) }

    /// The value of the only scalar, when the glyph is one scalar (ASCII, a box or braille glyph…).
    public var singleScalar: UInt32? {
        guard high == 0, low != 0, low <= Self.scalarMask else { return nil }
        return UInt32(low)
    }

    public struct ScalarValues: Sequence, IteratorProtocol, Sendable {
        var glyph: Glyph
        var index = 0
        public mutating func next() -> UInt32? {
            guard index < 6 else { return nil }
            let word = index < 3 ? glyph.low : glyph.high
            let value = UInt32((word >> UInt64(21 * (index % 3))) & Glyph.scalarMask)
            guard value != 0 else { index = 6; return nil }
            index += 1
            return value
        }
    }
}

/// A cell as the grid stores it (`Cell` is the same with its grapheme as a `Character`). A frame
/// is thousands of these: being plain data, they are filled, copied and compared without
/// reference counting, which a `Character` in every cell cost on each of those steps. The style
/// and the two flags share one word (`Style.packed`), so two cells compare as three words.
public struct StoredCell: Equatable, Sendable {
    public var glyph: Glyph
    /// `Style.packed`, with `isWide` and `isContinuation` above it.
    var bits: UInt64

    static let wideBit: UInt64 = 1 << 60
    static let continuationBit: UInt64 = 1 << 61

    init(_ glyph: Glyph, style: Style, isWide: Bool = false, isContinuation: Bool = false) {
        self.init(glyph, packedStyle: style.packed, isWide: isWide, isContinuation: isContinuation)
    }

    @inline(__always)
    init(_ glyph: Glyph, packedStyle: UInt64, isWide: Bool = false, isContinuation: Bool = false) {
        self.glyph = glyph
        bits = packedStyle | (isWide ? Self.wideBit : 0) | (isContinuation ? Self.continuationBit : 0)
    }

    public var style: Style { Style(packed: styleKey) }
    /// The style as one number: equal keys, equal styles.
    public var styleKey: UInt64 { bits & Style.packedMask }
    public var isWide: Bool { bits & Self.wideBit != 0 }
    public var isContinuation: Bool { bits & Self.continuationBit != 0 }

    @inline(__always)
    public static func == (a: StoredCell, b: StoredCell) -> Bool {
        a.glyph.low == b.glyph.low && a.glyph.high == b.glyph.high && a.bits == b.bits
    }
}

/// The in-memory screen every view draws into. The terminal backend flushes only what differs
/// from the previous grid (`changes(from:)`, or `diff(from:)` with the cells).
///
/// Text written here is made safe first: control characters (ESC, CR, BEL, C1 …) are shown
/// escaped like `String.terminalSafe` does, so no string reaching the grid can drive the terminal.
public struct Grid: Equatable, Sendable {
    public let size: Size
    /// The cells, row after row.
    public private(set) var stored: [StoredCell]
    /// The graphemes that do not pack into a `Glyph`, which their cells hold by index.
    private(set) var extras: [String] = []

    public init(size: Size, style: Style = .plain) {
        self.size = Size(width: max(0, size.width), height: max(0, size.height))
        stored = Array(repeating: StoredCell(.space, style: style), count: self.size.width * self.size.height)
    }

    public var width: Int { size.width }
    public var height: Int { size.height }
    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    public subscript(x: Int, y: Int) -> Cell {
        get { cell(stored[y * width + x]) }
    }

    /// Every cell, row after row.
    public var cells: [Cell] { stored.map { cell($0) } }

    func cell(_ slot: StoredCell) -> Cell {
        Cell(character(of: slot.glyph), style: slot.style, isWide: slot.isWide, isContinuation: slot.isContinuation)
    }

    public func character(of glyph: Glyph) -> Character {
        if glyph.isLong { return Character(extras[glyph.longIndex]) }
        var scalars = String.UnicodeScalarView()
        for value in glyph.scalarValues { scalars.append(Unicode.Scalar(value)!) }
        return Character(String(scalars))
    }

    /// The scalars of a long glyph (one of this grid's cells holds it); nil for a packed one,
    /// whose scalars are `glyph.scalarValues`.
    public func scalars(of glyph: Glyph) -> String.UnicodeScalarView? {
        glyph.isLong ? extras[glyph.longIndex].unicodeScalars : nil
    }

    /// The glyph for `character`, kept in `extras` when it does not pack.
    mutating func glyph(for character: Character) -> Glyph {
        if let glyph = Glyph(packing: character) { return glyph }
        extras.append(String(character))
        return Glyph(long: extras.count - 1)
    }

    /// Whether the cell at `index` is the same as the one at `index` of `other`: scalar for scalar,
    /// as packed glyphs compare (a long glyph by its scalars: the two grids' `extras` differ).
    @inline(__always)
    func same(_ index: Int, as other: Grid) -> Bool {
        let a = stored[index], b = other.stored[index]
        guard a.glyph.isLong || b.glyph.isLong else { return a == b }
        guard a.glyph.isLong, b.glyph.isLong, a.bits == b.bits else { return false }
        return extras[a.glyph.longIndex].unicodeScalars.elementsEqual(other.extras[b.glyph.longIndex].unicodeScalars)
    }

    public static func == (a: Grid, b: Grid) -> Bool {
        guard a.size == b.size else { return false }
        if a.extras.isEmpty && b.extras.isEmpty { return a.stored == b.stored }
        return a.stored.indices.allSatisfy { a.same($0, as: b) }
    }

    /// Fills `rect` with spaces in `style`.
    public mutating func fill(_ rect: Rect, style: Style, character: Character = " ") {
        let x0 = max(0, rect.x), x1 = min(width, rect.maxX), y0 = max(0, rect.y), y1 = min(height, rect.maxY)
        guard x0 < x1, y0 < y1 else { return }
        let slot = StoredCell(character == " " ? .space : glyph(for: character), style: style)
        let width = self.width
        stored.withUnsafeMutableBufferPointer { cells in
            for y in y0..<y1 {
                Self.repairWide(cells, width: width, x: x0, y: y)
                Self.repairWide(cells, width: width, x: x1 - 1, y: y)
                for x in x0..<x1 { cells[y * width + x] = slot }
            }
        }
    }

    /// Writes `text` from (x, y), clipped at `maxX` (default: the right edge); returns the column
    /// after the last cell written. A wide grapheme that does not fit whole leaves a space.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: Style, maxX: Int? = nil) -> Int {
        guard y >= 0, y < height else { return x }
        let limit = min(maxX ?? width, width)
        // Printable ASCII is most of what the dashboard shows, several thousand cells a frame:
        // each byte is one grapheme one cell wide with nothing to escape, so it needs neither
        // grapheme breaking nor a width lookup. The bytes are read where the string keeps them.
        var contiguous = text
        contiguous.makeContiguousUTF8()  // a no-op for Swift's own strings
        let ascii = contiguous.utf8.withContiguousStorageIfAvailable { bytes -> Int? in
            for byte in bytes where byte < 0x20 || byte >= 0x7F { return nil }
            return write(bytes.lazy.map { Glyph(ascii: $0) }, count: bytes.count, x: x, y: y, style: style, limit: limit)
        }
        if let column = ascii ?? nil { return column }
        // Graphs and bars: box drawing, block and braille glyphs (with ASCII), one scalar a cell.
        if DisplayWidth.isSimple(text) {
            return write(text.unicodeScalars.lazy.map { Glyph($0) }, count: text.unicodeScalars.count, x: x, y: y, style: style, limit: limit)
        }
        return putGraphemes(text, x: x, y: y, style: style, limit: limit)
    }

    /// Writes `count` one-cell `glyphs` from (x, y), clipped at `limit`; returns the column after
    /// the last. What writing them one by one does, with the halves of wide graphemes repaired
    /// only at the two ends: one wholly inside is overwritten anyway.
    @inline(__always)
    private mutating func write(_ glyphs: some Sequence<Glyph>, count: Int, x: Int, y: Int, style: Style, limit: Int) -> Int {
        let end = x >= limit ? x : min(x + count, limit)
        let first = max(x, 0)
        guard first < end else { return end }
        let width = self.width
        let packed = style.packed
        stored.withUnsafeMutableBufferPointer { cells in
            Self.repairWide(cells, width: width, x: first, y: y)
            Self.repairWide(cells, width: width, x: end - 1, y: y)
            var index = y * width + first
            for glyph in glyphs.dropFirst(first - x).prefix(end - first) {
                cells[index] = StoredCell(glyph, packedStyle: packed)
                index += 1
            }
        }
        return end
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
                stored[y * width + x] = StoredCell(.space, style: style)
                return x + 1
            }
            repairWide(x: x, y: y)
            repairWide(x: x + 1, y: y)
            stored[y * width + x] = StoredCell(glyph(for: character), style: style, isWide: true)
            stored[y * width + x + 1] = StoredCell(.space, style: style, isContinuation: true)
            return x + 2
        }
        repairWide(x: x, y: y)
        stored[y * width + x] = StoredCell(glyph(for: character), style: style)
        return x + 1
    }

    /// Before (x, y) is overwritten: if it is half of a wide grapheme, blank the other half.
    private mutating func repairWide(x: Int, y: Int) {
        let width = self.width
        stored.withUnsafeMutableBufferPointer { Self.repairWide($0, width: width, x: x, y: y) }
    }

    @inline(__always)
    private static func repairWide(_ cells: UnsafeMutableBufferPointer<StoredCell>, width: Int, x: Int, y: Int) {
        guard x >= 0, x < width else { return }
        let index = y * width + x
        if cells[index].isContinuation, x > 0 {
            cells[index - 1] = StoredCell(.space, packedStyle: cells[index - 1].styleKey)
            cells[index] = StoredCell(.space, packedStyle: cells[index].styleKey)
        } else if cells[index].isWide, x + 1 < width {
            cells[index + 1] = StoredCell(.space, packedStyle: cells[index + 1].styleKey)
            cells[index] = StoredCell(.space, packedStyle: cells[index].styleKey)
        }
    }

    // MARK: Reading back (tests, goldens)

    /// The text of row `y` (continuation cells omitted, so wide graphemes read naturally).
    public func row(_ y: Int) -> String {
        var line = String.UnicodeScalarView()
        for slot in stored[(y * width)..<((y + 1) * width)] where !slot.isContinuation {
            if let long = scalars(of: slot.glyph) {
                line.append(contentsOf: long)
            } else {
                for value in slot.glyph.scalarValues { line.append(Unicode.Scalar(value)!) }
            }
        }
        return String(line)
    }

    public var text: String { (0..<height).map { row($0) }.joined(separator: "\n") }

    // MARK: Diffing

    /// A horizontal run of cells that changed, to be written from (x, y).
    public struct Run: Equatable, Sendable {
        public var x: Int
        public var y: Int
        public var cells: [Cell]
    }

    /// Where a run of changed cells is: `count` cells from (x, y), read with `stored`.
    public struct Span: Equatable, Sendable {
        public var x: Int
        public var y: Int
        public var count: Int
    }

    /// The runs of `self` that differ from `previous` (everything when there is none or its size
    /// differs). A run never starts on the second half of a wide grapheme.
    public func diff(from previous: Grid?) -> [Run] {
        changes(from: previous).map { span in
            Run(x: span.x, y: span.y, cells: (span.x..<(span.x + span.count)).map { self[$0, span.y] })
        }
    }

    /// Where the runs of `diff(from:)` are, without copying their cells: what a terminal backend
    /// reads (the cells are then `stored[y * width + x]`).
    public func changes(from previous: Grid?) -> [Span] {
        guard let previous, previous.size == size else {
            let width = self.width
            return (0..<height).map { Span(x: 0, y: $0, count: width) }
        }
        var spans: [Span] = []
        let width = self.width, height = self.height
        // Without long glyphs in either grid, cells compare as plain data, read in place.
        let plain = extras.isEmpty && previous.extras.isEmpty
        stored.withUnsafeBufferPointer { now in
            previous.stored.withUnsafeBufferPointer { before in
                @inline(__always) func same(_ index: Int) -> Bool { plain ? now[index] == before[index] : self.same(index, as: previous) }
                for y in 0..<height {
                    let base = y * width
                    var x = 0
                    while x < width {
                        if same(base + x) { x += 1; continue }
                        var start = x
                        if now[base + start].isContinuation && start > 0 { start -= 1 }
                        var end = x + 1
                        while end < width && (!same(base + end) || now[base + end].isContinuation) { end += 1 }
                        if let last = spans.last, last.y == y, last.x + last.count >= start {
                            spans[spans.count - 1].count = end - last.x
                        } else {
                            spans.append(Span(x: start, y: y, count: end - start))
                        }
                        x = end
                    }
                }
            }
        }
        return spans
    }
}
