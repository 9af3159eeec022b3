import ArgumentParser
import Foundation
import PipetopCore

struct ListRuntimes: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List running runtimes (name, pid, store, heartbeat age).")

    @OptionGroup var output: OutputOptions

    func run() throws {
        let now = Timestamp.now()
        let entries = try StoreOptions.opening { try Registry.entries() }
        if output.json {
            for (runtime, alive) in entries {
                var object: [String: Any] = [
                    "name": runtime.name, "pid": runtime.pid, "host": runtime.host, "store": runtime.store,
                    "started_at": runtime.startedAt.rfc3339, "heartbeat_age_s": (now - runtime.heartbeatAt).secondsDouble, "alive": alive,
                ]
                if let failure = runtime.storeUnwritable {
                    object["store_unwritable"] = ["since": failure.since.rfc3339, "error": failure.error, "attempts": failure.attempts, "gave_up": failure.gaveUp]
                }
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self).jsonTerminalSafe)
            }
            return
        }
        guard !entries.isEmpty else {
            print("no running runtimes (start one with `pipetop demo`)")
            return
        }
        for (runtime, alive) in entries {
            let age = (now - runtime.heartbeatAt).secondsDouble
            var state = !alive ? "gone (process exited without cleaning up)" : age > 3 ? String(format: "STALE heartbeat %.0fs ago", age) : String(format: "heartbeat %.1fs ago", age)
            if alive, let failure = runtime.storeUnwritable { state = "STORE NOT WRITABLE: \(failure)".terminalSafe }
            print("\(runtime.name.terminalSafe)\tpid \(runtime.pid)\t\(runtime.store.terminalSafe)\t\(state)")
        }
    }
}
