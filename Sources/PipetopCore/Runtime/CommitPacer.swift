import Foundation

/// Group commit under load: when work arrives fast, the engine waits a moment after a tick so
/// the next one carries more, instead of committing every event or two on its own.
///
/// Every commit writes each page it touched, whole, to the WAL (the event, message, log and index
/// pages: several per tick), so at 10,000 events/s, with 3–4.5k ticks a second (counted), the WAL
/// took on the order of 100 MB/s (estimated, not measured), and the checkpoints and syncs that
/// volume needs stalled the writer: p99 publish → start 10–14 ms. Spacing ticks 450 µs apart at
/// that rate cut the WAL written per event, and p99 to 3–9 ms, for a p50 of 0.6–0.7 ms instead
/// of 0.3–0.4 (pipetop-bench; 600 µs gave a lower p99 but p50 up to 0.9 ms).
///
/// Waiting only pays when items arrive during it from someone the tick does not block:
/// - at low rates nothing arrives: the pacer holds only while the recent arrival rate promises
///   at least `batching` items within `spacing`;
/// - a lone producer that publishes one event and waits for it (or one flow whose handler
///   publishes its next step) drives a high rate by itself, yet adds nothing while held: it is
///   waiting for this very tick. So the pacer counts what its holds gather, and when `probe`
///   holds gather fewer than `batching` items on average it stops holding for `pause` windows,
///   then tries again (a lone publisher at full speed was 10–50 % slower with holds judged only
///   per window; judged per 8 holds it pays for 8 held ticks every 200 ms).
///
/// Items are events and outcomes, not publish calls: a saturated engine, whose publishers hand
/// it hundreds of events per call, then finds `enough` waiting and never holds (counting calls,
/// it held, and no-op throughput fell to 37k events/s from ~55k in a run).
///
/// Times are microseconds of a monotonic clock (`Monotonic.micros`): a wall clock stepped back
/// would otherwise stretch a 450 µs hold by the size of the step.
struct CommitPacer {
    var spacing: Int64 = 450
    /// Items expected (and gathered) per hold that make waiting worthwhile.
    var batching = 2.0
    /// A tick with this many items waiting starts at once: it is batched already.
    var enough = 64
    /// How long arrivals are counted before the rate is updated, in µs.
    var window: Int64 = 50_000
    /// Windows without holding after holds that gathered too little.
    var pause = 4
    /// Holds after which their yield is judged.
    var probe = 8

    private(set) var rate = 0.0  // items per second
    private var windowStart: Int64?
    private var windowItems = 0
    private var holds = 0
    private var gathered = 0
    private var pausedWindows = 0

    /// Counts the items (events, outcomes) a tick took, at `now`.
    mutating func note(items: Int, at now: Int64) {
        windowItems += items
        guard let start = windowStart else {
            windowStart = now
            return
        }
        let elapsed = now - start
        guard elapsed >= window else { return }
        rate = Double(windowItems) * 1_000_000 / Double(elapsed)
        if pausedWindows > 0 {
            pausedWindows -= 1
        } else if holds > 0, Double(gathered) / Double(holds) < batching {
            pausedWindows = pause
        }
        windowStart = now
        windowItems = 0
        holds = 0
        gathered = 0
    }

    /// Counts what one hold gathered: items that arrived while the tick waited. A few holds are
    /// enough to judge: a lone producer then pays for `probe` holds, not for a whole window.
    mutating func noteHold(gathered items: Int) {
        holds += 1
        gathered += items
        if holds >= probe, Double(gathered) / Double(holds) < batching {
            pausedWindows = pause
            holds = 0
            gathered = 0
        }
    }

    /// How long the next tick should still wait (µs, at most `spacing`), or nil to start now.
    func hold(lastTick: Int64, now: Int64, waiting: Int) -> Int64? {
        guard waiting < enough, pausedWindows == 0, rate * Double(spacing) / 1_000_000 >= batching else { return nil }
        let remaining = lastTick + spacing - now
        return remaining > 0 ? min(remaining, spacing) : nil
    }
}

/// A clock that never goes back, for durations inside the process.
enum Monotonic {
    static var micros: Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1_000
    }
}
