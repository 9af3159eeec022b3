import Foundation
import PipetopCore
import PipetopThemes
import Yams

/// The semantic styles a theme names. Views ask for roles, never for colours.
public enum Role: String, CaseIterable, Sendable {
    case base, muted, accent
    case header, headerTitle = "header.title", headerLabel = "header.label", badge
    case tab, tabActive = "tab.active"
    case ok, warning, error
    case status, statusAccent = "status.accent", statusPaused = "status.paused"
    case hintKey = "hint.key", hintText = "hint.text"
    case tableHeader = "table.header", tableRow = "table.row", tableSelected = "table.selected"
    case graphLow = "graph.low", graphMid = "graph.mid", graphHigh = "graph.high"
    case deadLetter = "deadletter", deadLetterAccent = "deadletter.accent"
    case prompt, promptCompletion = "prompt.completion"
    case border, title
}

/// A theme: a style per role and per lifecycle kind, read from a YAML file.
public struct Theme: Sendable, Equatable {
    public var name: String
    public var styles: [Role: Style]
    public var kinds: [LifecycleKind: Style]

    public subscript(role: Role) -> Style { styles[role] ?? styles[.base] ?? .plain }
    public func kind(_ kind: LifecycleKind) -> Style { kinds[kind] ?? self[.tableRow] }

    /// Used when no theme file can be read at all: basic colours only.
    public static let builtin: Theme = {
        func s(_ fg: Color, _ bg: Color = .default, _ a: Attributes = []) -> Style { Style(fg: fg, bg: bg, attributes: a) }
        let styles: [Role: Style] = [
            .base: .plain, .muted: s(.basic(8)), .accent: s(.basic(4), .default, .bold),
            .header: s(.default, .default, .reverse), .headerTitle: s(.default, .default, [.reverse, .bold]),
            .headerLabel: s(.default, .default, .reverse), .badge: s(.basic(0), .basic(3), .bold),
            .tab: s(.basic(8)), .tabActive: s(.default, .default, [.reverse, .bold]),
            .ok: s(.basic(2)), .warning: s(.basic(3), .default, .bold), .error: s(.basic(1), .default, .bold),
            .status: s(.default, .default, .reverse), .statusAccent: s(.basic(0), .basic(2), .bold), .statusPaused: s(.basic(0), .basic(3), .bold),
            .hintKey: s(.basic(4), .default, .bold), .hintText: s(.basic(8)),
            .tableHeader: s(.basic(6), .default, .bold), .tableRow: .plain, .tableSelected: s(.default, .default, .reverse),
            .graphLow: s(.basic(2)), .graphMid: s(.basic(3)), .graphHigh: s(.basic(1)),
            .deadLetter: s(.basic(1)), .deadLetterAccent: s(.basic(7), .basic(1), .bold),
            .prompt: s(.default, .default, .reverse), .promptCompletion: s(.default, .default, [.reverse, .dim]),
            .border: s(.basic(8)), .title: s(.basic(4), .default, .bold),
        ]
        let kinds: [LifecycleKind: Style] = [
            .succeeded: s(.basic(2)), .failed: s(.basic(3), .default, .bold), .deadLettered: s(.basic(1), .default, .bold),
            .retryScheduled: s(.basic(3)), .rejected: s(.basic(1)), .leaseExpired: s(.basic(3)), .published: s(.basic(4)),
            .enqueued: s(.basic(6)), .claimed: s(.basic(5)), .batchReleased: s(.basic(6), .default, .bold), .routed: s(.basic(8)),
            .duplicate: s(.basic(8)),
        ]
        return Theme(name: "builtin", styles: styles, kinds: kinds)
    }()
}

/// A theme file that could not be used: which file, and what is wrong with it.
public struct ThemeError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var problem: String
    public var description: String { "theme \(file): \(problem)" }
}

