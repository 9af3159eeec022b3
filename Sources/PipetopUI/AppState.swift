import DequeModule
import Foundation
import PipetopCore

public enum ViewID: String, CaseIterable, Sendable {
    case overview, events

    public var title: String { self == .overview ? "Overview" : "Events" }
}

/// What one poll of the store brought.
public struct DataSnapshot: Sendable {
    /// When the store was read (the reader's clock): rates are differences over these times.
    public var time: Timestamp
    /// Log records after the last ones delivered, oldest first.
    public var records: [LifecycleRecord]
    public var queues: [QueueStats]
    public var runtimes: [RuntimeInfo]
    public var published: Int64
    /// Set when the store could not be read this time; the other fields are then empty.
    public var error: String?
    /// True for the first snapshot: `records` are the newest of the store, not a continuation.
    public var initial = false

    public init(time: Timestamp, records: [LifecycleRecord], queues: [QueueStats], runtimes: [RuntimeInfo], published: Int64, error: String? = nil, initial: Bool = false) {
        self.time = time
        self.records = records
        self.queues = queues
        self.runtimes = runtimes
        self.published = published
        self.error = error
        self.initial = initial
    }
}

/// Everything that can happen to the dashboard.
public enum Message: Sendable {
    case key(Key)
    case resize(Size)
    /// The clock moved (once a second): ages and uptime are recomputed from it.
    case tick(Timestamp)
    case data(DataSnapshot)
    /// Older records read back for scrolling, newest first (as `Store.history` returns them).
    case history([LifecycleRecord], requested: Int)
    /// The newest records, oldest first, replacing the ring (back to following after a scroll back).
    case latest([LifecycleRecord])
    case themeLoaded(Theme, savedTo: String?)
    case themeFailed(String)
}

/// What the update function asks its runner to do (I/O stays outside the pure update).
public enum Effect: Equatable, Sendable {
    case quit
    case loadHistory(before: Int64, limit: Int)
    case loadLatest(limit: Int)
    case loadTheme(String, save: Bool)
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

public enum QueueSortKey: String, CaseIterable, Sendable {
    case name, lag, lagSeconds = "lag s", throughput, dead
}

/// The whole dashboard as a value: the update function changes it, the views draw it.
public struct AppState: Sendable {
    public static let minimumSize = Size(width: 80, height: 24)
    public static let trendPoints = 240

    public var size: Size
    /// The dashboard's clock: set only by messages (`tick`, `data`), never read from the system
    /// inside the update or the views, so a test can render any moment deterministically.
    public var now: Timestamp
    /// Seconds east of UTC for the times shown (injected for the same reason).
    public var utcOffset: Int
    public var view: ViewID = .overview
    public var previousView: ViewID?
    public var mode: Mode = .normal
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

    /// The ring of the last `capacity` records, oldest first.
    public var records: Deque<LifecycleRecord> = []
    public var capacity: Int
    /// Whether the store may hold records older than the ring's first.
    public var olderAvailable = false
    public var loadingHistory = false
    /// The ring was moved back in time by scrolling: newer records are not appended meanwhile.
    public var detached = false
    public var skippedNewer = 0

    public var follow = true
    /// The selected record (by seq) while paused.
    public var cursorSeq: Int64?
    /// First row shown (by seq) while paused.
    public var eventsTopSeq: Int64?

    public var selectedQueue: String?
    public var sortKey: QueueSortKey = .name
    public var sortAscending = true

    public var filters: [ViewID: Filter] = [:]
    /// The filter as it was when `/` was pressed: esc puts it back.
    var filterBeforeEdit: Filter?
    public var promptHistory: [String] = []
    public var historyIndex: Int?
    public var completions: [String] = []

    public var theme: Theme
    public var themeNames: [String]
    public var notice: Notice?
    public var quitting = false

    var samples: Deque<Sample> = []
    var lastTrendSecond: Int64?

    struct Sample: Sendable {
        var time: Timestamp
        var published: Int64
        var queues: [String: QueueStats]
    }

