import Foundation

/// Editing a dead letter's event before its replay: what the editor is given, what is accepted
/// back, and the diff shown before the edit is confirmed. Pure functions: the CLI, the dashboard
/// and the store's transaction (`Tick.edit`) all check an edit with these.
///
/// The rules: the editor gets the whole envelope as CloudEvents JSON (pretty-printed, the payload's
/// own key order and numbers kept), so the user sees what they are changing; only `data` (or
/// `data_base64`) and `datacontenttype` may change. The envelope must still parse as CloudEvents
/// 1.0 (the same parser `pipetop publish` uses); `id`, `source`, `type`, `specversion`, `time`,
/// `subject`, `dataschema`, `correlationid`, `causationid`, `traceparent` and the other extensions
/// must be as they were; when the content type is JSON (`application/json`, `text/json`, a `+json`
/// suffix, or none with JSON data) the data must be JSON. Every error names what is wrong.
public enum EventEdit {
    /// What an edit may change, as the messages say it.
    public static let editable = "data and datacontenttype"

    /// The envelope as the editor gets it: CloudEvents JSON, two spaces a level, a trailing newline.
    /// Characters that could change what a terminal shows are `\uXXXX` escapes (the same strings).
    public static func editableText(_ event: CloudEvent) -> String {
        let json = event.jsonString()
        guard let tree = try? JSONValue.parse(Array(json.utf8)) else { return json + "\n" }
        return tree.prettyLines().joined(separator: "\n") + "\n"
    }

    /// The envelope the editor's `text` describes, checked against `original` (see the rules above).
    public static func parse(_ text: String, original: CloudEvent) throws -> CloudEvent {
        let bytes = Array(text.utf8)
        do {
            let values = try JSONScanner.values(bytes)
            guard values.count == 1 else {
                throw EditError(values.isEmpty ? "the file is empty: nothing to replay" : "the file holds \(values.count) JSON values; it must hold the one envelope")
            }
        } catch let error as JSONSyntaxError {
            let (line, column) = position(of: error.offset, in: bytes)
            throw EditError("not valid JSON at line \(line), column \(column): \(error.problem)")
        }
        let edited: CloudEvent
        do {
            edited = try CloudEvent(json: Data(bytes))
        } catch let error as EnvelopeError {
            throw EditError("not a valid CloudEvents envelope: \(error.description)")
        }
        return try validate(edited, against: original)
    }

    /// `edited` if it changes only what an edit may (see the rules above); the error names the
    /// first attribute that changed, or why the data is not JSON.
    public static func validate(_ edited: CloudEvent, against original: CloudEvent) throws -> CloudEvent {
        func same<T: Equatable>(_ name: String, _ a: T?, _ b: T?, _ show: (T) -> String) throws {
            guard a != b else { return }
            let was = a.map { "'\(show($0))'" } ?? "unset", now = b.map { "'\(show($0))'" } ?? "unset"
            throw EditError("attribute '\(name)' was changed (\(was) → \(now)); an edit may change only \(editable)")
        }
        try same("specversion", original.specversion, edited.specversion) { $0 }
        try same("id", original.id, edited.id) { $0 }
        try same("source", original.source, edited.source) { $0 }
        try same("type", original.type, edited.type) { $0 }
        try same("time", original.time, edited.time) { $0.rfc3339 }
        try same("subject", original.subject, edited.subject) { $0 }
        try same("dataschema", original.dataschema, edited.dataschema) { $0 }
        try same("correlationid", original.correlationID, edited.correlationID) { $0 }
        try same("causationid", original.causationID, edited.causationID) { $0 }
        try same("traceparent", original.traceparent, edited.traceparent) { $0 }
        for name in Set(original.extensions.keys).union(edited.extensions.keys).sorted() {
            try same(name, original.extensions[name], edited.extensions[name]) { $0.description }
        }
        if isJSON(edited) {
            switch edited.data {
            case .binary(let bytes)?:
                do { _ = try JSONValue.parse(Array(bytes)) } catch {
                    throw EditError("datacontenttype is \(edited.datacontenttype ?? "JSON"), but data_base64 does not hold JSON: \(error.problem)")
                }
            case .text?:
                throw EditError("datacontenttype is \(edited.datacontenttype ?? "JSON"), but data is not JSON")
            case .json?, nil: break
            }
        }
        return edited
    }

    /// Whether `event`'s data is declared JSON: a JSON content type, or none with `data` as JSON.
    static func isJSON(_ event: CloudEvent) -> Bool {
        guard let type = event.datacontenttype else { return event.data?.isJSON ?? false }
        return CloudEvent.isJSON(contentType: type)
    }

    /// `event` with each assignment made to its JSON payload, in order; the error says why the
    /// payload cannot take them (not JSON, a path whose parent is missing or not a container).
    public static func applying(_ assignments: [FieldAssignment], to event: CloudEvent) throws -> CloudEvent {
        guard isJSON(event), case .json(let bytes)? = event.data else {
            let what = event.data == nil ? "has no data" : "is not JSON (\(event.datacontenttype ?? "no content type"))"
            throw EditError("the payload \(what): a field edit needs a JSON payload")
        }
        var document: JSONValue
        do { document = try JSONValue.parse(Array(bytes)) } catch { throw EditError("the payload is not valid JSON: \(error.problem)") }
        for assignment in assignments { document = try assignment.apply(to: document) }
        var edited = event
        edited.data = .json(Data(document.compactText.utf8))
        return edited
    }

