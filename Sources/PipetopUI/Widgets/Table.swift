/// A table column: how wide it may be and how important it is when space runs out.
public struct Column: Sendable, Equatable {
    public enum Alignment: Sendable { case left, right }
    public var title: String
    public var minWidth: Int
    /// The widest it grows to (nil: as wide as its content).
    public var maxWidth: Int?
    /// 0 is never dropped; higher numbers are dropped first when the table is too narrow.
    public var priority: Int
    public var alignment: Alignment
    /// Takes what width is left over after every column got its content's width.
    public var flexible: Bool

    public init(_ title: String, min: Int? = nil, max: Int? = nil, priority: Int = 0, align: Alignment = .left, flexible: Bool = false) {
        self.title = title
        minWidth = min ?? DisplayWidth.of(title)
        maxWidth = max
        self.priority = priority
        alignment = align
        self.flexible = flexible
    }
}

/// One cell of a table row; `style` nil means the row's style.
public struct TableCell: Sendable, Equatable {
    public var text: String {
        didSet { width = DisplayWidth.of(text) }
    }
    public var style: Style?
    /// The text's width in cells, worked out once: the layout and the padding both need it.
    public private(set) var width: Int

    public init(_ text: String, style: Style? = nil) {
        self.text = text
        self.style = style
        width = DisplayWidth.of(text)
    }

    /// Whether the cell says something a reader would miss if its column gave way (not blank, 0 or –).
    public var isValue: Bool { !(text.isEmpty || text == "0" || text == "–") }
}

extension TableCell: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self.init(value) }
}

/// A table: header, rows, selection and scrolling, sort marker; columns sized to content,
/// cut with `…`, dropped by priority when they do not fit.
public struct Table: Sendable {
    public var columns: [Column]
    public var rows: [[TableCell]]
    public var selected: Int?
    /// First row shown.
    public var top: Int = 0
    public var sortColumn: Int?
    public var ascending = true
    public var gap = 2
    /// When columns give way, the table keeps its last cell for `cutMark`: in the header, and in
    /// every row with a value in a column that gave way (`TableCell.isValue`), so no cut value
    /// vanishes unmarked.
    public var marksCuts = false
    public static let cutMark = "›"

    public init(columns: [Column], rows: [[TableCell]], selected: Int? = nil) {
        self.columns = columns
        self.rows = rows
        self.selected = selected
    }

    /// Which columns are shown and how wide, for a table `width` cells wide (less the cut mark's
    /// cell when columns give way and `marksCuts`).
    public func layout(width: Int) -> [(column: Int, width: Int)] {
        let all = fitted(width: width)
        guard marksCuts, all.count < columns.count else { return all }
        return fitted(width: width - 1)
    }

    /// The columns that gave way at `width`, in table order.
    public func cut(width: Int) -> [Int] {
        let kept = Set(layout(width: width).map(\.column))
        return columns.indices.filter { !kept.contains($0) }
    }

    private func fitted(width: Int) -> [(column: Int, width: Int)] {
        var kept = Array(columns.indices)
        func needed(_ set: [Int]) -> Int { set.reduce(0) { $0 + columns[$1].minWidth } + max(0, set.count - 1) * gap }
        while needed(kept) > width, kept.count > 1 {
            // Drop the least important column; among equals, the rightmost.
            let victim = kept.enumerated().max { a, b in
                (columns[a.element].priority, a.offset) < (columns[b.element].priority, b.offset)
            }!
            if columns[victim.element].priority == 0 { break }
            kept.remove(at: victim.offset)
        }
        var widths = kept.map { columns[$0].minWidth }
        var spare = width - needed(kept)
        // Grow each column toward its content's width, left to right.
        for (slot, index) in kept.enumerated() where spare > 0 {
            var content = DisplayWidth.of(columns[index].title) + (sortColumn == index ? 1 : 0)
            for row in rows where index < row.count { content = max(content, row[index].width) }
            if let maxWidth = columns[index].maxWidth { content = min(content, maxWidth) }
            let grow = min(spare, max(0, content - widths[slot]))
            widths[slot] += grow
            spare -= grow
        }
        let flexible = kept.enumerated().filter { columns[$0.element].flexible }
        if spare > 0, !flexible.isEmpty {
            for (n, entry) in flexible.enumerated() {
                let share = spare / (flexible.count - n)
                widths[entry.offset] += share
                spare -= share
            }
        }
        return zip(kept, widths).map { ($0, $1) }
    }

