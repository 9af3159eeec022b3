extension String {
    /// This text with every character that could change what the terminal shows shown escaped:
    /// control characters (C0, DEL, C1), so an event's payload or a handler's error can never move
    /// the cursor, recolour or retitle the user's terminal, and bidirectional controls and
    /// zero-width characters, so it can never reorder or hide what is printed beside it.
    public var terminalSafe: String {
        guard unicodeScalars.contains(where: \.isTerminalUnsafe) else { return self }
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{1B}": out += "\\e"
            case _ where scalar.isTerminalUnsafe: out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

extension String {
    /// JSON text (whose strings may hold any character) with every character `terminalSafe`
    /// escapes written as a `\uXXXX` escape: the same JSON value to any parser, safe to print.
    public var jsonTerminalSafe: String { JSONText.escapingUnsafe(self) }
}

extension Unicode.Scalar {
    /// Controls, bidirectional formatting (LRM, RLM, ALM, the embeddings, overrides and isolates),
    /// invisible characters (soft hyphen, ZWSP, ZWNJ, ZWJ, word joiner, the invisible operators,
    /// the deprecated format controls, BOM, the interlinear annotation controls, and the tag
    /// characters that can smuggle hidden text) and the line and paragraph separators: what
    /// `terminalSafe` escapes.
    public var isTerminalUnsafe: Bool {
        if value < 0x20 || (0x7F...0x9F).contains(value) { return true }
        guard value >= 0xAD else { return false }
        switch value {
        case 0xAD, 0x061C, 0x180E, 0x200B...0x200F, 0x2028...0x202E, 0x2060...0x206F, 0xFEFF, 0xFFF9...0xFFFB,
             0xE0000...0xE007F:
            return true
        default: return false
        }
    }

    /// This character as a JSON `\uXXXX` escape (a surrogate pair past the Basic Multilingual Plane).
    var jsonEscaped: String {
        guard value > 0xFFFF else { return String(format: "\\u%04x", value) }
        let offset = value - 0x10000
        return String(format: "\\u%04x\\u%04x", 0xD800 + (offset >> 10), 0xDC00 + (offset & 0x3FF))
    }
}
