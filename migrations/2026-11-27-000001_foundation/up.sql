-- Foundation: the transactional outbox and the catalog.

-- Every state change writes one row here in its own transaction. `sequence` is the global,
-- increasing event number that consumers resume from; the trigger wakes listeners on commit.
CREATE TABLE outbox (
    id            UUID PRIMARY KEY,
    sequence      BIGSERIAL NOT NULL UNIQUE,
    event_type    TEXT NOT NULL,
    entity_type   TEXT NOT NULL,
    entity_id     UUID NOT NULL,
    data          JSONB NOT NULL,
    occurred_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    dispatched_at TIMESTAMPTZ
);
CREATE INDEX outbox_undispatched ON outbox (sequence) WHERE dispatched_at IS NULL;
CREATE INDEX outbox_entity ON outbox (entity_id, sequence);
CREATE INDEX outbox_type ON outbox (event_type, sequence);

-- NOTIFY is delivered only when the inserting transaction commits, and in commit order,
-- so a listener never sees an event that was rolled back.
CREATE FUNCTION outbox_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('outbox', NEW.sequence::text);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_notify();

CREATE TABLE categories (
    id          UUID PRIMARY KEY,
    parent_id   UUID REFERENCES categories (id) ON DELETE RESTRICT,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL,
    description TEXT,
    position    INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT categories_slug_key UNIQUE (slug),
    CONSTRAINT categories_not_own_parent CHECK (parent_id IS NULL OR parent_id <> id)
);
CREATE INDEX categories_parent ON categories (parent_id);

CREATE TABLE products (
    id            UUID PRIMARY KEY,
    name          TEXT NOT NULL,
    slug          TEXT NOT NULL,
    description   TEXT,
    status        TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'archived')),
    attributes    JSONB NOT NULL DEFAULT '{}'::jsonb,
    -- Maintained by the triggers below from the name, description and every variant's SKU.
    search_vector TSVECTOR NOT NULL DEFAULT ''::tsvector,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT products_slug_key UNIQUE (slug)
);
CREATE INDEX products_search ON products USING GIN (search_vector);
CREATE INDEX products_status_created ON products (status, created_at DESC, id);
CREATE INDEX products_created ON products (created_at, id);
CREATE INDEX products_name ON products (name, id);

CREATE TABLE product_variants (
    id               UUID PRIMARY KEY,
    product_id       UUID NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    sku              TEXT NOT NULL,
    title            TEXT NOT NULL,
    options          JSONB NOT NULL DEFAULT '{}'::jsonb,
    price            NUMERIC(19, 4) NOT NULL CHECK (price >= 0),
    compare_at_price NUMERIC(19, 4) CHECK (compare_at_price >= 0),
    currency         TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    weight_grams     INTEGER CHECK (weight_grams >= 0),
    barcode          TEXT,
    position         INTEGER NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT product_variants_sku_key UNIQUE (sku)
);
CREATE INDEX product_variants_product ON product_variants (product_id, position);
CREATE INDEX product_variants_price ON product_variants (price);

CREATE TABLE product_images (
    id         UUID PRIMARY KEY,
    product_id UUID NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    url        TEXT NOT NULL,
    alt_text   TEXT,
    position   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX product_images_product ON product_images (product_id, position);

CREATE TABLE product_categories (
    product_id  UUID NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    category_id UUID NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    PRIMARY KEY (product_id, category_id)
);
CREATE INDEX product_categories_category ON product_categories (category_id);

CREATE FUNCTION products_search_refresh() RETURNS trigger AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('english', NEW.name), 'A')
        || setweight(to_tsvector('simple', coalesce(
               (SELECT string_agg(sku, ' ') FROM product_variants WHERE product_id = NEW.id), '')), 'A')
        || setweight(to_tsvector('english', coalesce(NEW.description, '')), 'B');
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER products_search_refresh BEFORE INSERT OR UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION products_search_refresh();

-- A variant's SKU is part of its product's search document: touch the product to rebuild it.
CREATE FUNCTION product_variants_search_touch() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE products SET search_vector = search_vector WHERE id = OLD.product_id;
        RETURN OLD;
    END IF;
    UPDATE products SET search_vector = search_vector WHERE id = NEW.product_id;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER product_variants_search_touch AFTER INSERT OR UPDATE OF sku OR DELETE ON product_variants
    FOR EACH ROW EXECUTE FUNCTION product_variants_search_touch();
