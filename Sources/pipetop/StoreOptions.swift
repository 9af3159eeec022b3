import ArgumentParser
import Foundation
import PipetopCore

/// `--store` and `--read-only`, taken by every command.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store: a SQLite file path or a postgres://user@host:port/db URL (password from the URL, $PGPASSWORD or ~/.pgpass). Default: $PIPETOP_STORE, else the one running runtime's store, else the demo's.", valueName: "path"))
    var store: String?

    /// The store named: `--store`, else `$PIPETOP_STORE` (when set and not empty).
    var named: String? {
        if let store { return store }
        guard let environment = ProcessInfo.processInfo.environment["PIPETOP_STORE"], !environment.isEmpty else { return nil }
        return environment
    }

    @Flag(name: .long, help: "Open the store read-only: nothing is written, destructive actions are refused.")
    var readOnly = false

    @Option(name: .long, help: ArgumentHelp("How long to wait for a lock another process holds on the store before giving up with an error (e.g. 10s, 500ms).", valueName: "duration"))
    var busyTimeout = "10s"

    /// `--busy-timeout`, parsed (bad input otherwise).
    var busyWait: Duration {
        get throws {
            guard let parsed = Duration(parsing: busyTimeout), parsed >= .zero else {
                throw BadInput("--busy-timeout '\(busyTimeout)' is not a duration such as 10s or 500ms")
            }
            return parsed
        }
    }

    @Flag(name: .long, help: "Create the store if there is none (commands that write; without it a missing store is an error, so a mistyped path creates nothing). The demo's store is always created.")
    var create = false

    /// The demo's store: `$XDG_STATE_HOME/pipetop/demo.sqlite`.
    static var demoStorePath: String {
        let environment = ProcessInfo.processInfo.environment
        let state = environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".local/state")
        return (state as NSString).appendingPathComponent("pipetop/demo.sqlite")
    }

    /// The store named, or the store of the only running runtime, or the demo's.
    var resolvedPath: String {
        get throws {
            if let named { return named }
            let alive = try Registry.entries().filter(\.alive)
            if alive.count == 1 { return alive[0].runtime.store }
            return Self.demoStorePath
        }
    }

    /// The store to write to (read-only with `--read-only`: writes are then refused by the store).
    func open() throws -> Store {
        try Self.opening {
            let path = try resolvedPath
            return try openStore(url: path, readOnly: readOnly, create: create || path == Self.demoStorePath, busyTimeout: try busyWait,
                                 progress: Self.sayProgress)
        }
    }

    /// A reader only: what reading commands get.
    func openReader() throws -> ReadableStore {
        try Self.opening { try PipetopCore.openReader(url: try resolvedPath, busyTimeout: try busyWait, untouched: readOnly) }
    }

    /// Long work of ours (a schema upgrade of a large store) said as it goes, on stderr.
    static let sayProgress: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("pipetop: \($0.terminalSafe)\n".utf8)) }

    /// A backend this build lacks is bad input (exit 2); a store that cannot be opened, a failure.
    static func opening<T>(_ open: () throws -> T) throws -> T {
        do {
            return try open()
        } catch let error as StoreError {
            if error.unsupported { throw BadInput(error.description) }
            throw Failure(error.description)
        }
    }
}

/// `--json` for read commands.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON (one object per line for streams) for jq and other tools.")
    var json = false
}
