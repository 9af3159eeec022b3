import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A lock with a condition whose timed waits run on the monotonic clock, so a step of the wall
/// clock (NTP, an operator, a VM resumed) neither stretches nor cuts short the runtime's timers.
/// `NSCondition.wait(until:)` waits for a wall-clock `Date`: set the clock back an hour and a
/// 1 s heartbeat waits an hour. Callers compute how long to wait from their deadline just before
/// waiting, and look again when woken (signalled, timed out, or spuriously).
final class MonotonicCondition: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if os(Linux)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    func signal() { pthread_cond_signal(condition) }
    func broadcast() { pthread_cond_broadcast(condition) }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Waits, the lock held, until signalled.
    func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits, the lock held, until signalled or `duration` has passed on the monotonic clock
    /// (at once when it is not positive). False when the time ran out.
    @discardableResult
    func wait(for duration: Duration) -> Bool {
        let micros = duration.micros
        guard micros > 0 else { return false }
        var spec = timespec()
        #if os(Linux)
        clock_gettime(CLOCK_MONOTONIC, &spec)
        let nanos = Int64(spec.tv_nsec) + (micros % 1_000_000) * 1_000
        spec.tv_sec += Int(micros / 1_000_000 + nanos / 1_000_000_000)
        spec.tv_nsec = Int(nanos % 1_000_000_000)
        return pthread_cond_timedwait(condition, mutex, &spec) == 0
        #else
        spec.tv_sec = Int(micros / 1_000_000)
        spec.tv_nsec = Int(micros % 1_000_000) * 1_000
        return pthread_cond_timedwait_relative_np(condition, mutex, &spec) == 0
        #endif
    }
}
