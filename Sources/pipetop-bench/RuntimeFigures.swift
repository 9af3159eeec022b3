import Foundation
import Histogram
import PipetopCore

/// The runtime's figures: end-to-end throughput (with and without a retry per event) and
/// publish → handler-start latency at steady rates. Each run uses a fresh store in a temp dir.
struct RuntimeFigures {
    let scratch: URL
    /// The store to run on instead of a fresh SQLite file per run (a PostgreSQL database).
    var storeURL: String?

    private func makeRuntime(_ name: String, queue: QueueSpec) throws -> Runtime {
        let directory = scratch.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try openStore(url: storeURL ?? directory.appendingPathComponent("store.sqlite").path, readOnly: false)
        var options = Runtime.Options()
        options.register = false
        return try Runtime(name: "bench-\(name)", store: store, queues: [queue], rules: [Rule("all", pattern: .type("bench"), targets: [queue.name])], options: options)
    }

    /// Counts handler completions and wakes the waiter when all expected ones are in (only then:
    /// a wakeup per event would cost the measured runtime a context switch per event).
    final class Counter: @unchecked Sendable {
        private let condition = NSCondition()
        private var count = 0
        private var target = Int.max
        func add() {
            condition.lock()
            count += 1
            if count >= target { condition.signal() }
            condition.unlock()
        }
        var value: Int {
            condition.lock()
            defer { condition.unlock() }
            return count
        }

        func wait(for target: Int, timeout: Double) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            condition.lock()
            defer { condition.unlock() }
            self.target = target
            while count < target { if !condition.wait(until: deadline) { return false } }
            return true
        }
    }

    /// How the benchmark's events are named.
    enum EventIDs {
        /// "e0", "e1"…: ordered like time, as ULIDs, UUIDv7 or a producer's sequence numbers are.
        case ordered
        /// Random UUIDv4s: every event a new, random correlation id.
        case random
    }

    /// Publishes `events` as fast as publishers can commit and times until the store holds every
    /// message as succeeded (the handler is a no-op, or fails each event's first attempt).
    /// With `deduplicate`, the queue checks each event's source and id against its window.
    func throughput(events total: Int, failFirst: Bool, ids: EventIDs = .ordered, deduplicate: Duration? = nil) throws -> Figure {
        let name = (failFirst ? "retry" : "noop") + (ids == .random ? "-uuid" : "") + (deduplicate != nil ? "-dedup" : "")
        let queue = QueueSpec(
            "q", concurrency: 2, maxAttempts: 3, backoff: Backoff(base: .microseconds(100), cap: .milliseconds(1), jitter: 0),
            deduplicate: deduplicate)
        let runtime = try makeRuntime(name, queue: queue)
        let done = Counter()
        runtime.handle("q") { delivery in
            if failFirst && delivery.attempt == 1 { throw BenchError.firstAttempt }
            done.add()
        }
        try runtime.start()
        defer { runtime.stop() }
        let events = (0..<total).map { CloudEvent(id: ids == .ordered ? "e\($0)" : UUID().uuidString, source: "/bench", type: "bench") }
        let batch = 256
        let publishers = 2
        let started = Date()
        let cpuBefore = ProcessCPU.now()
        let group = DispatchGroup()
        for publisher in 0..<publishers {
            group.enter()
            Thread.detachNewThread {
                var index = publisher * batch
                while index < total {
                    try? runtime.publish(Array(events[index..<min(index + batch, total)]))
                    index += batch * publishers
                }
                group.leave()
            }
        }
        guard done.wait(for: total, timeout: 600) else { throw BenchError.timedOut("throughput \(name)") }
        let elapsed = Date().timeIntervalSince(started)
        let cpuPerEvent = (ProcessCPU.now() - cpuBefore) / Double(total) * 1_000_000
        group.wait()
        // Wait for the last acks to be committed, then verify the store agrees with the handlers.
        let store = runtime.store
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, try store.queueStats(now: .now()).first?.succeeded ?? 0 < Int64(total) { Thread.sleep(forTimeInterval: 0.01) }
        let succeeded = try store.queueStats(now: .now()).first?.succeeded ?? 0
        guard succeeded == Int64(total) else { throw BenchError.lost("\(name): \(succeeded) of \(total) succeeded in the store") }
        let records = try store.logTotal()
        let idText = ids == .ordered ? "time-ordered ids" : "random UUIDv4 ids"
        let title = deduplicate != nil
            ? "runtime throughput, no-op, deduplicating queue"
            : ids == .random
            ? "runtime throughput, no-op, random UUID ids"
            : failFirst ? "runtime throughput, one retry per event" : "runtime throughput, stream, no-op handlers"
        let window = deduplicate.map { ", \($0.micros / 60_000_000) min window" } ?? ""
        return Figure(
            title, value: Double(total) / elapsed, unit: "events/s",
            target: ids == .random || deduplicate != nil ? nil : failFirst ? 20_000 : 50_000,
            note: "\(Figure.grouped(total)) events, \(idText)\(window), \(Figure.grouped(Int(records))) lifecycle records, \(Figure.format(cpuPerEvent)) µs CPU/event")
    }

    /// Publishes at a steady `rate` for `seconds` and records, per event, the time from its
    /// scheduled publish to its handler's start (coordinated omission avoided: a publisher that
    /// falls behind is charged for it; negative values cannot occur, events are never early).
    /// `perPublisher`: events per second each blocking publisher thread is given.
    func latency(rate: Int, seconds: Double, perPublisher: Int = 500) throws -> (p50: Double, p99: Double, max: Double, count: Int) {
        let runtime = try makeRuntime("latency-\(rate)", queue: QueueSpec("q", concurrency: 2))
        let histogram = LockedHistogram()
        let total = Int(Double(rate) * seconds)
        let done = Counter()
        runtime.handle("q") { delivery in
            let start = Timestamp.now()
            if let scheduled = delivery.event.time { histogram.record(micros: start.micros - scheduled.micros) }
            done.add()
        }
        try runtime.start()
        defer { runtime.stop() }
        // Warm up: the first commits pay for page-cache misses and statement preparation.
        for index in 0..<200 { try runtime.publish(CloudEvent(id: "w\(index)", source: "/bench", type: "warm")) }
        // Event i is due at started + i/rate. Each is published, alone, once its time has come,
        // never before; `publish` blocks until the event is committed, as a real producer's would,
        // so publisher threads share the schedule, one per 500 events/s (event i goes to thread i % n).
        // A publisher that falls behind publishes late and the delay is charged to the event.
        let publishers = max(1, rate / perPublisher)
        let started = Timestamp.now() + .milliseconds(5)
        let group = DispatchGroup()
        let failures = Counter()
        for publisher in 0..<publishers {
            group.enter()
            Thread.detachNewThread {
                for index in stride(from: publisher, to: total, by: publishers) {
                    let due = started + .microseconds(Int64(Double(index) * 1_000_000 / Double(rate)))
                    let wait = due.micros - Timestamp.now().micros
                    if wait > 0 { usleep(UInt32(wait)) }
                    do {
                        try runtime.publish(CloudEvent(id: "l\(index)", source: "/bench", type: "bench", time: due))
                    } catch {
                        failures.add()
                    }
                }
                group.leave()
            }
        }
        group.wait()
        guard failures.value == 0 else { throw BenchError.lost("\(failures.value) publishes failed") }
        guard done.wait(for: total, timeout: 120) else { throw BenchError.timedOut("latency at \(rate)/s") }
        let h = histogram.snapshot()
        return (Double(h.valueAtPercentile(50)) / 1000, Double(h.valueAtPercentile(99)) / 1000, Double(h.max) / 1000, total)
    }
}

