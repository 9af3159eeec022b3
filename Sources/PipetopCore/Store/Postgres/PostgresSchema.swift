/// The PostgreSQL schema, as versioned migrations recorded in `pipetop_migrations`: the same
/// tables, columns and indexes as `SQLiteSchema`'s latest version, in PostgreSQL's types (times
/// are microseconds since the epoch, `bigint`). Its history starts at the SQLite schema of
/// `v20-rules-per-runtime`; later changes are migrations of their own on both backends.
///
/// Where the engines differ: the dead letters' text is one table with trigram indexes
/// (`pg_trgm`, GIN) instead of FTS5's, its text in lower case by ICU's root locale (the server
/// must have ICU: the first statement says so if not; `PostgresDeadLetterQuery.folded`); an error history is `jsonb`; a correlation id compares
/// byte for byte (`COLLATE "C"`, as SQLite's BINARY), so its index serves prefix searches; ids come from the writer's
/// transaction as on SQLite (writers are serialised, see `PostgresStore`), message ids past a
/// deleted message from `id_high_water`.
enum PostgresSchema {
    static let migrations: [(name: String, sql: String)] = [
        ("v1", """
            SELECT lower('pipetop' COLLATE "und-x-icu");
            CREATE EXTENSION IF NOT EXISTS pg_trgm;
            CREATE TABLE events (
                seq bigint PRIMARY KEY,
                id text NOT NULL,
                source text NOT NULL,
                type text NOT NULL,
                time bigint,
                subject text,
                datacontenttype text,
                dataschema text,
                correlation_id text COLLATE "C",
                causation_id text,
                traceparent text,
                extensions text,
                data bytea,
                data_kind bigint NOT NULL,
                published_at bigint NOT NULL,
                routed bigint NOT NULL,
                log_seq bigint,
                flow_at bigint
            );
            CREATE INDEX events_by_correlation ON events(correlation_id);
            CREATE INDEX events_unrouted ON events(seq) WHERE routed = 0;

            CREATE TABLE messages (
                id bigint PRIMARY KEY,
                queue text NOT NULL,
                event_seq bigint NOT NULL,
                state bigint NOT NULL,
                ready_at bigint NOT NULL,
                enqueued_at bigint NOT NULL,
                attempt bigint NOT NULL DEFAULT 0,
                deliveries bigint NOT NULL DEFAULT 0,
                errors jsonb NOT NULL DEFAULT '[]',
                first_failed_at bigint,
                dead_at bigint,
                reason text,
                fingerprint text,
                replays bigint NOT NULL DEFAULT 0
            );
            CREATE INDEX messages_by_queue_state ON messages(queue, state, ready_at, attempt, enqueued_at);
            CREATE INDEX messages_dead_by_queue ON messages(queue, dead_at) WHERE state = 3;
            CREATE INDEX messages_dead_by_time ON messages(dead_at) WHERE state = 3;
            CREATE INDEX messages_dead_by_cause ON messages(fingerprint, dead_at) WHERE state = 3;
            CREATE INDEX messages_dead_by_queue_cause ON messages(queue, fingerprint, dead_at) WHERE state = 3;

            CREATE TABLE log (
                seq bigint PRIMARY KEY,
                at bigint NOT NULL,
                steps bigint NOT NULL,
                event_seq bigint NOT NULL,
                queue text,
                message_id bigint,
                attempt bigint,
                duration_us bigint,
                error text,
                error_steps bigint NOT NULL,
                detail text,
                detail_steps bigint NOT NULL
            );
            CREATE INDEX log_by_event ON log(event_seq) WHERE steps & 1 = 0;
            CREATE INDEX log_rare_steps ON log(seq, steps) WHERE steps & 31948 != 0;

            CREATE TABLE id_high_water (id bigint PRIMARY KEY CHECK (id = 1), message bigint NOT NULL);
            INSERT INTO id_high_water VALUES (1, 0);

            CREATE TABLE queues (
                name text PRIMARY KEY,
                mode text NOT NULL,
                window_us bigint,
                concurrency bigint NOT NULL,
                visibility_timeout_us bigint NOT NULL,
                max_attempts bigint NOT NULL,
                backoff_base_us bigint NOT NULL,
                backoff_cap_us bigint NOT NULL,
                max_age_us bigint,
                dead_letter bigint NOT NULL,
                runtime text NOT NULL,
                declared_at bigint NOT NULL,
                deduplicate_us bigint
            );
            CREATE TABLE queue_counters (
                queue text PRIMARY KEY,
                enqueued bigint NOT NULL DEFAULT 0,
                claimed bigint NOT NULL DEFAULT 0,
                succeeded bigint NOT NULL DEFAULT 0,
                failed bigint NOT NULL DEFAULT 0,
                retried bigint NOT NULL DEFAULT 0,
                dead_lettered bigint NOT NULL DEFAULT 0,
                duplicates bigint NOT NULL DEFAULT 0,
                lease_expired bigint NOT NULL DEFAULT 0
            );
            CREATE TABLE dedup (
                queue text NOT NULL,
                source text NOT NULL,
                id text NOT NULL,
                accepted_at bigint NOT NULL,
                event_seq bigint NOT NULL,
                PRIMARY KEY (queue, source, id)
            );
            CREATE INDEX dedup_by_age ON dedup(queue, accepted_at);
            CREATE TABLE audit (
                seq bigserial PRIMARY KEY,
                at bigint NOT NULL,
                actor text NOT NULL,
                action text NOT NULL,
                detail text NOT NULL,
                count bigint NOT NULL
            );
            CREATE TABLE dead_letter_causes (
                queue text NOT NULL,
                type text NOT NULL,
                fingerprint text NOT NULL,
                count bigint NOT NULL,
                failed_again bigint NOT NULL,
                first_dead_at bigint NOT NULL,
                last_dead_at bigint NOT NULL,
                PRIMARY KEY (queue, type, fingerprint)
            );
            CREATE TABLE dead_letter_text (
                id bigint PRIMARY KEY,
                errors text,
                payload text
            );
            CREATE INDEX dead_letter_errors ON dead_letter_text USING gin (errors gin_trgm_ops);
            CREATE INDEX dead_letter_payloads ON dead_letter_text USING gin (payload gin_trgm_ops);
            CREATE TABLE replay_jobs (
                id bigserial PRIMARY KEY,
                state text NOT NULL,
                selection text NOT NULL,
                target text,
                rate bigint NOT NULL,
                total bigint NOT NULL,
                cursor bigint NOT NULL DEFAULT 0,
                moved bigint NOT NULL DEFAULT 0,
                skipped bigint NOT NULL DEFAULT 0,
                succeeded bigint NOT NULL DEFAULT 0,
                failed_again bigint NOT NULL DEFAULT 0,
                recent_outcomes bigint NOT NULL DEFAULT 0,
                recent_count bigint NOT NULL DEFAULT 0,
                created_by text NOT NULL,
                created_at bigint NOT NULL,
                updated_at bigint NOT NULL,
                finished_at bigint,
                stop_reason text,
                runner text,
                lease_until bigint
            );
            CREATE TABLE replay_job_items (
                job bigint NOT NULL REFERENCES replay_jobs(id),
                seq bigint NOT NULL,
                message_id bigint NOT NULL,
                state bigint NOT NULL DEFAULT 0,
                errors_at_move bigint,
                PRIMARY KEY (job, seq)
            );
            CREATE INDEX replay_job_items_undecided ON replay_job_items(job, seq) WHERE state = 1;
            CREATE TABLE dead_letter_arrivals (
                queue text NOT NULL,
                type text NOT NULL,
                fingerprint text NOT NULL,
                minute bigint NOT NULL,
                count bigint NOT NULL,
                PRIMARY KEY (queue, type, fingerprint, minute)
            );
            CREATE INDEX dead_letter_arrivals_by_minute ON dead_letter_arrivals(minute);
            CREATE TABLE queue_seconds (
                queue text NOT NULL,
                second bigint NOT NULL,
                enqueued bigint NOT NULL,
                held bigint NOT NULL,
                released bigint NOT NULL,
                done bigint NOT NULL,
                latency bytea,
                flow_latency bytea,
                PRIMARY KEY (queue, second)
            );
            CREATE TABLE runtimes (
                name text NOT NULL,
                pid bigint NOT NULL,
                host text NOT NULL,
                store text NOT NULL,
                started_at bigint NOT NULL,
                heartbeat_at bigint NOT NULL,
                stopped_at bigint,
                PRIMARY KEY (name, host, pid)
            );
            CREATE TABLE cpu_ticks (
                at bigint NOT NULL,
                seq bigint NOT NULL,
                count bigint NOT NULL,
                scopes bytea NOT NULL,
                samples bytea NOT NULL,
                PRIMARY KEY (at, seq)
            );
            CREATE INDEX cpu_ticks_by_seq ON cpu_ticks(seq, count);
            CREATE TABLE rules (
                runtime text NOT NULL,
                name text NOT NULL,
                pattern text NOT NULL,
                targets text NOT NULL,
                PRIMARY KEY (runtime, name)
            );
            CREATE TABLE routing_generation (id bigint PRIMARY KEY CHECK (id = 1), generation bigint NOT NULL);
            INSERT INTO routing_generation VALUES (1, 1);
            """),
        ("v2-nodes", """
            ALTER TABLE messages ADD COLUMN claimed_by bigint;
            ALTER TABLE runtimes ADD COLUMN done bigint NOT NULL DEFAULT 0;
            ALTER TABLE runtimes ADD COLUMN done_rate bigint NOT NULL DEFAULT 0;
            """),
        // PostgreSQL's own (SQLite has one writer without a lock): a write transaction's first
        // statement, one round trip instead of four. It waits for the write lock, then reads
        // what the transaction starts from; a volatile function's statements each take a new
        // snapshot (READ COMMITTED), so these reads see every commit of the writer before.
        ("v3-write-lock", """
            CREATE FUNCTION pipetop_write_lock(write_lock bigint)
                RETURNS TABLE (w_generation bigint, w_event bigint, w_message bigint, w_log bigint, w_unrouted boolean)
                LANGUAGE plpgsql VOLATILE AS $$
            BEGIN
                PERFORM pg_advisory_xact_lock(write_lock);
                RETURN QUERY SELECT (SELECT g.generation FROM routing_generation g),
                    (SELECT coalesce(max(e.seq), 0) + 1 FROM events e),
                    greatest((SELECT coalesce(max(m.id), 0) FROM messages m), (SELECT h.message FROM id_high_water h)) + 1,
                    (SELECT coalesce(max(l.seq), 0) + 1 FROM log l),
                    EXISTS (SELECT 1 FROM events e WHERE e.routed = 0);
            END
            $$;
            """),
    ]

    /// The newest schema this build writes, and how many migrations lead to it.
    static var version: (name: String, migrations: Int) { (migrations.last!.name, migrations.count) }
}
