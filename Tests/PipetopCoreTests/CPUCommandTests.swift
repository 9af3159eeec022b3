import Foundation
import PipetopTestSupport
import Testing
@testable import PipetopCore

/// `pipetop cpu`, the real binary: statistics and verdicts from the store, escaped text, JSON for
/// tools, bad input refused; and a minute of the real demo read back through it.
@Suite(.serialized) struct CPUCommandTests {
    let db = try! TestStore()
    var env: [String: String] { ["XDG_RUNTIME_DIR": db.directory.path, "XDG_STATE_HOME": db.directory.path] }

    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try Child.run([Child.pipetop] + arguments, environment: Child.environment(adding: env), in: db.directory)
    }

    func objects(_ output: String) throws -> [[String: Any]] {
        try output.split(separator: "\n").map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    @Test func badInputIsRefusedWithStatus2() throws {
        for window in ["7x", "0s", "48h", ""] {
            let result = try run(["cpu", "--store", db.path, "--window", window])
            #expect(result.status == 2, "--window \(window)")
            #expect(result.stderr.contains("--window '\(window)' is not a duration between 1s and 24h"), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
        let demo = try run(["demo", "--headless", "--store", db.path, "--cpu-keep", "soon"])
        #expect(demo.status == 2 && demo.stderr.contains("--cpu-keep 'soon'"))
    }

    @Test func theShapesOfTheStoredSamplesAsTextAndJSON() throws {
        let now = Timestamp.now()
        var batch = WriteBatch(now: now)
        let evil = "evil\u{1B}[31m"
        for i in 0..<60 {
            let time = now - .seconds(Int64(60 - i))
            let batchCores = i % 10 < 2 ? 1.5 : 0
            for (scope, cores, capacity) in [("cron", batchCores, 2), ("stream", 0.2 + 0.01 * Double(i % 3), 2), (evil, 0.0, 1)] {
                let cpu = Duration.microseconds(Int64(cores * 1_000_000))
                batch.cpuSamples.append(CPUSample(time: time, scope: scope, interval: .seconds(1), cpu: cpu, busy: cpu, runs: cores > 0 ? 5 : 0, capacity: capacity))
            }
        }
        _ = try db.store.apply(batch)
        let text = try run(["cpu", "--store", db.path, "--window", "5m"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(!text.stdout.unicodeScalars.contains { $0.value == 0x1B }, "a scope's name never reaches the terminal raw")
        #expect(text.stdout.contains(#"evil\e[31m"#), "shown escaped")
        let lines = text.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("SCOPE") == true)
        #expect(lines.contains { $0.hasPrefix("cron ") && $0.contains(" spiky ") })
        #expect(lines.contains { $0.hasPrefix("stream ") && $0.contains(" steady ") })

        let json = try run(["cpu", "--store", db.path, "--window", "5m", "--json"])
        #expect(json.status == 0)
        #expect(!json.stdout.unicodeScalars.contains { $0.value == 0x1B })
        let shapes = Dictionary(uniqueKeysWithValues: try objects(json.stdout).map { ($0["scope"] as? String ?? "", $0) })
        #expect(Set(shapes.keys) == ["cron", "stream", evil], "JSON parsers get the name back exactly")
        let cron = try #require(shapes["cron"])
        #expect(cron["verdict"] as? String == "spiky")
        #expect(cron["intervals"] as? Int == 60)
        #expect(abs((cron["mean_cores"] as? Double ?? 0) - 0.3) < 1e-9)
        #expect(cron["max_cores"] as? Double == 1.5)
        #expect(abs((cron["idle_share"] as? Double ?? 0) - 0.8) < 1e-9)
        #expect(cron["utilisation_histogram"] as? [Int] == [48, 0, 0, 0, 0, 0, 0, 12, 0, 0])
        #expect(shapes["stream"]?["verdict"] as? String == "steady")
        #expect(shapes[evil]?["verdict"] as? String == "idle")
    }

    /// The demo for about a minute (the batch window at 6 s so the cron repeats), then its shapes:
    /// the batch queue reads spiky, the stream's parse steady, from real thread CPU time.
    @Test func aMinuteOfTheDemoReadsIndexBatchSpikyAndParseSteady() throws {
        let demo = try run(["demo", "--headless", "--store", db.path, "--name", "cpu-shape", "--duration", "62s", "--window", "6s", "--rate", "20"])
        #expect(demo.status == 0, "\(demo.stderr)")
        let result = try run(["cpu", "--store", db.path, "--window", "1m", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let shapes = Dictionary(uniqueKeysWithValues: try objects(result.stdout).map { ($0["scope"] as? String ?? "", $0) })
        let batch = try #require(shapes["index-batch"]), parse = try #require(shapes["parse"])
        #expect(batch["verdict"] as? String == "spiky", "\(batch)")
        #expect(parse["verdict"] as? String == "steady", "\(parse)")
        #expect((batch["intervals"] as? Int ?? 0) >= 50)
        #expect((batch["busy_runs"] as? Int ?? 0) >= 5, "a release every 6 s")
        #expect(shapes["process"] != nil)
        // What the shape costs: the cron needs its peak provisioned, far above its mean.
        #expect((batch["provision_peak_cores"] as? Double ?? 0) > 2 * (batch["provision_mean_cores"] as? Double ?? 0))
        #expect((batch["latency"] as? [String: Any])?["p50_ms"] != nil && (parse["latency"] as? [String: Any])?["p50_ms"] != nil)
    }
}
