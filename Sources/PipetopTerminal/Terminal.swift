import CNcursesw
import Foundation
import PipetopUI

/// Why the terminal could not be taken over.
public struct TerminalError: Error, CustomStringConvertible {
    public var description: String
}

/// The ncurses backend of the dashboard's loop (`TerminalBackend`): takes over the terminal,
/// flushes grid diffs, reads keys, and gives the terminal back on every way out (quit, signals,
/// fatal signals, `exit`).
///
/// Nothing else in pipetop imports ncurses. While curses owns the screen, stderr is sent to a log
/// file so a stray message from the runtime cannot scribble over it.
public final class Terminal: TerminalBackend {
    public private(set) var depth: ColorDepth
    private let screen: OpaquePointer
    private let window: UnsafeMutablePointer<WINDOW>
    private var previous: Grid?
    private var pairs: [PairKey: Int32] = [:]
    /// Each style's attributes and colour pair, worked out once: resolving a theme's colours for a
    /// 256- or 16-colour terminal is a nearest-colour search, too dear to repeat for every cell.
    private var resolvedStyles: [Style: (attr_t, Int32)] = [:]
    /// The last style looked up: neighbouring cells mostly share one, and hashing a style per cell shows.
    private var lastStyle: (Style, attr_t, Int32)?
    private var nextPair: Int32 = 1
    private let maxPairs: Int32
    private var base = Style.plain
    /// Buffers of `flush`, kept between frames.
    private var text: [wchar_t] = []
    private var narrowChars: [wchar_t] = []
    private var narrowAttributes: [attr_t] = []
    private var narrowPairs: [Int32] = []
    private var savedStderr: Int32 = -1

    struct PairKey: Hashable { var fg: Int32, bg: Int32 }

