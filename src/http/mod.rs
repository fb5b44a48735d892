//! The HTTP side: one axum router for GraphQL, REST, docs, health and metrics.
//!
//! Every routed request passes, outermost first: request id → security headers → compression
//! → CORS → body limit → `observe` (metrics, one log line) → `guard` (credentials → principal,
//! rate limit) → `idempotency` (mutations with an `Idempotency-Key`) → `conditional` (`ETag`
//! and `304` on reads) → the handler.

mod conditional;
pub mod graphql;
pub mod health;
pub(crate) mod idempotency;
pub mod middleware;

pub use middleware::{
    Caller, ClientIp, add_retry_headers, client_ip, credentials, error_response, observe,
};

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware as layer;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate as _, SizeAbove};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use utoipa_swagger_ui::SwaggerUi;

use crate::adapters::rest::{self, ApiError};
use crate::app::AppState;
use crate::services::Error;
use middleware::{guard, security_headers};

/// The header that correlates a request with its logs and response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The header carrying a client's retry key.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// The header an API key may come in.
pub const API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// Longest time a request may take before the server answers 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What `stateset worker` serves on `METRICS_ADDR`: metrics and health, for the operator's
/// scraper and probes.
pub fn operator_router(app: AppState) -> Router {
    Router::new()
        .route("/metrics", get(health::metrics))
        .route("/health", get(health::health))
        .route("/health/readiness", get(health::readiness))
        .route("/health/version", get(health::version))
        .with_state(app)
}

/// Builds the whole HTTP router.
pub fn router(app: AppState) -> Router {
    let (rest_router, openapi) = rest::router().split_for_parts();
    let mut router = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(graphql::websocket))
        .route("/metrics", get(health::metrics))
        // A buyer's order status page, opened by the link ACP and the order APIs hand out.
        .route("/orders/{id}", get(crate::adapters::pages::order_status))
        .merge(rest_router)
        .route_layer(layer::from_fn(conditional::layer))
        .route_layer(layer::from_fn_with_state(app.clone(), idempotency::layer))
        .route_layer(layer::from_fn_with_state(app.clone(), guard))
        .route_layer(layer::from_fn_with_state(app.clone(), observe))
        .merge(SwaggerUi::new("/swagger-ui").url("/api-docs/openapi.json", openapi))
        // ACP has its own rules for credentials, versions, idempotency and error shapes.
        .merge(crate::adapters::acp::router(app.clone()))
        .fallback(not_found)
        .with_state(app.clone())
        .layer(RequestBodyLimitLayer::new(app.config.max_body_bytes));
    if let Some(cors) = cors(&app.config.cors_allowed_origins) {
        router = router.layer(cors);
    }
    router
        .layer(compression())
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(layer::from_fn(security_headers))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// Answers of 1 KiB or more, gzip or brotli as the client's `Accept-Encoding` prefers; never
/// event streams (each event must go out as it happens), images or gRPC.
fn compression() -> CompressionLayer<impl tower_http::compression::Predicate> {
    let worth_it = SizeAbove::new(1024)
        .and(NotForContentType::SSE)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::GRPC);
    CompressionLayer::new().compress_when(worth_it)
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let headers = [
        "authorization",
        "content-type",
        "idempotency-key",
        "x-api-key",
        "x-request-id",
        "api-version",
    ];
    let exposed = [
        "x-request-id",
        "retry-after",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "idempotent-replayed",
    ];
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers(headers.map(HeaderName::from_static))
            .expose_headers(exposed.map(HeaderName::from_static))
            .max_age(Duration::from_secs(600)),
    )
}

/// A bug must never drop the connection: answer 500 in the usual error shape and log it.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    ApiError::from(Error::Internal(anyhow::anyhow!(
        "handler panicked: {detail}"
    )))
    .into_response()
}

async fn not_found(request: Request) -> ApiError {
    Error::not_found("route", request.uri().path()).into()
}
