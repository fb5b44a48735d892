//! The REST door under `/api/v1`, with its OpenAPI document generated from the same
//! declarations (utoipa) and served at `/api-docs/openapi.json`.

mod access;
mod carts;
mod catalog;
mod checkout;
mod error;
mod extract;
mod inventory;
mod invoices;
mod orders;
mod paging;
mod payments;
mod pricing;
mod webhooks;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ErrorBody, ErrorDetail, status_of};

use crate::app::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "StateSet",
        description = "REST API of the StateSet commerce server. Errors are \
            `{\"error\":{\"code\",\"message\",\"details\"}}` with a stable `code`; every response \
            carries `x-request-id`.",
    ),
    components(schemas(crate::domain::ProductSort, crate::domain::OrderSort, crate::domain::DeliveryStatus)),
    modifiers(&SecuritySchemes),
    security((), ("bearer" = []), ("api_key" = [])),
    tags(
        (name = "catalog", description = "Products, variants and categories"),
        (name = "orders", description = "Orders: lifecycle, holds, cancellation, merge and split"),
        (name = "customers", description = "Customers, address books and wishlists"),
        (name = "inventory", description = "Stock across locations: reservations, transfers, counts, purchase orders. \
            Available to promise = available + on order − committed, where available = on hand − reserved and \
            committed = safety stock."),
        (name = "carts", description = "Guest carts (opened by their token) and customer carts, priced live"),
        (name = "payments", description = "Card tokens, payments of orders (authorize, capture, void, refund), provider webhooks and stablecoin reconciliation"),
        (name = "pricing", description = "Shipping methods, tax rates and discount codes that checkout prices with"),
        (name = "invoices", description = "Invoices of orders: numbered per year, issued, paid (order payments and \
            recorded ones), voided, printed as PDF; overdue ones are flagged and reminded about"),
        (name = "checkout", description = "From a cart to a paid order: addresses, shipping, discounts, payment, completion"),
        (name = "events", description = "The event log"),
        (name = "webhooks", description = "Signed event deliveries to your endpoints: management, ping, \
            delivery log, re-sending. Verify `X-StateSet-Signature` as docs/WEBHOOKS.md shows."),
        (name = "auth", description = "Sign-in, sessions, API keys, roles and users"),
        (name = "health", description = "Liveness, readiness and build information"),
    )
)]
struct ApiDoc;

/// Declares how callers authenticate: a bearer token (JWT or API key) or `X-API-Key`.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or sk_live_ API key")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

