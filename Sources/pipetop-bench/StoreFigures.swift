import Foundation
import PipetopCore

/// The store's read-side figures: how fast a reader can follow the log.
struct StoreFigures {
    let scratch: URL

    /// Fills a store with at least `records` lifecycle records through the store's own write path
    /// (`apply`, batches of 2,000 events: publish with direct dispatch, then the acks; every 50th
    /// event fails once first) and returns its path (or `url`, a store to fill instead: a PostgreSQL database).
    func makeStore(name: String, records: Int, url: String? = nil, correlation: (Int) -> String = { "listing-\($0)" }) throws -> String {
        let path = url ?? scratch.appendingPathComponent("\(name).sqlite").path
        let store = try openStore(url: path, readOnly: false)
        let queues = ["parse", "enrich", "index", "notify", "index-batch"]
        let start = Timestamp(micros: 1_800_000_000_000_000)
        var written = 0
        var number = 0
        var clock = start
        while written < records {
            clock = clock + .milliseconds(40)
            var publish = WriteBatch(now: clock)
            publish.claims = queues.map { ClaimRequest(queue: $0, limit: 2000, lease: .seconds(30), maxAttempts: 3, maxAge: nil, deadLetter: true) }
            for _ in 0..<2000 {
                number += 1
                let event = CloudEvent(
                    id: "listing-\(number)", source: "/scraper/autosite", type: "listing.uploaded", time: clock,
                    subject: "L\(number)", data: .json(Data(#"{"make":"Volvo","price":18500}"#.utf8)), correlationID: correlation(number))
                publish.publishes.append(RoutedEvent(event: event, targets: [Target(queue: queues[number % queues.count], held: false)]))
            }
            let claimed = try store.apply(publish).claimed
            clock = clock + .milliseconds(5)
            var finish = WriteBatch(now: clock)
            finish.outcomes = claimed.map { message in
                // Ids are "listing-N": every 50th listing fails its first attempt.
                let fails = message.claim.attempt == 1 && Int(message.event.id.dropFirst("listing-".count))! % 50 == 0
                return Outcome(
                    claim: message.claim, duration: .microseconds(150), finishedAt: clock,
                    result: fails ? .retry(error: "timeout: pricing service did not answer within 2s", at: clock) : .succeeded(children: []))
            }
            finish.claims = publish.claims
            let retried = try store.apply(finish).claimed
            var last = WriteBatch(now: clock + .milliseconds(1))
            last.outcomes = retried.map { Outcome(claim: $0.claim, duration: .microseconds(150), finishedAt: clock, result: .succeeded(children: [])) }
            _ = try store.apply(last)
            // The same logical steps whatever the stored shape: published, routed, enqueued,
            // claimed and succeeded per event; a failed first run has failed, retry-scheduled,
            // claimed again and succeeded in place of its succeeded (three more).
            written += 5 * publish.publishes.count + 3 * retried.count
        }
        return path
    }

    func recordCount(_ path: String) throws -> Int {
        Int(try openReader(url: path).logTotal())
    }

    /// Records per second `Store.tail` alone returns, reading the whole log in pages of 10,000.
    func tailRate(path: String) throws -> Double {
        let store = try openReader(url: path)
        let started = Date()
        var last: Int64 = 0
        var read = 0
        while true {
            let page = try store.tail(after: last, limit: 10_000)
            guard let end = page.last else { break }
            read += page.count
            last = end.seq
        }
        return Double(read) / Date().timeIntervalSince(started)
    }
}
