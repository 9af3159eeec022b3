import Foundation

// The value types a compiled pattern matches with: numbers as event-ruler compares them, IP
// addresses, case-insensitive text and wildcards. All work on UTF-8 bytes, as event-ruler's
// byte machine does, so "é" precomposed and decomposed are different strings (Swift's `==` would
// call them equal).

// MARK: - Numbers

enum PatternNumber {
    /// The double a JSON number stands for, if event-ruler can compare it: the number must be
    /// finite and its decimal value must equal that of the shortest text of its nearest double
    /// (event-ruler's `ComparableNumber`: `BigDecimal.valueOf(double).compareTo(parsed) == 0`).
    /// So `0.1`, `1e2`, `-0` and `1.7976931348623157e308` compare; `1e400`, `1e-400`,
    /// `0.30000000000000001` and `123456789012345678` (more digits than a double holds) do not.
    static func comparable(_ text: String) -> Double? {
        guard let value = Double(text), value.isFinite else { return nil }
        guard let written = Decimal10(text), let nearest = Decimal10(value.description), written == nearest else {
            return nil
        }
        return value == 0 ? 0 : value  // BigDecimal has no negative zero
    }

    /// The number an event carries, from `JSONSerialization`'s NSNumber (or a native Swift number).
    static func event(_ number: NSNumber) -> EventNumber {
        if number is NSDecimalNumber {
            // Foundation uses a decimal when a double would lose digits: event-ruler then compares text.
            let text = number.description
            return EventNumber(value: comparable(text), text: text)
        }
        switch number.objCType.pointee {
        case CChar(UInt8(ascii: "d")), CChar(UInt8(ascii: "f")):
            let value = number.doubleValue
            return EventNumber(value: value.isFinite ? (value == 0 ? 0 : value) : nil, text: number.description)
        case CChar(UInt8(ascii: "Q")), CChar(UInt8(ascii: "L")), CChar(UInt8(ascii: "I")), CChar(UInt8(ascii: "S")),
             CChar(UInt8(ascii: "C")):
            let value = number.uint64Value
            if value <= 1 << 53 { return EventNumber(value: Double(value), text: nil) }
            let text = String(value)
            return EventNumber(value: comparable(text), text: text)
        default:
            let value = number.int64Value
            if value.magnitude <= 1 << 53 { return EventNumber(value: Double(value), text: nil) }
            let text = String(value)
            return EventNumber(value: comparable(text), text: text)
        }
    }
}

/// A number in an event: `value` when event-ruler can compare it, otherwise only its `text`.
struct EventNumber {
    var value: Double?
    var text: String?
}

/// A decimal number reduced to sign, significant digits and exponent, for exact comparison.
struct Decimal10: Equatable {
    var negative: Bool
    var digits: [UInt8]
    var exponent: Int

    /// Parses JSON number text or Swift's `Double.description` ("1e-07", "1.5e+20", "-0.0").
    init?(_ text: String) {
        var bytes = Array(text.utf8)[...]
        negative = bytes.first == UInt8(ascii: "-")
        if negative || bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        var mantissa: [UInt8] = []
        var scale = 0
        var seenPoint = false
        var seenDigit = false
        while let byte = bytes.first, byte != UInt8(ascii: "e"), byte != UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if byte == UInt8(ascii: ".") {
                if seenPoint { return nil }
                seenPoint = true
            } else if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                seenDigit = true
                if mantissa.isEmpty && byte == UInt8(ascii: "0") {
                    if seenPoint { scale -= 1 }
                    continue
                }
                mantissa.append(byte - UInt8(ascii: "0"))
                if seenPoint { scale -= 1 }
            } else {
                return nil
            }
        }
        guard seenDigit else { return nil }
        var exponent = 0
        if !bytes.isEmpty {
            bytes = bytes.dropFirst()
            var sign = 1
            if bytes.first == UInt8(ascii: "-") { sign = -1; bytes = bytes.dropFirst() } else if bytes.first == UInt8(ascii: "+") {
                bytes = bytes.dropFirst()
            }
            guard !bytes.isEmpty else { return nil }
            for byte in bytes {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                exponent = min(exponent * 10 + Int(byte - UInt8(ascii: "0")), 1_000_000_000)  // saturates
            }
            exponent *= sign
        }
        while mantissa.last == 0 { mantissa.removeLast(); scale += 1 }
        if mantissa.isEmpty {
            negative = false
            digits = []
            self.exponent = 0
        } else {
            digits = mantissa
            self.exponent = exponent + scale
        }
    }
}

