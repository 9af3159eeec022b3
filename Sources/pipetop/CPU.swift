import ArgumentParser
import Foundation
import PipetopCore

struct CPUCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpu",
        abstract: "Show each queue's CPU shape (and the process's): statistics, verdict, what it costs, latency.",
        discussion: """
            From the stored CPU samples (thread CPU time around each handler run, the process's rusage; one per \
            scope and second) over the window: cores used per interval (mean, p95, max), peak ÷ mean, the \
            coefficient of variation, the share of idle intervals, a histogram of utilisation (cores ÷ capacity) in \
            10 buckets, the cores to provision for the peak and for the mean, and end-to-end latency (the flow's first \
            publish → succeeded on the queue) p50/p95 over the window (at most the last \(Int(QueueSecond.kept.secondsDouble / 60)) minutes, \
            which the store keeps). Verdict, the first rule that holds: \
            \(CPUShape.rules().map { "\($0.0.rawValue): \($0.1)" }.joined(separator: "; ")).
            """)

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: OutputOptions

    @Option(help: ArgumentHelp("The span to look back over (e.g. 1m, 5m, 15m, 1h; at most 24h).", valueName: "duration"))
    var window = "5m"

    func run() throws {
        guard let window = Duration(parsing: window), window >= .seconds(1), window <= .seconds(24 * 3600) else {
            throw BadInput("--window '\(self.window.terminalSafe)' is not a duration between 1s and 24h, such as 5m")
        }
        let store = try storeOptions.openReader()
        let now = Timestamp.now()
        let report = try store.read { try CPUShapeReport.read($0, window: window, now: now) }
        if output.json {
            for shape in report.shapes {
                print(String(decoding: try JSONSerialization.data(withJSONObject: Self.object(shape, report), options: [.sortedKeys]), as: UTF8.self)
                    .jsonTerminalSafe)
            }
            return
        }
        if report.shapes.isEmpty {
            print("no CPU samples in the last \(Self.duration(window)) (a running runtime stores one per queue and second)")
            return
        }
        let header = ["SCOPE", "MODE", "SHAPE", "CAP", "MEAN", "P95", "MAX", "PEAK/MEAN", "CV", "IDLE", "PROVISION PEAK/MEAN", "LAT p50", "p95", "RUNS", "HISTOGRAM 0-100%"]
        var rows = [header]
        for shape in report.shapes {
            let latency = report.latency[shape.scope]
            func seconds(_ d: Duration?) -> String { d.map { Self.duration($0) } ?? "-" }
            rows.append([
                shape.scope.terminalSafe, shape.scope == CPUSample.processScope ? "-" : (report.modes[shape.scope] ?? "?").terminalSafe,
                shape.verdict.rawValue, "\(shape.capacity)", Self.cores(shape.mean), Self.cores(shape.p95), Self.cores(shape.max),
                String(format: "%.1f", shape.peakToMean), String(format: "%.2f", shape.cv), "\(Int((shape.idleShare * 100).rounded()))%",
                "\(Self.cores(shape.provisionPeak)) / \(Self.cores(shape.provisionMean))", seconds(latency?.p50), seconds(latency?.p95),
                "\(shape.runs)", Self.histogram(shape.histogram),
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(row.enumerated().map { index, cell in
                index < 3 || index == row.count - 1 ? cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[index] - cell.count) + cell
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        print("")
        print("over the last \(Self.duration(window)); cores used per interval; latency over the last \(Self.duration(report.latencyWindow))")
    }

    static func cores(_ value: Double) -> String { String(format: "%.3f", value) }

    static func duration(_ d: Duration) -> String {
        let s = d.secondsDouble
        if s >= 3600 && s.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(s / 3600))h" }
        if s >= 60 && s.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(s / 60))m" }
        if s >= 1 { return String(format: "%.1fs", s) }
        return String(format: "%.1fms", s * 1000)
    }

    /// The histogram as one block character per bucket, scaled to its largest bucket.
    static func histogram(_ buckets: [Int]) -> String {
        let blocks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        let top = buckets.max() ?? 0
        return String(buckets.map { count in
            guard top > 0, count > 0 else { return "·" }
            return blocks[min(7, max(0, Int((Double(count) / Double(top) * 8).rounded(.up)) - 1))]
        })
    }

    static func object(_ shape: CPUShape, _ report: CPUShapeReport) -> [String: Any] {
        var object: [String: Any] = [
            "scope": shape.scope, "verdict": shape.verdict.rawValue, "capacity": shape.capacity, "intervals": shape.intervals,
            "window_seconds": report.window.secondsDouble, "span_seconds": shape.span.secondsDouble,
            "mean_cores": shape.mean, "p95_cores": shape.p95, "max_cores": shape.max,
            "peak_to_mean": shape.peakToMean, "cv": shape.cv, "idle_share": shape.idleShare, "busy_runs": shape.busyRuns,
            "mean_utilisation": shape.meanUtilisation, "utilisation_histogram": shape.histogram, "runs": shape.runs,
            "provision_peak_cores": shape.provisionPeak, "provision_mean_cores": shape.provisionMean,
        ]
        object["max_at"] = shape.maxAt.map { $0.rfc3339 as Any } ?? NSNull()
        if shape.scope == CPUSample.processScope {
            object["mode"] = "process"
        } else {
            object["mode"] = report.modes[shape.scope].map { $0 as Any } ?? NSNull()
        }
        if let latency = report.latency[shape.scope] {
            object["latency"] = ["p50_ms": latency.p50.secondsDouble * 1000, "p95_ms": latency.p95.secondsDouble * 1000, "count": latency.count]
        } else {
            object["latency"] = NSNull()
        }
        object["latency_window_seconds"] = report.latencyWindow.secondsDouble
        return object
    }
}
