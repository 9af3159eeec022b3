import ArgumentParser
import Foundation
import PipetopCore

/// `--store` and `--read-only`, taken by every command.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store: a SQLite file path. Default: the one running runtime's store, else the demo's.", valueName: "path"))
    var store: String?

    @Flag(name: .long, help: "Open the store read-only: nothing is written, destructive actions are refused.")
    var readOnly = false

    /// The demo's store: `$XDG_STATE_HOME/pipetop/demo.sqlite`.
    static var demoStorePath: String {
        let environment = ProcessInfo.processInfo.environment
        let state = environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".local/state")
        return (state as NSString).appendingPathComponent("pipetop/demo.sqlite")
    }

    /// The path given, or the store of the only running runtime, or the demo's.
    var resolvedPath: String {
        if let store { return store }
        let alive = Registry.entries().filter(\.alive)
        if alive.count == 1 { return alive[0].runtime.store }
        return Self.demoStorePath
    }

    func open(readOnly forceReadOnly: Bool = false) throws -> SQLiteStore {
        let path = resolvedPath
        if path.hasPrefix("postgres://") || path.hasPrefix("postgresql://") {
            throw BadInput("PostgreSQL stores are not supported yet; use a SQLite file path")
        }
        do {
            return try SQLiteStore(path: path, readOnly: readOnly || forceReadOnly)
        } catch let error as StoreError {
            throw Failure(error.description)
        }
    }
}

/// `--json` for read commands.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON (one object per line for streams) for jq and other tools.")
    var json = false
}
