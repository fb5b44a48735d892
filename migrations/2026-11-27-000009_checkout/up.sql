-- Checkout: payment tokens (no card number is ever stored), checkouts and payments.

CREATE TABLE payment_tokens (
    -- `tok_...`: what a client sends instead of a card.
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month INT NOT NULL,
    exp_year INT NOT NULL,
    -- What the test provider answers for this card: `approve` or a decline code.
    outcome TEXT NOT NULL,
    used_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE payments (
    id UUID PRIMARY KEY,
    order_id UUID NOT NULL REFERENCES orders (id),
    provider TEXT NOT NULL,
    provider_reference TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('authorized', 'captured', 'failed', 'voided', 'partially_refunded', 'refunded')),
    amount NUMERIC(19, 4) NOT NULL,
    captured_amount NUMERIC(19, 4) NOT NULL DEFAULT 0,
    refunded_amount NUMERIC(19, 4) NOT NULL DEFAULT 0,
    currency TEXT NOT NULL,
    card_brand TEXT,
    card_last4 TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payments_by_order ON payments (order_id);

CREATE TABLE checkouts (
    -- Random (v4): whoever holds the id may carry the checkout on, like a cart token.
    id UUID PRIMARY KEY,
    cart_id UUID NOT NULL REFERENCES carts (id),
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed')),
    email TEXT,
    shipping_address JSONB,
    billing_address JSONB,
    shipping_method_id UUID REFERENCES shipping_methods (id) ON DELETE SET NULL,
    discount_code TEXT,
    payment_token TEXT REFERENCES payment_tokens (id),
    order_id UUID REFERENCES orders (id),
    payment_id UUID REFERENCES payments (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at TIMESTAMPTZ
);

-- Provider webhook events already applied: a redelivery is acknowledged and ignored.
CREATE TABLE provider_events (
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, event_id)
);
