import Foundation
import PipetopCore

/// Publishes `listing.uploaded` events at a steady rate with occasional bursts, like a scraper that
/// finds a dealer's whole stock at once now and then.
public final class Scraper: @unchecked Sendable {
    public let rate: Double
    public let burstEvery: Duration
    public let burstSize: Int
    private let runtime: Runtime
    private let stopped = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private let firstNumber: UInt64
    private let run: String?
    private var next: UInt64
    private var running = false

    public init(runtime: Runtime, rate: Double = 40, burstEvery: Duration = .seconds(12), burstSize: Int = 250, firstNumber: UInt64 = 1, run: String? = nil) {
        self.run = run
        self.runtime = runtime
        self.rate = rate
        self.burstEvery = burstEvery
        self.burstSize = burstSize
        self.firstNumber = firstNumber
        next = firstNumber
    }

    /// Listings published so far (handed to `publish`; refused ones are retried).
    public var published: UInt64 { lock.withLock { next - firstNumber } }
    /// Publishes the store refused (each retried).
    public var refusals: Int { lock.withLock { refused } }
    private var refused = 0

    public func start() {
        lock.withLock { running = true }
        let thread = Thread { [self] in
            loop()
            finished.signal()
        }
        thread.name = "pipetop.scraper"
        thread.start()
    }

    public func stop() {
        guard lock.withLock({ running }) else { return }
        lock.withLock { running = false }
        stopped.signal()
        finished.wait()
    }

    private func loop() {
        let tick = 0.05
        let started = Date()
        var owed = 0.0
        var nextBurst = started.addingTimeInterval(burstEvery.secondsDouble / 2)
        while lock.withLock({ running }) {
            owed += rate * tick
            var count = Int(owed)
            owed -= Double(count)
            if Date() >= nextBurst {
                count += burstSize
                nextBurst = nextBurst.addingTimeInterval(burstEvery.secondsDouble)
            }
            if count > 0 {
                let first = lock.withLock { () -> UInt64 in
                    defer { next += UInt64(count) }
                    return next
                }
                let now = Timestamp.now()
                let events = (0..<UInt64(count)).map { Listing.event(number: first + $0, time: now, run: run) }
                // A publish the store refused is retried, the same listings, with a backoff (they
                // were not stored: `publish` threw); only a runtime that gave up ends the scraper.
                var backoff = 0.25
                while true {
                    do {
                        try runtime.publish(events)
                        break
                    } catch let failure as StoreWriteFailure where failure.gaveUp {
                        return
                    } catch {
                        lock.withLock { refused += 1 }
                        if stopped.wait(timeout: .now() + backoff) == .success { return }
                        backoff = min(backoff * 2, 5)
                    }
                }
            }
            if stopped.wait(timeout: .now() + tick) == .success { break }
        }
    }
}
