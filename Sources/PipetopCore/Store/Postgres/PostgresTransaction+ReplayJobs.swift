import Foundation

extension PostgresTransaction: ReplayJobTransaction {
    mutating func insertReplayJob(_ job: ReplayJob, selection: DeadLetterSelection, limit: Int?) throws -> ReplayJob {
        var created = job
        created.id = try session.run { sql in
            """
            INSERT INTO replay_jobs (state, selection, target, rate, total, created_by, created_at, updated_at)
            VALUES (\(sql.value(job.state.rawValue)), \(sql.value(job.selection)), \(sql.value(job.to)), \(sql.value(job.rate)), 0,
                \(sql.value(job.createdBy.description)), \(sql.value(job.createdAt.micros)), \(sql.value(job.updatedAt.micros)))
            RETURNING id
            """
        }.rows[0].int64(0)
        // The fixed set, in the order it is moved (oldest dead first), numbered 1...n.
        let sql = PostgresSQL()
        let job = sql.value(created.id)
        let conditions = try PostgresDeadLetterQuery.conditions(selection, sql)
        let inserted = try session.query("""
            INSERT INTO replay_job_items (job, seq, message_id)
            SELECT \(job), row_number() OVER (ORDER BY m.dead_at, m.id), m.id
            FROM messages m JOIN events e ON e.seq = m.event_seq
            WHERE \(conditions) ORDER BY m.dead_at, m.id LIMIT \(sql.value(limit.map { max($0, 0) }))
            """, bindings: sql.binder)
        created.total = inserted.changed
        try session.run { "UPDATE replay_jobs SET total = \($0.value(created.total)) WHERE id = \($0.value(created.id))" }
        return created
    }

    mutating func loadReplayJob(id: Int64) throws -> ReplayJob? {
        try session.run { "SELECT * FROM replay_jobs WHERE id = \($0.value(id))" }.rows.first.map(ReplayJob.init(postgres:))
    }

    mutating func updateReplayJob(_ job: ReplayJob) throws {
        try session.run { sql in
            """
            UPDATE replay_jobs SET state = \(sql.value(job.state.rawValue)), rate = \(sql.value(job.rate)), cursor = \(sql.value(job.cursor)),
                moved = \(sql.value(job.moved)), skipped = \(sql.value(job.skipped)), succeeded = \(sql.value(job.succeeded)),
                failed_again = \(sql.value(job.failedAgain)), recent_outcomes = \(sql.value(Int64(bitPattern: job.recentOutcomes))),
                recent_count = \(sql.value(job.recentCount)), updated_at = \(sql.value(job.updatedAt.micros)),
                finished_at = \(sql.value(job.finishedAt?.micros)), stop_reason = \(sql.value(job.stopReason)), runner = \(sql.value(job.runner)),
                lease_until = \(sql.value(job.leaseUntil?.micros))
            WHERE id = \(sql.value(job.id))
            """
        }
    }

    mutating func jobItems(job: Int64, after cursor: Int, limit: Int) throws -> [ReplayJobItem] {
        try session.run { sql in
            "SELECT seq, message_id FROM replay_job_items WHERE job = \(sql.value(job)) AND seq > \(sql.value(cursor)) ORDER BY seq LIMIT \(sql.value(limit))"
        }.rows.map { ReplayJobItem(seq: $0.int(0), messageID: $0.int64(1)) }
    }

    mutating func markJobItem(job: Int64, seq: Int, _ state: ReplayJobItemState, errorsAtMove: Int?) throws -> Bool {
        let expected = state == .succeeded || state == .failedAgain ? ReplayJobItemState.moved : .pending
        return try session.run { sql in
            """
            UPDATE replay_job_items SET state = \(sql.value(state.rawValue)), errors_at_move = coalesce(\(sql.value(errorsAtMove)), errors_at_move)
            WHERE job = \(sql.value(job)) AND seq = \(sql.value(seq)) AND state = \(sql.value(expected.rawValue))
            """
        }.changed > 0
    }

    mutating func undecidedJobItems(job: Int64, limit: Int) throws -> [UndecidedJobItem] {
        try session.run { sql in
            """
            SELECT i.seq, i.errors_at_move, jsonb_array_length(m.errors)
            FROM replay_job_items i LEFT JOIN messages m ON m.id = i.message_id
            WHERE i.job = \(sql.value(job)) AND i.state = 1 ORDER BY i.seq LIMIT \(sql.value(limit))
            """
        }.rows.map { UndecidedJobItem(seq: $0.int(0), errorsAtMove: $0.optionalInt64(1).map { Int($0) } ?? 0, errorsNow: $0.optionalInt64(2).map { Int($0) }) }
    }
}

extension ReplayJob {
    init(postgres row: PostgresRowReader) {
        let creator = row.string("created_by") ?? ""
        self.init(
            id: row.int64("id"), state: ReplayJobState(rawValue: row.string("state") ?? "") ?? .paused, selection: row.string("selection") ?? "",
            to: row.string("target"), rate: row.int("rate"), total: row.int("total"), cursor: row.int("cursor"), moved: row.int("moved"),
            skipped: row.int("skipped"), succeeded: row.int("succeeded"), failedAgain: row.int("failed_again"),
            recentOutcomes: UInt64(bitPattern: row.int64("recent_outcomes")), recentCount: row.int("recent_count"),
            createdBy: Operator(parsing: creator) ?? Operator(user: creator, host: ""),
            createdAt: Timestamp(micros: row.int64("created_at")), updatedAt: Timestamp(micros: row.int64("updated_at")),
            finishedAt: row.optionalInt64("finished_at").map(Timestamp.init(micros:)), stopReason: row.string("stop_reason"),
            runner: row.string("runner"), leaseUntil: row.optionalInt64("lease_until").map(Timestamp.init(micros:)))
    }
}
