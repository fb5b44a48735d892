DROP TABLE idempotency_keys;
DROP TABLE api_keys;
DROP TABLE revoked_sessions;
DROP TABLE refresh_tokens;
DROP TABLE users;
DROP TABLE roles;
