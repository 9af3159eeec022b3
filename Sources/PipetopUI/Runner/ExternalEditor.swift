import Foundation

/// The user's editor on a private copy of a text: `$VISUAL`, else `$EDITOR`, else `vi`, run by
/// `/bin/sh` the way git runs it (so `EDITOR="code --wait"` works), on this process's terminal.
///
/// The copy is a file created 0600 in a new directory created 0700 (`mkdtemp`) under `$TMPDIR`
/// (else /tmp); the directory, with whatever the editor left beside the file (swap and backup
/// files), is removed however the edit ends. While the editor runs, this process ignores SIGINT and
/// SIGQUIT, as `system(3)` does: a Ctrl-C meant for the editor must not end the dashboard or the
/// CLI. The editor starts with default signal dispositions and an empty signal mask.
public enum ExternalEditor {
    public struct Failure: Error, CustomStringConvertible, Equatable, Sendable {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// The editor command: `$VISUAL`, else `$EDITOR`, else `vi`.
    public static func command(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        for name in ["VISUAL", "EDITOR"] {
            if let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty { return value }
        }
        return "vi"
    }

    /// Writes `text` to a private file called `name`, runs `command` on it, waits for it, and
    /// returns the file's text as saved. Throws if the file cannot be made, the editor cannot be
    /// run or exits unsuccessfully (the user aborted), or the saved file is not UTF-8.
    ///
    /// `stderrToTerminal`: the editor's stderr is the controlling terminal (`/dev/tty`) when this
    /// process's is not a terminal (the dashboard sends its own to a log file).
    public static func edit(_ text: String, name: String, command: String = command(), stderrToTerminal: Bool = false) throws -> String {
        let directory = try makePrivateDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let safeName = String(name.unicodeScalars.map { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) ? Character($0) : "_" })
        let path = directory + "/" + (safeName.isEmpty ? "edit.txt" : safeName)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure("cannot create the file to edit in \(directory): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else { throw Failure("cannot write the file to edit (\(path))") }

        let status = try run(command, on: path, stderrToTerminal: stderrToTerminal)
        guard status == 0 else {
            let how = status >= 128 ? "was ended by signal \(status - 128)" : status == 127 ? "could not be run (exit 127: not found?); set VISUAL or EDITOR" : "exited with status \(status)"
            throw Failure("the editor (\(command)) \(how): nothing was changed")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure("the edited file is gone (\(path)): nothing was changed")
        }
        guard let saved = String(data: data, encoding: .utf8) else { throw Failure("the edited file is not UTF-8: nothing was changed") }
        return saved
    }

    /// A new directory only this user can enter.
    static func makePrivateDirectory() throws -> String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((base.hasSuffix("/") ? base : base + "/").utf8CString.dropLast()) + Array("pipetop-edit-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw Failure("cannot create a private directory in \(base): \(String(cString: strerror(errno)))") }
        let directory = String(cString: made)
        chmod(directory, 0o700)
        return directory
    }

    /// Runs `sh -c 'COMMAND "$@"' COMMAND PATH` on this terminal and waits: its exit status, or
    /// 128 + the signal that ended it.
    static func run(_ command: String, on path: String, stderrToTerminal: Bool) throws -> Int32 {
        var ignore = sigaction()
        ignore.__sigaction_handler.sa_handler = SIG_IGN
        sigemptyset(&ignore.sa_mask)
        var savedInt = sigaction(), savedQuit = sigaction()
        sigaction(SIGINT, &ignore, &savedInt)
        sigaction(SIGQUIT, &ignore, &savedQuit)
        defer {
            sigaction(SIGINT, &savedInt, nil)
            sigaction(SIGQUIT, &savedQuit, nil)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU, SIGWINCH, SIGCHLD] { sigaddset(&defaults, number) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let arguments = ["sh", "-c", command + " \"$@\"", command, path]
        let cArguments = arguments.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Opened here: without a controlling terminal (a test, a daemon) it fails, and stderr stays.
        let tty = stderrToTerminal && isatty(2) == 0 ? open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC) : -1
        defer { if tty >= 0 { close(tty) } }
        if tty >= 0 { posix_spawn_file_actions_adddup2(&actions, tty, 2) }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, "/bin/sh", &actions, &attributes, cArguments, environ)
        guard spawned == 0 else { throw Failure("cannot run the editor (\(command)): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(child, &status, 0) == -1 {
            guard errno == EINTR else { throw Failure("lost the editor (\(command)): \(String(cString: strerror(errno)))") }
        }
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }
}
