import Foundation

/// Dead letters as a JSON-lines file: one CloudEvent per line (structured JSON, as `pipetop
/// events` prints it), its dead-letter metadata added as extension attributes (CloudEvents 1.0
/// names: lowercase letters and digits), so the file can be read by any CloudEvents SDK and
/// published again as it is. An event that already carries one of these names (an export
/// published again) has it replaced by this letter's value.
public enum DeadLetterExport {
    /// The extension attributes an exported line adds, and what each holds.
    public static let attributes: [(name: String, meaning: String)] = [
        ("dlqmessageid", "the message id (dlq show, dlq replay)"),
        ("dlqqueue", "the queue it died in"),
        ("dlqreason", "max-attempts, max-age or non-retryable"),
        ("dlqattempts", "attempts made"),
        ("dlqreplays", "how often it was replayed before"),
        ("dlqdeadat", "when it died (RFC 3339)"),
        ("dlqfingerprint", "its cause, as dlq groups shows it"),
        ("dlqerrors", "every attempt's error: a JSON array of {attempt, at, error}, as a string"),
    ]

    /// The letter's event with its dead-letter metadata as extension attributes.
    public static func event(_ letter: DeadLetter) -> CloudEvent {
        var event = letter.event
        let errors = letter.errors.map { ["attempt": $0.attempt, "at": $0.at.rfc3339, "error": $0.error] as [String: Any] }
        let errorsJSON = (try? JSONSerialization.data(withJSONObject: errors, options: [.sortedKeys, .withoutEscapingSlashes]))
            .map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        event.extensions["dlqmessageid"] = .string(String(letter.messageID))
        event.extensions["dlqqueue"] = .string(letter.queue)
        event.extensions["dlqreason"] = .string(letter.reason.rawValue)
        event.extensions["dlqattempts"] = .integer(Int32(clamping: letter.attempts))
        event.extensions["dlqreplays"] = .integer(Int32(clamping: letter.replays))
        event.extensions["dlqdeadat"] = .string(letter.deadAt.rfc3339)
        event.extensions["dlqfingerprint"] = .string(letter.fingerprint)
        event.extensions["dlqerrors"] = .string(errorsJSON)
        return event
    }

    public static func line(_ letter: DeadLetter) -> String { event(letter).jsonString() }

    /// The file to export to exists (and was not to be replaced): nothing was written.
    public struct FileExists: Error, CustomStringConvertible {
        public var path: String
        public var description: String { "\(path) exists: nothing was written; choose another file" }
    }

    /// Every dead letter `selection` matches, newest dead first, written to a new file at `path`
    /// (mode 0600; an existing file is refused unless `replace`), a page at a time. The file
    /// appears whole or not at all: lines go to a private temporary file beside it, renamed at
    /// the end. Returns how many were written.
    @discardableResult
    public static func write(_ selection: DeadLetterSelection, from store: ReadableStore, to path: String, replace: Bool = false) throws -> Int {
        let url = URL(fileURLWithPath: path)
        if !replace && FileManager.default.fileExists(atPath: url.path) {
            throw FileExists(path: path)
        }
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).partial")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StoreError("cannot create \(temporary.path): \(String(cString: strerror(errno)))")
        }
        let file = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        var written = 0
        do {
            var cursor: PageCursor?
            repeat {
                let page = try store.deadLetters(selection, page: PageRequest(limit: 1_000, after: cursor))
                var chunk = ""
                for letter in page.items { chunk += line(letter) + "\n" }
                try file.write(contentsOf: Data(chunk.utf8))
                written += page.items.count
                cursor = page.next
            } while cursor != nil
            try file.synchronize()
            try file.close()
            // Without `replace`, link() never overwrites a file that appeared meanwhile (rename would).
            guard (replace ? rename(temporary.path, url.path) : link(temporary.path, url.path)) == 0 else {
                if errno == EEXIST { throw FileExists(path: path) }
                throw StoreError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            if !replace { unlink(temporary.path) }
        } catch {
            try? file.close()
            unlink(temporary.path)
            throw error
        }
        return written
    }
}
