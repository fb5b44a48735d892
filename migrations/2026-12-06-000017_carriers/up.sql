-- Carriers, the labels bought from them, and the tracking events they report.

-- Where a location ships from: the sender on its labels and the origin its rates use.
ALTER TABLE locations ADD COLUMN address JSONB;

CREATE TABLE carriers (
    id UUID PRIMARY KEY,
    code TEXT NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9_]{1,50}$'),
    name TEXT NOT NULL,
    -- The carrier whose tracking-number format and event codes apply; NULL for a custom one.
    kind TEXT CHECK (kind IN ('ups', 'fedex', 'usps', 'dhl_express')),
    -- `table`: rated from `rate_table`, labels rendered here; `http`: a carrier API at `base_url`.
    adapter TEXT NOT NULL CHECK (adapter IN ('table', 'http')),
    enabled BOOLEAN NOT NULL DEFAULT true,
    base_url TEXT,
    api_key TEXT,
    -- Signs the carrier's tracking webhooks to us.
    webhook_secret TEXT NOT NULL,
    timeout_ms INT NOT NULL DEFAULT 5000 CHECK (timeout_ms BETWEEN 100 AND 60000),
    rate_table JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (adapter <> 'http' OR base_url IS NOT NULL),
    CHECK (adapter <> 'table' OR rate_table IS NOT NULL)
);

-- Feeds each label purchase a number of its own, kept with the attempt: the built-in carrier
-- derives the tracking number from it, so a retried purchase issues the same number.
CREATE SEQUENCE label_sequence;

-- One row per purchase attempt, written (with its idempotency key) before the carrier is
-- called: a crash leaves a `pending` row that the next attempt settles with the same key.
CREATE TABLE shipping_labels (
    id UUID PRIMARY KEY,
    shipment_id UUID NOT NULL REFERENCES shipments (id),
    package_id UUID NOT NULL REFERENCES shipment_packages (id),
    carrier_id UUID NOT NULL REFERENCES carriers (id),
    service TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    sequence BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'purchased', 'voiding', 'voided', 'failed')),
    -- When the carrier was last asked for it: a second attempt within the lease waits, so one
    -- purchase is never asked twice at once; the settlement names it (a fence).
    attempted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    tracking_number TEXT,
    carrier_label_id TEXT,
    price NUMERIC(19, 4),
    currency TEXT,
    pdf BYTEA,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    purchased_at TIMESTAMPTZ,
    voided_at TIMESTAMPTZ
);
-- At most one label in play per package.
CREATE UNIQUE INDEX shipping_labels_one_live_per_package ON shipping_labels (package_id)
    WHERE status IN ('pending', 'purchased', 'voiding');
CREATE INDEX shipping_labels_by_shipment ON shipping_labels (shipment_id, created_at);

CREATE TABLE tracking_events (
    id UUID PRIMARY KEY,
    shipment_id UUID NOT NULL REFERENCES shipments (id),
    -- The carrier's id of the event: the same id again is a replay and changes nothing.
    event_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('label_created', 'accepted', 'in_transit',
        'out_for_delivery', 'attempted_delivery', 'exception', 'returned_to_sender', 'delivered')),
    -- The carrier's own code the status was mapped from.
    carrier_code TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    location TEXT,
    description TEXT,
    signed_by TEXT,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (shipment_id, event_id)
);
CREATE INDEX tracking_events_by_time ON tracking_events (shipment_id, occurred_at DESC, id DESC);
