-- 0007: the W3C trace context an execution was started under (tracing).
--
-- `trace_context` is the `traceparent` header value (optionally followed by a line
-- break and the `tracestate` value), stored once at creation, read by every claim,
-- so a run started on any process, after a crash, continues the starter's trace.
-- It lives on the data row, not the hot executions row that claims and heartbeats
-- rewrite; the claim already reads this row for the payload. NULL: no trace context.
ALTER TABLE execution_data ADD COLUMN trace_context TEXT;
