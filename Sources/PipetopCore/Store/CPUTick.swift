import Foundation
import GRDB

/// The CPU samples of one moment (every scope's sample of one engine tick), as the store keeps
/// them: one `cpu_ticks` row instead of a row per scope, so an hour of 20 queues and the process
/// is 3,600 rows to read, not 75,600 (schema v16).
///
/// Columnar: `scopes` holds the scopes' names (each a LEB128 length and its UTF-8), `samples`
/// each sample's interval, CPU and busy microseconds, runs and capacity (zigzag LEB128 varints),
/// in the same order. A tick's scopes come round in the same order each time, so a reader makes
/// one list of names and reuses it for every row whose `scopes` bytes are the same.
enum CPUTick {
    /// Stores `samples` (in runs of one time, one row each), numbered after the samples stored
    /// before them: `seq` is the number of a row's first sample, which retention's count bound goes by.
    static func insert(_ samples: [CPUSample], into db: Database) throws {
        guard !samples.isEmpty else { return }
        var seq = try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq + count FROM cpu_ticks ORDER BY seq DESC LIMIT 1")) ?? 0
        let insert = try RawStatement(cached: db.cachedStatement(sql: "INSERT INTO cpu_ticks (at, seq, count, scopes, samples) VALUES (?, ?, ?, ?, ?)"), in: db)
        for run in runs(samples) {
            let (scopes, values) = encode(run)
            insert.bind(run.first!.time.micros)
            insert.bind(seq)
            insert.bind(run.count)
            insert.bind(scopes)
            insert.bind(values)
            try insert.execute()
            seq += Int64(run.count)
        }
    }

    /// Deletes the samples taken before `before`, then the oldest rows until the newest `keep`
    /// samples at most are left (whole rows: a tick is kept or deleted whole).
    static func prune(before: Timestamp, keep: Int, in db: Database) throws {
        try db.cachedStatement(sql: "DELETE FROM cpu_ticks WHERE at < ?").execute(arguments: [before])
        try db.cachedStatement(sql: "DELETE FROM cpu_ticks WHERE seq < (SELECT seq + count FROM cpu_ticks ORDER BY seq DESC LIMIT 1) - ?")
            .execute(arguments: [Swift.max(keep, 0)])
    }

    /// Every sample taken since `since`, oldest first, along the primary key (3,600 rows for an hour).
    static func samples(since: Timestamp, in db: Database) throws -> [CPUSample] {
        let query = try RawStatement(cached: db.cachedStatement(sql: "SELECT at, scopes, samples FROM cpu_ticks WHERE at >= ? ORDER BY at, seq"), in: db)
        query.bind(since.micros)
        var samples: [CPUSample] = []
        samples.reserveCapacity(4096)
        var decoder = Decoder()
        try query.query { row in
            row.withBlob(1) { scopes in
                row.withBlob(2) { values in decoder.decode(at: Timestamp(micros: row.int64(0)), scopes: scopes, samples: values, into: &samples) }
            }
        }
        return samples
    }

    /// The samples in runs of one time each, in their order (one row per run).
    static func runs(_ samples: [CPUSample]) -> [ArraySlice<CPUSample>] {
        var runs: [ArraySlice<CPUSample>] = []
        var start = samples.startIndex
        for index in samples.indices.dropFirst() where samples[index].time != samples[start].time {
            runs.append(samples[start..<index])
            start = index
        }
        if start < samples.endIndex { runs.append(samples[start...]) }
        return runs
    }

    /// The `scopes` and `samples` columns of one run of samples of one time.
    static func encode(_ run: ArraySlice<CPUSample>) -> (scopes: Data, samples: Data) {
        var scopes: [UInt8] = [], values: [UInt8] = []
        scopes.reserveCapacity(run.count * 12)
        values.reserveCapacity(run.count * 12)
        for sample in run {
            let name = Array(sample.scope.utf8)
            LatencyBuckets.append(UInt64(name.count), to: &scopes)
            scopes += name
            for value in [sample.interval.micros, sample.cpu.micros, sample.busy.micros, Int64(sample.runs), Int64(sample.capacity)] {
                LatencyBuckets.append(UInt64(bitPattern: (value << 1) ^ (value >> 63)), to: &values)
            }
        }
        return (Data(scopes), Data(values))
    }

    /// Reads rows back into samples, reusing the names of the previous row with the same scopes.
    struct Decoder {
        private var lastScopes: [UInt8] = []
        private var names: [String] = []

        /// Appends the samples of one row (a malformed row adds what could be read of it).
        mutating func decode(at time: Timestamp, scopes: UnsafeRawBufferPointer, samples: UnsafeRawBufferPointer, into out: inout [CPUSample]) {
            let same = scopes.count == lastScopes.count
                && (scopes.isEmpty || lastScopes.withUnsafeBytes { memcmp($0.baseAddress!, scopes.baseAddress!, scopes.count) == 0 })
            if !same {
                lastScopes = Array(scopes)
                names = []
                var index = 0
                while index < scopes.count {
                    var reader = LatencyBuckets.Reader(bytes: UnsafeRawBufferPointer(rebasing: scopes[index...]))
                    guard let length = reader.next(), index + reader.index + Int(length) <= scopes.count else { break }
                    let from = index + reader.index
                    names.append(String(decoding: scopes[from..<from + Int(length)], as: UTF8.self))
                    index = from + Int(length)
                }
            }
            var reader = LatencyBuckets.Reader(bytes: samples)
            func next() -> Int64? { reader.next().map { Int64(bitPattern: $0 >> 1) ^ -Int64(bitPattern: $0 & 1) } }
            for name in names {
                guard let interval = next(), let cpu = next(), let busy = next(), let runs = next(), let capacity = next() else { return }
                out.append(CPUSample(time: time, scope: name, intervalMicros: interval, cpuMicros: cpu, busyMicros: busy, runs: Int(runs), capacity: Int(capacity)))
            }
        }
    }
}
