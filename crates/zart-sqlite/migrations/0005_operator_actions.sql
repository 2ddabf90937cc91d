-- Operator actions: retry a dead step, restart, selective rerun; pause rules.

-- Attempts a step had made when an operator last retried it: the retry policy's
-- budget counts the attempts after it. Step saves never write it.
ALTER TABLE steps ADD COLUMN attempt_base INTEGER NOT NULL DEFAULT 0;

-- Who started a run through an operator action, and when (NULL for the initial run).
ALTER TABLE runs ADD COLUMN triggered_by TEXT;
ALTER TABLE runs ADD COLUMN triggered_at INTEGER;

CREATE TABLE pause_rules (
    rule_id      TEXT    NOT NULL PRIMARY KEY,
    execution_id TEXT,
    task_name    TEXT,
    step_pattern TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    created_by   TEXT    NOT NULL,
    deleted_at   INTEGER,
    reason       TEXT
) WITHOUT ROWID;

CREATE INDEX pause_rules_active ON pause_rules (created_at) WHERE deleted_at IS NULL;

CREATE TABLE actions (
    action_id         TEXT    NOT NULL PRIMARY KEY,
    execution_id      TEXT    NOT NULL,
    kind              TEXT    NOT NULL,
    run_index         INTEGER NOT NULL,
    step_name         TEXT,
    triggered_by      TEXT    NOT NULL,
    triggered_at      INTEGER NOT NULL,
    idempotency_key   TEXT,
    effective_rerun   TEXT,
    potentially_stale TEXT
) WITHOUT ROWID;

CREATE INDEX actions_execution ON actions (execution_id, triggered_at);
CREATE UNIQUE INDEX actions_idempotency ON actions (execution_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- The executions a rule holds, for its delete; only paused rows are in it.
CREATE INDEX executions_paused ON executions (wait_ref) WHERE wait_kind = 'pause';
