import PipetopCore

/// A `:` command: its names (completed), aliases (accepted only), its argument, and what it does.
public struct PromptCommand: Sendable {
    public var names: [String]
    public var aliases: [String]
    /// The argument as help shows it (`NAME`), if it takes one.
    public var argument: String?
    public var inHelp: Bool
    public var complete: @Sendable (Shared, String) -> [String]
    public var run: @Sendable (inout AppState, String) -> [Effect]

    public init(_ names: [String], aliases: [String] = [], argument: String? = nil, inHelp: Bool = true,
                complete: @escaping @Sendable (Shared, String) -> [String] = { _, _ in [] },
                run: @escaping @Sendable (inout AppState, String) -> [Effect]) {
        self.names = names
        self.aliases = aliases
        self.argument = argument
        self.inHelp = inHelp
        self.complete = complete
        self.run = run
    }

    var helpText: String { ":" + names[0] + (argument.map { " " + $0 } ?? "") }
}

/// Every `:` command: the dashboard's own, one per screen that shows it (from the registry),
/// and those the screens add.
public enum Commands {
    static let global: [PromptCommand] = [
        PromptCommand(["q", "quit"], aliases: ["q!"]) { state, _ in
            state.quitting = true
            return [.quit]
        },
        PromptCommand(["help"], aliases: ["h"], inHelp: false) { state, _ in
            state.mode = .help
            return []
        },
        PromptCommand(["theme"], argument: "NAME", complete: { shared, word in shared.themeNames.filter { $0.hasPrefix(word) } }) { state, argument in
            guard !argument.isEmpty else {
                state.shared.notice = Notice(text: "theme \(state.theme.name); available: \(state.themeNames.joined(separator: ", "))", isError: false)
                return []
            }
            return [.loadTheme(argument, save: true)]
        },
    ]

    /// `:NAME` shows a screen; `:NAME TEXT` shows it with TEXT as its filter (`:trace ID`, `:dlq queue:parse`).
    static let screens: [PromptCommand] = ScreenID.allCases.map { id in
        PromptCommand([id.type.commands[0]], aliases: Array(id.type.commands.dropFirst())) { state, argument in
            state.follow([.show(id, filter: argument.isEmpty ? nil : Filter(argument))])
        }
    }

    public static let all: [PromptCommand] = global + screens + ScreenID.allCases.flatMap { $0.type.promptCommands }

    /// What completes at the start of the prompt.
    public static let names: [String] = all.flatMap(\.names).sorted()

    /// As help and the unknown-command notice list them: `:q`, the screens, then commands with an argument.
    static let helpList: [String] = {
        let plain = global.filter { $0.inHelp && $0.argument == nil }.map(\.helpText)
        let shown = screens.map(\.helpText).sorted()
        let withArgument = all.filter { $0.inHelp && $0.argument != nil }.sorted { $0.names[0] < $1.names[0] }.map(\.helpText)
        return plain + shown + withArgument
    }()

    static func named(_ word: String) -> PromptCommand? {
        all.first { $0.names.contains(word) || $0.aliases.contains(word) }
    }
}
