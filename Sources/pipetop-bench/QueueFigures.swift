import Foundation
import PipetopCore

/// The Overview's health read (issue 12): what each poll adds to read while the Overview shows,
/// over a store with a large backlog and ten minutes of busy queue seconds, built through the
/// store's own write path. The poll reads the queue stats (the header reads them anyway), the
/// window's seconds and the runtimes in one snapshot, then works out every queue's health.
struct QueueFigures {
    let scratch: URL
    static let queues = ["parse", "enrich", "index", "notify", "index-batch"]
    let start = Timestamp(micros: 1_800_000_000_000_000)

    /// `backlog` live messages behind two queues (enrich's consumer is stuck, the batch queue's
    /// window has not closed: ready, in flight, retries scheduled, held), and `seconds` seconds of
    /// traffic through the other three, each second a thousand messages done with latencies spread
    /// over three orders of magnitude.
    func makeStore(backlog: Int, seconds: Int) throws -> (path: String, now: Timestamp) {
        let path = scratch.appendingPathComponent("queues.sqlite").path
        let store = try openStore(url: path, readOnly: false)
        let runtime = RuntimeInfo(name: "bench", pid: 1, host: "bench", store: path, startedAt: start, heartbeatAt: start)
        try store.declare(queues: Self.queues.map { QueueSpec($0, mode: $0 == "index-batch" ? .batch(every: .seconds(900)) : .stream) },
                          rules: [], runtime: runtime)
        var clock = start
        var n = 0
        func events(_ count: Int, to queues: [String], at time: Timestamp) -> [RoutedEvent] {
            (0..<count).map { _ in
                n += 1
                let queue = queues[n % queues.count]
                return RoutedEvent(event: CloudEvent(id: "q-\(n)", source: "/bench", type: "bench", time: time),
                                   targets: [Target(queue: queue, held: queue == "index-batch")])
            }
        }
        while n < backlog {
            var batch = WriteBatch(now: clock)
            batch.publishes = events(min(5_000, backlog - n), to: ["enrich", "index-batch"], at: clock)
            _ = try store.apply(batch)
        }
        // A tenth of enrich's backlog in flight under a long lease, half of that waiting for a retry.
        var claim = WriteBatch(now: clock)
        claim.claims = [ClaimRequest(queue: "enrich", limit: backlog / 20, lease: .seconds(36_000), maxAttempts: 5)]
        let claimed = try store.apply(claim).claimed
        var retry = WriteBatch(now: clock)
        retry.outcomes = claimed.prefix(claimed.count / 2).map {
            Outcome(claim: $0.claim, duration: .milliseconds(1), finishedAt: clock, result: .retry(error: "later", at: clock + .seconds(36_000)))
        }
        _ = try store.apply(retry)
        let busy = ["parse", "index", "notify"]
        for second in 0..<seconds {
            clock = start + .seconds(Int64(second + 1))
            var heartbeat = runtime
            heartbeat.heartbeatAt = clock
            var batch = WriteBatch(now: clock)
            batch.heartbeat = heartbeat
            batch.publishes = events(1_000, to: busy, at: clock)
            batch.claims = busy.map { ClaimRequest(queue: $0, limit: 1_000, lease: .seconds(30), maxAttempts: 5) }
            let work = try store.apply(batch).claimed
            // Done within the second: publish → success from 1 ms to 0.9 s.
            var done = WriteBatch(now: clock + .milliseconds(900))
            done.outcomes = work.enumerated().map { index, message in
                let finished = clock + .microseconds(Int64(1_000 + (index * 7_919) % 899_000))
                return Outcome(claim: message.claim, duration: .microseconds(300), finishedAt: finished, result: .succeeded(children: []))
            }
            _ = try store.apply(done)
        }
        return (path, clock + .seconds(1))
    }

    /// The poll's read of the Overview's health, median of `runs`; and the queue stats alone.
    func healthRead(path: String, now: Timestamp, runs: Int) throws -> (health: Double, stats: Double, live: Int, seconds: Int) {
        let store = try openReader(url: path)
        var health: [Double] = [], stats: [Double] = []
        var live = 0, rows = 0
        for _ in 0..<runs {
            let started = DispatchTime.now().uptimeNanoseconds
            let result = try store.read { snapshot in
                let queues = try snapshot.queueStats(now: now)
                let seconds = try snapshot.queueSeconds(since: now - QueueHealth.window)
                return (queues, seconds, QueueHealth.of(queues, seconds: seconds, runtimes: try snapshot.runtimes(), now: now))
            }
            health.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6)
            live = result.0.reduce(0) { $0 + $1.lagMessages }
            rows = result.1.count
            guard ["parse", "index", "notify"].allSatisfy({ result.2[$0]?.latency?.count ?? 0 > 0 }) else {
                throw BenchError.lost("a busy queue's latency is missing from its seconds")
            }
            let alone = DispatchTime.now().uptimeNanoseconds
            _ = try store.queueStats(now: now)
            stats.append(Double(DispatchTime.now().uptimeNanoseconds - alone) / 1e6)
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        return (median(health), median(stats), live, rows)
    }
}
