import Foundation

/// A bulk replay tracked in the store: the dead letters it moves are fixed when it is created
/// (its items, oldest dead first), it moves them at a rate that can change while it runs, it can
/// be paused, resumed and cancelled (what moved stays moved), and it stops by itself when the
/// letters it replayed start failing again (`ReplayJob.autoStop`).
///
/// Whoever holds its lease runs it: a running runtime carries every running job, and the
/// dashboard and `pipetop dlq replay` run the jobs they started while they are open
/// (`ReplayJobRunner`). Each step is one transaction, so a letter is moved once however many
/// runners try, and a runner that dies leaves the job to the next one when its lease ends.
public struct ReplayJob: Sendable, Equatable {
    public var id: Int64
    public var state: ReplayJobState
    /// The selection it was created from, in words.
    public var selection: String
    /// Another queue to deliver to; nil: each letter's own.
    public var to: String?
    /// Letters moved per second; 0: unthrottled.
    public var rate: Int
    /// The letters of the fixed set.
    public var total: Int
    /// Items done (moved or skipped), in order: the next step starts after this one.
    public var cursor: Int
    public var moved: Int
    /// Letters no longer dead when their turn came (replayed or deleted by someone else).
    public var skipped: Int
    /// Of the moved, those whose outcome is known: delivered, or failed again.
    public var succeeded: Int
    public var failedAgain: Int
    /// The outcomes decided last, newest in bit 0 (1: failed again), `recentCount` of them (≤ `AutoStop.window`).
    public var recentOutcomes: UInt64
    public var recentCount: Int
    public var createdBy: Operator
    public var createdAt: Timestamp
    public var updatedAt: Timestamp
    public var finishedAt: Timestamp?
    /// Why it stopped by itself (or was cancelled), in words.
    public var stopReason: String?
    /// Who holds the lease (`ReplayJobRunner.name`) and until when.
    public var runner: String?
    public var leaseUntil: Timestamp?

    public init(
        id: Int64, state: ReplayJobState, selection: String, to: String?, rate: Int, total: Int, cursor: Int = 0, moved: Int = 0,
        skipped: Int = 0, succeeded: Int = 0, failedAgain: Int = 0, recentOutcomes: UInt64 = 0, recentCount: Int = 0,
        createdBy: Operator, createdAt: Timestamp, updatedAt: Timestamp, finishedAt: Timestamp? = nil, stopReason: String? = nil,
        runner: String? = nil, leaseUntil: Timestamp? = nil
    ) {
        self.id = id
        self.state = state
        self.selection = selection
        self.to = to
        self.rate = rate
        self.total = total
        self.cursor = cursor
        self.moved = moved
        self.skipped = skipped
        self.succeeded = succeeded
        self.failedAgain = failedAgain
        self.recentOutcomes = recentOutcomes
        self.recentCount = recentCount
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.finishedAt = finishedAt
        self.stopReason = stopReason
        self.runner = runner
        self.leaseUntil = leaseUntil
    }

    /// When a job stops by itself: more than `share` of the last `window` replayed letters whose
    /// outcome is known failed again (a retry scheduled, or dead again). It is judged once that
    /// many outcomes are known (all of them, for a job smaller than the window).
    public enum AutoStop {
        public static let window = 50
        public static let share = 0.2
        public static var description: String { "more than \(Int(share * 100)) % of the last \(window) replayed fail again" }
    }

    /// Letters not yet moved or skipped.
    public var remaining: Int { max(0, total - cursor) }
    /// Moved letters whose outcome is not known yet (waiting for a delivery).
    public var undecided: Int { max(0, moved - succeeded - failedAgain) }
    /// Of the recent outcomes, how many failed again.
    public var recentFailures: Int { (recentOutcomes & Self.recentMask).nonzeroBitCount }
    static let recentMask: UInt64 = (1 << UInt64(AutoStop.window)) - 1

    /// Done fraction, 0...1.
    public var progress: Double { total > 0 ? Double(cursor) / Double(total) : 1 }

    /// At its rate, how long the rest takes; nil when unthrottled or not running.
    public var eta: Duration? {
        guard state == .running, rate > 0 else { return nil }
        return .microseconds(Int64((Double(remaining) / Double(rate) * 1_000_000).rounded(.up)))
    }

    /// True while a runner holding a live lease moves it.
    public func isCarried(at now: Timestamp) -> Bool { runner != nil && (leaseUntil.map { $0 > now } ?? false) }

