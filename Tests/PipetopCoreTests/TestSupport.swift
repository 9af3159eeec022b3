import Foundation
import GRDB
@testable import PipetopCore

/// A store in a fresh temporary directory, removed when the value is dropped.
final class TestStore: @unchecked Sendable {
    let directory: URL
    let store: SQLiteStore
    var path: String { store.location }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try SQLiteStore(path: directory.appendingPathComponent("store.sqlite").path)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Every log record, oldest first.
    func log() throws -> [LifecycleRecord] { try store.tail(after: 0, limit: 10_000_000) }

    func count(_ sql: String) throws -> Int {
        try store.database.read { try Int.fetchOne($0, sql: sql) ?? 0 }
    }
}

/// A store file of an older schema (migrated `upTo` one of its migrations, with `rows` inserted
/// as that schema had them) in a fresh temporary directory, removed with the value: what an
/// upgrade starts from.
final class OldStore {
    let directory: URL
    var path: String { directory.appendingPathComponent("old.sqlite").path }

    init(upTo migration: String, rows sql: String? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pipetop-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: directory.appendingPathComponent("old.sqlite").path)
        try SQLiteSchema.migrator.migrate(queue, upTo: migration)
        if let sql { try queue.write { try $0.execute(sql: sql) } }
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; the timeout only bounds a
/// failing test, it is never the thing measured.
func eventually(timeout: Double = 60, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
}

import GRDB

/// A fixed-seed generator for property and fuzz tests (SplitMix64: small, fast, the same sequence
/// on every platform), so every run tries the same cases.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in 0..<n.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}
