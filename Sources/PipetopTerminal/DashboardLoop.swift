import CNcursesw
import Foundation
import PipetopCore
import PipetopUI

/// How the dashboard ended.
public enum DashboardExit: Equatable {
    /// `q`, `:q` or Ctrl-C.
    case quit
    /// A quit signal (INT, TERM, HUP, QUIT) arrived; the terminal is already restored.
    case signal(Int32)
}

/// One loop for keys, data and signals: `poll()` on the terminal and a wake pipe (written by the
/// store reader and by the signal handlers), then every queued key and message goes through the
/// update function, then one frame is rendered and only its changed cells are flushed.
public final class DashboardLoop {
    public struct Options {
        public var store: ReadableStore
        public var storeLocation: String
        public var readOnly: Bool
        public var runtimeName: String?
        public var refresh: Duration
        public var capacity: Int
        public var theme: String?
        public var catalog: ThemeCatalog
        public var configPath: String
        public var logPath: String?

        public init(store: ReadableStore, storeLocation: String, readOnly: Bool, runtimeName: String?, refresh: Duration, capacity: Int,
                    theme: String?, catalog: ThemeCatalog = .standard, configPath: String = DashboardConfig.path, logPath: String?) {
            self.store = store
            self.storeLocation = storeLocation
            self.readOnly = readOnly
            self.runtimeName = runtimeName
            self.refresh = refresh
            self.capacity = capacity
            self.theme = theme
            self.catalog = catalog
            self.configPath = configPath
            self.logPath = logPath
        }
    }

    let options: Options

    public init(_ options: Options) { self.options = options }

    /// Runs until quit. Throws `TerminalError` when there is no usable terminal.
    public func run() throws -> DashboardExit {
        var notices: [String] = []
        var requested = options.theme
        if requested == nil {
            do { requested = try DashboardConfig.load(from: options.configPath).theme } catch { notices.append("\(error)") }
        }
        let (theme, themeError) = options.catalog.initial(requested)
        if let themeError { notices.append("\(themeError.description) — using \(theme.name)") }

        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw TerminalError(description: "cannot create a pipe") }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) | O_NONBLOCK)
        defer {
            TerminalRestore.wakeFD = -1
            Foundation.close(readEnd)
            Foundation.close(writeEnd)
        }

        let terminal = try Terminal(logPath: options.logPath)
        defer { terminal.close() }
        TerminalRestore.catchQuitSignals(wakeFD: writeEnd)

        var offset = 0
        var now = time(nil)
        var local = tm()
        localtime_r(&now, &local)
        offset = Int(local.tm_gmtoff)

        var state = AppState(size: terminal.size, now: .now(), theme: theme, themeNames: options.catalog.names(),
                             storeLocation: options.storeLocation, readOnly: options.readOnly, runtimeName: options.runtimeName,
                             capacity: options.capacity, utcOffset: offset)
        if !notices.isEmpty { state.notice = Notice(text: notices.joined(separator: "; "), isError: true) }
        let reader = StoreReader(store: options.store, interval: options.refresh, capacity: state.capacity) {
            var byte: UInt8 = 0
            _ = write(writeEnd, &byte, 1)
        }
        reader.start()
        defer { reader.stop() }

        terminal.setBase(state.theme[.base])
        terminal.flush(Dashboard.render(state))
        var lastTick = Date()
        while true {
            var polls = [pollfd(fd: 0, events: Int16(POLLIN), revents: 0), pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)]
            _ = poll(&polls, 2, 1000)
            var drainBuffer = [UInt8](repeating: 0, count: 256)
            while read(readEnd, &drainBuffer, 256) > 0 {}
            if let number = TerminalRestore.receivedSignal {
                terminal.close()
                return .signal(number)
            }
            var messages: [Message] = []
            let (keys, resized) = terminal.readKeys()
            if resized { messages.append(.resize(terminal.size)) }
            messages += keys.map { .key($0) }
            messages += reader.drain()
            if Date().timeIntervalSince(lastTick) >= 1 {
                messages.append(.tick(.now()))
                lastTick = Date()
            }
            var quit = false
            for message in messages {
                for effect in state.update(message) {
                    switch effect {
                    case .quit: quit = true
                    case .loadHistory, .loadLatest: reader.request(effect)
                    case .loadTheme(let name, let save):
                        do {
                            let theme = try options.catalog.load(name)
                            var savedTo: String?
                            if save {
                                do {
                                    try DashboardConfig(theme: name).save(to: options.configPath)
                                    savedTo = options.configPath
                                } catch {
                                    _ = state.update(.themeFailed("theme \(name) in use, but \(options.configPath) could not be written: \(error.localizedDescription)"))
                                }
                            }
                            _ = state.update(.themeLoaded(theme, savedTo: savedTo))
                        } catch {
                            _ = state.update(.themeFailed("\(error)"))
                        }
                    }
                }
            }
            if quit { return .quit }
            terminal.setBase(state.theme[.base])
            terminal.flush(Dashboard.render(state))
        }
    }
}
