import Foundation
import GRDB

extension SQLiteTransaction: ReplayJobTransaction {
    mutating func insertReplayJob(_ job: ReplayJob, selection: DeadLetterSelection, limit: Int?) throws -> ReplayJob {
        try db.execute(
            sql: """
                INSERT INTO replay_jobs (state, selection, target, rate, total, created_by, created_at, updated_at)
                VALUES (?, ?, ?, ?, 0, ?, ?, ?)
                """,
            arguments: [job.state.rawValue, job.selection, job.to, job.rate, job.createdBy.description, job.createdAt, job.updatedAt])
        var created = job
        created.id = db.lastInsertedRowID
        // The fixed set, in the order it is moved (oldest dead first), numbered 1...n.
        let (conditions, binds) = try DeadLetterQuery.conditions(selection)
        let insert = try RawStatement(cached: db.cachedStatement(sql: """
            INSERT INTO replay_job_items (job, seq, message_id)
            SELECT ?, row_number() OVER (ORDER BY m.dead_at, m.id), m.id
            FROM messages m JOIN events e ON e.seq = m.event_seq
            WHERE \(conditions) ORDER BY m.dead_at, m.id LIMIT ?
            """), in: db)
        insert.bind(created.id)
        for bind in binds { bind(insert) }
        insert.bind(limit.map { max($0, 0) } ?? -1)
        try insert.execute()
        created.total = db.changesCount
        try db.execute(sql: "UPDATE replay_jobs SET total = ? WHERE id = ?", arguments: [created.total, created.id])
        return created
    }

    mutating func loadReplayJob(id: Int64) throws -> ReplayJob? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM replay_jobs WHERE id = ?"), arguments: [id]).map(ReplayJob.init(row:))
    }

    mutating func updateReplayJob(_ job: ReplayJob) throws {
        try db.cachedStatement(sql: """
            UPDATE replay_jobs SET state = ?, rate = ?, cursor = ?, moved = ?, skipped = ?, succeeded = ?, failed_again = ?,
                recent_outcomes = ?, recent_count = ?, updated_at = ?, finished_at = ?, stop_reason = ?, runner = ?, lease_until = ?
            WHERE id = ?
            """).execute(arguments: [
                job.state.rawValue, job.rate, job.cursor, job.moved, job.skipped, job.succeeded, job.failedAgain,
                Int64(bitPattern: job.recentOutcomes), job.recentCount, job.updatedAt, job.finishedAt, job.stopReason, job.runner,
                job.leaseUntil, job.id,
            ])
    }

    mutating func jobItems(job: Int64, after cursor: Int, limit: Int) throws -> [ReplayJobItem] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT seq, message_id FROM replay_job_items WHERE job = ? AND seq > ? ORDER BY seq LIMIT ?"),
            arguments: [job, cursor, limit]
        ).map { ReplayJobItem(seq: $0[0], messageID: $0[1]) }
    }

    mutating func markJobItem(job: Int64, seq: Int, _ state: ReplayJobItemState, errorsAtMove: Int?) throws -> Bool {
        let expected = state == .succeeded || state == .failedAgain ? ReplayJobItemState.moved : .pending
        try db.cachedStatement(sql: """
            UPDATE replay_job_items SET state = ?, errors_at_move = coalesce(?, errors_at_move) WHERE job = ? AND seq = ? AND state = ?
            """).execute(arguments: [state.rawValue, errorsAtMove, job, seq, expected.rawValue])
        return db.changesCount > 0
    }

    mutating func undecidedJobItems(job: Int64, limit: Int) throws -> [UndecidedJobItem] {
        try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT i.seq, i.errors_at_move, json_array_length(m.errors)
                FROM replay_job_items i LEFT JOIN messages m ON m.id = i.message_id
                WHERE i.job = ? AND i.state = 1 ORDER BY i.seq LIMIT ?
                """),
            arguments: [job, limit]
        ).map { UndecidedJobItem(seq: $0[0], errorsAtMove: $0[1] ?? 0, errorsNow: $0[2]) }
    }
}

extension SQLiteSnapshot {
    /// Newest first, a page at a time (keyset on id).
    func replayJobs(page: PageRequest) throws -> Page<ReplayJob> {
        let after = page.after.map { _ in "WHERE id < ?" } ?? ""
        var arguments: StatementArguments = []
        if let cursor = page.after { arguments += [cursor.key] }
        arguments += [page.limit + 1]
        let jobs = try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM replay_jobs \(after) ORDER BY id DESC LIMIT ?"), arguments: arguments)
            .map(ReplayJob.init(row:))
        return Self.page(jobs, limit: page.limit) { PageCursor(key: $0.id, tiebreak: 0) }
    }

    func replayJob(id: Int64) throws -> ReplayJob? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM replay_jobs WHERE id = ?"), arguments: [id]).map(ReplayJob.init(row:))
    }
}

extension ReplayJob {
    init(row: Row) {
        let creator: String = row["created_by"]
        let recent: Int64 = row["recent_outcomes"]
        self.init(
            id: row["id"], state: ReplayJobState(rawValue: row["state"]) ?? .paused, selection: row["selection"], to: row["target"],
            rate: row["rate"], total: row["total"], cursor: row["cursor"], moved: row["moved"], skipped: row["skipped"],
            succeeded: row["succeeded"], failedAgain: row["failed_again"], recentOutcomes: UInt64(bitPattern: recent),
            recentCount: row["recent_count"], createdBy: Operator(parsing: creator) ?? Operator(user: creator, host: ""),
            createdAt: row["created_at"], updatedAt: row["updated_at"], finishedAt: row["finished_at"], stopReason: row["stop_reason"],
            runner: row["runner"], leaseUntil: row["lease_until"])
    }
}
