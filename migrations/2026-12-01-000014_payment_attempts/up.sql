-- Every provider call that can move money is written down here, with the idempotency key the
-- provider gets, BEFORE it is made and in its own transaction: no row lock is held across the
-- call, a retry of any step reuses the key (so the provider does the thing once), and what a
-- crash leaves in doubt can be found and settled against the provider.
--
-- status: pending (the call may or may not have happened) → succeeded (the provider said yes,
-- our side is not yet written) → applied (written in the same transaction as the order or the
-- payment change). Final failures: declined (the provider said no), failed (refused, nothing
-- moved), voided (it moved, but our side could not be written, so it was given back).
CREATE TABLE payment_attempts (
    id                 UUID PRIMARY KEY,
    idempotency_key    TEXT NOT NULL,
    operation          TEXT NOT NULL CHECK (operation IN ('authorize', 'capture', 'void', 'refund')),
    provider           TEXT NOT NULL,
    -- What is being paid: a checkout being completed, or an existing order.
    checkout_id        UUID,
    order_id           UUID,
    -- The payment made (authorize: the id the new payment row will have) or acted on.
    payment_id         UUID NOT NULL,
    token              TEXT,
    amount             NUMERIC(19, 4) NOT NULL,
    currency           TEXT NOT NULL,
    capture            BOOLEAN NOT NULL DEFAULT false,
    -- A client's Idempotency-Key (hashed), so a retry after a lost answer is recognised.
    client_key         TEXT,
    status             TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'succeeded', 'applied', 'declined', 'failed', 'voided')),
    provider_reference TEXT,
    captured           BOOLEAN,
    -- The provider's id of what it did (a refund id).
    result_reference   TEXT,
    failure_code       TEXT,
    -- Whoever holds an unexpired lease is working on the attempt; `tries` fences out a
    -- holder whose lease was taken over.
    lease_until        TIMESTAMPTZ NOT NULL,
    tries              INT NOT NULL DEFAULT 1,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT payment_attempts_key UNIQUE (idempotency_key)
);
-- At most one attempt in doubt per checkout, per order paid directly, and per payment acted on.
CREATE UNIQUE INDEX payment_attempts_open_checkout ON payment_attempts (checkout_id)
    WHERE checkout_id IS NOT NULL AND status IN ('pending', 'succeeded');
CREATE UNIQUE INDEX payment_attempts_open_order ON payment_attempts (order_id)
    WHERE checkout_id IS NULL AND operation = 'authorize' AND status IN ('pending', 'succeeded');
CREATE UNIQUE INDEX payment_attempts_open_payment ON payment_attempts (payment_id)
    WHERE status IN ('pending', 'succeeded');
CREATE INDEX payment_attempts_in_doubt ON payment_attempts (lease_until)
    WHERE status IN ('pending', 'succeeded');
CREATE INDEX payment_attempts_of_checkout ON payment_attempts (checkout_id, created_at);
CREATE INDEX payment_attempts_of_payment ON payment_attempts (payment_id, created_at);

-- The provider's own id for a card vaulted through it (a Stripe PaymentMethod `pm_...` behind
-- an ACP `vt_...` token); absent: the token id is what the provider knows.
ALTER TABLE payment_tokens ADD COLUMN provider_token TEXT;

-- A single-use token pays in at most one attempt at a time.
CREATE UNIQUE INDEX payment_attempts_open_token ON payment_attempts (token)
    WHERE token IS NOT NULL AND status IN ('pending', 'succeeded');
