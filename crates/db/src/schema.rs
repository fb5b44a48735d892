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
        tax_class -> Nullable<Text>,
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

diesel::table! {
    roles (id) {
        id -> Uuid,
        name -> Text,
        description -> Nullable<Text>,
        parent_id -> Nullable<Uuid>,
        permissions -> Array<Text>,
        built_in -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        name -> Nullable<Text>,
        password_hash -> Text,
        role_id -> Uuid,
        active -> Bool,
        last_login_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Uuid,
        family_id -> Uuid,
        user_id -> Uuid,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    revoked_sessions (family_id) {
        family_id -> Uuid,
        revoked_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        user_id -> Uuid,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        scopes -> Array<Text>,
        expires_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
        usage_count -> Int8,
        revoked_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (scope, key) {
        scope -> Text,
        key -> Text,
        request_hash -> Text,
        response_status -> Nullable<Int4>,
        response_body -> Nullable<Bytea>,
        content_type -> Nullable<Text>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    customers (id) {
        id -> Uuid,
        user_id -> Nullable<Uuid>,
        email -> Text,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        phone -> Nullable<Text>,
        tags -> Array<Text>,
        notes -> Nullable<Text>,
        default_shipping_address_id -> Nullable<Uuid>,
        default_billing_address_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    customer_addresses (id) {
        id -> Uuid,
        customer_id -> Uuid,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        company -> Nullable<Text>,
        line1 -> Text,
        line2 -> Nullable<Text>,
        city -> Text,
        region -> Nullable<Text>,
        postal_code -> Nullable<Text>,
        country -> Text,
        phone -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    wishlist_items (customer_id, variant_id) {
        customer_id -> Uuid,
        variant_id -> Uuid,
        added_at -> Timestamptz,
    }
}

diesel::table! {
    orders (id) {
        id -> Uuid,
        number -> Text,
        customer_id -> Uuid,
        email -> Text,
        status -> Text,
        held_from -> Nullable<Text>,
        hold_reason -> Nullable<Text>,
        cancel_reason -> Nullable<Text>,
        currency -> Text,
        subtotal -> Numeric,
        discount_total -> Numeric,
        shipping_total -> Numeric,
        tax_total -> Numeric,
        total -> Numeric,
        shipping_address -> Nullable<Jsonb>,
        billing_address -> Nullable<Jsonb>,
        tags -> Array<Text>,
        attributes -> Jsonb,
        notes -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    order_status_links (order_id) {
        order_id -> Uuid,
        token_hash -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    order_items (id) {
        id -> Uuid,
        order_id -> Uuid,
        variant_id -> Nullable<Uuid>,
        sku -> Text,
        name -> Text,
        quantity -> Int4,
        unit_price -> Numeric,
        discount -> Numeric,
        tax -> Numeric,
        total -> Numeric,
        position -> Int4,
    }
}

diesel::table! {
    order_history (id) {
        id -> Uuid,
        order_id -> Uuid,
        action -> Text,
        from_status -> Nullable<Text>,
        to_status -> Nullable<Text>,
        reason -> Nullable<Text>,
        actor -> Text,
        details -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    locations (id) {
        id -> Uuid,
        code -> Text,
        name -> Text,
        kind -> Text,
        priority -> Int4,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        address -> Nullable<Jsonb>,
    }
}

diesel::table! {
    inventory_items (id) {
        id -> Uuid,
        variant_id -> Uuid,
        location_id -> Uuid,
        on_hand -> Int4,
        reserved -> Int4,
        on_order -> Int4,
        safety_stock -> Int4,
        reorder_point -> Nullable<Int4>,
        reorder_quantity -> Nullable<Int4>,
        low_stock -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    inventory_lots (id) {
        id -> Uuid,
        item_id -> Uuid,
        lot_code -> Text,
        expires_at -> Nullable<Timestamptz>,
        on_hand -> Int4,
        reserved -> Int4,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    inventory_movements (id) {
        id -> Uuid,
        item_id -> Uuid,
        lot_id -> Nullable<Uuid>,
        kind -> Text,
        on_hand_delta -> Int4,
        reserved_delta -> Int4,
        reason -> Nullable<Text>,
        actor -> Text,
        reference_type -> Nullable<Text>,
        reference_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    inventory_reservations (id) {
        id -> Uuid,
        item_id -> Uuid,
        lot_id -> Nullable<Uuid>,
        order_id -> Nullable<Uuid>,
        reference -> Nullable<Text>,
        quantity -> Int4,
        status -> Text,
        expires_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    inventory_transfers (id) {
        id -> Uuid,
        number -> Text,
        from_location_id -> Uuid,
        to_location_id -> Uuid,
        status -> Text,
        created_at -> Timestamptz,
        received_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    inventory_transfer_lines (id) {
        id -> Uuid,
        transfer_id -> Uuid,
        variant_id -> Uuid,
        quantity -> Int4,
        lot_code -> Nullable<Text>,
        expires_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    cycle_counts (id) {
        id -> Uuid,
        location_id -> Uuid,
        status -> Text,
        created_at -> Timestamptz,
        posted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    cycle_count_lines (id) {
        id -> Uuid,
        count_id -> Uuid,
        item_id -> Uuid,
        expected -> Int4,
        counted -> Nullable<Int4>,
    }
}

diesel::table! {
    purchase_orders (id) {
        id -> Uuid,
        number -> Text,
        location_id -> Uuid,
        supplier -> Text,
        expected_at -> Nullable<Timestamptz>,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    purchase_order_lines (id) {
        id -> Uuid,
        purchase_order_id -> Uuid,
        variant_id -> Uuid,
        quantity_ordered -> Int4,
        quantity_received -> Int4,
    }
}

diesel::table! {
    provider_events (provider, event_id) {
        provider -> Text,
        event_id -> Text,
        event_type -> Text,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    payment_tokens (id) {
        id -> Text,
        provider -> Text,
        brand -> Text,
        last4 -> Text,
        exp_month -> Int4,
        exp_year -> Int4,
        outcome -> Text,
        used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        provider_token -> Nullable<Text>,
    }
}

diesel::table! {
    payments (id) {
        id -> Uuid,
        order_id -> Uuid,
        provider -> Text,
        provider_reference -> Text,
        status -> Text,
        amount -> Numeric,
        captured_amount -> Numeric,
        refunded_amount -> Numeric,
        currency -> Text,
        card_brand -> Nullable<Text>,
        card_last4 -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        failure_code -> Nullable<Text>,
    }
}

diesel::table! {
    stablecoin_requests (payment_id) {
        payment_id -> Uuid,
        asset -> Text,
        network -> Text,
        address -> Text,
        amount -> Numeric,
        received -> Numeric,
        state -> Text,
        expires_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    stablecoin_transfers (network, tx_hash) {
        network -> Text,
        tx_hash -> Text,
        payment_id -> Uuid,
        asset -> Text,
        amount -> Numeric,
        confirmations -> Int4,
        counted_at -> Nullable<Timestamptz>,
        received_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    fulfillment_orders (id) {
        id -> Uuid,
        order_id -> Uuid,
        location_id -> Uuid,
        status -> Text,
        held_from -> Nullable<Text>,
        hold_reason -> Nullable<Text>,
        hold_note -> Nullable<Text>,
        merged_into -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    fulfillment_order_lines (id) {
        id -> Uuid,
        fulfillment_order_id -> Uuid,
        order_item_id -> Uuid,
        variant_id -> Nullable<Uuid>,
        quantity -> Int4,
        assigned_quantity -> Int4,
        shipped_quantity -> Int4,
    }
}

diesel::table! {
    shipments (id) {
        id -> Uuid,
        number -> Text,
        order_id -> Uuid,
        fulfillment_order_id -> Uuid,
        location_id -> Uuid,
        status -> Text,
        carrier -> Nullable<Text>,
        service -> Nullable<Text>,
        signature -> Text,
        ship_to -> Nullable<Jsonb>,
        shipped_at -> Nullable<Timestamptz>,
        delivered_at -> Nullable<Timestamptz>,
        signed_by -> Nullable<Text>,
        cancel_reason -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    shipment_lines (id) {
        id -> Uuid,
        shipment_id -> Uuid,
        fulfillment_order_line_id -> Uuid,
        quantity -> Int4,
    }
}

diesel::table! {
    shipment_packages (id) {
        id -> Uuid,
        shipment_id -> Uuid,
        position -> Int4,
        weight_grams -> Int4,
        length_mm -> Int4,
        width_mm -> Int4,
        height_mm -> Int4,
        tracking_number -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    carriers (id) {
        id -> Uuid,
        code -> Text,
        name -> Text,
        kind -> Nullable<Text>,
        adapter -> Text,
        enabled -> Bool,
        base_url -> Nullable<Text>,
        api_key -> Nullable<Text>,
        webhook_secret -> Text,
        timeout_ms -> Int4,
        rate_table -> Nullable<Jsonb>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    shipping_labels (id) {
        id -> Uuid,
        shipment_id -> Uuid,
        package_id -> Uuid,
        carrier_id -> Uuid,
        service -> Text,
        idempotency_key -> Text,
        sequence -> Int8,
        status -> Text,
        attempted_at -> Timestamptz,
        tracking_number -> Nullable<Text>,
        carrier_label_id -> Nullable<Text>,
        price -> Nullable<Numeric>,
        currency -> Nullable<Text>,
        pdf -> Nullable<Bytea>,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        purchased_at -> Nullable<Timestamptz>,
        voided_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    tracking_events (id) {
        id -> Uuid,
        shipment_id -> Uuid,
        event_id -> Text,
        status -> Text,
        carrier_code -> Text,
        occurred_at -> Timestamptz,
        location -> Nullable<Text>,
        description -> Nullable<Text>,
        signed_by -> Nullable<Text>,
        received_at -> Timestamptz,
    }
}

diesel::joinable!(stablecoin_requests -> payments (payment_id));

diesel::table! {
    checkouts (id) {
        id -> Uuid,
        cart_id -> Uuid,
        status -> Text,
        email -> Nullable<Text>,
        shipping_address -> Nullable<Jsonb>,
        billing_address -> Nullable<Jsonb>,
        shipping_method_id -> Nullable<Uuid>,
        discount_code -> Nullable<Text>,
        payment_token -> Nullable<Text>,
        order_id -> Nullable<Uuid>,
        payment_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    shipping_methods (id) {
        id -> Uuid,
        name -> Text,
        carrier -> Text,
        service -> Text,
        countries -> Array<Text>,
        regions -> Array<Text>,
        kind -> Text,
        rate -> Numeric,
        bands -> Jsonb,
        free_over -> Nullable<Numeric>,
        currency -> Text,
        min_days -> Int4,
        max_days -> Int4,
        active -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    tax_rates (id) {
        id -> Uuid,
        name -> Text,
        country -> Text,
        region -> Nullable<Text>,
        tax_class -> Nullable<Text>,
        rate -> Numeric,
        prices_include_tax -> Bool,
        applies_to_shipping -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    discount_codes (id) {
        id -> Uuid,
        code -> Text,
        kind -> Text,
        value -> Numeric,
        min_order_value -> Nullable<Numeric>,
        starts_at -> Nullable<Timestamptz>,
        ends_at -> Nullable<Timestamptz>,
        usage_limit -> Nullable<Int4>,
        per_customer_limit -> Nullable<Int4>,
        times_used -> Int4,
        active -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    discount_redemptions (id) {
        id -> Uuid,
        discount_id -> Uuid,
        order_id -> Uuid,
        email -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    carts (id) {
        id -> Uuid,
        token -> Text,
        customer_id -> Nullable<Uuid>,
        currency -> Text,
        status -> Text,
        merged_into -> Nullable<Uuid>,
        expires_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    cart_items (id) {
        id -> Uuid,
        cart_id -> Uuid,
        variant_id -> Uuid,
        quantity -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    invoice_counters (year) {
        year -> Int4,
        last -> Int8,
    }
}

diesel::table! {
    invoices (id) {
        id -> Uuid,
        number -> Text,
        order_id -> Uuid,
        order_number -> Text,
        customer_id -> Uuid,
        status -> Text,
        currency -> Text,
        subtotal -> Numeric,
        discount_total -> Numeric,
        tax_total -> Numeric,
        shipping_total -> Numeric,
        total -> Numeric,
        amount_paid -> Numeric,
        seller -> Jsonb,
        buyer -> Jsonb,
        issued_at -> Nullable<Timestamptz>,
        due_at -> Nullable<Timestamptz>,
        paid_at -> Nullable<Timestamptz>,
        voided_at -> Nullable<Timestamptz>,
        last_reminded_at -> Nullable<Timestamptz>,
        reminders_sent -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    invoice_lines (id) {
        id -> Uuid,
        invoice_id -> Uuid,
        position -> Int4,
        sku -> Text,
        name -> Text,
        quantity -> Int4,
        unit_price -> Numeric,
        discount -> Numeric,
        tax -> Numeric,
        total -> Numeric,
    }
}

diesel::table! {
    invoice_payments (id) {
        id -> Uuid,
        invoice_id -> Uuid,
        amount -> Numeric,
        method -> Text,
        reference -> Nullable<Text>,
        payment_id -> Nullable<Uuid>,
        recorded_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(cart_items -> carts (cart_id));
diesel::joinable!(cart_items -> product_variants (variant_id));

diesel::table! {
    webhooks (id) {
        id -> Uuid,
        url -> Text,
        description -> Nullable<Text>,
        event_types -> Array<Text>,
        secret -> Text,
        active -> Bool,
        disabled_reason -> Nullable<Text>,
        consecutive_failures -> Int4,
        failing_since -> Nullable<Timestamptz>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Uuid,
        webhook_id -> Uuid,
        event_id -> Uuid,
        event_sequence -> Nullable<Int8>,
        event_type -> Text,
        payload -> Jsonb,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Nullable<Timestamptz>,
        give_up_at -> Timestamptz,
        last_status_code -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Uuid,
        delivery_id -> Uuid,
        attempt -> Int4,
        status_code -> Nullable<Int4>,
        duration_ms -> Int4,
        response_excerpt -> Nullable<Text>,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));

diesel::joinable!(inventory_items -> locations (location_id));
diesel::joinable!(inventory_items -> product_variants (variant_id));
diesel::joinable!(inventory_lots -> inventory_items (item_id));
diesel::joinable!(inventory_movements -> inventory_items (item_id));
diesel::joinable!(inventory_reservations -> inventory_items (item_id));
diesel::joinable!(inventory_transfer_lines -> inventory_transfers (transfer_id));
diesel::joinable!(cycle_count_lines -> cycle_counts (count_id));
diesel::joinable!(cycle_count_lines -> inventory_items (item_id));
diesel::joinable!(purchase_order_lines -> purchase_orders (purchase_order_id));
diesel::joinable!(customer_addresses -> customers (customer_id));
diesel::joinable!(wishlist_items -> customers (customer_id));
diesel::joinable!(orders -> customers (customer_id));
diesel::joinable!(order_items -> orders (order_id));
diesel::joinable!(fulfillment_orders -> orders (order_id));
diesel::joinable!(fulfillment_order_lines -> fulfillment_orders (fulfillment_order_id));
diesel::joinable!(fulfillment_order_lines -> order_items (order_item_id));
diesel::joinable!(shipment_lines -> shipments (shipment_id));
diesel::joinable!(shipment_lines -> fulfillment_order_lines (fulfillment_order_line_id));
diesel::joinable!(shipment_packages -> shipments (shipment_id));
diesel::joinable!(shipping_labels -> shipments (shipment_id));
diesel::joinable!(shipping_labels -> carriers (carrier_id));
diesel::joinable!(tracking_events -> shipments (shipment_id));
diesel::joinable!(order_history -> orders (order_id));
diesel::joinable!(users -> roles (role_id));
diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(product_variants -> products (product_id));
diesel::joinable!(product_images -> products (product_id));
diesel::joinable!(product_categories -> products (product_id));
diesel::joinable!(product_categories -> categories (category_id));

diesel::joinable!(invoices -> orders (order_id));
diesel::joinable!(invoices -> customers (customer_id));
diesel::joinable!(invoice_lines -> invoices (invoice_id));
diesel::joinable!(invoice_payments -> invoices (invoice_id));

diesel::table! {
    acp_sessions (checkout_id) {
        checkout_id -> Uuid,
        status -> Text,
        state -> Jsonb,
        principal -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    acp_allowances (token_id) {
        token_id -> Text,
        checkout_session_id -> Text,
        merchant_id -> Text,
        max_amount -> Int8,
        currency -> Text,
        expires_at -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    payment_attempts (id) {
        id -> Uuid,
        idempotency_key -> Text,
        operation -> Text,
        provider -> Text,
        checkout_id -> Nullable<Uuid>,
        order_id -> Nullable<Uuid>,
        payment_id -> Uuid,
        token -> Nullable<Text>,
        amount -> Numeric,
        currency -> Text,
        capture -> Bool,
        client_key -> Nullable<Text>,
        status -> Text,
        provider_reference -> Nullable<Text>,
        captured -> Nullable<Bool>,
        result_reference -> Nullable<Text>,
        failure_code -> Nullable<Text>,
        lease_until -> Timestamptz,
        tries -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    payment_attempts,
    acp_sessions,
    acp_allowances,
    stablecoin_requests,
    stablecoin_transfers,
    provider_events,
    payment_tokens,
    payments,
    checkouts,
    shipping_methods,
    tax_rates,
    discount_codes,
    discount_redemptions,
    carts,
    cart_items,
    webhooks,
    webhook_deliveries,
    webhook_attempts,
    outbox,
    categories,
    products,
    product_variants,
    product_images,
    product_categories,
    roles,
    users,
    refresh_tokens,
    revoked_sessions,
    api_keys,
    idempotency_keys,
    customers,
    customer_addresses,
    wishlist_items,
    orders,
    order_items,
    order_status_links,
    order_history,
    locations,
    inventory_items,
    inventory_lots,
    inventory_movements,
    inventory_reservations,
    inventory_transfers,
    inventory_transfer_lines,
    cycle_counts,
    cycle_count_lines,
    purchase_orders,
    purchase_order_lines,
    invoice_counters,
    invoices,
    invoice_lines,
    invoice_payments,
    fulfillment_orders,
    fulfillment_order_lines,
    shipments,
    shipment_lines,
    shipment_packages,
    carriers,
    shipping_labels,
    tracking_events,
);
