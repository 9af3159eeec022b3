import Foundation
import PipetopCore
@testable import PipetopUI
import Testing

@Suite struct GridTests {
    @Test func wideCharactersTakeTwoCellsAndOverwritingHalfClearsTheOther() {
        var grid = Grid(size: Size(width: 10, height: 1))
        let end = grid.put("a価b🚀", x: 0, y: 0, style: .plain)
        #expect(end == 6)
        #expect(grid.row(0) == "a価b🚀    ")
        #expect(grid[1, 0].isWide && grid[2, 0].isContinuation)
        grid.put("x", x: 2, y: 0, style: .plain)  // onto the second half of 価
        #expect(grid.row(0) == "a xb🚀    ")
        #expect(!grid[1, 0].isWide)
    }

    @Test func aWideCharacterThatDoesNotFitLeavesASpace() {
        var grid = Grid(size: Size(width: 3, height: 1))
        grid.put("ab価", x: 0, y: 0, style: .plain)
        #expect(grid.row(0) == "ab ")
    }

    @Test func controlCharactersAreShownEscaped() {
        var grid = Grid(size: Size(width: 30, height: 1))
        grid.put("a\u{1B}[2Jb\u{7}\r\n\u{9B}", x: 0, y: 0, style: .plain)
        #expect(grid.row(0).hasPrefix("a\\e[2Jb\\u{7}\\r\\n\\u{9b}"))
        #expect(!grid.cells.contains { $0.character.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) } })
    }

    @Test func bidiAndInvisibleCharactersAreShownEscaped() {
        var grid = Grid(size: Size(width: 40, height: 1))
        grid.put("id\u{202E}gpj.exe\u{200B}\u{E0041}", x: 0, y: 0, style: .plain)
        #expect(grid.row(0).hasPrefix(#"id\u{202e}gpj.exe\u{200b}\u{e0041}"#))
        #expect(!grid.cells.contains { $0.character.unicodeScalars.contains(where: \.isTerminalUnsafe) })
    }

    @Test func widthOfCombiningAndEmojiSequences() {
        #expect(DisplayWidth.of("e\u{301}") == 1)
        #expect(DisplayWidth.of("日本") == 4)
        #expect(DisplayWidth.of("❤️") == 2)
        #expect(DisplayWidth.truncate("abcdef", to: 4) == "abc…")
        #expect(DisplayWidth.truncate("日本語", to: 4) == "日…")
    }

    @Test func diffHasOnlyTheChangedCells() {
        var a = Grid(size: Size(width: 20, height: 3))
        a.put("hello world", x: 0, y: 1, style: .plain)
        var b = a
        b.put("W", x: 6, y: 1, style: .plain)
        b.put("!", x: 19, y: 2, style: Style(attributes: .bold))
        let runs = b.diff(from: a)
        #expect(runs == [Grid.Run(x: 6, y: 1, cells: [b[6, 1]]), Grid.Run(x: 19, y: 2, cells: [b[19, 2]])])
        #expect(b.diff(from: b).isEmpty)
        #expect(b.diff(from: nil).count == 3, "no previous frame: everything")
        #expect(b.diff(from: Grid(size: Size(width: 10, height: 3))).count == 3, "a resize: everything")
    }

    @Test func aRunNeverStartsOnTheSecondHalfOfAWideCharacter() {
        var a = Grid(size: Size(width: 6, height: 1))
        a.put("価", x: 2, y: 0, style: .plain)
        var b = a
        b.put("価", x: 2, y: 0, style: Style(attributes: .bold))
        let runs = b.diff(from: a)
        #expect(runs.first?.x == 2)
    }

    @Test func graphemesOfAnyLengthReadBackAsWritten() {
        // Up to six scalars pack into a cell; longer graphemes (stacked marks, long conjuncts)
        // are kept beside the cells. Either way the text reads back as it was written.
        let stacked = "e" + String(repeating: "\u{301}\u{302}", count: 5)
        let six = "स्त्री", seven = "क्ष्म्य"
        let text = "a" + stacked + six + "価" + seven + "é❤️"
        var grid = Grid(size: Size(width: 16, height: 1))
        grid.put(text, x: 0, y: 0, style: .plain)
        #expect(grid.row(0) == text + String(repeating: " ", count: 16 - DisplayWidth.of(text)))
        #expect(grid[1, 0].character == Character(stacked))
        #expect(grid.cells.filter { !$0.isContinuation }.map(\.character).filter { $0 != " " } == Array(text))
        // What `fill` stores is not escaped: a seven-scalar emoji sequence, say.
        let family = Character("\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}")
        grid.fill(Rect(x: 0, y: 0, width: 1, height: 1), style: .plain, character: family)
        #expect(grid[0, 0].character == family && grid[1, 0].character == Character(stacked))
    }