// MARK: - IP addresses

enum IPAddress {
    /// The 4 or 16 bytes of an IPv4 or IPv6 literal, as event-ruler reads them: dotted decimal
    /// (`[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+`) or hex groups with colons (`[0-9a-fA-F:]*:[0-9a-fA-F:]*`,
    /// so no embedded dotted IPv4, no zone, no brackets). An IPv4-mapped IPv6 address
    /// (`::ffff:a00:1`) is its IPv4 address, as Java's `InetAddress` makes it.
    static func parse(_ text: String) -> [UInt8]? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 45 else { return nil }
        if bytes.contains(UInt8(ascii: ".")) { return parseV4(bytes) }
        guard bytes.contains(UInt8(ascii: ":")) else { return nil }
        return parseV6(bytes)
    }

    private static func parseV4(_ bytes: [UInt8]) -> [UInt8]? {
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
            else { return nil }
            let value = part.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            guard value <= 255 else { return nil }
            out.append(UInt8(value))
        }
        return out
    }

    private static func parseV6(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.allSatisfy({ $0 == UInt8(ascii: ":") || hexValue($0) != nil }) else { return nil }
        func groups(_ slice: ArraySlice<UInt8>) -> [UInt16]? {
            if slice.isEmpty { return [] }
            var out: [UInt16] = []
            for group in slice.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false) {
                guard !group.isEmpty, group.count <= 4 else { return nil }
                out.append(group.reduce(0) { $0 << 4 | UInt16(hexValue($1)!) })
            }
            return out
        }
        var words: [UInt16]
        let halves = String(decoding: bytes, as: UTF8.self).components(separatedBy: "::")
        switch halves.count {
        case 1:
            guard let all = groups(Array(halves[0].utf8)[...]), all.count == 8 else { return nil }
            words = all
        case 2:  // one "::" stands for as many zero groups as are missing
            guard let head = groups(Array(halves[0].utf8)[...]), let tail = groups(Array(halves[1].utf8)[...]),
                  head.count + tail.count <= 7
            else { return nil }
            words = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        default:
            return nil
        }
        var out: [UInt8] = []
        for word in words { out.append(UInt8(word >> 8)); out.append(UInt8(word & 0xFF)) }
        if out[0..<10].allSatisfy({ $0 == 0 }) && out[10] == 0xFF && out[11] == 0xFF { return Array(out[12...]) }
        return out
    }
}

/// An inclusive range of addresses of one family (4 or 16 bytes), from `cidr` or an IP literal.
struct IPRange: Sendable, Equatable {
    var low: [UInt8]
    var high: [UInt8]

    init(address: [UInt8], maskBits: Int) {
        var low = address, high = address
        for index in address.indices {
            let fixed = max(0, min(8, maskBits - index * 8))  // bits of this byte inside the mask
            let mask: UInt8 = fixed == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - fixed))
            low[index] &= mask
            high[index] |= ~mask
        }
        self.low = low
        self.high = high
    }

    func contains(_ address: [UInt8]) -> Bool {
        address.count == low.count && !address.lexicographicallyPrecedes(low) && !high.lexicographicallyPrecedes(address)
    }
}

// MARK: - Case-insensitive text

/// Text matched ignoring case the way event-ruler's `EqualsIgnoreCaseParser` does: each character
/// of the pattern stands for its lower-case or its upper-case form (Java's `toLowerCase` and
/// `toUpperCase` in the root locale, per UTF-16 unit), and the event's bytes must spell one of them.
/// So `"ß"` matches "ß" and "SS". Characters outside the Basic Multilingual Plane match only
/// themselves (event-ruler maps each surrogate half alone, which changes nothing).
struct FoldedText: Sendable, Equatable {
    /// Per pattern character, the byte sequences it accepts (one or two).
    let units: [[[UInt8]]]
    /// When every character is ASCII: the lower- and upper-case byte of each, for a fast path.
    let lower: [UInt8]?
    let upper: [UInt8]?

