import GRDB

/// The SQLite schema, as versioned migrations. Times are microseconds since the epoch.
///
/// Every query the dashboard and the CLI make has its index: the log by `seq` (the primary key) and
/// by event (for traces, through events by correlation id), and its rows with a rare step (failures,
/// dead letters, operators' actions: the Events filter's `kind:`); messages by queue/state/ready time (claims, depth and lease expiry) and, for
/// dead letters, by queue and time (and their text, by the trigram indexes `dead_letter_errors` and `dead_letter_payloads`);
/// events by correlation id; unrouted events by `seq`.
public enum SQLiteSchema {
    // Message states are `MessageState` raw values; migrations are history and keep the SQL
    // they were released with, literals included.

    /// The newest schema this build writes (its last migration), and how many migrations lead to it.
    public static var version: (name: String, migrations: Int) {
        let all = migrator.migrations
        return (all.last ?? "none", all.count)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE events (
                    seq INTEGER PRIMARY KEY,
                    id TEXT NOT NULL,
                    source TEXT NOT NULL,
                    type TEXT NOT NULL,
                    time INTEGER,
                    subject TEXT,
                    datacontenttype TEXT,
                    dataschema TEXT,
                    correlation_id TEXT,
                    causation_id TEXT,
                    traceparent TEXT,
                    extensions TEXT,            -- JSON object of other extension attributes
                    data BLOB,
                    data_kind INTEGER NOT NULL, -- 0 none, 1 JSON text, 2 binary, 3 text (a non-JSON datacontenttype)
                    published_at INTEGER NOT NULL,
                    routed INTEGER NOT NULL     -- 0 while waiting for a runtime to route it
                );
                -- No index on events(id): no query the dashboard or the CLI makes needs one, and each text
                -- index is one more B-tree write per publish. Flows are found by correlation id, which
                -- children share with their root.
                CREATE INDEX events_by_correlation ON events(correlation_id);
                CREATE INDEX events_unrouted ON events(seq) WHERE routed = 0;

                -- AUTOINCREMENT: a message id is never reused, so log records and stale acks
                -- (matched by id and delivery) can never point at a later message.
                CREATE TABLE messages (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    queue TEXT NOT NULL,
                    event_seq INTEGER NOT NULL REFERENCES events(seq),
                    state INTEGER NOT NULL,     -- 0 held, 1 ready, 2 in flight, 3 dead
                    -- When the message is deliverable: for a ready one, since when (or, for a scheduled retry,
                    -- from when); for one in flight, when its lease ends and it is deliverable again. One
                    -- column and one index serve claims, lag and lease expiry.
                    ready_at INTEGER NOT NULL,
                    enqueued_at INTEGER NOT NULL,
                    attempt INTEGER NOT NULL DEFAULT 0,
                    deliveries INTEGER NOT NULL DEFAULT 0,
                    errors TEXT NOT NULL DEFAULT '[]', -- JSON array of {attempt, at, error}
                    first_failed_at INTEGER,
                    dead_at INTEGER,
                    reason TEXT
                );
                CREATE INDEX messages_by_queue_state ON messages(queue, state, ready_at);
                CREATE INDEX messages_dead_by_queue ON messages(queue, dead_at) WHERE state = 3;
                CREATE INDEX messages_dead_by_time ON messages(dead_at) WHERE state = 3;

                CREATE TABLE log (
                    seq INTEGER PRIMARY KEY,
                    at INTEGER NOT NULL,
                    kind TEXT NOT NULL,
                    -- The event's seq. Its id, type and correlation live once, in events (a log row is
                    -- written five times per event: the narrower, the faster), and readers join on it.
                    event_seq INTEGER NOT NULL REFERENCES events(seq),
                    queue TEXT,
                    message_id INTEGER,
                    attempt INTEGER,
                    duration_us INTEGER,
                    error TEXT,
                    detail TEXT
                );
                -- A trace finds its events by correlation id, then their records by event seq: an integer
                -- index that grows at its end, instead of a text index written five times per event.
                CREATE INDEX log_by_event ON log(event_seq);

