import Foundation
import GRDB
import Testing
@testable import PipetopCore

/// CPU samples as the runtime stores them: kept across a failed commit, bounded by age and
/// count, read back by time, and a second's runs found in the log.
@Suite(.serialized) struct CPUSampleTests {
    func options() -> Runtime.Options {
        var options = Runtime.Options()
        options.register = false
        options.cpuSampleInterval = .milliseconds(50)
        options.onError = { _ in }
        return options
    }

    /// No interval is missing: each sample starts where the scope's previous one ended.
    func contiguous(_ samples: [CPUSample]) -> Bool {
        zip(samples, samples.dropFirst()).allSatisfy { $1.time - $1.interval == $0.time }
    }

    @Test func samplesOfAFailedCommitAreWrittenByTheNext() throws {
        let db = try TestStore()
        let runtime = try Runtime(name: "cpu-fail", store: db.store, queues: [QueueSpec("q")],
                                  rules: [Rule("r", pattern: .type("t"), targets: ["q"])], options: options())
        runtime.handle("q") { _ in }
        try runtime.start()
        #expect(try eventually { try db.store.cpuSamples(since: Timestamp(micros: 0)).count >= 4 })
        // Every commit that writes a sample fails for a while (as a full disk would make it).
        try db.store.database.write { db in
            try db.execute(sql: """
                CREATE TABLE failing (x);
                INSERT INTO failing VALUES (1);
                CREATE TRIGGER cpu_fails BEFORE INSERT ON cpu_ticks WHEN EXISTS (SELECT 1 FROM failing)
                BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END;
                """)
        }
        let failedFrom = Timestamp.now()
        Thread.sleep(forTimeInterval: 0.6)
        let failedUntil = Timestamp.now()
        try db.store.database.write { try $0.execute(sql: "DELETE FROM failing") }
        #expect(try eventually { try db.store.cpuSamples(since: failedUntil).count >= 4 })
        runtime.stop()
        let samples = try db.store.cpuSamples(since: Timestamp(micros: 0))
        let during = samples.filter { $0.time > failedFrom && $0.time < failedUntil }
        #expect(!during.isEmpty, "samples taken while commits failed were written later")
        for scope in ["q", CPUSample.processScope] {
            let mine = samples.filter { $0.scope == scope }
            // Before, across (the engine backs off while commits fail) and after the failure.
            #expect(mine.contains { $0.time < failedFrom } && mine.contains { $0.time > failedUntil }, "\(scope)")
            #expect(contiguous(mine), "\(scope): no interval lost")
        }
    }

    func sample(_ scope: String, at time: Timestamp) -> CPUSample {
        CPUSample(time: time, scope: scope, interval: .seconds(1), cpu: .milliseconds(10), busy: .milliseconds(12), runs: 3, capacity: 2)
    }

