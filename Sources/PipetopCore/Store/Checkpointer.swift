import Foundation
import GRDB

/// Copies the WAL back into the database file on its own thread and connection, every 5 ms while
/// commits come, so the engine's commits almost never pay for a checkpoint.
///
/// A WAL checkpoint syncs the WAL and the database file. Run inside a commit (SQLite's automatic
/// checkpoint), that sync stalled the engine ~80 ms every ~0.6 s at 1,000 small commits a second:
/// the whole p99 of publish → handler start (measured with pipetop-bench). This thread runs PASSIVE
/// checkpoints, which never block the writer. The writer keeps its own automatic checkpoint, rarely
/// (every 8,192 pages), for one reason: SQLite restarts the WAL from its beginning only after a
/// checkpoint that caught up completely, which a background thread cannot do while commits keep
/// coming; by then this thread has copied and synced nearly everything, so that checkpoint is
/// cheap. (Without it the WAL only grew, and resetting it from here, TRUNCATE, stalled the writer.)
final class Checkpointer: @unchecked Sendable {
    /// At most one checkpoint per interval while commits come; none while the store is idle.
    static let interval: TimeInterval = 0.005

    private let connection: DatabaseQueue
    private let lock = NSLock()
    private var pending = false
    private var stopping = false
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(path: String) throws {
        var config = Configuration()
        config.busyMode = SQLiteStore.busyMode(SQLiteStore.defaultBusyTimeout)
        config.label = "pipetop.checkpointer"
        config.prepareDatabase { SQLiteStore.keepWAL($0) }
        connection = try DatabaseQueue(path: path, configuration: config)
        NamedThread.start("pipetop.ckpt") { [self] in
            run()
            finished.signal()
        }
    }

    /// Called after each commit: schedules a checkpoint unless one is already due.
    func noteCommit() {
        lock.lock()
        defer { lock.unlock() }
        guard !pending else { return }
        pending = true
        wake.signal()
    }

    private func run() {
        while true {
            wake.wait()
            let stop = lock.withLock { () -> Bool in
                pending = false
                return stopping
            }
            _ = try? connection.writeWithoutTransaction { try $0.checkpoint(.passive) }
            if stop { return }
            Thread.sleep(forTimeInterval: Self.interval)
        }
    }

    /// Runs a last checkpoint and ends the thread.
    func stop() {
        lock.withLock { stopping = true }
        wake.signal()
        finished.wait()
    }
}
