-- Webhooks: endpoints that receive events, the deliveries owed to them, and every attempt made.

CREATE TABLE webhooks (
    id UUID PRIMARY KEY,
    url TEXT NOT NULL,
    description TEXT,
    -- Exact event types or wildcards (`order.*`, `*`).
    event_types TEXT[] NOT NULL,
    -- Signs every delivery (HMAC-SHA256); shown to the user once, when created or rotated.
    secret TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT true,
    disabled_reason TEXT,
    -- Failed attempts since the last success, and when that run of failures began: a webhook
    -- failing for long enough is disabled.
    consecutive_failures INT NOT NULL DEFAULT 0,
    failing_since TIMESTAMPTZ,
    created_by UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id UUID PRIMARY KEY,
    webhook_id UUID NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    -- The outbox event delivered (for a ping, an id of its own); receivers deduplicate on it.
    event_id UUID NOT NULL,
    event_sequence BIGINT,
    event_type TEXT NOT NULL,
    -- The JSON body sent on every attempt.
    payload JSONB NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts INT NOT NULL DEFAULT 0,
    -- When a pending delivery is next due; a worker that claims it pushes this forward by a
    -- lease, so a crashed worker's deliveries are taken up again.
    next_attempt_at TIMESTAMPTZ,
    -- After this, a failing delivery is marked failed instead of retried.
    give_up_at TIMESTAMPTZ NOT NULL,
    last_status_code INT,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at TIMESTAMPTZ,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id DESC);

CREATE TABLE webhook_attempts (
    id UUID PRIMARY KEY,
    delivery_id UUID NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt INT NOT NULL,
    -- Absent when no HTTP response came back (refused address, timeout, connection error).
    status_code INT,
    duration_ms INT NOT NULL,
    response_excerpt TEXT,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, attempt);
