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
                        actual.putPadded(text, x: 3, y: 0, width: width, right: right, style: style, maxX: maxX)
                        #expect(actual == expected, "\(text.debugDescription) width \(width) right \(right) maxX \(maxX)")
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
}
