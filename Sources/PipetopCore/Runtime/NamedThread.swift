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
            // Plain write(2): Foundation's file writing would fsync, which /proc refuses anyway.
            let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
            if fd >= 0 {
                _ = String(short).withCString { Glibc.write(fd, $0, strlen($0)) }
                close(fd)
            }
            body()
        }
        thread.name = name
        if let stackSize { thread.stackSize = stackSize }
        thread.start()
    }
}
