import GRDB

extension SQLiteSnapshot {
    func deadLetterArrivals(since: Timestamp) throws -> [DeadLetterArrivals] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT queue, type, fingerprint, minute, count FROM dead_letter_arrivals WHERE minute >= ? ORDER BY minute"),
            arguments: [since.micros / 60_000_000]
        ).map { row in
            let minute: Int64 = row[3]
            return DeadLetterArrivals(queue: row[0], type: row[1], fingerprint: row[2], minute: Timestamp(micros: minute * 60_000_000), count: row[4])
        }
    }
}
