-- Zart schema, version 1. Timestamps are INTEGER milliseconds since the Unix epoch
-- (UTC); JSON values are TEXT. See docs/architecture.md ("Data model").

-- The hot row: claims and heartbeats update it, so large JSON lives elsewhere.
CREATE TABLE executions (
    id               TEXT    NOT NULL PRIMARY KEY,
    task_name        TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    run_index        INTEGER NOT NULL,
    parent_id        TEXT,
    scheduled_at     INTEGER NOT NULL,
    started_at       INTEGER,
    updated_at       INTEGER NOT NULL,
    completed_at     INTEGER,
    deadline_at      INTEGER,
    version          INTEGER NOT NULL,
    due_at           INTEGER,
    lease_owner      TEXT,
    leased_at        INTEGER,
    lease_expires_at INTEGER,
    fence            INTEGER NOT NULL DEFAULT 0,
    wait_kind        TEXT,
    wait_ref         TEXT,
    wait_until       INTEGER,
    wait_attempt     INTEGER
) WITHOUT ROWID;

-- Claimable unleased work, earliest first.
CREATE INDEX executions_due ON executions (due_at, id)
    WHERE lease_owner IS NULL AND due_at IS NOT NULL;
-- Held leases, by expiry (claims of expired leases, next-due computation).
CREATE INDEX executions_lease_expiry ON executions (lease_expires_at, id)
    WHERE lease_owner IS NOT NULL;
-- Cancel cascades and parent wake-ups.
CREATE INDEX executions_parent ON executions (parent_id) WHERE parent_id IS NOT NULL;
-- Listing and retention.
CREATE INDEX executions_scheduled ON executions (scheduled_at, id);
CREATE INDEX executions_status ON executions (status, scheduled_at, id);
CREATE INDEX executions_task ON executions (task_name, scheduled_at, id);
CREATE INDEX executions_completed ON executions (completed_at) WHERE completed_at IS NOT NULL;

CREATE TABLE execution_data (
    execution_id TEXT NOT NULL PRIMARY KEY,
    payload      TEXT NOT NULL,
    result       TEXT,
    error        TEXT
) WITHOUT ROWID;

CREATE TABLE runs (
    execution_id TEXT    NOT NULL,
    run_index    INTEGER NOT NULL,
    payload      TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    result       TEXT,
    started_at   INTEGER,
    completed_at INTEGER,
    trigger      TEXT    NOT NULL,
    PRIMARY KEY (execution_id, run_index)
) WITHOUT ROWID;

CREATE TABLE steps (
    execution_id  TEXT    NOT NULL,
    run_index     INTEGER NOT NULL,
    name          TEXT    NOT NULL,
    occurrence    INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    result        TEXT,
    last_error    TEXT,
    retryable     INTEGER NOT NULL,
    retry_attempt INTEGER NOT NULL,
    scheduled_at  INTEGER NOT NULL,
    completed_at  INTEGER,
    wake_at       INTEGER,
    PRIMARY KEY (execution_id, run_index, name, occurrence)
) WITHOUT ROWID;

CREATE INDEX steps_position ON steps (execution_id, run_index, position);

CREATE TABLE step_attempts (
    execution_id   TEXT    NOT NULL,
    run_index      INTEGER NOT NULL,
    name           TEXT    NOT NULL,
    occurrence     INTEGER NOT NULL,
    attempt_number INTEGER NOT NULL,
    status         TEXT    NOT NULL,
    result         TEXT,
    error          TEXT,
    started_at     INTEGER NOT NULL,
    completed_at   INTEGER,
    PRIMARY KEY (execution_id, run_index, name, occurrence, attempt_number)
) WITHOUT ROWID;

-- The inbox. AUTOINCREMENT keeps seq monotonic (never reused), which gives FIFO.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    consumed_at  INTEGER,
    consumed_by  TEXT
);

CREATE INDEX events_pending ON events (execution_id, name, seq) WHERE consumed_at IS NULL;
CREATE INDEX events_execution ON events (execution_id);
