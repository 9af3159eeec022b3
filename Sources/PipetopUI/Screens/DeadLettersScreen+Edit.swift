import PipetopCore

/// `e` on the Dead letters screen: edit, then replay.
///
/// On the selected dead letter (list or detail): its envelope opens in the user's editor
/// (`Effect.edit`: the runner hands the terminal over and gives it back); the saved text is
/// checked here (`EventEdit.parse`: the envelope intact, JSON data for a JSON type), its diff is
/// shown, and `y` replays the edit (`StoreMutation.edit`, one transaction that also checks the
/// letter was not moved meanwhile). A refused text can be edited again with `e`, the user's
/// text kept. On marked dead letters: a field edit (`PATH=VALUE`, as `pipetop dlq edit --set`)
/// typed in a prompt, checked against every marked payload, confirmed by typing the count.
extension DeadLettersScreen {
    /// An edit on its way.
    public enum EditState: Equatable, Sendable {
        /// The checked edit of one letter and its diff: y replays it, e edits again, n or esc cancels.
        case confirm(EditSession, edited: CloudEvent, diff: [DiffLine])
        /// The saved text was refused (`error` says why): e edits it again, esc discards it.
        case refused(EditSession, error: String)
        /// A field edit for the marked being typed (`error`: why the last one was refused).
        case field(ids: [Int64], editor: LineEditor, error: String?)
        /// A field edit checked against every marked letter: typing the count (or y for one) replays it.
        case confirmField(FieldEditPreview, typed: String)
    }

    /// What a field edit of the marked would do, worked out from the letters as read.
    public struct FieldEditPreview: Equatable, Sendable {
        public var ids: [Int64]
        public var assignment: FieldAssignment
        /// How many already hold the value (they are replayed with their events unchanged).
        public var unchanged: Int
        /// The edit of the first marked letter that it changes, for the diff shown.
        public var example: (messageID: Int64, diff: [DiffLine])?
        public var count: Int { ids.count }

        public static func == (a: Self, b: Self) -> Bool {
            a.ids == b.ids && a.assignment == b.assignment && a.unchanged == b.unchanged && a.example?.messageID == b.example?.messageID
                && a.example?.diff == b.example?.diff
        }
    }

    static let editKey = Binding<ScreenAction<DeadLettersScreen>>(
        [.char("e")], help: ("e", "edit the selected dead letter in $EDITOR, or a field of the marked, then replay"), hint: ("e", "edit"), mutates: true
    ) { s, _, shared in s.startEdit(&shared) }

    mutating func startEdit(_ shared: inout Shared) -> [Navigation] {
        switch level {
        case .jobs:
            shared.notice = Notice(text: "esc goes back to the dead letters; e edits the one selected there", isError: false)
            return []
        case .groups:
            shared.notice = Notice(text: "enter opens the group; e edits the dead letter selected there", isError: false)
            return []
        case .list where !marked.isEmpty:
            let ids = letters.map(\.messageID).filter { marked.contains($0) }
            guard ids.count <= EditRequest.maxLetters else {
                shared.notice = Notice(text: "a field edit takes at most \(EditRequest.maxLetters) dead letters at once; \(ids.count) are marked", isError: true)
                return []
            }
            edit = .field(ids: ids, editor: LineEditor(), error: nil)
            return []
        case .list, .detail:
            guard let letter = selectedLetter else { return [] }
            return [.run(.edit(EditSession(letter: letter), for: Self.id))]
        }
    }

    /// The editor exited: check what it saved, and show the diff or why it is refused.
    mutating func editorClosed(_ session: EditSession, _ saved: Result<String, MutationFailure>, _ shared: inout Shared) {
        let text: String
        switch saved {
        case .failure(let failure):
            shared.notice = Notice(text: failure.message, isError: true)
            return
        case .success(let value): text = value
        }
        let original = session.letter.event
        var again = session
        again.text = text
        let edited: CloudEvent
        do { edited = try EventEdit.parse(text, original: original) } catch {
            edit = .refused(again, error: "\(error)".terminalSafe)
            return
        }
        guard EventEdit.changes(original, edited) else {
            shared.notice = Notice(text: "no change to dead letter \(session.letter.messageID): nothing to replay (r replays it unchanged)", isError: false)
            return
        }
        edit = .confirm(again, edited: edited, diff: EventEdit.diff(original, edited))
    }

