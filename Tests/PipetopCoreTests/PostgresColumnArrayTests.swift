import Foundation
import PipetopTestSupport
@testable import PipetopCore
import Testing

/// Batches of rows are inserted as one array per column, unnested on the server
/// (`PostgresColumnArray`): every value must come back as it went in, NULLs included.
@Suite(.enabled("needs PostgreSQL (PIPETOP_TEST_POSTGRES)", { TestPostgres.shouldRun() }))
struct PostgresColumnArrayTests {
    @Test func everyValueAndNullComesBackAsBound() throws {
        let session = try PostgresSession(PostgresURL(parsing: try TestPostgres.freshDatabase()), readOnly: false)
        try session.execute("CREATE TABLE t (n bigint, o bigint, s text, d bytea)")
        let texts: [String?] = ["", "é ✓ 𝄞", nil, "line\nbreak\ttab", String(repeating: "x", count: 70_000)]
        let blobs: [Data?] = [Data(), nil, Data([0, 255, 1]), Data(repeating: 7, count: 100_000), nil]
        let numbers: [Int64] = [0, -1, .max, .min, 42]
        let optionals: [Int64?] = [nil, 5, nil, nil, -9]
        let columns = (0..<4).map { _ in PostgresColumnArray() }
        for row in 0..<5 {
            columns[0].bind(numbers[row])
            columns[1].bind(optionals[row])
            columns[2].bind(texts[row])
            columns[3].bind(blobs[row])
        }
        let binder = PostgresBinder()
        for column in columns { binder.bindings.append(column) }
        #expect(try session.query("INSERT INTO t SELECT * FROM unnest($1, $2, $3, $4)", bindings: binder).changed == 5)
        let rows = try session.query("SELECT n, o, s, d FROM t ORDER BY n").rows
        let expected = (0..<5).sorted { numbers[$0] < numbers[$1] }
        #expect(rows.count == 5)
        for (row, index) in zip(rows, expected) {
            #expect(row.int64(0) == numbers[index])
            #expect(row.optionalInt64(1) == optionals[index])
            #expect(row.string(2) == texts[index])
            #expect(row.data(3) == blobs[index])
        }
        // A column of NULLs only keeps the type of its binding.
        let nulls = PostgresColumnArray(), more = PostgresColumnArray()
        for _ in 0..<3 { nulls.bind(nil as String?); more.bind(nil as Int64?) }
        let second = PostgresBinder()
        second.bindings.append(more)
        second.bindings.append(nulls)
        #expect(try session.query("INSERT INTO t (o, s) SELECT * FROM unnest($1, $2)", bindings: second).changed == 3)
        #expect(try session.query("SELECT count(*) FROM t WHERE n IS NULL AND o IS NULL AND s IS NULL").rows.first?.int64(0) == 3)
    }
}
