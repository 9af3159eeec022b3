import ArgumentParser
import Foundation
import PipetopCore

/// The process entry: parse, run, and turn every failure into one line on stderr and the exit
/// status the CLI promises (2 for bad input, 1 for other failures).
@main
enum Entry {
    static func main() {
        // Everything this process creates (stores and their WAL, the registry, config, exports,
        // the editor's temp files) is private: 0600 files, 0700 directories.
        umask(0o077)
        do {
            var command = try Pipetop.parseAsRoot()
            try command.run()
        } catch let error as BadInput {
            fail(error.message, status: 2)
        } catch let error as Failure {
            fail(error.message, status: 1)
        } catch {
            let code = Pipetop.exitCode(for: error)
            // Help and argument errors can echo what the user typed: escaped, line by line.
            let message = terminalSafeLines(Pipetop.fullMessage(for: error))
            if code == .success {
                print(message)
                exit(0)
            }
            // Argument errors are bad input; argument-parser's own status for them is 64.
            FileHandle.standardError.write(Data((message + "\n").utf8))
            exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }

    /// One line on stderr; whatever the message quotes (paths, ids, errors) is escaped for the terminal.
    static func fail(_ message: String, status: Int32) -> Never {
        FileHandle.standardError.write(Data("pipetop: \(terminalSafeLines(message))\n".utf8))
        exit(status)
    }
}

/// Text with each line escaped for the terminal, the line breaks kept.
func terminalSafeLines(_ text: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { String($0).terminalSafe }.joined(separator: "\n")
}

/// Input the user can fix: exit status 2.
struct BadInput: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Anything else that stops a command: exit status 1.
struct Failure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

struct Pipetop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipetop",
        abstract: "An event runtime and the dashboard to watch it: queues, retries, dead letters, CPU shape.",
        version: "pipetop \(Pipetop.version) (SQLite store schema \(SQLiteSchema.version.name), \(SQLiteSchema.version.migrations) migrations)",
        subcommands: [Attach.self, Demo.self, Publish.self, Events.self, Queues.self, Tail.self, TraceCommand.self, CPUCommand.self, DeadLetters.self, ListRuntimes.self],
        defaultSubcommand: Attach.self)

    /// This build's version (`pipetop --version` adds the store schema it writes).
    static let version = "0.1.0"
}
