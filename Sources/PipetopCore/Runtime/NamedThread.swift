import Foundation

/// Starts a thread whose name the OS knows too. Foundation's `Thread.name` stays inside the
/// process on Linux; the kernel's name (written to `/proc/thread-self/comm`, as `pthread_setname_np`
/// does) is what `top -H`, `perf` and `/proc/<pid>/task` show, so an operator can tell the engine
/// from the workers. Linux keeps 15 bytes of it.
enum NamedThread {
    static func start(_ name: String, stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread {
            var short = Substring(name)
            while short.utf8.count > 15 { short = short.dropLast() }
            try? String(short).write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            body()
        }
        thread.name = name
        if let stackSize { thread.stackSize = stackSize }
        thread.start()
    }
}
