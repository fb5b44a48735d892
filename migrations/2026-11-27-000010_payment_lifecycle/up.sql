-- Payments beyond a card charged at checkout: authorize now and capture (or void) later,
-- payments of an order made after it was placed, and stablecoin payment requests that are
-- paid by on-chain transfers reported through signed callbacks.

ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN (
    'pending', 'authorized', 'captured', 'failed', 'voided', 'expired', 'partially_refunded', 'refunded'));
-- The provider's reason when a payment failed (`card_declined`, `underpaid`, ...).
ALTER TABLE payments ADD COLUMN failure_code TEXT;

-- A request to pay in a stablecoin: how much of which token to send where, until when.
CREATE TABLE stablecoin_requests (
    payment_id UUID PRIMARY KEY REFERENCES payments (id),
    asset TEXT NOT NULL CHECK (asset IN ('USDC', 'USDT')),
    network TEXT NOT NULL,
    address TEXT NOT NULL,
    -- In token units (1 USDC = 1 USD); six decimals, as the tokens have.
    amount NUMERIC(24, 6) NOT NULL CHECK (amount > 0),
    -- Sum of the confirmed transfers received.
    received NUMERIC(24, 6) NOT NULL DEFAULT 0,
    state TEXT NOT NULL CHECK (state IN ('awaiting', 'underpaid', 'paid', 'overpaid', 'expired', 'cancelled')),
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX stablecoin_requests_by_state ON stablecoin_requests (state, expires_at);

-- Each on-chain transfer reported for a request; a transfer counts once, whatever how many
-- callbacks mention it.
CREATE TABLE stablecoin_transfers (
    network TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    payment_id UUID NOT NULL REFERENCES stablecoin_requests (payment_id),
    asset TEXT NOT NULL,
    amount NUMERIC(24, 6) NOT NULL CHECK (amount > 0),
    confirmations INT NOT NULL,
    -- Set once the transfer reached the required confirmations and was counted.
    counted_at TIMESTAMPTZ,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (network, tx_hash)
);
CREATE INDEX stablecoin_transfers_by_payment ON stablecoin_transfers (payment_id);

-- Which tax rates a product takes (`reduced`, `food`, ...); the standard rates when null.
ALTER TABLE products ADD COLUMN tax_class TEXT;
