import Foundation
import PipetopCore

/// Numbers, durations and times as the dashboard shows them: short and fixed-width-friendly.
public enum Format {
    public static func count(_ n: Int64) -> String {
        let a = abs(n)
        if a < 10_000 { return "\(n)" }
        if a < 1_000_000 { return String(format: "%.1fk", Double(n) / 1000) }
        return String(format: "%.1fM", Double(n) / 1_000_000)
    }

    public static func count(_ n: Int) -> String { count(Int64(n)) }

    public static func rate(_ value: Double?) -> String {
        guard let value else { return "–" }
        if value == 0 { return "0" }
        if value < 10 { return String(format: "%.1f", value) }
        if value < 10_000 { return String(format: "%.0f", value) }
        return String(format: "%.1fk", value / 1000)
    }

    /// 850µs, 12ms, 1.2s, 3m05s, 2h10m.
    public static func duration(_ seconds: Double) -> String {
        if seconds < 0.001 { return whole(seconds * 1_000_000) + "µs" }
        if seconds < 1 { return whole(seconds * 1000) + "ms" }
        if seconds < 10 { return String(format: "%.1fs", seconds) }
        if seconds < 60 { return whole(seconds) + "s" }
        let total = Int(seconds)
        if total < 3600 { return String(format: "%dm%02ds", total / 60, total % 60) }
        if total < 86400 { return String(format: "%dh%02dm", total / 3600, total % 3600 / 60) }
        return String(format: "%dd%02dh", total / 86400, total % 86400 / 3600)
    }

    /// `String(format: "%.0f", value)` without Foundation's formatter, which was most of an Events
    /// row's cost (a duration per visible row per frame). printf rounds the exact binary value half
    /// to even, as `rounded(.toNearestOrEven)` does; negative, huge or non-finite values (never
    /// a real duration) still go through printf, so the text is the same for every input.
    static func whole(_ value: Double) -> String {
        guard value.sign == .plus, value < 1e15 else { return String(format: "%.0f", value) }
        return String(Int64(value.rounded(.toNearestOrEven)))
    }

    /// Wall-clock time of day with milliseconds, shifted by `offset` seconds from UTC.
    public static func clock(_ time: Timestamp, offset: Int) -> String {
        let micros = time.micros + Int64(offset) * 1_000_000
        let day = ((micros / 1000) % 86_400_000 + 86_400_000) % 86_400_000
        // By hand rather than String(format:): this runs for every visible row of every frame.
        func pad(_ n: Int64, _ width: Int) -> String {
            let digits = String(n)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(day / 3_600_000, 2) + ":" + pad(day / 60_000 % 60, 2) + ":" + pad(day / 1000 % 60, 2) + "." + pad(day % 1000, 3)
    }

    /// The first characters of an id (correlation ids are long).
    public static func short(_ id: String?, _ n: Int = 8) -> String {
        guard let id else { return "" }
        return id.count <= n ? id : String(id.prefix(n))
    }
}
