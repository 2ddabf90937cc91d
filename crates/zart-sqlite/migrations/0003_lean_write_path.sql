-- 0003: two indexes off the write path.
--
-- `executions_status` changed on every claim and every finish (a delete and an insert
-- each, five index writes per execution), and `steps_position` took an insert per
-- step: together about a fifth of the writer's index work. A status filter of the
-- execution list now walks `executions_scheduled` in sort order and checks the status
-- (what the PostgreSQL store has always done), and a journal load sorts the steps of
-- one run, which its primary key already keeps together.
DROP INDEX IF EXISTS executions_status;
DROP INDEX IF EXISTS steps_position;