/// The REST routes and the health routes, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .routes(routes!(catalog::list_products, catalog::create_product))
        .routes(routes!(
            catalog::get_product,
            catalog::update_product,
            catalog::delete_product
        ))
        .routes(routes!(catalog::product_availability))
        .routes(routes!(catalog::create_variant))
        .routes(routes!(catalog::update_variant, catalog::delete_variant))
        .routes(routes!(catalog::set_product_categories))
        .routes(routes!(catalog::list_categories, catalog::create_category))
        .routes(routes!(
            catalog::get_category,
            catalog::update_category,
            catalog::delete_category
        ))
        .routes(routes!(catalog::list_events))
        .routes(routes!(orders::list_orders, orders::create_order))
        .routes(routes!(orders::merge_orders))
        .routes(routes!(orders::get_order, orders::update_order))
        .routes(routes!(orders::order_items))
        .routes(routes!(orders::order_history))
        .routes(routes!(orders::update_status))
        .routes(routes!(orders::cancel_order))
        .routes(routes!(orders::hold_order))
        .routes(routes!(orders::release_order))
        .routes(routes!(orders::archive_order))
        .routes(routes!(orders::split_order))
        .routes(routes!(orders::list_customers, orders::create_customer))
        .routes(routes!(orders::get_customer, orders::update_customer))
        .routes(routes!(orders::add_address))
        .routes(routes!(orders::update_address, orders::delete_address))
        .routes(routes!(orders::add_to_wishlist))
        .routes(routes!(orders::remove_from_wishlist))
        .routes(routes!(inventory::list_inventory))
        .routes(routes!(inventory::low_stock))
        .routes(routes!(inventory::receive))
        .routes(routes!(inventory::available_to_promise))
        .routes(routes!(inventory::create_transfer))
        .routes(routes!(inventory::receive_transfer))
        .routes(routes!(inventory::open_count))
        .routes(routes!(inventory::get_count))
        .routes(routes!(inventory::record_count))
        .routes(routes!(inventory::post_count))
        .routes(routes!(inventory::get_item, inventory::update_item))
        .routes(routes!(inventory::reserve))
        .routes(routes!(inventory::release))
        .routes(routes!(inventory::adjust))
        .routes(routes!(inventory::lots))
        .routes(routes!(inventory::movements))
        .routes(routes!(inventory::reservations))
        .routes(routes!(
            inventory::list_locations,
            inventory::create_location
        ))
        .routes(routes!(inventory::update_location))
        .routes(routes!(inventory::create_purchase_order))
        .routes(routes!(inventory::get_purchase_order))
        .routes(routes!(inventory::receive_purchase_order))
        .routes(routes!(access::register))
        .routes(routes!(access::login))
        .routes(routes!(access::refresh))
        .routes(routes!(access::logout))
        .routes(routes!(access::me))
        .routes(routes!(access::list_api_keys, access::create_api_key))
        .routes(routes!(access::revoke_api_key))
        .routes(routes!(access::list_roles, access::create_role))
        .routes(routes!(access::update_role, access::delete_role))
        .routes(routes!(access::list_users, access::create_user))
        .routes(routes!(access::set_user_role))
        .routes(routes!(access::set_user_active))
        .routes(routes!(carts::create_cart))
        .routes(routes!(carts::merge_cart))
        .routes(routes!(carts::get_cart))
        .routes(routes!(carts::add_cart_item))
        .routes(routes!(carts::update_cart_item, carts::remove_cart_item))
        .routes(routes!(
            pricing::list_shipping_methods,
            pricing::create_shipping_method
        ))
        .routes(routes!(pricing::delete_shipping_method))
        .routes(routes!(pricing::list_tax_rates, pricing::create_tax_rate))
        .routes(routes!(pricing::delete_tax_rate))
        .routes(routes!(
            pricing::list_discount_codes,
            pricing::create_discount_code
        ))
        .routes(routes!(pricing::delete_discount_code))
        .routes(routes!(checkout::start_checkout))
        .routes(routes!(checkout::get_checkout, checkout::update_checkout))
        .routes(routes!(checkout::shipping_options))
        .routes(routes!(checkout::complete_checkout))
        .routes(routes!(payments::create_payment_token))
        .routes(routes!(payments::create_payment, payments::list_payments))
        .routes(routes!(payments::get_payment))
        .routes(routes!(payments::capture_payment))
        .routes(routes!(payments::void_payment))
        .routes(routes!(payments::refund_payment))
        .routes(routes!(payments::stripe_webhook))
        .routes(routes!(payments::stablepay_callback))
        .routes(routes!(payments::stablecoin_reconciliation))
        .routes(routes!(invoices::list_invoices, invoices::create_invoice))
        .routes(routes!(invoices::get_invoice))
        .routes(routes!(invoices::invoice_pdf))
        .routes(routes!(invoices::issue_invoice))
        .routes(routes!(invoices::void_invoice))
        .routes(routes!(invoices::record_invoice_payment))
        .routes(routes!(webhooks::list_webhooks, webhooks::create_webhook))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::update_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::ping_webhook))
        .routes(routes!(webhooks::rotate_webhook_secret))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::get_delivery))
        .routes(routes!(webhooks::resend_delivery));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", v1)
        .routes(routes!(crate::http::health::health))
        .routes(routes!(crate::http::health::readiness))
        .routes(routes!(crate::http::health::version))
}

/// The OpenAPI document, as served.
pub fn openapi() -> utoipa::openapi::OpenApi {
    router().split_for_parts().1
}
