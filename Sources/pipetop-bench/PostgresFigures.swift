import Foundation
import PipetopCore

/// The PostgreSQL store's figures (`--postgres URL`: a server and a role that may create
/// databases): no-op throughput with one, two and three runtime nodes on one database, and
/// publish → handler start at 1,000/s. Each figure gets a database of its own, dropped after.
/// The nodes are runtimes in this process, each with its own connections (as separate processes
/// would have; they share this process's two cores with the server).
struct PostgresFigures {
    let server: PostgresURL
    let serverText: String

    init(_ url: String) throws {
        serverText = url
        server = try PostgresURL(parsing: url)
    }

    /// A new empty database on the server, its URL; `dropDatabase` removes it.
    func makeDatabase(_ name: String) throws -> String {
        let database = "pipetop_bench_\(getpid())_\(name.replacingOccurrences(of: "-", with: "_"))"
        try tool("dropdb", ["--if-exists", database])
        try tool("createdb", [database])
        guard var components = URLComponents(string: serverText) else { throw BenchError.lost("--postgres is not a URL") }
        components.path = "/" + database
        return components.string!
    }

    func dropDatabase(_ url: String) {
        guard let name = URLComponents(string: url)?.path.dropFirst() else { return }
        try? tool("dropdb", ["--if-exists", "--force", String(name)])
    }

    private func tool(_ name: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [name, "-h", server.host, "-p", "\(server.port)", "-U", server.user, "--maintenance-db", server.database] + arguments
        var environment = ProcessInfo.processInfo.environment
        if let password = server.password { environment["PGPASSWORD"] = password }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw BenchError.lost("\(name) failed: \(PostgresURL.redacting(text))")
        }
    }

    private func runtimes(_ count: Int, url: String, queue: QueueSpec) throws -> [Runtime] {
        try (0..<count).map { node in
            var options = Runtime.Options()
            options.register = false
            return try Runtime(name: "bench-node-\(node)", store: PostgresStore(url: PostgresURL(parsing: url)), queues: [queue],
                               rules: [Rule("all", pattern: .type("bench"), targets: [queue.name])], options: options)
        }
    }

    /// `nodes` runtimes on one database share queue `q`; two publishers publish through the
    /// first nodes; timed until every handler ran and the store holds every message as succeeded.
    func throughput(nodes: Int, events total: Int) throws -> Figure {
        let url = try makeDatabase("noop-\(nodes)")
        defer { dropDatabase(url) }
        let queue = QueueSpec("q", concurrency: 2, maxAttempts: 3)
        let nodesRunning = try runtimes(nodes, url: url, queue: queue)
        let done = RuntimeFigures.Counter()
        for runtime in nodesRunning {
            runtime.handle("q") { _ in done.add() }
            try runtime.start()
        }
        defer { for runtime in nodesRunning { runtime.stop() } }
        let events = (0..<total).map { CloudEvent(id: "e\($0)", source: "/bench", type: "bench") }
        let batch = 256
        let publishers = 2
        let started = Date()
        let group = DispatchGroup()
        for publisher in 0..<publishers {
            group.enter()
            let runtime = nodesRunning[publisher % nodesRunning.count]
            Thread.detachNewThread {
                var index = publisher * batch
                while index < total {
                    try? runtime.publish(Array(events[index..<min(index + batch, total)]))
                    index += batch * publishers
                }
                group.leave()
            }
        }
        guard done.wait(for: total, timeout: 900) else { throw BenchError.timedOut("PostgreSQL throughput, \(nodes) nodes") }
        let elapsed = Date().timeIntervalSince(started)
        group.wait()
        let store = nodesRunning[0].store
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, try store.queueStats(now: .now()).first?.succeeded ?? 0 < Int64(total) { Thread.sleep(forTimeInterval: 0.01) }
        let succeeded = try store.queueStats(now: .now()).first?.succeeded ?? 0
        guard succeeded == Int64(total) else { throw BenchError.lost("PostgreSQL \(nodes) nodes: \(succeeded) of \(total) succeeded in the store") }
        let records = try store.logTotal()
        return Figure(
            "PostgreSQL throughput, no-op, \(nodes) node\(nodes == 1 ? "" : "s")", value: Double(total) / elapsed, unit: "events/s",
            target: nodes == 3 ? 12_000 : nil,
            note: "\(Figure.grouped(total)) events, \(Figure.grouped(Int(records))) lifecycle records; server on this machine (\(server.redacted))")
    }

    /// A database of `records` lifecycle records (as the SQLite dashboard figures' store, through
    /// the same write path): the time to a first frame attaching to it (in this process: connect,
    /// first poll, state, draw), and trace lookups by correlation id.
    func largeStore(records: Int, scratch: URL) throws -> (records: Int, firstFrame: Double, lookup: (p50: Double, p99: Double)) {
        let url = try makeDatabase("large")
        defer { dropDatabase(url) }
        _ = try StoreFigures(scratch: scratch).makeStore(name: "pg-large", records: records, url: url)
        let count = Int(try openReader(url: url).logTotal())
        let frames = try (0..<5).map { _ in try DashboardFigures.probe(storePath: url).firstFrame }.sorted()
        let events = Int(try openReader(url: url).publishedTotal())
        let lookup = try TraceFigures.lookups(path: url, ids: (1...max(1, events)).map { "listing-\($0)" })
        return (count, frames[frames.count / 2], (lookup.p50, lookup.p99))
    }

    /// Publish → handler start at a steady `rate` on one node, as `RuntimeFigures.latency` on
    /// SQLite, but with a blocking publisher per 100 events/s instead of per 500: a commit on
    /// the server takes a few round trips and a WAL flush, so five publishers at 1,000/s would
    /// measure how often they can wait for one, not the runtime.
    func latency(rate: Int, seconds: Double, scratch: URL) throws -> (p50: Double, p99: Double, max: Double, count: Int) {
        let url = try makeDatabase("latency-\(rate)")
        defer { dropDatabase(url) }
        return try RuntimeFigures(scratch: scratch, storeURL: url).latency(rate: rate, seconds: seconds, perPublisher: 100)
    }
}
