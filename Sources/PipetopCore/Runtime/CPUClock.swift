import Foundation

/// CPU time as the kernel accounts it.
enum CPUClock {
    /// CPU time consumed by the calling thread.
    static func thread() -> Duration {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return .seconds(Int64(ts.tv_sec)) + .nanoseconds(Int64(ts.tv_nsec))
    }

    /// User plus system CPU time of the whole process.
    static func process() -> Duration {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func duration(_ tv: timeval) -> Duration { .seconds(Int64(tv.tv_sec)) + .microseconds(Int64(tv.tv_usec)) }
        return duration(usage.ru_utime) + duration(usage.ru_stime)
    }
}
