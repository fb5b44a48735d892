-- Invoices: numbered per calendar year, lines and parties copied from the order, payments
-- reconciled from the order's payments and recorded by hand.

-- One row per year; the number is drawn by upserting it inside the invoice's transaction, so
-- the row lock serialises concurrent invoices and a rolled-back one gives its number back
-- (gap-free, unlike a sequence).
CREATE TABLE invoice_counters (
    year INT PRIMARY KEY,
    last BIGINT NOT NULL CHECK (last > 0)
);

CREATE TABLE invoices (
    id UUID PRIMARY KEY,
    -- INV-2026-000001
    number TEXT NOT NULL UNIQUE,
    order_id UUID NOT NULL REFERENCES orders (id),
    order_number TEXT NOT NULL,
    customer_id UUID NOT NULL REFERENCES customers (id),
    status TEXT NOT NULL CHECK (status IN ('draft', 'open', 'paid', 'void')),
    currency TEXT NOT NULL,
    subtotal NUMERIC(19, 4) NOT NULL,
    discount_total NUMERIC(19, 4) NOT NULL,
    tax_total NUMERIC(19, 4) NOT NULL,
    shipping_total NUMERIC(19, 4) NOT NULL,
    total NUMERIC(19, 4) NOT NULL,
    amount_paid NUMERIC(19, 4) NOT NULL DEFAULT 0 CHECK (amount_paid >= 0 AND amount_paid <= total),
    -- Snapshots: later edits of the shop's settings or the customer never rewrite an invoice.
    seller JSONB NOT NULL,
    buyer JSONB NOT NULL,
    issued_at TIMESTAMPTZ,
    due_at TIMESTAMPTZ,
    paid_at TIMESTAMPTZ,
    voided_at TIMESTAMPTZ,
    last_reminded_at TIMESTAMPTZ,
    reminders_sent INT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- At most one invoice per order that is not void: the last line behind the service's check.
CREATE UNIQUE INDEX invoices_one_live_per_order ON invoices (order_id) WHERE status <> 'void';
CREATE INDEX invoices_by_customer ON invoices (customer_id);
CREATE INDEX invoices_by_created ON invoices (created_at, id);
-- What the reminder job scans.
CREATE INDEX invoices_open_by_due ON invoices (due_at) WHERE status = 'open';

CREATE TABLE invoice_lines (
    id UUID PRIMARY KEY,
    invoice_id UUID NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position INT NOT NULL,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity INT NOT NULL,
    unit_price NUMERIC(19, 4) NOT NULL,
    discount NUMERIC(19, 4) NOT NULL,
    tax NUMERIC(19, 4) NOT NULL,
    total NUMERIC(19, 4) NOT NULL
);
CREATE INDEX invoice_lines_by_invoice ON invoice_lines (invoice_id, position);

CREATE TABLE invoice_payments (
    id UUID PRIMARY KEY,
    invoice_id UUID NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    amount NUMERIC(19, 4) NOT NULL CHECK (amount > 0),
    -- `order_payment` for money reconciled from the order's payments, else what was given.
    method TEXT NOT NULL,
    reference TEXT,
    -- The order's payment this was reconciled from, if any.
    payment_id UUID REFERENCES payments (id),
    recorded_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX invoice_payments_by_invoice ON invoice_payments (invoice_id, created_at);

-- Managers already hold `invoices:*` (granted with the built-in roles); staff read invoices
-- like everything else, customers read their own.
UPDATE roles SET permissions = array_append(permissions, 'invoices:*')
WHERE id = '00000000-0000-7000-8000-000000000002' AND NOT ('invoices:*' = ANY (permissions));
UPDATE roles SET permissions = array_append(permissions, 'invoices:read')
WHERE id = '00000000-0000-7000-8000-000000000003';
UPDATE roles SET permissions = array_append(permissions, 'invoices:read:own')
WHERE id = '00000000-0000-7000-8000-000000000004';
