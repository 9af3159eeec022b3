import CSQLiteConfig
import Foundation
import GRDB
import GRDBSQLite

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
    /// The file opened (device and inode), to tell when `location` names another (`locationChanged`).
    private var opened: FileIdentity?

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

    /// How long a command waits for a lock held by another writer (or a reader for recovery)
    /// before it gives up with an error: `--busy-timeout`.
    public static let defaultBusyTimeout: Duration = .seconds(10)

    /// The time a busy handler has been waiting for the present lock, by the monotonic clock.
    final class BusyWait: @unchecked Sendable {
        var since: ContinuousClock.Instant?
    }

    /// Waits for a lock in 100 µs steps, for up to `timeout` by the monotonic clock (counting
    /// steps waited about twice as long: each sleep overshoots). SQLite's own busy timeout sleeps
    /// 1, 2, 5, 10… 100 ms, so a lock held for a millisecond (a `pipetop publish` beside a running
    /// runtime) could cost a commit 100 ms. One per connection (it keeps its wait's start).
    static func busyMode(_ timeout: Duration) -> Database.BusyMode {
        let wait = BusyWait()
        return .callback { tries in
            let now = ContinuousClock.now
            if tries == 0 || wait.since == nil { wait.since = now }
            guard let since = wait.since, now - since < timeout else { return false }
            usleep(100)
            return true
        }
    }

    /// The busy timeout this store was opened with.
    public let busyTimeout: Duration

    /// `mergeLatency(a, b)`: two `LatencyBuckets` blobs (or NULLs) as one, for the writer's upsert of a queue's second.
    static let mergeLatency = "pipetop_merge_latency"
    private static let mergeLatencyFunction = DatabaseFunction(mergeLatency, argumentCount: 2, pure: true) { values in
        let merged = LatencyBuckets.merged(
            LatencyBuckets(encoded: Data.fromDatabaseValue(values[0]) ?? Data()), LatencyBuckets(encoded: Data.fromDatabaseValue(values[1]) ?? Data()))
        return merged.isEmpty ? nil : merged.encoded
    }

    /// Set once, before the first connection (SQLite reads them when it initialises).
    private static let processSettings: Void = { _ = pipetop_sqlite_disable_memstatus() }()

    /// Opens the store at `path` (creating it, with `create`, if there is none) and migrates it to
    /// this version's schema. With `readOnly`, nothing is created or migrated, and the schema must
    /// already be current. A file that is not a pipetop store is refused before anything is written
    /// to it. What is created is private: directories 0700, the store 0600 (its `-wal` and `-shm`
    /// take the store's mode), and an existing store of ours open to others is made 0600.
    ///
    /// `untouched` (`--read-only`) opens it without writing a byte: see `untouchedPath`.
    ///
    /// `progress` hears of a schema upgrade of an existing store, migration by migration (on a
    /// large store one can take a while): the CLI prints it, so a slow start is not silence.
    public init(path: String, readOnly: Bool = false, create: Bool = true, busyTimeout: Duration = SQLiteStore.defaultBusyTimeout,
                untouched: Bool = false, progress: (@Sendable (String) -> Void)? = nil) throws {
        _ = Self.processSettings
        location = path
        self.busyTimeout = busyTimeout
        var config = Configuration()
        config.readonly = readOnly
        config.busyMode = Self.busyMode(busyTimeout)
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
                // And wait for a lock (a recovery) as long as the writer (GRDB gives them 10 s).
                sqlite3_busy_timeout(db.sqliteConnection, CInt(clamping: busyTimeout.micros / 1_000))
            } else {
                // 8 MB holds the pages a tick writes (the right edges of the log, events and message
                // indexes). Not more: SQLite scans its whole page-cache hash table at a commit after
                // a B-tree rebalance (it rekeys a page to a spare number past the end of the file),
                // so a 64 MB cache cost the engine ~10 % more CPU per event (measured).
                try db.execute(sql: "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -8192")
                db.add(function: Self.mergeLatencyFunction)
                try db.execute(sql: "PRAGMA temp_store = MEMORY")
            }
            Self.keepWAL(db)
        }
        let exists = FileManager.default.fileExists(atPath: path)
        if readOnly || !create, !exists {
            throw StoreError("no store at \(path)" + (readOnly ? "" : " (a command creates one only with --create)"))
        }
        if !readOnly {
            if exists {
                try Self.refuseForeign(path)
            } else {
                try Self.createPrivate(path)
            }
        }
        do {
            // A reader in a directory it cannot write to opens the store as `--read-only` does.
            let strict = readOnly && (untouched || !Self.directoryWritable(path))
            pool = try DatabasePool(path: strict ? try Self.untouchedPath(path) : path, configuration: config)
        } catch let error as DatabaseError {
            throw StoreError("cannot open the store at \(path): \(error.message ?? "\(error)")")
        }
        try checkSchema(readOnly: readOnly, progress: progress)
        if !readOnly { Self.makePrivate(path) }
        opened = FileIdentity(path)
    }

    /// A file as the file system knows it: another file at the same path has another identity.
    struct FileIdentity: Equatable {
        var device: UInt64
        var inode: UInt64
        init?(_ path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    /// The connections stay on the file they opened: one replaced (a restore, `mv new.sqlite`) or
    /// removed would go on being read, silently stale. Said here so the dashboard can reopen.
    public func locationChanged() -> String? {
        guard let opened else { return nil }
        guard let now = FileIdentity(location) else { return "store file removed or moved away" }
        return now == opened ? nil : "store file replaced by another"
    }

    /// How to open `path` so nothing is written to it or beside it. With its `-shm` there (a live
    /// store, a crashed one, or one stopped by this version, which keeps it), the shared memory is
    /// opened read-only too (`readonly_shm`). With neither `-wal` nor `-shm` and a directory no one
    /// may write to, no writer can be using the store, and it is read as `immutable`. With a
    /// directory that can be written to, SQLite makes the missing `-shm` (it must: a writer may
    /// come); with a `-wal` to recover and no way to write its index, it cannot be read at all.
    static func untouchedPath(_ path: String) throws -> String {
        let manager = FileManager.default
        let writable = directoryWritable(path)
        let wal = (try? manager.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? nil
        var components = URLComponents()
        components.path = path
        let uri = "file:" + (components.percentEncodedPath.replacingOccurrences(of: "?", with: "%3F"))
        if manager.fileExists(atPath: path + "-shm") { return uri + "?mode=ro&readonly_shm=1" }
        if writable { return uri + "?mode=ro" }
        if wal == nil || wal == 0 { return uri + "?mode=ro&immutable=1" }
        throw StoreError("the store at \(path) has a write-ahead log to recover but no -shm index, and its directory cannot be written: reading it needs write access once (open it without --read-only where it can be written, or copy it with its -wal)")
    }

    /// The -wal and -shm stay when the last connection closes (whichever it is), so a reader that
    /// may not write (`--read-only`, a read-only directory) can open a stopped store.
    static func keepWAL(_ db: Database) {
        var persist: CInt = 1
        sqlite3_file_control(db.sqliteConnection, nil, SQLITE_FCNTL_PERSIST_WAL, &persist)
    }

    /// Whether the store's directory can be written (by permission, and on its file system).
    static func directoryWritable(_ path: String) -> Bool {
        let directory = (path as NSString).deletingLastPathComponent
        let dir = directory.isEmpty ? "." : directory
        return access(dir, W_OK) == 0 && !isReadOnlyMount(dir)
    }

    /// A directory on a file system mounted read-only (where even root cannot write).
    static func isReadOnlyMount(_ directory: String) -> Bool {
        var info = statvfs()
        return statvfs(directory, &info) == 0 && info.f_flag & UInt(ST_RDONLY) != 0
    }

    /// Makes the store's directories (0700, those that are missing) and the empty file (0600), so
    /// SQLite opens a file no one else may read and gives its `-wal` and `-shm` the same mode.
    static func createPrivate(_ path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw StoreError("cannot create the directory \(directory) for the store: \((error as NSError).localizedDescription)")
            }
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 || errno == EEXIST else { throw StoreError("cannot create the store at \(path): \(String(cString: strerror(errno)))") }
        if fd >= 0 { close(fd) }
    }

    /// A file that is not an SQLite database, or a database that is not a pipetop store, or one of
    /// a newer pipetop, is refused here, read-only: opening it for writing would already turn it to
    /// WAL mode.
    static func refuseForeign(_ path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw StoreError("cannot read the store at \(path): \(String(cString: strerror(errno)))") }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        try? handle.close()
        if header.isEmpty { return }  // an empty file is an empty database
        guard header == Data("SQLite format 3\0".utf8) else { throw StoreError("\(path) is not an SQLite database (nor a pipetop store)") }
        var config = Configuration()
        config.readonly = true
        let tables: [String]
        let superseded: Bool
        do {
            let probe = try DatabaseQueue(path: path, configuration: config)
            (tables, superseded) = try probe.read { db in
                let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
                return (tables, tables.contains("grdb_migrations") ? try SQLiteSchema.migrator.hasBeenSuperseded(db) : false)
            }
            try probe.close()
        } catch let error as DatabaseError {
            throw StoreError("cannot read the store at \(path): \(error.message ?? "\(error)")")
        }
        if !tables.isEmpty, !tables.contains("grdb_migrations") { throw StoreError("\(path) is an SQLite database but not a pipetop store") }
        if superseded { throw StoreError("the store at \(path) was written by a newer pipetop; upgrade pipetop to open it") }
    }

    /// A store of ours that others may read (made by an older pipetop, or under a loose umask)
    /// becomes 0600, with its `-wal` and `-shm`.
    static func makePrivate(_ path: String) {
        for file in [path, path + "-wal", path + "-shm"] {
            var info = stat()
            guard stat(file, &info) == 0, info.st_uid == getuid(), info.st_mode & 0o077 != 0 else { continue }
            chmod(file, info.st_mode & 0o700)
        }
    }

    private func checkSchema(readOnly: Bool, progress: (@Sendable (String) -> Void)?) throws {
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
            } else if let progress, !known.isEmpty {
                // An existing store: each migration said before it runs, and the whole when done.
                let pending = migrator.migrations.filter { !known.contains($0) }
                let started = Monotonic.micros
                for (index, migration) in pending.enumerated() {
                    progress("upgrading the store at \(location) to schema \(migration) (\(index + 1) of \(pending.count))…")
                    try migrator.migrate(pool, upTo: migration)
                }
                if !pending.isEmpty {
                    progress(String(format: "upgraded the store at %@ in %.1f s", location, Double(Monotonic.micros - started) / 1e6))
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
