-- 0005: operator actions (retry a dead step, restart, selective rerun) and pause
-- rules (see the SQLite store's 0005).

-- Attempts a step had made when an operator last retried it: the retry policy's
-- budget counts the attempts after it. Step saves never write it.
ALTER TABLE steps ADD COLUMN attempt_base INTEGER NOT NULL DEFAULT 0;

-- Who started a run through an operator action, and when (NULL for the initial run).
ALTER TABLE runs ADD COLUMN triggered_by TEXT;
ALTER TABLE runs ADD COLUMN triggered_at BIGINT;

-- An execution parks on a rule with wait_kind 'pause' and wait_ref = rule_id; the
-- existing `executions_parked` index finds them when the rule is deleted. A rule's
-- delete locks its row and a suspension on it takes a share lock, so the two
-- serialize (see parking.rs and pauses.rs).
CREATE TABLE pause_rules (
    rule_id      TEXT COLLATE "C" PRIMARY KEY,
    execution_id TEXT COLLATE "C",
    task_name    TEXT COLLATE "C",
    step_pattern TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    created_by   TEXT   NOT NULL,
    deleted_at   BIGINT,
    reason       TEXT
);

CREATE INDEX pause_rules_active ON pause_rules (created_at, rule_id) WHERE deleted_at IS NULL;

-- One row per applied action. `effective_rerun` (a JSON array of step names) and
-- `potentially_stale` (a JSON array of StaleStep) are NULL when empty. The unique
-- index keeps an idempotency key once per execution.
CREATE TABLE actions (
    action_id         TEXT COLLATE "C" PRIMARY KEY,
    execution_id      TEXT COLLATE "C" NOT NULL,
    kind              TEXT COLLATE "C" NOT NULL,
    run_index         INTEGER NOT NULL,
    step_name         TEXT,
    triggered_by      TEXT   NOT NULL,
    triggered_at      BIGINT NOT NULL,
    idempotency_key   TEXT,
    effective_rerun   JSON,
    potentially_stale JSON
);

CREATE INDEX actions_execution ON actions (execution_id, triggered_at);
CREATE UNIQUE INDEX actions_idempotency ON actions (execution_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
