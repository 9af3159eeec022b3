import Foundation
import GRDBSQLite
import PipetopCore

/// What the store's schema allows without the engine: the rows the runtime writes for no-op
/// events, written through SQLite's C API by one thread, into a store made by the store's own
/// migrations (the real tables and indexes, WAL, `synchronous=NORMAL`, the writer's cache size),
/// one prepared statement per row, 256 events per transaction. Per event, as the engine does with
/// direct dispatch: the event row, its message inserted in flight and one log row (published,
/// routed, enqueued, claimed), then, in the next transaction, the message deleted by its ack and
/// one log row (succeeded), and the queue's counters. The runtime's no-op figure as a share of
/// this one says which side a regression is on.
enum SchemaFloor {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func measure(events total: Int, ids: RuntimeFigures.EventIDs, scratch: URL) throws -> Double {
        let directory = scratch.appendingPathComponent("floor-\(ids == .ordered ? "ordered" : "random")")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("store.sqlite").path
        do { _ = try SQLiteStore(path: path) }  // the schema, by the store's own migrations
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK, let db else { throw Failure(description: "cannot open \(path)") }
        defer { sqlite3_close_v2(db) }
        func exec(_ sql: String) throws {
            guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw Failure(description: String(cString: sqlite3_errmsg(db))) }
        }
        try exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -8192; PRAGMA wal_autocheckpoint = 8192")
        try exec("INSERT INTO queue_counters (queue) VALUES ('q')")
        if let experiment = ProcessInfo.processInfo.environment["FLOOR_SQL"] { try exec(experiment) }
        func prepare(_ sql: String) throws -> OpaquePointer {
            var statement: OpaquePointer?
            guard sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK, let statement else {
                throw Failure(description: String(cString: sqlite3_errmsg(db)))
            }
            return statement
        }
        let insertEvent = try prepare("""
            INSERT INTO events (seq, id, source, type, correlation_id, causation_id, data_kind, published_at, routed, log_seq)
            VALUES (?, ?, '/bench', 'bench', ?, ?, 0, ?, 1, ?)
            """)
        let insertMessage = try prepare("""
            INSERT INTO messages (id, queue, event_seq, state, ready_at, enqueued_at, attempt, deliveries)
            VALUES (?, 'q', ?, \(MessageState.inFlight.rawValue), ?, ?, 1, 1)
            """)
        let insertLog = try prepare("""
            INSERT INTO log (seq, at, steps, event_seq, queue, message_id, attempt, duration_us, error, error_steps, detail, detail_steps)
            VALUES (?, ?, ?, ?, 'q', ?, 1, ?, NULL, 0, ?, ?)
            """)
        let ack = try prepare("DELETE FROM messages WHERE id = ? AND state = \(MessageState.inFlight.rawValue) AND deliveries = ?")
        let counters = try prepare("UPDATE queue_counters SET enqueued = enqueued + ?, claimed = claimed + ?, succeeded = succeeded + ? WHERE queue = ?")
        defer { for statement in [insertEvent, insertMessage, insertLog, ack, counters] { sqlite3_finalize(statement) } }
        func step(_ statement: OpaquePointer) throws {
            guard sqlite3_step(statement) == SQLITE_DONE else { throw Failure(description: String(cString: sqlite3_errmsg(db))) }
            sqlite3_reset(statement)
        }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        func bind(_ statement: OpaquePointer, _ index: Int32, _ text: String) { sqlite3_bind_text(statement, index, text, -1, transient) }
        let ids = (0..<total).map { ids == .ordered ? "e\($0)" : UUID().uuidString }
        let accepted = (1 << LifecycleKind.published.step) | (1 << LifecycleKind.routed.step) | (1 << LifecycleKind.enqueued.step)
            | (1 << LifecycleKind.claimed.step)
        let succeeded = 1 << LifecycleKind.succeeded.step
        let batch = 256
        let started = Date()
        var previous = 0..<0
        var next = 0
        var logSeq: Int64 = 0
        func log(at now: Int64, steps: Int, event seq: Int64, duration: Int64?, detail: String?, detailSteps: Int) throws {
            logSeq += 1
            sqlite3_bind_int64(insertLog, 1, logSeq)
            sqlite3_bind_int64(insertLog, 2, now)
            sqlite3_bind_int64(insertLog, 3, Int64(steps))
            sqlite3_bind_int64(insertLog, 4, seq)
            sqlite3_bind_int64(insertLog, 5, seq)
            if let duration { sqlite3_bind_int64(insertLog, 6, duration) } else { sqlite3_bind_null(insertLog, 6) }
            if let detail { bind(insertLog, 7, detail) } else { sqlite3_bind_null(insertLog, 7) }
            sqlite3_bind_int64(insertLog, 8, Int64(detailSteps))
            try step(insertLog)
        }
        while next < total || !previous.isEmpty {
            let now = Timestamp.now().micros
            try exec("BEGIN IMMEDIATE")
            for index in previous {
                let seq = Int64(index + 1)
                sqlite3_bind_int64(ack, 1, seq)
                sqlite3_bind_int64(ack, 2, 1)
                try step(ack)
                try log(at: now, steps: succeeded, event: seq, duration: 150, detail: nil, detailSteps: 0)
            }
            let fresh = next..<min(next + batch, total)
            for index in fresh {
                let seq = Int64(index + 1)
                sqlite3_bind_int64(insertEvent, 1, seq)
                bind(insertEvent, 2, ids[index])
                bind(insertEvent, 3, ids[index])
                bind(insertEvent, 4, ids[index])
                sqlite3_bind_int64(insertEvent, 5, now)
                sqlite3_bind_int64(insertEvent, 6, logSeq + 1)
                try step(insertEvent)
                sqlite3_bind_int64(insertMessage, 1, seq)
                sqlite3_bind_int64(insertMessage, 2, seq)
                sqlite3_bind_int64(insertMessage, 3, now + 30_000_000)
                sqlite3_bind_int64(insertMessage, 4, now)
                try step(insertMessage)
                try log(at: now, steps: accepted, event: seq, duration: nil, detail: "q", detailSteps: 1 << LifecycleKind.routed.step)
            }
            sqlite3_bind_int64(counters, 1, Int64(fresh.count))
            sqlite3_bind_int64(counters, 2, Int64(fresh.count))
            sqlite3_bind_int64(counters, 3, Int64(previous.count))
            bind(counters, 4, "q")
            try step(counters)
            try exec("COMMIT")
            previous = fresh
            next = fresh.upperBound
        }
        return Double(total) / Date().timeIntervalSince(started)
    }
}
