import ArgumentParser
import Foundation
import PipetopCore

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipetop-bench",
        abstract: "Measure pipetop: runtime throughput and latency, store tail speed; prints a table with the machine described.",
        discussion: "Build in release mode for real figures: swift run -c release pipetop-bench")

    @Flag(help: "A small version of every figure, in seconds (what the test suite runs).")
    var quick = false

    @Flag(help: "Print the figures as JSON instead of a table.")
    var json = false

    @Option(help: ArgumentHelp("Measure only the figure groups named (throughput, latency, tail), for profiling.", valueName: "group"))
    var only: [String] = []

    func wanted(_ group: String) -> Bool { only.isEmpty || only.contains(group) }

    func run() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-bench-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let machine = Machine.describe()
        var figures: [Figure] = []
        func measured(_ figure: Figure) {
            figures.append(figure)
            if !json { FileHandle.standardError.write(Data("  measured: \(figure.name): \(figure.valueText)\n".utf8)) }
        }

        let runtime = RuntimeFigures(scratch: scratch, quick: quick)
        if wanted("throughput") {
            measured(try runtime.throughput(events: quick ? 3_000 : 300_000, failFirst: false))
            measured(try runtime.throughput(events: quick ? 2_000 : 150_000, failFirst: true))
        }
        for (rate, p50Target, p99Target) in [(1_000, nil, 1.0), (10_000, 1.0, 10.0)] as [(Int, Double?, Double)] where wanted("latency") {
            let result = try runtime.latency(rate: rate, seconds: quick ? 0.5 : 10)
            let note = "\(Figure.grouped(result.count)) events; max \(Figure.format(result.max)) ms"
            measured(Figure("publish → handler start p50 at \(Figure.grouped(rate))/s", value: result.p50, unit: "ms", target: p50Target, .below, note: note))
            measured(Figure("publish → handler start p99 at \(Figure.grouped(rate))/s", value: result.p99, unit: "ms", target: p99Target, rate == 1_000 ? .atMost : .below, note: note))
        }
        let store = StoreFigures(scratch: scratch)
        if wanted("tail") { measured(try store.tailRate(records: quick ? 20_000 : 2_000_000)) }

        if json {
            let objects: [[String: Any]] = figures.map { figure in
                var object: [String: Any] = ["name": figure.name, "value": figure.value, "unit": figure.unit, "note": figure.note]
                if let target = figure.target { object["target"] = target; object["met"] = figure.met ?? false }
                return object
            }
            let document: [String: Any] = [
                "machine": ["cores": machine.cores, "cpu": machine.cpuModel, "build": machine.buildMode, "store": machine.storeSettings],
                "quick": quick, "figures": objects,
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
        } else {
            print(Table.render(figures, machine: machine, quick: quick))
        }
    }
}

enum Table {
    static func render(_ figures: [Figure], machine: Machine, quick: Bool) -> String {
        var lines = [
            "pipetop-bench\(quick ? " --quick (small runs: figures are indicative only)" : "")",
            "machine: \(machine.cores) cores, \(machine.cpuModel); \(machine.buildMode) build; \(machine.storeSettings)",
            "",
        ]
        let rows = [["figure", "measured", "target", "", "note"]] + figures.map { figure in
            [figure.name, figure.valueText, figure.targetText, figure.met.map { $0 ? "ok" : "MISSED" } ?? "", figure.note]
        }
        let widths = (0..<5).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for (index, row) in rows.enumerated() {
            lines.append("| " + row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: " | ") + " |")
            if index == 0 { lines.append("|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|") }
        }
        return lines.joined(separator: "\n")
    }
}
