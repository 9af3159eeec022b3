/// What a failure is, without what differs between its occurrences: the error text with
/// numbers, UUIDs, hex, quoted values, paths and URLs folded to placeholders, so "timeout after
/// 2.5s on listing-817" and "timeout after 3s on listing-9" are one cause. The dead-letter screen
/// groups by it (with the queue and the event type); it is computed once, when a message is
/// dead-lettered, and stored with it.
///
/// Folding is by shape only (no list of known messages): numbers become `<n>` (so `HTTP 503` and
/// `HTTP 404` are one group: the status is still in each dead letter's own error), runs of 8 or
/// more hex digits with a digit and a letter `<hex>`, UUIDs `<uuid>`, text in matching quotes
/// `"…"` (the quote kept), a token that starts with `/` and holds another `/` or a `.` `<path>`,
/// `scheme://…` `<url>`. Runs of whitespace and control characters become one space; the result
/// is at most 200 characters.
public enum FailureFingerprint {
    public static let maxLength = 200

    public static func of(_ error: String) -> String {
        let chars = Array(error.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        var lastWasSpace = true
        func emit(_ text: String) {
            out.append(contentsOf: text.unicodeScalars)
            lastWasSpace = false
        }
        func isHex(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) || ("a"..."f").contains(c) || ("A"..."F").contains(c) }
        func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }
        func isWordy(_ c: Unicode.Scalar) -> Bool { c.properties.isAlphabetic || isDigit(c) || c == "_" }
        func atTokenStart(_ index: Int) -> Bool { index == 0 || !isWordy(chars[index - 1]) }
        /// The end of a UUID starting at `index`, if one does.
        func uuidEnd(_ index: Int) -> Int? {
            let groups = [8, 4, 4, 4, 12]
            var j = index
            for (n, length) in groups.enumerated() {
                for _ in 0..<length {
                    guard j < chars.count, isHex(chars[j]) else { return nil }
                    j += 1
                }
                if n < groups.count - 1 {
                    guard j < chars.count, chars[j] == "-" else { return nil }
                    j += 1
                }
            }
            return j < chars.count && isWordy(chars[j]) ? nil : j
        }
        func tokenEnd(_ index: Int) -> Int {
            var j = index
            while j < chars.count, !chars[j].properties.isWhitespace, !",;)]}'\"".unicodeScalars.contains(chars[j]) { j += 1 }
            // A sentence's last full stop or colon is not part of the token.
            while j > index + 1, ".:".unicodeScalars.contains(chars[j - 1]) { j -= 1 }
            return j
        }
        while i < chars.count {
            let c = chars[i]
            // Control characters (an escape sequence in an error) count as a space.
            if c.properties.isWhitespace || c.properties.generalCategory == .control {
                if !lastWasSpace { out.append(" ") }
                lastWasSpace = true
                i += 1
                continue
            }
            if c == "\"" || c == "'" || c == "`", c != "'" || atTokenStart(i),
               let close = chars[(i + 1)...].firstIndex(where: { $0 == c || $0 == "\n" }), chars[close] == c {
                emit("\(c)…\(c)")
                i = close + 1
                continue
            }
            if atTokenStart(i), let end = uuidEnd(i) {
                emit("<uuid>")
                i = end
                continue
            }
            if atTokenStart(i), c.properties.isAlphabetic {
                // scheme://…
                var j = i
                while j < chars.count, chars[j].properties.isAlphabetic || "+-.".unicodeScalars.contains(chars[j]) { j += 1 }
                if j + 2 < chars.count, chars[j] == ":", chars[j + 1] == "/", chars[j + 2] == "/" {
                    emit("<url>")
                    i = tokenEnd(j)
                    continue
                }
            }
            if c == "/", i == 0 || chars[i - 1].properties.isWhitespace || "(=[\"'".unicodeScalars.contains(chars[i - 1]) {
                let end = tokenEnd(i)
                let token = chars[(i + 1)..<end]
                if token.contains("/") || token.contains(".") {
                    emit("<path>")
                    i = end
                    continue
                }
            }
            if atTokenStart(i), isHex(c) {
                var j = i
                if c == "0", i + 1 < chars.count, chars[i + 1] == "x" || chars[i + 1] == "X" { j = i + 2 }
                let start = j
                while j < chars.count, isHex(chars[j]) { j += 1 }
                let run = chars[start..<j]
                let prefixed = start == i + 2
                if (j == chars.count || !isWordy(chars[j])),
                   prefixed && !run.isEmpty || run.count >= 8 && run.contains(where: isDigit) && run.contains(where: { !isDigit($0) }) {
                    emit("<hex>")
                    i = j
                    continue
                }
            }
            if isDigit(c) {
                var j = i
                while j < chars.count, isDigit(chars[j]) { j += 1 }
                // 1,234 · 2.5 · 1_000
                while j + 1 < chars.count, ".,_".unicodeScalars.contains(chars[j]), isDigit(chars[j + 1]) {
                    j += 1
                    while j < chars.count, isDigit(chars[j]) { j += 1 }
                }
                emit("<n>")
                i = j
                continue
            }
            out.append(c)
            lastWasSpace = false
            i += 1
        }
        var text = String(out)
        while text.hasSuffix(" ") { text.removeLast() }
        if text.count > maxLength { text = String(text.prefix(maxLength - 1)) + "…" }
        return text
    }
}
