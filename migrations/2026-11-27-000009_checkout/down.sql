DROP TABLE provider_events;
DROP TABLE checkouts;
DROP TABLE payments;
DROP TABLE payment_tokens;
