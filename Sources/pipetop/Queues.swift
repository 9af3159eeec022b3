import ArgumentParser
import Foundation
import PipetopCore

struct Queues: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show every queue: depth, lag, status, time to drain, latency, retries and dead letters.",
        discussion: """
            Status, drain and latency are over the last \(Int(QueueHealth.window.secondsDouble)) s, as the dashboard's Overview shows them. \
            Status, the first rule that holds: \(QueueHealth.rules.map { "\($0.0.rawValue): \($0.1)" }.joined(separator: "; ")). \
            DRAIN: the lag over (completions − arrivals) per second; never: it grows or nothing completes; steady: they match; \
            window: a batch queue's held messages leave at its next window. LAT: published → succeeded on the queue; \
            PIPE: the flow's first publish → succeeded on the queue (the pipeline up to it).
            """)

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let store = try storeOptions.openReader()
        let now = Timestamp.now()
        // One snapshot: the figures now, the window's seconds and the consumers' heartbeats agree.
        let (queues, health) = try store.read { snapshot in
            let queues = try snapshot.queueStats(now: now)
            let seconds = try snapshot.queueSeconds(since: now - QueueHealth.window)
            return (queues, QueueHealth.of(queues, seconds: seconds, runtimes: try snapshot.runtimes(), now: now))
        }
        if output.json {
            for queue in queues {
                print(String(decoding: try JSONSerialization.data(withJSONObject: Self.object(queue, health[queue.name], now: now), options: [.sortedKeys]), as: UTF8.self)
                    .jsonTerminalSafe)
            }
            return
        }
        let header = [
            "QUEUE", "MODE", "STATUS", "HELD", "READY", "RETRY", "FLIGHT", "POISON", "LAG", "LAG(s)", "DRAIN", "IN/s", "DONE/s",
            "LAT p50", "p95", "p99", "PIPE p50", "p95", "p99", "DONE", "FAILED", "DEAD", "DUPS",
        ]
        var rows = [header]
        for q in queues {
            let h = health[q.name]
            func ms(_ value: Duration?) -> String { value.map { String(format: "%.1fms", $0.secondsDouble * 1000) } ?? "-" }
            rows.append([
                q.name.terminalSafe, q.modeName, h?.status?.rawValue ?? "-", "\(q.held)", "\(q.ready)", "\(q.scheduled)", "\(q.inFlight)",
                "\(q.poison)", "\(q.lagMessages)\(Self.arrow(h?.trend))", String(format: "%.1f", q.lagSeconds), Self.drain(h?.drain, now: now),
                h.map { String(format: "%.1f", $0.arrivalsPerSecond) } ?? "-", h.map { String(format: "%.1f", $0.completionsPerSecond) } ?? "-",
                ms(h?.latency?.p50), ms(h?.latency?.p95), ms(h?.latency?.p99),
                ms(h?.flowLatency?.p50), ms(h?.flowLatency?.p95), ms(h?.flowLatency?.p99),
                "\(q.succeeded)", "\(q.failed)", "\(q.dead)", "\(q.duplicates)",
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(row.enumerated().map { index, cell in
                index < 3 ? cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[index] - cell.count) + cell
            }.joined(separator: "  "))
        }
        // Why each status, in words.
        print("")
        for q in queues {
            guard let h = health[q.name] else { continue }
            print("\(q.name.terminalSafe): \(h.status?.rawValue ?? "no status yet"): \(h.reason.terminalSafe)")
        }
    }

    static func arrow(_ trend: QueueHealth.Trend?) -> String {
        switch trend {
        case .rising?: "↑"
        case .falling?: "↓"
        case .flat?: "→"
        case nil: ""
        }
    }

    static func drain(_ drain: QueueHealth.Drain?, now: Timestamp) -> String {
        switch drain {
        case .drained?: "0"
        case .within(let time)?: String(format: "%.1fs", time.secondsDouble)
        case .steady?: "steady"
        case .never?: "never"
        case .nextWindow(let at)?: String(format: "window %.1fs", max(0, (at - now).secondsDouble))
        case nil: "-"
        }
    }

    static func object(_ queue: QueueStats, _ health: QueueHealth?, now: Timestamp) -> [String: Any] {
        var object: [String: Any] = [
            "name": queue.name, "mode": queue.modeName, "concurrency": queue.concurrency, "held": queue.held,
            "ready": queue.ready, "scheduled": queue.scheduled, "in_flight": queue.inFlight, "dead": queue.dead,
            "poison": queue.poison, "lag_messages": queue.lagMessages, "lag_seconds": queue.lagSeconds,
            "enqueued": queue.enqueued, "succeeded": queue.succeeded, "failed": queue.failed,
            "retried": queue.retried, "dead_lettered": queue.deadLettered, "duplicates": queue.duplicates, "lease_expired": queue.leaseExpired,
        ]
        guard let health else { return object }
        func percentiles(_ p: LatencyPercentiles?) -> Any {
            guard let p else { return NSNull() }
            return ["p50_ms": p.p50.secondsDouble * 1000, "p95_ms": p.p95.secondsDouble * 1000, "p99_ms": p.p99.secondsDouble * 1000, "count": p.count]
        }
        object["status"] = health.status?.rawValue ?? NSNull()
        object["status_reason"] = health.reason
        object["window_seconds"] = health.span.secondsDouble
        object["arrivals_per_second"] = health.arrivalsPerSecond
        object["completions_per_second"] = health.completionsPerSecond
        switch health.trend {
        case .rising(let n): object["lag_trend"] = n
        case .falling(let n): object["lag_trend"] = -n
        case .flat: object["lag_trend"] = 0
        }
        object["lag_trend_seconds"] = QueueHealth.trendWindow.secondsDouble
        switch health.drain {
        case .drained: object["drain"] = "drained"; object["drain_seconds"] = 0
        case .within(let time): object["drain"] = "within"; object["drain_seconds"] = time.secondsDouble
        case .steady: object["drain"] = "steady"; object["drain_seconds"] = NSNull()
        case .never: object["drain"] = "never"; object["drain_seconds"] = NSNull()
        case .nextWindow(let at):
            object["drain"] = "next window"
            object["drain_seconds"] = max(0, (at - now).secondsDouble)
            object["next_window_at"] = at.rfc3339
        }
        object["latency"] = percentiles(health.latency)
        object["pipeline_latency"] = percentiles(health.flowLatency)
        return object
    }
}
