import Foundation
@testable import PipetopCore
@testable import PipetopUI
import Testing

/// `e` on the Dead letters screen through the update function, against the fixture's store: the
/// editor is stood in for by answering `Effect.edit` with the text it would have saved.
@Suite struct DeadLetterEditTests {
    let size = Size(width: 120, height: 30)

    func press(_ state: inout AppState, _ fixture: Fixture, _ keys: [Key]) throws -> [Effect] {
        var rest: [Effect] = []
        for key in keys { rest += try settle(&state, state.update(.key(key)), store: fixture.store) }
        return rest
    }

    /// The editor's answer to `effect` (an `Effect.edit`): `edit` applied to the text it opened on.
    func closeEditor(_ state: inout AppState, _ fixture: Fixture, _ effects: [Effect], _ edit: (String) -> Result<String, MutationFailure>) throws -> EditSession {
        guard effects.count == 1, case .edit(let session, let id) = effects[0] else {
            Issue.record("expected one edit effect, got \(effects)")
            throw CancellationError()
        }
        _ = try settle(&state, state.update(.answer(.editorClosed(session, edit(session.text)), for: id)), store: fixture.store)
        return session
    }

    /// The fixture's payloads are `{"id": …}`: the repair adds a price to the data (not to the envelope's own id).
    static func addingPrice(_ text: String) -> String {
        text.replacingOccurrences(of: #"(?m)^(    "id": "[^"]*")$"#, with: "$1,\n    \"price\": 12500", options: .regularExpression)
    }

    @Test func eOpensTheSelectedLetterInTheEditorAndAConfirmedEditIsReplayedAsANewVersion() throws {
        var (s, fixture) = try Fixture.state(size: size)
        let effects = try press(&s, fixture, [.char("3"), .enter, .enter, .char("e")])
        let letter = try #require(s.deadLetters.selectedLetter)
        #expect(effects == [.edit(EditSession(letter: letter), for: .deadLetters)])
        #expect(EditSession(letter: letter).text == EventEdit.editableText(letter.event))
        _ = try closeEditor(&s, fixture, effects) { .success(Self.addingPrice($0)) }
        guard case .confirm(_, let edited, let diff)? = s.deadLetters.edit else { Issue.record("no confirmation: \(String(describing: s.deadLetters.edit))"); return }
        #expect(diff.contains(DiffLine(.added, #"  "price": 12500"#)))
        let screen = Dashboard.render(s).text
        #expect(screen.contains("confirm edit") && screen.contains(#"+   "price": 12500"#) && screen.contains("y replays the edit"))
        // Keys go to the confirmation: a digit does not switch views.
        _ = try press(&s, fixture, [.char("1")])
        #expect(s.view == .deadLetters && s.deadLetters.edit != nil)
        _ = try press(&s, fixture, [.char("y")])
        #expect(s.deadLetters.edit == nil)
        #expect(s.notice?.text.hasPrefix("edited and replayed 1 dead letter: a new delivery with a fresh attempt budget; the original payload kept") == true, "\(s.notice?.text ?? "")")
        #expect(try fixture.store.deadLetters(DeadLetterSelection(messageIDs: [letter.messageID]), page: PageRequest(limit: 1)).items.isEmpty)
        let ready = try fixture.store.messages(queue: letter.queue, state: .ready, page: PageRequest(limit: 100)).items
        #expect(ready.first { $0.id == letter.messageID }?.event == edited)
        #expect(try fixture.store.audit(page: PageRequest(limit: 1)).items.first?.action == .edit)
        #expect(s.deadLetters.level == .list, "the letter is no longer dead: its detail closed")
    }

    @Test func aRefusedEditIsShownAndEditedAgainWithTheTextKept() throws {
        var (s, fixture) = try Fixture.state(size: size)
        var effects = try press(&s, fixture, [.char("3"), .char("L"), .char("e")])
        let before = try fixture.store.deadLetterCount(.all)
        var broken = ""
        _ = try closeEditor(&s, fixture, effects) { text in
            broken = text.replacingOccurrences(of: "\"type\": \"", with: "\"type\": \"x")
            return .success(broken)
        }
        guard case .refused(let session, let error)? = s.deadLetters.edit else { Issue.record("not refused"); return }
        #expect(error.contains("attribute 'type' was changed"))
        #expect(Dashboard.render(s).text.contains("edit refused"))
        effects = try press(&s, fixture, [.char("e")])
        #expect(effects == [.edit(session, for: .deadLetters)] && session.text == broken, "edited again from what the user saved")
        // The editor failed: said so, nothing changed.
        _ = try closeEditor(&s, fixture, effects) { _ in .failure(MutationFailure("the editor (vi) exited with status 1: nothing was changed")) }
        #expect(s.deadLetters.edit == nil && s.notice == Notice(text: "the editor (vi) exited with status 1: nothing was changed", isError: true))
        // Saved unchanged: nothing to replay.
        effects = try press(&s, fixture, [.char("e")])
        _ = try closeEditor(&s, fixture, effects) { .success($0) }
        #expect(s.deadLetters.edit == nil && s.notice?.text.hasPrefix("no change to dead letter") == true)
        // A good edit, cancelled with n; another discarded with esc.
        effects = try press(&s, fixture, [.char("e")])
        _ = try closeEditor(&s, fixture, effects) { .success(Self.addingPrice($0)) }
        _ = try press(&s, fixture, [.char("n")])
        #expect(s.deadLetters.edit == nil && s.notice?.text == "edit cancelled: nothing was changed")
        #expect(try fixture.store.deadLetterCount(.all) == before)
        #expect(try fixture.store.audit(page: PageRequest(limit: 10)).items.isEmpty)
    }

    @Test func anEditOfALetterReplayedMeanwhileChangesNothing() throws {
        var (s, fixture) = try Fixture.state(size: size)
        let effects = try press(&s, fixture, [.char("3"), .char("L"), .char("e")])
        let session = try closeEditor(&s, fixture, effects) { .success(Self.addingPrice($0)) }
        // Someone else replays it while the diff is read.
        _ = try fixture.store.redrive(RedriveRequest(selection: DeadLetterSelection(messageIDs: [session.letter.messageID])), at: Fixture.t0 + .seconds(1))
        _ = try press(&s, fixture, [.char("y")])
        #expect(s.notice == Notice(text: "nothing was edited: no longer a dead letter (replayed or deleted meanwhile)", isError: true))
        #expect(try fixture.store.events(matching: EventQuery(id: session.letter.event.id), after: 0, limit: 10).count == 1, "no version stored")
    }

    @Test func aFieldEditOfTheMarkedIsCheckedThenConfirmedByItsCount() throws {
        var (s, fixture) = try Fixture.state(size: size)
        _ = try press(&s, fixture, [.char("3"), .char("L"), .char(" "), .char(" "), .char("e")])
        let letters = Array(s.deadLetters.letters.prefix(2))
        let marked = letters.map(\.messageID)
        guard case .field(let ids, _, nil)? = s.deadLetters.edit else { Issue.record("no field prompt"); return }
        #expect(ids == marked)
        #expect(Dashboard.render(s).text.contains("edit 2 marked"))
        // A path whose parent is missing: refused in the prompt, naming why.
        _ = try press(&s, fixture, Key.typing("/seller/name=1") + [.enter])
        guard case .field(_, let editor, let error?)? = s.deadLetters.edit else { Issue.record("not refused"); return }
        #expect(error.contains("2 of 2 cannot take it") && error.contains("has no member 'seller'") && editor.text == "/seller/name=1")
        _ = try press(&s, fixture, [.home] + Array(repeating: Key.delete, count: 14) + Key.typing("/price=12500") + [.enter])
        guard case .confirmField(let preview, "")? = s.deadLetters.edit else { Issue.record("no confirmation: \(String(describing: s.deadLetters.edit))"); return }
        #expect(preview.count == 2 && preview.assignment.description == "/price=12500" && preview.example?.messageID == marked[0])
        #expect(Dashboard.render(s).text.contains("type 2 then enter"))
        _ = try press(&s, fixture, Key.typing("3") + [.enter])
        #expect(s.notice?.isError == true && s.deadLetters.edit != nil, "a wrong count is refused")
        _ = try press(&s, fixture, Key.typing("2") + [.enter])
        #expect(s.deadLetters.edit == nil && s.deadLetters.marked.isEmpty)
        #expect(s.notice?.text.hasPrefix("edited and replayed 2 dead letters") == true, "\(s.notice?.text ?? "")")
        let ready = try letters.map { letter in
            try #require(try fixture.store.messages(queue: letter.queue, state: .ready, page: PageRequest(limit: 500)).items.first { $0.id == letter.messageID })
        }
        #expect(ready.allSatisfy { ($0.event.data?.jsonObject() as? [String: Any])?["price"] as? Int == 12500 })
    }

    @Test func readOnlyHasNoEdit() throws {
        var (s, fixture) = try Fixture.state(size: size, readOnly: true)
        _ = try press(&s, fixture, [.char("3"), .char("L")])
        #expect(!DeadLettersScreen.keymap.active(readOnly: true).flatMap(\.keys).contains(.char("e")))
        #expect(DeadLettersScreen.keymap.active(readOnly: false).flatMap(\.keys).contains(.char("e")))
        #expect(!s.hints.contains { $0.key == "e" } && !s.helpLines.contains { $0.0 == "e" })
        #expect(s.update(.key(.char("e"))).isEmpty)
        #expect(s.deadLetters.edit == nil)
        let answer = StoreMutation.edit(EditRequest(.set([try FieldAssignment(parsing: "/a=1")], selection: .all, limit: nil))).apply(to: nil, at: Fixture.t0)
        guard case .mutated(_, .failure(let failure)) = answer else { Issue.record("an edit without a writer must fail"); return }
        #expect(failure.message.contains("read-only"))
    }
}

/// The whole loop on the in-memory backend with a real editor (a shell script run by
/// `ExternalEditor`): the effect runner suspends the backend around it, the store reader holds
/// its polls, and the checked edit is replayed through the reader's writer.
@Suite struct DeadLetterEditLoopTests {
    @Test func eRunsTheEditorWithTheTerminalHandedOverThenConfirmsAndReplays() throws {
        let backend = TestBackend(size: Size(width: 120, height: 36))
        let (_, fixture) = try Fixture.state(size: backend.size)
        let log = fixture.directory.appendingPathComponent("editor.log").path
        let script = fixture.directory.appendingPathComponent("editor.sh").path
        try """
            #!/bin/sh
            printf '%s\\n' "$1" > '\(log)'
            sed -i 's/^    "id": "\\(L[0-9]*\\)"$/    "id": "\\1",\\n    "price": 12500/' "$1"
            """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let options = DashboardLoop.Options(
            store: fixture.store, writer: fixture.store, storeLocation: fixture.path, readOnly: false, runtimeName: "demo", refresh: .milliseconds(20),
            capacity: 10_000, theme: "default", themes: ThemeService(catalog: Fixture.catalog, configPath: fixture.directory.appendingPathComponent("c.yaml").path),
            utcOffset: 0, editor: script)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? DashboardLoop(options, backend: backend).run()
            done.signal()
        }
        #expect(backend.waitForFrame { $0.text.contains("parse") } != nil)
        backend.press([.char("3")])
        #expect(backend.waitForFrame { $0.text.contains("malformed listing") } != nil)
        backend.press([.enter])
        // The list is read (its true count in the status line) before a letter can be opened.
        #expect(backend.waitForFrame { $0.text.contains("DEAD AT") && $0.text.range(of: #" 1/\d+ "#, options: .regularExpression) != nil } != nil)
        backend.press([.enter])
        let detail = backend.waitForFrame { $0.text.contains("DETAIL") }
        let id = try #require(detail.flatMap { $0.row(2).split(separator: " ").dropFirst(2).first.flatMap { Int64($0) } }, "\(detail?.row(2) ?? "")")
        backend.press([.char("e")])
        #expect(backend.waitForFrame { $0.text.contains("confirm edit") && $0.text.contains(#"+   "price": 12500"#) } != nil, "\(backend.lastFrame.map { $0.row($0.height - 2) } ?? "")")
        #expect(backend.suspensions == 1, "the terminal was handed to the editor once")
        let file = try String(contentsOfFile: log, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(file.hasSuffix("/dead-letter-\(id).json") && !FileManager.default.fileExists(atPath: (file as NSString).deletingLastPathComponent))
        backend.press([.char("y")])
        #expect(backend.waitForFrame { $0.text.contains("edited and replayed 1 dead letter") } != nil, "\(backend.lastFrame?.text ?? "")")
        #expect(try fixture.store.deadLetters(DeadLetterSelection(messageIDs: [id]), page: PageRequest(limit: 1)).items.isEmpty)
        let ready = try #require(try fixture.store.messages(queue: "parse", state: .ready, page: PageRequest(limit: 500)).items.first { $0.id == id })
        #expect((ready.event.data?.jsonObject() as? [String: Any])?["price"] as? Int == 12500)
        backend.press([.char("q")])
        #expect(done.wait(timeout: .now() + 10) == .success)
    }
}
