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
pub(crate) mod operation;
mod orders;
mod paging;
mod payments;
mod pricing;
mod shipments;
mod webhooks;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ErrorBody, ErrorDetail, status_of};
pub use operation::{Needs, Operation};

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
        (name = "shipments", description = "Fulfilment: each order's lines planned per location (fulfilment orders: \
            held, released, moved, split, merged), and the shipments that leave from them in packages: picked, \
            packed, shipped (the reserved stock leaves with them), delivered"),
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

/// What a module of the REST door declares: the function that registers its operations, and
/// their table.
type Module = (
    fn(OpenApiRouter<AppState>) -> OpenApiRouter<AppState>,
    &'static [Operation],
);

/// Every module of the REST door.
const MODULES: &[Module] = &[
    (catalog::routes, catalog::OPERATIONS),
    (orders::routes, orders::OPERATIONS),
    (inventory::routes, inventory::OPERATIONS),
    (access::routes, access::OPERATIONS),
    (carts::routes, carts::OPERATIONS),
    (pricing::routes, pricing::OPERATIONS),
    (checkout::routes, checkout::OPERATIONS),
    (payments::routes, payments::OPERATIONS),
    (invoices::routes, invoices::OPERATIONS),
    (shipments::routes, shipments::OPERATIONS),
    (webhooks::routes, webhooks::OPERATIONS),
];

/// The REST routes and the health routes, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    let v1 = MODULES
        .iter()
        .fold(OpenApiRouter::new(), |router, (routes, _)| routes(router));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", v1)
        .routes(routes!(crate::http::health::health))
        .routes(routes!(crate::http::health::readiness))
        .routes(routes!(crate::http::health::version))
}

/// Every operation served under `/api/v1`, as declared: method, path, handler, permission.
pub fn operations() -> impl Iterator<Item = &'static Operation> {
    MODULES.iter().flat_map(|(_, operations)| operations.iter())
}

/// The OpenAPI document, as served.
pub fn openapi() -> utoipa::openapi::OpenApi {
    router().split_for_parts().1
}
