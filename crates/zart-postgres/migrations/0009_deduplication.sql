-- 0009: deduplication (see the SQLite store's 0009 and docs/architecture.md, "Flow
-- control"). The unique partial index holds across every process: of two concurrent
-- starts with the same queue and deduplication id, one inserts and the other's
-- `ON CONFLICT DO NOTHING` skips its row, and it reads the winner back.
ALTER TABLE executions ADD COLUMN dedup_id TEXT COLLATE "C";

CREATE UNIQUE INDEX executions_dedup ON executions ((coalesce(queue, '')), dedup_id)
    WHERE dedup_id IS NOT NULL AND status IN ('scheduled', 'running');
