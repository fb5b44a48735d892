//! The Agentic Commerce Protocol door (2026-04-17): `/checkout_sessions...`,
//! `/agentic_commerce/delegate_payment` and `/.well-known/acp.json`.
//!
//! One middleware ([`protocol`]) applies ACP's rules before any handler runs: a bearer
//! credential, a supported `API-Version`, a `Signature`/`Timestamp` required when
//! `ACP_SIGNATURE_KEY` is set (see [`signed_content`]), and a
//! required `Idempotency-Key` on every POST (replay, 422 conflict, 409 in flight, through
//! [`crate::services::idempotency`]), echoing `Request-Id` and `Idempotency-Key`. Handlers
//! parse the body into [`wire::requests`], call [`crate::services::acp::AcpService`] with the
//! service input it converts to, render the typed result with [`wire::render`] and map an
//! `Error` once, to ACP's flat `{type, code, message, param}` object ([`error`]).
//! [`PlatformOrderWebhooks`] is the relay sink that renders the agent platform's order
//! webhooks.

#![expect(
    clippy::result_large_err,
    reason = "an AcpError is built once per failed request and answered at once"
)]

mod error;
mod platform_webhooks;
pub mod wire;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;

pub use self::error::AcpError;
pub use self::platform_webhooks::PlatformOrderWebhooks;
use self::wire::render;
use self::wire::requests::{
    CancelSessionInput, CompleteSessionInput, CreateSessionInput, DelegatePaymentInput,
    UpdateSessionInput,
};
pub use self::wire::{SUPPORTED_VERSIONS, VERSION};
use crate::app::AppState;
use crate::auth::Principal;
use crate::services::acp::Session;
use crate::services::auth::Credentials;
use crate::services::idempotency::{check_key, request_hash};
use crate::services::{Ctx, Error};

const API_VERSION: HeaderName = HeaderName::from_static("api-version");
const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const SIGNATURE: HeaderName = HeaderName::from_static("signature");
const TIMESTAMP: HeaderName = HeaderName::from_static("timestamp");
/// How far a signed request's `Timestamp` may be from our clock.
const SIGNATURE_SKEW_SECS: i64 = 300;

/// The ACP routes with their own middleware.
pub fn router(app: AppState) -> Router<AppState> {
    let protocol_routes = Router::new()
        .route("/checkout_sessions", post(create))
        .route("/checkout_sessions/{id}", get(show).post(update))
        .route("/checkout_sessions/{id}/complete", post(complete))
        .route("/checkout_sessions/{id}/cancel", post(cancel))
        .route("/agentic_commerce/delegate_payment", post(delegate_payment))
        .route_layer(middleware::from_fn_with_state(app.clone(), protocol))
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            crate::http::observe,
        ));
    Router::new()
        .route("/.well-known/acp.json", get(discovery))
        .route_layer(middleware::from_fn_with_state(app, crate::http::observe))
        .merge(protocol_routes)
}

fn text(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
}

/// Whether the request is for the delegate-payment API (its error codes differ).
fn is_vault(path: &str) -> bool {
    path.starts_with("/agentic_commerce/")
}

/// Applies ACP's protocol rules around a handler (see the module comment).
async fn protocol(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let request_id = text(request.headers(), &REQUEST_ID);
    let key = text(request.headers(), &IDEMPOTENCY_KEY);
    let mut response = checked(app, request, request_id.clone(), key.clone(), next).await;
    let headers = response.headers_mut();
    if let Some(id) = request_id.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(REQUEST_ID, id);
    }
    if let Some(key) = key.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(IDEMPOTENCY_KEY, key);
    }
    response
}

