-- Customers and the order management system.

CREATE TABLE customers (
    id                          UUID PRIMARY KEY,
    -- The login of this customer, if any (imported customers may have none).
    user_id                     UUID REFERENCES users (id) ON DELETE SET NULL,
    email                       TEXT NOT NULL,
    first_name                  TEXT,
    last_name                   TEXT,
    phone                       TEXT,
    tags                        TEXT[] NOT NULL DEFAULT '{}',
    notes                       TEXT,
    default_shipping_address_id UUID,
    default_billing_address_id  UUID,
    created_at                  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT customers_email_key UNIQUE (email),
    CONSTRAINT customers_user_key UNIQUE (user_id)
);
CREATE INDEX customers_tags ON customers USING GIN (tags);
CREATE INDEX customers_created ON customers (created_at, id);

CREATE TABLE customer_addresses (
    id          UUID PRIMARY KEY,
    customer_id UUID NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    first_name  TEXT,
    last_name   TEXT,
    company     TEXT,
    line1       TEXT NOT NULL,
    line2       TEXT,
    city        TEXT NOT NULL,
    region      TEXT,
    postal_code TEXT,
    country     TEXT NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    phone       TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX customer_addresses_customer ON customer_addresses (customer_id, created_at);
ALTER TABLE customers
    ADD CONSTRAINT customers_default_shipping_fkey FOREIGN KEY (default_shipping_address_id)
        REFERENCES customer_addresses (id) ON DELETE SET NULL,
    ADD CONSTRAINT customers_default_billing_fkey FOREIGN KEY (default_billing_address_id)
        REFERENCES customer_addresses (id) ON DELETE SET NULL;

CREATE TABLE wishlist_items (
    customer_id UUID NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    variant_id  UUID NOT NULL REFERENCES product_variants (id) ON DELETE CASCADE,
    added_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, variant_id)
);

-- Human order numbers: a sequence never hands out a value twice, whatever the concurrency.
CREATE SEQUENCE order_number_seq;

CREATE TABLE orders (
    id               UUID PRIMARY KEY,
    number           TEXT NOT NULL,
    customer_id      UUID NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    -- The customer's email when the order was placed.
    email            TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN
                         ('pending', 'processing', 'shipped', 'delivered', 'completed', 'on_hold', 'cancelled', 'archived')),
    -- The state an order on hold returns to when released.
    held_from        TEXT,
    hold_reason      TEXT,
    cancel_reason    TEXT,
    currency         TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    subtotal         NUMERIC(19, 4) NOT NULL,
    discount_total   NUMERIC(19, 4) NOT NULL,
    shipping_total   NUMERIC(19, 4) NOT NULL,
    tax_total        NUMERIC(19, 4) NOT NULL,
    total            NUMERIC(19, 4) NOT NULL,
    -- Addresses are copied in, so later edits of the customer's address book do not rewrite history.
    shipping_address JSONB,
    billing_address  JSONB,
    tags             TEXT[] NOT NULL DEFAULT '{}',
    attributes       JSONB NOT NULL DEFAULT '{}'::jsonb,
    notes            TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT orders_number_key UNIQUE (number)
);
CREATE INDEX orders_customer ON orders (customer_id, created_at DESC);
CREATE INDEX orders_status_created ON orders (status, created_at DESC, id);
CREATE INDEX orders_created ON orders (created_at, id);
CREATE INDEX orders_total ON orders (total, id);
CREATE INDEX orders_tags ON orders USING GIN (tags);
CREATE INDEX orders_email ON orders (lower(email));

CREATE TABLE order_items (
    id         UUID PRIMARY KEY,
    order_id   UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    -- The variant sold; the SKU and name below keep the line readable if it is deleted later.
    variant_id UUID REFERENCES product_variants (id) ON DELETE SET NULL,
    sku        TEXT NOT NULL,
    name       TEXT NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    unit_price NUMERIC(19, 4) NOT NULL CHECK (unit_price >= 0),
    discount   NUMERIC(19, 4) NOT NULL DEFAULT 0 CHECK (discount >= 0),
    tax        NUMERIC(19, 4) NOT NULL DEFAULT 0 CHECK (tax >= 0),
    total      NUMERIC(19, 4) NOT NULL,
    position   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX order_items_order ON order_items (order_id, position);
CREATE INDEX order_items_variant ON order_items (variant_id);

CREATE TABLE order_history (
    id          UUID PRIMARY KEY,
    order_id    UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    action      TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT,
    reason      TEXT,
    -- Who did it: `user:<id>`, `api_key:<id>`, `system`.
    actor       TEXT NOT NULL,
    details     JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX order_history_order ON order_history (order_id, created_at);
