import Foundation

/// Runs the real `pipetop` binary as a child process, with stdout and stderr in files.
///
/// `posix_spawn` with an empty signal mask, not `Foundation.Process`: a child must be able to
/// receive the signals the tests send (see shared/TERMINAL-NOTES.md).
final class Child {
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String

    static var binary: String {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [here, here.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("pipetop").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return ReadmeTests.root.appendingPathComponent(".build/debug/pipetop").path
    }

    init(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil, executable: String = Child.binary, in directory: URL) throws {
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
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EIO) }
        pid = child
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) { kill(pid, number) }

    /// Waits for the exit and returns the status (128 + n for a death by signal n).
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }

    /// Runs to completion.
    static func run(
        _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil, executable: String = Child.binary, in directory: URL
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        let child = try Child(arguments, environment: environment, stdin: stdin, executable: executable, in: directory)
        let status = child.wait()
        return (status, child.stdout, child.stderr)
    }
}
