-- 0008: flow control (see docs/architecture.md, "Flow control"). Named queues hold
-- their limits in `queues`; an execution names its queue (NULL: the default queue,
-- which has no limits) and a priority. The default queue's claim keeps its index,
-- now restricted to default-queue rows, so named-queue rows cost it nothing; named
-- queues get their own partial indexes, which default-queue rows never enter.
CREATE TABLE queues (
    name              TEXT PRIMARY KEY,
    concurrency       INTEGER,
    per_worker        INTEGER,
    priority_aging_ms INTEGER,
    updated_at        INTEGER NOT NULL
);

ALTER TABLE executions ADD COLUMN queue TEXT;
ALTER TABLE executions ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;

DROP INDEX executions_due;
CREATE INDEX executions_due ON executions (due_at, id)
    WHERE lease_owner IS NULL AND due_at IS NOT NULL AND queue IS NULL;
-- A named queue's due work in claim order.
CREATE INDEX executions_queue_due ON executions (queue, priority, due_at, id)
    WHERE lease_owner IS NULL AND due_at IS NOT NULL AND queue IS NOT NULL;
-- Named queues' due work by due time (priority aging, the next due time).
CREATE INDEX executions_queue_wake ON executions (due_at, id)
    WHERE lease_owner IS NULL AND due_at IS NOT NULL AND queue IS NOT NULL;
-- A named queue's running count.
CREATE INDEX executions_queue_leased ON executions (queue)
    WHERE lease_owner IS NOT NULL AND queue IS NOT NULL;
