/// Display width in terminal cells, without libc's `wcwidth` (locale-dependent and not available
/// to pure code): East Asian wide and fullwidth ranges and emoji take two cells, combining marks
/// and zero-width joiners none, everything else one.
public enum DisplayWidth {
    private static let wide: [ClosedRange<UInt32>] = [
        0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x23E9...0x23EC, 0x23F0...0x23F0, 0x23F3...0x23F3,
        0x25FD...0x25FE, 0x2614...0x2615, 0x2648...0x2653, 0x267F...0x267F, 0x2693...0x2693, 0x26A1...0x26A1,
        0x26AA...0x26AB, 0x26BD...0x26BE, 0x26C4...0x26C5, 0x26CE...0x26CE, 0x26D4...0x26D4, 0x26EA...0x26EA,
        0x26F2...0x26F3, 0x26F5...0x26F5, 0x26FA...0x26FA, 0x26FD...0x26FD, 0x2705...0x2705, 0x270A...0x270B,
        0x2728...0x2728, 0x274C...0x274C, 0x274E...0x274E, 0x2753...0x2755, 0x2757...0x2757, 0x2795...0x2797,
        0x27B0...0x27B0, 0x27BF...0x27BF, 0x2B1B...0x2B1C, 0x2B50...0x2B50, 0x2B55...0x2B55,
        0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF, 0xA960...0xA97F,
        0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19, 0xFE30...0xFE6F, 0xFF00...0xFF60, 0xFFE0...0xFFE6,
        0x16FE0...0x16FE4, 0x17000...0x18CFF, 0x1B000...0x1B2FF, 0x1F004...0x1F004, 0x1F0CF...0x1F0CF,
        0x1F18E...0x1F18E, 0x1F191...0x1F19A, 0x1F200...0x1F251, 0x1F300...0x1F64F, 0x1F680...0x1F6FF,
        0x1F7E0...0x1F7EB, 0x1F90C...0x1F9FF, 0x1FA70...0x1FAFF, 0x20000...0x2FFFD, 0x30000...0x3FFFD,
    ]

    /// Cells one scalar takes when it starts a grapheme.
    public static func of(_ scalar: Unicode.Scalar) -> Int {
        let v = scalar.value
        if v < 0x300 || isGraphGlyph(v) { return 1 }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        if v == 0x200B || (0x1160...0x11FF).contains(v) { return 0 }
        var low = 0, high = wide.count - 1
        while low <= high {
            let mid = (low + high) / 2
            if wide[mid].upperBound < v { low = mid + 1 } else if wide[mid].lowerBound > v { high = mid - 1 } else { return 2 }
        }
        return 1
    }

    /// Cells one grapheme takes: its first scalar's width, or 2 when an emoji presentation
    /// selector (U+FE0F) asks for the emoji form.
    public static func of(_ character: Character) -> Int {
        let scalars = character.unicodeScalars
        guard let first = scalars.first else { return 0 }
        var width = of(first)
        // (No `scalars.count > 1` first: counting walks the scalars too; a lone scalar is not U+FE0F.)
        if width == 1, scalars.contains(where: { $0.value == 0xFE0F }) { width = 2 }
        return width
    }

    public static func of(_ text: some StringProtocol) -> Int {
        if isPrintableASCII(text) { return text.utf8.count }
        var total = 0
        for character in text { total += of(character) }
        return total
    }

    /// True when `text` is all printable ASCII (space to `~`): then every byte is a grapheme of its
    /// own, one cell wide, and nothing needs escaping. The fast path for widths and for `Grid.put`.
    public static func isPrintableASCII(_ text: some StringProtocol) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }

    /// Box drawing, block elements (bars, sparklines) and braille (graphs): one cell wide, never
    /// escaped, and a grapheme of their own next to each other. Graphs draw thousands a frame.
    @inline(__always) static func isGraphGlyph(_ value: UInt32) -> Bool {
        (0x2500...0x259F).contains(value) || (0x2800...0x28FF).contains(value)
    }

    /// True when every scalar of `text` is printable ASCII or a graph glyph: then each scalar is a
    /// grapheme one cell wide with nothing to escape (the second fast path of `Grid.put`).
    public static func isSimple(_ text: some StringProtocol) -> Bool {
        text.unicodeScalars.allSatisfy { ($0.value >= 0x20 && $0.value < 0x7F) || isGraphGlyph($0.value) }
    }

    /// The longest prefix of `text` that fits in `width` cells; with `ellipsis`, a cut text ends in `…`.
    public static func truncate(_ text: String, to width: Int, ellipsis: Bool = true) -> String {
        guard width > 0 else { return "" }
        if of(text) <= width { return text }
        let budget = ellipsis ? width - 1 : width
        var out = ""
        var used = 0
        for character in text {
            let w = of(character)
            if used + w > budget { break }
            out.append(character)
            used += w
        }
        return ellipsis ? out + "…" : out
    }

    /// `text` padded with spaces (or cut with `…`) to exactly `width` cells.
    public static func pad(_ text: String, to width: Int, right: Bool = false) -> String {
        let cut = truncate(text, to: width)
        let fill = String(repeating: " ", count: max(0, width - of(cut)))
        return right ? fill + cut : cut + fill
    }
}
