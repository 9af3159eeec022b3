import Foundation

/// Starts a thread whose name the OS knows too, so `top -H`, `perf` and `/proc/<pid>/task` tell
/// the engine from the workers. Setting Foundation's `Thread.name` before `start()` did not reach
/// the kernel here (top showed the process name), so the thread writes its own
/// `/proc/thread-self/comm`, as `pthread_setname_np` does. Linux keeps 15 bytes of it: the name
/// is cut from the end of `name`, keeping `suffix` whole (a worker's index).
enum NamedThread {
    static func start(_ name: String, suffix: String = "", stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) {
        let kernelName = shortName(name, suffix: suffix)
        let thread = Thread {
            // Plain write(2): Foundation's file writing would fsync, which /proc refuses anyway.
            let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
            if fd >= 0 {
                _ = kernelName.withCString { Glibc.write(fd, $0, strlen($0)) }
                close(fd)
            }
            body()
        }
        thread.name = name + suffix
        if let stackSize { thread.stackSize = stackSize }
        thread.start()
    }

    /// `name` + `suffix` in at most 15 UTF-8 bytes, shortening `name` (by whole characters).
    static func shortName(_ name: String, suffix: String) -> String {
        var short = Substring(name)
        while short.utf8.count + suffix.utf8.count > 15, !short.isEmpty { short = short.dropLast() }
        return String(short) + suffix
    }
}
