//! The middleware every routed request passes (security headers, `observe`, `guard`) and
//! what the other HTTP doors (ACP, the GraphQL socket) share with it: the client's address,
//! credentials from headers, error responses shaped before a handler ran, and [`Caller`], the
//! call context a handler extracts.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{API_KEY, IDEMPOTENCY_KEY, REQUEST_ID};
use crate::adapters::rest::{self, ApiError};
use crate::app::AppState;
use crate::auth::Principal;
use crate::limits::Allowance;
use crate::services::auth::Credentials;
use crate::services::{Ctx, Error};

/// Headers that keep browsers from misusing API responses.
pub(super) async fn security_headers(request: Request, next: Next) -> Response {
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

fn route_of(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned())
}

/// Counts and times every routed request and writes one log line for it.
pub async fn observe(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = route_of(&request);
    let request_id = header_text(request.headers(), &REQUEST_ID).unwrap_or_default();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    app.metrics
        .observe_http(method.as_str(), &route, status, duration_ms);
    // Probes and scrapes arrive every few seconds from every orchestrator and scraper; their
    // lines would bury the traffic (and cost more than the answer), so they log at debug.
    if is_probe_or_scrape(&route) {
        tracing::debug!(request_id, method = %method, route, status, duration_ms, "request");
    } else {
        tracing::info!(request_id, method = %method, route, status, duration_ms, "request");
    }
    response
}

/// Health probes and the metrics scrape: never rate limited (they must keep working under
/// load), never tagged for conditional reads, logged at debug.
pub(super) fn is_probe_or_scrape(route: &str) -> bool {
    route.starts_with("/health") || route == "/metrics"
}

/// Admits the caller (credentials → principal, 401 when they are bad; the rate limit, 429)
/// and leaves the principal and the client's address for the handler.
pub(super) async fn guard(
    State(app): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let route = route_of(&request);
    let graphql = route.starts_with("/graphql");
    let client_ip = client_ip(&request, &app.config);
    let limited = (!is_probe_or_scrape(&route)).then(|| format!("{} {route}", request.method()));
    let admitted = match app
        .admission
        .admit(
            &credentials(request.headers()),
            client_ip,
            limited.as_deref(),
        )
        .await
    {
        Ok(admitted) => admitted,
        Err(err) => return error_response(err, graphql),
    };
    request.extensions_mut().insert(ClientIp(client_ip));
    request.extensions_mut().insert(admitted.principal);
    let mut response = next.run(request).await;
    if let Some(allowance) = admitted.allowance {
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
        Some(value) => Credentials::from_authorization(&value),
        None => Credentials::None,
    }
}

/// The client's address as the rate limiter and idempotency scopes see it, put in the
/// request's extensions by `guard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

/// Where a request comes from: the peer, or behind our own proxies (`TRUST_FORWARDED_FOR`) the
/// right-most `X-Forwarded-For` hop that is not one of them. The first entries are whatever
/// the client wrote, so they are never believed.
pub fn client_ip(request: &Request, config: &crate::config::Config) -> Option<IpAddr> {
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

pub(crate) fn header_text(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
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

/// The call context of an HTTP request, as handlers extract it: the principal `guard` left,
/// the request id and the `Idempotency-Key`.
pub struct Caller(pub Ctx);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let request_id = header_text(&parts.headers, &REQUEST_ID)
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .unwrap_or(Principal::Anonymous);
        Ok(Self(Ctx::new(
            principal,
            request_id,
            header_text(&parts.headers, &IDEMPOTENCY_KEY),
        )))
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
