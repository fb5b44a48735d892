//! The HTTP side: one axum router for GraphQL, REST, docs, health and metrics.
//!
//! Every routed request passes, outermost first: request id → security headers → CORS → body
//! limit → `observe` (metrics, one log line) → `guard` (credentials → principal, rate limit)
//! → `idempotency` (mutations with an `Idempotency-Key`) → the handler.

pub mod graphql;
pub mod health;
pub(crate) mod idempotency;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use utoipa_swagger_ui::SwaggerUi;

use crate::adapters::rest::{self, ApiError};
use crate::app::AppState;
use crate::auth::Principal;
use crate::limits::{Allowance, Subject};
use crate::services::auth::Credentials;
use crate::services::{Ctx, Error};

/// The header that correlates a request with its logs and response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The header carrying a client's retry key.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// The header an API key may come in.
pub const API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// Longest time a request may take before the server answers 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds the whole HTTP router.
/// What `stateset worker` serves on `METRICS_ADDR`: metrics and health, for the operator's
/// scraper and probes.
pub fn operator_router(app: AppState) -> Router {
    Router::new()
        .route("/metrics", get(crate::metrics::render))
        .route("/health", get(health::health))
        .route("/health/readiness", get(health::readiness))
        .route("/health/version", get(health::version))
        .with_state(app)
}

pub fn router(app: AppState) -> Router {
    let (rest_router, openapi) = rest::router().split_for_parts();
    let mut router = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(graphql::websocket))
        .route("/metrics", get(crate::metrics::render))
        // A buyer's order status page, opened by the link ACP and the order APIs hand out.
        .route("/orders/{id}", get(crate::adapters::pages::order_status))
        .merge(rest_router)
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            idempotency::layer,
        ))
        .route_layer(middleware::from_fn_with_state(app.clone(), guard))
        .route_layer(middleware::from_fn_with_state(app.clone(), observe))
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
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(security_headers))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
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

/// Headers that keep browsers from misusing API responses.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=63072000; includeSubDomains"),
    );
    // Data never needs scripts; the GraphiQL and Swagger UI pages do, so they are spared.
    if json {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    response
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

fn route_of(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned())
}

/// Counts and times every routed request and writes one log line for it.
pub(crate) async fn observe(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = route_of(&request);
    let request_id = header_text(request.headers(), &REQUEST_ID).unwrap_or_default();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    app.metrics
        .observe_http(method.as_str(), &route, status, duration_ms);
    tracing::info!(request_id, method = %method, route, status, duration_ms, "request");
    response
}

/// Routes that are never rate limited: probes and scrapes must keep working under load.
fn exempt_from_limits(route: &str) -> bool {
    route.starts_with("/health") || route == "/metrics"
}

/// Turns credentials into a principal (401 when they are bad), applies the caller's rate
/// limit (429), and leaves the principal for the handler.
async fn guard(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let route = route_of(&request);
    let graphql = route.starts_with("/graphql");
    let principal = match app
        .services
        .auth
        .authenticate(&credentials(request.headers()))
        .await
    {
        Ok(principal) => principal,
        Err(err) => return error_response(err, graphql),
    };
    let client_ip = client_ip(&request, &app.config);
    request.extensions_mut().insert(ClientIp(client_ip));
    let mut allowance = None;
    if !exempt_from_limits(&route)
        && let Some(subject) = Subject::of(&principal, client_ip)
    {
        match app
            .rate_limiter
            .check(&subject, &format!("{} {route}", request.method()))
            .await
        {
            Ok(granted) => allowance = Some(granted),
            Err(err) => return error_response(err, graphql),
        }
    }
    request.extensions_mut().insert(principal);
    let mut response = next.run(request).await;
    if let Some(allowance) = allowance {
        set_rate_headers(response.headers_mut(), allowance);
    }
    response
}

fn set_rate_headers(headers: &mut HeaderMap, allowance: Allowance) {
    headers.insert("ratelimit-limit", HeaderValue::from(allowance.limit));
    headers.insert(
        "ratelimit-remaining",
        HeaderValue::from(allowance.remaining),
    );
    headers.insert("ratelimit-reset", HeaderValue::from(allowance.reset_secs));
}

/// The credentials in a request's headers.
pub fn credentials(headers: &HeaderMap) -> Credentials {
    if let Some(key) = header_text(headers, &API_KEY) {
        return Credentials::ApiKey(key);
    }
    match header_text(headers, &header::AUTHORIZATION) {
        Some(value) => parse_authorization(&value),
        None => Credentials::None,
    }
}

