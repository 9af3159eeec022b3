extension Grid {
    /// A rounded box around `rect` with an optional title; the inside is cleared to `fill`.
    public mutating func box(_ rect: Rect, border: Style, fill: Style, title: String? = nil, titleStyle: Style? = nil) {
        guard rect.width >= 2, rect.height >= 2 else { return }
        self.fill(rect, style: fill)
        let right = rect.maxX - 1, bottom = rect.maxY - 1
        put("╭" + String(repeating: "─", count: rect.width - 2) + "╮", x: rect.x, y: rect.y, style: border)
        put("╰" + String(repeating: "─", count: rect.width - 2) + "╯", x: rect.x, y: bottom, style: border)
        if rect.height > 2 {
            for y in (rect.y + 1)..<bottom {
                put("│", x: rect.x, y: y, style: border)
                put("│", x: right, y: y, style: border)
            }
        }
        if let title, rect.width > 6 {
            put(" " + DisplayWidth.truncate(title, to: rect.width - 6) + " ", x: rect.x + 2, y: rect.y, style: titleStyle ?? border)
        }
    }
}