    @Test func longGraphemesCompareByTextAcrossGrids() {
        let stacked = "e" + String(repeating: "\u{301}", count: 9)
        var a = Grid(size: Size(width: 8, height: 1))
        a.put("x" + stacked, x: 0, y: 0, style: .plain)
        var b = Grid(size: Size(width: 8, height: 1))
        b.put("o" + String(repeating: "\u{302}", count: 8), x: 5, y: 0, style: .plain)  // another long one first
        b.put("x" + stacked, x: 0, y: 0, style: .plain)
        b.put(" ", x: 5, y: 0, style: .plain)
        #expect(a == b, "the same screen, though the grapheme is kept at another index in each grid")
        #expect(b.diff(from: a).isEmpty)
        var c = a
        c.put("e" + String(repeating: "\u{300}", count: 9), x: 1, y: 0, style: .plain)
        #expect(c != a)
        #expect(c.diff(from: a).map(\.x) == [1])
    }

    @Test func aCellsStyleReadsBackAsWritten() {
        let colors: [PipetopUI.Color] = [.default, .basic(0), .basic(15), .indexed(0), .indexed(255), .rgb(0, 0, 0), .rgb(255, 255, 255), .rgb(1, 2, 3)]
        let attributes: [Attributes] = [[], .bold, .dim, .italic, .underline, .reverse, [.bold, .dim, .italic, .underline, .reverse]]
        var seen: [UInt64: Style] = [:]
        for fg in colors {
            for bg in colors {
                for attribute in attributes {
                    let style = Style(fg: fg, bg: bg, attributes: attribute)
                    var grid = Grid(size: Size(width: 3, height: 1))
                    grid.put("a価", x: 0, y: 0, style: style)
                    #expect(grid[0, 0].style == style && grid[1, 0].style == style && grid[2, 0].style == style)
                    #expect(grid[1, 0].isWide && !grid[1, 0].isContinuation && grid[2, 0].isContinuation && !grid[0, 0].isWide)
                    let key = grid.stored[0].styleKey
                    #expect(seen[key] == nil, "two styles, one key: \(style), \(seen[key].map { "\($0)" } ?? "")")
                    seen[key] = style
                }
            }
        }
    }

    @Test func changesAreWhereTheDiffsRunsAre() {
        var a = Grid(size: Size(width: 30, height: 3))
        a.put("hello 価格 world ⣿⣿", x: 0, y: 0, style: .plain)
        var b = a
        b.put("HELLO", x: 0, y: 0, style: .plain)
        b.put("価", x: 7, y: 0, style: Style(attributes: .bold))
        b.put("tail", x: 26, y: 2, style: .plain)
        let runs = b.diff(from: a)
        #expect(b.changes(from: a) == runs.map { Grid.Span(x: $0.x, y: $0.y, count: $0.cells.count) })
        #expect(b.changes(from: nil).count == 3)
        for run in runs {
            for (offset, cell) in run.cells.enumerated() {
                let stored = b.stored[run.y * b.width + run.x + offset]
                #expect(stored.style == cell.style && stored.isWide == cell.isWide && stored.isContinuation == cell.isContinuation)
                #expect(b.character(of: stored.glyph) == cell.character)
            }
        }
    }
}

