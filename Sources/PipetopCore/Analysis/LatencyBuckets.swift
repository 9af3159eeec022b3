import Foundation
import Histogram

/// Latencies counted in HdrHistogram's buckets, in the compact form the store keeps: one per queue
/// and second (`QueueSecond`), merged by readers over a window into a `Histogram` for percentiles.
///
/// HdrHistogram-swift has no compact serialisation (its `Codable` form writes every one of its
/// thousands of buckets), so this is the sparse one: the non-empty buckets in value order, each as
/// two LEB128 varints, the distance of its lowest value from the previous bucket's and its count.
/// Bucketing and percentiles are HdrHistogram's own (`shape`); only the bytes are ours.
public struct LatencyBuckets: Sendable, Equatable {
    /// The buckets: microseconds, 2 significant digits (1 %), up to an hour (longer is counted as an hour).
    public static let shape = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: maxMicros, numberOfSignificantValueDigits: .two)
    static let maxMicros: UInt64 = 3_600_000_000

    /// The encoded buckets (empty: no latency recorded).
    public private(set) var encoded: Data

    public init(encoded: Data = Data()) { self.encoded = encoded }

    /// Encodes counts by bucket (each keyed by its lowest value, as `Tally` keeps them).
    init(counts: [UInt64: UInt64]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(counts.count * 4)
        var previous: UInt64 = 0
        for value in counts.keys.sorted() {
            Self.append(value - previous, to: &bytes)
            Self.append(counts[value]!, to: &bytes)
            previous = value
        }
        encoded = Data(bytes)
    }

    public var isEmpty: Bool { encoded.isEmpty }

    /// Calls `body` with each bucket's lowest value and count, in value order; stops at the first malformed byte.
    public func forEach(_ body: (_ value: UInt64, _ count: UInt64) -> Void) {
        encoded.withUnsafeBytes { raw in
            var reader = Reader(bytes: raw)
            var value: UInt64 = 0
            while let delta = reader.next(), let count = reader.next() {
                value &+= delta
                body(value, count)
            }
        }
    }

    /// Adds every bucket into `histogram` (of `shape`'s configuration).
    public func add(into histogram: inout Histogram<UInt64>) {
        forEach { value, count in _ = histogram.record(min(value, Self.maxMicros), count: count) }
    }

    /// Both sets of buckets in one (the store's upsert of a queue's second does this).
    public static func merged(_ a: LatencyBuckets, _ b: LatencyBuckets) -> LatencyBuckets {
        if a.isEmpty { return b }
        if b.isEmpty { return a }
        var out: [UInt8] = []
        out.reserveCapacity(a.encoded.count + b.encoded.count)
        a.encoded.withUnsafeBytes { rawA in
            b.encoded.withUnsafeBytes { rawB in
                var ra = Reader(bytes: rawA), rb = Reader(bytes: rawB)
                var va: UInt64 = 0, vb: UInt64 = 0, previous: UInt64 = 0
                func next(_ reader: inout Reader, _ value: inout UInt64) -> UInt64? {
                    guard let delta = reader.next(), let count = reader.next() else { return nil }
                    value &+= delta
                    return count
                }
                var ca = next(&ra, &va), cb = next(&rb, &vb)
                func emit(_ value: UInt64, _ count: UInt64) {
                    append(value - previous, to: &out)
                    append(count, to: &out)
                    previous = value
                }
                while ca != nil || cb != nil {
                    if let countA = ca, cb == nil || va < vb {
                        emit(va, countA)
                        ca = next(&ra, &va)
                    } else if let countB = cb, ca == nil || vb < va {
                        emit(vb, countB)
                        cb = next(&rb, &vb)
                    } else {
                        emit(va, ca! + cb!)
                        ca = next(&ra, &va)
                        cb = next(&rb, &vb)
                    }
                }
            }
        }
        return LatencyBuckets(encoded: Data(out))
    }

    static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var index = 0
        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        mutating func next() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while index < bytes.count, shift < 64 {
                let byte = bytes[index]
                index += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
            return nil
        }
    }

    /// Latencies recorded by one transaction, by bucket (the write path's part: a bucket lookup
    /// and a dictionary increment per success).
    struct Tally: Sendable {
        var counts: [UInt64: UInt64] = [:]
        var isEmpty: Bool { counts.isEmpty }

        mutating func record(_ latency: Duration) {
            let micros = UInt64(clamping: max(latency.micros, 0))
            counts[LatencyBuckets.shape.lowestEquivalentForValue(min(micros, LatencyBuckets.maxMicros)), default: 0] += 1
        }

        var buckets: LatencyBuckets { LatencyBuckets(counts: counts) }
    }
}

/// p50, p95 and p99 of the latencies of a window, as HdrHistogram reads them (each the highest
/// value of its 1 % bucket).
public struct LatencyPercentiles: Sendable, Equatable {
    public var p50: Duration
    public var p95: Duration
    public var p99: Duration
    /// How many latencies the window holds.
    public var count: Int

    public init(p50: Duration, p95: Duration, p99: Duration, count: Int) {
        self.p50 = p50
        self.p95 = p95
        self.p99 = p99
        self.count = count
    }

    /// The percentiles of every bucket of `parts`; nil when they hold none.
    public init?(_ parts: [LatencyBuckets]) {
        var histogram = LatencyBuckets.shape
        for part in parts { part.add(into: &histogram) }
        guard histogram.totalCount > 0 else { return nil }
        func at(_ percentile: Double) -> Duration { .microseconds(Int64(histogram.valueAtPercentile(percentile))) }
        self.init(p50: at(50), p95: at(95), p99: at(99), count: Int(histogram.totalCount))
    }
}
