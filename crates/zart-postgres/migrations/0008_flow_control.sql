-- 0008: flow control (see the SQLite store's 0008 and docs/architecture.md, "Flow
-- control"). A claim of a named queue's work locks the queue's row FOR UPDATE
-- before counting its running executions, so two processes never both see the same
-- free slot. The default queue's claim index is restricted to default-queue rows.
CREATE TABLE queues (
    name              TEXT COLLATE "C" PRIMARY KEY,
    concurrency       INTEGER,
    per_worker        INTEGER,
    priority_aging_ms BIGINT,
    updated_at        BIGINT  NOT NULL
);

ALTER TABLE executions ADD COLUMN queue TEXT COLLATE "C";
ALTER TABLE executions ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;

DROP INDEX executions_due;
CREATE INDEX executions_due ON executions (due_at)
    WHERE lease_owner IS NULL AND status IN ('scheduled', 'running') AND queue IS NULL;
-- A named queue's due work in claim order.
CREATE INDEX executions_queue_due ON executions (queue, priority, due_at)
    WHERE lease_owner IS NULL AND status IN ('scheduled', 'running') AND queue IS NOT NULL;
-- Named queues' due work by due time (priority aging, the next due time).
CREATE INDEX executions_queue_wake ON executions (due_at)
    WHERE lease_owner IS NULL AND status IN ('scheduled', 'running') AND queue IS NOT NULL;
-- A named queue's running count.
CREATE INDEX executions_queue_leased ON executions (queue)
    WHERE lease_owner IS NOT NULL AND queue IS NOT NULL;