async fn checked(
    app: AppState,
    mut request: Request,
    request_id: Option<String>,
    key: Option<String>,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let vault = is_vault(&path);
    // Credentials first, so nothing about sessions leaks to strangers.
    let token = match text(request.headers(), &header::AUTHORIZATION) {
        Some(value) => match Credentials::from_authorization(&value) {
            Credentials::Bearer(token) if !token.is_empty() => token,
            _ => return AcpError::from(Error::Unauthenticated).into_response(),
        },
        None => return AcpError::from(Error::Unauthenticated).into_response(),
    };
    // Admitted, and the caller's rate limit charged, as on every other door.
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| path.clone(), |p| p.as_str().to_owned());
    let admitted = app
        .admission
        .admit(
            &Credentials::Bearer(token),
            crate::http::client_ip(&request, &app.config),
            Some(&format!("{} {route}", request.method())),
        )
        .await;
    let principal = match admitted.map(|a| a.principal) {
        Ok(Principal::Anonymous) => {
            return AcpError::from(Error::Unauthenticated).into_response();
        }
        Ok(principal) => principal,
        Err(err) => return AcpError::from(err).vault(vault).into_response(),
    };
    match text(request.headers(), &API_VERSION) {
        None => return AcpError::version("missing_api_version").into_response(),
        Some(v) if !SUPPORTED_VERSIONS.contains(&v.as_str()) => {
            return AcpError::version("unsupported_api_version").into_response();
        }
        Some(_) => {}
    }
    let ctx = Ctx::new(
        principal.clone(),
        request_id.unwrap_or_else(|| Uuid::now_v7().to_string()),
        key.clone(),
    );
    request.extensions_mut().insert(principal.clone());
    request.extensions_mut().insert(ctx);
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, app.config.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return AcpError::invalid("request_too_large", "the request body is too large", None)
                .into_response();
        }
    };
    if let Some(key) = app.config.acp.signature_key.as_deref()
        && let Err(err) = verify_signature(key, &parts, &bytes)
    {
        return err.into_response();
    }
    if parts.method != Method::POST {
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    }
    let Some(key) = key else {
        return AcpError::invalid(
            "idempotency_key_required",
            "the Idempotency-Key header is required on every POST",
            None,
        )
        .into_response();
    };
    if let Err(err) = check_key("Idempotency-Key", &key) {
        return AcpError::from(err).vault(vault).into_response();
    }
    // Keys are scoped to the credential and the endpoint path.
    let scope = format!("acp|{}|POST {path}", principal.key());
    let hash = request_hash(&[canonical_body(&bytes).as_bytes()]);
    let request = Request::from_parts(parts, Body::from(bytes));
    crate::http::idempotency::run_once(&app, &scope, &key, &hash, request, next)
        .await
        .unwrap_or_else(|err| AcpError::from(err).vault(vault).into_response())
}

