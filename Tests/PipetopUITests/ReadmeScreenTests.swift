import Foundation
import PipetopUI
import Testing

/// The README's first screen is a golden's text: the block after the marker
/// `<!-- golden: NAME -->` in README.md must be the characters of `Goldens/NAME.txt` (its text
/// layer, trailing blanks of each row trimmed; styles are not shown in a README). With
/// `PIPETOP_RECORD_GOLDENS=1` the golden is recorded and the README block rewritten from it, so
/// the capture is refreshed with the goldens and never drifts from them.
@Suite struct ReadmeScreenTests {
    static let readme = Golden.directory.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("README.md")

    /// A golden's text layer: the rows between `# text WxH` and `# styles`, trailing blanks trimmed.
    static func text(ofGolden name: String) throws -> [String] {
        let golden = try String(contentsOf: Golden.directory.appendingPathComponent(name + ".txt"), encoding: .utf8)
        let lines = golden.components(separatedBy: "\n")
        let start = try #require(lines.firstIndex { $0.hasPrefix("# text ") }, "\(name): no text layer")
        let end = try #require(lines.firstIndex(of: "# styles"), "\(name): no style layer")
        return lines[(start + 1)..<end].map(trimmed)
    }

    static func trimmed(_ line: String) -> String {
        var line = Substring(line)
        while line.last == " " { line = line.dropLast() }
        return String(line)
    }

    /// The README's lines and where the block after the marker for `name` is (the lines between its fences).
    static func block(_ name: String) throws -> (lines: [String], rows: Range<Int>) {
        let lines = try String(contentsOf: readme, encoding: .utf8).components(separatedBy: "\n")
        let marker = try #require(lines.firstIndex { $0.hasPrefix("<!-- golden: \(name) ") || $0 == "<!-- golden: \(name) -->" }, "README.md has no <!-- golden: \(name) --> marker")
        try #require(lines.indices.contains(marker + 1) && lines[marker + 1].hasPrefix("```"), "README.md: a fenced block must follow the golden marker")
        let close = try #require(lines[(marker + 2)...].firstIndex { $0.hasPrefix("```") }, "README.md: the golden's block is not closed")
        return (lines, (marker + 2)..<close)
    }

    @Test func theReadmeFirstScreenIsTheOverviewGolden() throws {
        let name = GoldenTests.readmeScreen.name
        if Golden.recording {
            // Record the golden here too (GoldenTests may run after this test), then the README from it.
            try Golden.check(try GoldenTests().screen(GoldenTests.readmeScreen.size), name)
            var (lines, rows) = try Self.block(name)
            lines.replaceSubrange(rows, with: try Self.text(ofGolden: name))
            try lines.joined(separator: "\n").write(to: Self.readme, atomically: true, encoding: .utf8)
            return
        }
        let (lines, rows) = try Self.block(name)
        let shown = Array(lines[rows])
        let golden = try Self.text(ofGolden: name)
        #expect(golden.count == GoldenTests.readmeScreen.size.height)
        #expect(golden.allSatisfy { DisplayWidth.of($0) <= GoldenTests.readmeScreen.size.width })
        if shown != golden {
            let line = zip(shown, golden).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(shown.count, golden.count)
            Issue.record("""
                README.md's first screen differs from Goldens/\(name).txt at its row \(line + 1):
                  README: \(line < shown.count ? shown[line] : "<end>")
                  golden: \(line < golden.count ? golden[line] : "<end>")
                (refresh it with PIPETOP_RECORD_GOLDENS=1 swift test --skip-build --filter ReadmeScreenTests)
                """)
        }
    }
}
