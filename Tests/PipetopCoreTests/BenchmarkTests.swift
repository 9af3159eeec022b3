import Foundation
import PipetopTestSupport
import Testing

/// The benchmark keeps working: `pipetop-bench --quick --json` runs every figure small and reports
/// it. Speed is the benchmark's business, never a test's: only shape and sanity are checked here.
@Suite struct BenchmarkTests {
    @Test func quickRunReportsEveryFigure() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-test-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Child.run([Child.built("pipetop-bench"), "--quick", "--json"], in: directory)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let machine = try #require(document["machine"] as? [String: Any])
        #expect((machine["cores"] as? Int ?? 0) >= 1)
        let figures = try #require(document["figures"] as? [[String: Any]])
        let names = figures.compactMap { $0["name"] as? String }
        for expected in [
            "runtime throughput, stream", "one retry per event", "deduplicating queue", "p99 at 1,000/s", "p50 at 10,000/s", "frame, Overview", "frame, Events",
            "log tail", "peak memory", "time to first frame", "Overview poll: queue stats", "Events filter from the store: first page + true count, a flow",
            "Events filter from the store: first page + true count, a kind", "Events filter from the store: text",
            "dashboard CPU attached to a live demo, Overview", "dashboard CPU attached to a live demo, Events",
            "peak memory attached to a live demo, Overview", "peak memory attached to a live demo, Events",
            "CPU screen frame", "CPU samples read",
        ] {
            #expect(names.contains { $0.contains(expected) }, "missing figure: \(expected)")
        }
        for figure in figures {
            let value = figure["value"] as? Double ?? -1
            #expect(value > 0 && value.isFinite, "\(figure["name"] ?? "?") = \(value)")
        }
    }
}
