import DequeModule
import Foundation
import PipetopCore

/// Everything that can happen to the dashboard.
public enum Message: Sendable {
    case key(Key)
    case resize(Size)
    /// The clock moved (once a second): ages and uptime are recomputed from it.
    case tick(Timestamp)
    case data(DataSnapshot)
    /// The answer to a screen's `Effect.read`, for that screen.
    case answer(StoreAnswer, for: ScreenID)
    case themeLoaded(Theme, savedTo: String?)
    case themeFailed(String)
}

/// What the update function asks its runner to do (I/O stays outside the pure update). Every
/// effect goes through `EffectRunner.run`, whose switch over this enum is exhaustive.
public enum Effect: Equatable, Sendable {
    case quit
    /// A read outside the poll, answered with `Message.answer(_:for:)` to the screen named.
    case read(StoreRequest, for: ScreenID)
    /// A change to the store (a replay, a delete), carried out by the runner with the dashboard's
    /// writer (absent under `--read-only`) and answered like a read, success or not.
    case mutate(StoreMutation, for: ScreenID)
    case loadTheme(String, save: Bool)
    /// The user's editor on a dead letter's envelope: the runner hands the terminal over (the
    /// screen is left, the editor runs and exits, the screen is drawn again) and answers with
    /// `StoreAnswer.editorClosed` to the screen named. Nothing is stored by this effect.
    case edit(EditSession, for: ScreenID)
    /// Ctrl-Z: the process stops with the terminal given back; `fg` brings the dashboard back.
    case suspend
}

/// A dead letter being edited: the letter as read, and the text the editor opens on (its
/// envelope, or what the user saved last time when an edit was refused and is tried again).
public struct EditSession: Equatable, Sendable {
    public var letter: DeadLetter
    public var text: String
    public init(letter: DeadLetter, text: String? = nil) {
        self.letter = letter
        self.text = text ?? EventEdit.editableText(letter.event)
    }
    /// The name of the file the editor opens.
    public var fileName: String { "dead-letter-\(letter.messageID).json" }
}

/// Reads a screen asks for once (the poll's reads are `DataNeed`s).
public enum StoreRequest: Equatable, Sendable {
    /// Older records for scrolling back, newest first (as `Store.history` returns them).
    case history(before: Int64, limit: Int)
    /// The newest records, to follow again after a scroll back.
    case latest(limit: Int)
    /// Log records matching a filter below `before`, newest first, from one bounded search of the
    /// store (`LogMatches`); with `counting`, the count of the same rows too. With the log's newest seq.
    case logMatches(LogQuery, before: Int64, limit: Int, counting: Bool)
    /// The next part of the count of a filter's matches below `before`.
    case logCount(LogQuery, before: Int64)
    /// The dead letters of `selection` by cause, and their true count.
    case deadLetterGroups(DeadLetterSelection)
    /// A page of the dead letters of `selection`, with the selection's true count (one read).
    case deadLetters(DeadLetterSelection, page: PageRequest)
    /// What an action on `selection` would touch: its count, how many were replayed before, their queues.
    case deadLetterPreview(DeadLetterSelection, DeadLetterAction)
    /// The newest replay jobs.
    case replayJobs(limit: Int)
    /// Dead letters made per cause and minute since then (the groups' sparklines).
    case deadLetterArrivals(since: Timestamp)
    /// One flow's tree, built from its events and log records (one consistent read).
    case trace(correlationID: String)
    /// One message's replays (when, by whom, what came of each), from its flow's log.
    case messageReplays(messageID: Int64, correlationID: String)
    /// Writes the dead letters of `selection` to a new JSON-lines file (`DeadLetterExport`).
    case exportDeadLetters(DeadLetterSelection, path: String)
    /// A page of one queue's messages in one state, in delivery order (`ready` and `scheduled`
    /// split at `now`).
    case queueMessages(queue: String, QueueMessageState, page: PageRequest, now: Timestamp)
    /// CPU samples from `since` on (every scope), and each queue's flow latency from `latencySince` (one read).
    case cpuSamples(since: Timestamp, latencySince: Timestamp)
    /// The handler runs that ended in `from..<to` (the CPU screen's cursor).
    case cpuRuns(from: Timestamp, to: Timestamp, limit: Int)
}

/// Changes to the store a screen asks for.
public enum StoreMutation: Equatable, Sendable {
    case redrive(RedriveRequest)
    case delete(DeleteRequest)
    /// A bulk replay, as a job in the store (its set fixed now; a runner moves it at its rate).
    case createReplayJob(ReplayJobRequest)
    case controlReplayJob(Int64, ReplayJobControl)
    /// Edit dead letters, then replay them (one transaction, see `EditRequest`).
    case edit(EditRequest)
}

