import Foundation

/// A child process for end-to-end tests: the real `pipetop` binaries, tmux, anything on PATH,
/// with stdout and stderr in files.
///
/// `posix_spawn` with an empty signal mask and default dispositions, not `Foundation.Process`: a
/// child must receive the signals the tests send (see shared/TERMINAL-NOTES.md).
public final class Child {
    public let pid: pid_t
    public let stdoutPath: String
    public let stderrPath: String
    /// Whether `wait` has reaped it; a child never waited for is killed when the value goes (a
    /// failed expectation must not leave a demo running behind the tests).
    private var reaped = false

    /// Starts `argv` (`argv[0]` a path, or a name looked up in PATH). `environment` replaces the
    /// inherited one when given; `stdin` is text fed on standard input (else /dev/null).
    public init(_ argv: [String], environment: [String: String]? = nil, stdin: String? = nil, in directory: URL) throws {
        stdoutPath = directory.appendingPathComponent("stdout-\(UUID().uuidString)").path
        stderrPath = directory.appendingPathComponent("stderr-\(UUID().uuidString)").path
        var stdinPath = "/dev/null"
        if let stdin {
            stdinPath = directory.appendingPathComponent("stdin-\(UUID().uuidString)").path
            try stdin.write(toFile: stdinPath, atomically: true, encoding: .utf8)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGWINCH] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let env = environment ?? ProcessInfo.processInfo.environment
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawnp(&child, argv[0], &actions, &attributes, cArgs, cEnv)
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EIO) }
        pid = child
    }

    deinit {
        guard !reaped else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    }

    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    public func signal(_ number: Int32) { kill(pid, number) }

    /// Waits for the exit and returns the status (128 + n for a death by signal n).
    public func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        reaped = true
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }

    /// Runs to completion; the output files are removed once read.
    public static func run(
        _ argv: [String], environment: [String: String]? = nil, stdin: String? = nil, in directory: URL
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        let child = try Child(argv, environment: environment, stdin: stdin, in: directory)
        let status = child.wait()
        defer {
            try? FileManager.default.removeItem(atPath: child.stdoutPath)
            try? FileManager.default.removeItem(atPath: child.stderrPath)
        }
        return (status, child.stdout, child.stderr)
    }

    /// This process's environment with `extra` added (the usual way to isolate XDG directories).
    public static func environment(adding extra: [String: String]) -> [String: String] {
        ProcessInfo.processInfo.environment.merging(extra) { $1 }
    }

    /// An executable of this package, built with the tests.
    public static func built(_ name: String) -> String {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [here, here.deletingLastPathComponent(), here.deletingLastPathComponent().deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return packageRoot.appendingPathComponent(".build/debug/\(name)").path
    }

    /// The `pipetop` binary built with the tests.
    public static var pipetop: String { built("pipetop") }

    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// tmux, if installed.
    public static var tmux: String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/tmux"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}
