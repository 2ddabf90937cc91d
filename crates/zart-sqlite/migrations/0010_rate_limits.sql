-- 0010: queue rate limits (see docs/architecture.md, "Flow control"). A queue may
-- allow at most `rate_limit` claims per `rate_period_ms`; the token bucket lives in
-- the queue's row: `rate_tokens` left at `rate_at` (ms), refilled on each claim.
ALTER TABLE queues ADD COLUMN rate_limit INTEGER;
ALTER TABLE queues ADD COLUMN rate_period_ms INTEGER;
ALTER TABLE queues ADD COLUMN rate_tokens REAL;
ALTER TABLE queues ADD COLUMN rate_at INTEGER;