/// What a dead-letter action does (for its confirmation and its result).
public enum DeadLetterAction: String, Equatable, Sendable {
    case replay, delete
}

public enum StoreAnswer: Sendable {
    /// Older records, newest first.
    case history([LifecycleRecord], requested: Int)
    /// The newest records, oldest first.
    case latest([LifecycleRecord])
    /// A search of the log, the count of its rows if asked, and the log's newest record seq then.
    case logMatches(LogMatches, count: LogCount?, newest: Int64, for: StoreRequest)
    case logCount(LogCount, for: StoreRequest)
    case deadLetterGroups([DeadLetterGroup], for: DeadLetterSelection)
    case deadLetters(Page<DeadLetter>, total: Int, for: DeadLetterSelection, after: PageCursor?)
    case deadLetterPreview(DeadLetterPreview)
    /// A mutation done (the messages it changed) or refused (the store's error, or no writer).
    case mutated(StoreMutation, Result<MutationResult, MutationFailure>)
    case replayJobs([ReplayJob])
    case deadLetterArrivals([DeadLetterArrivals], since: Timestamp)
    case trace(Trace)
    case messageReplays([MessageReplay], messageID: Int64)
    /// The export written (its full path and how many), or why not.
    case exported(path: String, Result<Int, MutationFailure>)
    /// A replay job created or changed (as it is now), or the change refused.
    case replayJobChanged(StoreMutation, Result<ReplayJob, MutationFailure>)
    /// The editor of an `Effect.edit` exited: the text as saved, or why there is none (the
    /// editor failed or could not be run).
    case editorClosed(EditSession, Result<String, MutationFailure>)
    /// A page of a queue's messages in one state (`after`: the page's cursor, as asked).
    case queueMessages(Page<MessageInfo>, queue: String, QueueMessageState, after: PageCursor?)
    case cpuSamples([CPUSample], since: Timestamp, latency: [String: LatencyPercentiles], latencySince: Timestamp)
    case cpuRuns([LifecycleRecord], from: Timestamp, to: Timestamp)
}

/// What the confirmation of a dead-letter action shows, read from the store.
public struct DeadLetterPreview: Equatable, Sendable {
    public var action: DeadLetterAction
    public var selection: DeadLetterSelection
    public var count: Int
    /// How many of them were replayed before (and so failed again).
    public var replayedBefore: Int
    /// Their source queues (a replay goes back to each one's own).
    public var queues: [String]
    /// The newest of them: the action takes none dead later (the set is the one confirmed).
    public var lastDeadAt: Timestamp?
    public init(action: DeadLetterAction, selection: DeadLetterSelection, count: Int, replayedBefore: Int, queues: [String], lastDeadAt: Timestamp?) {
        self.action = action
        self.lastDeadAt = lastDeadAt
        self.selection = selection
        self.count = count
        self.replayedBefore = replayedBefore
        self.queues = queues
    }
}

public struct MutationFailure: Error, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

