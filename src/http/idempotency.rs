//! `Idempotency-Key` on HTTP mutations (REST and `POST /graphql`): the first request runs and
//! its response is kept; a retry gets the same status and body with `Idempotent-Replayed:
//! true`; the same key with another body is 422; a key still running is 409. Only a response
//! whose operation completed is kept: server errors (a 5xx, or a GraphQL answer carrying an
//! `INTERNAL`/`UNAVAILABLE` error) and requests that never finished are forgotten, so a retry
//! after one runs again. Nor is a response marked `Cache-Control: no-store` (one holding a
//! session's tokens or a new API key): the store must never keep a copy of a secret, so such
//! an operation runs again when retried.

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{IDEMPOTENCY_KEY, error_response};
use crate::app::AppState;
use crate::auth::Principal;
use crate::services::Error;
use crate::services::idempotency::{Outcome, Ran, StoredResponse, check_key, request_hash};

/// Marks a replayed response.
pub const REPLAYED: &str = "idempotent-replayed";

pub async fn layer(State(app): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(&IDEMPOTENCY_KEY).cloned() else {
        return next.run(request).await;
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(String::new, |p| p.as_str().to_owned());
    let graphql = route.starts_with("/graphql");
    let key = key.to_str().map(str::trim).unwrap_or_default().to_owned();
    if let Err(err) = check_key("Idempotency-Key", &key) {
        return bad_request(err, graphql);
    }
    // Keys are scoped to the caller and the operation; anonymous callers by their address,
    // the same one the rate limiter counts them by.
    let caller = match request.extensions().get::<Principal>() {
        Some(Principal::Anonymous) | None => {
            let ip = request
                .extensions()
                .get::<super::ClientIp>()
                .and_then(|c| c.0)
                .map(|ip| ip.to_string());
            format!("anonymous:{}", ip.unwrap_or_default())
        }
        Some(principal) => principal.key(),
    };
    let scope = format!("{caller}|{} {route}", request.method());
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, app.config.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    let target = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let hash = request_hash(&[parts.method.as_str().as_bytes(), target.as_bytes(), &bytes]);

    let request = Request::from_parts(parts, Body::from(bytes));
    run_once(&app, &scope, &key, &hash, request, next)
        .await
        .unwrap_or_else(|err| error_response(err, graphql))
}

/// Runs `request` at most once under `key` in `scope`: a stored answer for the same `hash` is
/// replayed (marked `Idempotent-Replayed: true`); otherwise the handler runs and its answer is
/// kept, except a server error, so a retry after one runs again. The claim errors
/// (`IDEMPOTENCY_*`) come back for the caller's door to shape; ACP shares this with REST.
pub(crate) async fn run_once(
    app: &AppState,
    scope: &str,
    key: &str,
    hash: &str,
    request: Request,
    next: Next,
) -> Result<Response, Error> {
    let graphql = request.uri().path().starts_with("/graphql");
    let call = async move {
        let response = next.run(request).await;
        let (mut head, body) = response.into_parts();
        head.headers.remove(header::CONTENT_LENGTH);
        let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
            let err = Error::Internal(anyhow::anyhow!("unreadable response body"));
            return Outcome::Forget(Err(err));
        };
        // Only an operation that completed is kept: a server error (GraphQL answers 200 with
        // it in `errors`) must run again when retried.
        let failed = head.status.is_server_error() || (graphql && has_server_error(&body));
        let secret = is_no_store(&head.headers);
        let stored = StoredResponse {
            status: head.status.as_u16(),
            body: body.to_vec(),
            content_type: head
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        };
        let response = Ok(Response::from_parts(head, Body::from(body)));
        if failed || secret {
            Outcome::Forget(response)
        } else {
            Outcome::Keep(response, stored)
        }
    };
    match app
        .services
        .idempotency
        .run_once(scope, key, hash, call)
        .await?
    {
        Ran::Replayed(stored) => Ok(replay(stored)),
        Ran::Ran(response) => response,
    }
}

/// Whether a response says it must not be stored (`Cache-Control: no-store`).
pub(super) fn is_no_store(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|directive| directive.trim().eq_ignore_ascii_case("no-store"))
}

/// Whether a GraphQL answer (one response or a batch) carries an error whose cause is the
/// server's, not the caller's.
fn has_server_error(body: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return true;
    };
    let responses = match &value {
        serde_json::Value::Array(batch) => batch.iter().collect(),
        single => vec![single],
    };
    responses.iter().any(|response| {
        response["errors"].as_array().is_some_and(|errors| {
            errors.iter().any(|e| {
                e["extensions"]["code"]
                    .as_str()
                    .is_some_and(|code| Error::SERVER_FAULT_CODES.contains(&code))
            })
        })
    })
}

fn bad_request(err: Error, graphql: bool) -> Response {
    let mut response = error_response(err, graphql);
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    if let Some(content_type) = stored
        .content_type
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