/// Parses an `Authorization` value; anything but a bearer token is bad credentials.
pub fn parse_authorization(value: &str) -> Credentials {
    match value.trim().split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Credentials::Bearer(token.trim().to_owned())
        }
        _ => Credentials::Bearer(String::new()),
    }
}

/// The client's address as the rate limiter and idempotency scopes see it, put in the
/// request's extensions by `guard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

/// Where a request comes from: the peer, or behind our own proxies (`TRUST_FORWARDED_FOR`) the
/// right-most `X-Forwarded-For` hop that is not one of them. The first entries are whatever
/// the client wrote, so they are never believed.
pub(crate) fn client_ip(request: &Request, config: &crate::config::Config) -> Option<IpAddr> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    if !config.trust_forwarded_for {
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = request
        .headers()
        .get_all(HeaderName::from_static("x-forwarded-for"))
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| hop.trim().parse().ok())
        .collect();
    forwarded_client(peer, &hops, &config.trusted_proxies)
}

/// The client among `peer` and the forwarded `hops` (oldest first), given our `proxies`.
fn forwarded_client(
    peer: Option<IpAddr>,
    hops: &[Option<IpAddr>],
    proxies: &crate::config::TrustedProxies,
) -> Option<IpAddr> {
    use crate::config::TrustedProxies;
    match proxies {
        TrustedProxies::Count(0) => peer,
        // The last `n` entries were written by our `n` proxies; the oldest of them names
        // the client.
        TrustedProxies::Count(n) => match hops.len().checked_sub(*n) {
            Some(at) => hops[at],
            None => hops.first().copied().flatten().or(peer),
        },
        TrustedProxies::Networks(networks) => {
            let ours = |ip: &IpAddr| networks.iter().any(|n| n.contains(ip));
            if !peer.is_some_and(|p| ours(&p)) {
                return peer;
            }
            for hop in hops.iter().rev() {
                match hop {
                    Some(ip) if ours(ip) => continue,
                    other => return *other,
                }
            }
            hops.first().copied().flatten().or(peer)
        }
    }
}

fn header_text(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// An error answered before a handler ran, shaped for the door: GraphQL's `errors` list or
/// the REST error body; with `Retry-After` (and rate-limit headers) when waiting helps.
pub fn error_response(err: Error, graphql: bool) -> Response {
    if !graphql {
        return ApiError::from(err).into_response();
    }
    let status = rest::status_of(&err);
    let mut retry_headers = HeaderMap::new();
    add_retry_headers(&mut retry_headers, &err);
    let gql = crate::adapters::graphql::to_graphql_error(err);
    let body =
        serde_json::json!({ "errors": [gql.into_server_error(async_graphql::Pos::default())] });
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().extend(retry_headers);
    response
}

/// `Retry-After` where waiting helps, and for rate limits the exhausted allowance.
pub fn add_retry_headers(headers: &mut HeaderMap, err: &Error) {
    if let Some(seconds) = err.retry_after() {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if let Error::RateLimited {
        retry_after_secs,
        limit,
        ..
    } = err
    {
        headers.insert("ratelimit-limit", HeaderValue::from(*limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(0));
        headers.insert("ratelimit-reset", HeaderValue::from(*retry_after_secs));
    }
}

/// Every HTTP handler gets its call context from the guard's principal and the headers.
impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let request_id = header_text(&parts.headers, &REQUEST_ID)
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .unwrap_or(Principal::Anonymous);
        Ok(Ctx::new(
            principal,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrustedProxies;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn the_client_is_the_right_most_hop_our_proxies_did_not_write() -> anyhow::Result<()> {
        let peer = ip("10.0.0.2");
        // The client forged "6.6.6.6"; our one proxy appended the address it saw.
        let hops = [ip("6.6.6.6"), ip("203.0.113.9")];
        assert_eq!(
            forwarded_client(peer, &hops, &TrustedProxies::Count(1)),
            ip("203.0.113.9")
        );
        let chain = [ip("6.6.6.6"), ip("203.0.113.9"), ip("10.0.0.1")];
        assert_eq!(
            forwarded_client(peer, &chain, &TrustedProxies::Count(2)),
            ip("203.0.113.9")
        );
        let networks: TrustedProxies = "10.0.0.0/8".parse().map_err(anyhow::Error::msg)?;
        assert_eq!(forwarded_client(peer, &chain, &networks), ip("203.0.113.9"));
        // Not through our proxy: the header is the client's own word, ignored.
        assert_eq!(
            forwarded_client(ip("198.51.100.4"), &chain, &networks),
            ip("198.51.100.4")
        );
        assert_eq!(forwarded_client(peer, &[], &TrustedProxies::Count(1)), peer);
        Ok(())
    }
}