extension StoreRequest {
    /// Reads the answer from `store` (in one consistent read): what the store reader does on its
    /// thread, and what tests do to feed a screen the store's answers.
    public func answer(from store: ReadableStore) throws -> StoreAnswer {
        switch self {
        case .history(let before, let limit):
            return .history(try store.history(before: before, limit: limit), requested: limit)
        case .latest(let limit):
            return .latest(try store.history(before: .max, limit: limit).reversed())
        case .logMatches(let query, let before, let limit, let counting):
            return try store.read { snapshot in
                .logMatches(
                    try snapshot.log(matching: query, before: before, limit: limit, span: nil),
                    count: counting ? try snapshot.logCount(matching: query, before: before, span: nil) : nil,
                    newest: try snapshot.history(before: .max, limit: 1).first?.seq ?? 0, for: self)
            }
        case .logCount(let query, let before):
            return .logCount(try store.logCount(matching: query, before: before), for: self)
        case .deadLetterGroups(let selection):
            return .deadLetterGroups(try store.deadLetterGroups(selection), for: selection)
        case .deadLetters(let selection, let page):
            let (items, total) = try store.read { snapshot in (try snapshot.deadLetters(selection, page: page), try snapshot.deadLetterCount(selection)) }
            return .deadLetters(items, total: total, for: selection, after: page.after)
        case .deadLetterPreview(let selection, let action):
            return .deadLetterPreview(try store.read { snapshot in
                var before = selection
                before.failedAgain = true
                let groups = try snapshot.deadLetterGroups(selection)
                return DeadLetterPreview(action: action, selection: selection, count: try snapshot.deadLetterCount(selection),
                                         replayedBefore: selection.failedAgain == false ? 0 : try snapshot.deadLetterCount(before),
                                         queues: Set(groups.map(\.queue)).sorted(), lastDeadAt: groups.map(\.lastDeadAt).max())
            })
        case .replayJobs(let limit):
            return .replayJobs(try store.replayJobs(page: PageRequest(limit: limit)).items)
        case .trace(let id):
            let (events, records) = try store.read { snapshot in (try snapshot.events(correlationID: id), try snapshot.trace(correlationID: id)) }
            return .trace(Trace.build(correlationID: id, events: events, records: records))
        case .deadLetterArrivals(let since):
            return .deadLetterArrivals(try store.deadLetterArrivals(since: since), since: since)
        case .exportDeadLetters(let selection, let path):
            let full = URL(fileURLWithPath: path).path
            do {
                return .exported(path: full, .success(try DeadLetterExport.write(selection, from: store, to: full)))
            } catch {
                return .exported(path: full, .failure(MutationFailure("\(error)".terminalSafe)))
            }
        case .messageReplays(let id, let correlation):
            return .messageReplays(MessageReplay.of(messageID: id, in: try store.trace(correlationID: correlation)), messageID: id)
        case .queueMessages(let queue, let state, let page, let now):
            return .queueMessages(try store.messages(queue: queue, state, page: page, now: now), queue: queue, state, after: page.after)
        case .cpuSamples(let since, let latencySince):
            let (samples, seconds) = try store.read { (try $0.cpuSamples(since: since), try $0.queueSeconds(since: latencySince)) }
            return .cpuSamples(samples, since: since, latency: CPUShapeReport.latency(seconds), latencySince: latencySince)
        case .cpuRuns(let from, let to, let limit):
            return .cpuRuns(try store.outcomes(from: from, to: to, limit: limit), from: from, to: to)
        }
    }
}

extension StoreMutation {
    /// Carries the mutation out with `writer` (nil: the dashboard has none, under `--read-only`).
    public func apply(to writer: Store?, at time: Timestamp) -> StoreAnswer {
        guard let writer else {
            let failure = MutationFailure("the store is open read-only: nothing was changed")
            switch self {
            case .redrive, .delete, .edit: return .mutated(self, .failure(failure))
            case .createReplayJob, .controlReplayJob: return .replayJobChanged(self, .failure(failure))
            }
        }
        do {
            switch self {
            // In transactions of 1,000, so a large one never holds the runtime's write lock for long.
            case .redrive(let request): return .mutated(self, .success(try writer.redriveInBatches(request, clock: { time })))
            case .delete(let request): return .mutated(self, .success(try writer.deleteInBatches(request, clock: { time })))
            case .createReplayJob(let request): return .replayJobChanged(self, .success(try writer.createReplayJob(request, at: time)))
            case .controlReplayJob(let id, let control):
                return .replayJobChanged(self, .success(try writer.controlReplayJob(id, control, by: .current, at: time)))
            // One transaction: an edit is checked as a whole (at most `EditRequest.maxLetters`).
            case .edit(let request): return .mutated(self, .success(try writer.edit(request, at: time)))
            }
        } catch {
            let failure = MutationFailure("\(error)".terminalSafe)
            switch self {
            case .redrive, .delete, .edit: return .mutated(self, .failure(failure))
            case .createReplayJob, .controlReplayJob: return .replayJobChanged(self, .failure(failure))
            }
        }
    }
}

/// A line being edited (the `:` prompt or the `/` filter).
public struct LineEditor: Equatable, Sendable {
    public var text = ""
    public var cursor = 0  // in characters
    public init(_ text: String = "") {
        self.text = text
        cursor = text.count
    }

    mutating func insert(_ character: Character) {
        let index = text.index(text.startIndex, offsetBy: cursor)
        text.insert(character, at: index)
        cursor += 1
    }

    mutating func backspace() {
        guard cursor > 0 else { return }
        let index = text.index(text.startIndex, offsetBy: cursor - 1)
        text.remove(at: index)
        cursor -= 1
    }

    mutating func delete() {
        guard cursor < text.count else { return }
        text.remove(at: text.index(text.startIndex, offsetBy: cursor))
    }
}

public enum Mode: Equatable, Sendable {
    case normal
    case help
    case prompt(LineEditor)
    case filter(LineEditor)
}

