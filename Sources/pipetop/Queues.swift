import ArgumentParser
import Foundation
import PipetopCore

struct Queues: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show every queue: depth, lag, retries and dead letters.")

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let store = try storeOptions.openReader()
        let queues = try store.queueStats(now: .now())
        if output.json {
            for queue in queues {
                let object: [String: Any] = [
                    "name": queue.name, "mode": queue.modeName, "concurrency": queue.concurrency, "held": queue.held,
                    "ready": queue.ready, "scheduled": queue.scheduled, "in_flight": queue.inFlight, "dead": queue.dead,
                    "poison": queue.poison, "lag_messages": queue.lagMessages, "lag_seconds": queue.lagSeconds,
                    "enqueued": queue.enqueued, "succeeded": queue.succeeded, "failed": queue.failed,
                    "retried": queue.retried, "dead_lettered": queue.deadLettered, "duplicates": queue.duplicates,
                ]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self).jsonTerminalSafe)
            }
            return
        }
        let header = ["QUEUE", "MODE", "HELD", "READY", "RETRY", "FLIGHT", "POISON", "LAG", "LAG(s)", "DONE", "FAILED", "DEAD", "DUPS"]
        var rows = [header]
        for q in queues {
            rows.append([
                q.name.terminalSafe, q.modeName, "\(q.held)", "\(q.ready)", "\(q.scheduled)", "\(q.inFlight)", "\(q.poison)",
                "\(q.lagMessages)", String(format: "%.1f", q.lagSeconds), "\(q.succeeded)", "\(q.failed)", "\(q.dead)", "\(q.duplicates)",
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(row.enumerated().map { index, cell in
                index < 2 ? cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[index] - cell.count) + cell
            }.joined(separator: "  "))
        }
    }
}