@Suite struct WidgetTests {
    @Test func tableDropsColumnsByPriorityAndCutsWithEllipsis() {
        let table = Table(columns: [Column("NAME", min: 6, priority: 0), Column("A", min: 5, priority: 2), Column("B", min: 5, priority: 1),
                                    Column("TEXT", min: 8, priority: 0, flexible: true)],
                          rows: [["a-very-long-name", "1", "2", "something"]])
        #expect(table.layout(width: 100).map(\.column) == [0, 1, 2, 3])
        #expect(table.layout(width: 24).map(\.column) == [0, 2, 3], "A (priority 2) goes first")
        #expect(table.layout(width: 16).map(\.column) == [0, 3])
        let wide = table.layout(width: 60)
        #expect(wide.reduce(0) { $0 + $1.width } + 2 * 3 == 60, "the flexible column takes the rest")
        var grid = Grid(size: Size(width: 18, height: 2))
        table.render(into: &grid, Rect(x: 0, y: 0, width: 18, height: 2), header: .plain, row: .plain, selected: .plain)
        #expect(grid.row(1) == "a-very-…  somethi…")
    }

    @Test func sparklineScalesToItsMaximum() {
        #expect(String(Sparkline.glyphs([0, 1, 2, 4, 8], width: 5).map(\.0)) == " ▁▂▄█")
        #expect(Sparkline.glyphs([1, 2, 3], width: 2).count == 2, "only the last values that fit")
    }

    @Test func brailleGraphFillsUnderTheCurve() {
        let rows = BrailleGraph.rows([0, 4, 8, 8], width: 2, height: 2)
        #expect(rows == ["⠀⣿", "⢸⣿"])
    }

    @Test func barsUseEighths() {
        #expect(Bars.bar(5, maximum: 10, width: 4) == "██")
        #expect(Bars.bar(1, maximum: 8, width: 1) == "▏")
        #expect(Bars.bar(0, maximum: 8, width: 4) == "")
    }

    @Test func wrappedTextBreaksAtWordsAndCutsLongWords() {
        #expect(WrappedText.lines("the quick brown fox", width: 10) == ["the quick", "brown fox"])
        #expect(WrappedText.lines("abcdefghijkl x", width: 5) == ["abcde", "fghij", "kl x"])
    }

    @Test func keyHintsKeepHelpAndQuitWhenTheOthersDoNotFit() {
        let hints = [("j/k", "scroll"), ("G", "follow"), ("c", "flow"), ("enter", "trace"), ("?", "help"), ("q", "quit")].map { (key: $0.0, label: $0.1) }
        var grid = Grid(size: Size(width: 40, height: 1))
        KeyHints.render(hints, into: &grid, y: 0, width: 40, key: Style(), text: Style())
        #expect(grid.row(0) == " j/k scroll  G follow  ? help  q quit   ", "the screen's hints that fit, then help and quit")
        var wide = Grid(size: Size(width: 80, height: 1))
        KeyHints.render(hints, into: &wide, y: 0, width: 80, key: Style(), text: Style())
        #expect(wide.row(0).hasPrefix(" j/k scroll  G follow  c flow  enter trace  ? help  q quit  "), "all, in order")
        var narrow = Grid(size: Size(width: 14, height: 1))
        KeyHints.render(hints, into: &narrow, y: 0, width: 14, key: Style(), text: Style())
        #expect(narrow.row(0) == " ? help       ", "never past the edge")
    }

    @Test func filterParsesTerms() {
        let f = Filter("kind:dead queue:Enrich corr:abc* boom")
        let r = LifecycleRecord(seq: 1, time: Timestamp(micros: 0), kind: .deadLettered, eventID: "e", correlationID: "abcdef", queue: "enrich", error: "BOOM")
        #expect(f.matches(r), "corr:PREFIX* is a prefix")
        #expect(!Filter("corr:abc").matches(r), "corr:ID is one flow exactly")
        #expect(Filter("corr:abcdef kind:dead").matches(r))
        #expect(!Filter("kind:failed").matches(r))
    }
}

@Suite struct ThemeTests {
    @Test func everyShippedThemeLoads() throws {
        let catalog = Fixture.catalog
        #expect(Set(["default", "light", "high-contrast", "monochrome", "dracula", "nord"]).isSubset(of: Set(catalog.names())))
        for name in catalog.names() {
            let theme = try catalog.load(name)
            #expect(theme.name == name)
            #expect(theme[.tableSelected] != theme[.tableRow], "\(name): the selection must stand out")
        }
        #expect(try catalog.load("dracula")[.base] == Style(fg: .rgb(0xf8, 0xf8, 0xf2), bg: .rgb(0x28, 0x2a, 0x36)))
    }

