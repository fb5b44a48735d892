ALTER TABLE outbox ALTER COLUMN sequence SET DEFAULT nextval('outbox_sequence_seq');
DROP FUNCTION outbox_next_sequence();