extension Theme {
    /// Parses a theme file's YAML. Hex colours must be quoted (`"#282a36"`): unquoted, YAML reads
    /// them as comments and the error says so.
    public static func parse(yaml: String, file: String) throws -> Theme {
        func fail(_ problem: String) -> ThemeError { ThemeError(file: file, problem: problem) }
        let root: Any?
        // An unquoted hex colour reads as a comment: say so rather than leave a puzzle.
        let hint = yaml.contains(": #") ? " (a hex colour must be quoted: \"#rrggbb\")" : ""
        do { root = try Yams.load(yaml: yaml) } catch {
            let detail = "\(error)".split(separator: "\n").first.map(String.init) ?? ""
            throw fail("not valid YAML: " + detail.terminalSafe + hint)
        }
        guard let document = root as? [String: Any] else { throw fail("expected a mapping with `styles:` at the top") }
        for key in document.keys where !["name", "palette", "styles", "description"].contains(key) {
            throw fail("unknown key '\(key.terminalSafe)' (expected name, palette, styles)")
        }
        var palette: [String: Color] = [:]
        if let raw = document["palette"] {
            guard let entries = raw as? [String: Any] else { throw fail("`palette` must map names to colours") }
            for (name, value) in entries.sorted(by: { $0.key < $1.key }) {
                palette[name] = try color(value, palette: [:], context: "palette '\(name.terminalSafe)'", file: file)
            }
        }
        guard let rawStyles = document["styles"] as? [String: Any] else { throw fail("missing `styles:` mapping") }
        var styles: [Role: Style] = [:]
        var kinds: [LifecycleKind: Style] = [:]
        var parsed: [String: Style] = [:]
        for (key, value) in rawStyles.sorted(by: { $0.key < $1.key }) {
            let context = "style '\(key.terminalSafe)'"
            let isKnown = Role(rawValue: key) != nil || (key.hasPrefix("kind.") && LifecycleKind(rawValue: String(key.dropFirst(5))) != nil)
            guard isKnown else {
                throw fail("unknown \(context) (known: \(Role.allCases.map(\.rawValue).joined(separator: ", ")), kind.<lifecycle kind>)")
            }
            parsed[key] = try style(value, palette: palette, context: context, file: file)
        }
        guard let base = parsed["base"] else { throw fail("missing style 'base'") }
        // Styles without colours of their own take the base colours (so a theme can say `{bold: true}`).
        func complete(_ s: Style, _ raw: Any?) -> Style {
            var s = s
            let map = raw as? [String: Any] ?? [:]
            if map["fg"] == nil { s.fg = base.fg }
            if map["bg"] == nil { s.bg = base.bg }
            return s
        }
        for role in Role.allCases { styles[role] = parsed[role.rawValue].map { complete($0, rawStyles[role.rawValue]) } ?? base }
        for kind in LifecycleKind.allCases {
            let key = "kind." + kind.rawValue
            kinds[kind] = parsed[key].map { complete($0, rawStyles[key]) } ?? styles[.tableRow]
        }
        let name = (document["name"] as? String) ?? ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        return Theme(name: name, styles: styles, kinds: kinds)
    }

    static func style(_ raw: Any, palette: [String: Color], context: String, file: String) throws -> Style {
        guard let map = raw as? [String: Any] else { throw ThemeError(file: file, problem: "\(context) must be a mapping like { fg: red, bold: true }") }
        var style = Style()
        for (key, value) in map.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "fg": style.fg = try color(value, palette: palette, context: "\(context) fg", file: file)
            case "bg": style.bg = try color(value, palette: palette, context: "\(context) bg", file: file)
            default:
                guard let attribute = Attributes.names.first(where: { $0.0 == key })?.1 else {
                    throw ThemeError(file: file, problem: "\(context): unknown key '\(key.terminalSafe)' (fg, bg, bold, dim, italic, underline, reverse)")
                }
                guard let on = value as? Bool else { throw ThemeError(file: file, problem: "\(context): '\(key)' must be true or false") }
                if on { style.attributes.insert(attribute) }
            }
        }
        return style
    }

    static func color(_ raw: Any, palette: [String: Color], context: String, file: String) throws -> Color {
        func fail(_ problem: String) -> ThemeError { ThemeError(file: file, problem: "\(context): \(problem)") }
        if raw is NSNull { throw fail("no colour (a hex colour must be quoted: \"#rrggbb\")") }
        if let index = raw as? Int {
            guard (0...255).contains(index) else { throw fail("colour index \(index) is not in 0...255") }
            return .indexed(UInt8(index))
        }
        guard let text = raw as? String else { throw fail("expected a colour, found \("\(raw)".terminalSafe)") }
        let name = text.lowercased()
        if name.hasPrefix("#") {
            let hex = name.dropFirst()
            guard hex.count == 6, let value = UInt32(hex, radix: 16) else { throw fail("'\(text.terminalSafe)' is not a #rrggbb colour") }
            return .rgb(UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF))
        }
        if name == "default" || name == "none" { return .default }
        if let n = Color.basicNames.firstIndex(of: name) { return .basic(UInt8(n)) }
        if name.hasPrefix("bright-"), let n = Color.basicNames.firstIndex(of: String(name.dropFirst(7))) { return .basic(UInt8(n + 8)) }
        if let color = palette[text] { return color }
        throw fail("unknown colour '\(text.terminalSafe)' (hex \"#rrggbb\", 0-255, a basic name, or a palette name)")
    }
}

