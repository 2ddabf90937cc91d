-- 0002: the attempt that completes a step is kept in the step row.
--
-- Runs with search_path set to the store's schema; the trigger function keeps that
-- search_path (SET search_path FROM CURRENT), since the store's connections name the
-- schema in every statement instead of setting it.
--
-- Most steps succeed on their first attempt; writing that attempt as a row of its own
-- cost a third of a step's writes. When the attempt says nothing the step row does
-- not, the store sets `attempt_started_at` instead, and reads it back as the step's
-- last attempt (number `retry_attempt`, completed at `completed_at`). Before a save
-- replaces such a step row with one that no longer carries that attempt, the trigger
-- moves the attempt into `step_attempts`, so no attempt is ever lost.
ALTER TABLE steps ADD COLUMN attempt_started_at BIGINT;

CREATE FUNCTION steps_keep_inline_attempt() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO step_attempts (execution_id, run_index, name, occurrence,
        attempt_number, status, result, error, started_at, completed_at)
    VALUES (OLD.execution_id, OLD.run_index, OLD.name, OLD.occurrence, OLD.retry_attempt,
        'completed', NULL, NULL, OLD.attempt_started_at, OLD.completed_at)
    ON CONFLICT DO NOTHING;
    RETURN NEW;
END
$$;

CREATE TRIGGER steps_keep_inline_attempt BEFORE UPDATE ON steps FOR EACH ROW
WHEN (OLD.attempt_started_at IS NOT NULL
    AND (NEW.attempt_started_at IS NULL OR NEW.retry_attempt <> OLD.retry_attempt))
EXECUTE FUNCTION steps_keep_inline_attempt();
