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

    /// Writes (atomically) the registry file of `runtime`.
    static func write(_ runtime: RuntimeInfo) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(runtime).write(to: URL(fileURLWithPath: path(for: runtime.name)), options: .atomic)
    }

    static func remove(name: String) {
        try? FileManager.default.removeItem(atPath: path(for: name))
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
