-- 0006: schedules (see the SQLite store's 0006 and zart-core's schedule.rs). A firing
-- locks the schedule's row, compares and sets its cursor (next_fire_at, buffered_at)
-- and inserts its executions in one transaction, so of several processes firing
-- the same slot one records it and the others find the cursor moved.
CREATE TABLE schedules (
    schedule_id       TEXT COLLATE "C" PRIMARY KEY,
    task_name         TEXT COLLATE "C" NOT NULL,
    payload           TEXT    NOT NULL,
    cron              TEXT,
    timezone          TEXT,
    interval_secs     BIGINT,
    overlap           TEXT    NOT NULL,
    catch_up          TEXT    NOT NULL,
    paused            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    next_fire_at      BIGINT,
    buffered_at       BIGINT,
    last_fired_at     BIGINT,
    last_execution_id TEXT COLLATE "C"
);

CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE NOT paused;