/// The body in canonical form for comparing requests: keys sorted, numbers that are whole
/// written as integers (`1.0` == `1`), `null` kept (it differs from absent). Not JSON: as is.
pub fn canonical_body(bytes: &[u8]) -> String {
    fn canonical(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for key in keys {
                    out.insert(key.clone(), canonical(&map[key]));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
            Value::Number(n) => match n.as_f64() {
                Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    #[expect(clippy::cast_possible_truncation, reason = "whole and in range")]
                    let whole = f as i64;
                    json!(whole)
                }
                _ => value.clone(),
            },
            other => other.clone(),
        }
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return String::new();
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => {
            // Objects are written in sorted order: build the string by hand.
            fn write(value: &Value, out: &mut String) {
                match value {
                    Value::Object(map) => {
                        let mut keys: Vec<&String> = map.keys().collect();
                        keys.sort();
                        out.push('{');
                        for (i, key) in keys.into_iter().enumerate() {
                            if i > 0 {
                                out.push(',');
                            }
                            out.push_str(&Value::String(key.clone()).to_string());
                            out.push(':');
                            write(&map[key], out);
                        }
                        out.push('}');
                    }
                    Value::Array(items) => {
                        out.push('[');
                        for (i, item) in items.iter().enumerate() {
                            if i > 0 {
                                out.push(',');
                            }
                            write(item, out);
                        }
                        out.push(']');
                    }
                    other => out.push_str(&other.to_string()),
                }
            }
            let mut out = String::new();
            write(&canonical(&value), &mut out);
            out
        }
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// The string a request's `Signature` covers, one field per line:
/// `{Timestamp}\n{METHOD}\n{path}[?{query}]\n{raw body}`. Binding the method and the path
/// with its query means a signed body cannot be replayed against another route; the newline
/// separates fields unambiguously because none of the first three can contain one.
pub fn signed_content(
    timestamp: &str,
    method: &Method,
    path_and_query: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut content = Vec::with_capacity(timestamp.len() + path_and_query.len() + body.len() + 16);
    for field in [
        timestamp.as_bytes(),
        method.as_str().as_bytes(),
        path_and_query.as_bytes(),
    ] {
        content.extend_from_slice(field);
        content.push(b'\n');
    }
    content.extend_from_slice(body);
    content
}

/// With `ACP_SIGNATURE_KEY` set, every request must carry `Signature` (base64url
/// HMAC-SHA256 with the shared key over [`signed_content`]) and `Timestamp` (RFC 3339,
/// within the skew window); anything else is 401 `invalid_signature`.
fn verify_signature(
    key: &str,
    parts: &axum::http::request::Parts,
    body: &[u8],
) -> Result<(), AcpError> {
    use base64::Engine as _;
    use hmac::{KeyInit as _, Mac as _};
    let invalid = |message: &str| AcpError::unauthorized("invalid_signature", message);
    let Some(signature) = text(&parts.headers, &SIGNATURE) else {
        return Err(invalid("this seller requires a Signature header"));
    };
    let Some(timestamp) = text(&parts.headers, &TIMESTAMP) else {
        return Err(invalid("a signed request needs a Timestamp header"));
    };
    let at = chrono::DateTime::parse_from_rfc3339(&timestamp)
        .map_err(|_| invalid("Timestamp must be an RFC 3339 time"))?;
    let skew = (chrono::Utc::now().timestamp() - at.timestamp()).abs();
    if skew > SIGNATURE_SKEW_SECS {
        return Err(invalid("Timestamp is outside the accepted window"));
    }
    let given = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature.trim_end_matches('='))
        .map_err(|_| invalid("Signature must be base64url"))?;
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |pq| pq.as_str());
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes())
        .map_err(|_| invalid("cannot verify"))?;
    mac.update(&signed_content(
        &timestamp,
        &parts.method,
        path_and_query,
        body,
    ));
    mac.verify_slice(&given)
        .map_err(|_| invalid("Signature does not match the request"))
}

/// Parses a JSON body into `T`, naming the offending field as a JSONPath.
fn parse<T: DeserializeOwned>(bytes: &Bytes, empty_ok: bool) -> Result<T, AcpError> {
    let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        if !empty_ok {
            return Err(AcpError::invalid(
                "invalid_request",
                "a JSON body is required",
                None,
            ));
        }
        json!({})
    } else {
        serde_json::from_slice(bytes).map_err(|e| {
            AcpError::invalid("invalid_json", &format!("the body is not JSON: {e}"), None)
        })?
    };
    serde_json::from_value(value).map_err(|e| {
        let message = e.to_string();
        let param = message
            .split_once("missing field `")
            .and_then(|(_, rest)| rest.split_once('`'))
            .map(|(field, _)| format!("$.{field}"));
        AcpError::invalid("invalid_request", &message, param)
    })
}

fn ctx_of(request_ctx: Option<Ctx>) -> Ctx {
    request_ctx.unwrap_or_else(|| Ctx::new(Principal::Anonymous, Uuid::now_v7().to_string(), None))
}

fn session_id(raw: &str) -> Result<Uuid, AcpError> {
    Uuid::parse_str(raw.trim())
        .map_err(|_| AcpError::from(Error::not_found("checkout_session", raw)))
}

/// Answers `status` with the session rendered, or the error.
fn respond(app: &AppState, result: Result<Session, Error>, status: StatusCode) -> Response {
    match result {
        Ok(session) => {
            let body = render::session(app.services.acp.settings(), &session);
            (status, axum::Json(body)).into_response()
        }
        Err(err) => AcpError::from(err).into_response(),
    }
}

