import Foundation
import GRDB
import Testing
@testable import PipetopCore

/// What is specific to SQLite's text index of the dead letters (`dead_letter_errors` and
/// `dead_letter_payloads`, FTS5 trigram):
/// the migration that builds it for a store with dead letters, its rows in step with the letters,
/// and the FTS5 query a text becomes. The behaviour itself is in `StoreConformanceTests`.
@Suite struct DeadLetterTextTests {
    /// A store of schema v5 with dead letters (JSON, text, binary and no payload; several errors
    /// each) and a live message: v6 indexes the dead letters as they are, and only them.
    @Test func aVersion5StoreHasItsDeadLettersIndexedWhenMigrated() throws {
        let old = try OldStore(upTo: "v5-dead-letter-causes", rows: """
                    INSERT INTO events (seq, id, source, type, data, data_kind, published_at, routed) VALUES
                        (1, 'json', '/s', 't', CAST('{"listing":"L-9","price":"call for price"}' AS BLOB), 1, 10, 1),
                        (2, 'text', '/s', 't', CAST('plain Text payload' AS BLOB), 3, 10, 1),
                        (3, 'binary', '/s', 't', CAST('binary payload text' AS BLOB), 2, 10, 1),
                        (4, 'none', '/s', 't', NULL, 0, 10, 1),
                        (5, 'live', '/s', 't', CAST('{"listing":"L-9"}' AS BLOB), 1, 10, 1);
                    INSERT INTO messages (id, queue, event_seq, state, ready_at, enqueued_at, attempt, deliveries, errors, dead_at, reason, fingerprint) VALUES
                        (1, 'q', 1, 3, 20, 10, 2, 2, '[{"attempt":1,"at":15,"error":"Connection refused"},{"attempt":2,"at":20,"error":"gave up"}]', 20, 'max-attempts', 'gave up'),
                        (2, 'q', 2, 3, 21, 10, 1, 1, '[{"attempt":1,"at":21,"error":"malformed"}]', 21, 'non-retryable', 'malformed'),
                        (3, 'q', 3, 3, 22, 10, 1, 1, '[{"attempt":1,"at":22,"error":"malformed"}]', 22, 'non-retryable', 'malformed'),
                        (4, 'q', 4, 3, 23, 10, 1, 1, '[{"attempt":1,"at":23,"error":"empty"}]', 23, 'non-retryable', 'empty'),
                        (5, 'q', 5, 1, 24, 10, 1, 1, '[{"attempt":1,"at":24,"error":"connection refused"}]', NULL, NULL, NULL);
                    """)
        let path = old.path
        let store = try SQLiteStore(path: path)
        func ids(_ selection: DeadLetterSelection) throws -> [String] {
            try store.deadLetters(selection, page: PageRequest(limit: 10)).items.map(\.event.id).sorted()
        }
        #expect(try ids(DeadLetterSelection(errorText: "connection refused")) == ["json"], "an earlier attempt's error; not the live message")
        #expect(try ids(DeadLetterSelection(errorText: "gave up")) == ["json"])
        #expect(try ids(DeadLetterSelection(errorText: "malformed")) == ["binary", "text"])
        #expect(try ids(DeadLetterSelection(payloadText: "L-9")) == ["json"])
        #expect(try ids(DeadLetterSelection(payloadText: "text payload")) == ["text"], "a binary payload is not indexed")
        #expect(try store.deadLetterCount(DeadLetterSelection(payloadText: "payload")) == 1)
        for table in DeadLetterText.tables {
            #expect(try store.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM \(table)") } == 4)
        }
    }