    @Test func malformedThemesNameTheFileAndTheProblem() {
        func problem(_ yaml: String) -> String? {
            do { _ = try Theme.parse(yaml: yaml, file: "/t/bad.yaml"); return nil } catch let error as ThemeError {
                #expect(error.file == "/t/bad.yaml")
                return error.problem
            } catch { return "\(error)" }
        }
        #expect(problem("styles:\n  base: { fg: #ff0000 }\n")?.contains("quoted") == true)
        #expect(problem("styles:\n  base: { fg: chartreuse }\n")?.contains("unknown colour 'chartreuse'") == true)
        #expect(problem("styles:\n  base: {}\n  tabel.row: {}\n")?.contains("unknown style 'tabel.row'") == true)
        #expect(problem("styles:\n  base: { fg: 300 }\n")?.contains("not in 0...255") == true)
        #expect(problem("styles:\n  base: { blink: true }\n")?.contains("unknown key 'blink'") == true)
        #expect(problem("styles: [\n")?.contains("not valid YAML") == true)
        #expect(problem("name: x\n")?.contains("missing `styles:`") == true)
    }

    @Test func userThemesWinAndABrokenThemeFallsBackToDefault() throws {
        let user = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-themes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: user, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: user) }
        try "styles:\n  base: { fg: red, bg: black }\n".write(to: user.appendingPathComponent("nord.yaml"), atomically: true, encoding: .utf8)
        try "styles:\n  base: { fg: \"#12\" }\n".write(to: user.appendingPathComponent("broken.yaml"), atomically: true, encoding: .utf8)
        let catalog = ThemeCatalog(directories: [user.path] + Fixture.catalog.directories)
        #expect(try catalog.load("nord")[.base] == Style(fg: .basic(1), bg: .basic(0)))
        let (theme, error) = catalog.initial("broken")
        #expect(theme.name == "default")
        #expect(error?.description.contains("broken.yaml") == true)
        #expect(error?.description.contains("'#12' is not a #rrggbb colour") == true)
        let (_, missing) = catalog.initial("nope")
        #expect(missing?.description.contains("no such theme") == true)
    }

    @Test func configSavesAndLoadsTheTheme() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-config-\(UUID().uuidString)/config.yaml").path
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        #expect(try DashboardConfig.load(from: path) == DashboardConfig())
        try DashboardConfig(theme: "nord").save(to: path)
        #expect(try DashboardConfig.load(from: path).theme == "nord")
    }

    @Test func aConfigThatCannotBeReadIsReportedNeverOverwritten() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-config-\(UUID().uuidString)/config.yaml").path
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let broken = "theme: nord\nkeys: [unclosed\n"
        try broken.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ThemeError.self) { try DashboardConfig(theme: "dracula").save(to: path) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == broken, "the user's file is left as it was")
        #expect(throws: ThemeError.self) { try DashboardConfig.load(from: path) }
        // Other keys survive a save.
        try "theme: nord\nrefresh: 500ms\n".write(toFile: path, atomically: true, encoding: .utf8)
        try DashboardConfig(theme: "dracula").save(to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("refresh: 500ms"))
    }

    @Test func coloursDegradeToWhatTheTerminalCanShow() {
        let orange = Color.rgb(0xd1, 0x9a, 0x66)
        #expect(orange.resolved(for: .truecolor) == orange)
        #expect(orange.resolved(for: .colors256) == .indexed(173))
        #expect(Color.rgb(255, 0, 0).resolved(for: .colors16) == .basic(9))
        #expect(Color.rgb(200, 0, 0).resolved(for: .colors8) == .basic(1))
        #expect(Color.basic(12).resolved(for: .colors8) == .basic(4))
        #expect(orange.resolved(for: .monochrome) == nil)
        let base = Style(fg: .rgb(200, 200, 200), bg: .rgb(20, 20, 20))
        let selected = Style(fg: .rgb(20, 20, 20), bg: .rgb(90, 140, 230), attributes: .bold)
        let mono = selected.resolved(for: .monochrome, base: base)
        #expect(mono.fg == nil && mono.bg == nil)
        #expect(mono.attributes == [.bold, .reverse], "a style that stood out by its background is reversed without colour")
        #expect(base.resolved(for: .monochrome, base: base).attributes == [])
    }
}
