import CSQLiteConfig
import Foundation
import GRDB

/// A store that cannot be opened or used, with the reason in words.
public struct StoreError: Error, CustomStringConvertible, Equatable {
    public var description: String
    /// The store URL names a backend this build does not have (bad input, not a failure).
    public var unsupported: Bool
    public init(_ description: String, unsupported: Bool = false) {
        self.description = description
        self.unsupported = unsupported
    }
}

/// The embedded default: one SQLite file in WAL mode.
///
/// Many readers and one writer; the runtime's engine is that writer and commits a whole tick per
/// transaction. A second writer (`pipetop publish`, a replay) waits on `busy_timeout`.
/// `synchronous=NORMAL` is the durability floor: a commit survives a process crash, and in WAL
/// mode a power loss can lose only the last commits, never corrupt the file.
public final class SQLiteStore: Store, @unchecked Sendable {
    public let location: String
    let pool: DatabasePool
    /// Prepared on first write; only touched inside `pool.write`, which serialises writers.
    private var statements: WriterStatements?
    /// Started with the first write through this store (see `Checkpointer`).
    private var checkpointer: Checkpointer?

    /// The write path's prepared statements, made on the writer connection at its first use, and
    /// the background checkpointer.
    func writerStatements(_ db: Database) throws -> WriterStatements {
        if let statements { return statements }
        let prepared = try WriterStatements(db)
        statements = prepared
        checkpointer = try Checkpointer(path: location)
        // Rare, cheap checkpoints in the commit path; they let the WAL restart (see Checkpointer).
        try db.execute(sql: "PRAGMA wal_autocheckpoint = 8192")
        return prepared
    }

    /// Tells the checkpointer there is WAL to copy.
    func committed() { checkpointer?.noteCommit() }

    deinit { checkpointer?.stop() }

    /// Waits for a lock in 100 µs steps, for up to 10 s. SQLite's own busy timeout sleeps 1, 2, 5,
    /// 10… 100 ms, so a lock held for a millisecond (a `pipetop publish` beside a running runtime)
    /// could cost a commit 100 ms.
    static let busyMode = Database.BusyMode.callback { tries in
        guard tries < 100_000 else { return false }
        usleep(100)
        return true
    }

    /// `mergeLatency(a, b)`: two `LatencyBuckets` blobs (or NULLs) as one, for the writer's upsert of a queue's second.
    static let mergeLatency = "pipetop_merge_latency"
    private static let mergeLatencyFunction = DatabaseFunction(mergeLatency, argumentCount: 2, pure: true) { values in
        let merged = LatencyBuckets.merged(
            LatencyBuckets(encoded: Data.fromDatabaseValue(values[0]) ?? Data()), LatencyBuckets(encoded: Data.fromDatabaseValue(values[1]) ?? Data()))
        return merged.isEmpty ? nil : merged.encoded
    }

    /// Set once, before the first connection (SQLite reads them when it initialises).
    private static let processSettings: Void = { _ = pipetop_sqlite_disable_memstatus() }()

    /// Opens (creating if needed) the store at `path` and migrates it to this version's schema.
    /// With `readOnly`, nothing is created or migrated, and the schema must already be current.
    public init(path: String, readOnly: Bool = false) throws {
        _ = Self.processSettings
        location = path
        var config = Configuration()
        config.readonly = readOnly
        config.busyMode = Self.busyMode
        config.label = "pipetop"
        // The schema's REFERENCES document the links, but checking them costs each log and message
        // insert a lookup in `events`: without it the engine thread's CPU per event fell ~10 %
        // (and callgrind counted ~10 % fewer instructions on a C model of the tick). The only
        // writer is this store, which inserts an event before anything that points at it; the
        // tests run `PRAGMA foreign_key_check` after real runs instead.
        config.foreignKeysEnabled = false
        config.prepareDatabase { db in
            if db.configuration.readonly {
                // Readers (the dashboard, the CLI) stay small: the dashboard's memory is bounded.
                // Their sorts and temporary tables (the groups of a time or text filter sort every
                // matching letter: ~120 MB for 1,000,000 in memory, measured) spill to temporary
                // files past the cache size, not into the process.
                try db.execute(sql: "PRAGMA cache_size = -8000; PRAGMA temp_store = FILE")
            } else {
                // 8 MB holds the pages a tick writes (the right edges of the log, events and message
                // indexes). Not more: SQLite scans its whole page-cache hash table at a commit after
                // a B-tree rebalance (it rekeys a page to a spare number past the end of the file),
                // so a 64 MB cache cost the engine ~10 % more CPU per event (measured).
                try db.execute(sql: "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -8192")
                db.add(function: Self.mergeLatencyFunction)
                try db.execute(sql: "PRAGMA temp_store = MEMORY")
            }
        }
        if readOnly, !FileManager.default.fileExists(atPath: path) {
            throw StoreError("no store at \(path)")
        }
        if !readOnly {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty {
                try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch let error as DatabaseError {
            throw StoreError("cannot open the store at \(path): \(error.message ?? "\(error)")")
        }
        try checkSchema(readOnly: readOnly)
    }

    private func checkSchema(readOnly: Bool) throws {
        let migrator = SQLiteSchema.migrator
        do {
            let (known, superseded, tables) = try pool.read { db in
                let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
                let hasMigrations = tables.contains("grdb_migrations")
                return (
                    hasMigrations ? try migrator.appliedIdentifiers(db) : [],
                    hasMigrations ? try migrator.hasBeenSuperseded(db) : false,
                    tables)
            }
            if superseded {
                throw StoreError("the store at \(location) was written by a newer pipetop (schema \(known.sorted().joined(separator: ", "))); upgrade pipetop to open it")
            }
            if !tables.isEmpty, !tables.contains("grdb_migrations") {
                throw StoreError("\(location) is an SQLite database but not a pipetop store")
            }
            if readOnly {
                guard try pool.read({ try migrator.hasCompletedMigrations($0) }) else {
                    throw StoreError("the store at \(location) has an older schema; it is upgraded by the next command that writes to it (a runtime, `pipetop demo`, `pipetop publish`), which reading commands and --read-only never do")
                }
            } else {
                try migrator.migrate(pool)
            }
        } catch let error as DatabaseError {
            throw StoreError("cannot read the store at \(location): \(error.message ?? "\(error)")")
        }
    }

    /// The database queue's readers and writer, for tests and tools that inspect the file.
    public var database: DatabasePool { pool }
}

extension Timestamp: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { micros.databaseValue }
    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> Timestamp? {
        Int64.fromDatabaseValue(dbValue).map(Timestamp.init(micros:))
    }
}
