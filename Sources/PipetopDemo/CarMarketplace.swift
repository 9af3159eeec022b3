import Foundation
import PipetopCore

/// The demo pipeline of `shared/seeds/003`: a car marketplace that moved from a 15-minute cron job
/// to events. The same uploads feed both paths, side by side:
///
/// - `index-batch`: the old cron job, a batch queue released every 15 s, doing all the work at once;
/// - the event-driven path: `parse` → `enrich` → `index` and `notify` (a fan-out), each hop
///   publishing the next event.
public enum CarMarketplace {
    public static func queues(batchWindow: Duration = .seconds(15)) -> [QueueSpec] {
        let backoff = Backoff(base: .milliseconds(500), cap: .seconds(8), jitter: 0.5)
        return [
            QueueSpec("index-batch", mode: .batch(every: batchWindow), concurrency: 2, maxAttempts: 4, backoff: backoff),
            QueueSpec("parse", concurrency: 2, maxAttempts: 4, backoff: backoff),
            QueueSpec("enrich", concurrency: 2, maxAttempts: 4, backoff: backoff),
            QueueSpec("index", concurrency: 2, maxAttempts: 4, backoff: backoff),
            QueueSpec("notify", concurrency: 1, maxAttempts: 4, backoff: backoff),
        ]
    }

    public static let rules: [Rule] = [
        Rule("uploads", pattern: .type("listing.uploaded"), targets: ["index-batch", "parse"]),
        Rule("parsed", pattern: .type("listing.parsed"), targets: ["enrich"]),
        Rule("enriched", pattern: .type("listing.enriched"), targets: ["index", "notify"]),
    ]

    /// A runtime with the demo's queues, rules and handlers, not yet started.
    public static func runtime(name: String = "demo", store: Store, batchWindow: Duration = .seconds(15), options: Runtime.Options = Runtime.Options()) throws -> Runtime {
        let runtime = try Runtime(name: name, store: store, queues: queues(batchWindow: batchWindow), rules: rules, options: options)
        runtime.handle("index-batch") { delivery in
            let listing = try Work.parse(delivery.event)
            _ = try Work.enrich(listing, attempt: delivery.attempt)
            try Work.index(listing)
        }
        runtime.handle("parse") { delivery in
            let listing = try Work.parse(delivery.event)
            delivery.publish(type: "listing.parsed", data: try Payload.json(object: listing.fields))
        }
        runtime.handle("enrich") { delivery in
            let listing = try Work.listing(from: delivery.event)
            var fields = listing.fields
            fields["score"] = try Work.enrich(listing, attempt: delivery.attempt)
            delivery.publish(type: "listing.enriched", data: try Payload.json(object: fields))
        }
        runtime.handle("index") { delivery in
            try Work.index(try Work.listing(from: delivery.event))
        }
        runtime.handle("notify") { delivery in
            _ = Work.notify(try Work.listing(from: delivery.event))
        }
        return runtime
    }
}

/// The handlers' work: real CPU in proportion to the listing (parse and normalise JSON, hash, score).
enum Work {
    struct Listing {
        var fields: [String: Any]
        var description: String { fields["description"] as? String ?? "" }
    }

    /// How long the demo's pricing call waits for a dealer that does not answer: the real service's
    /// 2 s, scaled down ten times so the demo stays lively. The wait is real: the attempt lasts it.
    static let pricingTimeout = Duration.milliseconds(200)

    struct TransientError: Error, CustomStringConvertible {
        var description: String { "timeout: pricing service did not answer within \(Work.pricingTimeout.micros / 1000)ms" }
    }

    struct IndexRejected: Error, CustomStringConvertible {
        var bytes: Int
        var description: String { "index shard rejected document: field 'title' is \(bytes) bytes (limit 32766)" }
    }

    static func listing(from event: CloudEvent) throws -> Listing {
        guard let fields = event.data?.jsonObject() as? [String: Any] else {
            throw PermanentFailure("malformed listing: data is not a JSON object")
        }
        return Listing(fields: fields)
    }

    /// Validates and normalises an upload: a price that is missing or text is permanent (and an
    /// edit of the payload repairs it).
    static func parse(_ event: CloudEvent) throws -> Listing {
        var listing = try listing(from: event)
        let name = event.subject ?? event.id
        guard let price = listing.fields["price"] else { throw PermanentFailure("malformed listing \(name): 'price' is missing") }
        if let text = price as? String { throw PermanentFailure("malformed listing \(name): price is not a number: \"\(text)\"") }
        for key in ["make", "model"] {
            guard let text = listing.fields[key] as? String, !text.isEmpty else {
                throw PermanentFailure("malformed listing \(event.subject ?? event.id): '\(key)' is missing")
            }
            listing.fields[key] = text.trimmingCharacters(in: .whitespaces).lowercased()
        }
        listing.fields["description"] = listing.description.split(separator: " ").map { $0.lowercased() }.joined(separator: " ")
        listing.fields["words"] = listing.description.split(separator: " ").count
        return listing
    }

    /// Scores the listing against the market: hashing every word many times stands in for the model.
    static func enrich(_ listing: Listing, attempt: Int) throws -> Int {
        if listing.fields["dealer"] as? String == "slow-pricing-dealer", attempt == 1 {
            // The call really waits its timeout (the handler's thread sleeps: run time, not CPU).
            Thread.sleep(forTimeInterval: pricingTimeout.secondsDouble)
            throw TransientError()
        }
        var score: UInt64 = 0
        for word in listing.description.split(separator: " ") {
            score = score &+ hash(word.utf8, rounds: 24)
        }
        return Int(score % 1000)
    }

    /// Builds the search terms; a document over the index's field limit is always rejected.
    static func index(_ listing: Listing) throws {
        if let title = listing.fields["title"] as? String, title.utf8.count > 32766 { throw IndexRejected(bytes: title.utf8.count) }
        var terms = Set<UInt64>()
        for word in listing.description.split(separator: " ") { terms.insert(hash(word.utf8, rounds: 16)) }
        guard !terms.isEmpty || listing.description.isEmpty else { return }
    }

    /// Matches the listing against saved searches.
    static func notify(_ listing: Listing) -> Int {
        let price = (listing.fields["price"] as? Int) ?? Int((listing.fields["price"] as? Double) ?? 0)
        var matches = 0
        for search in 0..<200 where (price / 1000 + search) % 37 == 0 { matches += 1 }
        return matches &+ Int(hash(listing.description.utf8.prefix(64), rounds: 8) % 2)
    }

    /// FNV-1a, repeated: real CPU work proportional to the input.
    static func hash(_ bytes: some Collection<UInt8>, rounds: Int) -> UInt64 {
        var value: UInt64 = 0xCBF2_9CE4_8422_2325
        for round in 0..<rounds {
            value ^= UInt64(round)
            for byte in bytes {
                value ^= UInt64(byte)
                value = value &* 0x100_0000_01B3
            }
        }
        return value
    }
}
