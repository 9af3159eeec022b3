import ArgumentParser
import Foundation
import PipetopCore
import PipetopUI

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

    @Option(help: ArgumentHelp("Measure only the figure groups named (throughput, floor, latency, dashboard, queues, deadletters, cpu, live, postgres; or a part of postgres: postgres-throughput, postgres-latency, postgres-store), for profiling.", valueName: "group"))
    var only: [String] = []

    @Option(help: ArgumentHelp("A PostgreSQL server (a role that may create databases) for the PostgreSQL figures (group postgres); without it they are not measured.", valueName: "url"))
    var postgres: String?

    @Option(help: .hidden)
    var attachProbe: String?

    @Option(help: .hidden)
    var dashboardChild: String?

    @Option(help: .hidden)
    var deadLetterProbe: String?

    @Option(help: .hidden)
    var dashboardConfig: String?

    /// This binary, for the child processes it runs.
    static var executablePath: String {
        CommandLine.arguments[0].hasPrefix("/") ? CommandLine.arguments[0] : FileManager.default.currentDirectoryPath + "/" + CommandLine.arguments[0]
    }

    func wanted(_ group: String) -> Bool { only.isEmpty || only.contains(group) }
    /// A part of the postgres group: wanted with the group or by its own name.
    func wanted(postgres part: String) -> Bool { wanted("postgres") || only.contains("postgres-" + part) }

    func run() throws {
        if let attachProbe {
            // The child half of the attach figures (see AttachProbe): report, exit, be measured.
            let probe = try DashboardFigures.probe(storePath: attachProbe)
            print(probe.firstFrame, probe.peakKiB)
            return
        }
        if let deadLetterProbe {
            // The child half of the dead letters' memory figure (see DeadLetterFigures.probe).
            print(try DeadLetterFigures.probe(storePath: deadLetterProbe))
            return
        }
        if let dashboardChild {
            // The child half of the live-dashboard figures (see LiveDashboard): a dashboard on a pty.
            try LiveDashboard.runChild(storePath: dashboardChild, configPath: dashboardConfig ?? "/dev/null")
            return
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-bench-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let machine = Machine.describe()
        var figures: [Figure] = []
        func measured(_ figure: Figure) {
            figures.append(figure)
            if !json { FileHandle.standardError.write(Data("  measured: \(figure.name): \(figure.valueText)\n".utf8)) }
        }

        let runtime = RuntimeFigures(scratch: scratch)
        if wanted("throughput") || wanted("floor") {
            let events = quick ? 3_000 : 300_000
            let floor = try SchemaFloor.measure(events: events, ids: .ordered, scratch: scratch)
            measured(Figure(
                "schema floor: the engine's rows, C API, one thread", value: floor, unit: "events/s",
                note: "\(Figure.grouped(events)) events, time-ordered ids; 256 per transaction; 2 log rows, an event and a message per event"))
            if ProcessInfo.processInfo.environment["FLOOR_RANDOM"] != nil {
                let random = try SchemaFloor.measure(events: events, ids: .random, scratch: scratch)
                measured(Figure("schema floor, random UUID ids", value: random, unit: "events/s", note: "\(Figure.format(100 * random / floor)) % of time-ordered"))
            }
            if wanted("throughput") {
                var noop = try runtime.throughput(events: events, failFirst: false)
                noop.note += "; \(Figure.format(100 * noop.value / floor)) % of the schema floor"
                measured(noop)
            }
        }
        if wanted("throughput") {
            measured(try runtime.throughput(events: quick ? 2_000 : 150_000, failFirst: true))
            // No target: what random ids cost (each one a random key in the correlation index).
            measured(try runtime.throughput(events: quick ? 3_000 : 300_000, failFirst: false, ids: .random))
            measured(try runtime.throughput(events: quick ? 3_000 : 150_000, failFirst: false, deduplicate: .seconds(600)))
        }
        for (rate, p50Target, p99Target) in [(1_000, nil, 1.0), (10_000, 1.0, 10.0)] as [(Int, Double?, Double)] where wanted("latency") {
            let result = try runtime.latency(rate: rate, seconds: quick ? 0.5 : 10)
            let note = "\(Figure.grouped(result.count)) events; max \(Figure.format(result.max)) ms"
            measured(Figure("publish → handler start p50 at \(Figure.grouped(rate))/s", value: result.p50, unit: "ms", target: p50Target, .below, note: note))
            measured(Figure("publish → handler start p99 at \(Figure.grouped(rate))/s", value: result.p99, unit: "ms", target: p99Target, rate == 1_000 ? .atMost : .below, note: note))
        }
        if wanted("latency") {
            let lone = try runtime.blockingProducer(seconds: quick ? 0.5 : 10)
            let note = "one publisher, each publish waiting for its commit: \(Figure.grouped(lone.count)) events, \(Figure.grouped(Int(Double(lone.count) / (quick ? 0.5 : 10))))/s; max \(Figure.format(lone.max)) ms"
            measured(Figure("one blocking producer: publish → committed p50", value: lone.p50, unit: "ms", note: note))
            measured(Figure("one blocking producer: publish → committed p99", value: lone.p99, unit: "ms", target: 1.0, .atMost, note: note))
        }
        if let postgres, ["throughput", "latency", "store"].contains(where: { wanted(postgres: $0) }) {
            let figures = try PostgresFigures(postgres)
            if wanted(postgres: "throughput") {
                for nodes in 1...3 { measured(try figures.throughput(nodes: nodes, events: quick ? 2_000 : 60_000)) }
            }
            if wanted(postgres: "latency") {
                let result = try figures.latency(rate: 1_000, seconds: quick ? 0.5 : 10, scratch: scratch)
                let note = "PostgreSQL, one node; \(Figure.grouped(result.count)) events, a blocking publisher per 100/s; max \(Figure.format(result.max)) ms"
                measured(Figure("PostgreSQL publish → handler start p50 at 1,000/s", value: result.p50, unit: "ms", note: note))
                measured(Figure("PostgreSQL publish → handler start p99 at 1,000/s", value: result.p99, unit: "ms", note: note))
            }
            if wanted(postgres: "store") {
                let records = quick ? 50_000 : 10_000_000
                if !json { FileHandle.standardError.write(Data("  building a PostgreSQL store of \(Figure.grouped(records)) lifecycle records…\n".utf8)) }
                let large = try figures.largeStore(records: records, scratch: scratch)
                measured(Figure("PostgreSQL: time to first frame when attaching (median of 5)", value: large.firstFrame, unit: "ms",
                                note: "\(Figure.grouped(large.records)) records; in this process: connect, first poll, draw at 200×60"))
                measured(Figure("PostgreSQL trace lookup, time-ordered correlation ids (p99)", value: large.lookup.p99, unit: "ms",
                                note: "\(Figure.grouped(large.records)) records; events + records in one snapshot, built into the tree; p50 \(Figure.format(large.lookup.p50)) ms"))
            }
        }
        if wanted("dashboard") {
            let records = quick ? 50_000 : 10_000_000
            if !json { FileHandle.standardError.write(Data("  building a store of \(Figure.grouped(records)) lifecycle records…\n".utf8)) }
            let store = StoreFigures(scratch: scratch)
            let path = try store.makeStore(name: "large", records: records)
            let size = "\(Figure.grouped(try store.recordCount(path))) records"
            let dashboard = DashboardFigures(storePath: path)
            for view in [ViewID.overview, .events] {
                let frame = try dashboard.frames(view: view, count: quick ? 40 : 1000)
                measured(Figure("dashboard frame, \(view.title), 200×60 (median)", value: frame.median, unit: "ms", target: 2, .below,
                                note: "state → cell grid → diff; p99 \(Figure.format(frame.p99)) ms; 50 new records a frame"))
            }
            let follow = try dashboard.followRate()
            let raw = try store.tailRate(path: path)
            measured(Figure("log tail the dashboard can follow", value: follow.rate, unit: "records/s", target: 200_000,
                            note: "\(Figure.grouped(follow.records)) records: reader + update; the store's tail alone \(Figure.format(raw)) records/s"))
            // Flows looked up by correlation id, with time-ordered ids (this store) and random ones (UUIDv4).
            let events = Int(try openReader(url: path).publishedTotal())
            let ordered = try TraceFigures.lookups(path: path, ids: (1...max(1, events)).map { "listing-\($0)" })
            measured(Figure("trace lookup, time-ordered correlation ids (p99)", value: ordered.p99, unit: "ms", target: 5, .below,
                            note: "\(size); events + records in one read, built into the tree; p50 \(Figure.format(ordered.p50)) ms"))
            var uuids: [String] = []
            let randomPath = try store.makeStore(name: "large-uuid", records: records) { _ in
                let id = UUID().uuidString.lowercased()
                uuids.append(id)
                return id
            }
            let random = try TraceFigures.lookups(path: randomPath, ids: uuids)
            measured(Figure("trace lookup, random (UUIDv4) correlation ids (p99)", value: random.p99, unit: "ms", target: 5, .below,
                            note: "\(Figure.grouped(try store.recordCount(randomPath))) records; p50 \(Figure.format(random.p50)) ms"))
            try? FileManager.default.removeItem(atPath: randomPath)
            let big = try TraceFigures(scratch: scratch).bigTraceFrame(events: 5_000, frames: quick ? 40 : 500)
            measured(Figure("Trace frame, a 5,000-event flow, 200×60 (median)", value: big.median, unit: "ms", target: 10, .below,
                            note: "\(Figure.grouped(big.events)) events, one hop each; p99 \(Figure.format(big.p99)) ms; scrolling a row a frame"))
            let probe = try AttachProbe.run(storePath: path)
            measured(Figure("dashboard peak memory attached to the store", value: probe.peakMiB, unit: "MiB", target: 64, .below,
                            note: "\(size); a child process attaches, draws, follows, scrolls back; its VmHWM"))
            measured(Figure("time to first frame when attaching", value: probe.firstFrame, unit: "ms", target: 300, .below,
                            note: "\(size); open store → first 10,000 records → frame, in the attaching process"))
            // The Events filter read from the store (issue 12), as the dashboard asks: the first
            // page with the count of the rows it searched, then the count until it is exact. A flow
            // and a kind of trouble go by an index; text walks the whole log, a span per read.
            let filters = LogFilterFigures(store: try openReader(url: path))
            let listing = "listing-\(records / 10)"
            for (name, filter) in [("a flow, corr:\(listing)", "corr:\(listing)"), ("a kind, kind:failed", "kind:failed")] {
                let read = try filters.measure(filter, runs: 5)
                measured(Figure("Events filter from the store: first page + true count, \(name)", value: read.exact, unit: "ms", target: 50, .below,
                                note: "\(size), \(Figure.grouped(read.matches)) match; \(read.reads) read\(read.reads == 1 ? "" : "s"); first page \(Figure.format(read.firstPage)) ms; median of 5"))
            }
            let text = try filters.measure("pricing", runs: 1)
            measured(Figure("Events filter from the store: text, first page", value: text.firstPage, unit: "ms",
                            note: "\(size), words walk the log by seq: \(Figure.grouped(text.matches)) match"))
            measured(Figure("Events filter from the store: text, until the count is exact", value: text.exact, unit: "ms",
                            note: "\(text.reads) read\(text.reads == 1 ? "" : "s") of at most 64,000 rows, the view saying ≥ N meanwhile"))
        }
        if wanted("queues") {
            let backlog = quick ? 5_000 : 100_000, seconds = quick ? 70 : 600
            if !json { FileHandle.standardError.write(Data("  building a store of \(Figure.grouped(backlog)) live messages and \(seconds) s of queue seconds…\n".utf8)) }
            let figures = QueueFigures(scratch: scratch)
            let (path, now) = try figures.makeStore(backlog: backlog, seconds: seconds)
            let read = try figures.healthRead(path: path, now: now, runs: quick ? 5 : 41)
            measured(Figure("Overview poll: queue stats + 60 s of seconds → status, drain, p50/p95/p99", value: read.health, unit: "ms", target: 25, .below,
                            note: "\(Figure.grouped(read.live)) live messages in 5 queues, \(read.seconds) queue seconds read; the queue stats alone \(Figure.format(read.stats)) ms; median"))
        }
        if wanted("deadletters") {
            let total = quick ? 20_000 : 1_000_000
            if !json { FileHandle.standardError.write(Data("  building a store of \(Figure.grouped(total)) dead letters…\n".utf8)) }
            let figures = DeadLetterFigures(scratch: scratch)
            let (building, buildingCPU) = (Date(), ProcessCPU.now())
            let (path, rare) = try figures.makeStore(deadLetters: total)
            let (built, builtCPU) = (Date().timeIntervalSince(building), ProcessCPU.now() - buildingCPU)
            measured(Figure("dead letters: made through the write path", value: Double(total) / built, unit: "dead letters/s",
                            note: "\(Figure.grouped(total)) published, claimed and dead-lettered in ticks of 5,000: records, counts by cause and the text index written; \(Figure.format(builtCPU / Double(total) * 1_000_000)) µs CPU/letter"))
            let store = try openReader(url: path)
            let filters: [(String, DeadLetterSelection)] = [
                ("queue", DeadLetterSelection(queue: "index")), ("type", DeadLetterSelection(type: "listing.sold")),
                ("fingerprint", DeadLetterSelection(fingerprint: rare)),
                ("time", DeadLetterSelection(deadSince: figures.start + .seconds(10), deadUntil: figures.start + .seconds(40))),
            ]
            for (name, selection) in filters {
                let page = try figures.firstPage(store, selection)
                measured(Figure("dead letters: first page + true count, by \(name)", value: page.ms, unit: "ms", target: 50, .below,
                                note: "\(Figure.grouped(total)) dead letters, \(Figure.grouped(page.count)) match; median of 5"))
            }
            // Through the text index (FTS5 trigram): a common error, a rare one, one listing's payload,
            // a payload text every letter holds (the worst case: the index hands over every letter).
            let texts: [(String, DeadLetterSelection)] = [
                ("error text (1 in 11)", DeadLetterSelection(errorText: "connection reset")),
                ("error text (rare)", DeadLetterSelection(errorText: "not supported")),
                ("error text and queue", DeadLetterSelection(queue: "index", errorText: "connection reset")),
                ("payload text (one listing)", DeadLetterSelection(payloadText: #""L123456""#)),
                ("payload text (in every letter)", DeadLetterSelection(payloadText: "call for price")),
            ]
            for (name, selection) in texts {
                let page = try figures.firstPage(store, selection)
                measured(Figure("dead letters: first page + true count, by \(name)", value: page.ms, unit: "ms", target: 500, .below,
                                note: "\(Figure.grouped(total)) dead letters, \(Figure.grouped(page.count)) match \(selection.description); median of 5"))
            }
            let probe = try DeadLetterFigures.runProbe(storePath: path)
            measured(Figure("dead letters: the screen's reads, peak memory", value: probe, unit: "MiB", target: 64, .below,
                            note: "a child reader: groups over all, by time and by text (in every letter, 1 in 11), first page + count of each; its VmHWM"))
            let groups = try figures.groups(store)
            measured(Figure("dead letters: groups by cause over all", value: groups.ms, unit: "ms", target: 250, .below,
                            note: "\(Figure.grouped(total)) dead letters in \(groups.groups) groups; median of 3"))
            let textGroups = try figures.groups(store, DeadLetterSelection(errorText: "connection reset"))
            measured(Figure("dead letters: groups by cause, by error text (1 in 11)", value: textGroups.ms, unit: "ms", target: 500, .below,
                            note: "\(Figure.grouped(textGroups.letters)) matching letters counted in \(textGroups.groups) groups; median of 3"))
            let replay = try figures.bulkReplay(path: path, queue: "notify")
            measured(Figure("dead letters: bulk replay, unthrottled", value: replay.rate, unit: "dead letters/s", target: 20_000,
                            note: "\(Figure.grouped(replay.moved)) moved by a replay job (set fixed, then steps of 1,000), every record and audit written, each text row listed stale; \(Figure.format(replay.cpuPerLetter)) µs CPU/letter"))
            // Right after the replay its letters' text rows are still in the index (listed stale): the
            // counts stay true (the list is probed per match), then an idle runtime purges them.
            let common = DeadLetterSelection(errorText: "connection reset")
            let staleRead = try figures.firstPage(try openReader(url: path), common)
            measured(Figure("dead letters: first page + true count, by error text (1 in 11), stale rows listed", value: staleRead.ms, unit: "ms",
                            target: 500, .below,
                            note: "right after the replay: \(Figure.grouped(replay.moved)) text rows stale, \(Figure.grouped(staleRead.count)) letters match; median of 5"))
            let purge = try figures.purgeStaleText(path: path, stale: replay.moved)
            measured(Figure("dead letters: stale text rows purged by an idle runtime", value: purge, unit: "rows/s",
                            note: "\(Figure.grouped(replay.moved)) rows, 1,000 per tick that carries no other work"))
            let purgedRead = try figures.firstPage(try openReader(url: path), common)
            measured(Figure("dead letters: first page + true count, by error text (1 in 11), after the purge", value: purgedRead.ms, unit: "ms",
                            target: 500, .below, note: "\(Figure.grouped(purgedRead.count)) letters match; median of 5"))
        }
        if wanted("cpu") {
            let seconds = quick ? 300 : 3600
            let cpu = try CPUFigures(scratch: scratch).run(queues: 20, seconds: seconds, reads: quick ? 5 : 41, frames: quick ? 40 : 1000)
            let hour = quick ? "\(seconds / 60) min" : "an hour"
            measured(Figure("CPU screen frame, \(hour) of 20 queues, 200×60 (median)", value: cpu.frameMedian, unit: "ms", target: 2, .below,
                            note: "1 h window, 21 scopes in the table, the selected one's timeline, the histogram; state → cell grid → diff after a cursor move; p99 \(Figure.format(cpu.frameP99)) ms; a refresh (merge + shapes) \(Figure.format(cpu.refreshMedian)) ms"))
            measured(Figure("CPU samples read, \(hour) of 20 queues + the process (median)", value: cpu.readMedian, unit: "ms", target: 20, .below,
                            note: "\(Figure.grouped(cpu.samples)) samples, a row per tick along the primary key, with the queues' latency, one read; p99 \(Figure.format(cpu.readP99)) ms; thread CPU \(Figure.format(cpu.readCPUMedian)) ms"))
        }
        if wanted("live") {
            // The dashboard's own CPU and memory, attached to a live demo, per screen.
            let live = scratch.appendingPathComponent("live")
            try FileManager.default.createDirectory(at: live, withIntermediateDirectories: true)
            let demoPath = live.appendingPathComponent("demo.sqlite").path
            let demo = try LiveDashboard.Demo(path: demoPath)
            defer { demo.stop() }
            for screen in ScreenID.allCases {
                let result = try LiveDashboard.measure(storePath: demoPath, store: demo.store, screen: screen, warmup: quick ? 1 : 4,
                                                       seconds: quick ? 3 : 24, scratch: live)
                let following = screen.type.needs.contains(StoreData.log.need) ? ", following \(Figure.grouped(Int(result.recordsPerSecond))) records/s" : ""
                measured(Figure("dashboard CPU attached to a live demo, \(screen.title), 160×48", value: result.cpuPercent, unit: "% of a core",
                                target: 1.4, .atMost,
                                note: "250 ms refresh, real loop + ncurses on a pty; utime+stime over \(Figure.format(result.seconds)) s\(following); btop 1.4 %"))
                measured(Figure("dashboard peak memory attached to a live demo, \(screen.title)", value: result.peakMiB, unit: "MiB",
                                target: 64, .below, note: "the same child's VmHWM; btop 6 MiB"))
            }
        }

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