    /// Keys while an edit is on its way.
    mutating func capturedEdit(_ key: Key, shared: inout Shared) -> [Navigation] {
        guard let state = edit else { return [] }
        func cancel() -> [Navigation] {
            edit = nil
            shared.notice = Notice(text: "edit cancelled: nothing was changed", isError: false)
            return []
        }
        switch state {
        case .confirm(let session, let edited, _):
            switch key {
            case .char("y"):
                edit = nil
                let letter = session.letter
                shared.notice = Notice(text: "replaying the edit of dead letter \(letter.messageID)…", isError: false)
                let request = EditRequest(.replace(messageID: letter.messageID, original: letter.event, replays: letter.replays, edited: edited))
                return [.run(.mutate(.edit(request), for: Self.id))]
            case .char("e"):
                edit = nil
                return [.run(.edit(session, for: Self.id))]
            case .char("n"), .escape: return cancel()
            default: return []
            }
        case .refused(let session, _):
            switch key {
            case .char("e"):
                edit = nil
                return [.run(.edit(session, for: Self.id))]
            case .char("n"), .escape:
                edit = nil
                shared.notice = Notice(text: "edit discarded: nothing was changed", isError: false)
                return []
            default: return []
            }
        case .field(let ids, var editor, _):
            switch key {
            case .escape: return cancel()
            case .enter:
                edit = checkField(ids, editor.text)
            case .char(let c):
                editor.insert(c)
                edit = .field(ids: ids, editor: editor, error: nil)
            case .backspace:
                editor.backspace()
                edit = .field(ids: ids, editor: editor, error: nil)
            case .left, .right, .home, .end, .delete:
                if key == .left { editor.cursor = max(0, editor.cursor - 1) }
                if key == .right { editor.cursor = min(editor.text.count, editor.cursor + 1) }
                if key == .home { editor.cursor = 0 }
                if key == .end { editor.cursor = editor.text.count }
                if key == .delete { editor.delete() }
                edit = .field(ids: ids, editor: editor, error: nil)
            default: break
            }
            return []
        case .confirmField(let preview, var typed):
            let go: Bool
            switch key {
            case .escape: return cancel()
            case .char("n") where preview.count == 1: return cancel()
            case .char("y") where preview.count == 1: go = true
            case .char(let c) where preview.count > 1 && c.isASCII && c.isNumber:
                typed.append(c)
                go = false
            case .backspace where preview.count > 1:
                if !typed.isEmpty { typed.removeLast() }
                go = false
            case .enter where preview.count > 1:
                guard typed == String(preview.count) else {
                    shared.notice = Notice(text: "type \(preview.count) (the exact count) then enter, or esc", isError: true)
                    typed = ""
                    go = false
                    break
                }
                go = true
            default: go = false
            }
            guard go else {
                edit = .confirmField(preview, typed: typed)
                return []
            }
            edit = nil
            shared.notice = Notice(text: "editing and replaying \(preview.count)…", isError: false)
            let request = EditRequest(.set([preview.assignment], selection: DeadLetterSelection(messageIDs: preview.ids), limit: nil))
            return [.run(.mutate(.edit(request), for: Self.id))]
        }
    }

    /// A typed field edit checked against every marked letter as read: its confirmation, or the
    /// prompt again with why it is refused (the store checks once more when it runs: all or nothing).
    func checkField(_ ids: [Int64], _ text: String) -> EditState {
        let editor = LineEditor(text)
        let assignment: FieldAssignment
        do { assignment = try FieldAssignment(parsing: text.trimmingCharacters(in: .whitespaces)) } catch {
            return .field(ids: ids, editor: editor, error: "\(error)".terminalSafe)
        }
        var refused: [String] = []
        var unchanged = 0
        var example: (messageID: Int64, diff: [DiffLine])?
        for letter in letters where ids.contains(letter.messageID) {
            do {
                let edited = try EventEdit.applying([assignment], to: letter.event)
                if EventEdit.changes(letter.event, edited) {
                    if example == nil { example = (letter.messageID, EventEdit.diff(letter.event, edited)) }
                } else {
                    unchanged += 1
                }
            } catch {
                refused.append("\(letter.messageID): \(error)")
            }
        }
        guard refused.isEmpty else {
            let reasons = refused.prefix(3).joined(separator: "; ") + (refused.count > 3 ? "; …" : "")
            return .field(ids: ids, editor: editor, error: "\(refused.count) of \(ids.count) cannot take it, so none would change: \(reasons)".terminalSafe)
        }
        return .confirmField(FieldEditPreview(ids: ids, assignment: assignment, unchanged: unchanged, example: example), typed: "")
    }

    /// The notice after an edit ran.
    static func edited(_ request: EditRequest, _ done: MutationResult, _ shared: Shared) -> Notice {
        let waiting = shared.runtime.map { $0.stoppedAt != nil } ?? true ? " (no runtime is running: they wait for one)" : ""
        guard done.count > 0 else {
            return Notice(text: "nothing was edited: no longer a dead letter (replayed or deleted meanwhile)", isError: true)
        }
        let what = done.count == 1
            ? "1 dead letter: a new delivery with a fresh attempt budget; the original payload kept in the history"
            : "\(done.count) dead letters: new deliveries with fresh attempt budgets; the original payloads kept in the history"
        return Notice(text: "edited and replayed \(what)\(waiting)", isError: false)
    }
}
