-- 0009: deduplication (see docs/architecture.md, "Flow control"). A start may carry a
-- deduplication id; while an execution of the same queue with that id is scheduled or
-- running, the unique partial index refuses a second one, and the start is answered
-- with the existing execution. A finished execution leaves the index by its status;
-- an operator's retry or new run of it clears its id (see actions.rs, REQUEUE).
ALTER TABLE executions ADD COLUMN dedup_id TEXT;

CREATE UNIQUE INDEX executions_dedup ON executions (ifnull(queue, ''), dedup_id)
    WHERE dedup_id IS NOT NULL AND status IN ('scheduled', 'running');
