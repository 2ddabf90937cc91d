-- 0001 init: the data model of docs/architecture.md.
--
-- Runs with search_path set to the store's schema, inside the migration
-- transaction. Timestamps are BIGINT milliseconds since the Unix epoch (UTC). JSON is
-- stored as `json` (text kept verbatim, so "\u0000" and key order survive; we never
-- query inside it). Identifiers use the "C" collation: byte order, as in SQLite.

-- The hot row: claims, heartbeats and step commits update it, so it stays small and
-- leaves room on each page for HOT updates.
CREATE TABLE executions (
    id               TEXT COLLATE "C" PRIMARY KEY,
    task_name        TEXT COLLATE "C" NOT NULL,
    status           TEXT COLLATE "C" NOT NULL,
    run_index        INTEGER NOT NULL,
    parent_id        TEXT COLLATE "C",
    scheduled_at     BIGINT  NOT NULL,
    started_at       BIGINT,
    updated_at       BIGINT  NOT NULL,
    completed_at     BIGINT,
    deadline_at      BIGINT,
    version          BIGINT  NOT NULL,
    due_at           BIGINT,
    lease_owner      TEXT COLLATE "C",
    leased_at        BIGINT,
    lease_expires_at BIGINT,
    fence            BIGINT  NOT NULL DEFAULT 0,
    wait_kind        TEXT COLLATE "C",
    wait_ref         TEXT COLLATE "C",
    wait_until       BIGINT,
    wait_attempt     INTEGER
) WITH (fillfactor = 80);

-- Claims: due, unleased work, and leases that expired.
CREATE INDEX executions_due ON executions (due_at)
    WHERE lease_owner IS NULL AND status IN ('scheduled', 'running');
CREATE INDEX executions_lease_expiry ON executions (lease_expires_at)
    WHERE lease_owner IS NOT NULL;
-- What parked executions wait on.
CREATE INDEX executions_parked ON executions (wait_kind, wait_ref)
    WHERE wait_kind IS NOT NULL;
-- Children (cancel cascades).
CREATE INDEX executions_parent ON executions (parent_id)
    WHERE parent_id IS NOT NULL;
-- Retention.
CREATE INDEX executions_finished ON executions (completed_at)
    WHERE completed_at IS NOT NULL;
-- The default listing order.
CREATE INDEX executions_scheduled_at ON executions (scheduled_at, id);

-- Large values, written at creation and at finish only. `payload` is the current
-- run's input.
CREATE TABLE execution_data (
    execution_id TEXT COLLATE "C" PRIMARY KEY,
    payload      JSON NOT NULL,
    result       JSON,
    error        JSON
);

CREATE TABLE runs (
    execution_id TEXT COLLATE "C" NOT NULL,
    run_index    INTEGER NOT NULL,
    payload      JSON    NOT NULL,
    status       TEXT COLLATE "C" NOT NULL,
    result       JSON,
    started_at   BIGINT,
    completed_at BIGINT,
    trigger      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (execution_id, run_index)
);

-- The journal.
CREATE TABLE steps (
    execution_id  TEXT COLLATE "C" NOT NULL,
    run_index     INTEGER NOT NULL,
    name          TEXT COLLATE "C" NOT NULL,
    occurrence    INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    kind          TEXT COLLATE "C" NOT NULL,
    status        TEXT COLLATE "C" NOT NULL,
    result        JSON,
    last_error    TEXT,
    retryable     BOOLEAN NOT NULL,
    retry_attempt INTEGER NOT NULL,
    scheduled_at  BIGINT  NOT NULL,
    completed_at  BIGINT,
    wake_at       BIGINT,
    PRIMARY KEY (execution_id, run_index, name, occurrence)
);

CREATE TABLE step_attempts (
    execution_id   TEXT COLLATE "C" NOT NULL,
    run_index      INTEGER NOT NULL,
    name           TEXT COLLATE "C" NOT NULL,
    occurrence     INTEGER NOT NULL,
    attempt_number INTEGER NOT NULL,
    status         TEXT COLLATE "C" NOT NULL,
    result         JSON,
    error          TEXT,
    started_at     BIGINT  NOT NULL,
    completed_at   BIGINT,
    PRIMARY KEY (execution_id, run_index, name, occurrence, attempt_number)
);

-- The inbox. `seq` is assigned while the offer holds the execution's row lock, so it
-- follows commit order per execution: FIFO per name.
CREATE TABLE events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    payload      JSON   NOT NULL,
    created_at   BIGINT NOT NULL,
    consumed_at  BIGINT,
    consumed_by  TEXT COLLATE "C"
);

CREATE INDEX events_unconsumed ON events (execution_id, name, seq)
    WHERE consumed_at IS NULL;
CREATE INDEX events_execution ON events (execution_id);
