import Foundation
@testable import PipetopCore
import PipetopDemo
import PipetopThemes
import PipetopUI

/// A store filled through the real `SQLiteStore` by the demo's queues and rules, driven tick by
/// tick with fixed timestamps (as StoreTests does), so every figure on screen is reproducible.
///
/// Why not a real `pipetop demo` run: its scheduling, jitter and wall clock make each run
/// different, and a golden screen must be byte-identical. The store code is the real one; only
/// the clock and the handlers' outcomes are fixed. The dashboard's clock is injected the same way:
/// `AppState.now` only moves by `.tick`/`.data` messages carrying these fixed times, and
/// `utcOffset` is 0, so the screen never depends on when or where the test runs.
final class Fixture: @unchecked Sendable {
    static let t0 = Timestamp(micros: 1_800_000_000_000_000)  // 2027-01-15T08:00:00Z

    let directory: URL
    let store: SQLiteStore
    var path: String { store.location }
    let runtime: RuntimeInfo
    private var number = 0

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-ui-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try SQLiteStore(path: directory.appendingPathComponent("store.sqlite").path)
        runtime = RuntimeInfo(name: "demo", pid: 4242, host: "build-host", store: "store.sqlite", startedAt: Self.t0 - .seconds(95), heartbeatAt: Self.t0)
        try store.declare(queues: CarMarketplace.queues(batchWindow: .seconds(15)), rules: CarMarketplace.rules, runtime: runtime)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    static let specs = Dictionary(uniqueKeysWithValues: CarMarketplace.queues(batchWindow: .seconds(15)).map { ($0.name, $0) })

    func event(_ id: String, type: String, at time: Timestamp, correlation: String, cause: String? = nil) -> CloudEvent {
        CloudEvent(id: id, source: "/scraper", type: type, time: time, data: try! .json(object: ["id": id]), correlationID: correlation, causationID: cause)
    }

    @discardableResult
    func tick(_ at: Timestamp, _ build: (inout WriteBatch) -> Void) throws -> WriteResult {
        var batch = WriteBatch(now: at)
        build(&batch)
        var heartbeat = runtime
        heartbeat.heartbeatAt = at
        batch.heartbeat = heartbeat
        return try store.apply(batch)
    }

    /// Publishes one upload (to `parse` and the held `index-batch`).
    func upload(at time: Timestamp, type: String = "listing.uploaded") throws {
        number += 1
        let id = "L\(number)"
        let e = event(id, type: type, at: time, correlation: "listing-\(String(format: "%04d", number))")
        try tick(time) { $0.publishes = [RoutedEvent(event: e, targets: [Target(queue: "parse", held: false), Target(queue: "index-batch", held: true)])] }
    }

    /// Claims what is ready on the stream queues and settles each delivery by a fixed rule:
    /// every 7th enrich times out once (retried), every 11th upload is malformed (dead-lettered at
    /// once, with an error full of control characters), index shard errors for every 13th.
    func work(at time: Timestamp, leaveInFlight: Set<String> = []) throws {
        let requests = ["parse", "enrich", "index", "notify", "index-batch"].map { name in
            ClaimRequest(queue: name, limit: 50, lease: .seconds(30), maxAttempts: 4, maxAge: nil, deadLetter: true)
        }
        // Settled in a fixed order, with times that depend only on the message: the screens must
        // not depend on the order the store hands claims back in.
        let claimed = try tick(time) { $0.claims = requests }.claimed.sorted { ($0.claim.queue, $0.claim.messageID) < ($1.claim.queue, $1.claim.messageID) }
        var outcomes: [Outcome] = []
        for message in claimed {
            let claim = message.claim
            if leaveInFlight.contains(claim.queue) { continue }
            let n = Int(message.event.correlationID!.suffix(4))!
            let finished = time + .milliseconds(Int64(2 + n % 5))
            let duration = Duration.microseconds(Int64(300 + (n * 37 % 900)))
            var result: Outcome.Result = .succeeded(children: [])
            func child(_ type: String, _ targets: [String]) -> RoutedEvent {
                let e = event(message.event.id + "." + type.split(separator: ".").last!, type: type, at: finished,
                              correlation: message.event.correlationID!, cause: message.event.id)
                return RoutedEvent(event: e, targets: targets.map { Target(queue: $0, held: false) })
            }
            switch claim.queue {
            case "parse":
                result = n % 11 == 5
                    ? .deadLetter(error: "malformed listing L\(n): price \u{1B}[31m\"12O00\"\u{07} is not a number\r\nsecond line", reason: .nonRetryable)
                    : .succeeded(children: [child("listing.parsed", ["enrich"])])
            case "enrich":
                result = n % 7 == 3 && claim.attempt == 1
                    ? .retry(error: "timeout: pricing service did not answer in 2s", at: finished + .seconds(2))
                    : .succeeded(children: [child("listing.enriched", ["index", "notify"])])
            case "index":
                if n % 13 == 4 && claim.attempt < 4 {
                    result = claim.attempt < 3 ? .retry(error: "index shard 3 unavailable (attempt \(claim.attempt))", at: finished + .seconds(1))
                        : .deadLetter(error: "index shard 3 unavailable", reason: .maxAttempts)
                }
            default: break
            }
            outcomes.append(Outcome(claim: claim, duration: duration, finishedAt: finished, result: result))
        }
        if !outcomes.isEmpty { try tick(time + .milliseconds(60)) { $0.outcomes = outcomes } }
    }

