import Foundation

/// Microseconds since the Unix epoch: the one time unit of the store.
///
/// Integers sort, subtract and index cheaply in SQLite and PostgreSQL alike, and any language can
/// read them without a date parser.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var micros: Int64

    public init(micros: Int64) { self.micros = micros }

    public init(_ date: Date) {
        micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    /// The wall clock, read with `clock_gettime` (cheaper than `Date()` on the hot path).
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(micros: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000)
    }

    public var date: Date { Date(timeIntervalSince1970: Double(micros) / 1_000_000) }
    public var seconds: Double { Double(micros) / 1_000_000 }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.micros < b.micros }

    public static func + (t: Timestamp, d: Duration) -> Timestamp { Timestamp(micros: t.micros + d.micros) }
    public static func - (t: Timestamp, d: Duration) -> Timestamp { Timestamp(micros: t.micros - d.micros) }
    public static func - (a: Timestamp, b: Timestamp) -> Duration { .microseconds(a.micros - b.micros) }

    /// RFC 3339 with microseconds, in UTC: the form CloudEvents' `time` attribute uses.
    public var rfc3339: String {
        var seconds = time_t(micros.floorDiv(1_000_000))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let fraction = micros.floorMod(1_000_000)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
            Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), fraction)
    }

    public var description: String { rfc3339 }

    /// Parses an RFC 3339 date-time (`2026-11-24T20:16:38Z`, `2025-12-31T23:59:59.123456789-07:00`):
    /// a fraction of any length (what Go's `RFC3339Nano` and Java's `Instant` write has nine
    /// digits) is kept to the microsecond, the store's unit, and the digits past the sixth are
    /// truncated (not rounded, so a time never moves into the next second); `Z`, `z` or `±hh:mm`;
    /// `T`, `t` or a space between date and time. A day that does not exist in its month is refused;
    /// a leap second (`:60`) is read as the first instant of the next minute; an instant whose UTC
    /// year is outside 0000–9999 (`9999-12-31T23:30:00-01:00`) is refused, as `rfc3339` could not
    /// write it. Never traps: any other text gives nil.
    public init?(rfc3339 text: String) {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard bytes.count >= 20,
              let year = number(0..<4), bytes[4] == 45, let month = number(5..<7), bytes[7] == 45,
              let day = number(8..<10), bytes[10] == 84 || bytes[10] == 116 || bytes[10] == 32,
              let hour = number(11..<13), bytes[13] == 58, let minute = number(14..<16), bytes[16] == 58,
              let second = number(17..<19),
              (1...12).contains(month), day >= 1, day <= Self.days(inMonth: month, of: year),
              hour < 24, minute < 60, second <= 60
        else { return nil }
        var index = 19
        var fraction: Int64 = 0
        if bytes[index] == 46 {  // "."
            index += 1
            var digits = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                if digits < 6 { fraction = fraction * 10 + Int64(bytes[index] - 48) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in 0..<max(0, 6 - digits) { fraction *= 10 }
        }
        guard index < bytes.count else { return nil }
        var offsetSeconds = 0
        switch bytes[index] {
        case 90, 122:  // "Z", "z"
            index += 1
        case 43, 45:  // "+", "-"
            guard index + 6 == bytes.count, let oh = number(index + 1..<index + 3), bytes[index + 3] == 58,
                  let om = number(index + 4..<index + 6), oh < 24, om < 60
            else { return nil }
            offsetSeconds = (oh * 3600 + om * 60) * (bytes[index] == 43 ? 1 : -1)
            index += 6
        default:
            return nil
        }
        guard index == bytes.count else { return nil }
        // Days since the epoch (proleptic Gregorian), computed here rather than by timegm, whose
        // time_t and normalisation vary by platform.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = Int64(era) * 146_097 + Int64(dayOfEra) - 719_468
        let epoch = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        micros = epoch * 1_000_000 + fraction
        // In UTC, as `rfc3339` prints it, the year must still have four digits.
        guard micros >= Self.earliest.micros, micros <= Self.latest.micros else { return nil }
    }

    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: the instants RFC 3339 can write in UTC.
    static let earliest = Timestamp(micros: -62_167_219_200_000_000)
    static let latest = Timestamp(micros: 253_402_300_799_999_999)

    /// A time as the CLI's `--since`/`--until` and the dashboard's `since:`/`until:` take it: an
    /// RFC 3339 time, or a duration (`Duration(parsing:)`) before `now`. Nil for anything else.
    public init?(timeOrAgo text: String, now: Timestamp) {
        if let time = Timestamp(rfc3339: text) {
            self = time
        } else if let ago = Duration(parsing: text) {
            self = now - ago
        } else {
            return nil
        }
    }

    /// What `init(timeOrAgo:now:)` takes, for messages that refuse other text.
    public static let timeOrAgoForms = "an RFC 3339 time (2026-12-01T10:00:00Z) or a duration ago (10m, 2h)"

    static func days(inMonth month: Int, of year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

extension Duration {
    /// Whole microseconds (truncated), the store's unit.
    public var micros: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }

    public var secondsDouble: Double { Double(micros) / 1_000_000 }

    /// Parses `250ms`, `15s`, `2m`, `1h`, `1m30s` or a bare number of seconds.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        // Up to about 292,000 years (what Int64 microseconds hold); NaN, infinity and more are nil.
        func micros(_ seconds: Double) -> Int64? {
            let value = seconds * 1_000_000
            guard value.isFinite, value >= 0, value < 9.2e18 else { return nil }
            return Int64(value)
        }
        if let seconds = Double(trimmed) {
            guard let value = micros(seconds) else { return nil }
            self = .microseconds(value)
            return
        }
        var total: Double = 0
        var rest = Substring(trimmed)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard !digits.isEmpty, let value = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            switch unit {
            case "us", "µs": total += value / 1_000_000
            case "ms": total += value / 1000
            case "s": total += value
            case "m": total += value * 60
            case "h": total += value * 3600
            default: return nil
            }
        }
        guard let value = micros(total) else { return nil }
        self = .microseconds(value)
    }
}

extension Int64 {
    func floorDiv(_ d: Int64) -> Int64 { (self >= 0 ? self : self - d + 1) / d }
    func floorMod(_ d: Int64) -> Int64 { self - floorDiv(d) * d }
}
