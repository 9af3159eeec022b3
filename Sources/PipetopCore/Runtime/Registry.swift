import Foundation

/// The small files by which running runtimes announce themselves, so `pipetop attach` and
/// `pipetop ls` find them without knowing where their stores are.
///
/// One JSON file per runtime under `$XDG_RUNTIME_DIR/pipetop/` (or a per-user directory in the
/// temp dir), rewritten with each heartbeat and removed on clean exit.
public enum Registry {
    public static var directory: String {
        let environment = ProcessInfo.processInfo.environment
        if let runtimeDir = environment["XDG_RUNTIME_DIR"], !runtimeDir.isEmpty {
            return (runtimeDir as NSString).appendingPathComponent("pipetop")
        }
        return (NSTemporaryDirectory() as NSString).appendingPathComponent("pipetop-\(getuid())")
    }

    static func path(for name: String) -> String {
        (directory as NSString).appendingPathComponent(name + ".json")
    }

    /// Writes the registry file of `runtime`: a temp file renamed over the old one, so readers
    /// never see half a file. Not synced to disk: it is a liveness hint rewritten every second,
    /// and an fsync here cost the engine milliseconds when it ran on the engine thread.
    static func write(_ runtime: RuntimeInfo) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(runtime)
        let target = path(for: runtime.name)
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

    /// Every registered runtime, with `alive` telling whether its process still exists.
    public static func entries() -> [(runtime: RuntimeInfo, alive: Bool)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { file in
            let url = URL(fileURLWithPath: (directory as NSString).appendingPathComponent(file))
            guard let data = try? Data(contentsOf: url), let runtime = try? JSONDecoder().decode(RuntimeInfo.self, from: data) else {
                return nil
            }
            return (runtime, kill(runtime.pid, 0) == 0 || errno == EPERM)
        }
    }
}
