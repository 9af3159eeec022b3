import Dispatch
import Foundation

/// Turns the given signals into a flag a loop can wait on (no work in the signal handler itself).
final class SignalWaiter: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var fired = false

    init(_ signals: [Int32]) {
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.fire() }
            source.resume()
            sources.append(source)
        }
    }

    private func fire() {
        lock.withLock { fired = true }
        semaphore.signal()
    }

    /// Waits until `deadline`; true if a signal arrived (now or before).
    func wait(until deadline: Date) -> Bool {
        if lock.withLock({ fired }) { return true }
        let seconds = max(0, deadline.timeIntervalSinceNow)
        if semaphore.wait(timeout: .now() + seconds) == .success {
            semaphore.signal()
            return true
        }
        return false
    }
}
