import Foundation

/// The terminal as the dashboard's loop sees it: it tells the size, gives keys and resizes, and
/// shows frames. `Terminal` (PipetopTerminal) is the ncurses one; `TestBackend` keeps everything
/// in memory so a test drives the whole loop (keys in, frames out, resize, quit) without a terminal.
public protocol TerminalBackend: AnyObject {
    var size: Size { get }
    /// Readable when input may be waiting: the loop `poll()`s it with its wake pipe.
    var inputDescriptor: Int32 { get }
    /// Called once before the first frame with the loop's wake pipe (signal handlers write to it).
    func start(wakeDescriptor: Int32)
    /// Keys typed so far (non-blocking), and whether the terminal was resized.
    func readInput() -> (keys: [Key], resized: Bool)
    /// A quit signal (INT, TERM, HUP, QUIT) that arrived, if one did.
    var receivedSignal: Int32? { get }
    /// The theme's base style (a change redraws everything).
    func setBase(_ style: Style)
    /// Shows `grid` (a real terminal writes only the cells that changed).
    func flush(_ grid: Grid)
    /// Gives the terminal to another program (the user's editor) for the time `body` runs, then
    /// takes it back and draws the next frame whole. Keys typed meanwhile are the other program's.
    func suspend<T>(_ body: () throws -> T) rethrows -> T
    /// Gives the terminal back (idempotent).
    func close()
    /// Job control: stops the process with the terminal given back (Ctrl-Z); returns once it is
    /// continued, the next frame to be drawn whole.
    func stopProcess()
    /// A TSTP signal asked the loop to stop the process.
    func takeStopRequest() -> Bool
    /// The process was continued after a stop it did not ask for: draw the next frame whole.
    func takeContinued() -> Bool
}

extension TerminalBackend {
    public func stopProcess() {}
    public func takeStopRequest() -> Bool { false }
    public func takeContinued() -> Bool { false }
}

/// How the dashboard ended.
public enum DashboardExit: Equatable, Sendable {
    /// `q`, `:q` or Ctrl-C.
    case quit
    /// A quit signal (INT, TERM, HUP, QUIT) arrived; the terminal is already restored.
    case signal(Int32)
}

/// An in-memory terminal: keys and resizes are queued by the test, frames are kept for it to read.
public final class TestBackend: TerminalBackend, @unchecked Sendable {
    private let condition = NSCondition()
    private var pendingKeys: [Key] = []
    private var pendingResize = false
    private var currentSize: Size
    private var signalNumber: Int32?
    private var frames: [Grid] = []
    private var wakeDescriptor: Int32 = -1
    private let pipeEnds: (read: Int32, write: Int32)
    public private(set) var closed = false

    public init(size: Size) {
        currentSize = size
        var fds: [Int32] = [-1, -1]
        _ = pipe(&fds)
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        pipeEnds = (fds[0], fds[1])
    }

    deinit {
        Foundation.close(pipeEnds.read)
        Foundation.close(pipeEnds.write)
    }

    // The test's side.

    public func press(_ keys: [Key]) {
        condition.withLock { pendingKeys += keys }
        poke()
    }

    public func type(_ text: String) { press(Key.typing(text)) }

    public func resize(to size: Size) {
        condition.withLock {
            currentSize = size
            pendingResize = true
        }
        poke()
    }

    /// As if a quit signal arrived (the loop restores the terminal and says which).
    public func raise(_ number: Int32) {
        condition.withLock { signalNumber = number }
        if wakeDescriptor >= 0 {
            var byte: UInt8 = 1
            _ = write(wakeDescriptor, &byte, 1)
        }
    }

    public var frameCount: Int { condition.withLock { frames.count } }
    public var lastFrame: Grid? { condition.withLock { frames.last } }

    /// Waits (up to `timeout` seconds) for a frame that satisfies `predicate`; returns it, or nil.
    public func waitForFrame(timeout: Double = 10, _ predicate: (Grid) -> Bool) -> Grid? {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let last = frames.last, predicate(last) { return last }
            if !condition.wait(until: deadline) { return frames.last.flatMap { predicate($0) ? $0 : nil } }
        }
    }

    private func poke() {
        var byte: UInt8 = 0
        _ = write(pipeEnds.write, &byte, 1)
    }

    // The loop's side.

    public var size: Size { condition.withLock { currentSize } }
    public var inputDescriptor: Int32 { pipeEnds.read }
    public func start(wakeDescriptor: Int32) { self.wakeDescriptor = wakeDescriptor }

    public func readInput() -> (keys: [Key], resized: Bool) {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(pipeEnds.read, &buffer, 64) > 0 {}
        return condition.withLock {
            defer {
                pendingKeys.removeAll()
                pendingResize = false
            }
            return (pendingKeys, pendingResize)
        }
    }

    public var receivedSignal: Int32? { condition.withLock { signalNumber } }
    public func setBase(_ style: Style) {}

    public func flush(_ grid: Grid) {
        condition.withLock {
            // The last frames are enough to look at; memory stays bounded however long a test runs.
            if frames.count >= 64 { frames.removeFirst(32) }
            frames.append(grid)
            condition.broadcast()
        }
    }

    /// How often the terminal was handed to another program.
    public var suspensions: Int { condition.withLock { suspended } }
    private var suspended = 0

    public func suspend<T>(_ body: () throws -> T) rethrows -> T {
        condition.withLock { suspended += 1 }
        return try body()
    }

    public func close() { condition.withLock { closed = true } }
}