    /// Takes over the terminal on stdin/stdout. `logPath` receives stderr meanwhile.
    public init(logPath: String?) throws {
        guard isatty(0) == 1, isatty(1) == 1 else {
            throw TerminalError(description: "the dashboard needs a terminal (stdin and stdout are not one); for scripts use `pipetop queues`, `pipetop tail` or `pipetop demo --headless`")
        }
        Terminal.setUTF8Locale()
        let term = ProcessInfo.processInfo.environment["TERM"] ?? ""
        guard !term.isEmpty else { throw TerminalError(description: "TERM is not set; set it to your terminal's type, e.g. TERM=xterm-256color") }
        guard let output = fdopen(dup(1), "w"), let input = fdopen(dup(0), "r") else {
            throw TerminalError(description: "cannot open the terminal's streams")
        }
        guard let screen = newterm(term, output, input) else {
            fclose(output)
            fclose(input)
            throw TerminalError(description: "unknown terminal type TERM=\(term.terminalSafe) (no terminfo entry); try TERM=xterm-256color")
        }
        self.screen = screen
        set_term(screen)
        guard let window = pt_stdscr() else {
            endwin()
            throw TerminalError(description: "ncurses has no screen")
        }
        self.window = window
        // Until the screen has been left once, ncurses (6.4) flushes its output at every cursor
        // movement (`_nc_mvcur` flushes while `_endwin == ewInitial`, meant for low-level terminfo
        // programs): a frame went out as one write(2) per changed line, about a hundred for each
        // frame of the live Events tail. Leaving and resuming once, before anything is drawn,
        // puts it in its running state, where a frame is one buffered write. This comes before
        // `start_color`: a resume with colours started resets the terminal's palette (OSC 104).
        endwin()
        doupdate()
        TerminalRestore.install()
        raw()
        noecho()
        nonl()
        keypad(window, true)
        wtimeout(window, 0)
        set_escdelay(25)
        curs_set(0)
        leaveok(window, true)
        // No typeahead check during an update: ncurses polled stdin every five changed lines of a
        // frame (about ten polls a frame on the Events tail), only to flush early when a key was
        // waiting; the loop reads keys itself, right after.
        typeahead(-1)

        let noColor = !(ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
        if !noColor && has_colors() {
            start_color()
            use_default_colors()
            let colors = pt_colors()
            depth = colors >= 0x1000000 ? .truecolor : colors >= 256 ? .colors256 : colors >= 16 ? .colors16 : colors >= 8 ? .colors8 : .monochrome
        } else {
            depth = .monochrome
        }
        maxPairs = pt_color_pairs()
        if let logPath { redirectStderr(to: logPath) }
    }

    static func setUTF8Locale() {
        setlocale(LC_ALL, "")
        let codeset = String(cString: nl_langinfo(nl_item(CODESET)))
        if codeset.uppercased().replacingOccurrences(of: "-", with: "") != "UTF8" {
            setlocale(LC_CTYPE, "C.UTF-8")
        }
    }

    private func redirectStderr(to path: String) {
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard fd >= 0 else { return }
        savedStderr = dup(2)
        dup2(fd, 2)
        Foundation.close(fd)
    }

    public var size: Size { Size(width: Int(pt_maxx(window)), height: Int(pt_maxy(window))) }

    /// The base style of the theme in use (monochrome degradation compares against it).
    public func setBase(_ style: Style) {
        if style != base {
            base = style
            invalidate()
        }
    }

    /// Forget what is on screen: the next flush redraws everything (after a theme change).
    public func invalidate() {
        previous = nil
        pairs.removeAll()
        resolvedStyles.removeAll()
        lastStyle = nil
        nextPair = 1
        clearok(window, true)
    }

    /// Writes the cells that changed since the last flush, then updates the screen.
    ///
    /// Runs of one-scalar, one-column cells (ASCII, box, block and braille glyphs: nearly every
    /// cell) go to ncurses in one call per run; any other cell is written on its own at its column,
    /// so a width that ncurses sees differently from the grid cannot shift its neighbours.
    public func flush(_ grid: Grid) {
        if previous?.size != grid.size { clearok(window, true) }
        let cells = grid.stored
        let width = grid.width
        // The buffers are moved out of the object while the frame is written: appending to them
        // (and reading the style cache) cell by cell through `self` paid a dynamic exclusivity
        // check each time.
        var chars: [wchar_t] = [], attributes: [attr_t] = [], pairs: [Int32] = [], text: [wchar_t] = []
        swap(&chars, &narrowChars)
        swap(&attributes, &narrowAttributes)
        swap(&pairs, &narrowPairs)
        swap(&text, &self.text)
        defer {
            swap(&chars, &narrowChars)
            swap(&attributes, &narrowAttributes)
            swap(&pairs, &narrowPairs)
            swap(&text, &self.text)
        }
        // Neighbouring cells mostly share a style: it is looked up once for each run of them.
        var key: UInt64?
        var resolved: (attr_t, Int32) = (0, 0)
        func lookUp(_ cell: StoredCell) -> (attr_t, Int32) {
            if cell.styleKey != key {
                key = cell.styleKey
                resolved = attributesAndPair(cell.style)
            }
            return resolved
        }
        for span in grid.changes(from: previous) {
            let row = span.y * width
            var x = span.x
            let end = span.x + span.count
            while x < end {
                let cell = cells[row + x]
                if cell.isContinuation { x += 1; continue }
                if Self.isNarrow(cell) {
                    let start = x
                    chars.removeAll(keepingCapacity: true)
                    attributes.removeAll(keepingCapacity: true)
                    pairs.removeAll(keepingCapacity: true)
                    while x < end, Self.isNarrow(cells[row + x]) {
                        let (attribute, pair) = lookUp(cells[row + x])
                        chars.append(wchar_t(bitPattern: cells[row + x].glyph.singleScalar!))
                        attributes.append(attribute)
                        pairs.append(pair)
                        x += 1
                    }
                    pt_put_narrow(window, Int32(span.y), Int32(start), chars, attributes, pairs, Int32(chars.count))
                    continue
                }
                let (attribute, pair) = lookUp(cell)
                text.removeAll(keepingCapacity: true)
                if let long = grid.scalars(of: cell.glyph) {
                    for scalar in long { text.append(wchar_t(bitPattern: scalar.value)) }
                } else {
                    for value in cell.glyph.scalarValues { text.append(wchar_t(bitPattern: value)) }
                }
                text.append(0)
                pt_put(window, Int32(span.y), Int32(x), text, attribute, pair)
                x += 1
            }
        }
        previous = grid
        wnoutrefresh(window)
        doupdate()
    }

    /// A cell ncurses can take in a run: one printable ASCII scalar or a box, block or braille
    /// glyph, one column wide for ncurses as for the grid.
    private static func isNarrow(_ cell: StoredCell) -> Bool {
        guard !cell.isWide, !cell.isContinuation, let value = cell.glyph.singleScalar else { return false }
        return (value >= 0x20 && value < 0x7F) || (0x2500...0x259F).contains(value) || (0x2800...0x28FF).contains(value)
    }

    private func attributesAndPair(_ style: Style) -> (attr_t, Int32) {
        if let last = lastStyle, last.0 == style { return (last.1, last.2) }
        if let known = resolvedStyles[style] {
            lastStyle = (style, known.0, known.1)
            return known
        }
        let result = resolve(style)
        // A style that found no free pair is not kept: it may get one after the next invalidate.
        if result.1 != 0 || depth == .monochrome || nextPair < maxPairs { resolvedStyles[style] = result }
        return result
    }

    private func resolve(_ style: Style) -> (attr_t, Int32) {
        let resolved = style.resolved(for: depth, base: base)
        var attributes = pt_a_normal()
        if resolved.attributes.contains(.bold) { attributes |= pt_a_bold() }
        if resolved.attributes.contains(.dim) { attributes |= pt_a_dim() }
        if resolved.attributes.contains(.italic) { attributes |= pt_a_italic() }
        if resolved.attributes.contains(.underline) { attributes |= pt_a_underline() }
        if resolved.attributes.contains(.reverse) { attributes |= pt_a_reverse() }
        guard depth != .monochrome else { return (attributes, 0) }
        let key = PairKey(fg: number(resolved.fg), bg: number(resolved.bg))
        if key.fg == -1 && key.bg == -1 { return (attributes, 0) }
        if let pair = pairs[key] { return (attributes, pair) }
        guard nextPair < maxPairs else { return (attributes, 0) }
        let pair = nextPair
        nextPair += 1
        init_extended_pair(pair, key.fg, key.bg)
        pairs[key] = pair
        return (attributes, pair)
    }

    private func number(_ color: PipetopUI.Color?) -> Int32 {
        switch color {
        case nil, .default?: return -1
        case .basic(let n)?: return Int32(n)
        case .indexed(let n)?: return Int32(n)
        case .rgb(let r, let g, let b)?: return Int32(r) << 16 | Int32(g) << 8 | Int32(b)  // direct colour
        }
    }

    public var inputDescriptor: Int32 { 0 }

    /// Quit signals (INT, TERM, HUP, QUIT) are routed to the loop through its wake pipe.
    public func start(wakeDescriptor: Int32) {
        TerminalRestore.catchQuitSignals(wakeFD: wakeDescriptor)
        TerminalRestore.catchJobControl()
    }

    /// Stops the process (Ctrl-Z, or a TSTP sent to it) with the terminal given back, as any
    /// full-screen program does; once continued the next frame is drawn whole.
    public func stopProcess() {
        suspend { TerminalRestore.stopSelf() }
    }

    /// A TSTP arrived: the loop should stop the process (`stopProcess`).
    public func takeStopRequest() -> Bool {
        defer { TerminalRestore.stopRequested = 0 }
        return TerminalRestore.stopRequested != 0
    }

    /// A CONT arrived (after a stop the process did not ask for): the screen must be drawn whole.
    public func takeContinued() -> Bool {
        guard TerminalRestore.continued != 0 else { return false }
        TerminalRestore.continued = 0
        previous = nil
        clearok(window, true)
        return true
    }

    public var receivedSignal: Int32? { TerminalRestore.receivedSignal }

    /// Keys typed so far (non-blocking), and whether the terminal was resized.
    public func readInput() -> (keys: [Key], resized: Bool) {
        var keys: [Key] = []
        var resized = false
        var value: wint_t = 0
        while true {
            let result = wget_wch(window, &value)
            if result == ERR { break }
            if result == KEY_CODE_YES {
                if Int32(value) == KEY_RESIZE { resized = true; continue }
                if let key = Self.functionKey(Int32(value)) { keys.append(key) }
            } else if let key = Self.characterKey(UInt32(value)) {
                keys.append(key)
            }
        }
        return (keys, resized)
    }

    static func functionKey(_ code: Int32) -> Key? {
        switch code {
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_PPAGE: return .pageUp
        case KEY_NPAGE: return .pageDown
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_BACKSPACE: return .backspace
        case KEY_DC: return .delete
        case KEY_BTAB: return .backTab
        case KEY_ENTER: return .enter
        case KEY_F0 + 1...KEY_F0 + 12: return .function(Int(code - KEY_F0))
        default: return nil
        }
    }

    static func characterKey(_ value: UInt32) -> Key? {
        switch value {
        case 9: return .tab
        case 10, 13: return .enter
        case 27: return .escape
        case 8, 127: return .backspace
        case 1...26: return .ctrl(Character(Unicode.Scalar(value + 96)!))
        case 0..<32: return nil
        default: return Unicode.Scalar(value).map { .char(Character($0)) }
        }
    }

    /// Hands the terminal to another program (the user's editor) while `body` runs: the program
    /// mode is saved and the screen left (`def_prog_mode`, `endwin`); afterwards the mode is
    /// restored, keys typed meanwhile are dropped (they were the other program's), and the next
    /// flush redraws every cell (what is on screen is not ours). This process's stderr stays in
    /// the log file meanwhile: its other threads must not write over the editor.
    public func suspend<T>(_ body: () throws -> T) rethrows -> T {
        def_prog_mode()
        endwin()
        defer {
            reset_prog_mode()
            flushinp()
            previous = nil
            clearok(window, true)
        }
        return try body()
    }

    /// Gives the terminal back (idempotent) and restores stderr.
    public func close() {
        TerminalRestore.wakeFD = -1
        TerminalRestore.restore()
        if savedStderr >= 0 {
            dup2(savedStderr, 2)
            Foundation.close(savedStderr)
            savedStderr = -1
        }
    }
}
