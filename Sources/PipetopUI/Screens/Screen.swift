import PipetopCore

/// A screen of the dashboard as one unit: its own state, its keymap, what it does with data and
/// keys, how it draws, and the store reads it needs while visible. The dashboard holds one value
/// of each registered screen (see `ScreenID`); switching, the tabs, the footer hints, `?` help
/// and `:` completion all come from the registry and the keymaps, never from a list kept by hand.
///
/// Adding a screen: a type conforming to `Screen`, and its case in `ScreenID`.
public protocol Screen: Sendable {
    static var id: ScreenID { get }
    /// The tab, footer and help title.
    static var title: String { get }
    /// `:` commands that show this screen: the first is completed and listed in help, the rest are aliases.
    static var commands: [String] { get }
    /// Further `:` commands this screen owns (`:queue NAME` on the Overview).
    static var promptCommands: [PromptCommand] { get }
    /// The store reads this screen needs while it is visible (all in the poll's one consistent read).
    static var needs: [DataNeed] { get }
    static var keymap: Keymap<ScreenAction<Self>> { get }

    init(shared: Shared)

    /// What `/` edits while this screen is shown.
    var filter: Filter { get set }
    /// The user committed a filter (enter in `/`), or another screen showed this one with one.
    mutating func filterCommitted()

    /// Every poll's data, whether visible or not (what was not read is absent from the snapshot).
    mutating func receive(_ snapshot: DataSnapshot, shared: inout Shared)
    /// The answer to a read this screen asked for with `Effect.read(_:for:)`.
    mutating func receive(_ answer: StoreAnswer, shared: inout Shared) -> [Effect]

    /// Draws the body and says what the footer's status line shows for this screen.
    func draw(_ shared: Shared, into grid: inout Grid, _ body: Rect) -> ScreenStatus

    /// The terms `/` takes on this screen, as the filter line lists them.
    static var filterTerms: String { get }
    /// The reads this screen's state asks for now (its selection changed, its data is stale),
    /// asked after every message while the screen is visible; a screen marks them asked.
    mutating func reads(_ shared: Shared) -> [Effect]
    /// Whether the screen takes every key itself for now (a confirmation being typed): the
    /// dashboard's keys (digits, `/`, `q`…) are then not bound; only ctrl-c still quits.
    var capturesKeys: Bool { get }
    /// A key while `capturesKeys`.
    mutating func captured(_ key: Key, shared: inout Shared) -> [Navigation]
    /// `esc` goes one level back inside the screen first (detail → list → groups): true if it did.
    mutating func back(shared: inout Shared) -> Bool
}

extension Screen {
    public static var promptCommands: [PromptCommand] { [] }
    public static var filterTerms: String { "text, kind:failed, queue:NAME, corr:ID, type:TEXT" }
    public mutating func filterCommitted() {}
    public mutating func receive(_ answer: StoreAnswer, shared: inout Shared) -> [Effect] { [] }
    public mutating func reads(_ shared: Shared) -> [Effect] { [] }
    public var capturesKeys: Bool { false }
    public mutating func captured(_ key: Key, shared: inout Shared) -> [Navigation] { [] }
    public mutating func back(shared: inout Shared) -> Bool { false }

    /// Runs the binding of `key` in this screen's keymap (mutating ones gone under `--read-only`);
    /// nil when the keymap has none.
    mutating func handle(_ key: Key, shared: inout Shared) -> [Navigation]? {
        guard let binding = Self.keymap.binding(for: key, readOnly: shared.readOnly) else { return nil }
        return binding.action(&self, key, &shared)
    }
}

/// What a screen's key action does besides changing the screen's own state.
public typealias ScreenAction<S> = @Sendable (inout S, Key, inout Shared) -> [Navigation]

/// The results of a screen's key action that reach beyond the screen.
public enum Navigation: Equatable, Sendable {
    /// Something for the effect runner (a store read, quit…).
    case run(Effect)
    /// Show another screen, with this filter set on it (`enter` on a queue: its events).
    case show(ScreenID, filter: Filter?)
}

/// The footer's status line as a screen fills it: after its title, before the filter and notice.
public struct ScreenStatus: Sendable {
    public var left: [StatusSegment]
    public var right: [StatusSegment]
    public init(left: [StatusSegment] = [], right: [StatusSegment] = []) {
        self.left = left
        self.right = right
    }
}

// MARK: Keymaps

/// One line of a keymap: the keys, what `?` help says about them, the footer hint (if any),
/// whether the action changes the store (removed under `--read-only`), and the action.
public struct Binding<Action: Sendable>: Sendable {
    public var keys: [Key]
    /// The keys as help lists them (`j k ↑ ↓`) and what they do; nil for a key help leaves out.
    public var help: (keys: String, text: String)?
    /// The footer hint (`j/k select`), if this binding has one.
    public var hint: (key: String, label: String)?
    public var mutates: Bool
    public var action: Action

    public init(_ keys: [Key], help: (String, String)?, hint: (String, String)? = nil, mutates: Bool = false, _ action: Action) {
        self.keys = keys
        self.help = help.map { (keys: $0.0, text: $0.1) }
        self.hint = hint.map { (key: $0.0, label: $0.1) }
        self.mutates = mutates
        self.action = action
    }
}

/// The bindings of a screen (or of the whole dashboard), in the order help and hints show them.
public struct Keymap<Action: Sendable>: Sendable {
    public var bindings: [Binding<Action>] {
        didSet { footerHints = Self.footerHints(bindings) }
    }
    /// The footer hints without and with `--read-only`, worked out when the bindings are set: the
    /// footer shows them in every frame, and filtering the bindings for them each time showed in
    /// the Events screen's profile.
    private var footerHints: (all: [(key: String, label: String)], readOnly: [(key: String, label: String)])

    public init(_ bindings: [Binding<Action>]) {
        self.bindings = bindings
        footerHints = Self.footerHints(bindings)
    }

    /// The one place `--read-only` takes effect: key handling, hints and help all read this.
    public func active(readOnly: Bool) -> [Binding<Action>] { Self.active(bindings, readOnly: readOnly) }

    private static func active(_ bindings: [Binding<Action>], readOnly: Bool) -> [Binding<Action>] {
        readOnly ? bindings.filter { !$0.mutates } : bindings
    }

    private static func footerHints(_ bindings: [Binding<Action>]) -> (all: [(key: String, label: String)], readOnly: [(key: String, label: String)]) {
        (active(bindings, readOnly: false).compactMap(\.hint), active(bindings, readOnly: true).compactMap(\.hint))
    }

    public func binding(for key: Key, readOnly: Bool) -> Binding<Action>? {
        active(readOnly: readOnly).first { $0.keys.contains(key) }
    }

    public func hints(readOnly: Bool) -> [(key: String, label: String)] {
        readOnly ? footerHints.readOnly : footerHints.all
    }

    public func help(readOnly: Bool) -> [(String, String)] {
        active(readOnly: readOnly).compactMap { $0.help.map { ($0.keys, $0.text) } }
    }
}

/// The keys of `j k ↑ ↓ g G home end pgup pgdn`: moving, the same on every screen.
public enum MoveKeys {
    public static let down: [Key] = [.char("j"), .down]
    public static let up: [Key] = [.char("k"), .up]
    public static let first: [Key] = [.char("g"), .home]
    public static let last: [Key] = [.char("G"), .end]
}
