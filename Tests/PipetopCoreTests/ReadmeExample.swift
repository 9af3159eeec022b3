import Foundation
import PipetopCore

// The README's "Embed the runtime" example, compiled and run by ReadmeTests. The lines between the
// markers must appear verbatim in README.md; the test checks they do.
func readmeExample(storePath: String) throws -> Runtime {
    // README-EXAMPLE-BEGIN
    let store = try openStore(url: storePath, readOnly: false)  // a path: the SQLite store
    let runtime = try Runtime(
        name: "orders-service", store: store,
        queues: [
            QueueSpec("orders", concurrency: 4, maxAttempts: 5),
            QueueSpec("emails", concurrency: 1, backoff: Backoff(base: .seconds(1), cap: .seconds(60)),
                      deduplicate: .seconds(600)),  // the same source + id within 10 min: not sent twice
        ],
        rules: [
            Rule("placed", pattern: .type("order.placed"), targets: ["orders"]),
            try Rule("big-orders", pattern: #"{"type": ["order.confirmed"], "data": {"total": [{"numeric": [">=", 100]}]}}"#,
                     targets: ["emails"]),
        ])
    runtime.handle("orders") { delivery in
        guard let order = delivery.event.data?.jsonObject() as? [String: Any] else {
            throw PermanentFailure("order without a JSON body")  // dead-lettered at once, not retried
        }
        // A child event: correlation and causation are set for it, and it is committed with this ack.
        delivery.publish(type: "order.confirmed", data: try .json(object: order))
    }
    runtime.handle("emails") { delivery async throws in  // handlers may be async
        try await Task.sleep(for: .milliseconds(5))  // stands in for an async mail client's send
        print("email for order \(delivery.event.subject ?? "?"), attempt \(delivery.attempt)")
    }
    try runtime.start()
    try runtime.publish(CloudEvent(source: "/shop", type: "order.placed", subject: "order-42",
                                   data: try .json(object: ["total": 120])))
    // ... and at shutdown: runtime.stop()
    // README-EXAMPLE-END
    return runtime
}
