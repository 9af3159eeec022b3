import Foundation
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