/// Where themes come from: the user's `$XDG_CONFIG_HOME/pipetop/themes/` first (a user file of the
/// same name wins), then the shipped ones.
public struct ThemeCatalog: Sendable {
    public var directories: [String]

    public init(directories: [String]) { self.directories = directories }

    public static var configDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".config")
        return (base as NSString).appendingPathComponent("pipetop")
    }

    /// The user's theme directory, then the shipped themes.
    public static var standard: ThemeCatalog {
        ThemeCatalog(directories: [(configDirectory as NSString).appendingPathComponent("themes")] + (ThemeFiles.directory.map { [$0] } ?? []))
    }

    /// Every theme name found, sorted.
    public func names() -> [String] {
        var names = Set<String>()
        for directory in directories {
            for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
                names.insert((file as NSString).deletingPathExtension)
            }
        }
        return names.sorted()
    }

    public func path(of name: String) -> String? {
        for directory in directories {
            for ext in ["yaml", "yml"] {
                let path = (directory as NSString).appendingPathComponent("\(name).\(ext)")
                if FileManager.default.fileExists(atPath: path) { return path }
            }
        }
        return nil
    }

    public func load(_ name: String) throws -> Theme {
        guard !name.contains("/"), let path = path(of: name) else {
            throw ThemeError(file: name.terminalSafe, problem: "no such theme (available: \(names().joined(separator: ", ")))")
        }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ThemeError(file: path, problem: "cannot be read (\(error.localizedDescription))")
        }
        var theme = try Theme.parse(yaml: text, file: path)
        theme.name = name
        return theme
    }

    /// The theme to start with and, if something went wrong, the error to show: the requested
    /// one, else `default`, else the built-in one.
    public func initial(_ requested: String?) -> (Theme, ThemeError?) {
        var firstError: ThemeError?
        for name in [requested, "default"].compactMap({ $0 }) {
            do { return (try load(name), firstError) } catch let error as ThemeError {
                firstError = firstError ?? error
            } catch {}
        }
        return (.builtin, firstError)
    }
}

/// `$XDG_CONFIG_HOME/pipetop/config.yaml`: the saved choices (today: the theme).
public struct DashboardConfig: Equatable, Sendable {
    public var theme: String?

    public init(theme: String? = nil) { self.theme = theme }

    public static var path: String { (ThemeCatalog.configDirectory as NSString).appendingPathComponent("config.yaml") }

    public static func load(from path: String = DashboardConfig.path) throws -> DashboardConfig {
        guard FileManager.default.fileExists(atPath: path) else { return DashboardConfig() }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ThemeError(file: path, problem: "cannot be read as UTF-8 text")
        }
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch { throw ThemeError(file: path, problem: "not valid YAML") }
        guard let map = root as? [String: Any] else { return DashboardConfig() }
        return DashboardConfig(theme: map["theme"] as? String)
    }

    public func save(to path: String = DashboardConfig.path) throws {
        // The user's other settings are kept; a file that cannot be read is reported, never overwritten.
        var map: [String: Any] = [:]
        if FileManager.default.fileExists(atPath: path) {
            guard let existing = try? String(contentsOfFile: path, encoding: .utf8),
                  let loaded = try? Yams.load(yaml: existing), let old = (loaded ?? [String: Any]()) as? [String: Any]
            else { throw ThemeError(file: path, problem: "not saved: the file is not a YAML mapping pipetop can read; fix or remove it") }
            map = old
        }
        map["theme"] = theme
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Yams.dump(object: map, sortKeys: true).write(toFile: path, atomically: true, encoding: .utf8)
    }
}