    /// A store of v15 (one text table for both columns, a replayed letter's row listed stale):
    /// v18 moves every row, the stale one too, into the table of its column; the counts by error
    /// text, payload text and both are the letters' (as a brute-force count over the messages
    /// finds them), before and after a purge, which empties the list from both tables.
    @Test func aVersion15StoreHasItsTextSplitByColumnWhenMigrated() throws {
        let old = try OldStore(upTo: "v15-runtime-nodes", rows: """
                    INSERT INTO events (seq, id, source, type, data, data_kind, published_at, routed) VALUES
                        (1, 'a', '/s', 't', CAST('{"price":"call for price"}' AS BLOB), 1, 10, 1),
                        (2, 'b', '/s', 't', CAST('{"price":"call for price"}' AS BLOB), 1, 10, 1),
                        (3, 'c', '/s', 't', CAST('{"price":"123"}' AS BLOB), 1, 10, 1),
                        (4, 'd', '/s', 't', CAST('{"price":"call for price"}' AS BLOB), 1, 10, 1);
                    INSERT INTO messages (id, queue, event_seq, state, ready_at, enqueued_at, attempt, deliveries, errors, dead_at, reason, fingerprint) VALUES
                        (1, 'q', 1, 3, 20, 10, 1, 1, '[{"attempt":1,"at":20,"error":"connection reset"}]', 20, 'non-retryable', 'connection reset'),
                        (2, 'q', 2, 3, 21, 10, 1, 1, '[{"attempt":1,"at":21,"error":"price is not a number: call for price"}]', 21, 'non-retryable', 'x'),
                        (3, 'q', 3, 3, 22, 10, 1, 1, '[{"attempt":1,"at":22,"error":"connection reset"}]', 22, 'non-retryable', 'connection reset'),
                        (4, 'q', 4, 1, 30, 10, 0, 1, '[{"attempt":1,"at":23,"error":"connection reset"}]', NULL, NULL, 'connection reset');
                    INSERT INTO dead_letter_text (rowid, errors, payload) VALUES
                        (1, 'connection reset', '{"price":"call for price"}'),
                        (2, 'price is not a number: call for price', '{"price":"call for price"}'),
                        (3, 'connection reset', '{"price":"123"}'),
                        (4, 'connection reset', '{"price":"call for price"}');
                    INSERT INTO dead_letter_text_stale (id) VALUES (4);
                    """)
        let path = old.path
        let store = try SQLiteStore(path: path)
        func truth(errors: String?, payload: String?) throws -> Int {
            try store.database.read { db in
                try Int.fetchOne(db, sql: """
                    SELECT count(*) FROM messages m JOIN events e ON e.seq = m.event_seq WHERE m.state = 3
                        AND (?1 IS NULL OR instr(m.errors, ?1)) AND (?2 IS NULL OR instr(CAST(e.data AS TEXT), ?2))
                    """, arguments: [errors, payload]) ?? -1
            }
        }
        func check(_ when: String) throws {
            for (errors, payload) in [("connection reset", nil), (nil, "call for price"), ("connection reset", "call for price"), ("call for price", nil), (nil, "123")] as [(String?, String?)] {
                let selection = DeadLetterSelection(errorText: errors, payloadText: payload)
                #expect(try store.deadLetterCount(selection) == truth(errors: errors, payload: payload), "\(when): \(selection)")
                #expect(try store.deadLetters(selection, page: PageRequest(limit: 10)).items.count == truth(errors: errors, payload: payload), "\(when): \(selection)")
            }
        }
        #expect(try store.deadLetterCount(DeadLetterSelection(payloadText: "call for price")) == 2, "the stale row is not counted")
        try check("migrated")
        for table in DeadLetterText.tables {
            #expect(try store.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM \(table)") } == 4, "\(table): every row moved")
        }
        #expect(try store.database.read { try Bool.fetchOne($0, sql: "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'dead_letter_text')") } == false)
        var purge = WriteBatch(now: Timestamp(micros: 100))
        purge.purgeStaleText = 10
        _ = try store.apply(purge)
        try check("purged")
        for table in DeadLetterText.tables + [DeadLetterText.staleTable] {
            #expect(try store.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM \(table) WHERE rowid = 4") } == 0, "\(table): the stale row purged")
        }
    }

