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
        // Bytes, not a String: decoding to a String would replace invalid UTF-8 with U+FFFD and
        // store an envelope the producer never sent.
        let input = envelope.map(Self.rawArgument) ?? FileHandle.standardInput.readDataToEndOfFile()
        let events = try Self.parse(input)
        let store = try storeOptions.open()
        do {
            try store.publishUnrouted(events, at: .now())
        } catch {
            throw Failure("could not store the events in \(store.location): \(error)")
        }
        let attached = (try? Registry.entries())?.contains { $0.alive && $0.runtime.store == store.location } ?? false
        let ids = events.prefix(3).map(\.id.terminalSafe).joined(separator: ", ") + (events.count > 3 ? ", …" : "")
        print("published \(events.count) event\(events.count == 1 ? "" : "s") (\(ids)) to \(store.location.terminalSafe)")
        if !attached {
            FileHandle.standardError.write(Data("note: no running runtime uses this store; the events wait unrouted until one starts\n".utf8))
        }
    }

    /// The bytes of the command-line argument `text` as the shell passed them (Swift's
    /// `CommandLine.arguments` has repaired invalid UTF-8 by then).
    static func rawArgument(_ text: String) -> Data {
        for index in 1..<Int(CommandLine.argc) {
            guard let pointer = CommandLine.unsafeArgv[index] else { continue }
            let bytes = Data(bytes: pointer, count: strlen(pointer))
            if String(decoding: bytes, as: UTF8.self) == text { return bytes }
        }
        return Data(text.utf8)
    }

    /// Parses one object, a JSON batch (an array), or JSON lines, naming the envelope that is wrong.
    /// An empty input or an empty batch is refused: publishing nothing is always a mistake here.
    static func parse(_ input: Data) throws -> [CloudEvent] {
        guard input.contains(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) else {
            throw BadInput("no envelope given (pass JSON as an argument or on standard input)")
        }
        let events: [CloudEvent]
        do {
            events = try CloudEvent.decodeAll(input)
        } catch let error as EnvelopeError {
            throw BadInput("invalid envelope: \(error.description.terminalSafe)")
        }
        guard !events.isEmpty else { throw BadInput("no events: the batch is empty") }
        return events
    }
}
