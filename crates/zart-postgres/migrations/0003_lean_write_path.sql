-- 0003: two indexes off the write path (see the SQLite store's 0003).
--
-- The SQLite store dropped `executions_status` and `steps_position`; this store never
-- had them (a status filter walks `executions_scheduled_at`, a journal load sorts the
-- steps of one run). The version is recorded so that both stores keep one numbering.
SELECT 1;
