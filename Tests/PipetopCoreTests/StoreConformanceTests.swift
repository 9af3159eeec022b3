import Foundation
import Testing
@testable import PipetopCore

/// The delivery state machine and every store operation, driven through `Store` and
/// `ReadableStore` only, on every backend in `StoreFactory.all`. A new backend passes this suite
/// before anything runs on it; what is specific to one backend (its schema, query plans, files)
/// is tested beside it (`SQLiteStoreTests`).
@Suite struct StoreConformanceTests {
    static let backends = StoreFactory.all

    // MARK: Claims, acks and leases

    @Test(arguments: backends) func publishClaimAck(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.declare(["q"])
        try h.publish([h.event("a")])
        let claimed = try h.claim(h.t0 + .milliseconds(1))
        #expect(claimed.count == 1)
        #expect(claimed[0].event == h.event("a"))
        #expect(claimed[0].claim.attempt == 1)
        #expect(claimed[0].claim.delivery == 1)
        #expect(try h.claim(h.t0 + .milliseconds(2)).isEmpty)  // leased: nobody else gets it
        let result = try h.finish(claimed[0], at: h.t0 + .milliseconds(5), .succeeded(children: []))
        #expect(result.staleOutcomes == 0)
        #expect(try h.kinds() == ["published", "routed", "enqueued", "claimed", "succeeded"])
        #expect(try h.messages() == 0)
        let record = try h.log().last!
        #expect(record.attempt == 1 && record.duration == .milliseconds(3) && record.queue == "q" && record.correlationID == "flow-a")
        #expect(record.eventID == "a" && record.eventType == "listing.uploaded" && record.time == h.t0 + .milliseconds(5))
        let stats = try #require(try h.stats())
        #expect(stats.enqueued == 1 && stats.succeeded == 1)
    }

    @Test(arguments: backends) func aMessageIdIsNeverReusedEvenAfterTheNewestMessageIsGone(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish([h.event("a")])
        let first = try h.claim(h.t0)[0]
        try h.finish(first, at: h.t0, .succeeded(children: []))
        #expect(try h.messages() == 0)
        // Another connection (another process) takes the next id.
        let again = try h.made.openAgain()
        var batch = WriteBatch(now: h.t0 + .milliseconds(1))
        batch.publishes = [RoutedEvent(event: h.event("b"), targets: [Target(queue: "q", held: false)])]
        _ = try again.apply(batch)
        let second = try h.claim(h.t0 + .milliseconds(1))[0]
        #expect(second.claim.messageID > first.claim.messageID)
        // A stale ack of the first message (same id and delivery 1, were the id reused) is ignored.
        #expect(try h.finish(first, at: h.t0 + .milliseconds(2), .succeeded(children: [])).staleOutcomes == 1)
        #expect(second.claim.eventSeq > first.claim.eventSeq, "event seqs grow too")
    }

    @Test(arguments: backends) func aLargeTickWritesEveryRowInOrder(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let events = (0..<70).map { h.event("e\($0)") }
        try h.publish(events)
        #expect(try h.store.publishedTotal() == 70)
        #expect(try h.stats()?.ready == 70)
        #expect(try h.log().count == 210)
        let claimed = try h.claim(h.t0 + .milliseconds(1), h.request(limit: 100))
        #expect(claimed.map(\.event.id) == events.map(\.id), "claimed in publish order, with their own events")
        let stored = try h.store.events(matching: EventQuery(), after: 0, limit: 100)
        #expect(stored.map(\.event.id) == events.map(\.id))
        #expect(stored.map(\.seq) == stored.map(\.seq).sorted() && Set(stored.map(\.seq)).count == 70)
        let log = try h.log()
        #expect(log.map(\.seq) == log.map(\.seq).sorted())
        #expect(Array(log.prefix(3).map(\.kind.rawValue)) == ["published", "routed", "enqueued"])
    }

