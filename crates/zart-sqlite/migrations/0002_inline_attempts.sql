-- 0002: the attempt that completes a step is kept in the step row.
--
-- Most steps succeed on their first attempt; writing that attempt as a row of its own
-- cost a third of a step's writes. When the attempt says nothing the step row does
-- not, the store sets `attempt_started_at` instead, and reads it back as the step's
-- last attempt (number `retry_attempt`, completed at `completed_at`). Before a save
-- replaces such a step row with one that no longer carries that attempt, the trigger
-- moves the attempt into `step_attempts`, so no attempt is ever lost.
ALTER TABLE steps ADD COLUMN attempt_started_at INTEGER;

CREATE TRIGGER steps_keep_inline_attempt BEFORE UPDATE ON steps
WHEN OLD.attempt_started_at IS NOT NULL
    AND (NEW.attempt_started_at IS NULL OR NEW.retry_attempt <> OLD.retry_attempt)
BEGIN
    -- NOT EXISTS rather than OR IGNORE: the upsert that fires the trigger would
    -- impose its own conflict policy on the trigger's insert.
    INSERT INTO step_attempts (execution_id, run_index, name, occurrence,
        attempt_number, status, result, error, started_at, completed_at)
    SELECT OLD.execution_id, OLD.run_index, OLD.name, OLD.occurrence, OLD.retry_attempt,
        'completed', NULL, NULL, OLD.attempt_started_at, OLD.completed_at
    WHERE NOT EXISTS (SELECT 1 FROM step_attempts a
        WHERE a.execution_id = OLD.execution_id AND a.run_index = OLD.run_index
          AND a.name = OLD.name AND a.occurrence = OLD.occurrence
          AND a.attempt_number = OLD.retry_attempt);
END;
