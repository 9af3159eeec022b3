import Foundation

/// What the figures were measured on, printed with every table.
struct Machine {
    var cores: Int
    var cpuModel: String
    var buildMode: String
    var storeSettings: String

    static func describe() -> Machine {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "?" } ?? "unknown"
        #if DEBUG
        let mode = "debug"
        #else
        let mode = "release"
        #endif
        return Machine(
            cores: ProcessInfo.processInfo.activeProcessorCount, cpuModel: model, buildMode: mode,
            storeSettings: "SQLite \(SQLiteVersion.current), WAL, synchronous=NORMAL, one writer with group commit")
    }
}

import GRDBSQLite

enum SQLiteVersion {
    /// The library's version, read without opening a connection: the first connection initialises
    /// SQLite, and the store's process settings must come before that.
    static var current: String { String(cString: sqlite3_libversion()) }
}
