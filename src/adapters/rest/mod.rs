//! The REST door under `/api/v1`, with its OpenAPI document generated from the same
//! declarations (utoipa) and served at `/api-docs/openapi.json`.

mod catalog;
mod error;
mod extract;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ErrorBody, ErrorDetail};

use crate::app::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "StateSet",
        description = "REST API of the StateSet commerce server. Errors are \
            `{\"error\":{\"code\",\"message\",\"details\"}}` with a stable `code`; every response \
            carries `x-request-id`.",
    ),
    tags(
        (name = "catalog", description = "Products, variants and categories"),
        (name = "events", description = "The event log"),
        (name = "health", description = "Liveness, readiness and build information"),
    )
)]
struct ApiDoc;

/// The REST routes and the health routes, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .routes(routes!(catalog::list_products, catalog::create_product))
        .routes(routes!(
            catalog::get_product,
            catalog::update_product,
            catalog::delete_product
        ))
        .routes(routes!(catalog::create_variant))
        .routes(routes!(catalog::update_variant, catalog::delete_variant))
        .routes(routes!(catalog::set_product_categories))
        .routes(routes!(catalog::list_categories, catalog::create_category))
        .routes(routes!(
            catalog::get_category,
            catalog::update_category,
            catalog::delete_category
        ))
        .routes(routes!(catalog::list_events));
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
