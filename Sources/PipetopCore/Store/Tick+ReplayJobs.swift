import Foundation

/// One item of a replay job's fixed set, as `jobItems` returns it.
struct ReplayJobItem {
    /// Its place in the set, 1...total, oldest dead first.
    var seq: Int
    var messageID: Int64
}

/// A moved item whose outcome is not known yet, with what its message looks like now.
struct UndecidedJobItem {
    var seq: Int
    /// Errors in the message's history when the job moved it.
    var errorsAtMove: Int
    /// Errors now; nil when the message is gone (delivered: acked messages are removed).
    var errorsNow: Int?
}

/// How a replay job's items end (`replay_job_items.state`).
enum ReplayJobItemState: Int {
    case pending = 0
    case moved = 1
    case succeeded = 2
    case failedAgain = 3
    /// No longer dead when its turn came.
    case skipped = 4
}

/// The primitives replay jobs need from a backend, beside `StoreTransaction`'s.
protocol ReplayJobTransaction: StoreTransaction {
    /// A new job (its id assigned) holding the dead letters `selection` matches now, oldest dead
    /// first, at most `limit`, as its items 1...n; returns the job with its id and total.
    mutating func insertReplayJob(_ job: ReplayJob, selection: DeadLetterSelection, limit: Int?) throws -> ReplayJob
    mutating func loadReplayJob(id: Int64) throws -> ReplayJob?
    /// Writes the job's mutable fields.
    mutating func updateReplayJob(_ job: ReplayJob) throws
    /// Items after `cursor`, in order.
    mutating func jobItems(job: Int64, after cursor: Int, limit: Int) throws -> [ReplayJobItem]
    /// An item's end: moved (with the message's error count then), skipped, or its outcome decided.
    /// Returns false if it was not in the state this change expects (moved, for an outcome; pending otherwise).
    mutating func markJobItem(job: Int64, seq: Int, _ state: ReplayJobItemState, errorsAtMove: Int?) throws -> Bool
    /// Moved items whose outcome was not decided yet, oldest first, with their messages now.
    mutating func undecidedJobItems(job: Int64, limit: Int) throws -> [UndecidedJobItem]
}

extension Tick where Transaction: ReplayJobTransaction {
    /// Most letters one step moves (one transaction), as `redriveInBatches`.
    static var maxMovesPerStep: Int { 1_000 }

    mutating func createReplayJob(_ request: ReplayJobRequest) throws -> ReplayJob {
        guard request.rate >= 0 else { throw ReplayJobError("the rate must be 0 (unthrottled) or more letters per second, not \(request.rate)") }
        let words = "\(request.selection)\(request.to.map { " to \($0)" } ?? "")\(request.limit.map { ", at most \($0)" } ?? "")"
        let draft = ReplayJob(
            id: 0, state: .running, selection: words, to: request.to, rate: request.rate, total: 0,
            createdBy: request.actor, createdAt: now, updatedAt: now)
        var job = try tx.insertReplayJob(draft, selection: request.selection, limit: request.limit)
        if job.total == 0 {
            job.state = .done
            job.finishedAt = now
            try tx.updateReplayJob(job)
        }
        try tx.appendAudit(AuditRecord(
            at: now, actor: request.actor, action: .replayJob,
            detail: "replay job \(job.id) created: \(words), at \(ReplayJob.rateText(request.rate))", count: job.total))
        try finish()
        return job
    }

    mutating func controlReplayJob(id: Int64, _ control: ReplayJobControl, by actor: Operator) throws -> ReplayJob {
        guard var job = try tx.loadReplayJob(id: id) else { throw ReplayJobError("no replay job \(id) in this store") }
        if job.state.isFinal { throw ReplayJobError("replay job \(id) is \(job.state.rawValue): nothing to \(control)") }
        var detail = "replay job \(id): \(control)"
        switch control {
        case .pause:
            guard job.state == .running else { throw ReplayJobError("replay job \(id) is \(job.state.rawValue), not running: nothing to pause") }
            job.state = .paused
        case .resume:
            guard job.state != .running else { throw ReplayJobError("replay job \(id) is already running") }
            job.state = .running
            job.stopReason = nil
            // The window of recent outcomes starts again: what made it stop is not held against it twice.
            job.recentOutcomes = 0
            job.recentCount = 0
        case .cancel:
            job.state = .cancelled
            job.finishedAt = now
            job.stopReason = "cancelled by \(actor)"
            detail += ": \(job.moved) moved stay moved, \(job.remaining) not moved"
        case .rate(let rate):
            guard rate >= 0 else { throw ReplayJobError("the rate must be 0 (unthrottled) or more letters per second, not \(rate)") }
            detail = "replay job \(id): rate \(ReplayJob.rateText(job.rate)) → \(ReplayJob.rateText(rate))"
            job.rate = rate
        }
        job.updatedAt = now
        try tx.updateReplayJob(job)
        try tx.appendAudit(AuditRecord(at: now, actor: actor, action: .replayJob, detail: detail, count: control == .cancel ? job.moved : 0))
        try finish()
        return job
    }