    init(_ text: String) {
        var units: [[[UInt8]]] = []
        for scalar in text.unicodeScalars {
            let own = Array(String(scalar).utf8)
            if scalar.value > 0xFFFF { units.append([own]); continue }
            let lower = Array(String(scalar).lowercased().utf8), upper = Array(String(scalar).uppercased().utf8)
            units.append(lower == upper ? [lower] : [lower, upper])
        }
        self.units = units
        if units.allSatisfy({ $0.allSatisfy { $0.count == 1 && $0[0] < 0x80 } }) {
            lower = units.map { $0[0][0] }
            upper = units.map { $0.count > 1 ? $0[1][0] : $0[0][0] }
        } else {
            lower = nil
            upper = nil
        }
    }

    enum Anchor { case whole, prefix, suffix }

    func matches(_ bytes: UnsafeBufferPointer<UInt8>, _ anchor: Anchor) -> Bool {
        if let lower, let upper {
            switch anchor {
            case .whole: guard bytes.count == lower.count else { return false }
            case .prefix, .suffix: guard bytes.count >= lower.count else { return false }
            }
            let offset = anchor == .suffix ? bytes.count - lower.count : 0
            for index in lower.indices {
                let byte = bytes[offset + index]
                if byte != lower[index] && byte != upper[index] { return false }
            }
            return true
        }
        // General case: the positions reachable after each character (alternatives may differ in length).
        if anchor == .suffix {
            var ends: Set<Int> = [bytes.count]
            for unit in units.reversed() {
                var next = Set<Int>()
                for end in ends {
                    for option in unit where option.count <= end {
                        if zip(option, bytes[(end - option.count)..<end]).allSatisfy({ $0 == $1 }) { next.insert(end - option.count) }
                    }
                }
                if next.isEmpty { return false }
                ends = next
            }
            return true
        }
        var starts: Set<Int> = [0]
        for unit in units {
            var next = Set<Int>()
            for start in starts {
                for option in unit where start + option.count <= bytes.count {
                    if zip(option, bytes[start..<(start + option.count)]).allSatisfy({ $0 == $1 }) { next.insert(start + option.count) }
                }
            }
            if next.isEmpty { return false }
            starts = next
        }
        return anchor == .prefix || starts.contains(bytes.count)
    }
}

// MARK: - Wildcards

/// A `wildcard` value: `*` matches any run of bytes (also none); `\*` is a literal asterisk and
/// `\\` a literal backslash. EventBridge and event-ruler refuse `**` and any other backslash.
struct Wildcard: Sendable, Equatable {
    /// The literal pieces between the asterisks (one more than there are asterisks).
    let pieces: [[UInt8]]

    /// The pattern, or the reason it is refused.
    static func parse(_ text: String) -> Result<Wildcard, PatternError> {
        let bytes = Array(text.utf8)
        var pieces: [[UInt8]] = [[]]
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "*") {
                if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "*") {
                    return .failure(PatternError(path: "", problem: "consecutive wildcard characters ('**') at position \(index) are not allowed"))
                }
                pieces.append([])
            } else if byte == UInt8(ascii: "\\") {
                guard index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "*") || bytes[index + 1] == UInt8(ascii: "\\") else {
                    return .failure(PatternError(path: "", problem: "invalid escape at position \(index): a backslash may only escape '*' or '\\'"))
                }
                pieces[pieces.count - 1].append(bytes[index + 1])
                index += 1
            } else {
                pieces[pieces.count - 1].append(byte)
            }
            index += 1
        }
        return .success(Wildcard(pieces: pieces))
    }

    func matches(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let first = pieces[0]
        guard pieces.count > 1 else { return bytes.elementsEqual(first) }
        let last = pieces[pieces.count - 1]
        guard bytes.count >= first.count + last.count,
              bytes.starts(with: first), bytes[(bytes.count - last.count)...].elementsEqual(last)
        else { return false }
        var from = first.count
        let end = bytes.count - last.count
        for piece in pieces[1..<(pieces.count - 1)] where !piece.isEmpty {
            guard let found = find(piece, in: bytes, from: from, end: end) else { return false }
            from = found + piece.count
        }
        return true
    }

    private func find(_ piece: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, from: Int, end: Int) -> Int? {
        guard end - from >= piece.count else { return nil }
        var start = from
        while start + piece.count <= end {
            if bytes[start] == piece[0] {
                var index = 1
                while index < piece.count && bytes[start + index] == piece[index] { index += 1 }
                if index == piece.count { return start }
            }
            start += 1
        }
        return nil
    }
}

/// Runs `body` over the UTF-8 bytes of `text`, without copying when the string is native.
@inline(__always)
func withBytes<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
    return Array(text.utf8).withUnsafeBufferPointer(body)
}
