import CNcursesw
import Foundation

/// Gives the terminal back however the process ends.
///
/// - INT, TERM, HUP, QUIT: the handler only records the signal and writes a byte to the loop's
///   wake pipe (async-signal-safe); the loop then quits normally, restores the terminal, and the
///   caller re-raises the signal so the exit status still tells what happened.
/// - Fatal signals (SEGV, BUS, ILL, FPE, ABRT, TRAP): the handler calls `endwin()`, resets the
///   handler to the default and re-raises, so the crash still happens but in a sane terminal.
/// - `exit()` from anywhere: an `atexit` hook calls `endwin()`.
public enum TerminalRestore {
    nonisolated(unsafe) static var active = false
    nonisolated(unsafe) static var installed = false
    nonisolated(unsafe) static var wakeFD: Int32 = -1
    nonisolated(unsafe) static var received: Int32 = 0

    /// Every signal whose default action ends the process (besides the fatal ones below): each
    /// ends the dashboard the same way, the terminal restored, then the signal raised again.
    public static let quitSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGVTALRM, SIGPROF,
                                              SIGXCPU, SIGXFSZ, SIGIO, SIGSYS, SIGSTKFLT, SIGPWR]
    /// Job control: TSTP (Ctrl-Z sent by `kill`; the keyboard's arrives as a key in raw mode)
    /// leaves the screen and stops; CONT redraws it.
    nonisolated(unsafe) static var stopRequested: sig_atomic_t = 0
    nonisolated(unsafe) static var continued: sig_atomic_t = 0
    static let fatalSignals: [Int32] = [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP]

    static func install() {
        active = true
        guard !installed else { return }
        installed = true
        atexit { TerminalRestore.restore() }
        for number in fatalSignals {
            signal(number) { number in
                TerminalRestore.restore()
                signal(number, SIG_DFL)
                raise(number)
            }
        }
        // The signals may arrive blocked from a parent (see TERMINAL-NOTES): unblock them.
        var set = sigset_t()
        sigemptyset(&set)
        for number in quitSignals + [SIGWINCH, SIGTSTP, SIGCONT] { sigaddset(&set, number) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Routes INT/TERM/HUP/QUIT to the loop through `fd` (a pipe's write end).
    static func catchQuitSignals(wakeFD fd: Int32) {
        wakeFD = fd
        for number in quitSignals {
            signal(number) { number in
                TerminalRestore.received = number
                if TerminalRestore.wakeFD >= 0 {
                    var byte: UInt8 = 1
                    _ = write(TerminalRestore.wakeFD, &byte, 1)
                } else {
                    TerminalRestore.restore()
                    signal(number, SIG_DFL)
                    raise(number)
                }
            }
        }
    }

    /// TSTP and CONT reach the loop through the same pipe, as requests (see `stopSelf`).
    static func catchJobControl() {
        signal(SIGTSTP) { _ in
            TerminalRestore.stopRequested = 1
            TerminalRestore.wake()
        }
        signal(SIGCONT) { _ in
            TerminalRestore.continued = 1
            TerminalRestore.wake()
        }
    }

    static func wake() {
        guard TerminalRestore.wakeFD >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(TerminalRestore.wakeFD, &byte, 1)
    }

    /// Stops this process as a shell's Ctrl-Z would (the caller has left the screen); returns
    /// once it is continued (`fg`), its own TSTP handler back.
    static func stopSelf() {
        signal(SIGTSTP, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTSTP)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        raise(SIGTSTP)
        // Continued.
        stopRequested = 0
        continued = 0
        catchJobControl()
    }

    /// The signal that asked the loop to quit, if one did.
    static var receivedSignal: Int32? { received == 0 ? nil : received }

    /// `endwin()` once (safe to call again).
    public static func restore() {
        guard active else { return }
        active = false
        endwin()
    }

    /// Re-raises a quit signal with its default action (after the terminal was restored).
    public static func reraise(_ number: Int32) -> Never {
        signal(number, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, number)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        raise(number)
        exit(128 + number)
    }
}
