import Foundation

/// The one place effects are carried out. Whatever an effect yields comes back as messages for
/// the update function: nothing an effect produces is dropped.
public final class EffectRunner {
    /// Runs the user's editor on a text (its file name given) with the terminal handed over,
    /// and returns what was saved: the dashboard loop's suspends the backend around it.
    public typealias TextEditor = (_ text: String, _ fileName: String) -> Result<String, MutationFailure>

    let reader: StoreReader
    let themes: ThemeService
    let editor: TextEditor?
    /// Stops the process for job control (the loop's backend, around a paused reader).
    let stopper: (() -> Void)?
    public private(set) var quitRequested = false

    public init(reader: StoreReader, themes: ThemeService, editor: TextEditor? = nil, stopper: (() -> Void)? = nil) {
        self.reader = reader
        self.themes = themes
        self.editor = editor
        self.stopper = stopper
    }

    /// Runs one effect; the messages it produced at once (a theme loaded) are returned, the
    /// store's answers arrive later through the reader.
    public func run(_ effect: Effect) -> [Message] {
        switch effect {
        case .quit:
            quitRequested = true
            return []
        case .read(let request, let screen):
            reader.request(request, for: screen)
            return []
        case .mutate(let mutation, let screen):
            reader.mutate(mutation, for: screen)
            return []
        case .loadTheme(let name, let save):
            return themes.load(name, save: save)
        case .edit(let session, let screen):
            // Synchronous: the dashboard waits while the user edits (its terminal is the editor's).
            let saved = editor.map { $0(session.text, session.fileName) } ?? .failure(MutationFailure("this dashboard has no editor to run"))
            return [.answer(.editorClosed(session, saved), for: screen)]
        case .suspend:
            stopper?()
            return []
        }
    }

    /// Feeds `messages` through `state.update`, runs every effect, and feeds what the effects
    /// produced back in, until nothing is left.
    public func process(_ messages: [Message], into state: inout AppState) {
        var queue = messages[...]
        var produced: [Message] = []
        while true {
            while let message = queue.popFirst() {
                for effect in state.update(message) { produced += run(effect) }
            }
            guard !produced.isEmpty else { return }
            queue = produced[...]
            produced = []
        }
    }
}

/// Themes for the dashboard: the one chosen at start (option, else the saved choice, else the
/// default) and switching live with `:theme NAME` (saved for next time).
public struct ThemeService: Sendable {
    public var catalog: ThemeCatalog
    public var configPath: String

    public init(catalog: ThemeCatalog = .standard, configPath: String = DashboardConfig.path) {
        self.catalog = catalog
        self.configPath = configPath
    }

    /// The theme to start with, and what went wrong finding it (shown as the first notice).
    public func initial(requested: String?) -> (Theme, [String]) {
        var notices: [String] = []
        var requested = requested
        if requested == nil {
            do { requested = try DashboardConfig.load(from: configPath).theme } catch { notices.append("\(error)") }
        }
        let (theme, themeError) = catalog.initial(requested)
        if let themeError { notices.append("\(themeError.description) — using \(theme.name)") }
        return (theme, notices)
    }

    /// Loads `name` (and saves the choice): the messages that say how it went.
    public func load(_ name: String, save: Bool) -> [Message] {
        let theme: Theme
        do { theme = try catalog.load(name) } catch { return [.themeFailed("\(error)")] }
        var messages: [Message] = []
        var savedTo: String?
        if save {
            do {
                try DashboardConfig(theme: name).save(to: configPath)
                savedTo = configPath
            } catch {
                messages.append(.themeFailed("theme \(name) in use, but \(configPath) could not be written: \(error)"))
            }
        }
        messages.append(.themeLoaded(theme, savedTo: savedTo))
        return messages
    }
}
