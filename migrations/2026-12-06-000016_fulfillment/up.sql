-- Fulfilment: an order's lines planned per location (fulfilment orders), shipped in
-- shipments of one or more packages.

-- An order some of whose lines have left, others not yet.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN
    ('pending', 'processing', 'partially_shipped', 'shipped', 'delivered', 'completed', 'on_hold',
     'cancelled', 'archived'));

CREATE TABLE fulfillment_orders (
    id UUID PRIMARY KEY,
    order_id UUID NOT NULL REFERENCES orders (id),
    location_id UUID NOT NULL REFERENCES locations (id),
    status TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'on_hold', 'closed', 'cancelled')),
    -- The state a held fulfilment order returns to when released.
    held_from TEXT,
    hold_reason TEXT CHECK (hold_reason IN
        ('awaiting_payment', 'high_risk_of_fraud', 'incorrect_address', 'inventory_out_of_stock', 'other')),
    hold_note TEXT,
    -- Set when this one was merged into another (and so cancelled).
    merged_into UUID REFERENCES fulfillment_orders (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((status = 'on_hold') = (hold_reason IS NOT NULL))
);
CREATE INDEX fulfillment_orders_by_order ON fulfillment_orders (order_id, id);

CREATE TABLE fulfillment_order_lines (
    id UUID PRIMARY KEY,
    fulfillment_order_id UUID NOT NULL REFERENCES fulfillment_orders (id),
    -- A split of the order may delete the item; its plan is then replaced.
    order_item_id UUID NOT NULL REFERENCES order_items (id) ON DELETE CASCADE,
    variant_id UUID,
    quantity INT NOT NULL CHECK (quantity > 0),
    -- Units in shipments not cancelled (shipped or not), and of those, shipped.
    assigned_quantity INT NOT NULL DEFAULT 0,
    shipped_quantity INT NOT NULL DEFAULT 0,
    CHECK (0 <= shipped_quantity AND shipped_quantity <= assigned_quantity AND assigned_quantity <= quantity)
);
CREATE INDEX fulfillment_order_lines_by_order ON fulfillment_order_lines (fulfillment_order_id, id);
CREATE INDEX fulfillment_order_lines_by_item ON fulfillment_order_lines (order_item_id);

CREATE SEQUENCE shipment_number_seq;

CREATE TABLE shipments (
    id UUID PRIMARY KEY,
    -- SHP-000001
    number TEXT NOT NULL UNIQUE,
    order_id UUID NOT NULL REFERENCES orders (id),
    fulfillment_order_id UUID NOT NULL REFERENCES fulfillment_orders (id),
    location_id UUID NOT NULL REFERENCES locations (id),
    status TEXT NOT NULL CHECK (status IN
        ('pending', 'picking', 'packed', 'shipped', 'in_transit', 'out_for_delivery', 'delivered',
         'exception', 'returned_to_sender', 'cancelled')),
    carrier TEXT,
    service TEXT,
    signature TEXT NOT NULL DEFAULT 'none' CHECK (signature IN ('none', 'signature', 'adult_signature')),
    -- Copied from the order when the shipment is made: later edits never re-address a parcel.
    ship_to JSONB,
    shipped_at TIMESTAMPTZ,
    delivered_at TIMESTAMPTZ,
    signed_by TEXT,
    cancel_reason TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX shipments_by_order ON shipments (order_id, id);
CREATE INDEX shipments_by_created ON shipments (created_at DESC, id DESC);
CREATE INDEX shipments_by_status ON shipments (status, created_at DESC, id DESC);

CREATE TABLE shipment_lines (
    id UUID PRIMARY KEY,
    shipment_id UUID NOT NULL REFERENCES shipments (id),
    fulfillment_order_line_id UUID NOT NULL REFERENCES fulfillment_order_lines (id),
    quantity INT NOT NULL CHECK (quantity > 0)
);
CREATE INDEX shipment_lines_by_shipment ON shipment_lines (shipment_id, id);

CREATE TABLE shipment_packages (
    id UUID PRIMARY KEY,
    shipment_id UUID NOT NULL REFERENCES shipments (id),
    position INT NOT NULL,
    weight_grams INT NOT NULL CHECK (weight_grams > 0),
    length_mm INT NOT NULL CHECK (length_mm > 0),
    width_mm INT NOT NULL CHECK (width_mm > 0),
    height_mm INT NOT NULL CHECK (height_mm > 0),
    tracking_number TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (shipment_id, position)
);
CREATE INDEX shipment_packages_by_tracking ON shipment_packages (tracking_number)
    WHERE tracking_number IS NOT NULL;

-- Customers follow their own orders' parcels.
UPDATE roles SET permissions = array_append(permissions, 'shipments:read:own')
    WHERE id = '00000000-0000-7000-8000-000000000004' AND NOT 'shipments:read:own' = ANY (permissions);
