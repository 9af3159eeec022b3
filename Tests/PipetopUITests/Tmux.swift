import Foundation

/// Runs a program with `posix_spawn` and an empty signal mask (see TERMINAL-NOTES: a child that
/// inherits blocked SIGWINCH/SIGTERM/SIGINT never sees them), stdout and stderr into files.
enum Spawn {
    static func run(_ argv: [String], environment: [String: String]? = nil, stdin: String = "/dev/null", in directory: URL) throws -> (status: Int32, stdout: String, stderr: String) {
        let out = directory.appendingPathComponent("out-\(UUID().uuidString)").path
        let err = directory.appendingPathComponent("err-\(UUID().uuidString)").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
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
        var pid: pid_t = 0
        let status = posix_spawnp(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EIO) }
        var wait: Int32 = 0
        while waitpid(pid, &wait, 0) == -1 && errno == EINTR {}
        let code = wait & 0x7f == 0 ? (wait >> 8) & 0xff : 128 + (wait & 0x7f)
        defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: err) }
        return (code, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "", (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// The `pipetop` binary built with these tests.
    static var binary: String {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [here, here.deletingLastPathComponent(), here.deletingLastPathComponent().deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("pipetop").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/pipetop").path
    }

    static var tmuxPath: String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/tmux"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}

/// A private tmux server (own socket, own config) running one command in a pane of a given size.
/// The command runs under a wrapper that records its pid, exit status and the tty settings after it.
final class TmuxSession {
    let directory: URL
    var socket: String { directory.appendingPathComponent("tmux.sock").path }
    let environment: [String: String]

    init(width: Int, height: Int, command: [String], environment extra: [String: String] = [:]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-tmux-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": directory.path, "LANG": "C.UTF-8", "TERM": "xterm-256color"]
        env.merge(extra) { $1 }
        environment = env
        try "set -g default-terminal tmux-256color\nset -g history-limit 0\n".write(to: directory.appendingPathComponent("tmux.conf"), atomically: true, encoding: .utf8)
        func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let d = directory.path
        let inner = "echo $$ > \(quote(d + "/pid")); exec " + command.map(quote).joined(separator: " ")
        let wrapper = "sh -c \(quote(inner)); echo $? > \(quote(d + "/rc.tmp")); stty -a > \(quote(d + "/stty")) 2>&1; mv \(quote(d + "/rc.tmp")) \(quote(d + "/rc")); exec sleep 120"
        var args = ["new-session", "-d", "-s", "app", "-x", "\(width)", "-y", "\(height)"]
        for (key, value) in extra.sorted(by: { $0.key < $1.key }) { args += ["-e", "\(key)=\(value)"] }
        args.append(wrapper)
        let result = try tmux(args)
        guard result.status == 0 else { throw POSIXError(.EIO) }
    }

    deinit {
        _ = try? tmux(["kill-server"])
        try? FileManager.default.removeItem(at: directory)
    }

    @discardableResult
    func tmux(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try Spawn.run([Spawn.tmuxPath ?? "tmux", "-S", socket, "-f", directory.appendingPathComponent("tmux.conf").path] + args, environment: environment, in: directory)
    }

    func screen(colors: Bool = false) -> String {
        (try? tmux(["capture-pane", "-p"] + (colors ? ["-e"] : []) + ["-t", "app"]).stdout) ?? ""
    }

    func lines() -> [String] { screen().components(separatedBy: "\n") }

    func keys(_ keys: String...) { _ = try? tmux(["send-keys", "-t", "app"] + keys) }
    func type(_ text: String) { _ = try? tmux(["send-keys", "-t", "app", "-l", text]) }
    func resize(_ width: Int, _ height: Int) { _ = try? tmux(["resize-window", "-t", "app", "-x", "\(width)", "-y", "\(height)"]) }
    func display(_ format: String) -> String {
        ((try? tmux(["display-message", "-p", "-t", "app", format]).stdout) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Polls the screen every 50 ms until `condition` holds; the deadline only bounds a failure.
    @discardableResult
    func waitFor(_ timeout: Double = 60, _ condition: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition(screen()) { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return condition(screen())
    }

    var pid: pid_t? { (try? String(contentsOfFile: directory.appendingPathComponent("pid").path, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) } }

    /// The command's exit status, once it has exited (waits up to `timeout`).
    func exitStatus(timeout: Double = 60) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        let path = directory.appendingPathComponent("rc").path
        while Date() < deadline {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), let code = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) { return code }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }

    /// What `stty -a` said after the command exited.
    var ttySettings: String { (try? String(contentsOfFile: directory.appendingPathComponent("stty").path, encoding: .utf8)) ?? "" }
}
