import Foundation
import PipetopCore
import PipetopUI

/// The Events filter's reads over a large store, made as the dashboard makes them
/// (`StoreRequest.logMatches`, then `.logCount` until the count reaches the log's start): how long
/// the first page takes, and how long until the count shown is the true one.
struct LogFilterFigures {
    let store: ReadableStore

    struct Result {
        /// The first read: the newest page of matches and the count of the rows it searched (ms).
        var firstPage: Double
        /// Until the count is exact: the first read and every further part of the count (ms).
        var exact: Double
        var matches: Int
        var reads: Int
    }

    /// Medians of `runs`.
    func measure(_ filter: String, runs: Int) throws -> Result {
        let query = Filter(filter).query
        var results: [Result] = []
        for _ in 0..<max(runs, 1) {
            let started = DispatchTime.now()
            guard case .logMatches(let page, let first?, _, _) = try StoreRequest.logMatches(query, before: .max, limit: 500, counting: true).answer(from: store)
            else { throw BenchError.lost("no first page for \(filter)") }
            let firstPage = Self.ms(since: started)
            var count = first, matches = first.count, reads = 1
            while !count.reachedEnd {
                guard case .logCount(let next, _) = try StoreRequest.logCount(query, before: count.next).answer(from: store) else { throw BenchError.lost("no count") }
                count = next
                matches += next.count
                reads += 1
            }
            guard matches > 0, !page.records.isEmpty else { throw BenchError.lost("\(filter) matched nothing") }
            results.append(Result(firstPage: firstPage, exact: Self.ms(since: started), matches: matches, reads: reads))
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        return Result(firstPage: median(results.map(\.firstPage)), exact: median(results.map(\.exact)), matches: results[0].matches, reads: results[0].reads)
    }

    static func ms(since start: DispatchTime) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6 }
}
