import Foundation
import GRDB
import Testing
@testable import PipetopCore

/// Opt-in deduplication by `source` + `id` (`QueueSpec.deduplicate`) through a real runtime; the
/// store's part is in `StoreConformanceTests`.
@Suite struct DeduplicationTests {
    let t0 = Timestamp(micros: 1_800_000_000_000_000)
    let db = try! TestStore()

    func event(_ id: String, source: String = "/shop") -> CloudEvent {
        CloudEvent(id: id, source: source, type: "order.placed", time: t0, correlationID: "flow-\(id)")
    }

    @Test func aRuntimeDeliversADuplicateOnce() throws {
        var options = Runtime.Options()
        options.register = false
        let runtime = try Runtime(
            name: "dedup", store: db.store,
            queues: [QueueSpec("orders", deduplicate: .seconds(600)), QueueSpec("audit")],
            rules: [Rule("all", pattern: .type("order.placed"), targets: ["orders", "audit"])],
            options: options)
        let runs = Counter()
        runtime.handle("orders") { _ in runs.add("orders") }
        runtime.handle("audit") { _ in runs.add("audit") }
        try runtime.start()
        try runtime.publish([event("o-1")])
        try runtime.publish([event("o-1"), event("o-2")])
        #expect(eventually { runs.value("orders") == 2 && runs.value("audit") == 3 })
        runtime.stop()
        #expect(runs.value("orders") == 2)
        #expect(try db.store.queueStats(now: .now()).first { $0.name == "orders" }?.duplicates == 1)
    }

    @Test func aWindowMustBeUsable() {
        #expect(throws: ConfigurationError("queue 'q': a deduplication window must be at least 1 ms")) {
            try QueueSpec("q", deduplicate: .microseconds(10)).validate()
        }
    }
}

/// Counts by name, from any thread.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    func add(_ name: String) { lock.withLock { counts[name, default: 0] += 1 } }
    func value(_ name: String) -> Int { lock.withLock { counts[name] ?? 0 } }
}