extension RuntimeFigures {
    /// One producer at its own pace: publishes one event, waits for its commit, publishes the
    /// next, for `seconds`; the time each `publish` call takes (publish → durable). Guards the
    /// commit pacer: holding a tick to gather more work must never slow a lone producer.
    func blockingProducer(seconds: Double) throws -> (p50: Double, p99: Double, max: Double, count: Int) {
        let runtime = try makeRuntime("blocking", queue: QueueSpec("q", concurrency: 2))
        runtime.handle("q") { _ in }
        try runtime.start()
        defer { runtime.stop() }
        for index in 0..<200 { try runtime.publish(CloudEvent(id: "w\(index)", source: "/bench", type: "warm")) }
        let histogram = LockedHistogram()
        let end = Date().addingTimeInterval(seconds)
        var count = 0
        while Date() < end {
            let started = Timestamp.now()
            try runtime.publish(CloudEvent(id: "b\(count)", source: "/bench", type: "bench"))
            histogram.record(micros: Timestamp.now().micros - started.micros)
            count += 1
        }
        let h = histogram.snapshot()
        return (Double(h.valueAtPercentile(50)) / 1000, Double(h.valueAtPercentile(99)) / 1000, Double(h.max) / 1000, count)
    }
}

final class LockedHistogram: @unchecked Sendable {
    private let lock = NSLock()
    private var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)

    func record(micros: Int64) {
        lock.withLock { _ = histogram.record(UInt64(max(micros, 0))) }
    }

    func snapshot() -> Histogram<UInt64> { lock.withLock { histogram } }
}

enum BenchError: Error, CustomStringConvertible {
    case firstAttempt
    case timedOut(String)
    case lost(String)

    var description: String {
        switch self {
        case .firstAttempt: return "failing the first attempt on purpose"
        case .timedOut(let what): return "timed out: \(what)"
        case .lost(let what): return "events lost: \(what)"
        }
    }
}

/// User + system CPU seconds of this process.
enum ProcessCPU {
    static func now() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1_000_000
    }
}
