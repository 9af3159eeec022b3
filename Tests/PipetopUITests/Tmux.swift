import Foundation
import PipetopTestSupport

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
        try Child.run([Child.tmux ?? "tmux", "-S", socket, "-f", directory.appendingPathComponent("tmux.conf").path] + args, environment: environment, in: directory)
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
