-- Live feeds emit events strictly in sequence order, and only once no lower sequence can still
-- commit: a missing number is waited for until every transaction that could hold it has ended
-- (the snapshot's xmin has passed the xmax seen when the gap appeared). That argument needs
-- the writer to own a transaction id before it draws its number, so the default takes one
-- first.
CREATE FUNCTION outbox_next_sequence() RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT pg_current_xact_id();
    SELECT nextval('outbox_sequence_seq');
$$;
ALTER TABLE outbox ALTER COLUMN sequence SET DEFAULT outbox_next_sequence();
