import Foundation

/// Editing dead letters, then replaying them: one transaction (`Store.edit`).
///
/// The edited envelope is stored as a new version of the event: a new events row with the same
/// id, source, type, time, correlation and causation and the new data (and content type). The
/// message is pointed at it and redriven as a replay is (fresh attempt budget, new delivery,
/// its replays counted), so its error history stays with it. The original row is never changed:
/// other queues' messages of the same event (a fan-out) keep it, and the log and the trace keep
/// the original, followed by an `edited` record (who, the replay id, the original's event seq)
/// on the new version. Reads by correlation (`events(correlationID:)`, `trace`) and `pipetop
/// events` show both versions, oldest first: the later one with an id is what its message
/// carries now.
///
/// Exactly once: a letter is changed only if it is still dead, and (for `replace`) still as the
/// editor saw it: the same event and the same number of replays. Two edits or an edit and a
/// replay racing move it once; the loser changes nothing.
public struct EditRequest: Sendable, Equatable {
    public enum Change: Sendable, Equatable {
        /// One dead letter's envelope replaced by `edited`, if the letter still carries `original`
        /// and was replayed `replays` times before (nobody moved or edited it since it was read).
        /// `edited` must pass `EventEdit.validate` against `original`.
        case replace(messageID: Int64, original: CloudEvent, replays: Int, edited: CloudEvent)
        /// The assignments made to the JSON payload of every selected dead letter (at most
        /// `limit`, oldest dead first; at most `EditRequest.maxLetters`). All or nothing: if one
        /// letter's payload cannot take them, the transaction changes nothing and the error names
        /// the letters (up to 10) and why. A letter the assignments leave as it was is replayed
        /// with its event unchanged.
        case set([FieldAssignment], selection: DeadLetterSelection, limit: Int?)
    }

    /// A field edit is one transaction, checked as a whole: it holds the write lock for this many
    /// letters at most (a larger set is refused; replay it in parts with a limit).
    public static let maxLetters = 1_000

    public var change: Change
    public var actor: Operator
    /// Names this replay in the log and the audit record.
    public var replayID: String

    public init(_ change: Change, actor: Operator = .current, replayID: String = UUID().uuidString.lowercased()) {
        self.change = change
        self.actor = actor
        self.replayID = replayID
    }
}

extension EditRequest.Change: CustomStringConvertible {
    /// In words, for the audit record.
    public var description: String {
        switch self {
        case .replace(let id, _, _, _): return "message \(id), payload replaced"
        case .set(let assignments, let selection, let limit):
            return "set \(assignments.map(\.description).joined(separator: " ")) on \(selection)\(limit.map { ", at most \($0)" } ?? "")"
        }
    }
}
