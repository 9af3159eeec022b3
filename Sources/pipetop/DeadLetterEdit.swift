import ArgumentParser
import Foundation
import PipetopCore
import PipetopUI

extension DeadLetters {
    /// `pipetop dlq edit`: fix a dead letter's payload, then replay it.
    struct Edit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Edit dead letters, then replay them: one in $VISUAL/$EDITOR, or fields of several with --set.",
            discussion: """
                With one id and no --set, the envelope opens in $VISUAL (else $EDITOR, else vi) as CloudEvents \
                JSON, in a private file (0600, in a 0700 directory, removed afterwards). Change data (and, if \
                need be, datacontenttype); every other attribute must stay as it is. On save the envelope is \
                checked (CloudEvents 1.0, JSON data when the content type is JSON), the payload's diff is shown, \
                and the edit is replayed once confirmed (y, or --yes for scripts).

                With --set PATH=VALUE (a JSON Pointer and a JSON value: /price=12500, /currency="EUR"; repeat \
                for more) the fields are set in the JSON payload of every dead letter named or matching the \
                filters (with --all-matching), confirmed by typing the count as `dlq replay` asks. All or \
                nothing: if one payload is not JSON or lacks a path's parent, none is changed. At most 1000 \
                at once (use --limit for the oldest N).

                The edited envelope is stored as a new version of the event (same id, source, type, time, \
                correlation and causation); the original stays in the store and the history, and another \
                queue's copy of the event is not changed. The message gets a new delivery with a fresh \
                attempt budget. Refused with --read-only; bad input exits 2 with nothing changed.
                """)

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var filter: Filter
        @OptionGroup var target: Target

        @Option(name: .customLong("set"), help: ArgumentHelp("Set a field of each JSON payload (a JSON Pointer = a JSON value); repeat for more.", valueName: "path=value"))
        var assignments: [String] = []

        func validate() throws {
            if assignments.isEmpty {
                guard target.ids.count == 1, !target.allMatching else {
                    throw ValidationError("without --set, name exactly one dead letter id to edit in your editor")
                }
                if target.limit != nil { throw ValidationError("--limit applies to --set") }
            }
        }

        func run() throws {
            if storeOptions.readOnly { throw BadInput("dlq edit changes the store; it is refused with --read-only") }
            let parsed: [FieldAssignment]
            do { parsed = try assignments.map { try FieldAssignment(parsing: $0) } } catch let error as EditError {
                throw BadInput("--set \(error.description)")
            }
            let store = try storeOptions.open()
            if parsed.isEmpty {
                try editInEditor(store)
            } else {
                try setFields(parsed, store)
            }
        }

        /// One dead letter in the user's editor.
        func editInEditor(_ store: Store) throws {
            let id = target.ids[0]
            guard let letter = try store.deadLetters(try filter.selection(ids: [id]), page: PageRequest(limit: 1)).items.first else {
                throw BadInput("no dead letter with id \(id) matching the filters given (it may have been replayed or deleted)")
            }
            let command = ExternalEditor.command()
            FileHandle.standardError.write(Data("editing dead letter \(id) of \(letter.queue.terminalSafe) in \(command.terminalSafe): change \(EventEdit.editable); the other attributes must stay\n".utf8))
            let text: String
            do {
                text = try ExternalEditor.edit(EventEdit.editableText(letter.event), name: "dead-letter-\(id).json", command: command)
            } catch let error as ExternalEditor.Failure {
                throw Failure(error.description)
            }
            let edited: CloudEvent
            do { edited = try EventEdit.parse(text, original: letter.event) } catch let error as EditError {
                throw BadInput("dead letter \(id): \(error.description); nothing was changed")
            }
            guard EventEdit.changes(letter.event, edited) else {
                throw BadInput("the edit changed nothing: nothing was replayed (`pipetop dlq replay \(id)` replays it unchanged)")
            }
            print("dead letter \(id) of \(letter.queue.terminalSafe), payload (\((edited.datacontenttype ?? "no content type").terminalSafe)):")
            for line in EventEdit.diff(letter.event, edited) { print("  " + line.description.terminalSafe) }
            let what = "replay dead letter \(id) with this payload: a new delivery with a fresh attempt budget; the original stays in the history"
            if target.dryRun {
                print("dry run: would " + what)
                return
            }
            if !target.yes {
                guard isatty(0) != 0 else { throw BadInput("\(what): add --yes to do it (no terminal to ask on); nothing was changed") }
                FileHandle.standardError.write(Data("\(what)? [y/N] ".utf8))
                guard let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased(), answer == "y" || answer == "yes" else {
                    throw BadInput("not confirmed: nothing was changed")
                }
            }
            let moved: MutationResult
            do {
                moved = try store.edit(EditRequest(.replace(messageID: id, original: letter.event, replays: letter.replays, edited: edited)), at: .now())
            } catch let error as EditError {
                throw Failure(error.description)
            }
            guard moved.count == 1 else { throw Failure("dead letter \(id) is no longer dead (replayed or deleted meanwhile): nothing was changed") }
            print("edited and replayed dead letter \(id): a new delivery with a fresh attempt budget; event id, correlation and causation kept, the original payload kept in the history")
        }

        /// Fields set on every selected dead letter, checked first, confirmed as `replay` is.
        func setFields(_ assignments: [FieldAssignment], _ store: Store) throws {
            let selection = try filter.selection(ids: target.ids.isEmpty ? nil : target.ids)
            let most = EditRequest.maxLetters
            let matching = try store.deadLetterCount(selection)
            let planned = min(target.limit ?? matching, matching)
            guard planned <= most else {
                throw BadInput("\(matching) dead letters match; a field edit takes at most \(most) at once: narrow the filters, or give --limit \(most) and run it again for the rest; nothing was changed")
            }
            // The letters it will change, newest first, as far as one read of the most a field edit takes.
            let read = try store.read { snapshot in
                var letters: [DeadLetter] = []
                var cursor: PageCursor?
                repeat {
                    let page = try snapshot.deadLetters(selection, page: PageRequest(limit: min(500, most - letters.count), after: cursor))
                    letters += page.items
                    cursor = page.next
                } while cursor != nil && letters.count < most
                return letters
            }
            // A limit takes the oldest; all were read when the set is no larger than a field edit takes.
            let all = read.count >= matching
            let taken = all ? Array(read.suffix(planned)) : read
            let description = "set " + assignments.map(\.description).joined(separator: " ")
            var refused: [String] = []
            var unchanged = 0
            var example: (DeadLetter, CloudEvent)?
            for letter in taken {
                do {
                    let edited = try EventEdit.applying(assignments, to: letter.event)
                    if EventEdit.changes(letter.event, edited) {
                        if example == nil { example = (letter, edited) }
                    } else {
                        unchanged += 1
                    }
                } catch {
                    refused.append("\(letter.messageID): \(error)")
                }
            }
            if !refused.isEmpty {
                throw BadInput("\(refused.count) of the \(taken.count) dead letters cannot take \(description), so none was changed: "
                    + refused.prefix(10).joined(separator: "; ") + (refused.count > 10 ? "; …" : ""))
            }
            if let (letter, edited) = example {
                print("the edit of dead letter \(letter.messageID) (\(letter.queue.terminalSafe)), the newest of them:")
                for line in EventEdit.diff(letter.event, edited) { print("  " + line.description.terminalSafe) }
            }
            if unchanged > 0 { print("\(unchanged) of them hold these values already: replayed with their events unchanged") }
            if !all { print("checked the newest \(taken.count) of the \(matching) matching; the oldest \(planned) are checked again when the edit runs (all or nothing)") }
            guard let confirmed = try DeadLetters.confirm("edit (\(description)) and replay", target: target, filter: filter, store: store) else { return }
            let moved: MutationResult
            do {
                moved = try store.edit(EditRequest(.set(assignments, selection: confirmed.selection, limit: confirmed.count)), at: .now())
            } catch let error as EditError {
                throw BadInput(error.description)
            }
            print(moved.count == 1
                ? "edited and replayed 1 dead letter: a new delivery with a fresh attempt budget; the original payload kept in the history"
                : "edited and replayed \(moved.count) dead letters: new deliveries with fresh attempt budgets; the original payloads kept in the history")
        }
    }
}
