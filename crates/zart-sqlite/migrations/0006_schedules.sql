-- 0006: schedules (see zart-core's schedule.rs). One row per schedule: its spec and
-- its cursor. A firing compares and sets the cursor (next_fire_at, buffered_at) and
-- inserts its executions in the same transaction. Times are milliseconds since the
-- Unix epoch; payload is JSON text.
CREATE TABLE schedules (
    schedule_id       TEXT PRIMARY KEY,
    task_name         TEXT    NOT NULL,
    payload           TEXT    NOT NULL,
    cron              TEXT,
    timezone          TEXT,
    interval_secs     INTEGER,
    overlap           TEXT    NOT NULL,
    catch_up          TEXT    NOT NULL,
    paused            INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    next_fire_at      INTEGER,
    buffered_at       INTEGER,
    last_fired_at     INTEGER,
    last_execution_id TEXT
);

-- What the schedulers look for: unpaused schedules by cursor.
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE paused = 0;
