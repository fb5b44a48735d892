-- Agentic Commerce Protocol: what an ACP checkout session keeps beside our checkout, and the
-- allowances that bind delegated (vault) payment tokens.

CREATE TABLE acp_sessions (
    checkout_id  UUID PRIMARY KEY REFERENCES checkouts (id) ON DELETE CASCADE,
    -- open | canceled (completion is read from the checkout itself)
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'canceled')),
    -- What only ACP knows: buyer, fulfillment details, selected options, capabilities,
    -- metadata, locale, notes, intent trace.
    state        JSONB NOT NULL DEFAULT '{}',
    -- The credential that made the session (API key or user), for scoping.
    principal    TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE acp_allowances (
    token_id             TEXT PRIMARY KEY REFERENCES payment_tokens (id) ON DELETE CASCADE,
    checkout_session_id  TEXT NOT NULL,
    merchant_id          TEXT NOT NULL,
    max_amount           BIGINT NOT NULL CHECK (max_amount >= 0),
    currency             TEXT NOT NULL,
    expires_at           TIMESTAMPTZ NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);

UPDATE roles SET permissions = array_append(permissions, 'acp:checkout')
    WHERE name = 'manager' AND NOT ('acp:checkout' = ANY (permissions));
