import PipetopCore

/// How an edit on the Dead letters screen draws: a box over the screen with the diff to confirm,
/// the reason an edit was refused, or the field edit being typed. The diff's lines come escaped
/// (`EventEdit.diff`); errors are escaped where they are made. Long lines are cut, not wrapped:
/// a diff reads line by line.
enum DeadLettersEditView {
    static func draw(_ state: DeadLettersScreen.EditState, _ shared: Shared, into grid: inout Grid, _ body: Rect) {
        let theme = shared.theme
        var lines: [(String, Style)] = []
        var title = "confirm edit"
        var prompt: LineEditor?
        var wrapped: [(String, Style)] = []  // text that must be read whole
        var footer: [(String, Style)] = []
        switch state {
        case .confirm(let session, let edited, let diff):
            let letter = session.letter
            wrapped.append(("edit dead letter \(letter.messageID) of \(letter.queue.terminalSafe) (\(letter.event.type.terminalSafe)), then replay it", theme[.base]))
            lines.append(("", theme[.base]))
            lines.append(("payload (\((edited.datacontenttype ?? "no content type").terminalSafe)):", theme[.tableHeader]))
            lines += diffLines(diff, theme)
            footer.append(("a new delivery with a fresh attempt budget; the original stays in the history", theme[.muted]))
            footer.append(("", theme[.base]))
            footer.append(("y replays the edit · e edits again · n or esc cancels", theme[.hintKey]))
        case .refused(let session, let error):
            title = "edit refused"
            wrapped.append(("dead letter \(session.letter.messageID): the edit cannot be replayed", theme[.base]))
            wrapped.append((error, theme[.error]))
            footer.append(("nothing was changed", theme[.muted]))
            footer.append(("", theme[.base]))
            footer.append(("e edits again (your text is kept) · esc discards it", theme[.hintKey]))
        case .field(let ids, let editor, let error):
            title = "edit \(ids.count) marked"
            wrapped.append(("set a field in the JSON payload of each of the \(ids.count) marked dead letters, then replay them", theme[.base]))
            wrapped.append(("PATH=VALUE: a JSON Pointer and a JSON value, like /price=12500 or /currency=\"EUR\"", theme[.muted]))
            if let error { wrapped.append((error, theme[.error])) }
            prompt = editor
            footer.append(("enter checks it against every marked payload · esc cancels", theme[.hintKey]))
        case .confirmField(let preview, let typed):
            let noun = "\(preview.count) dead letter\(preview.count == 1 ? "" : "s")"
            wrapped.append(("edit \(noun) (set \(preview.assignment.description.terminalSafe)), then replay \(preview.count == 1 ? "it" : "them")", theme[.base]))
            if preview.unchanged > 0 {
                wrapped.append(("\(preview.unchanged) of them hold it already: replayed with their events unchanged", theme[.warning]))
            }
            if let example = preview.example {
                lines.append(("", theme[.base]))
                lines.append(("dead letter \(example.messageID):", theme[.tableHeader]))
                lines += diffLines(example.diff, theme)
            }
            footer.append(("new deliveries with fresh attempt budgets; the originals stay in the history", theme[.muted]))
            footer.append(("", theme[.base]))
            if preview.count > 1 {
                footer.append(("type \(preview.count) then enter to go on · esc cancels", theme[.hintKey]))
                prompt = LineEditor(typed)
            } else {
                footer.append(("y replays the edit · n or esc cancels", theme[.hintKey]))
            }
        }

        let longest = (wrapped + lines + footer).map { DisplayWidth.of($0.0) }.max() ?? 0
        let width = min(body.width - 4, max(60, longest + 4))
        let inner = width - 4
        func wrap(_ lines: [(String, Style)]) -> [(String, Style)] {
            lines.flatMap { line in line.0.isEmpty ? [line] : WrappedText.lines(line.0, width: inner).map { ($0, line.1) } }
        }
        let text = wrap(wrapped)
        // Prose after a blank line, wrapped: what a replay does and the keys must be read whole.
        footer = [("", theme[.base])] + wrap(footer)
        // The diff gets what height is left; what does not fit is counted.
        let fixed = text.count + footer.count + (prompt == nil ? 0 : 2) + 4
        let room = max(1, body.height - fixed)
        if lines.count > room {
            let hidden = lines.count - (room - 1)
            lines = Array(lines.prefix(room - 1)) + [("… \(hidden) more line\(hidden == 1 ? "" : "s") of the diff", theme[.muted])]
        }
        var all = text + lines
        if prompt != nil { all.append(("", theme[.base])) }
        let promptRow = all.count
        if prompt != nil { all.append(("", theme[.base])) }
        all += footer
        let height = min(body.height, all.count + 4)
        let rect = Rect(x: body.x + (body.width - width) / 2, y: body.y + max(0, (body.height - height) / 2), width: width, height: height)
        grid.box(rect, border: theme[.border], fill: theme[.base], title: title, titleStyle: theme[.title])
        for (n, line) in all.enumerated() where n < height - 4 {
            grid.put(DisplayWidth.truncate(line.0, to: inner), x: rect.x + 2, y: rect.y + 2 + n, style: line.1)
        }
        if let prompt, promptRow < height - 4 {
            let y = rect.y + 2 + promptRow
            // The cursor as reverse video on the character it stands before (or a space at the end).
            let characters = Array(prompt.text)
            let cursor = max(0, min(prompt.cursor, characters.count))
            let before = "> " + String(characters[..<cursor]).terminalSafe
            let at = cursor < characters.count ? String(characters[cursor]).terminalSafe : " "
            let after = cursor < characters.count ? String(characters[(cursor + 1)...]).terminalSafe : ""
            var x = grid.put(DisplayWidth.truncate(before, to: inner - 1), x: rect.x + 2, y: y, style: theme[.prompt])
            x = grid.put(at, x: x, y: y, style: theme[.prompt].with(.reverse), maxX: rect.x + 2 + inner)
            grid.put(after, x: x, y: y, style: theme[.prompt], maxX: rect.x + 2 + inner)
        }
    }

    /// Diff lines in their styles: removed as errors, added as ok, the rest muted.
    static func diffLines(_ diff: [DiffLine], _ theme: Theme) -> [(String, Style)] {
        diff.map { line in
            switch line.kind {
            case .removed: return (line.description, theme[.error])
            case .added: return (line.description, theme[.ok])
            case .same: return (line.description, theme[.base])
            case .skipped: return (line.description, theme[.muted])
            }
        }
    }
}
