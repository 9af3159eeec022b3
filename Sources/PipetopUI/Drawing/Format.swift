import Foundation
import PipetopCore

/// Numbers, durations and times as the dashboard shows them: short and fixed-width-friendly.
public enum Format {
    public static func count(_ n: Int64) -> String {
        let a = abs(n)
        if a < 10_000 { return "\(n)" }
        if a < 1_000_000 { return tenths(Double(n) / 1000) + "k" }
        return tenths(Double(n) / 1_000_000) + "M"
    }

    public static func count(_ n: Int) -> String { count(Int64(n)) }

    public static func rate(_ value: Double?) -> String {
        guard let value else { return "–" }
        if value == 0 { return "0" }
        if value < 10 { return tenths(value) }
        if value < 10_000 { return whole(value) }
        return tenths(value / 1000) + "k"
    }

    /// 850µs, 12ms, 1.2s, 3m05s, 2h10m.
    public static func duration(_ seconds: Double) -> String {
        if seconds < 0.001 { return whole(seconds * 1_000_000) + "µs" }
        if seconds < 1 { return whole(seconds * 1000) + "ms" }
        if seconds < 10 { return tenths(seconds) + "s" }
        if seconds < 60 { return whole(seconds) + "s" }
        let total = Int(seconds)
        if total < 3600 { return "\(total / 60)m" + twoDigits(total % 60) + "s" }
        if total < 86400 { return "\(total / 3600)h" + twoDigits(total % 3600 / 60) + "m" }
        return "\(total / 86400)d" + twoDigits(total % 86400 / 3600) + "h"
    }

    /// `String(format: "%02d", n)` for 0 ≤ n < 100.
    static func twoDigits(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// `String(format: "%.1f", value)` without Foundation's formatter, which cost tens of
    /// microseconds a call (the header shows rates and ages in every frame). printf rounds the
    /// exact binary value to one decimal, half to even. `value * 10` is itself rounded, but only
    /// where it lands exactly on a half can that change the answer (a nearer half would be the
    /// product); there the product's exact error, which a fused multiply-add recovers, decides.
    /// Negative, huge or non-finite values still go through printf.
    static func tenths(_ value: Double) -> String {
        guard value.sign == .plus, value < 1e14 else { return String(format: "%.1f", value) }
        let product = value * 10
        var rounded = product.rounded(.toNearestOrEven)
        if product - product.rounded(.down) == 0.5 {
            let error = (-product).addingProduct(value, 10)  // value × 10 − product, exactly
            if error > 0 { rounded = product.rounded(.up) } else if error < 0 { rounded = product.rounded(.down) }
        }
        let n = Int64(rounded)
        return "\(n / 10)." + String(n % 10)
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
        let day = Int((((micros / 1000) % 86_400_000) + 86_400_000) % 86_400_000)
        // By hand rather than String(format:): this runs for every visible row of every frame.
        // The twelve bytes are written straight into the string (a small one, not allocated).
        return String(unsafeUninitializedCapacity: 12) { bytes in
            func digits(_ n: Int, _ count: Int, at offset: Int) {
                var n = n
                for index in stride(from: offset + count - 1, through: offset, by: -1) {
                    bytes[index] = UInt8(ascii: "0") + UInt8(n % 10)
                    n /= 10
                }
            }
            digits(day / 3_600_000, 2, at: 0)
            bytes[2] = UInt8(ascii: ":")
            digits(day / 60_000 % 60, 2, at: 3)
            bytes[5] = UInt8(ascii: ":")
            digits(day / 1000 % 60, 2, at: 6)
            bytes[8] = UInt8(ascii: ".")
            digits(day % 1000, 3, at: 9)
            return 12
        }
    }

    /// The first characters of an id (correlation ids are long).
    public static func short(_ id: String?, _ n: Int = 8) -> String {
        guard let id else { return "" }
        return id.count <= n ? id : String(id.prefix(n))
    }
}
