import ArgumentParser
import Foundation
import PipetopCore

struct Publish: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish CloudEvents (JSON format) into a store.",
        discussion: """
            Takes one envelope as an argument, or reads standard input: one JSON object, a JSON array of \
            objects, or JSON lines. Every envelope is validated first; if any is invalid nothing is stored. \
            A running runtime on the store routes the events; without one they wait, unrouted.
            """)

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("A CloudEvents JSON envelope. Without it, standard input is read.", valueName: "json"))
    var envelope: String?

    func run() throws {
        if storeOptions.readOnly { throw BadInput("publish writes to the store; it cannot run with --read-only") }
        let text = envelope ?? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        let events = try Self.parse(text)
        let store = try storeOptions.open()
        do {
            try store.publishUnrouted(events, at: .now())
        } catch {
            throw Failure("could not store the events in \(store.location): \(error)")
        }
        let attached = Registry.entries().contains { $0.alive && $0.runtime.store == store.location }
        let ids = events.prefix(3).map(\.id.terminalSafe).joined(separator: ", ") + (events.count > 3 ? ", …" : "")
        print("published \(events.count) event\(events.count == 1 ? "" : "s") (\(ids)) to \(store.location)")
        if !attached {
            FileHandle.standardError.write(Data("note: no running runtime uses this store; the events wait unrouted until one starts\n".utf8))
        }
    }

    /// Parses one object, an array, or JSON lines, naming the envelope that is wrong.
    static func parse(_ text: String) throws -> [CloudEvent] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw BadInput("no envelope given (pass JSON as an argument or on standard input)") }
        var documents: [Data] = []
        if trimmed.hasPrefix("[") {
            guard let list = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [Any] else {
                throw BadInput("invalid envelope: the input starts with '[' but is not a JSON array")
            }
            for item in list {
                guard JSONSerialization.isValidJSONObject(item) else { throw BadInput("invalid envelope: array items must be JSON objects") }
                documents.append(try JSONSerialization.data(withJSONObject: item))
            }
        } else if (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) != nil {
            documents = [Data(trimmed.utf8)]
        } else {
            documents = trimmed.split(whereSeparator: \.isNewline).filter { !$0.allSatisfy(\.isWhitespace) }.map { Data($0.utf8) }
        }
        var events: [CloudEvent] = []
        for (index, document) in documents.enumerated() {
            do {
                events.append(try CloudEvent(json: document))
            } catch let error as EnvelopeError {
                let which = documents.count == 1 ? "" : " #\(index + 1)"
                throw BadInput("invalid envelope\(which): \(error.description.terminalSafe)")
            }
        }
        return events
    }
}
