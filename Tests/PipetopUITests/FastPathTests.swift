import Foundation
import PipetopCore
@testable import PipetopUI
import Testing

/// The frame's fast paths (printable ASCII, padding by filling, durations without printf) must
/// draw exactly what the general code draws.
@Suite struct FastPathTests {
    static let texts = ["", "abc", "a much longer text than the column", "tab\there", "esc\u{1B}[2J", "e\u{301}te", "日本語テキスト", "ok 🚀 done",
                        "❤️ x", "cr\r\nlf", "\u{9B}c1", "exactly10!", "a価", "⣿⣀⡇ ▁▂▃█", "─│┌ x", "▏▎▍", "⣿\u{301}", "█\u{FE0F}", "⠀⢀ 価"]

    @Test func paddedPutDrawsWhatPuttingThePaddedStringDraws() {
        for text in Self.texts {
            for width in [0, 1, 3, 10, 17] {
                for right in [false, true] {
                    for maxX in [5, 12, 40] {
                        // Start from a grid with wide characters across the column's edges.
                        var expected = Grid(size: Size(width: 40, height: 1))
                        expected.put("価価価価価価価価価価価価価価価価価価価価", x: 0, y: 0, style: Style(fg: .basic(2)))
                        var actual = expected
                        let style = Style(fg: .basic(1))
                        expected.put(DisplayWidth.pad(text, to: width, right: right), x: 3, y: 0, style: style, maxX: maxX)
                        var measured = actual
                        actual.putPadded(text, x: 3, y: 0, width: width, right: right, style: style, maxX: maxX)
                        #expect(actual == expected, "\(text.debugDescription) width \(width) right \(right) maxX \(maxX)")
                        measured.putPadded(text, x: 3, y: 0, width: width, right: right, style: style, maxX: maxX, textWidth: DisplayWidth.of(text))
                        #expect(measured == expected, "\(text.debugDescription) width \(width) right \(right) maxX \(maxX), width known")
                    }
                }
            }
        }
    }

    @Test func fastPathsPutWhatTheGraphemePathPuts() {
        for text in Self.texts {
            for x in [-2, 0, 3] {
                for maxX in [5, 12, 40] {
                    var expected = Grid(size: Size(width: 40, height: 1))
                    expected.put("価価価価価価価価価価価価価価価価価価価価", x: 0, y: 0, style: Style(fg: .basic(2)))
                    var actual = expected
                    expected.putGraphemes(text, x: x, y: 0, style: Style(fg: .basic(1)), limit: maxX)
                    actual.put(text, x: x, y: 0, style: Style(fg: .basic(1)), maxX: maxX)
                    #expect(actual == expected, "\(text.debugDescription) x \(x) maxX \(maxX)")
                }
            }
        }
    }

    @Test func asciiWidthsAreByteCounts() {
        for text in Self.texts {
            let general = text.reduce(0) { $0 + DisplayWidth.of($1) }
            #expect(DisplayWidth.of(text) == general, "\(text.debugDescription)")
        }
    }

    @Test func wholeNumbersAreWhatPrintfWrites() {
        var values: [Double] = [0, -0.0, 0.5, 1.5, 2.5, 3.5, 0.49999999999999994, 999.5, 1000.5, 12.4999, 59.5, 1e15, 1e16, -1, -0.4, .infinity, .nan]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 { values.append(Double.random(in: 0..<1000, using: &generator)) }
        for _ in 0..<200 { values.append(Double(Int.random(in: 0..<2000, using: &generator)) / 2) }  // exact halves
        for value in values {
            #expect(Format.whole(value) == String(format: "%.0f", value), "\(value)")
        }
        for seconds in [0.0000004, 0.0000005, 0.0009994, 0.0995, 0.5, 0.9994, 0.9996, 10.5, 11.5, 59.4, 59.6] {
            #expect(Format.duration(seconds).hasSuffix("s"))
        }
    }

