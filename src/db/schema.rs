//! The diesel view of the tables created by `migrations/`.
//!
//! Written by hand (diesel_cli would need libpq); columns maintained only by the database,
//! such as `products.search_vector`, are left out on purpose.

diesel::table! {
    outbox (id) {
        id -> Uuid,
        sequence -> Int8,
        event_type -> Text,
        entity_type -> Text,
        entity_id -> Uuid,
        data -> Jsonb,
        occurred_at -> Timestamptz,
        dispatched_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    categories (id) {
        id -> Uuid,
        parent_id -> Nullable<Uuid>,
        name -> Text,
        slug -> Text,
        description -> Nullable<Text>,
        position -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    products (id) {
        id -> Uuid,
        name -> Text,
        slug -> Text,
        description -> Nullable<Text>,
        status -> Text,
        attributes -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    product_variants (id) {
        id -> Uuid,
        product_id -> Uuid,
        sku -> Text,
        title -> Text,
        options -> Jsonb,
        price -> Numeric,
        compare_at_price -> Nullable<Numeric>,
        currency -> Text,
        weight_grams -> Nullable<Int4>,
        barcode -> Nullable<Text>,
        position -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    product_images (id) {
        id -> Uuid,
        product_id -> Uuid,
        url -> Text,
        alt_text -> Nullable<Text>,
        position -> Int4,
    }
}

diesel::table! {
    product_categories (product_id, category_id) {
        product_id -> Uuid,
        category_id -> Uuid,
    }
}

diesel::joinable!(product_variants -> products (product_id));
diesel::joinable!(product_images -> products (product_id));
diesel::joinable!(product_categories -> products (product_id));
diesel::joinable!(product_categories -> categories (category_id));

diesel::allow_tables_to_appear_in_same_query!(
    outbox,
    categories,
    products,
    product_variants,
    product_images,
    product_categories,
);
