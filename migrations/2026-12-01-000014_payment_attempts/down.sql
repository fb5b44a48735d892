ALTER TABLE payment_tokens DROP COLUMN provider_token;
DROP TABLE payment_attempts;
