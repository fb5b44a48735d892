//! The HTTP side: one axum router for GraphQL, REST, docs, health and metrics, wrapped in the
//! request-id and observation middleware.

pub mod graphql;
pub mod health;
pub mod metrics;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use utoipa_swagger_ui::SwaggerUi;

use crate::adapters::rest::{self, ApiError};
use crate::app::AppState;
use crate::services::{Ctx, Error};

/// The header that correlates a request with its logs and response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The header carrying a client's retry key.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// Longest time a request may take before the server answers 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds the whole HTTP router.
pub fn router(app: AppState) -> Router {
    let (rest_router, openapi) = rest::router().split_for_parts();
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(graphql::websocket))
        .route("/metrics", get(metrics::render))
        .merge(rest_router)
        .route_layer(middleware::from_fn_with_state(app.clone(), observe))
        .merge(SwaggerUi::new("/swagger-ui").url("/api-docs/openapi.json", openapi))
        .fallback(not_found)
        .with_state(app)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

async fn not_found(request: Request) -> ApiError {
    Error::not_found("route", request.uri().path()).into()
}

/// Counts and times every routed request and writes one log line for it.
async fn observe(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let request_id = header_text(request.headers(), &REQUEST_ID).unwrap_or_default();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    app.metrics
        .observe_http(method.as_str(), &route, status, duration_ms);
    tracing::info!(request_id, method = %method, route, status, duration_ms, "request");
    response
}

fn header_text(headers: &axum::http::HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Every HTTP handler gets its call context from the request headers.
impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let request_id = header_text(&parts.headers, &REQUEST_ID)
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        Ok(Ctx::for_request(
            request_id,
            header_text(&parts.headers, &IDEMPOTENCY_KEY),
        ))
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}
