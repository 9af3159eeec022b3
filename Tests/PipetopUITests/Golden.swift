import Foundation
import PipetopUI
import Testing

/// Golden screens: a rendered grid as its text layer plus a style layer (one symbol per cell,
/// with a legend), compared with a file in `Goldens/`.
///
/// Re-record after an intended change of the screens:
/// `PIPETOP_RECORD_GOLDENS=1 swift test --filter GoldenTests`, then review the diff and commit it.
enum Golden {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Goldens")
    static var recording: Bool { !(ProcessInfo.processInfo.environment["PIPETOP_RECORD_GOLDENS"] ?? "").isEmpty }

    static let symbols = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@$%&*+=")

    static func encode(_ grid: Grid) -> String {
        var legend: [Style: Character] = [:]
        var order: [Style] = []
        var styleRows: [String] = []
        for y in 0..<grid.height {
            var row = ""
            for x in 0..<grid.width {
                let style = grid[x, y].style
                if legend[style] == nil {
                    legend[style] = order.count < symbols.count ? symbols[order.count] : "?"
                    order.append(style)
                }
                row.append(legend[style]!)
            }
            styleRows.append(row)
        }
        var out = "# text \(grid.width)x\(grid.height)\n"
        out += (0..<grid.height).map { grid.row($0) }.joined(separator: "\n") + "\n"
        out += "# styles\n" + styleRows.joined(separator: "\n") + "\n"
        out += "# legend\n" + order.map { "\(legend[$0]!) \($0)" }.joined(separator: "\n") + "\n"
        return out
    }

    static func check(_ grid: Grid, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let file = directory.appendingPathComponent(name + ".txt")
        let actual = encode(grid)
        if recording {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try actual.write(to: file, atomically: true, encoding: .utf8)
            return
        }
        guard let expected = try? String(contentsOf: file, encoding: .utf8) else {
            Issue.record("no golden file \(file.path); record it with PIPETOP_RECORD_GOLDENS=1", sourceLocation: sourceLocation)
            return
        }
        if expected != actual {
            let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
            let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let line = zip(a, e).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, e.count)
            let got = line < a.count ? String(a[line]) : "<end>"
            let want = line < e.count ? String(e[line]) : "<end>"
            Issue.record("\(name) differs from its golden at line \(line + 1):\n  want: \(want)\n  got:  \(got)\n(re-record with PIPETOP_RECORD_GOLDENS=1 if the change is intended)", sourceLocation: sourceLocation)
        }
    }
}