    public init(size: Size, now: Timestamp, theme: Theme, themeNames: [String], storeLocation: String, readOnly: Bool = false,
                runtimeName: String? = nil, capacity: Int = 10_000, utcOffset: Int = 0) {
        self.size = size
        self.now = now
        self.theme = theme
        self.themeNames = themeNames
        self.storeLocation = storeLocation
        self.readOnly = readOnly
        self.runtimeName = runtimeName
        self.capacity = max(100, capacity)
        self.utcOffset = utcOffset
    }

    public var filter: Filter { filters[view] ?? Filter("") }
    public var isTooSmall: Bool { size.width < Self.minimumSize.width || size.height < Self.minimumSize.height }

    /// The runtime shown in the header: the one attached to, else the latest heartbeat.
    public var runtime: RuntimeInfo? {
        if let runtimeName, let match = runtimes.first(where: { $0.name == runtimeName }) { return match }
        return runtimes.max { $0.heartbeatAt < $1.heartbeatAt }
    }

    /// Queues as the Overview lists them: filtered and sorted.
    public var visibleQueues: [QueueStats] {
        let filter = filters[.overview] ?? Filter("")
        let shown = queues.filter { filter.matches(queue: $0) }
        func key(_ q: QueueStats) -> Double {
            switch sortKey {
            case .name: return 0
            case .lag: return Double(q.lagMessages)
            case .lagSeconds: return q.lagSeconds
            case .throughput: return trends[q.name]?.perSecond ?? 0
            case .dead: return Double(q.dead)
            }
        }
        return shown.sorted { a, b in
            if sortKey == .name || key(a) == key(b) { return sortAscending || sortKey != .name ? a.name < b.name : a.name > b.name }
            return sortAscending ? key(a) < key(b) : key(a) > key(b)
        }
    }

    public var selectedQueueIndex: Int? {
        let shown = visibleQueues
        guard !shown.isEmpty else { return nil }
        return shown.firstIndex { $0.name == selectedQueue } ?? 0
    }

    /// The Events view's records after the filter, and the selected index. Without a filter this
    /// is a view of the ring (no copy); with one, the positions of the matching records.
    public var eventRows: (rows: EventRows, selected: Int?) {
        let filter = filters[.events] ?? Filter("")
        var positions: [Int]?
        if !filter.isEmpty {
            var matching: [Int] = []
            for (index, record) in records.enumerated() where filter.matches(record) { matching.append(index) }
            positions = matching
        }
        let rows = EventRows(records: records, positions: positions)
        guard !rows.isEmpty else { return (rows, nil) }
        guard !follow, let cursorSeq else { return (rows, rows.count - 1) }
        return (rows, max(0, rows.partition(seqAtMost: cursorSeq) - 1))
    }

    /// Index of the first Events row on screen.
    public func eventsTop(rows: EventRows, selected: Int?) -> Int {
        let visible = Table.visibleRows(height: size.height - 4)
        if follow { return max(0, rows.count - visible) }
        let stored = eventsTopSeq.map { rows.partition(seqAtMost: $0 - 1) } ?? max(0, rows.count - visible)
        return Table.scrolled(top: stored, selected: selected, visible: visible, count: rows.count)
    }

    /// Rows of the Events table on screen.
    public var eventsVisibleRows: Int { max(1, size.height - 6) }
}

/// The records the Events view lists: the ring itself, or the positions in it that match a filter.
public struct EventRows: RandomAccessCollection, Sendable {
    let records: Deque<LifecycleRecord>
    let positions: [Int]?

    public var startIndex: Int { 0 }
    public var endIndex: Int { positions?.count ?? records.count }
    public subscript(index: Int) -> LifecycleRecord { records[positions?[index] ?? index] }

    /// The number of rows whose seq is at most `seq` (rows are in seq order): a binary search.
    public func partition(seqAtMost seq: Int64) -> Int {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) / 2
            if self[mid].seq <= seq { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
