-- Multi-location inventory: balances per variant and location, lots, an immutable ledger,
-- reservations, transfers, cycle counts and inbound purchase orders.

CREATE TABLE locations (
    id         UUID PRIMARY KEY,
    code       TEXT NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('warehouse', 'store', 'virtual')),
    -- Lower numbers are allocated from first.
    priority   INTEGER NOT NULL DEFAULT 100,
    active     BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT locations_code_key UNIQUE (code)
);

CREATE TABLE inventory_items (
    id               UUID PRIMARY KEY,
    variant_id       UUID NOT NULL REFERENCES product_variants (id) ON DELETE CASCADE,
    location_id      UUID NOT NULL REFERENCES locations (id) ON DELETE RESTRICT,
    on_hand          INTEGER NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    reserved         INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    on_order         INTEGER NOT NULL DEFAULT 0 CHECK (on_order >= 0),
    safety_stock     INTEGER NOT NULL DEFAULT 0 CHECK (safety_stock >= 0),
    reorder_point    INTEGER CHECK (reorder_point >= 0),
    reorder_quantity INTEGER CHECK (reorder_quantity >= 0),
    -- Set while available is at or below the reorder point, so the event fires once per crossing.
    low_stock        BOOLEAN NOT NULL DEFAULT false,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The last line of defence against overselling.
    CONSTRAINT inventory_items_reserved_within_on_hand CHECK (reserved <= on_hand),
    CONSTRAINT inventory_items_variant_location_key UNIQUE (variant_id, location_id)
);
CREATE INDEX inventory_items_location ON inventory_items (location_id);

CREATE TABLE inventory_lots (
    id          UUID PRIMARY KEY,
    item_id     UUID NOT NULL REFERENCES inventory_items (id) ON DELETE CASCADE,
    lot_code    TEXT NOT NULL,
    expires_at  TIMESTAMPTZ,
    on_hand     INTEGER NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    reserved    INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT inventory_lots_reserved_within_on_hand CHECK (reserved <= on_hand),
    CONSTRAINT inventory_lots_item_code_key UNIQUE (item_id, lot_code)
);

-- Every movement, never updated or deleted: the balances are its running sums.
CREATE TABLE inventory_movements (
    id             UUID PRIMARY KEY,
    item_id        UUID NOT NULL REFERENCES inventory_items (id) ON DELETE CASCADE,
    lot_id         UUID REFERENCES inventory_lots (id) ON DELETE SET NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('receive', 'adjust', 'reserve', 'release', 'ship',
                       'transfer_out', 'transfer_in', 'count_correction', 'return_restock')),
    on_hand_delta  INTEGER NOT NULL,
    reserved_delta INTEGER NOT NULL,
    reason         TEXT,
    actor          TEXT NOT NULL,
    reference_type TEXT,
    reference_id   UUID,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX inventory_movements_item ON inventory_movements (item_id, created_at);
CREATE INDEX inventory_movements_reference ON inventory_movements (reference_type, reference_id);

CREATE TABLE inventory_reservations (
    id          UUID PRIMARY KEY,
    item_id     UUID NOT NULL REFERENCES inventory_items (id) ON DELETE CASCADE,
    lot_id      UUID REFERENCES inventory_lots (id) ON DELETE SET NULL,
    order_id    UUID REFERENCES orders (id) ON DELETE SET NULL,
    reference   TEXT,
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    status      TEXT NOT NULL CHECK (status IN ('active', 'released', 'committed', 'expired')),
    expires_at  TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX inventory_reservations_order ON inventory_reservations (order_id) WHERE status = 'active';
CREATE INDEX inventory_reservations_expiry ON inventory_reservations (expires_at) WHERE status = 'active';

CREATE SEQUENCE transfer_number_seq;
CREATE TABLE inventory_transfers (
    id               UUID PRIMARY KEY,
    number           TEXT NOT NULL UNIQUE,
    from_location_id UUID NOT NULL REFERENCES locations (id),
    to_location_id   UUID NOT NULL REFERENCES locations (id),
    status           TEXT NOT NULL CHECK (status IN ('in_transit', 'received')),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    received_at      TIMESTAMPTZ,
    CHECK (from_location_id <> to_location_id)
);
CREATE TABLE inventory_transfer_lines (
    id          UUID PRIMARY KEY,
    transfer_id UUID NOT NULL REFERENCES inventory_transfers (id) ON DELETE CASCADE,
    variant_id  UUID NOT NULL REFERENCES product_variants (id),
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    -- The lot the units left from; they arrive in the same lot.
    lot_code    TEXT,
    expires_at  TIMESTAMPTZ
);

CREATE TABLE cycle_counts (
    id          UUID PRIMARY KEY,
    location_id UUID NOT NULL REFERENCES locations (id),
    status      TEXT NOT NULL CHECK (status IN ('open', 'posted')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    posted_at   TIMESTAMPTZ
);
CREATE TABLE cycle_count_lines (
    id       UUID PRIMARY KEY,
    count_id UUID NOT NULL REFERENCES cycle_counts (id) ON DELETE CASCADE,
    item_id  UUID NOT NULL REFERENCES inventory_items (id) ON DELETE CASCADE,
    -- On hand when the count was opened.
    expected INTEGER NOT NULL,
    counted  INTEGER CHECK (counted >= 0),
    CONSTRAINT cycle_count_lines_item_key UNIQUE (count_id, item_id)
);

CREATE SEQUENCE purchase_order_number_seq;
CREATE TABLE purchase_orders (
    id          UUID PRIMARY KEY,
    number      TEXT NOT NULL UNIQUE,
    location_id UUID NOT NULL REFERENCES locations (id),
    supplier    TEXT NOT NULL,
    expected_at TIMESTAMPTZ,
    status      TEXT NOT NULL CHECK (status IN ('open', 'partially_received', 'received', 'cancelled')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE purchase_order_lines (
    id                UUID PRIMARY KEY,
    purchase_order_id UUID NOT NULL REFERENCES purchase_orders (id) ON DELETE CASCADE,
    variant_id        UUID NOT NULL REFERENCES product_variants (id),
    quantity_ordered  INTEGER NOT NULL CHECK (quantity_ordered > 0),
    quantity_received INTEGER NOT NULL DEFAULT 0 CHECK (quantity_received >= 0),
    CHECK (quantity_received <= quantity_ordered)
);
