-- 0011: per-key concurrency (see the SQLite store's 0011 and docs/architecture.md,
-- "Flow control"). The claim of a queue with a per-key limit runs under the queue's
-- row lock, so the per-key counts it reads cannot change before its claims commit.
ALTER TABLE executions ADD COLUMN concurrency_key TEXT COLLATE "C";
ALTER TABLE executions ADD COLUMN key_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE queues ADD COLUMN key_concurrency INTEGER;
ALTER TABLE queues ADD COLUMN key_clock BIGINT NOT NULL DEFAULT 0;

DROP INDEX executions_queue_due;
CREATE INDEX executions_queue_due ON executions (queue, priority, key_seq, due_at)
    WHERE lease_owner IS NULL AND status IN ('scheduled', 'running') AND queue IS NOT NULL;
-- A key's running count.
CREATE INDEX executions_key_leased ON executions (queue, concurrency_key)
    WHERE lease_owner IS NOT NULL AND concurrency_key IS NOT NULL;
-- A key's last unfinished sequence, for the next start's.
CREATE INDEX executions_key_seq ON executions (queue, concurrency_key, key_seq)
    WHERE concurrency_key IS NOT NULL AND status IN ('scheduled', 'running');