    /// Whether `edited` differs from `original` in what an edit may change (data compared as JSON
    /// values written one way, so re-escaping a string is no change).
    public static func changes(_ original: CloudEvent, _ edited: CloudEvent) -> Bool {
        original.datacontenttype != edited.datacontenttype || payloadLines(original.data) != payloadLines(edited.data)
    }

    /// The payload as the diff compares it: JSON pretty-printed in its own order, text line by
    /// line, binary as hex; every line escaped for the terminal.
    public static func payloadLines(_ payload: Payload?) -> [String] {
        if case .json(let bytes)? = payload, let tree = try? JSONValue.parse(Array(bytes)) {
            return tree.prettyLines().map(\.terminalSafe)
        }
        return PayloadText.lines(payload)
    }

    /// A compact line diff of the payload (and a line for a changed content type), with `context`
    /// unchanged lines around each change and the rest counted.
    public static func diff(_ original: CloudEvent, _ edited: CloudEvent, context: Int = 2) -> [DiffLine] {
        var lines: [DiffLine] = []
        if original.datacontenttype != edited.datacontenttype {
            lines.append(DiffLine(.removed, "datacontenttype: " + (original.datacontenttype ?? "unset").terminalSafe))
            lines.append(DiffLine(.added, "datacontenttype: " + (edited.datacontenttype ?? "unset").terminalSafe))
        }
        return lines + LineDiff.compact(payloadLines(original.data), payloadLines(edited.data), context: context)
    }

    /// Line and column (from 1, in characters) of a byte offset.
    static func position(of offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
        let before = bytes.prefix(max(0, min(offset, bytes.count)))
        let line = before.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
        let lineStart = before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        let column = String(decoding: bytes[lineStart..<before.endIndex], as: UTF8.self).count + 1
        return (line, column)
    }
}

/// One line of a diff as shown: unchanged, removed, added, or a run of unchanged lines left out.
public struct DiffLine: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable { case same, removed, added, skipped }
    public var kind: Kind
    /// The line (for `skipped`, how many lines were left out, in words).
    public var text: String

    public init(_ kind: Kind, _ text: String) {
        self.kind = kind
        self.text = text
    }

    /// As a unified diff marks it: `- `, `+ `, two spaces, or `…` for a gap.
    public var description: String {
        switch kind {
        case .same: return "  " + text
        case .removed: return "- " + text
        case .added: return "+ " + text
        case .skipped: return "… " + text
        }
    }
}

/// A line diff by longest common subsequence, after the common start and end are set aside (so
/// a small edit of a large payload costs little). Past `maxCells` of the table, the middle is
/// shown as removed then added instead.
public enum LineDiff {
    static let maxCells = 4_000_000

    /// Every line of both, marked.
    public static func full(_ old: [String], _ new: [String]) -> [DiffLine] {
        var start = 0
        while start < old.count, start < new.count, old[start] == new[start] { start += 1 }
        var end = 0
        while end < old.count - start, end < new.count - start, old[old.count - 1 - end] == new[new.count - 1 - end] { end += 1 }
        let a = Array(old[start..<(old.count - end)]), b = Array(new[start..<(new.count - end)])
        var lines = old[..<start].map { DiffLine(.same, $0) }
        if a.count * b.count > maxCells || a.isEmpty || b.isEmpty {
            lines += a.map { DiffLine(.removed, $0) } + b.map { DiffLine(.added, $0) }
        } else {
            // lengths[i][j]: the LCS of a[i...] and b[j...].
            var lengths = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
            for i in stride(from: a.count - 1, through: 0, by: -1) {
                for j in stride(from: b.count - 1, through: 0, by: -1) {
                    lengths[i][j] = a[i] == b[j] ? lengths[i + 1][j + 1] + 1 : max(lengths[i + 1][j], lengths[i][j + 1])
                }
            }
            var i = 0, j = 0
            while i < a.count || j < b.count {
                if i < a.count, j < b.count, a[i] == b[j] {
                    lines.append(DiffLine(.same, a[i]))
                    i += 1
                    j += 1
                } else if j < b.count, i == a.count || lengths[i][j + 1] > lengths[i + 1][j] {
                    lines.append(DiffLine(.added, b[j]))
                    j += 1
                } else {
                    lines.append(DiffLine(.removed, a[i]))
                    i += 1
                }
            }
        }
        return lines + old[(old.count - end)...].map { DiffLine(.same, $0) }
    }

    /// The changes with `context` unchanged lines around each; longer unchanged runs are one
    /// `skipped` line. Empty when nothing changed.
    public static func compact(_ old: [String], _ new: [String], context: Int = 2) -> [DiffLine] {
        let lines = full(old, new)
        let changed = lines.indices.filter { lines[$0].kind != .same }
        guard !changed.isEmpty else { return [] }
        var keep = Set<Int>()
        for index in changed { for near in max(0, index - context)...min(lines.count - 1, index + context) { keep.insert(near) } }
        var out: [DiffLine] = []
        var skipped = 0
        func flush() {
            guard skipped > 0 else { return }
            out.append(DiffLine(.skipped, "\(skipped) unchanged line\(skipped == 1 ? "" : "s")"))
            skipped = 0
        }
        for (index, line) in lines.enumerated() {
            if keep.contains(index) {
                flush()
                out.append(line)
            } else {
                skipped += 1
            }
        }
        flush()
        return out
    }
}
