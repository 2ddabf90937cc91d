-- 0011: per-key concurrency (see docs/architecture.md, "Flow control"). An execution
-- may carry a concurrency key; a queue may limit how many of one key run at once
-- (`key_concurrency`). Claims of such a queue go round-robin between keys by
-- start-time fair queuing: `key_seq` is one past the key's last unfinished
-- execution, never behind the queue's clock `key_clock` (the largest sequence
-- claimed), and the claim order is (priority, key_seq, due_at).
ALTER TABLE executions ADD COLUMN concurrency_key TEXT;
ALTER TABLE executions ADD COLUMN key_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queues ADD COLUMN key_concurrency INTEGER;
ALTER TABLE queues ADD COLUMN key_clock INTEGER NOT NULL DEFAULT 0;

DROP INDEX executions_queue_due;
CREATE INDEX executions_queue_due ON executions (queue, priority, key_seq, due_at, id)
    WHERE lease_owner IS NULL AND due_at IS NOT NULL AND queue IS NOT NULL;
-- A key's running count.
CREATE INDEX executions_key_leased ON executions (queue, concurrency_key)
    WHERE lease_owner IS NOT NULL AND concurrency_key IS NOT NULL;
-- A key's last unfinished sequence, for the next start's.
CREATE INDEX executions_key_seq ON executions (queue, concurrency_key, key_seq)
    WHERE concurrency_key IS NOT NULL AND status IN ('scheduled', 'running');