    /// After dead-lettering, replays, deaths again and deletes, the index holds one row per dead
    /// letter, with its text now (a letter that died again, its latest errors), and the rows of
    /// letters no longer dead, listed stale and no other; a purge (some each tick) leaves exactly
    /// the dead letters' rows.
    @Test func theIndexHoldsTheDeadLettersAndTheListedStaleRows() throws {
        let db = try TestStore()
        var now = Timestamp(micros: 1_800_000_000_000_000)
        let dead = "\(MessageState.dead.rawValue)"
        for round in 0..<8 {
            var batch = WriteBatch(now: now)
            batch.claims = [ClaimRequest(queue: "q", limit: 100, lease: .seconds(30), maxAttempts: 3)]
            batch.publishes = (0..<20).map { RoutedEvent(event: CloudEvent(id: "e\(round)-\($0)", source: "/s", type: "t"), targets: [Target(queue: "q", held: false)]) }
            // From round 4 on, ticks purge a few stale rows, as the runtime's writer does.
            batch.purgeStaleText = round >= 4 ? 3 : 0
            let claimed = try db.store.apply(batch).claimed
            var fail = WriteBatch(now: now)
            fail.outcomes = claimed.enumerated().map { n, message in
                Outcome(claim: message.claim, duration: .zero, finishedAt: now,
                        result: n % 3 == 0 ? .succeeded(children: []) : .deadLetter(error: "boom \(round)-\(n)", reason: .nonRetryable))
            }
            _ = try db.store.apply(fail)
            _ = try db.store.redrive(RedriveRequest(selection: .all, limit: 5), at: now)
            _ = try db.store.delete(DeleteRequest(selection: .all, limit: 3), at: now)
            now = now + .seconds(1)
            let letters = try db.count("SELECT count(*) FROM messages WHERE state = \(dead)")
            let listed = try db.count("SELECT count(*) FROM dead_letter_text_stale")
            for table in DeadLetterText.tables {
                #expect(try db.count("SELECT count(*) FROM \(table)") == letters + listed, "round \(round), \(table)")
                #expect(try db.count("""
                    SELECT count(*) FROM \(table) t JOIN messages m ON m.id = t.rowid WHERE m.state = \(dead)
                    """) == letters, "round \(round), \(table): every dead letter has its row")
                #expect(try db.count("""
                    SELECT count(*) FROM \(table) t WHERE t.rowid NOT IN (SELECT id FROM dead_letter_text_stale)
                        AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = t.rowid AND m.state = \(dead))
                    """) == 0, "round \(round), \(table): a row of no dead letter is listed")
            }
            #expect(try db.count("""
                SELECT count(*) FROM dead_letter_text_stale s JOIN messages m ON m.id = s.id WHERE m.state = \(dead)
                """) == 0, "round \(round): no dead letter is listed stale")
            #expect(try db.count("""
                SELECT count(*) FROM dead_letter_errors t JOIN messages m ON m.id = t.rowid
                WHERE m.state = \(dead) AND t.errors IS NOT (SELECT group_concat(json_extract(a.value, '$.error'), char(10)) FROM json_each(m.errors) a)
                """) == 0, "round \(round): a dead letter's row holds its errors now")
        }
        #expect(try db.count("SELECT count(*) FROM dead_letter_text_stale") > 0, "the replays and deletes left rows to purge")
        // Both ways of leaving the listed rows out of a count give the letters'.
        for text in ["boom", "boom 3-", "boom 7-1"] {
            let matches = DeadLetterText.matches(DeadLetterSelection(errorText: text))
            let truth = try db.count("""
                SELECT count(*) FROM messages m WHERE m.state = \(dead)
                    AND EXISTS (SELECT 1 FROM json_each(m.errors) a WHERE instr(json_extract(a.value, '$.error'), '\(text)'))
                """)
            for inRange in [true, false] {
                let counted = try db.store.database.read { reader throws -> Int in try SQLiteSnapshot(db: reader).textCount(matches, inRange: inRange) }
                #expect(counted == truth, "\(text), listed rows matched as a range: \(inRange)")
            }
        }
        var purge = WriteBatch(now: now)
        purge.purgeStaleText = 10_000
        _ = try db.store.apply(purge)
        #expect(try db.count("SELECT count(*) FROM dead_letter_text_stale") == 0)
        for table in DeadLetterText.tables {
            #expect(try db.count("SELECT count(*) FROM \(table)") == db.count("SELECT count(*) FROM messages WHERE state = \(dead)"))
        }
    }

    /// A replay job run in the foreground (`pipetop dlq replay`, `dlq jobs run`) purges the text
    /// rows it left stale when it ends (and in its pauses when throttled): none is left for a
    /// runtime, and the counts by text stay the letters' (a brute-force count).
    @Test func aReplayJobRunInTheForegroundPurgesTheRowsItLeftStale() throws {
        let db = try TestStore()
        let now = Timestamp(micros: 1_800_000_000_000_000)
        var batch = WriteBatch(now: now)
        batch.claims = [ClaimRequest(queue: "q", limit: 100, lease: .seconds(30), maxAttempts: 3)]
        batch.publishes = (0..<60).map { RoutedEvent(event: CloudEvent(id: "e\($0)", source: "/s", type: "t"), targets: [Target(queue: $0 % 2 == 0 ? "q" : "r", held: false)]) }
        batch.claims.append(ClaimRequest(queue: "r", limit: 100, lease: .seconds(30), maxAttempts: 3))
        let claimed = try db.store.apply(batch).claimed
        var fail = WriteBatch(now: now)
        fail.outcomes = claimed.map { Outcome(claim: $0.claim, duration: .zero, finishedAt: now, result: .deadLetter(error: "boom in \($0.claim.queue)", reason: .nonRetryable)) }
        _ = try db.store.apply(fail)
        let job = try db.store.createReplayJob(ReplayJobRequest(selection: DeadLetterSelection(queue: "q"), rate: 0), at: now)
        let done = try ReplayJobRunner(store: db.store, name: "cli").run(job.id)
        #expect(done.state == .done && done.moved == 30)
        #expect(try db.count("SELECT count(*) FROM dead_letter_text_stale") == 0)
        for table in DeadLetterText.tables {
            #expect(try db.count("SELECT count(*) FROM \(table)") == 30, "\(table): the dead letters' rows only")
        }
        for text in ["boom", "boom in q", "boom in r"] {
            let truth = try db.count("SELECT count(*) FROM messages WHERE state = \(MessageState.dead.rawValue) AND instr(errors, '\(text)')")
            #expect(try db.store.deadLetterCount(DeadLetterSelection(errorText: text)) == truth, "\(text)")
        }
    }

    @Test func aTextBecomesOnePhraseInItsColumnsTableWithItsQuotesDoubled() {
        #expect(DeadLetterText.matches(.all).isEmpty)
        #expect(DeadLetterText.matches(DeadLetterSelection(errorText: #"say "hi" AND *"#))
            == [DeadLetterText.Match(table: "dead_letter_errors", phrase: #""say ""hi"" AND *""#)])
        #expect(DeadLetterText.matches(DeadLetterSelection(errorText: "abc", payloadText: "\"\""))
            == [DeadLetterText.Match(table: "dead_letter_errors", phrase: #""abc""#), DeadLetterText.Match(table: "dead_letter_payloads", phrase: #""""""""#)])
    }
}
