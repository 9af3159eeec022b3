import Foundation
import PipetopTestSupport
import GRDB
import Testing
@testable import PipetopCore

/// Issue 14: what a hostile local user, a foreign file or a mistyped path could make pipetop do.
/// Each test here failed before its fix.
@Suite(.serialized) struct HardeningTests {
    let db = try! TestStore()

    func scratch(_ name: String) -> String { db.directory.appendingPathComponent(name).path }

    func mode(_ path: String) -> mode_t {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o777 : 0
    }

    func run(_ arguments: [String], env: [String: String] = [:], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let base = ["XDG_RUNTIME_DIR": scratch("run"), "XDG_STATE_HOME": scratch("state"), "XDG_CONFIG_HOME": scratch("config")]
        return try Child.run([Child.pipetop] + arguments, environment: Child.environment(adding: base.merging(env) { $1 }), stdin: stdin, in: db.directory)
    }

    func entry(_ runtime: RuntimeInfo) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(runtime)
    }

    // MARK: 1. The registry

    @Test func theRegistryDirectoryIsMadeOursOrRefused() throws {
        let made = scratch("made/pipetop")
        #expect(try Registry.checkedDirectory(made, create: true))
        #expect(mode(made) == 0o700)
        #expect(try !Registry.checkedDirectory(scratch("absent"), create: false), "reading never creates it")
        #expect(!FileManager.default.fileExists(atPath: scratch("absent")))

        let open = scratch("open")
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: true)
        chmod(open, 0o777)
        #expect(throws: StoreError.self) { try Registry.checkedDirectory(open, create: true) }
        #expect((try? Registry.entries(in: open)) == nil, "entries of a directory others may write are not read")

        let link = scratch("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: made)
        #expect(throws: StoreError.self) { try Registry.checkedDirectory(link, create: true) }

        if getuid() == 0 {  // only root can give a directory away; as anyone else this is the same check
            let foreign = scratch("foreign")
            try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            chown(foreign, 65534, 65534)
            #expect(throws: StoreError.self) { try Registry.checkedDirectory(foreign, create: true) }
            do { try Registry.checkedDirectory(foreign, create: true) } catch { #expect("\(error)".contains("belongs to uid 65534")) }
        }
    }

    @Test func anEntryCountsOnlyIfItsProcessIsOursAndHoldsItsStore() throws {
        let directory = scratch("entries")
        try Registry.checkedDirectory(directory, create: true)
        let now = Timestamp.now()
        // pid 1 exists, but it does not have this store open.
        let init1 = RuntimeInfo(name: "init", pid: 1, host: "h", store: db.path, startedAt: now, heartbeatAt: now)
        try entry(init1).write(to: URL(fileURLWithPath: Registry.path(for: "init", in: directory)))
        // This process holds the test store open: it is alive.
        let me = RuntimeInfo(name: "me", pid: getpid(), host: "h", store: db.path, startedAt: now, heartbeatAt: now)
        try Registry.write(me, in: directory)
        #expect(mode(Registry.path(for: "me", in: directory)) == 0o600)
        // A file another user put there (possible only as root here) is not read at all.
        if getuid() == 0 {
            let planted = RuntimeInfo(name: "planted", pid: getpid(), host: "h", store: db.path, startedAt: now, heartbeatAt: now)
            let path = Registry.path(for: "planted", in: directory)
            try entry(planted).write(to: URL(fileURLWithPath: path))
            chown(path, 65534, 65534)
        }
        let entries = try Registry.entries(in: directory)
        #expect(entries.map(\.runtime.name) == ["init", "me"])
        #expect(entries.first { $0.runtime.name == "init" }?.alive == false)
        #expect(entries.first { $0.runtime.name == "me" }?.alive == true)
    }

    @Test func commandsRefuseAFallbackRegistryDirectoryOthersCouldWrite() throws {
        // No XDG_RUNTIME_DIR: the registry falls back to $TMPDIR/pipetop-<uid>, made by someone else.
        let tmp = scratch("tmp")
        let planted = (tmp as NSString).appendingPathComponent("pipetop-\(getuid())")
        try FileManager.default.createDirectory(atPath: planted, withIntermediateDirectories: true)
        chmod(planted, 0o777)
        let attacker = scratch("attacker.sqlite")
        _ = try SQLiteStore(path: attacker)
        let now = Timestamp.now()
        try entry(RuntimeInfo(name: "evil", pid: 1, host: "h", store: attacker, startedAt: now, heartbeatAt: now))
            .write(to: URL(fileURLWithPath: (planted as NSString).appendingPathComponent("evil.json")))
        let result = try run(["publish", #"{"specversion":"1.0","id":"card","source":"/cli","type":"t","data":"4111 1111 1111 1111"}"#],
                             env: ["XDG_RUNTIME_DIR": "", "TMPDIR": tmp])
        #expect(result.status == 1)
        #expect(result.stderr.contains("may be used by other users"), "\(result.stderr)")
        let store = try SQLiteStore(path: attacker, readOnly: true)
        #expect(try store.tail(after: 0, limit: 10).isEmpty, "nothing reached the planted store")
    }

    // MARK: 2, 3, 5. Stores: private, foreign ones untouched, created only when asked

    static let event = #"{"specversion":"1.0","id":"p1","source":"/cli","type":"t"}"#

    @Test func aNewStoreIsPrivateWhateverTheUmask() throws {
        let path = scratch("private/deep/s.sqlite")
        let store = try SQLiteStore(path: path)
        try store.publishUnrouted([CloudEvent(id: "a", source: "/t", type: "t")], at: .now())
        #expect(mode(path) == 0o600)
        #expect(mode(path + "-wal") == 0o600)
        #expect(mode(path + "-shm") == 0o600)
        #expect(mode(scratch("private")) == 0o700 && mode(scratch("private/deep")) == 0o700)
        // The demo through the CLI: its state directory and store.
        let demo = try run(["demo", "--headless", "--duration", "1s"])
        #expect(demo.status == 0, "\(demo.stderr)")
        #expect(mode(scratch("state/pipetop")) == 0o700)
        #expect(mode(scratch("state/pipetop/demo.sqlite")) == 0o600)
    }

    @Test func anExistingStoreOpenToOthersIsMadePrivateWhenWritten() throws {
        let path = scratch("loose.sqlite")
        _ = try SQLiteStore(path: path)
        chmod(path, 0o644)
        let result = try run(["publish", "--store", path, Self.event])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(mode(path) == 0o600)
    }

    @Test func aForeignFileIsRefusedUnchanged() throws {
        let foreign = scratch("foreign.sqlite")
        let queue = try DatabaseQueue(path: foreign)
        try queue.write { try $0.execute(sql: "CREATE TABLE t (x); INSERT INTO t VALUES (1)") }
        try queue.close()
        let text = scratch("notes.txt")
        try Data("just some notes, not a database\n".utf8).write(to: URL(fileURLWithPath: text))
        for (path, message) in [(foreign, "is an SQLite database but not a pipetop store"), (text, "is not an SQLite database")] {
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            let result = try run(["publish", "--store", path, Self.event])
            #expect(result.status == 1)
            #expect(result.stderr.contains(message), "\(result.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "\(path) unchanged (before: turned to WAL)")
            #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        }
    }

    @Test func aMistypedPathCreatesNothingUnlessAsked() throws {
        let typo = scratch("stroes/typo.sqlite")
        let result = try run(["publish", "--store", typo, Self.event])
        #expect(result.status == 1)
        #expect(result.stderr.contains("no store at \(typo)") && result.stderr.contains("--create"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch("stroes")), "no directory made")
        let asked = try run(["publish", "--store", typo, "--create", Self.event])
        #expect(asked.status == 0, "\(asked.stderr)")
        #expect(mode(typo) == 0o600 && mode(scratch("stroes")) == 0o700)
    }

    // MARK: 9. One lock wait, a setting

    @Test func aLockHeldBeyondTheBusyTimeoutIsAClearFailureAndWritesNothing() throws {
        var config = Configuration()
        config.allowsUnsafeTransactions = true
        let holder = try DatabaseQueue(path: db.path, configuration: config)
        try holder.writeWithoutTransaction { try $0.execute(sql: "BEGIN IMMEDIATE") }
        let result = try run(["publish", "--store", db.path, "--busy-timeout", "200ms", Self.event])
        #expect(result.status == 1)
        #expect(result.stderr.contains("stayed locked by another writer for longer than the busy timeout (0.2s, --busy-timeout)"), "\(result.stderr)")
        try holder.writeWithoutTransaction { try $0.execute(sql: "ROLLBACK") }
        try holder.close()
        #expect(try db.store.tail(after: 0, limit: 10).isEmpty, "nothing was written")
        let bad = try run(["publish", "--store", db.path, "--busy-timeout", "soon", Self.event])
        #expect(bad.status == 2)
        #expect(bad.stderr == "pipetop: --busy-timeout 'soon' is not a duration such as 10s or 500ms\n")
    }

    // MARK: 8. --read-only is read-only

    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// A store as a runtime leaves it: written, stopped (its -wal and -shm kept).
    func stoppedStore(_ name: String) throws -> String {
        let directory = scratch(name)
        let path = (directory as NSString).appendingPathComponent("s.sqlite")
        let published = try run(["publish", "--store", path, "--create", Self.event])
        #expect(published.status == 0, "\(published.stderr)")
        return path
    }

    @Test func readOnlyWritesNothingBesideTheStore() throws {
        let path = try stoppedStore("ro-bytes")
        #expect(FileManager.default.fileExists(atPath: path + "-wal") && FileManager.default.fileExists(atPath: path + "-shm"),
                "a stopped store keeps its -wal and -shm (persistent WAL)")
        let before = [path, path + "-wal", path + "-shm"].map(bytes)
        for command in [["tail"], ["queues"], ["events", "--all"], ["dlq", "ls"]] {
            let result = try run(command + ["--store", path, "--read-only"])
            #expect(result.status == 0, "\(command): \(result.stderr)")
        }
        #expect([path, path + "-wal", path + "-shm"].map(bytes) == before, "not a byte changed, the -shm included")
    }

    /// A read-only bind mount of a directory: where even root cannot write. Nil (with the reason
    /// printed) where this machine does not allow one.
    func readOnlyMount(of directory: String) -> String? {
        guard getuid() == 0 else { print("skipped: a read-only mount needs root"); return nil }
        let target = directory + "-ro"
        try? FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        for arguments in [["--bind", directory, target], ["-o", "remount,bind,ro", target]] {
            guard let result = try? Child.run(["/bin/mount"] + arguments, environment: [:], in: db.directory), result.status == 0 else {
                print("skipped: cannot make a read-only mount here")
                _ = try? Child.run(["/bin/umount", target], environment: [:], in: db.directory)
                return nil
            }
        }
        return target
    }

    func unmount(_ target: String) { _ = try? Child.run(["/bin/umount", target], environment: [:], in: db.directory) }

    @Test func aStoreInAReadOnlyDirectoryIsReadOrTheReasonGiven() throws {
        let path = try stoppedStore("ro-dir")
        let directory = (path as NSString).deletingLastPathComponent
        guard let mounted = readOnlyMount(of: directory) else { return }
        defer { unmount(mounted) }
        let inside = (mounted as NSString).appendingPathComponent("s.sqlite")
        for flags in [["--read-only"], []] {
            let result = try run(["tail", "--store", inside] + flags)
            #expect(result.status == 0 && result.stdout.contains("published"), "\(flags): \(result.stderr)")
        }
        unmount(mounted)
        // Without its -wal and -shm (a store closed by an older version): no writer can be using a
        // store in a directory no one can write, so it is read as it is.
        try FileManager.default.removeItem(atPath: path + "-shm")
        let wal = try #require(bytes(path + "-wal"))
        try Data().write(to: URL(fileURLWithPath: path + "-wal"))
        guard let again = readOnlyMount(of: directory) else { return }
        let clean = try run(["tail", "--store", inside, "--read-only"])
        #expect(clean.status == 0, "\(clean.stderr)")
        unmount(again)
        // A log to recover and no index, where nothing can be written: the reason, not a raw error.
        try wal.write(to: URL(fileURLWithPath: path + "-wal"))
        guard let third = readOnlyMount(of: directory) else { return }
        defer { unmount(third) }
        let recover = try run(["tail", "--store", inside, "--read-only"])
        #expect(recover.status == 1)
        #expect(recover.stderr.contains("reading it needs write access once"), "\(recover.stderr)")
    }

    // MARK: 4. A store that refuses writes is never silent

    final class Collected: @unchecked Sendable {
        let lock = NSLock()
        var errors: [Error] = []
        func add(_ error: Error) { lock.withLock { errors.append(error) } }
        var all: [Error] { lock.withLock { errors } }
    }

    /// Holds the store's write lock from another connection (what a stuck writer or a full disk
    /// does to every commit), until `release`.
    final class Lock {
        let holder: DatabaseQueue
        init(_ path: String) throws {
            var config = Configuration()
            config.allowsUnsafeTransactions = true
            // The writer may be committing when the lock is taken: wait for it, do not fail.
            config.busyMode = .timeout(30)
            holder = try DatabaseQueue(path: path, configuration: config)
            try holder.writeWithoutTransaction { try $0.execute(sql: "BEGIN IMMEDIATE") }
        }
        func release() throws {
            try holder.writeWithoutTransaction { try $0.execute(sql: "ROLLBACK") }
            try holder.close()
        }
    }

    @Test func theRuntimeRetriesWhileTheStoreRefusesWritesAndLosesNothing() throws {
        let store = try SQLiteStore(path: scratch("refusing.sqlite"), busyTimeout: .milliseconds(20))
        let errors = Collected()
        var options = Runtime.Options()
        options.register = false
        options.onError = { errors.add($0) }
        options.giveUpAfter = nil
        let runtime = try Runtime(name: "refused", store: store, queues: [QueueSpec("q", visibilityTimeout: .seconds(3_600))],
                                  rules: [Rule("all", pattern: .type("t"), targets: ["q"])], options: options)
        let running = DispatchSemaphore(value: 0), finish = DispatchSemaphore(value: 0)
        runtime.handle("q") { _ in
            running.signal()
            finish.wait()
        }
        try runtime.start()
        defer { runtime.stop() }
        try runtime.publish(CloudEvent(id: "e1", source: "/t", type: "t"))
        running.wait()
        // The handler finishes while the store refuses every write: its outcome cannot be committed.
        let lock = try Lock(store.location)
        finish.signal()
        #expect(eventually { runtime.storeWriteFailure != nil })
        #expect(throws: (any Error).self, "a publish the store refused is not acknowledged") { try runtime.publish(CloudEvent(id: "e2", source: "/t", type: "t")) }
        #expect(eventually { (runtime.storeWriteFailure?.attempts ?? 0) >= 3 })
        let reported = errors.all.compactMap { $0 as? StoreWriteFailure }
        #expect(reported.count == 1, "reported once, not per tick: \(reported.count)")
        #expect(reported.first?.error.contains("stayed locked") == true)
        try lock.release()
        #expect(eventually { runtime.storeWriteFailure == nil })
        #expect(errors.all.contains { $0 is StoreWritableAgain })
        // The outcome was carried and committed: e1 succeeded at its first delivery, with no
        // lease expiry (an hour) in between; e2 was never stored.
        #expect(eventually { (try? store.queueStats(now: .now()).first { $0.name == "q" }?.succeeded) == 1 })
        let kinds = try store.trace(correlationID: "e1").map(\.kind)
        #expect(kinds.filter { $0 == .claimed }.count == 1 && kinds.contains(.succeeded), "\(kinds)")
        #expect(try store.trace(correlationID: "e2").isEmpty)
    }

    @Test func aRuntimeGivesUpAfterItsLimitAndSaysSo() throws {
        let store = try SQLiteStore(path: scratch("given-up.sqlite"), busyTimeout: .milliseconds(20))
        var options = Runtime.Options()
        options.register = false
        options.onError = { _ in }
        options.giveUpAfter = .milliseconds(300)
        let runtime = try Runtime(name: "gives-up", store: store, queues: [QueueSpec("q")], rules: [], options: options)
        try runtime.start()
        defer { runtime.stop() }
        let lock = try Lock(store.location)
        defer { try? lock.release() }
        #expect(eventually { runtime.storeWriteFailure?.gaveUp == true })
        do {
            try runtime.publish(CloudEvent(id: "late", source: "/t", type: "t"))
            Issue.record("a publish after giving up was accepted")
        } catch let failure as StoreWriteFailure {
            #expect(failure.gaveUp && failure.description.contains("gave up"))
        }
    }

    @Test func theDemoSaysItsStoreRefusesWritesAndExits1WhenItGivesUp() throws {
        let path = scratch("demo-refused.sqlite")
        let base = ["XDG_RUNTIME_DIR": scratch("run"), "XDG_STATE_HOME": scratch("state"), "XDG_CONFIG_HOME": scratch("config")]
        let demo = try Child([Child.pipetop, "demo", "--headless", "--store", path, "--busy-timeout", "50ms", "--give-up-after", "2s"],
                             environment: Child.environment(adding: base), in: db.directory)
        #expect(eventually { demo.stdout.contains("published") })
        let lock = try Lock(path)
        defer { try? lock.release() }
        let status = demo.wait()
        #expect(status == 1, "\(demo.stderr)")
        #expect(demo.stdout.contains("store not writable since"), "\(demo.stdout.suffix(600))")
        #expect(demo.stderr.contains("the store stayed unwritable, the runtime gave up"), "\(demo.stderr)")
    }

    // MARK: 7. Hostile text, through every text output

    /// ESC, OSC (title, OSC 52 clipboard), BEL, CR, BS, C1 (CSI as U+009B), bidi overrides and
    /// isolates, zero-width characters, a very wide text and invalid UTF-8: never a raw byte out.
    static let hostile = "\u{1B}[2J\u{1B}]0;pwned\u{07}\u{1B}]52;c;aGk=\u{07}\r\u{08}\u{9B}31m\u{202E}evil\u{2066}\u{200B}\u{200D}\u{FEFF}" + String(repeating: "Ｗ", count: 300)

    static func unsafe(_ text: String) -> [String] {
        text.unicodeScalars.filter { $0 != "\n" && $0.isTerminalUnsafe }.map { String(format: "U+%04X", $0.value) }
    }

    @Test func hostileTextNeverReachesTheTerminalRawFromAnyCommand() throws {
        try db.store.declare(queues: [QueueSpec("q")], rules: [],
                             runtime: RuntimeInfo(name: "t", pid: 1, host: "h", store: db.path, startedAt: .now(), heartbeatAt: .now()))
        let now = Timestamp.now()
        // Attributes may hold bidi and zero-width characters (CloudEvents forbids only controls);
        // the payload and the handler's error may hold anything.
        let id = "id\u{202E}\u{200B}x", correlation = "flow\u{2066}\u{202E}1"
        let payload = Data("text ".utf8) + Data(Self.hostile.utf8) + Data([0xFF, 0xFE, 0x1B, 0x9B])  // invalid UTF-8 at the end
        var batch = WriteBatch(now: now)
        batch.publishes = [
            RoutedEvent(event: CloudEvent(id: id, source: "/s\u{202E}", type: "t\u{200B}ype", datacontenttype: "text/plain",
                                          data: .text("plain " + Self.hostile), correlationID: correlation), targets: [Target(queue: "q", held: false)]),
            RoutedEvent(event: CloudEvent(id: id + "-bin", source: "/s", type: "t", datacontenttype: "application/octet-stream",
                                          data: .binary(payload), correlationID: correlation), targets: [Target(queue: "q", held: false)]),
        ]
        batch.claims = [ClaimRequest(queue: "q", limit: 10, lease: .seconds(30), maxAttempts: 3)]
        let claimed = try db.store.apply(batch).claimed
        var fail = WriteBatch(now: now)
        fail.outcomes = claimed.map { Outcome(claim: $0.claim, duration: .milliseconds(1), finishedAt: now, result: .deadLetter(error: "boom " + Self.hostile, reason: .nonRetryable)) }
        _ = try db.store.apply(fail)
        let letters = try db.store.deadLetters(queue: nil, limit: 10)
        #expect(letters.count == 2)
        let letter = try #require(letters.first)
        let commands: [[String]] = [
            ["tail"], ["tail", "--json"], ["tail", "--corr", correlation], ["trace", correlation], ["trace", correlation, "--json"],
            ["dlq", "groups"], ["dlq", "ls"], ["dlq", "ls", "--json"], ["dlq", "show", "\(letter.messageID)"], ["dlq", "show", "\(letter.messageID)", "--json"],
            ["dlq", "show", "\(letters[1].messageID)"], ["dlq", "export", "-"],
            ["queues"], ["queues", "--json"], ["events", "--all"], ["events", "--all", "--json"],
        ]
        for command in commands {
            let result = try run(command + ["--store", db.path])
            #expect(result.status == 0, "\(command): \(result.stderr)")
            #expect(Self.unsafe(result.stdout).isEmpty, "\(command) printed \(Self.unsafe(result.stdout))")
            #expect(Self.unsafe(result.stderr).isEmpty, "\(command) printed on stderr \(Self.unsafe(result.stderr))")
            #expect(!result.stdout.utf8.contains(0x1B) && !result.stdout.utf8.contains(0x07), "\(command)")
        }
    }

    /// A full disk, for real: a 2 MiB tmpfs (skipped, with the reason printed, where this machine
    /// cannot mount one). The demo says the store is full, retries, gives up and exits 1; the
    /// store is whole afterwards, every message accounted for.
    @Test func aFullDiskIsSaidRetriedAndEndsWithStatus1() throws {
        let directory = scratch("full")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard getuid() == 0, let mounted = try? Child.run(["/bin/mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", directory], environment: [:], in: db.directory),
              mounted.status == 0 else {
            print("skipped: cannot mount a small tmpfs here")
            return
        }
        defer { unmount(directory) }
        let path = (directory as NSString).appendingPathComponent("s.sqlite")
        let result = try run(["demo", "--headless", "--store", path, "--rate", "500", "--give-up-after", "3s"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("store not writable since") && result.stdout.contains("disk is full"), "\(result.stdout.suffix(400))")
        #expect(result.stderr.contains("the store stayed unwritable, the runtime gave up") && result.stderr.contains("disk is full"), "\(result.stderr)")
        #expect(result.stderr.components(separatedBy: "pipetop runtime: store not writable").count - 1 <= 3, "reported once (and at the end), not per tick")
        // With room again the store is whole, and says the same in its counters, log and rows.
        _ = try Child.run(["/bin/mount", "-o", "remount,size=64m", directory], environment: [:], in: db.directory)
        let check = try DatabaseQueue(path: path)
        #expect(try check.read { try String.fetchAll($0, sql: "PRAGMA integrity_check") } == ["ok"])
        try check.close()
        let store = try SQLiteStore(path: path, readOnly: true)
        for queue in try store.queueStats(now: .now()) {
            let rows = try store.database.read { try Int64.fetchOne($0, sql: "SELECT count(*) FROM messages WHERE queue = ?", arguments: [queue.name]) ?? 0 }
            #expect(queue.enqueued == queue.succeeded + rows, "\(queue.name)")
        }
    }
}
