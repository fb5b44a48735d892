-- What a checkout prices with: shipping methods, tax rates and discount codes.

CREATE TABLE shipping_methods (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    carrier TEXT NOT NULL,
    service TEXT NOT NULL,
    countries TEXT[] NOT NULL DEFAULT '{}',
    regions TEXT[] NOT NULL DEFAULT '{}',
    kind TEXT NOT NULL CHECK (kind IN ('flat', 'weight', 'value')),
    rate NUMERIC(19, 4) NOT NULL DEFAULT 0 CHECK (rate >= 0),
    -- [{"up_to": "1000", "rate": "5.00"}, ...] by ascending up_to.
    bands JSONB NOT NULL DEFAULT '[]',
    free_over NUMERIC(19, 4) CHECK (free_over >= 0),
    currency TEXT NOT NULL,
    min_days INT NOT NULL CHECK (min_days >= 0),
    max_days INT NOT NULL CHECK (max_days >= min_days),
    active BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE tax_rates (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    country TEXT NOT NULL,
    region TEXT,
    tax_class TEXT,
    rate NUMERIC(7, 4) NOT NULL CHECK (rate >= 0 AND rate <= 100),
    prices_include_tax BOOLEAN NOT NULL DEFAULT false,
    applies_to_shipping BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX tax_rates_one_per_place_and_class
    ON tax_rates (country, coalesce(region, ''), coalesce(tax_class, ''));

CREATE TABLE discount_codes (
    id UUID PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('percentage', 'fixed_amount', 'free_shipping')),
    value NUMERIC(19, 4) NOT NULL DEFAULT 0 CHECK (value >= 0),
    min_order_value NUMERIC(19, 4),
    starts_at TIMESTAMPTZ,
    ends_at TIMESTAMPTZ,
    usage_limit INT CHECK (usage_limit > 0),
    per_customer_limit INT CHECK (per_customer_limit > 0),
    -- Counted under a row lock when an order is placed, so limits hold under concurrency.
    times_used INT NOT NULL DEFAULT 0,
    active BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE discount_redemptions (
    id UUID PRIMARY KEY,
    discount_id UUID NOT NULL REFERENCES discount_codes (id) ON DELETE CASCADE,
    order_id UUID NOT NULL REFERENCES orders (id),
    email TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX discount_redemptions_by_email ON discount_redemptions (discount_id, email);

-- Managers run the shop's prices: shipping, taxes and discounts.
UPDATE roles SET permissions = array_append(permissions, 'pricing:*')
WHERE id = '00000000-0000-7000-8000-000000000002';
