import Foundation

/// The small files by which running runtimes announce themselves, so `pipetop attach` and
/// `pipetop ls` find them without knowing where their stores are.
///
/// One JSON file per runtime under `$XDG_RUNTIME_DIR/pipetop/` (or a per-user directory in the
/// temp dir), rewritten with each heartbeat and removed on clean exit.
public enum Registry {
    /// Where the files are (not checked: see `checkedDirectory`).
    public static var directory: String {
        let environment = ProcessInfo.processInfo.environment
        if let runtimeDir = environment["XDG_RUNTIME_DIR"], !runtimeDir.isEmpty {
            return (runtimeDir as NSString).appendingPathComponent("pipetop")
        }
        return (NSTemporaryDirectory() as NSString).appendingPathComponent("pipetop-\(getuid())")
    }

    static func path(for name: String, in directory: String = Registry.directory) -> String {
        (directory as NSString).appendingPathComponent(name + ".json")
    }

    /// `directory`, made ours or refused: created 0700 when missing (with `create`), and otherwise
    /// used only if it is a directory (not a link) owned by this user that no one else may enter.
    /// Another local user could otherwise make `$TMPDIR/pipetop-<uid>` first and fill it with
    /// entries that send our commands to their store. Returns false when it does not exist.
    @discardableResult
    static func checkedDirectory(_ directory: String, create: Bool) throws -> Bool {
        var info = stat()
        if lstat(directory, &info) != 0 {
            guard errno == ENOENT else { throw StoreError("cannot use the registry directory \(directory): \(String(cString: strerror(errno)))") }
            guard create else { return false }
            let parent = (directory as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            if mkdir(directory, 0o700) != 0, errno != EEXIST {
                throw StoreError("cannot create the registry directory \(directory): \(String(cString: strerror(errno)))")
            }
            guard lstat(directory, &info) == 0 else { throw StoreError("cannot use the registry directory \(directory): \(String(cString: strerror(errno)))") }
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw StoreError("the registry directory \(directory) is not a directory (a link or a file): refusing to use it; remove it, or set XDG_RUNTIME_DIR")
        }
        guard info.st_uid == getuid() else {
            throw StoreError("the registry directory \(directory) belongs to uid \(info.st_uid), not to you (uid \(getuid())): refusing to use it; remove it, or set XDG_RUNTIME_DIR")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw StoreError("the registry directory \(directory) may be used by other users (mode \(String(info.st_mode & 0o777, radix: 8))): refusing to use it; `chmod 700` it, or remove it")
        }
        return true
    }

    /// Writes the registry file of `runtime`: a temp file renamed over the old one, so readers
    /// never see half a file. Not synced to disk: it is a liveness hint rewritten every second,
    /// and an fsync here cost the engine milliseconds when it ran on the engine thread.
    static func write(_ runtime: RuntimeInfo, in directory: String = Registry.directory) throws {
        try checkedDirectory(directory, create: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(runtime)
        let target = path(for: runtime.name, in: directory)
        // Unique: two runtimes of one name in one process must not write the same temp file.
        let temporary = target + ".\(getpid()).\(UUID().uuidString.prefix(8)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let writeError = errno
        close(fd)
        guard written == data.count else {
            unlink(temporary)
            throw StoreError("cannot write \(temporary): \(written < 0 ? String(cString: strerror(writeError)) : "short write")")
        }
        guard rename(temporary, target) == 0 else {
            let renameError = errno
            unlink(temporary)
            throw StoreError("cannot replace \(target): \(String(cString: strerror(renameError)))")
        }
    }

    static func remove(name: String) {
        try? FileManager.default.removeItem(atPath: path(for: name))
    }

    /// Rewrites one runtime's file on its own queue, never on the engine thread.
    final class Announcer: @unchecked Sendable {
        private let queue = DispatchQueue(label: "pipetop.registry", qos: .utility)

        func announce(_ runtime: RuntimeInfo) { queue.async { try? Registry.write(runtime) } }

        /// Removes the file once pending rewrites are done (so none recreates it).
        func withdraw(name: String) { queue.sync { Registry.remove(name: name) } }
    }

    /// Every registered runtime, with `alive` telling whether it still runs. Only regular files
    /// owned by this user in a directory that passes `checkedDirectory` are read; a runtime counts
    /// as alive when its process exists, is this user's, and (where `/proc` tells) holds its store
    /// open: a reused pid, or an entry naming pid 1, is not a runtime.
    public static func entries(in directory: String = Registry.directory) throws -> [(runtime: RuntimeInfo, alive: Bool)] {
        guard try checkedDirectory(directory, create: false) else { return [] }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { file in
            let path = (directory as NSString).appendingPathComponent(file)
            let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else { return nil }
            let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            var info = stat()
            guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == getuid(), info.st_size < 1 << 20,
                  let data = try? handle.readToEnd(), let runtime = try? JSONDecoder().decode(RuntimeInfo.self, from: data) else {
                return nil
            }
            return (runtime, isRunning(runtime))
        }
    }

    /// `runtimes` as the store has them, with what their registry entries add: whether the store
    /// refuses their writes (which the store itself cannot record). Cheap: no liveness check.
    public static func annotated(_ runtimes: [RuntimeInfo], in directory: String = Registry.directory) -> [RuntimeInfo] {
        guard runtimes.contains(where: { $0.stoppedAt == nil }), (try? checkedDirectory(directory, create: false)) == true else { return runtimes }
        return runtimes.map { runtime in
            guard runtime.stoppedAt == nil, let data = FileManager.default.contents(atPath: path(for: runtime.name, in: directory)),
                  let entry = try? JSONDecoder().decode(RuntimeInfo.self, from: data), entry.pid == runtime.pid, entry.store == runtime.store
            else { return runtime }
            var annotated = runtime
            annotated.storeUnwritable = entry.storeUnwritable
            return annotated
        }
    }

    /// The process `runtime.pid` exists, is this user's, and holds `runtime.store` open (checked
    /// through `/proc` where there is one; a store that is not a file is not checked there).
    static func isRunning(_ runtime: RuntimeInfo) -> Bool {
        guard runtime.pid > 0, kill(runtime.pid, 0) == 0 else { return false }
        let proc = "/proc/\(runtime.pid)"
        var info = stat()
        guard stat("/proc/self", &info) == 0 else { return true }  // no /proc: the signal check is all there is
        guard stat(proc, &info) == 0, info.st_uid == getuid() else { return false }
        guard FileManager.default.fileExists(atPath: runtime.store) else { return !runtime.store.hasPrefix("/") && runtime.store.contains("://") }
        let store = URL(fileURLWithPath: runtime.store).resolvingSymlinksInPath().path
        guard let descriptors = try? FileManager.default.contentsOfDirectory(atPath: proc + "/fd") else { return false }
        return descriptors.contains { fd in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: proc + "/fd/" + fd)) == store
        }
    }
}