    @Test(arguments: backends) func aReadSeesOneStateWhileTheWriterCommits(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish([h.event("a")])
        let store = h.store
        let event = h.event("b")
        let t0 = h.t0
        let (before, after, total) = try store.read { snapshot -> (Int64, Int64, Int) in
            let before = try snapshot.publishedTotal()
            // Another thread commits while this read is open.
            let done = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                try? store.publishUnrouted([event], at: t0)
                done.signal()
            }
            done.wait()
            return (before, try snapshot.publishedTotal(), try snapshot.tail(after: 0, limit: 100).count)
        }
        #expect(before == 1 && after == 1, "the second read saw the same state as the first")
        #expect(total == 3, "and the log as it was: a's three records, not b's")
        #expect(try store.publishedTotal() == 2, "outside it, the commit is visible")
    }

    @Test(arguments: backends) func childrenAreCommittedWithTheAck(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish([h.event("a")])
        let message = try h.claim(h.t0)[0]
        let child = message.event.child(type: "listing.parsed")
        try h.finish(message, at: h.t0 + .milliseconds(1), .succeeded(children: [RoutedEvent(event: child, targets: [Target(queue: "next", held: false)])]))
        let next = try h.claim(h.t0 + .milliseconds(2), h.request("next"))
        #expect(next.map(\.event.causationID) == ["a"])
        #expect(next.map(\.event.correlationID) == ["flow-a"])
    }

    @Test(arguments: backends) func newMessagesAreDispatchedDirectlyOnlyBehindAnEmptyBacklog(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish((1...3).map { h.event("old\($0)") })
        // Capacity 2 claims two of three ready messages; a new one must wait behind the third.
        let cut = try h.tick(h.t0 + .seconds(1)) {
            $0.claims = [h.request(limit: 2)]
            $0.publishes = [RoutedEvent(event: h.event("new"), targets: [Target(queue: "q", held: false)])]
        }
        #expect(cut.claimed.map(\.event.id) == ["old1", "old2"])
        #expect(try h.claim(h.t0 + .seconds(2)).map(\.event.id) == ["old3", "new"])
        // With capacity to spare, a new message is claimed in the tick that publishes it.
        let direct = try h.tick(h.t0 + .seconds(3)) {
            $0.claims = [h.request(limit: 5)]
            $0.publishes = [RoutedEvent(event: h.event("fresh"), targets: [Target(queue: "q", held: false)])]
        }
        #expect(direct.claimed.map(\.event.id) == ["fresh"])
        #expect(direct.claimed.map(\.claim.attempt) == [1])
        #expect(try h.stats(at: h.t0 + .seconds(3))?.inFlight == 5)
        let fresh = try h.log().filter { $0.eventID == "fresh" }.map(\.kind)
        #expect(fresh == [.published, .routed, .enqueued, .claimed])
    }

    @Test(arguments: backends) func anExpiredLeaseMakesTheMessageDeliverableAgainAndTheLateAckIsStale(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish([h.event("a")])
        let first = try h.claim(h.t0, h.request(lease: .seconds(5)))[0]
        try h.tick(h.t0 + .seconds(4)) { $0.expireLeases = ["q"] }
        #expect(try h.claim(h.t0 + .seconds(4)).isEmpty, "still leased")
        try h.tick(h.t0 + .seconds(5)) { $0.expireLeases = ["q"] }
        let second = try h.claim(h.t0 + .seconds(5))
        #expect(second.map(\.claim.attempt) == [2])
        #expect(second.map(\.claim.delivery) == [2])
        // The hung first run finally returns: its ack must not touch the redelivery.
        let stale = try h.finish(first, at: h.t0 + .seconds(6), .succeeded(children: []))
        #expect(stale.staleOutcomes == 1)
        #expect(try h.stats()?.inFlight == 1)
        // Nor may its retry or dead-letter.
        #expect(try h.finish(first, at: h.t0 + .seconds(6), .retry(error: "late", at: h.t0)).staleOutcomes == 1)
        #expect(try h.finish(first, at: h.t0 + .seconds(6), .deadLetter(error: "late", reason: .nonRetryable)).staleOutcomes == 1)
        try h.finish(second[0], at: h.t0 + .seconds(6), .succeeded(children: []))
        #expect(try h.kinds().filter { $0 == "succeeded" }.count == 1)
        let expired = try #require(try h.log().first { $0.kind == .leaseExpired })
        #expect(expired.attempt == 1 && expired.error?.hasPrefix("lease expired") == true)
        // Counted apart: `failed` counts the handlers' failures (none here), as the records do.
        try h.declare(["q"])
        let stats = try #require(try h.stats())
        #expect(stats.leaseExpired == 1)
        #expect(stats.failed == Int64(try h.kinds().filter { $0 == "failed" }.count))
        #expect(stats.failed == 0)
    }

    /// A node found dead by a peer's heartbeat (silent 10 s): the leases its claims carry come back at once,
    /// a live node's stay, the dead one is marked stopped at its last heartbeat, and a second
    /// peer looking after it finds nothing left to return (once across nodes).
    @Test(arguments: backends) func aDeadNodesLeasesComeBackAtOnceWhileItsPeersRunOn(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        func node(_ name: String, pid: Int32, host: String, heartbeat: Timestamp) -> RuntimeInfo {
            RuntimeInfo(name: name, pid: pid, host: host, store: h.store.location, startedAt: h.t0, heartbeatAt: heartbeat)
        }
        let dead = node("demo", pid: 11, host: "a", heartbeat: h.t0), live = node("demo", pid: 12, host: "b", heartbeat: h.t0)
        try h.store.declare(queues: [QueueSpec("q")], rules: [], runtime: dead)
        try h.store.declare(queues: [QueueSpec("q")], rules: [], runtime: live)
        try h.publish([h.event("a"), h.event("b"), h.event("c")])
        let lease = Duration.seconds(3_600)
        let claimedByDead = try h.tick(h.t0) { $0.claims = [h.request(limit: 2, lease: lease)]; $0.claimedBy = dead.node }.claimed
        let claimedByLive = try h.tick(h.t0) { $0.claims = [h.request(limit: 1, lease: lease)]; $0.claimedBy = live.node }.claimed
        #expect(claimedByDead.count == 2 && claimedByLive.count == 1)
        // 5 s on, the dead node is only late: nothing moves.
        var looking = live
        looking.heartbeatAt = h.t0 + .seconds(5)
        try h.tick(h.t0 + .seconds(5)) { $0.heartbeat = looking }
        #expect(try h.stats(at: h.t0 + .seconds(5))?.inFlight == 3)
        // 12 s on, it is dead.
        looking.heartbeatAt = h.t0 + .seconds(12)
        try h.tick(h.t0 + .seconds(12)) { $0.heartbeat = looking }
        let stats = try #require(try h.stats(at: h.t0 + .seconds(12)))
        #expect(stats.inFlight == 1 && stats.ready == 2 && stats.leaseExpired == 2, "its two leases back, long before they end; the live node's kept")
        let expired = try h.log().filter { $0.kind == .leaseExpired }
        #expect(Set(expired.compactMap(\.messageID)) == Set(claimedByDead.map(\.claim.messageID)))
        #expect(expired.allSatisfy { $0.error == "lease expired at once: runtime demo (pid 11 on a) died: no heartbeat for 12 s" })
        let rows = try h.store.runtimes()
        #expect(rows.first { $0.pid == 11 }?.stoppedAt == h.t0, "stopped when last heard of")
        #expect(rows.first { $0.pid == 12 }?.stoppedAt == nil)
        // Another peer looks too: nothing is returned twice.
        let other = node("demo", pid: 13, host: "c", heartbeat: h.t0 + .seconds(13))
        try h.tick(h.t0 + .seconds(13)) { $0.heartbeat = other }
        #expect(try h.log().filter { $0.kind == .leaseExpired }.count == 2)
        #expect(try h.claim(h.t0 + .seconds(13)).map(\.claim.attempt).sorted() == [2, 2], "claimed again, on a new attempt")
    }

    /// Each node's throughput goes with its heartbeat and is read back with it.
    @Test(arguments: backends) func aNodesThroughputIsKeptWithItsHeartbeat(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        var node = RuntimeInfo(name: "demo", pid: 21, host: "a", store: h.store.location, startedAt: h.t0, heartbeatAt: h.t0)
        try h.store.declare(queues: [QueueSpec("q")], rules: [], runtime: node)
        #expect(try h.store.runtimes().first?.throughput == NodeThroughput(done: 0, perSecond: 0))
        node.heartbeatAt = h.t0 + .seconds(1)
        node.throughput = NodeThroughput(done: 12_345, perSecond: 1_234.5)
        try h.tick(h.t0 + .seconds(1)) { $0.heartbeat = node }
        let read = try #require(try h.store.runtimes().first)
        #expect(read.throughput == NodeThroughput(done: 12_345, perSecond: 1_234.5))
        #expect(read.heartbeatAt == h.t0 + .seconds(1) && read.node == node.node)
    }

    @Test(arguments: backends) func unstartedMessagesGoBackWithTheirAttemptUnspent(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish([h.event("a")])
        let message = try h.claim(h.t0)[0]
        try h.finish(message, at: h.t0, .unstarted)
        let again = try h.claim(h.t0)
        #expect(again.map(\.claim.attempt) == [1])
        #expect(again.map(\.claim.delivery) == [2])
        #expect(try h.log().last?.detail == "delivery 2", "a redelivery within the same attempt says so")
    }

    @Test(arguments: backends) func nodesOfOneNameAreApartInTheStore(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let a = RuntimeInfo(name: "shop", pid: 100, host: "h1", store: h.store.location, startedAt: h.t0, heartbeatAt: h.t0)
        var b = RuntimeInfo(name: "shop", pid: 200, host: "h1", store: h.store.location, startedAt: h.t0, heartbeatAt: h.t0)
        try h.store.declare(queues: [QueueSpec("q")], rules: [], runtime: a)
        try h.store.declare(queues: [QueueSpec("q")], rules: [], runtime: b)
        b.heartbeatAt = h.t0 + .seconds(5)
        try h.tick(h.t0 + .seconds(5)) { $0.heartbeat = b }
        try h.store.markStopped(runtime: a, at: h.t0 + .seconds(6))
        let nodes = try h.store.runtimes()
        #expect(nodes.count == 2, "one row per node, name@host:pid")
        #expect(nodes.first { $0.pid == 100 }?.stoppedAt == h.t0 + .seconds(6))
        #expect(nodes.first { $0.pid == 200 }?.stoppedAt == nil, "the other node of the name still runs (it was marked stopped)")
        #expect(nodes.first?.pid == 200, "within a name, running nodes first, the newest heartbeat first")
        // Restarts leave the ten most recently stopped nodes of a name, no more.
        for pid in 300..<320 {
            let node = RuntimeInfo(name: "shop", pid: Int32(pid), host: "h1", store: h.store.location, startedAt: h.t0, heartbeatAt: h.t0)
            try h.store.declare(queues: [QueueSpec("q")], rules: [], runtime: node)
            try h.store.markStopped(runtime: node, at: h.t0 + .seconds(Int64(pid)))
        }
        #expect(try h.store.runtimes().filter { $0.stoppedAt != nil }.count <= 11)
        #expect(try h.store.runtimes().contains { $0.pid == 200 && $0.stoppedAt == nil }, "a live node is never pruned")
    }

    @Test(arguments: backends) func anUnstartedMessageWhoseLeaseRanOutFirstKeepsItsAttempt(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish([h.event("a")])
        let message = try h.claim(h.t0, h.request(lease: .seconds(5)))[0]
        try h.tick(h.t0 + .seconds(6)) { $0.expireLeases = ["q"] }
        // The runtime was stopping: the message never reached its handler, and is handed back late.
        let result = try h.finish(message, at: h.t0 + .seconds(7), .unstarted)
        #expect(result.staleOutcomes == 0)
        let again = try h.claim(h.t0 + .seconds(7))
        #expect(again.map(\.claim.attempt) == [1], "the attempt the expiry spent never ran (it was lost: 2)")
        #expect(again.map(\.claim.delivery) == [2])
        // Handed back twice, or after a new claim: nothing changes.
        #expect(try h.finish(message, at: h.t0 + .seconds(8), .unstarted).staleOutcomes == 1)
    }

    // MARK: Retries and dead letters

    @Test(arguments: backends) func retriesWaitForTheirTimeAndDeadLetterKeepsEveryError(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.declare(["q"])
        try h.publish([h.event("a")])
        var now = h.t0
        for attempt in 1...3 {
            let claimed = try h.claim(now)
            #expect(claimed.map(\.claim.attempt) == [attempt])
            now = now + .milliseconds(10)
            if attempt < 3 {
                let retryAt = now + .seconds(1)
                try h.finish(claimed[0], at: now, .retry(error: "timeout \(attempt)", at: retryAt))
                #expect(try h.claim(now + .milliseconds(999)).isEmpty, "a scheduled retry is not ready early")
                let next = try h.tick(now) { $0.claims = [h.request()] }.nextReady["q"]
                #expect(next == retryAt, "the engine learns when to wake")
                #expect(try h.stats(at: now)?.scheduled == 1)
                now = retryAt
            } else {
                try h.finish(claimed[0], at: now, .deadLetter(error: "timeout 3", reason: .maxAttempts))
            }
        }
        #expect(try h.kinds().filter { $0 != "claimed" } == [
            "published", "routed", "enqueued", "failed", "retry-scheduled", "failed", "retry-scheduled", "failed", "dead-lettered",
        ])
        #expect(try h.log().first { $0.kind == .retryScheduled }?.detail == "retry in 1.000s")
        let dead = try h.store.deadLetters(queue: "q", limit: 10)
        #expect(dead.count == 1)
        #expect(dead[0].reason == .maxAttempts)
        #expect(dead[0].attempts == 3)
        #expect(dead[0].errors.map(\.error) == ["timeout 1", "timeout 2", "timeout 3"])
        #expect(dead[0].errors.map(\.attempt) == [1, 2, 3])
        #expect(dead[0].firstFailedAt == h.t0 + .milliseconds(10))
        #expect(dead[0].deadAt == now)
        #expect(dead[0].event == h.event("a"))
        let stats = try #require(try h.stats(at: now))
        #expect(stats.dead == 1 && stats.failed == 3 && stats.retried == 2 && stats.deadLettered == 1)
    }

    @Test(arguments: backends) func nonRetryableDeadLettersAtOnce(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.deadLetter(["a"])
        #expect(try h.store.deadLetters(queue: nil, limit: 10).map(\.reason) == [.nonRetryable])
    }

    @Test(arguments: backends) func exhaustingAttemptsByLeaseExpiryDeadLettersAtTheClaim(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish([h.event("a")])
        var now = h.t0
        for _ in 1...2 {
            _ = try h.claim(now, h.request(lease: .seconds(1), maxAttempts: 2))
            now = now + .seconds(1)
            try h.tick(now) { $0.expireLeases = ["q"] }
        }
        #expect(try h.claim(now, h.request(maxAttempts: 2)).isEmpty)
        let dead = try h.store.deadLetters(queue: "q", limit: 1)
        #expect(dead.first?.reason == .maxAttempts)
        // Two lease expiries, then why it died at the claim (the error its cause is made of).
        #expect(dead.first?.errors.count == 3)
        #expect(dead.first?.errors.last?.error == "no attempts left after lease expiry")
        #expect(dead.first?.deliveries == 2)
        let record = try #require(try h.log().last)
        #expect(record.kind == .deadLettered && record.attempt == 2 && record.error == "no attempts left after lease expiry")
    }

    @Test(arguments: backends) func tooOldMessagesAreDeadLetteredOnClaim(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish([h.event("a")])
        #expect(try h.claim(h.t0 + .seconds(61), h.request(maxAge: .seconds(60))).isEmpty)
        let letter = try #require(try h.store.deadLetters(queue: "q", limit: 1).first)
        #expect(letter.reason == .maxAge)
        #expect(try h.log().last?.error == "older than the queue's max age")
        // Its history ends with the reason it died, and its cause is of that error, counted.
        #expect(letter.errors.last?.error == "older than the queue's max age" && letter.fingerprint == "older than the queue's max age")
        #expect(try h.store.deadLetterGroups(.all).map(\.fingerprint) == ["older than the queue's max age"])
    }

    @Test(arguments: backends) func withDeadLetteringOffAnExhaustedMessageIsDropped(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish([h.event("a"), h.event("b")])
        let claimed = try h.claim(h.t0, h.request(limit: 1, deadLetter: false))
        try h.finish(claimed[0], at: h.t0, .drop(error: "boom"))
        #expect(try h.claim(h.t0 + .seconds(61), h.request(maxAge: .seconds(60), deadLetter: false)).isEmpty)
        #expect(try h.messages() == 0)
        #expect(try h.store.deadLetters(queue: nil, limit: 10).isEmpty)
        #expect(try h.log().filter { $0.kind == .deleted }.map(\.eventID) == ["a", "b"])
    }

    // MARK: Batch windows, routing

    @Test(arguments: backends) func heldMessagesWaitForTheirWindow(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish([h.event("a"), h.event("b")], held: true)
        #expect(try h.claim(h.t0 + .seconds(1)).isEmpty)
        #expect(try h.stats()?.held == 2)
        #expect(try h.all("q", .held).map(\.event.id) == ["a", "b"])
        try h.tick(h.t0 + .seconds(15)) { $0.releases = ["q"] }
        let claimed = try h.claim(h.t0 + .seconds(15))
        #expect(claimed.map(\.event.id) == ["a", "b"])
        let released = try h.log().filter { $0.kind == .batchReleased }
        #expect(released.count == 2 && released.allSatisfy { $0.detail == "window released 2 messages" })
    }

    @Test(arguments: backends) func unmatchedEventsAreRecordedAsRejected(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.tick(h.t0) { $0.publishes = [RoutedEvent(event: h.event("lost"), targets: [])] }
        #expect(try h.kinds() == ["published", "rejected"])
        #expect(try h.log().last?.error == "no rule matched")
    }

    @Test(arguments: backends) func eventsPublishedOutsideARuntimeWaitUnrouted(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.store.publishUnrouted([h.event("cli")], at: h.t0)
        let fetched = try h.tick(h.t0) { $0.fetchUnrouted = 10 }.unrouted
        #expect(fetched.map(\.event) == [h.event("cli")])
        try h.tick(h.t0) { $0.routings = fetched.map { ($0.seq, $0.event, [Target(queue: "q", held: false)]) } }
        #expect(try h.tick(h.t0) { $0.fetchUnrouted = 10 }.unrouted.isEmpty)
        #expect(try h.claim(h.t0).map(\.event.id) == ["cli"])
        let audit = try h.store.audit(page: PageRequest(limit: 10)).items
        #expect(audit.map(\.action) == [.publish] && audit.first?.count == 1 && audit.first?.actor == .current)
    }

    @Test(arguments: backends) func anEventIsRoutedOnceEvenIfTwoRuntimesFetchedIt(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.store.publishUnrouted([h.event("cli")], at: h.t0)
        let fetched = try h.tick(h.t0) { $0.fetchUnrouted = 10 }.unrouted
        let other = try h.made.openAgain()
        for store in [h.store, other] {  // two runtimes route what they both fetched
            var batch = WriteBatch(now: h.t0)
            batch.routings = fetched.map { ($0.seq, $0.event, [Target(queue: "q", held: false)]) }
            _ = try store.apply(batch)
        }
        #expect(try h.messages() == 1)
        #expect(try h.kinds().filter { $0 == "routed" }.count == 1)
    }

    @Test(arguments: backends) func depthLagAndPoisonAreCounted(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish((1...4).map { h.event("m\($0)") }, at: h.t0)
        let claimed = try h.claim(h.t0 + .seconds(1), h.request(limit: 2))
        try h.finish(claimed[0], at: h.t0 + .seconds(1), .retry(error: "x", at: h.t0 + .seconds(100)))
        let stats = try #require(try h.stats(at: h.t0 + .seconds(3)))
        #expect(stats.ready == 2)
        #expect(stats.inFlight == 1)
        #expect(stats.scheduled == 1)
        #expect(stats.poison == 1)
        #expect(stats.lagSeconds == 3)
        #expect(stats.lagMessages == 4)
    }

    @Test(arguments: backends) func declaredQueuesCarryTheirTypedMode(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.store.declare(
            queues: [QueueSpec("s"), QueueSpec("b", mode: .batch(every: .milliseconds(1500)))], rules: [],
            runtime: RuntimeInfo(name: "r", pid: 1, host: "h", store: h.store.location, startedAt: h.t0, heartbeatAt: h.t0))
        try h.publish([h.event("x")], to: "undeclared")
        let stats = try h.store.queueStats(now: h.t0)
        #expect(stats.map(\.name) == ["b", "s", "undeclared"])
        #expect(stats.map(\.mode) == [.batch(every: .milliseconds(1500)), .stream, nil])
        #expect(stats.map(\.modeName) == ["batch/1s", "stream", "?"])
        #expect(try h.store.runtimes().map(\.name) == ["r"])
    }

    @Test(arguments: backends) func traceFollowsTheCorrelation(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish([h.event("a"), h.event("b")])
        let trace = try h.store.trace(correlationID: "flow-a")
        #expect(Set(trace.map(\.eventID)) == ["a"])
        #expect(trace.map(\.kind) == [.published, .routed, .enqueued])
        #expect(try h.store.events(correlationID: "flow-a") == [h.event("a")])
        #expect(try h.store.events(correlationID: "nobody").isEmpty)
        let newest = try h.store.history(before: .max, limit: 2)
        #expect(newest.map(\.eventID) == ["b", "b"])
        #expect(try h.store.history(before: newest[1].seq, limit: 10).count == 4)
    }

    // MARK: Deduplication (QueueSpec.deduplicate)

    @Test(arguments: backends) func theSameSourceAndIdWithinTheWindowIsADuplicate(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.declare(["q", "plain"])
        func publish(_ events: [CloudEvent], at: Timestamp) throws {
            try h.tick(at) {
                $0.publishes = events.map { RoutedEvent(event: $0, targets: [Target(queue: "q", held: false, deduplicate: .seconds(600)), Target(queue: "plain", held: false)]) }
            }
        }
        try publish([h.event("a")], at: h.t0)
        try publish([h.event("a")], at: h.t0 + .seconds(599))
        #expect(try h.messages("q") == 1, "not delivered again")
        #expect(try h.messages("plain") == 2, "a queue without a window is unchanged")
        let duplicate = try #require(try h.log().first { $0.kind == .duplicate })
        #expect(duplicate.queue == "q" && duplicate.eventID == "a")
        let firstSeq = try #require(try h.store.events(matching: EventQuery(id: "a"), after: 0, limit: 1).first?.seq)
        #expect(duplicate.detail == "source and id accepted at \(h.t0.rfc3339) (event seq \(firstSeq))")
        #expect(try h.stats("q")?.duplicates == 1)
        #expect(try h.stats("plain")?.duplicates == 0)
    }

    @Test(arguments: backends) func duplicatesInOneTickTooAndOnlyForTheSameSource(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish([h.event("a"), h.event("a"), h.event("a", source: "/other"), h.event("b")], deduplicate: .seconds(600))
        #expect(try h.messages("q") == 3)
        #expect(try h.log().filter { $0.kind == .duplicate }.count == 1)
    }

    @Test(arguments: backends) func afterTheWindowAnEventIsAcceptedAgain(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish([h.event("a"), h.event("b")], deduplicate: .seconds(600), at: h.t0)
        try h.publish([h.event("a")], deduplicate: .seconds(600), at: h.t0 + .seconds(601))
        #expect(try h.messages("q") == 3)
        #expect(try h.log().filter { $0.kind == .duplicate }.isEmpty)
        // Accepted again means remembered again: a third copy inside the new window is a duplicate.
        try h.publish([h.event("a")], deduplicate: .seconds(600), at: h.t0 + .seconds(700))
        #expect(try h.messages("q") == 3)
        // Pruned entries are forgotten, not kept as duplicates: "b" long after is accepted.
        try h.publish([h.event("b")], deduplicate: .seconds(600), at: h.t0 + .seconds(2000))
        #expect(try h.messages("q") == 4)
    }

    // MARK: Routing ownership (several runtimes on one store)

    @Test(arguments: backends) func eventsGoByTheRulesOfEveryLiveRuntime(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        func node(_ name: String, pid: Int32) -> RuntimeInfo {
            RuntimeInfo(name: name, pid: pid, host: "h", store: h.store.location, startedAt: h.t0, heartbeatAt: h.t0)
        }
        let shop = node("shop", pid: 10), search = node("search", pid: 20)
        try h.store.declare(queues: [QueueSpec("orders")], rules: [Rule("main", pattern: .type("order"), targets: ["orders"])], runtime: shop)
        // Both name their rule "main": each keeps its own.
        try h.store.declare(
            queues: [QueueSpec("index", mode: .batch(every: .seconds(60)), deduplicate: .seconds(30))],
            rules: [try Rule("main", pattern: #"{"type": ["listing"]}"#, targets: ["index"])], runtime: search)
        // A third runtime, with no rules of its own, routes by theirs.
        let router = FleetRouter(local: try Router(rules: [], queues: []), runtime: "edge")
        func targets(_ type: String, at now: Timestamp, refresh: Bool = false) throws -> [Target] {
            try h.tick(now) { $0.router = router; $0.refreshRouting = refresh }
            return router.targets(of: CloudEvent(id: "x", source: "/t", type: type))
        }
        #expect(try targets("order", at: h.t0) == [Target(queue: "orders", held: false)])
        #expect(try targets("listing", at: h.t0) == [Target(queue: "index", held: true, deduplicate: .seconds(30))])
        #expect(try targets("other", at: h.t0).isEmpty)

        // A new declaration replaces the runtime's rules.
        try h.store.declare(queues: [QueueSpec("orders")], rules: [], runtime: shop)
        #expect(try targets("order", at: h.t0).isEmpty)
        // A stopped runtime's rules no longer count.
        try h.store.markStopped(runtime: search, at: h.t0 + .seconds(1))
        #expect(try targets("listing", at: h.t0 + .seconds(1)).isEmpty)
        // Nor those of one whose heartbeat went silent: a heartbeat tick reads them again.
        try h.store.declare(queues: [QueueSpec("orders")], rules: [Rule("main", pattern: .type("order"), targets: ["orders"])], runtime: shop)
        #expect(try targets("order", at: h.t0 + .seconds(2)) == [Target(queue: "orders", held: false)])
        #expect(try targets("order", at: h.t0 + .seconds(60), refresh: true).isEmpty)
    }

    @Test(arguments: backends) func eventsRoutedByOutdatedRulesAreRoutedAgainByTheNewOnes(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.declare(["q"])
        let router = FleetRouter(local: try Router(rules: [], queues: []), runtime: "test")
        try h.store.publishUnrouted([h.event("cli")], at: h.t0)
        let fetched = try h.tick(h.t0) { $0.fetchUnrouted = 10; $0.router = router }.unrouted
        #expect(router.targets(of: fetched[0].event).isEmpty)
        // Another runtime declares its rules after this one decided (no rule matched): the
        // transaction that stores the decision sees them and routes by them.
        let other = try h.made.openAgain()
        try other.declare(
            queues: [QueueSpec("other")], rules: [Rule("r", pattern: .type("listing.uploaded"), targets: ["other"])],
            runtime: RuntimeInfo(name: "other", pid: 2, host: "h", store: other.location, startedAt: h.t0, heartbeatAt: h.t0))
        try h.tick(h.t0) {
            $0.routings = fetched.map { ($0.seq, $0.event, router.targets(of: $0.event)) }
            $0.publishes = [RoutedEvent(event: h.event("direct"), targets: router.targets(of: h.event("direct")))]
            $0.router = router
        }
        #expect(try h.messages("other") == 2)
        #expect(!(try h.kinds().contains("rejected")))
        #expect(router.targets(of: h.event("later")) == [Target(queue: "other", held: false)])
    }

    @Test(arguments: backends) func unroutedEventsAreDeduplicatedWhenARuntimeRoutesThem(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.store.publishUnrouted([h.event("a"), h.event("a")], at: h.t0)
        let fetched = try h.tick(h.t0) { $0.fetchUnrouted = 10 }.unrouted
        try h.tick(h.t0) { $0.routings = fetched.map { ($0.seq, $0.event, [Target(queue: "q", held: false, deduplicate: .seconds(60))]) } }
        #expect(try h.messages("q") == 1)
        #expect(try h.log().map(\.kind) == [.published, .published, .routed, .enqueued, .routed, .duplicate])
    }

    // MARK: Stored events

    @Test(arguments: backends) func storedEventsMatchEveryFilterInBothDirections(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        for n in 0..<10 {
            let event = CloudEvent(
                id: "e\(n)", source: n % 2 == 0 ? "/even" : "/odd", type: n < 5 ? "early" : "late", time: nil, correlationID: "flow-\(n % 3)")
            try h.store.publishUnrouted([event], at: h.t0 + .seconds(Int64(n)))
        }
        func ids(_ query: EventQuery) throws -> [String] { try h.store.events(matching: query, after: 0, limit: 100).map(\.event.id) }
        #expect(try ids(EventQuery()) == (0..<10).map { "e\($0)" })
        #expect(try ids(EventQuery(correlationID: "flow-1")) == ["e1", "e4", "e7"])
        #expect(try ids(EventQuery(id: "e3")) == ["e3"])
        #expect(try ids(EventQuery(source: "/odd", type: "late")) == ["e5", "e7", "e9"])
        #expect(try ids(EventQuery(publishedSince: h.t0 + .seconds(8))) == ["e8", "e9"])
        #expect(try ids(EventQuery(publishedUntil: h.t0 + .seconds(2))) == ["e0", "e1"])
        #expect(try ids(EventQuery(correlationID: "flow-0", publishedSince: h.t0 + .seconds(1), publishedUntil: h.t0 + .seconds(9))) == ["e3", "e6"])
        var seen: [String] = []
        var cursor: Int64 = 0
        while let page = Optional(try h.store.events(matching: EventQuery(), after: cursor, limit: 3)), let last = page.last {
            seen += page.map(\.event.id)
            cursor = last.seq
        }
        #expect(seen == (0..<10).map { "e\($0)" })
        let newest = try h.store.events(matching: EventQuery(type: "early"), before: .max, limit: 2)
        #expect(newest.map(\.event.id) == ["e4", "e3"])
        #expect(try h.store.events(matching: EventQuery(type: "early"), before: newest[1].seq, limit: 10).map(\.event.id) == ["e2", "e1", "e0"])
        #expect(newest[0].publishedAt == h.t0 + .seconds(4))
    }

    // MARK: Paging

    @Test(arguments: backends) func deadLettersPageNewestFirstWithACursor(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.deadLetter((0..<7).map { "d\($0)" })
        try h.deadLetter(["other"], queue: "r", from: h.t0 + .seconds(100))
        var ids: [String] = []
        var cursor: PageCursor?
        var pages = 0
        repeat {
            let page = try h.store.deadLetters(DeadLetterSelection(queue: "q"), page: PageRequest(limit: 3, after: cursor))
            ids += page.items.map(\.event.id)
            cursor = page.next
            pages += 1
        } while cursor != nil
        #expect(ids == (0..<7).reversed().map { "d\($0)" })
        #expect(pages == 3)
        #expect(try h.store.deadLetters(.all, page: PageRequest(limit: 100)).items.count == 8)
        // A cursor survives its text form (a CLI's --after).
        let first = try h.store.deadLetters(.all, page: PageRequest(limit: 2))
        let cursorText = try #require(first.next).description
        let second = try h.store.deadLetters(.all, page: PageRequest(limit: 2, after: PageCursor(cursorText)))
        #expect(second.items.map(\.event.id) == ["d5", "d4"])
        let chosen = try h.store.deadLetters(DeadLetterSelection(messageIDs: [first.items[1].messageID]), page: PageRequest(limit: 10))
        #expect(chosen.items.map(\.event.id) == [first.items[1].event.id])
    }

    @Test(arguments: backends) func messagesPageByQueueAndStateInDeliveryOrder(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        for n in 0..<9 { try h.publish([h.event("m\(n)")], at: h.t0 + .milliseconds(Int64(n % 3))) }
        try h.publish([h.event("elsewhere")], to: "r")
        let claimed = try h.claim(h.t0 + .seconds(1), h.request(limit: 2))
        let ready = try h.all("q", .ready, pageSize: 2)
        #expect(ready.count == 7)
        #expect(ready.map(\.readyAt) == ready.map(\.readyAt).sorted())
        #expect(Set(ready.map(\.event.id)).isDisjoint(with: claimed.map(\.event.id)))
        let inFlight = try h.all("q", .inFlight)
        #expect(inFlight.map(\.id).sorted() == claimed.map(\.claim.messageID).sorted())
        #expect(inFlight.allSatisfy { $0.state == .inFlight && $0.attempt == 1 && $0.deliveries == 1 })
        #expect(try h.all("q", .dead).isEmpty)
        #expect(try h.all("r", .ready).map(\.event.id) == ["elsewhere"])
    }

    // MARK: Redrive, delete, audit

    @Test(arguments: backends) func redriveMovesDeadLettersBackWithAFreshBudget(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let now = try h.deadLetter(["a", "b"])
        let operatorName = Operator(user: "ops", host: "laptop")
        let moved = try h.store.redrive(RedriveRequest(selection: DeadLetterSelection(queue: "q"), actor: operatorName, replayID: "r-1"), at: now)
        #expect(moved.count == 2)
        #expect(try h.store.deadLetters(queue: nil, limit: 10).isEmpty)
        let ready = try h.all("q", .ready)
        #expect(ready.map(\.id).sorted() == moved.messageIDs.sorted(), "the same messages, ready again")
        #expect(ready.allSatisfy { $0.attempt == 0 && $0.errors.count == 1 }, "a fresh budget; the history is kept")
        let again = try h.claim(now, h.request(limit: 10))
        #expect(again.map(\.event.id).sorted() == ["a", "b"])
        #expect(again.allSatisfy { $0.claim.attempt == 1 && $0.claim.delivery == 2 }, "attempt 1 again, on a new delivery")
        #expect(again.map(\.event) .sorted { $0.id < $1.id } == [h.event("a"), h.event("b")], "id, correlation and causation kept")
        let records = try h.log().filter { $0.kind == .redriven }
        #expect(records.count == 2)
        #expect(records.allSatisfy { $0.detail?.contains("replay r-1 by ops@laptop") == true })
        let audit = try #require(try h.store.audit(page: PageRequest(limit: 1)).items.first)
        #expect(audit.action == .redrive && audit.count == 2 && audit.actor == operatorName && audit.at == now)
        #expect(audit.detail.contains("r-1") && audit.detail.contains("queue q"))
    }

    @Test(arguments: backends) func deadLettersAreGroupedByCauseAndFilteredInTheStore(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        // Two causes on q (one of them twice, with different numbers), one on r; a second type.
        var now = h.t0
        func kill(_ id: String, _ error: String, queue: String = "q", type: String = "listing.uploaded", reason: DeadLetterReason = .nonRetryable) throws {
            var batch = WriteBatch(now: now)
            batch.publishes = [RoutedEvent(event: h.event(id, type: type), targets: [Target(queue: queue, held: false)])]
            _ = try h.store.apply(batch)
            let message = try h.claim(now, h.request(queue))
            try h.finish(message[0], at: now, .deadLetter(error: error, reason: reason))
            now = now + .seconds(1)
        }
        try kill("a", "timeout after 2s on listing-1")
        try kill("b", "timeout after 35s on listing-22")
        try kill("c", "price is not a number: \"abc\"")
        try kill("d", "timeout after 2s on listing-4", queue: "r")
        try kill("e", "timeout after 2s on listing-5", type: "listing.sold")
        let all = try h.store.read { try $0.deadLetterGroups(.all) }
        #expect(all.map(\.count) == [2, 1, 1, 1])
        let timeout = try #require(all.first, "\(all)")
        #expect(timeout.queue == "q" && timeout.type == "listing.uploaded" && timeout.fingerprint == "timeout after <n>s on listing-<n>")
        #expect(timeout.firstDeadAt == h.t0 && timeout.lastDeadAt == h.t0 + .seconds(1) && timeout.failedAgain == 0)
        func ids(_ selection: DeadLetterSelection) throws -> [String] {
            try h.store.read { try $0.deadLetters(selection, page: PageRequest(limit: 100)).items.map(\.event.id).sorted() }
        }
        func count(_ selection: DeadLetterSelection) throws -> Int { try h.store.read { try $0.deadLetterCount(selection) } }
        #expect(try ids(timeout.selection) == ["a", "b"])
        #expect(try count(timeout.selection) == 2)
        #expect(try ids(DeadLetterSelection(fingerprint: timeout.fingerprint)) == ["a", "b", "d", "e"])
        #expect(try ids(DeadLetterSelection(type: "listing.sold")) == ["e"])
        #expect(try count(DeadLetterSelection(type: "listing.sold")) == 1)
        #expect(try ids(DeadLetterSelection(deadSince: h.t0 + .seconds(1), deadUntil: h.t0 + .seconds(3))) == ["b", "c"])
        #expect(try count(.all) == 5)
        // Replayed and dead again: counted as failed again, by group and by filter.
        let a = try #require(try h.store.read { try $0.deadLetters(timeout.selection, page: PageRequest(limit: 1)) }.items.first)
        #expect(a.fingerprint == timeout.fingerprint && a.replays == 0)
        _ = try h.store.redrive(RedriveRequest(selection: DeadLetterSelection(messageIDs: [a.messageID])), at: now)
        let again = try h.claim(now, h.request("q"))
        try #require(again.count == 1)
        try h.finish(again[0], at: now, .deadLetter(error: "timeout after 9s on listing-2", reason: .nonRetryable))
        #expect(try h.store.read { try $0.deadLetterGroups(DeadLetterSelection(queue: "q")) }.first?.failedAgain == 1)
        #expect(try ids(DeadLetterSelection(failedAgain: true)) == [again[0].event.id])
        #expect(try count(DeadLetterSelection(failedAgain: false)) == 4)
        let replayed = try #require(try h.store.read { try $0.deadLetters(DeadLetterSelection(failedAgain: true), page: PageRequest(limit: 1)) }.items.first)
        #expect(replayed.replays == 1 && replayed.errors.count == 2, "the history keeps both failures")
        // A cause is per queue and type: the malformed one on q of listing.uploaded.
        #expect(try h.store.read { try $0.deadLetterGroups(DeadLetterSelection(queue: "q", type: "listing.uploaded")) }.map(\.fingerprint).contains("price is not a number: \"…\""))
    }

    @Test(arguments: backends) func aLargeRedriveRunsInBatchesEachAudited(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        var batch = WriteBatch(now: h.t0)
        batch.claims = [h.request(limit: 60)]
        batch.publishes = (0..<60).map { RoutedEvent(event: h.event("e\($0)"), targets: [Target(queue: "q", held: false)]) }
        let claimed = try h.store.apply(batch).claimed
        var fail = WriteBatch(now: h.t0)
        fail.outcomes = claimed.map { Outcome(claim: $0.claim, duration: .zero, finishedAt: h.t0, result: .deadLetter(error: "x", reason: .nonRetryable)) }
        _ = try h.store.apply(fail)
        let some = try h.store.redriveInBatches(RedriveRequest(selection: .all, replayID: "big", limit: 45), batch: 20)
        #expect(some.count == 45 && Set(some.messageIDs).count == 45)
        #expect(try h.store.audit(page: PageRequest(limit: 10)).items.map(\.count) == [5, 20, 20], "one audit per transaction, newest first")
        #expect(try h.store.deadLetterCount(.all) == 15)
        let rest = try h.store.deleteInBatches(DeleteRequest(selection: .all), batch: 10)
        #expect(rest.count == 15)
        #expect(try h.store.deadLetterCount(.all) == 0)
    }

    @Test(arguments: backends) func redriveToAnotherQueueAndALateAckOfTheOldDeliveryIsStale(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.publish([h.event("a")])
        let first = try h.claim(h.t0, h.request(lease: .seconds(1)))[0]
        try h.tick(h.t0 + .seconds(1)) { $0.expireLeases = ["q"] }
        let second = try h.claim(h.t0 + .seconds(1))[0]
        try h.finish(second, at: h.t0 + .seconds(1), .deadLetter(error: "bad", reason: .nonRetryable))
        let moved = try h.store.redrive(RedriveRequest(selection: .all, to: "repair", replayID: "r-2"), at: h.t0 + .seconds(2))
        #expect(moved.count == 1)
        #expect(try h.messages("q") == 0)
        let repaired = try h.claim(h.t0 + .seconds(2), h.request("repair"))
        #expect(repaired.map(\.claim.delivery) == [3])
        // The first delivery's handler finally returns: it must not ack the replayed message.
        #expect(try h.finish(first, at: h.t0 + .seconds(3), .succeeded(children: [])).staleOutcomes == 1)
        #expect(try h.stats("repair", at: h.t0 + .seconds(3))?.inFlight == 1)
        #expect(try h.log().last { $0.kind == .redriven }?.detail?.contains("from q") == true)
    }

    @Test(arguments: backends) func redriveSelectsByMessageAndLimit(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let now = try h.deadLetter(["a", "b", "c"])
        let dead = try h.store.deadLetters(queue: nil, limit: 10)
        let chosen = try h.store.redrive(RedriveRequest(selection: DeadLetterSelection(messageIDs: [dead[0].messageID])), at: now)
        #expect(chosen.messageIDs == [dead[0].messageID])
        let oldest = try h.store.redrive(RedriveRequest(selection: .all, limit: 1), at: now)
        #expect(oldest.messageIDs == [dead[2].messageID], "oldest dead first")
        #expect(try h.store.deadLetters(queue: nil, limit: 10).map(\.event.id) == ["b"])
        #expect(try h.store.redrive(RedriveRequest(selection: DeadLetterSelection(queue: "nothing")), at: now).count == 0)
        #expect(try h.store.audit(page: PageRequest(limit: 10)).items.map(\.count) == [0, 1, 1], "an empty redrive is audited too")
    }

    @Test(arguments: backends) func redriveIsExactlyOnceFromTwoThreads(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let now = try h.deadLetter((0..<40).map { "d\($0)" })
        let stores = [h.store, try h.made.openAgain()]
        let results = Results()
        let group = DispatchGroup()
        for (index, store) in stores.enumerated() {
            DispatchQueue.global().async(group: group) {
                do {
                    // Each replays in small bites so the two interleave.
                    for _ in 0..<20 {
                        results.add(try store.redrive(RedriveRequest(selection: .all, replayID: "t\(index)", limit: 3), at: now).messageIDs)
                    }
                } catch {
                    results.fail(error)
                }
            }
        }
        group.wait()
        #expect(results.errors.isEmpty, "\(results.errors)")
        #expect(results.ids.count == 40, "every dead letter moved")
        #expect(Set(results.ids).count == 40, "and none twice")
        #expect(try h.log().filter { $0.kind == .redriven }.count == 40)
        #expect(try h.stats(at: now)?.ready == 40)
        #expect(try h.store.deadLetters(queue: nil, limit: 100).isEmpty)
    }

    @Test(arguments: backends) func deleteRemovesDeadLettersOnlyWithARecordAndAnAudit(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let now = try h.deadLetter(["a", "b"])
        try h.publish([h.event("live")], at: now)
        let dead = try h.store.deadLetters(queue: nil, limit: 10)
        let live = try h.all("q", .ready)
        // A live message's id is not a dead letter: it is not deleted.
        let deleted = try h.store.delete(DeleteRequest(selection: DeadLetterSelection(messageIDs: dead.map(\.messageID) + live.map(\.id)), actor: Operator(user: "ops", host: "h")), at: now)
        #expect(deleted.messageIDs.sorted() == dead.map(\.messageID).sorted())
        #expect(try h.store.deadLetters(queue: nil, limit: 10).isEmpty)
        #expect(try h.all("q", .ready).map(\.event.id) == ["live"])
        #expect(try h.log().filter { $0.kind == .deleted }.count == 2)
        #expect(try h.store.events(matching: EventQuery(id: "a"), after: 0, limit: 1).count == 1, "the event stays")
        let audit = try #require(try h.store.audit(page: PageRequest(limit: 1)).items.first)
        #expect(audit.action == .delete && audit.count == 2 && audit.actor.description == "ops@h")
        #expect(try h.store.delete(DeleteRequest(selection: .all), at: now).count == 0, "deleted once")
    }

    // MARK: Dead letters by text

    /// Kills one message of `queue` with `payload`: it fails with each of `errors` in turn (the
    /// last one dead-letters it), one tick a second from `at`; returns its message id and the time after.
    @discardableResult
    static func kill(
        _ h: StoreHarness, _ id: String, payload: Payload?, errors: [String], queue: String = "q", type: String = "listing.uploaded", at: Timestamp
    ) throws -> (id: Int64, next: Timestamp) {
        var now = at
        try h.publish([CloudEvent(id: id, source: "/test", type: type, time: h.t0, data: payload, correlationID: "flow-\(id)")], to: queue, at: now)
        var messageID: Int64 = 0
        for (n, error) in errors.enumerated() {
            let message = try h.claim(now, h.request(queue, maxAttempts: 10))
            try #require(message.count == 1)
            messageID = message[0].claim.messageID
            let last = n == errors.count - 1
            try h.finish(message[0], at: now, last ? .deadLetter(error: error, reason: .nonRetryable) : .retry(error: error, at: now))
            now = now + .seconds(1)
        }
        return (messageID, now)
    }

    @Test(arguments: backends) func deadLettersAreFoundByAnyAttemptsErrorAndByTheirPayloadText(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        var now = h.t0
        func kill(_ id: String, _ payload: Payload?, _ errors: [String], queue: String = "q") throws {
            now = try Self.kill(h, id, payload: payload, errors: errors, queue: queue, at: now).next
        }
        try kill("a", try .json(object: ["listing": "L-7"]), ["Connection refused by pricing", "upstream timeout", "gave up: HTTP 503"])
        try kill("b", try .json(object: ["listing": "Ölwagen 42", "price": "call for price"]), ["malformed price"])
        try kill("c", .text("plain text: CALL FOR PRICE"), ["malformed price"], queue: "r")
        try kill("d", .binary(Data("binary call for price".utf8)), ["bad bytes: call for price"])
        try kill("e", nil, ["no payload at all"])
        func ids(_ selection: DeadLetterSelection) throws -> [String] {
            try h.store.deadLetters(selection, page: PageRequest(limit: 100)).items.map(\.event.id).sorted()
        }
        func count(_ selection: DeadLetterSelection) throws -> Int { try h.store.deadLetterCount(selection) }
        // Any attempt's error, not only the last; case-insensitive substrings.
        #expect(try ids(DeadLetterSelection(errorText: "connection REFUSED")) == ["a"])
        #expect(try ids(DeadLetterSelection(errorText: "upstream")) == ["a"])
        #expect(try ids(DeadLetterSelection(errorText: "http 503")) == ["a"])
        #expect(try ids(DeadLetterSelection(errorText: "MALFORMED")) == ["b", "c"])
        #expect(try count(DeadLetterSelection(errorText: "MALFORMED")) == 2)
        // The payload: JSON as stored, or text; a binary payload is not searched (its error is).
        #expect(try ids(DeadLetterSelection(payloadText: "call for price")) == ["b", "c"])
        #expect(try count(DeadLetterSelection(payloadText: "call for price")) == 2)
        #expect(try ids(DeadLetterSelection(payloadText: "öLWAGEN")) == ["b"], "case folding beyond ASCII")
        #expect(try ids(DeadLetterSelection(payloadText: #""listing":"L-7""#)) == ["a"], "the JSON text, quotes and all")
        #expect(try ids(DeadLetterSelection(errorText: "call for price")) == ["d"])
        #expect(try ids(DeadLetterSelection(errorText: "Ölwagen")) == [], "an error search does not look in payloads")
        #expect(try ids(DeadLetterSelection(payloadText: "payload")) == [])
        // With other conditions, and both texts at once (all must hold).
        #expect(try ids(DeadLetterSelection(queue: "q", payloadText: "call for price")) == ["b"])
        #expect(try count(DeadLetterSelection(queue: "r", payloadText: "call for price")) == 1)
        #expect(try ids(DeadLetterSelection(errorText: "malformed", payloadText: "ölwagen")) == ["b"])
        #expect(try count(DeadLetterSelection(errorText: "refused", payloadText: "ölwagen")) == 0)
        // Groups and counts are of the matching letters only (not the kept counts by cause).
        let groups = try h.store.deadLetterGroups(DeadLetterSelection(errorText: "malformed"))
        #expect(groups.map(\.count) == [1, 1] && Set(groups.map(\.queue)) == ["q", "r"])
        #expect(try h.store.deadLetterGroups(DeadLetterSelection(errorText: "nothing like it")).isEmpty)
        // Paged newest first with a cursor, as without text.
        let first = try h.store.deadLetters(DeadLetterSelection(errorText: "price"), page: PageRequest(limit: 2))
        let cursor = try #require(first.next)
        let second = try h.store.deadLetters(DeadLetterSelection(errorText: "price"), page: PageRequest(limit: 2, after: cursor))
        #expect(first.items.map(\.event.id) == ["d", "c"] && second.items.map(\.event.id) == ["b"] && second.next == nil)
    }

    @Test(arguments: backends) func searchTextIsLiteralWhateverItHolds(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let weird = #"weird "quoted" AND x* NEAR(a b) {errors}: col OR -z ^start"#
        var now = try Self.kill(h, "w", payload: .text(#"say "hi" * AND"#), errors: [weird], at: h.t0).next
        now = try Self.kill(h, "n", payload: .text("and or not"), errors: ["plain and simple"], at: now).next
        func ids(_ selection: DeadLetterSelection) throws -> [String] {
            try h.store.deadLetters(selection, page: PageRequest(limit: 100)).items.map(\.event.id).sorted()
        }
        // What would be FTS syntax unquoted is text here: operators, stars, quotes, columns, parentheses.
        for text in [#""quoted" AND"#, "x* NEAR(", "NEAR(a b)", "{errors}: col", "OR -z ^start", "\"\"\"", "AND x*"] {
            let expected = weird.lowercased().contains(text.lowercased()) ? ["w"] : []
            #expect(try ids(DeadLetterSelection(errorText: text)) == expected, "\(text)")
            #expect(try h.store.deadLetterCount(DeadLetterSelection(errorText: text)) == expected.count, "\(text)")
        }
        #expect(try ids(DeadLetterSelection(errorText: "AND")) == ["n", "w"], "a word of the query syntax is text, case-insensitive")
        #expect(try ids(DeadLetterSelection(payloadText: #""hi" * AND"#)) == ["w"])
        #expect(try ids(DeadLetterSelection(errorText: #"quoted" OR "plain"#)) == [], "no operator inside the text")
        // Shorter than three characters: refused in words, by every operation, nothing changed.
        let letters = try h.store.deadLetterCount(.all)
        for selection in [DeadLetterSelection(errorText: "ab"), DeadLetterSelection(payloadText: "é"), DeadLetterSelection(errorText: ""),
                          DeadLetterSelection(queue: "q", errorText: "abc", payloadText: "xy")] {
            let message = try #require(selection.problem)
            #expect(message.contains("at least 3 characters"), "\(message)")
            #expect(throws: StoreError(message)) { try h.store.deadLetters(selection, page: PageRequest(limit: 10)) }
            #expect(throws: StoreError(message)) { try h.store.deadLetterCount(selection) }
            #expect(throws: StoreError(message)) { try h.store.deadLetterGroups(selection) }
            #expect(throws: StoreError(message)) { try h.store.redrive(RedriveRequest(selection: selection), at: now) }
            #expect(throws: StoreError(message)) { try h.store.delete(DeleteRequest(selection: selection), at: now) }
        }
        #expect(DeadLetterSelection(errorText: "ééé").problem == nil, "characters, not bytes")
        let nul = DeadLetterSelection(errorText: "abc\u{0}def")
        #expect(nul.problem == "error text cannot hold a NUL character")
        #expect(throws: StoreError("error text cannot hold a NUL character")) { try h.store.deadLetterCount(nul) }
        #expect(try h.store.deadLetterCount(.all) == letters)
    }

    @Test(arguments: backends) func theTextIndexFollowsReplaysDeathsAgainAndDeletes(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        var (id, now) = try Self.kill(h, "a", payload: try .json(object: ["part": "gearbox"]), errors: ["alpha failure"], at: h.t0)
        now = try Self.kill(h, "other", payload: nil, errors: ["unrelated"], at: now).next
        let alpha = DeadLetterSelection(errorText: "alpha"), beta = DeadLetterSelection(errorText: "beta"), gearbox = DeadLetterSelection(payloadText: "gearbox")
        func count(_ selection: DeadLetterSelection) throws -> Int { try h.store.deadLetterCount(selection) }
        #expect(try count(alpha) == 1 && count(gearbox) == 1)
        // Replayed: no longer a dead letter, so no longer found (the count reads the index alone).
        #expect(try h.store.redrive(RedriveRequest(selection: gearbox), at: now).messageIDs == [id])
        #expect(try count(alpha) == 0 && count(gearbox) == 0)
        #expect(try h.store.deadLetterGroups(alpha).isEmpty)
        // Dead again: found again, by its new error and by the one before the replay.
        let again = try h.claim(now, h.request(maxAttempts: 10))
        try #require(again.map(\.claim.messageID) == [id])
        try h.finish(again[0], at: now, .deadLetter(error: "beta failure", reason: .nonRetryable))
        #expect(try count(alpha) == 1 && count(beta) == 1 && count(gearbox) == 1)
        let letter = try #require(try h.store.deadLetters(beta, page: PageRequest(limit: 10)).items.first)
        #expect(letter.messageID == id && letter.replays == 1 && letter.errors.map(\.error) == ["alpha failure", "beta failure"])
        // Deleted: gone from the index too.
        #expect(try h.store.delete(DeleteRequest(selection: beta), at: now).messageIDs == [id])
        #expect(try count(alpha) == 0 && count(beta) == 0 && count(gearbox) == 0)
        #expect(try count(DeadLetterSelection(errorText: "unrelated")) == 1, "the other letter is still there")
        // Dead-lettered at a claim (attempts spent by lease expiries): indexed with every error.
        try h.publish([h.event("lease")], at: now)
        for _ in 1...2 {
            _ = try h.claim(now, h.request(lease: .seconds(1), maxAttempts: 2))
            now = now + .seconds(1)
            try h.tick(now) { $0.expireLeases = ["q"] }
        }
        #expect(try h.claim(now, h.request(maxAttempts: 2)).isEmpty)
        #expect(try count(DeadLetterSelection(errorText: "no attempts left")) == 1)
        #expect(try count(DeadLetterSelection(errorText: "lease expired: no ack by")) == 1, "an earlier attempt's error")
        #expect(try h.store.deadLetters(DeadLetterSelection(payloadText: #""n":"lease""#), page: PageRequest(limit: 1)).items.map(\.event.id) == ["lease"])
    }

    @Test(arguments: backends) func auditRecordsPageNewestFirst(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        for n in 0..<5 { try h.store.publishUnrouted([h.event("p\(n)")], at: h.t0 + .seconds(Int64(n))) }
        var times: [Timestamp] = []
        var cursor: PageCursor?
        repeat {
            let page = try h.store.audit(page: PageRequest(limit: 2, after: cursor))
            times += page.items.map(\.at)
            cursor = page.next
        } while cursor != nil
        #expect(times == (0..<5).reversed().map { h.t0 + .seconds(Int64($0)) })
    }
}

/// Collects results from several threads.
final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [Int64] = []
    private var failures: [String] = []
    func add(_ ids: [Int64]) { lock.withLock { collected += ids } }
    func fail(_ error: Error) { lock.withLock { failures.append("\(error)") } }
    var ids: [Int64] { lock.withLock { collected } }
    var errors: [String] { lock.withLock { failures } }
}

/// What `openStore(url:)` picks, and refuses.
@Suite struct OpenStoreTests {
    @Test func aPathIsASQLiteStoreAPostgresURLAPostgresStoreAndOthersAreRefused() throws {
        let db = try TestStore()
        let store = try openStore(url: db.path, readOnly: false)
        #expect(store is SQLiteStore && store.location == db.path)
        let fileURL = try openReader(url: "file://" + db.path)
        #expect(fileURL.location == db.path)
        // No server there: the error names the store as `redacted` (user, host, port, database), never the password.
        for url in ["postgres://pipetop:s3cret-word@127.0.0.1:1/pipetop", "postgresql://u:s3cret-word@127.0.0.1:1/db"] {
            #expect { _ = try openStore(url: url, readOnly: false) } throws: { error in
                let text = "\(error)"
                return error is StoreError && !text.contains("s3cret") && text.contains("could not connect to the PostgreSQL store postgres://")
                    && text.contains("@127.0.0.1:1/")
            }
        }
        #expect { _ = try openReader(url: "mysql://h/db") } throws: { ($0 as? StoreError)?.unsupported == true }
    }

    @Test func aReaderCannotWrite() throws {
        let db = try TestStore()
        let reader = try openReader(url: db.path)
        // The type gives a reader only; underneath, the connection is read-only as well.
        let store = try #require(reader as? any Store)
        #expect(throws: (any Error).self) { try store.publishUnrouted([CloudEvent(id: "x", source: "/t", type: "t")], at: .now()) }
    }
}

/// The counts by cause are kept in step with the dead letters: after any mix of dead-lettering,
/// replays and deletes, the groups the store keeps equal the groups counted from the letters.
@Suite struct DeadLetterCauseTests {
    @Test(arguments: StoreFactory.all) func theKeptCountsEqualTheCountedOnes(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        var random = SeededRandom(seed: 12)
        var now = h.t0
        let errors = ["timeout after 2s", "timeout after 5s", "bad price 'x'", "bad price 'y'", "gone"]
        for round in 0..<40 {
            now = now + .seconds(1)
            var batch = WriteBatch(now: now)
            let queue = random.pick(["q", "r"])
            batch.claims = [h.request(queue, limit: 100)]
            batch.publishes = (0..<random.below(6)).map {
                RoutedEvent(event: h.event("e\(round)-\($0)", type: random.pick(["t1", "t2"])), targets: [Target(queue: queue, held: false)])
            }
            // The text rows of letters replayed, edited or deleted are purged a few at a time, or not at all.
            batch.purgeStaleText = round % 3 == 0 ? random.below(3) : 0
            let claimed = try h.store.apply(batch).claimed
            var fail = WriteBatch(now: now)
            fail.outcomes = claimed.map { Outcome(claim: $0.claim, duration: .zero, finishedAt: now, result: .deadLetter(error: random.pick(errors), reason: .nonRetryable)) }
            _ = try h.store.apply(fail)
            if random.chance(30) {
                _ = try h.store.redrive(RedriveRequest(selection: DeadLetterSelection(queue: random.pick(["q", "r"])), limit: random.below(4)), at: now)
            }
            if random.chance(15) { _ = try h.store.delete(DeleteRequest(selection: .all, limit: random.below(3)), at: now) }
            if random.chance(20) {
                let set = try FieldAssignment(parsing: "/fixed=\(round)")
                _ = try h.store.edit(EditRequest(.set([set], selection: DeadLetterSelection(queue: random.pick(["q", "r"])), limit: random.below(4))), at: now)
            }
            let kept = try h.store.deadLetterGroups(.all)
            // A time condition makes the store count the letters themselves.
            let counted = try h.store.deadLetterGroups(DeadLetterSelection(deadSince: Timestamp(micros: 0)))
            func key(_ g: DeadLetterGroup) -> String { "\(g.queue)|\(g.type)|\(g.fingerprint)" }
            #expect(kept.sorted { key($0) < key($1) } == counted.sorted { key($0) < key($1) }, "round \(round)")
            #expect(try h.store.deadLetterCount(.all) == counted.reduce(0) { $0 + $1.count })
            #expect(try h.store.deadLetterCount(DeadLetterSelection(type: "t1")) == counted.filter { $0.type == "t1" }.reduce(0) { $0 + $1.count })
            // The text index too: a text's count (the index alone) is that of the letters whose errors hold it.
            let letters = try h.store.deadLetters(.all, page: PageRequest(limit: 10_000)).items
            for text in ["timeout", "BAD PRICE", "gone", "after 5s"] {
                let holding = letters.filter { $0.errors.contains { $0.error.lowercased().contains(text.lowercased()) } }
                #expect(try h.store.deadLetterCount(DeadLetterSelection(errorText: text)) == holding.count, "round \(round): \(text)")
                #expect(try h.store.deadLetters(DeadLetterSelection(errorText: text), page: PageRequest(limit: 10_000)).items.map(\.messageID)
                        == holding.map(\.messageID), "round \(round): \(text)")
                // Small pages (the newest verified first, or the index's matches when too few are among them) add up to the same.
                for queue in [nil, "q"] {
                    let selection = DeadLetterSelection(queue: queue, errorText: text)
                    var paged: [Int64] = [], cursor: PageCursor?
                    repeat {
                        let page = try h.store.deadLetters(selection, page: PageRequest(limit: 2, after: cursor))
                        paged += page.items.map(\.messageID)
                        cursor = page.next
                    } while cursor != nil
                    #expect(paged == holding.filter { queue == nil || $0.queue == queue }.map(\.messageID), "round \(round): \(text) paged, queue \(queue ?? "any")")
                }
            }
            #expect(try h.store.deadLetterCount(DeadLetterSelection(payloadText: #""n":"e"#)) == letters.count)
            // An edited letter's payload is found by its new text only while it is dead again, never by
            // the text it had (its row then is replaced, or stale and not counted).
            let fixed = letters.filter { $0.event.data.map { String(decoding: $0.bytes, as: UTF8.self).contains(#""fixed""#) } ?? false }
            #expect(try h.store.deadLetterCount(DeadLetterSelection(payloadText: #""fixed""#)) == fixed.count, "round \(round)")
            #expect(try h.store.deadLetters(DeadLetterSelection(payloadText: #""fixed""#), page: PageRequest(limit: 10_000)).items.map(\.messageID)
                    == fixed.map(\.messageID), "round \(round)")
            // The queue stats (the live messages from their index, the dead from the counts by cause)
            // equal the messages paged state by state.
            for queue in ["q", "r"] {
                let stats = try h.store.queueStats(now: now).first { $0.name == queue }
                let ready = try h.all(queue, .ready), inFlight = try h.all(queue, .inFlight), dead = try h.all(queue, .dead)
                #expect((stats?.ready ?? 0) + (stats?.scheduled ?? 0) == ready.count, "round \(round) \(queue)")
                #expect((stats?.inFlight ?? 0) == inFlight.count, "round \(round) \(queue)")
                #expect((stats?.dead ?? 0) == dead.count, "round \(round) \(queue)")
                #expect(dead.count == letters.filter { $0.queue == queue }.count)
                let oldest = (ready + inFlight).map(\.enqueuedAt).min()
                #expect(stats?.oldestEnqueuedAt == oldest, "round \(round) \(queue)")
            }
        }
    }
}

// MARK: Edit, then replay

extension StoreConformanceTests {
    /// One event routed to q and r (a fan-out), both messages dead-lettered; returns both letters.
    func fannedOutDeadLetters(_ h: StoreHarness, _ id: String = "a") throws -> (q: DeadLetter, r: DeadLetter) {
        try h.tick(h.t0) { $0.publishes = [RoutedEvent(event: h.event(id), targets: [Target(queue: "q", held: false), Target(queue: "r", held: false)])] }
        let claimed = try h.tick(h.t0) { $0.claims = [h.request("q"), h.request("r")] }.claimed
        try h.tick(h.t0 + .milliseconds(1)) {
            $0.outcomes = claimed.map { Outcome(claim: $0.claim, duration: .milliseconds(1), finishedAt: h.t0 + .milliseconds(1), result: .deadLetter(error: "price is not a number: \"12,500\"", reason: .nonRetryable)) }
        }
        let letters = try h.store.deadLetters(queue: nil, limit: 10)
        return (try #require(letters.first { $0.queue == "q" }), try #require(letters.first { $0.queue == "r" }))
    }

    func edited(_ event: CloudEvent, _ json: String) -> CloudEvent {
        var edited = event
        edited.data = .json(Data(json.utf8))
        return edited
    }

    @Test(arguments: backends) func anEditIsANewVersionOfTheEventReplayedWhileTheOriginalStays(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        try h.declare(["q", "r"])
        let (q, r) = try fannedOutDeadLetters(h)
        let original = q.event
        let fixed = edited(original, #"{"n":"a","price":12500}"#)
        let ops = Operator(user: "ops", host: "laptop")
        let now = h.t0 + .seconds(5)
        let result = try h.store.edit(EditRequest(.replace(messageID: q.messageID, original: original, replays: 0, edited: fixed), actor: ops, replayID: "fix-1"), at: now)
        #expect(result.messageIDs == [q.messageID])

        // Delivered again from q with the edited payload: same id, source, type, time, correlation; fresh attempts.
        let again = try h.claim(now, h.request("q"))
        #expect(again.map(\.event) == [fixed])
        #expect(again.first?.claim.attempt == 1 && again.first?.claim.delivery == 2, "a fresh attempt budget and a new delivery")
        // The other queue's letter of the same event is untouched: it still carries the original.
        #expect(try h.store.deadLetters(queue: "r", limit: 10).map(\.event) == [original])
        #expect(try h.store.deadLetters(queue: "q", limit: 10).isEmpty)
        #expect(try h.store.deadLetterGroups(.all).map(\.queue) == ["r"], "the counts by cause follow")

        // Both versions are stored, oldest first; the original row is as it was.
        let stored = try h.store.events(matching: EventQuery(id: "a"), after: 0, limit: 10)
        #expect(stored.map(\.event) == [original, fixed])
        #expect(try h.store.events(correlationID: "flow-a") == [original, fixed])
        // The log: the original's history, then the edit and the replay on the new version.
        let trace = try h.store.trace(correlationID: "flow-a")
        #expect(trace.filter { $0.queue == "q" }.map(\.kind) == [.enqueued, .claimed, .failed, .deadLettered, .edited, .redriven, .claimed])
        let edit = try #require(trace.first { $0.kind == .edited })
        #expect(edit.eventID == "a" && edit.messageID == q.messageID && edit.queue == "q" && edit.time == now)
        #expect(edit.detail?.contains("ops@laptop") == true && edit.detail?.contains("fix-1") == true && edit.detail?.contains("\(stored[0].seq)") == true, "\(edit.detail ?? "")")
        #expect(trace.first { $0.kind == .redriven }?.detail?.contains("fresh attempt budget") == true)
        let audit = try #require(try h.store.audit(page: PageRequest(limit: 1)).items.first)
        #expect(audit.action == .edit && audit.count == 1 && audit.actor == ops && audit.at == now && audit.detail.contains("fix-1"))

        // Dead again after the edit: one letter, its history whole, its replays counted, the edited payload shown.
        try h.finish(again[0], at: now + .seconds(1), .deadLetter(error: "still wrong", reason: .nonRetryable))
        let dead = try #require(try h.store.deadLetters(queue: "q", limit: 1).first)
        #expect(dead.messageID == q.messageID && dead.replays == 1 && dead.event == fixed)
        #expect(dead.errors.map(\.error) == ["price is not a number: \"12,500\"", "still wrong"])
        _ = r
    }

    @Test(arguments: backends) func anInvalidEditIsRefusedAndStoresNothing(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let (q, _) = try fannedOutDeadLetters(h)
        let before = (try h.log(), try h.store.audit(page: PageRequest(limit: 10)).items.count, try h.store.publishedTotal())
        var renamed = edited(q.event, #"{"n":"b"}"#)
        renamed.id = "b"
        var text = q.event
        text.datacontenttype = "application/json"
        text.data = .binary(Data("12,500".utf8))
        let cases: [(CloudEvent, String)] = [
            (renamed, "attribute 'id' was changed ('a' → 'b')"),
            (text, "does not hold JSON"),
            (q.event, "changes nothing"),
        ]
        for (bad, message) in cases {
            #expect { try h.store.edit(EditRequest(.replace(messageID: q.messageID, original: q.event, replays: 0, edited: bad)), at: h.t0 + .seconds(1)) } throws: {
                "\($0)".contains(message)
            }
        }
        #expect(try h.log() == before.0)
        #expect(try h.store.audit(page: PageRequest(limit: 10)).items.count == before.1, "a refused edit is no mutation")
        #expect(try h.store.publishedTotal() == before.2)
        #expect(try h.store.deadLetters(queue: "q", limit: 1).first == q)
    }

    @Test(arguments: backends) func anEditOfALetterMovedSinceItWasReadChangesNothing(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let (q, r) = try fannedOutDeadLetters(h)
        // Replayed by someone else and dead again: the same event, one replay more.
        _ = try h.store.redrive(RedriveRequest(selection: DeadLetterSelection(messageIDs: [q.messageID])), at: h.t0 + .seconds(1))
        let message = try h.claim(h.t0 + .seconds(1), h.request("q"))
        try h.finish(message[0], at: h.t0 + .seconds(1), .deadLetter(error: "again", reason: .nonRetryable))
        let stale = EditRequest(.replace(messageID: q.messageID, original: q.event, replays: 0, edited: edited(q.event, #"{"n":"fixed"}"#)))
        #expect { try h.store.edit(stale, at: h.t0 + .seconds(2)) } throws: { "\($0)".contains("changed since it was read") }
        // Replayed and not dead any more: nothing to edit.
        _ = try h.store.redrive(RedriveRequest(selection: DeadLetterSelection(messageIDs: [r.messageID])), at: h.t0 + .seconds(2))
        let gone = EditRequest(.replace(messageID: r.messageID, original: r.event, replays: 0, edited: edited(r.event, #"{"n":"fixed"}"#)))
        #expect(try h.store.edit(gone, at: h.t0 + .seconds(3)).count == 0)
        #expect(try h.store.events(matching: EventQuery(id: "a"), after: 0, limit: 10).count == 1, "no version was stored")
    }

    @Test(arguments: backends) func editsAndReplaysRacingMoveEachLetterOnce(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        let now = try h.deadLetter((0..<40).map { "d\($0)" })
        let letters = try h.store.deadLetters(queue: nil, limit: 100)
        let stores = [h.store, try h.made.openAgain()]
        let results = Results()
        let group = DispatchGroup()
        for (index, store) in stores.enumerated() {
            DispatchQueue.global().async(group: group) {
                do {
                    // One edits every letter as it read it; the other edits half and replays the rest.
                    for letter in index == 0 ? letters : letters.reversed() {
                        let fixed = CloudEvent.edit(letter.event, by: index)
                        if index == 1, letter.messageID % 2 == 0 {
                            results.add(try store.redrive(RedriveRequest(selection: DeadLetterSelection(messageIDs: [letter.messageID])), at: now).messageIDs)
                        } else {
                            results.add(try store.edit(EditRequest(.replace(messageID: letter.messageID, original: letter.event, replays: 0, edited: fixed)), at: now).messageIDs)
                        }
                    }
                } catch {
                    results.fail(error)
                }
            }
        }
        group.wait()
        #expect(results.errors.isEmpty, "\(results.errors)")
        #expect(results.ids.count == 40 && Set(results.ids).count == 40, "every letter moved, none twice")
        #expect(try h.log().filter { $0.kind == .redriven }.count == 40)
        #expect(try h.stats(at: now)?.ready == 40)
        let edits = try h.log().filter { $0.kind == .edited }.count
        #expect(try h.store.publishedTotal() == Int64(40 + edits), "one new version per edit that moved a letter, no more")
    }

    @Test(arguments: backends) func aFieldEditSetsEveryLetterOrRefusesTheWholeSet(_ factory: StoreFactory) throws {
        let h = try StoreHarness(factory)
        var now = try h.deadLetter(["a", "b"])
        // c's payload is text: it cannot take a field edit.
        try h.tick(now) { $0.publishes = [RoutedEvent(event: CloudEvent(id: "c", source: "/test", type: "listing.uploaded", time: h.t0, datacontenttype: "text/plain", data: .text("12,500"), correlationID: "flow-c"), targets: [Target(queue: "q", held: false)])] }
        let message = try h.claim(now)
        try h.finish(message[0], at: now, .deadLetter(error: "malformed c", reason: .nonRetryable))
        now = now + .seconds(1)
        let price = try FieldAssignment(parsing: "/price=12500")
        let all = EditRequest(.set([price], selection: .all, limit: nil))
        #expect { try h.store.edit(all, at: now) } throws: { error in
            let text = "\(error)"
            return text.contains("1 of 3 dead letters cannot take the edit, so none was changed") && text.contains("not JSON (text/plain)")
        }
        #expect(try h.store.deadLetterCount(.all) == 3, "all or nothing")
        #expect(try h.store.audit(page: PageRequest(limit: 10)).items.allSatisfy { $0.action != .edit })

        let uploads = try h.store.deadLetters(queue: "q", limit: 10).filter { $0.event.id != "c" }
        #expect(uploads.count == 2)
        let some = EditRequest(.set([price, try FieldAssignment(parsing: "/n=\"fixed\"")], selection: DeadLetterSelection(messageIDs: uploads.map(\.messageID)), limit: 2), replayID: "set-1")
        #expect(try h.store.edit(some, at: now).messageIDs.sorted() == uploads.map(\.messageID).sorted())
        let replayed = try h.claim(now)
        #expect(Set(replayed.map { $0.event.data?.bytes }) == [Data(#"{"n":"fixed","price":12500}"#.utf8)])
        #expect(try h.log().filter { $0.kind == .edited }.allSatisfy { $0.detail?.contains("set /price=12500 /n=\"fixed\"") == true })
        // Dead again and set to what they already hold: replayed with their events unchanged.
        for message in replayed { try h.finish(message, at: now, .deadLetter(error: "malformed again", reason: .nonRetryable)) }
        let total = try h.store.publishedTotal()
        let same = EditRequest(.set([price], selection: DeadLetterSelection(messageIDs: uploads.map(\.messageID)), limit: nil))
        #expect(try h.store.edit(same, at: now + .seconds(1)).count == 2)
        #expect(try h.store.publishedTotal() == total, "no new version for an edit that changes nothing")
        #expect(try h.log().last { $0.kind == .edited }?.detail?.contains("it was so already") == true)

        #expect { try h.store.edit(EditRequest(.set([price], selection: .all, limit: EditRequest.maxLetters + 1)), at: now) } throws: {
            "\($0)".contains("at most \(EditRequest.maxLetters)")
        }
    }
}

extension CloudEvent {
    /// This event with a payload naming who fixed it.
    static func edit(_ event: CloudEvent, by editor: Int) -> CloudEvent {
        var edited = event
        edited.data = .json(Data(#"{"fixed_by":\#(editor)}"#.utf8))
        return edited
    }
}
