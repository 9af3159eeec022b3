import Foundation
import PipetopCore

/// One loop for keys, data and signals, whatever the terminal: `poll()` on the backend's input and
/// a wake pipe (written by the store reader and by signal handlers), then every queued key and
/// message goes through the update function and every effect through the `EffectRunner`, then
/// one frame is rendered and handed to the backend (which flushes only the cells that changed).
public final class DashboardLoop {
    public struct Options: Sendable {
        public var store: ReadableStore
        /// What replays and deletes write with: nil under `--read-only` (the keys are gone then too).
        public var writer: Store?
        public var storeLocation: String
        public var readOnly: Bool
        public var runtimeName: String?
        public var refresh: Duration
        public var capacity: Int
        public var theme: String?
        public var themes: ThemeService
        /// Seconds east of UTC for the times shown (nil: the system's local time).
        public var utcOffset: Int?
        /// The editor `e` runs on a dead letter (nil: `$VISUAL`, else `$EDITOR`, else vi).
        public var editor: String?
        /// Opens the store again when its file is replaced under the dashboard (nil: it is only said).
        public var reopen: StoreReader.Reopen?

        public init(store: ReadableStore, writer: Store? = nil, storeLocation: String, readOnly: Bool, runtimeName: String?, refresh: Duration, capacity: Int,
                    theme: String?, themes: ThemeService = ThemeService(), utcOffset: Int? = nil, editor: String? = nil, reopen: StoreReader.Reopen? = nil) {
            self.reopen = reopen
            self.store = store
            self.writer = writer
            self.storeLocation = storeLocation
            self.readOnly = readOnly
            self.runtimeName = runtimeName
            self.refresh = refresh
            self.capacity = capacity
            self.theme = theme
            self.themes = themes
            self.utcOffset = utcOffset
            self.editor = editor
        }
    }

    let options: Options
    let backend: TerminalBackend

    public init(_ options: Options, backend: TerminalBackend) {
        self.options = options
        self.backend = backend
    }

    /// Runs until quit or a quit signal; the backend is closed on the way out.
    public func run() throws -> DashboardExit {
        let (theme, notices) = options.themes.initial(requested: options.theme)

        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw LoopError(description: "cannot create a pipe") }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) | O_NONBLOCK)
        defer {
            Foundation.close(readEnd)
            Foundation.close(writeEnd)
        }
        defer { backend.close() }
        backend.start(wakeDescriptor: writeEnd)

        var state = AppState(size: backend.size, now: .now(), theme: theme, themeNames: options.themes.catalog.names(),
                             storeLocation: options.storeLocation, readOnly: options.readOnly, runtimeName: options.runtimeName,
                             capacity: options.capacity, utcOffset: options.utcOffset ?? Self.localOffset())
        if !notices.isEmpty { state.notice = Notice(text: notices.joined(separator: "; "), isError: true) }
        let reader = StoreReader(store: options.store, writer: options.readOnly ? nil : options.writer, interval: options.refresh, capacity: state.capacity, needs: state.needs,
                                 reopen: options.reopen) {
            var byte: UInt8 = 0
            _ = write(writeEnd, &byte, 1)
        }
        reader.start()
        defer { reader.stop() }
        // With a writer, the dashboard carries running replay jobs while it is open (beside a
        // runtime, whichever holds a job's lease moves it); it gives them back when it quits.
        let jobs = options.readOnly ? nil : options.writer.map {
            ReplayJobRunner(store: $0, name: ReplayJobRunner.name("dashboard of \(Operator.current)"))
        }
        jobs?.startCarrying()
        defer { jobs?.stop() }
        let backend = self.backend
        let command = options.editor ?? ExternalEditor.command()
        // The editor gets the terminal: the screen is left and drawn again around it, and the
        // store is not polled meanwhile.
        let runner = EffectRunner(reader: reader, themes: options.themes, editor: { text, name in
            reader.paused {
                backend.suspend {
                    Result { try ExternalEditor.edit(text, name: name, command: command, stderrToTerminal: true) }.mapError { MutationFailure("\($0)".terminalSafe) }
                }
            }
        }, stopper: { reader.paused { backend.stopProcess() } })

        backend.setBase(state.theme[.base])
        backend.flush(Dashboard.render(state))
        var lastTick = Date()
        var drainBuffer = [UInt8](repeating: 0, count: 256)
        while true {
            var polls = [pollfd(fd: backend.inputDescriptor, events: Int16(POLLIN), revents: 0), pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)]
            _ = poll(&polls, 2, 1000)
            while read(readEnd, &drainBuffer, 256) > 0 {}
            if let number = backend.receivedSignal {
                backend.close()
                return .signal(number)
            }
            var messages: [Message] = []
            if backend.takeStopRequest() { runner.run(.suspend) }
            let (keys, resized) = backend.readInput()
            // Back from a stop (ours or not): the terminal may have changed size meanwhile.
            if resized || backend.takeContinued() { messages.append(.resize(backend.size)) }
            messages += keys.map { .key($0) }
            messages += reader.drain()
            if Date().timeIntervalSince(lastTick) >= 1 {
                messages.append(.tick(.now()))
                lastTick = Date()
            }
            guard !messages.isEmpty else { continue }
            runner.process(messages, into: &state)
            if runner.quitRequested { return .quit }
            reader.setNeeds(state.needs)
            backend.setBase(state.theme[.base])
            backend.flush(Dashboard.render(state))
        }
    }

    static func localOffset() -> Int {
        var now = time(nil)
        var local = tm()
        localtime_r(&now, &local)
        return Int(local.tm_gmtoff)
    }
}

public struct LoopError: Error, CustomStringConvertible {
    public var description: String
}