    /// Rows that fit under the header in `height` lines.
    public static func visibleRows(height: Int) -> Int { max(0, height - 1) }

    /// `top` adjusted so the selected row is visible in a body of `visible` rows.
    public static func scrolled(top: Int, selected: Int?, visible: Int, count: Int) -> Int {
        var top = min(max(0, top), max(0, count - visible))
        if let selected, visible > 0 {
            if selected < top { top = selected }
            if selected >= top + visible { top = selected - visible + 1 }
        }
        return max(0, top)
    }

    public func render(into grid: inout Grid, _ rect: Rect, header: Style, row rowStyle: Style, selected selectedStyle: Style, mark markStyle: Style? = nil) {
        guard rect.height > 0, rect.width > 0 else { return }
        let layout = self.layout(width: rect.width)
        let cut = marksCuts && layout.count < columns.count ? columns.indices.filter { index in !layout.contains { $0.column == index } } : []
        grid.fill(Rect(x: rect.x, y: rect.y, width: rect.width, height: 1), style: header)
        if !cut.isEmpty { grid.put(Self.cutMark, x: rect.maxX - 1, y: rect.y, style: header) }
        var x = rect.x
        for (index, width) in layout {
            var title = columns[index].title
            if sortColumn == index { title += ascending ? "↑" : "↓" }
            let text = DisplayWidth.pad(title, to: width, right: columns[index].alignment == .right)
            grid.put(text, x: x, y: rect.y, style: header, maxX: rect.maxX)
            x += width + gap
        }
        let visible = Self.visibleRows(height: rect.height)
        let first = Self.scrolled(top: top, selected: selected, visible: visible, count: rows.count)
        for line in 0..<visible {
            let index = first + line
            let y = rect.y + 1 + line
            let isSelected = index == selected
            let base = isSelected ? selectedStyle : rowStyle
            grid.fill(Rect(x: rect.x, y: y, width: rect.width, height: 1), style: rowStyle)
            guard index < rows.count else { continue }
            if isSelected { grid.fill(Rect(x: rect.x, y: y, width: rect.width, height: 1), style: selectedStyle) }
            var x = rect.x
            for (column, width) in layout {
                let cell = column < rows[index].count ? rows[index][column] : TableCell("")
                let style = isSelected ? base : (cell.style ?? base)
                grid.putPadded(cell.text, x: x, y: y, width: width, right: columns[column].alignment == .right, style: style, maxX: rect.maxX,
                               textWidth: cell.width)
                x += width + gap
            }
            if cut.contains(where: { $0 < rows[index].count && rows[index][$0].isValue }) {
                grid.put(Self.cutMark, x: rect.maxX - 1, y: y, style: isSelected ? base : markStyle ?? base)
            }
        }
    }
}

extension Grid {
    /// What `put(DisplayWidth.pad(text, to: width, right:), …)` writes, without building the padded
    /// string: the cut text, and the padding filled in `style`. A table's flexible column is most of
    /// a row's width, so padding strings were most of the characters a frame walked through.
    /// `textWidth`, when known, is `DisplayWidth.of(text)`: a text that fits is then not measured again.
    mutating func putPadded(_ text: String, x: Int, y: Int, width: Int, right: Bool, style: Style, maxX: Int, textWidth: Int? = nil) {
        let cut: String, cutWidth: Int
        if let textWidth, textWidth <= width {
            (cut, cutWidth) = (text, textWidth)
        } else {
            cut = DisplayWidth.truncate(text, to: width)
            cutWidth = DisplayWidth.of(cut)
        }
        let padding = max(0, width - cutWidth)
        func pad(from start: Int) -> Int {
            fill(Rect(x: start, y: y, width: min(padding, maxX - start), height: 1), style: style)
            return start + padding
        }
        if right {
            put(cut, x: pad(from: x), y: y, style: style, maxX: maxX)
        } else {
            _ = pad(from: put(cut, x: x, y: y, style: style, maxX: maxX))
        }
    }
}
