-- Identities, roles, sessions, API keys, and stored idempotent responses.

CREATE TABLE roles (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    -- A role has its own permissions plus every permission of the role it inherits from.
    parent_id   UUID REFERENCES roles (id) ON DELETE RESTRICT,
    permissions TEXT[] NOT NULL DEFAULT '{}',
    built_in    BOOLEAN NOT NULL DEFAULT false,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT roles_name_key UNIQUE (name),
    CONSTRAINT roles_not_own_parent CHECK (parent_id IS NULL OR parent_id <> id)
);

-- The built-in roles. Their ids are fixed so code and tests can name them.
INSERT INTO roles (id, name, description, parent_id, permissions, built_in) VALUES
    ('00000000-0000-7000-8000-000000000001', 'admin', 'Everything, including users, roles and keys', NULL, '{*}', true),
    ('00000000-0000-7000-8000-000000000004', 'customer', 'Shoppers: the catalog, and their own account, carts and orders', NULL,
        '{products:read,categories:read,customers:read:own,customers:write:own,carts:read:own,carts:write:own,orders:read:own,orders:create:own,returns:create:own,api_keys:create}', true),
    ('00000000-0000-7000-8000-000000000003', 'staff', 'Day-to-day operations: read everything, fulfil orders, adjust stock', NULL,
        '{products:read,categories:read,orders:read,orders:update,customers:read,inventory:read,inventory:adjust,shipments:*,returns:read,returns:update,events:read,api_keys:create}', true),
    ('00000000-0000-7000-8000-000000000002', 'manager', 'Runs the store: catalog, orders, customers, stock, payments, reports', '00000000-0000-7000-8000-000000000003',
        '{products:*,categories:*,orders:*,customers:*,inventory:*,returns:*,payments:*,invoices:*,manufacturing:*,reports:read,webhooks:*,users:read,roles:read}', true);

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL,
    name          TEXT,
    password_hash TEXT NOT NULL,
    role_id       UUID NOT NULL REFERENCES roles (id) ON DELETE RESTRICT,
    active        BOOLEAN NOT NULL DEFAULT true,
    last_login_at TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email)
);
CREATE INDEX users_role ON users (role_id);

-- One row per refresh token. Tokens of one login share a family; reuse of a spent token
-- revokes the family.
CREATE TABLE refresh_tokens (
    id          UUID PRIMARY KEY,
    family_id   UUID NOT NULL,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Sessions (token families) that were logged out or caught reusing a refresh token: their
-- access tokens are refused until they would have expired anyway.
CREATE TABLE revoked_sessions (
    family_id  UUID PRIMARY KEY,
    revoked_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_keys (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    -- The first characters of the key, shown in lists so people can tell keys apart.
    prefix        TEXT NOT NULL,
    -- SHA-256 of the whole key; the key itself is shown once and never stored.
    key_hash      TEXT NOT NULL,
    scopes        TEXT[] NOT NULL,
    expires_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ,
    usage_count   BIGINT NOT NULL DEFAULT 0,
    revoked_at    TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);
CREATE INDEX api_keys_user ON api_keys (user_id, created_at);

-- A response kept for an Idempotency-Key, scoped to the caller and the operation.
CREATE TABLE idempotency_keys (
    scope           TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    -- NULL while the first request is still running.
    response_status INTEGER,
    response_body   BYTEA,
    content_type    TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