    @Test func tenthsAreWhatPrintfWrites() {
        var values: [Double] = [0, -0.0, 0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.95, 9.95, 9.96, 9.949999999999999, 2.675, 1.0000000000000002,
                                0.04999999999999999, 12.25, 1e13 + 0.05, 99999999999999.95, 1e14, 1e15, -1.25, .infinity, -.infinity, .nan,
                                Double.leastNonzeroMagnitude, 5e-324, 0.1, 0.2, 0.3]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 { values.append(Double.random(in: 0..<10, using: &generator)) }
        for _ in 0..<1000 { values.append(Double.random(in: 0..<1e6, using: &generator)) }
        for n in 0..<2000 { values.append(Double(n) / 20) }  // x.x5: ties in decimal, rarely in binary
        for n in 0..<400 { values.append(Double(n) / 4) }  // exact binary ties at one decimal (x.25, x.75)
        for value in values {
            #expect(Format.tenths(value) == String(format: "%.1f", value), "\(value)")
        }
    }

    /// What the formats were with printf, before they were written by hand.
    @Test func ratesCountsDurationsAndClocksAreWhatPrintfWrote() {
        func rate(_ value: Double) -> String {
            if value == 0 { return "0" }
            if value < 10 { return String(format: "%.1f", value) }
            if value < 10_000 { return String(format: "%.0f", value) }
            return String(format: "%.1fk", value / 1000)
        }
        func count(_ n: Int64) -> String {
            let a = abs(n)
            if a < 10_000 { return "\(n)" }
            if a < 1_000_000 { return String(format: "%.1fk", Double(n) / 1000) }
            return String(format: "%.1fM", Double(n) / 1_000_000)
        }
        func duration(_ seconds: Double) -> String {
            if seconds < 0.001 { return String(format: "%.0f", seconds * 1_000_000) + "µs" }
            if seconds < 1 { return String(format: "%.0f", seconds * 1000) + "ms" }
            if seconds < 10 { return String(format: "%.1fs", seconds) }
            if seconds < 60 { return String(format: "%.0f", seconds) + "s" }
            let total = Int(seconds)
            if total < 3600 { return String(format: "%dm%02ds", total / 60, total % 60) }
            if total < 86400 { return String(format: "%dh%02dm", total / 3600, total % 3600 / 60) }
            return String(format: "%dd%02dh", total / 86400, total % 86400 / 3600)
        }
        var generator = SystemRandomNumberGenerator()
        var values: [Double] = [0, 0.05, 0.25, 9.95, 9.96, 9999.5, 10_000, 12_345.6, 99_950, 1e9, -3, -0.25]
        for _ in 0..<2000 { values.append(Double.random(in: 0..<100_000, using: &generator)) }
        for _ in 0..<1000 { values.append(Double.random(in: 0..<12, using: &generator)) }
        for value in values { #expect(Format.rate(value) == rate(value), "rate \(value)") }
        var counts: [Int64] = [0, 9_999, 10_000, -10_000, 99_950, 999_949, 999_950, 1_000_000, 1_050_000, 1_250_000, -2_500_000, Int64(Int32.max)]
        for _ in 0..<2000 { counts.append(Int64.random(in: -5_000_000...50_000_000, using: &generator)) }
        for n in counts { #expect(Format.count(n) == count(n), "count \(n)") }
        var seconds: [Double] = [-1, 0, 0.0000004, 0.0000005, 0.0009994, 0.0995, 0.5, 0.9994, 0.9996, 1.05, 1.25, 9.95, 9.96, 10.5, 11.5, 59.4, 59.6,
                                 60, 61, 3599.9, 3600, 3661, 86_399, 86_400, 90_061, 1_000_000]
        for _ in 0..<3000 { seconds.append(Double.random(in: 0..<200_000, using: &generator)) }
        for _ in 0..<3000 { seconds.append(Double.random(in: 0..<12, using: &generator)) }
        for value in seconds { #expect(Format.duration(value) == duration(value), "duration \(value)") }
        var times: [Int64] = [0, 999, 1000, 59_999_999, 86_399_999_999, 86_400_000_000, -1, -1_000_001, 1_733_100_000_123_456]
        for _ in 0..<2000 { times.append(Int64.random(in: -1_000_000_000_000...2_000_000_000_000_000, using: &generator)) }
        for micros in times {
            for offset in [0, 3600, -18_000, 19_800] {
                let day = ((micros + Int64(offset) * 1_000_000) / 1000 % 86_400_000 + 86_400_000) % 86_400_000
                let expected = String(format: "%02lld:%02lld:%02lld.%03lld", day / 3_600_000, day / 60_000 % 60, day / 1000 % 60, day % 1000)
                #expect(Format.clock(Timestamp(micros: micros), offset: offset) == expected, "clock \(micros) \(offset)")
            }
        }
    }
}