    /// One step of a job for `runner`: takes (or renews) its lease unless another runner holds
    /// a live one, decides the outcomes now known of the letters it moved, stops it by itself
    /// if they fail again too often, then moves up to `moves` letters (only while it runs).
    mutating func stepReplayJob(id: Int64, runner: String, lease: Duration, moves: Int) throws -> ReplayJobStep {
        guard var job = try tx.loadReplayJob(id: id) else { throw ReplayJobError("no replay job \(id) in this store") }
        if let holder = job.runner, holder != runner, job.isCarried(at: now) {
            return ReplayJobStep(job: job, moved: 0, heldBy: holder)
        }
        // A finished job settles the outcomes of what it moved; a paused or stopped one waits.
        guard job.state == .running || (job.state.isFinal && job.undecided > 0) else {
            return ReplayJobStep(job: job, moved: 0)
        }
        job.runner = runner
        job.leaseUntil = now + lease
        for item in try tx.undecidedJobItems(job: id, limit: Self.maxMovesPerStep) {
            let failed: Bool
            if let errors = item.errorsNow {
                guard errors > item.errorsAtMove else { continue }
                failed = true
            } else {
                failed = false
            }
            guard try tx.markJobItem(job: id, seq: item.seq, failed ? .failedAgain : .succeeded, errorsAtMove: nil) else { continue }
            job.record(failedAgain: failed)
        }
        if job.state == .running, let reason = job.autoStopReason {
            job.state = .stopped
            job.stopReason = reason
            try tx.appendAudit(AuditRecord(
                at: now, actor: job.createdBy, action: .replayJob, detail: "replay job \(id) \(reason); resume to go on", count: job.moved))
        }
        var movedNow = 0
        if job.state == .running, moves > 0 {
            let items = try tx.jobItems(job: id, after: job.cursor, limit: min(moves, Self.maxMovesPerStep))
            let letters = Dictionary(
                try tx.selectDeadLetters(DeadLetterSelection(messageIDs: items.map(\.messageID)), limit: nil).map { ($0.messageID, $0) },
                uniquingKeysWith: { first, _ in first })
            for item in items {
                if let letter = letters[item.messageID], try redrive(letter, to: job.to, as: "replay job \(id) by \(job.createdBy)") {
                    _ = try tx.markJobItem(job: id, seq: item.seq, .moved, errorsAtMove: letter.errorCount)
                    job.moved += 1
                    movedNow += 1
                } else {
                    _ = try tx.markJobItem(job: id, seq: item.seq, .skipped, errorsAtMove: nil)
                    job.skipped += 1
                }
                job.cursor = item.seq
            }
            if job.cursor >= job.total {
                job.state = .done
                job.finishedAt = now
                try tx.appendAudit(AuditRecord(
                    at: now, actor: job.createdBy, action: .replayJob,
                    detail: "replay job \(id) done: \(job.moved) moved, \(job.skipped) no longer dead when their turn came", count: job.moved))
            }
        }
        job.updatedAt = now
        try tx.updateReplayJob(job)
        try finish()
        return ReplayJobStep(job: job, moved: movedNow)
    }

    /// Gives the lease back (a runner that stops), so another can take the job at once.
    mutating func releaseReplayJob(id: Int64, runner: String) throws {
        guard var job = try tx.loadReplayJob(id: id), job.runner == runner else { return }
        job.runner = nil
        job.leaseUntil = nil
        try tx.updateReplayJob(job)
        try finish()
    }
}
