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
    /// zero-width characters (ZWSP, ZWNJ, ZWJ, word joiner, BOM) and the line and paragraph
    /// separators: what `terminalSafe` escapes.
    public var isTerminalUnsafe: Bool {
        if value < 0x20 || (0x7F...0x9F).contains(value) { return true }
        guard value >= 0x061C else { return false }
        switch value {
        case 0x061C, 0x200B...0x200F, 0x2028...0x202E, 0x2060, 0x2066...0x2069, 0xFEFF: return true
        default: return false
        }
    }
}
