-- 0004: what a child does when its parent ends, and idempotent event offers.
--
-- `parent_close` ('cancel' or 'abandon') is read only when the parent finishes or is
-- cancelled: children with 'cancel' are cancelled with it, in the same transaction;
-- an 'abandon' child and its own subtree keep running. Executions created before
-- this migration take the default, 'cancel'.
--
-- `idempotency_key` is the optional id a client gives an event offer: the unique
-- index stores an event with a given key once per execution, so a retried offer is
-- answered with the sequence of the first. Offers without a key (NULL) are not
-- indexed by it.
ALTER TABLE executions ADD COLUMN parent_close TEXT NOT NULL DEFAULT 'cancel';

ALTER TABLE events ADD COLUMN idempotency_key TEXT;

CREATE UNIQUE INDEX events_idempotency ON events (execution_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