type CtxExt = axum::Extension<Ctx>;

async fn create(State(app): State<AppState>, ctx: Option<CtxExt>, body: Bytes) -> Response {
    let ctx = ctx_of(ctx.map(|c| c.0));
    match parse::<CreateSessionInput>(&body, false) {
        Ok(input) => respond(
            &app,
            app.services.acp.create(&ctx, input.into()).await,
            StatusCode::CREATED,
        ),
        Err(err) => err.into_response(),
    }
}

async fn show(
    State(app): State<AppState>,
    ctx: Option<CtxExt>,
    Path(id): Path<String>,
) -> Response {
    let ctx = ctx_of(ctx.map(|c| c.0));
    match session_id(&id) {
        Ok(id) => respond(&app, app.services.acp.get(&ctx, id).await, StatusCode::OK),
        Err(err) => err.into_response(),
    }
}

/// Runs a session operation on the path's session id and the parsed body (an empty body is
/// allowed when `empty_ok`), answering 200 with the session.
async fn on_session<T, Fut>(
    app: &AppState,
    id: &str,
    body: &Bytes,
    empty_ok: bool,
    run: impl FnOnce(Uuid, T) -> Fut,
) -> Response
where
    T: DeserializeOwned,
    Fut: Future<Output = Result<Session, Error>>,
{
    let id = match session_id(id) {
        Ok(id) => id,
        Err(err) => return err.into_response(),
    };
    match parse(body, empty_ok) {
        Ok(input) => respond(app, run(id, input).await, StatusCode::OK),
        Err(err) => err.into_response(),
    }
}

async fn update(
    State(app): State<AppState>,
    ctx: Option<CtxExt>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let ctx = ctx_of(ctx.map(|c| c.0));
    on_session(&app, &id, &body, true, |id, input: UpdateSessionInput| {
        app.services.acp.update(&ctx, id, input.into())
    })
    .await
}

async fn complete(
    State(app): State<AppState>,
    ctx: Option<CtxExt>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let ctx = ctx_of(ctx.map(|c| c.0));
    on_session(
        &app,
        &id,
        &body,
        false,
        |id, input: CompleteSessionInput| app.services.acp.complete(&ctx, id, input.into()),
    )
    .await
}

async fn cancel(
    State(app): State<AppState>,
    ctx: Option<CtxExt>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let ctx = ctx_of(ctx.map(|c| c.0));
    on_session(&app, &id, &body, true, |id, input: CancelSessionInput| {
        app.services.acp.cancel(&ctx, id, input.into())
    })
    .await
}

async fn delegate_payment(
    State(app): State<AppState>,
    ctx: Option<CtxExt>,
    body: Bytes,
) -> Response {
    let ctx = ctx_of(ctx.map(|c| c.0));
    match parse::<DelegatePaymentInput>(&body, false) {
        Ok(input) => {
            // Echoed in the answer (as strings); the service only checks its shape.
            let metadata = input.metadata.clone();
            match app.services.acp.delegate_payment(&ctx, input.into()).await {
                Ok(token) => {
                    let body = render::delegated_token(&token, &metadata);
                    (StatusCode::CREATED, axum::Json(body)).into_response()
                }
                Err(err) => AcpError::from(err).vault(true).into_response(),
            }
        }
        Err(err) => err.vault(true).into_response(),
    }
}

/// `GET /.well-known/acp.json`: what this seller speaks; no credentials needed.
async fn discovery(State(app): State<AppState>) -> Response {
    let base = &app.config.acp.public_base_url;
    let mut oldest_first: Vec<&str> = SUPPORTED_VERSIONS.to_vec();
    oldest_first.sort_unstable();
    let body = json!({
        "protocol": {
            "name": "acp",
            "version": VERSION,
            "supported_versions": oldest_first,
        },
        "api_base_url": base,
        "transports": ["rest"],
        "capabilities": {
            "services": ["checkout", "delegate_payment"],
            "supported_currencies": ["usd"],
        },
    });
    let mut response = (StatusCode::OK, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}
