-- A buyer's status page link for an order. Only a hash of the link's token is kept, so the
-- table alone cannot open any page.
CREATE TABLE order_status_links (
    order_id UUID PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