    @Test func retentionDeletesByAgeAndKeepsTheNewestByCount() throws {
        let db = try TestStore()
        let t0 = Timestamp(micros: 1_800_000_000_000_000)
        var batch = WriteBatch(now: t0)
        batch.cpuSamples = (0..<100).flatMap { i in ["a", "b"].map { sample($0, at: t0 + .seconds(Int64(i))) } }
        _ = try db.store.apply(batch)
        #expect(try db.store.cpuSampleCount() == 200)
        // Older than second 30 go (60 rows), then all but the newest 100 (40 more).
        var prune = WriteBatch(now: t0 + .seconds(100))
        prune.pruneCPUSamples = (before: t0 + .seconds(30), keep: 100)
        _ = try db.store.apply(prune)
        let left = try db.store.cpuSamples(since: Timestamp(micros: 0))
        #expect(left.count == 100)
        #expect(left.map(\.time).min() == t0 + .seconds(50))
        #expect(left.filter { $0.scope == "a" }.count == 50 && left.filter { $0.scope == "b" }.count == 50)
        // The age bound alone.
        var older = WriteBatch(now: t0 + .seconds(100))
        older.pruneCPUSamples = (before: t0 + .seconds(90), keep: 1_000_000)
        _ = try db.store.apply(older)
        #expect(try db.store.cpuSampleCount() == 20)
        // The count bound keeps whole ticks: at most `keep`, never a part of a tick.
        var odd = WriteBatch(now: t0 + .seconds(100))
        odd.pruneCPUSamples = (before: t0, keep: 7)
        _ = try db.store.apply(odd)
        #expect(try db.store.cpuSamples(since: Timestamp(micros: 0)).map(\.time) == [t0 + .seconds(97), t0 + .seconds(97), t0 + .seconds(98), t0 + .seconds(98), t0 + .seconds(99), t0 + .seconds(99)])
        // The prune goes along the primary key and the seq index, the read along the primary key: never a scan of the table.
        let plan = try db.store.database.read { db in
            try ["DELETE FROM cpu_ticks WHERE at < 1", "DELETE FROM cpu_ticks WHERE seq < 1", "SELECT at, scopes, samples FROM cpu_ticks WHERE at >= 1 ORDER BY at, seq"].map { sql in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String }.joined(separator: "; ")
            }
        }
        #expect(plan[0].contains("USING PRIMARY KEY (at<?)") && plan[2].contains("USING PRIMARY KEY (at>?)") && !plan[2].contains("TEMP B-TREE"), "\(plan)")
        #expect(plan[1].contains("INDEX cpu_ticks_by_seq"), "\(plan)")
    }

    /// One row per time, whatever the scopes, their names and values (negative, large, empty
    /// names, non-ASCII), read back as written; runs of a time split where the time changes.
    @Test func ticksRoundTrip() throws {
        let db = try TestStore()
        let t0 = Timestamp(micros: 1_800_000_000_000_000)
        let samples = [
            CPUSample(time: t0, scope: "a", interval: .seconds(1), cpu: .microseconds(-5), busy: .microseconds(Int64.max / 4), runs: 0, capacity: 1),
            CPUSample(time: t0, scope: "", interval: .zero, cpu: .zero, busy: .zero, runs: 1 << 40, capacity: 0),
            CPUSample(time: t0, scope: "ünï\ncode", interval: .milliseconds(950), cpu: .milliseconds(3), busy: .milliseconds(4), runs: 9, capacity: 8),
            CPUSample(time: t0 + .seconds(1), scope: "a", interval: .seconds(1), cpu: .milliseconds(1), busy: .milliseconds(2), runs: 3, capacity: 1),
            CPUSample(time: t0, scope: "late", interval: .seconds(1), cpu: .milliseconds(1), busy: .milliseconds(2), runs: 3, capacity: 1),
        ]
        var batch = WriteBatch(now: t0)
        batch.cpuSamples = samples
        _ = try db.store.apply(batch)
        #expect(try db.store.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM cpu_ticks") } == 3)
        #expect(try db.store.cpuSampleCount() == 5)
        #expect(try db.store.cpuSamples(since: t0) == [samples[0], samples[1], samples[2], samples[4], samples[3]])
        #expect(try db.store.cpuSamples(since: t0 + .seconds(1)) == [samples[3]])
    }

    /// A store of version 15 (a row per scope and time) opens with every sample as it was, a row per time.
    @Test func version15SamplesBecomeTicks() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("old.sqlite").path
        let t0 = Timestamp(micros: 1_800_000_000_000_000)
        var expected: [CPUSample] = []
        do {
            let queue = try DatabaseQueue(path: path)
            try SQLiteSchema.migrator.migrate(queue, upTo: "v15-runtime-nodes")
            try queue.write { db in
                for i in 0..<50 {
                    for scope in ["q1", "q2", CPUSample.processScope] {
                        let sample = CPUSample(time: t0 + .seconds(Int64(i)), scope: scope, interval: .seconds(1), cpu: .milliseconds(Int64(i)), busy: .milliseconds(Int64(2 * i)), runs: i, capacity: 2)
                        expected.append(sample)
                        try db.execute(sql: "INSERT INTO cpu_samples (at, scope, interval_us, cpu_us, busy_us, runs, capacity) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                       arguments: [sample.time, scope, sample.interval.micros, sample.cpu.micros, sample.busy.micros, sample.runs, sample.capacity])
                    }
                }
            }
        }
        let store = try SQLiteStore(path: path)
        #expect(try store.cpuSamples(since: Timestamp(micros: 0)) == expected)
        #expect(try store.cpuSampleCount() == 150)
        #expect(try store.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM cpu_ticks") } == 50)
        // The count bound goes on from the converted rows: new samples are numbered after them.
        var batch = WriteBatch(now: t0 + .seconds(60))
        batch.cpuSamples = [CPUSample(time: t0 + .seconds(60), scope: "q1", interval: .seconds(1), cpu: .zero, busy: .zero, runs: 0, capacity: 2)]
        batch.pruneCPUSamples = (before: t0, keep: 4)
        _ = try store.apply(batch)
        #expect(try store.cpuSamples(since: Timestamp(micros: 0)) == Array(expected.suffix(3)) + batch.cpuSamples)
    }

    @Test func theRuntimeEnforcesItsRetention() throws {
        let db = try TestStore()
        // A month of old samples, and more recent ones than the count allows.
        let now = Timestamp.now()
        var old = WriteBatch(now: now)
        old.cpuSamples = (0..<50).map { sample("q", at: now - .seconds(Int64(30 * 86400 - $0))) }
            + (0..<80).map { sample("q", at: now - .seconds(Int64(200 - $0))) }
        _ = try db.store.apply(old)
        var options = options()
        options.cpuRetention = CPURetention(age: .seconds(3600), count: 60)
        let runtime = try Runtime(name: "cpu-keep", store: db.store, queues: [QueueSpec("q")], rules: [], options: options)
        runtime.handle("q") { _ in }
        try runtime.start()
        #expect(try eventually { try db.store.cpuSamples(since: now).count >= 2 })
        runtime.stop()
        let left = try db.store.cpuSamples(since: Timestamp(micros: 0))
        #expect(left.count <= 60 + 2 * 2, "at most the count, plus the samples committed since the prune")
        #expect(left.allSatisfy { $0.time >= now - .seconds(3600) }, "nothing a month old")
    }

    @Test func aSecondsRunsAreFoundInTheLogByTime() throws {
        let db = try TestStore()
        let runtime = try Runtime(name: "cpu-runs", store: db.store, queues: [QueueSpec("q", concurrency: 2)],
                                  rules: [Rule("r", pattern: .type("t"), targets: ["q"])], options: options())
        runtime.handle("q") { _ in Thread.sleep(forTimeInterval: 0.002) }
        try runtime.start()
        for batch in 0..<5 {
            try runtime.publish((0..<20).map { CloudEvent(id: "e\(batch)-\($0)", source: "/t", type: "t") })
            Thread.sleep(forTimeInterval: 0.15)
        }
        #expect(try eventually { try db.log().filter { $0.kind == .succeeded }.count == 100 })
        runtime.stop()
        let log = try db.log()
        let succeeded = log.filter { $0.kind == .succeeded }
        // Any span: exactly the outcomes whose time falls in it, as a scan of the whole log finds them.
        let times = succeeded.map(\.time).sorted()
        for (from, to) in [(times[0], times[99] + .microseconds(1)), (times[20], times[60]), (times[50], times[51]), (times[99] + .seconds(1), times[99] + .seconds(2))] {
            let found = try db.store.outcomes(from: from, to: to, limit: 10_000)
            let expected = log.filter { [.succeeded, .failed, .deadLettered].contains($0.kind) && $0.time >= from && $0.time < to }
            #expect(found.map(\.seq) == expected.map(\.seq))
        }
        #expect(try db.store.outcomes(from: times[0], to: times[99], limit: 7).count == 7)
    }
}
