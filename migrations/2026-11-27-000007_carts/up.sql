-- Carts: a guest's (found by its opaque token) or a customer's (at most one active each).

CREATE TABLE carts (
    id UUID PRIMARY KEY,
    -- The guest's handle on the cart: unguessable, and enough on its own to use the cart.
    token TEXT NOT NULL UNIQUE,
    customer_id UUID REFERENCES customers (id),
    currency TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'merged', 'converted')),
    -- The cart a merged guest cart went into.
    merged_into UUID REFERENCES carts (id) ON DELETE SET NULL,
    -- Pushed forward by every change; an expired cart can no longer be used.
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX carts_one_active_per_customer ON carts (customer_id)
    WHERE status = 'active' AND customer_id IS NOT NULL;

CREATE TABLE cart_items (
    id UUID PRIMARY KEY,
    cart_id UUID NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    variant_id UUID NOT NULL REFERENCES product_variants (id) ON DELETE CASCADE,
    quantity INT NOT NULL CHECK (quantity > 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (cart_id, variant_id)
);