                CREATE TABLE queues (
                    name TEXT PRIMARY KEY,
                    mode TEXT NOT NULL,
                    window_us INTEGER,
                    concurrency INTEGER NOT NULL,
                    visibility_timeout_us INTEGER NOT NULL,
                    max_attempts INTEGER NOT NULL,
                    backoff_base_us INTEGER NOT NULL,
                    backoff_cap_us INTEGER NOT NULL,
                    max_age_us INTEGER,
                    dead_letter INTEGER NOT NULL,
                    runtime TEXT NOT NULL,
                    declared_at INTEGER NOT NULL
                );

                CREATE TABLE queue_counters (
                    queue TEXT PRIMARY KEY,
                    enqueued INTEGER NOT NULL DEFAULT 0,
                    claimed INTEGER NOT NULL DEFAULT 0,
                    succeeded INTEGER NOT NULL DEFAULT 0,
                    failed INTEGER NOT NULL DEFAULT 0,
                    retried INTEGER NOT NULL DEFAULT 0,
                    dead_lettered INTEGER NOT NULL DEFAULT 0
                );

                CREATE TABLE rules (
                    name TEXT PRIMARY KEY,
                    pattern TEXT NOT NULL,
                    targets TEXT NOT NULL,      -- comma-separated queue names
                    runtime TEXT NOT NULL
                );

                CREATE TABLE runtimes (
                    name TEXT PRIMARY KEY,
                    pid INTEGER NOT NULL,
                    host TEXT NOT NULL,
                    store TEXT NOT NULL,
                    started_at INTEGER NOT NULL,
                    heartbeat_at INTEGER NOT NULL,
                    stopped_at INTEGER
                );

