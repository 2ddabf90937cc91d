-- 0010: queue rate limits (see the SQLite store's 0010 and docs/architecture.md,
-- "Flow control"). The token bucket lives in the queue's row, which a claim already
-- locks FOR UPDATE, so every process shares one bucket.
ALTER TABLE queues ADD COLUMN rate_limit INTEGER;
ALTER TABLE queues ADD COLUMN rate_period_ms BIGINT;
ALTER TABLE queues ADD COLUMN rate_tokens DOUBLE PRECISION;
ALTER TABLE queues ADD COLUMN rate_at BIGINT;
