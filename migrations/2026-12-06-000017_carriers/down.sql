DROP TABLE tracking_events;
DROP TABLE shipping_labels;
DROP SEQUENCE label_sequence;
DROP TABLE carriers;
ALTER TABLE locations DROP COLUMN address;