                CREATE TABLE cpu_samples (
                    at INTEGER NOT NULL,
                    scope TEXT NOT NULL,        -- a queue name, or 'process'
                    interval_us INTEGER NOT NULL,
                    cpu_us INTEGER NOT NULL,
                    busy_us INTEGER NOT NULL,
                    runs INTEGER NOT NULL,
                    capacity INTEGER NOT NULL
                );
                CREATE INDEX cpu_samples_by_time ON cpu_samples(at);
                """)
        }
        migrator.registerMigration("v2-deduplication") { db in
            try db.execute(sql: """
                -- Opt-in per queue (QueueSpec.deduplicate): the (source, id) pairs a queue accepted, and
                -- when. Written only for queues with a window, so other queues pay nothing.
                CREATE TABLE dedup (
                    queue TEXT NOT NULL,
                    source TEXT NOT NULL,
                    id TEXT NOT NULL,
                    accepted_at INTEGER NOT NULL,
                    event_seq INTEGER NOT NULL REFERENCES events(seq),
                    PRIMARY KEY (queue, source, id)
                ) WITHOUT ROWID;
                CREATE INDEX dedup_by_age ON dedup(queue, accepted_at);
                ALTER TABLE queue_counters ADD COLUMN duplicates INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE queues ADD COLUMN deduplicate_us INTEGER;
                """)
        }
        migrator.registerMigration("v3-audit") { db in
            try db.execute(sql: """
                -- Who did what to the store, when, to how many (redrive, delete, publish from outside a runtime).
                CREATE TABLE audit (
                    seq INTEGER PRIMARY KEY,
                    at INTEGER NOT NULL,
                    actor TEXT NOT NULL,        -- user@host
                    action TEXT NOT NULL,
                    detail TEXT NOT NULL,
                    count INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v4-lifecycle-rows") { db in
            // One row per moment a transaction touched an event and message (LifecycleRow): two rows
            // per delivered event instead of five. Old rows are one step each; their records keep
            // their order (a record's seq becomes LogPosition.record(row: seq, index: 0)).
            let step = "CASE kind " + LifecycleKind.allCases.map { "WHEN '\($0.rawValue)' THEN \(1 << $0.step)" }.joined(separator: " ")
                + " ELSE \(1 << LifecycleKind.failed.step) END"
            try db.execute(sql: """
                CREATE TABLE log_rows (
                    seq INTEGER PRIMARY KEY,
                    at INTEGER NOT NULL,
                    steps INTEGER NOT NULL,         -- the steps recorded, as 1 << LifecycleKind.step bits, in that order
                    event_seq INTEGER NOT NULL REFERENCES events(seq),
                    queue TEXT,
                    message_id INTEGER,
                    attempt INTEGER,
                    duration_us INTEGER,
                    error TEXT,
                    error_steps INTEGER NOT NULL,   -- the steps the error belongs to
                    detail TEXT,
                    detail_steps INTEGER NOT NULL   -- the step the detail belongs to
                );
                INSERT INTO log_rows
                    SELECT seq, at, bit, event_seq, queue, message_id, attempt, duration_us, error,
                        CASE WHEN error IS NULL THEN 0 ELSE bit END, detail, CASE WHEN detail IS NULL THEN 0 ELSE bit END
                    FROM (SELECT *, \(step) AS bit FROM log) ORDER BY seq;
                DROP TABLE log;
                ALTER TABLE log_rows RENAME TO log;
                -- An event's publication row is found from the event (log_seq); the index holds the rest.
                CREATE INDEX log_by_event ON log(event_seq) WHERE steps & 1 = 0;
                ALTER TABLE events ADD COLUMN log_seq INTEGER;
                UPDATE events SET log_seq = published.seq
                    FROM (SELECT event_seq, min(seq) AS seq FROM log WHERE steps & 1 != 0 GROUP BY event_seq) AS published
                    WHERE published.event_seq = events.seq;
                """)
        }
        migrator.registerMigration("v5-dead-letter-causes") { db in
            // A dead letter's cause (FailureFingerprint of its last error, computed when it dies) and
            // how often it was replayed: the Dead letters screen groups by the first and shows the second.
            db.add(function: DatabaseFunction("pipetop_fingerprint", argumentCount: 1, pure: true) { values in
                FailureFingerprint.of(String.fromDatabaseValue(values[0]) ?? "")
            })
            try db.execute(sql: """
                ALTER TABLE messages ADD COLUMN fingerprint TEXT;
                ALTER TABLE messages ADD COLUMN replays INTEGER NOT NULL DEFAULT 0;
                UPDATE messages SET fingerprint = pipetop_fingerprint(json_extract(errors, '$[#-1].error')) WHERE state = 3;
                CREATE INDEX messages_dead_by_cause ON messages(fingerprint, dead_at) WHERE state = 3;
                CREATE INDEX messages_dead_by_queue_cause ON messages(queue, fingerprint, dead_at) WHERE state = 3;
                -- Dead letters counted by cause, kept in step by every transaction that makes or moves one,
                -- so the groups and the counts by queue, type and cause read a row per cause, not every letter.
                CREATE TABLE dead_letter_causes (
                    queue TEXT NOT NULL,
                    type TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    count INTEGER NOT NULL,
                    failed_again INTEGER NOT NULL,  -- of them, replayed before
                    first_dead_at INTEGER NOT NULL,
                    last_dead_at INTEGER NOT NULL,
                    PRIMARY KEY (queue, type, fingerprint)
                ) WITHOUT ROWID;
                INSERT INTO dead_letter_causes
                    SELECT m.queue, e.type, m.fingerprint, count(*), sum(m.replays > 0), min(m.dead_at), max(m.dead_at)
                    FROM messages m JOIN events e ON e.seq = m.event_seq WHERE m.state = 3 GROUP BY m.queue, e.type, m.fingerprint;
                """)
        }
        migrator.registerMigration("v6-dead-letter-text") { db in
            // The dead letters' text, searchable (DeadLetterSelection.errorText/payloadText): FTS5
            // with the trigram tokenizer, so any run of three or more characters is found, case
            // folded, through the index. One row per dead letter, its rowid the message id: every
            // attempt's error, one per line, and the payload when it is JSON (1) or text (3), the
            // first 16,384 characters of each. detail=full (the positions) makes a text longer than
            // three characters a phrase of trigrams; columnsize=0: nothing is ranked. Kept in step by
            // the transactions that make, replay and delete dead letters.
            try db.execute(sql: """
                CREATE VIRTUAL TABLE dead_letter_text USING fts5(errors, payload, tokenize = 'trigram', columnsize = 0);
                INSERT INTO dead_letter_text (rowid, errors, payload)
                    SELECT m.id,
                        substr((SELECT group_concat(json_extract(a.value, '$.error'), char(10)) FROM json_each(m.errors) a), 1, 16384),
                        CASE WHEN e.data_kind IN (1, 3) THEN substr(CAST(e.data AS TEXT), 1, 16384) END
                    FROM messages m JOIN events e ON e.seq = m.event_seq WHERE m.state = 3;
                """)
        }
        migrator.registerMigration("v7-replay-jobs") { db in
            try db.execute(sql: """
                -- Bulk replays tracked in the store (ReplayJob): the set is fixed at creation as its items.
                CREATE TABLE replay_jobs (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    state TEXT NOT NULL,            -- ReplayJobState
                    selection TEXT NOT NULL,        -- in words
                    target TEXT,                    -- another queue, or NULL: each letter's own
                    rate INTEGER NOT NULL,          -- letters per second, 0 unthrottled
                    total INTEGER NOT NULL,
                    cursor INTEGER NOT NULL DEFAULT 0,
                    moved INTEGER NOT NULL DEFAULT 0,
                    skipped INTEGER NOT NULL DEFAULT 0,
                    succeeded INTEGER NOT NULL DEFAULT 0,
                    failed_again INTEGER NOT NULL DEFAULT 0,
                    recent_outcomes INTEGER NOT NULL DEFAULT 0,
                    recent_count INTEGER NOT NULL DEFAULT 0,
                    created_by TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    finished_at INTEGER,
                    stop_reason TEXT,
                    runner TEXT,
                    lease_until INTEGER
                );
                CREATE TABLE replay_job_items (
                    job INTEGER NOT NULL REFERENCES replay_jobs(id),
                    seq INTEGER NOT NULL,           -- 1...total, oldest dead first
                    message_id INTEGER NOT NULL,
                    state INTEGER NOT NULL DEFAULT 0, -- 0 pending, 1 moved, 2 delivered, 3 failed again, 4 skipped
                    errors_at_move INTEGER,
                    PRIMARY KEY (job, seq)
                ) WITHOUT ROWID;
                CREATE INDEX replay_job_items_undecided ON replay_job_items(job, seq) WHERE state = 1;
                """)
        }
        migrator.registerMigration("v8-dead-letter-arrivals") { db in
            try db.execute(sql: """
                -- Dead letters made per cause and minute (DeadLetterArrivals), kept a day: the groups' sparklines.
                CREATE TABLE dead_letter_arrivals (
                    queue TEXT NOT NULL,
                    type TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    minute INTEGER NOT NULL,        -- dead_at / 60 s
                    count INTEGER NOT NULL,
                    PRIMARY KEY (queue, type, fingerprint, minute)
                ) WITHOUT ROWID;
                CREATE INDEX dead_letter_arrivals_by_minute ON dead_letter_arrivals(minute);
                INSERT INTO dead_letter_arrivals
                    SELECT m.queue, e.type, m.fingerprint, m.dead_at / 60000000, count(*)
                    FROM messages m JOIN events e ON e.seq = m.event_seq WHERE m.state = 3 GROUP BY 1, 2, 3, 4;
                """)
        }
        migrator.registerMigration("v9-log-rare-steps") { db in
            // The rows with a rare step (LogColumn.rareSteps), in log order with their steps: a filter
            // for failures, dead letters or an operator's actions reads these, not the whole log, and
            // counts them from the index alone. Rows of the common steps add no entry (the no-op path).
            // Queries name the same condition (LogColumn.hasRareStep, checked against this by a test).
            try db.execute(sql: "CREATE INDEX log_rare_steps ON log(seq, steps) WHERE steps & 31948 != 0")
        }
        migrator.registerMigration("v10-queue-seconds") { db in
            try db.execute(sql: """
                -- Per queue and second (QueueSecond), added to by the transactions of that second and kept
                -- QueueSecond.kept: the backlog's arrivals and departures and the latencies of successes,
                -- which a window's status, trend, time to drain and percentiles are read from.
                CREATE TABLE queue_seconds (
                    queue TEXT NOT NULL,
                    second INTEGER NOT NULL,        -- the transaction's time / 1 s
                    enqueued INTEGER NOT NULL,      -- joined the backlog: new messages (held or not), replays
                    held INTEGER NOT NULL,          -- of them, held for a batch window
                    released INTEGER NOT NULL,      -- held messages a window released
                    done INTEGER NOT NULL,          -- left the backlog: succeeded, dead-lettered, dropped
                    latency BLOB,                   -- published → succeeded (LatencyBuckets)
                    flow_latency BLOB,              -- the flow's first publish → succeeded
                    PRIMARY KEY (queue, second)
                ) WITHOUT ROWID;
                -- When the root of an event's causation chain was published (NULL: the event is a root).
                ALTER TABLE events ADD COLUMN flow_at INTEGER;
                """)
        }
        migrator.registerMigration("v11-live-messages-covered") { db in
            // The queue stats' count of live messages (depth by state, retries scheduled, poison, the
            // oldest enqueue) read from this index alone, a range per queue, not a row per message:
            // attempt and enqueued_at join its key. Claims and lease expiry use it as before.
            try db.execute(sql: """
                DROP INDEX messages_by_queue_state;
                CREATE INDEX messages_by_queue_state ON messages(queue, state, ready_at, attempt, enqueued_at);
                """)
        }
        migrator.registerMigration("v12-dead-letter-text-stale") { db in
            // A letter that leaves the dead state (replayed, edited, deleted) keeps its row in
            // dead_letter_text for a while: taking a row out of FTS5 costs as much as the rest of
            // its replay. Its id is noted here instead (one B-tree insert), every text query counts
            // only rows of letters that are dead (`messages.state = 3`, or none of these ids), a
            // letter that dies again replaces its row and leaves this list, and the runtime's
            // writer purges the rows listed here in small batches (WriteBatch.purgeStaleText).
            try db.execute(sql: "CREATE TABLE dead_letter_text_stale (id INTEGER PRIMARY KEY)")
        }
        migrator.registerMigration("v13-cpu-samples-covered") { db in
            // The CPU screen reads an hour of every scope's samples at once: from this index alone,
            // a range in time order, not a table lookup per row. It replaces the index by time
            // (retention's age bound goes along it too; its count bound along the rowid).
            try db.execute(sql: """
                DROP INDEX cpu_samples_by_time;
                CREATE INDEX cpu_samples_by_time_covering ON cpu_samples(at, scope, interval_us, cpu_us, busy_us, runs, capacity);
                """)
        }
        migrator.registerMigration("v14-lease-expiries") { db in
            // Leases that ran out, counted apart: `failed` counted them too (more failures than
            // `failed` records). Counts before this version keep them in `failed`.
            try db.execute(sql: "ALTER TABLE queue_counters ADD COLUMN lease_expired INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v15-runtime-nodes") { db in
            // A runtime is a node, `name@host:pid`: nodes of one service share its name, each has its
            // own row (its own heartbeat and stop), so one stopping no longer marks another stopped,
            // and a crashed run stays visible beside the next one until it is found dead.
            try db.execute(sql: """
                CREATE TABLE runtime_nodes (
                    name TEXT NOT NULL,
                    pid INTEGER NOT NULL,
                    host TEXT NOT NULL,
                    store TEXT NOT NULL,
                    started_at INTEGER NOT NULL,
                    heartbeat_at INTEGER NOT NULL,
                    stopped_at INTEGER,
                    PRIMARY KEY (name, host, pid)
                );
                INSERT INTO runtime_nodes SELECT name, pid, host, store, started_at, heartbeat_at, stopped_at FROM runtimes;
                DROP TABLE runtimes;
                ALTER TABLE runtime_nodes RENAME TO runtimes;
                """)
        }
        migrator.registerMigration("v16-cpu-ticks") { db in
            // The CPU samples of one moment in one row (CPUTick): an hour of 20 queues and the
            // process is 3,600 rows, not 75,600, read along the primary key (time, then the
            // number of the row's first sample). `seq` numbers the samples as written, so the
            // count bound deletes along its index. Existing samples are converted, a row per time.
            try db.execute(sql: """
                CREATE TABLE cpu_ticks (
                    at INTEGER NOT NULL,
                    seq INTEGER NOT NULL,       -- the number of its first sample (samples numbered as written)
                    count INTEGER NOT NULL,     -- its samples
                    scopes BLOB NOT NULL,       -- each sample's scope: a LEB128 length and the UTF-8
                    samples BLOB NOT NULL,      -- each sample's interval_us, cpu_us, busy_us, runs, capacity: zigzag LEB128
                    PRIMARY KEY (at, seq)
                ) WITHOUT ROWID;
                CREATE INDEX cpu_ticks_by_seq ON cpu_ticks(seq, count);
                """)
            var old: [CPUSample] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT at, scope, interval_us, cpu_us, busy_us, runs, capacity FROM cpu_samples ORDER BY at, rowid")
            while let row = try rows.next() {
                old.append(CPUSample(time: row[0], scope: row[1], intervalMicros: row[2], cpuMicros: row[3], busyMicros: row[4], runs: row[5], capacity: row[6]))
            }
            try CPUTick.insert(old, into: db)
            try db.execute(sql: "DROP TABLE cpu_samples")
        }
        migrator.registerMigration("v18-dead-letter-text-by-column") { db in
            // The text index, a table per column (DeadLetterText): in one table a payload text read
            // the doclists of the errors' trigrams too and filtered every position by column (a
            // payload text in every letter: twice the work). Each table keeps a row per indexed
            // letter, as the one table did (the stale list covers both); the rows move as they are.
            try db.execute(sql: """
                CREATE VIRTUAL TABLE dead_letter_errors USING fts5(errors, tokenize = 'trigram', columnsize = 0);
                CREATE VIRTUAL TABLE dead_letter_payloads USING fts5(payload, tokenize = 'trigram', columnsize = 0);
                INSERT INTO dead_letter_errors (rowid, errors) SELECT rowid, errors FROM dead_letter_text;
                INSERT INTO dead_letter_payloads (rowid, payload) SELECT rowid, payload FROM dead_letter_text;
                DROP TABLE dead_letter_text;
                """)
        }
        migrator.registerMigration("v20-rules-per-runtime") { db in
            // Routing ownership: an event goes by the union of the rules of the live runtimes, so each
            // runtime's rules are its own (two runtimes may both name a rule `orders`), a declaration
            // replaces its runtime's rules, and a generation, bumped by every declaration and stop,
            // tells a routing runtime at the cost of one row that the rules it routes by are outdated.
            try db.execute(sql: """
                CREATE TABLE runtime_rules (
                    runtime TEXT NOT NULL,
                    name TEXT NOT NULL,
                    pattern TEXT NOT NULL,
                    targets TEXT NOT NULL,      -- comma-separated queue names
                    PRIMARY KEY (runtime, name)
                );
                INSERT INTO runtime_rules SELECT runtime, name, pattern, targets FROM rules;
                DROP TABLE rules;
                ALTER TABLE runtime_rules RENAME TO rules;
                CREATE TABLE routing_generation (id INTEGER PRIMARY KEY CHECK (id = 1), generation INTEGER NOT NULL);
                INSERT INTO routing_generation VALUES (1, 1);
                """)
        }
        migrator.registerMigration("v21-nodes") { db in
            // Which node holds a message in flight (`RuntimeInfo.node`), so a node found dead has its
            // leases returned at once while its peers run on; and each node's own throughput, written
            // with its heartbeat: outcomes committed in all, and per second since the last heartbeat
            // (in thousandths). PostgreSQL's `v2-nodes` is the same.
            try db.execute(sql: """
                ALTER TABLE messages ADD COLUMN claimed_by INTEGER;
                ALTER TABLE runtimes ADD COLUMN done INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE runtimes ADD COLUMN done_rate INTEGER NOT NULL DEFAULT 0;
                """)
        }
        return migrator
    }
}