/// Per-queue figures derived by differencing successive reads.
public struct QueueTrend: Equatable, Sendable {
    /// Succeeded per second, one point per second (for the sparkline and graph).
    public var throughput: Deque<Double> = []
    public var lag: Deque<Double> = []
    public var perSecond: Double?
    public var retriesPerMinute: Double?
    public var failuresPerMinute: Double?
    /// Change of lag (messages) over the last few seconds.
    public var lagDelta: Int?
}

/// A status message shown until the next one (errors in the error style).
public struct Notice: Equatable, Sendable {
    public var text: String
    public var isError: Bool
    public init(text: String, isError: Bool) {
        self.text = text
        self.isError = isError
    }
}

/// What every screen may read (and the header and footer show): the terminal, the clock, the
/// theme, the runtime and its queues with their rates. Screen-specific state lives in the screens.
public struct Shared: Sendable {
    public static let trendPoints = 240

    public var size: Size
    /// The dashboard's clock: set only by messages (`tick`, `data`), never read from the system
    /// inside the update or the views, so a test can render any moment deterministically.
    public var now: Timestamp
    /// Seconds east of UTC for the times shown (injected for the same reason).
    public var utcOffset: Int
    public var readOnly: Bool
    public var storeLocation: String
    /// The runtime attached to by name, if any; else the store's most recent one is shown.
    public var runtimeName: String?
    public var runtimes: [RuntimeInfo] = []
    public var queues: [QueueStats] = []
    public var trends: [String: QueueTrend] = [:]
    public var eventsInPerSecond: Double?
    public var eventsOutPerSecond: Double?
    public var storeError: String?
    public var loaded = false
    /// Log records kept in memory (`--buffer`).
    public var capacity: Int
    public var theme: Theme
    public var themeNames: [String]
    public var notice: Notice?

    var samples: Deque<Sample> = []
    var lastTrendSecond: Int64?

    struct Sample: Sendable {
        var time: Timestamp
        var published: Int64
        var queues: [String: QueueStats]
    }

    public var isTooSmall: Bool { size.width < AppState.minimumSize.width || size.height < AppState.minimumSize.height }

    /// The runtime shown in the header: the one attached to, else the latest heartbeat.
    public var runtime: RuntimeInfo? {
        if let runtimeName, let match = runtimes.first(where: { $0.name == runtimeName }) { return match }
        return runtimes.max { $0.heartbeatAt < $1.heartbeatAt }
    }
}

/// The whole dashboard as a value: the update function changes it, the views draw it.
///
/// `AppState` holds what belongs to no single screen (`Shared`, reachable as `state.size`,
/// `state.theme`…), the mode (help, prompt, filter being typed), and one value per registered
/// screen. Screen state is reached through the screen: `state.events.records`.
@dynamicMemberLookup
public struct AppState: Sendable {
    public static let minimumSize = Size(width: 80, height: 24)
    public static let trendPoints = Shared.trendPoints

    public var shared: Shared
    public var view: ScreenID = ScreenID.allCases[0]
    public var previousView: ScreenID?
    public var mode: Mode = .normal
    /// The filter as it was when `/` was pressed: esc puts it back.
    var filterBeforeEdit: Filter?
    public var promptHistory: [String] = []
    public var historyIndex: Int?
    public var completions: [String] = []
    public var quitting = false
    /// One value per registered screen, keyed by its id.
    var screens: [ScreenID: any Screen]

    public init(size: Size, now: Timestamp, theme: Theme, themeNames: [String], storeLocation: String, readOnly: Bool = false,
                runtimeName: String? = nil, capacity: Int = 10_000, utcOffset: Int = 0) {
        shared = Shared(size: size, now: now, utcOffset: utcOffset, readOnly: readOnly, storeLocation: storeLocation, runtimeName: runtimeName,
                        capacity: max(100, capacity), theme: theme, themeNames: themeNames)
        screens = [:]
        for id in ScreenID.allCases { screens[id] = id.type.init(shared: shared) }
    }

    public subscript<T>(dynamicMember keyPath: KeyPath<Shared, T>) -> T { shared[keyPath: keyPath] }

    public subscript<T>(dynamicMember keyPath: WritableKeyPath<Shared, T>) -> T {
        get { shared[keyPath: keyPath] }
        set { shared[keyPath: keyPath] = newValue }
    }

    /// A screen's state, by its type.
    public func screen<S: Screen>(_ type: S.Type) -> S { screens[S.id] as! S }

    /// The visible screen.
    public var current: any Screen { screens[view]! }

    /// The visible screen's filter.
    public var filter: Filter {
        get { current.filter }
        set { screens[view]!.filter = newValue }
    }

    /// What the poller reads now: the header's needs and the visible screen's.
    public var needs: Set<DataNeed> { Set(Chrome.needs + view.type.needs) }
}