    /// One outcome decided: kept in the window, counted.
    mutating func record(failedAgain failed: Bool) {
        if failed { failedAgain += 1 } else { succeeded += 1 }
        recentOutcomes = ((recentOutcomes << 1) | (failed ? 1 : 0)) & Self.recentMask
        recentCount = min(recentCount + 1, AutoStop.window)
    }

    /// Why it should stop now, if the letters it replayed fail again too often.
    var autoStopReason: String? {
        let needed = min(AutoStop.window, max(total - skipped, 1))
        guard recentCount >= needed else { return nil }
        let failures = recentFailures
        guard Double(failures) > AutoStop.share * Double(recentCount) else { return nil }
        return "stopped by itself: \(failures) of the last \(recentCount) replayed failed again (\(AutoStop.description))"
    }
}

public enum ReplayJobState: String, Sendable, Codable, CaseIterable {
    case running
    case paused
    /// Stopped by itself (`ReplayJob.AutoStop`); resume goes on.
    case stopped
    case cancelled
    /// Every letter of the set moved or skipped.
    case done

    /// Cancelled and done jobs change no more.
    public var isFinal: Bool { self == .cancelled || self == .done }
}

/// Creating a replay job: the dead letters `selection` matches now, oldest dead first, at most `limit`.
public struct ReplayJobRequest: Sendable, Equatable {
    public var selection: DeadLetterSelection
    public var to: String?
    /// Letters per second; 0: unthrottled.
    public var rate: Int
    public var limit: Int?
    public var actor: Operator

    public static let defaultRate = 100

    public init(selection: DeadLetterSelection, to: String? = nil, rate: Int = ReplayJobRequest.defaultRate, limit: Int? = nil, actor: Operator = .current) {
        self.selection = selection
        self.to = to
        self.rate = rate
        self.limit = limit
        self.actor = actor
    }
}

/// A change an operator makes to a replay job.
public enum ReplayJobControl: Sendable, Equatable, CustomStringConvertible {
    case pause
    /// Goes on after a pause or an automatic stop (its window of recent outcomes starts again).
    case resume
    /// Moves nothing more; what moved stays moved.
    case cancel
    /// Letters per second from now on; 0: unthrottled.
    case rate(Int)

    public var description: String {
        switch self {
        case .pause: "pause"
        case .resume: "resume"
        case .cancel: "cancel"
        case .rate(let rate): "rate \(ReplayJob.rateText(rate))"
        }
    }
}

extension ReplayJob {
    /// `100/s`, or `unthrottled`.
    public static func rateText(_ rate: Int) -> String { rate == 0 ? "unthrottled" : "\(rate)/s" }
}

/// What one step of a job did.
public struct ReplayJobStep: Sendable, Equatable {
    public var job: ReplayJob
    /// Letters moved by this step.
    public var moved: Int
    /// Another runner holds the job's lease: this step changed nothing.
    public var heldBy: String?
}

/// A replay job's id that is not in the store, or a change its state does not allow.
public struct ReplayJobError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension ReplayJob {
    /// One line for `dlq jobs` and the dashboard: state, progress, rate, ETA, outcomes, who runs it.
    public func summary(now: Timestamp) -> String {
        var parts = ["\(state.rawValue)", "\(moved) of \(total) moved"]
        if skipped > 0 { parts.append("\(skipped) skipped (no longer dead)") }
        if state == .running || state == .paused || state == .stopped {
            parts.append(Self.rateText(rate))
            if let eta { parts.append("ETA \(Self.durationText(eta))") }
        }
        parts.append(undecided > 0 ? "\(succeeded) delivered, \(failedAgain) failed again, \(undecided) waiting" : "\(succeeded) delivered, \(failedAgain) failed again")
        if state == .running {
            parts.append(isCarried(at: now) ? "run by \(runner ?? "")" : "waiting for a runner (a running runtime, or `pipetop dlq jobs run \(id)`)")
        }
        if let stopReason, state != .running { parts.append(stopReason) }
        return parts.joined(separator: " · ")
    }

    /// `8s`, `3m10s`, `2h05m`.
    public static func durationText(_ duration: Duration) -> String {
        let seconds = max(0, Int((duration.secondsDouble).rounded(.up)))
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3_600 { return "\(seconds / 60)m\(String(format: "%02d", seconds % 60))s" }
        return "\(seconds / 3_600)h\(String(format: "%02d", seconds % 3_600 / 60))m"
    }
}