    /// Five minutes of CPU samples ending just before `t0`, one per scope and second, with the
    /// shapes of the demo: index-batch idle but for its 15 s window (flat out, then idle, a retry's
    /// blip between), the stream queues steady with the scraper's burst every 12 s, the process their sum.
    static func cpuSamples() -> [CPUSample] {
        var samples: [CPUSample] = []
        for i in 0..<300 {
            let time = t0 - .seconds(Int64(300 - i)) + .milliseconds(400)
            func add(_ scope: String, _ cores: Double, runs: Int, capacity: Int) {
                let cpu = Duration.microseconds(Int64((cores * 1_000_000).rounded()))
                samples.append(CPUSample(time: time, scope: scope, interval: .seconds(1), cpu: cpu, busy: cpu + cpu / 4, runs: runs, capacity: capacity))
            }
            let burst = i % 12 == 6 ? 4.0 : 1.0
            let phase = (i + 4) % 15  // the last window opens 3 s before t0, as the log's release does
            let batch = phase == 1 ? 1.92 : phase == 2 ? 1.55 : phase == 3 ? 0.62 : phase == 9 ? 0.0006 : 0
            let parse = (0.08 + 0.02 * Double(i * 7 % 5) / 4) * burst
            let enrich = (0.30 + 0.06 * Double(i * 3 % 7) / 6) * burst
            let index = (0.18 + 0.04 * Double(i * 5 % 3) / 2) * burst
            let notify = (0.010 + 0.002 * Double(i % 4) / 3) * burst
            add("index-batch", batch, runs: batch > 0.01 ? Int(batch * 400) : batch > 0 ? 1 : 0, capacity: 2)
            add("parse", parse, runs: Int(40 * burst), capacity: 2)
            add("enrich", enrich, runs: Int(40 * burst), capacity: 2)
            add("index", index, runs: Int(40 * burst), capacity: 2)
            add("notify", notify, runs: Int(40 * burst), capacity: 1)
            add(CPUSample.processScope, batch + parse + enrich + index + notify + 0.05, runs: 0, capacity: 2)
        }
        return samples
    }

    /// Ten seconds of traffic ending at `t0`, with a dashboard state fed a snapshot every second
    /// (the same reads `StoreReader` makes), and a burst left unprocessed at the end.
    func run(into state: inout AppState) throws {
        var lastSeq: Int64?
        func snapshot(_ at: Timestamp) throws {
            let s = try StoreReader.snapshot(store: store, after: lastSeq, limit: 10_000, now: at)
            if let last = s.records.last { lastSeq = last.seq } else if lastSeq == nil { lastSeq = 0 }
            _ = state.update(.data(s))
        }
        let start = Self.t0 - .seconds(10)
        try tick(start - .seconds(1)) { $0.cpuSamples = Self.cpuSamples() }
        try snapshot(start - .milliseconds(500))
        for second in 0..<10 {
            let base = start + .seconds(Int64(second))
            for step in 0..<(4 + second % 3) {
                let at = base + .milliseconds(Int64(step * 150))
                try upload(at: at, type: number == 12 ? "listing.価格更新" : "listing.uploaded")
                try work(at: at + .milliseconds(20))
            }
            if second == 6 { try tick(base + .milliseconds(900)) { $0.releases = ["index-batch"] } }
            try work(at: base + .milliseconds(950))
            try snapshot(base + .seconds(1))
        }
        // A burst nobody has worked on yet, and enrich deliveries still running.
        for step in 0..<9 { try upload(at: Self.t0 + .milliseconds(Int64(100 + step * 10)), type: step == 6 ? "listing.価格更新🚗" : "listing.uploaded") }
        try work(at: Self.t0 + .milliseconds(300), leaveInFlight: ["enrich", "parse"])
        try tick(Self.t0 + .milliseconds(400)) { _ in }
        try snapshot(Self.t0 + .milliseconds(700))
    }

    /// The default theme as shipped, read from the themes directory the binary finds at run time.
    /// Only the shipped themes: a user's own theme files must not change a golden screen.
    static var catalog: ThemeCatalog { ThemeCatalog(directories: [ThemeFiles.directory!]) }

    static func theme(_ name: String = "default") throws -> Theme {
        try catalog.load(name)
    }

    static func state(size: Size, readOnly: Bool = false) throws -> (AppState, Fixture) {
        let fixture = try Fixture()
        var state = AppState(size: size, now: Self.t0 - .seconds(11), theme: try theme(), themeNames: catalog.names(),
                             storeLocation: "/var/lib/pipetop/demo.sqlite", readOnly: readOnly, runtimeName: "demo", capacity: 10_000, utcOffset: 0)
        try fixture.run(into: &state)
        return (state, fixture)
    }
}
