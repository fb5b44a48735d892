//! Liveness, readiness and build information.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` while the process serves requests.
    pub status: String,
}

/// Readiness: whether the dependencies answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: String,
    /// Why the server is not ready; absent when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What is running.
#[derive(Debug, Serialize, ToSchema)]
pub struct Version {
    /// Crate version.
    pub version: String,
    /// Git commit the binary was built from (`unknown` outside a checkout).
    pub git_commit: String,
    /// When the binary was built (RFC 3339).
    pub build_time: String,
    /// The payment providers that can take money right now (`test`, `stripe`, `stablepay`).
    pub payment_providers: Vec<String>,
}

#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

#[utoipa::path(get, path = "/health/readiness", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readiness(State(app): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let check = tokio::time::timeout(Duration::from_secs(3), app.db.ping()).await;
    let failure = match check {
        Ok(Ok(())) => None,
        Ok(Err(err)) => Some(format!("database: {err:#}")),
        Err(_) => Some("database: no answer within 3 s".to_owned()),
    };
    match failure {
        None => (
            StatusCode::OK,
            Json(Readiness {
                status: "ready".into(),
                reason: None,
            }),
        ),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Readiness {
                status: "unavailable".into(),
                reason: Some(reason),
            }),
        ),
    }
}

#[utoipa::path(get, path = "/health/version", tag = "health", responses((status = 200, body = Version)))]
pub async fn version(State(app): State<AppState>) -> Json<Version> {
    let built = env!("STATESET_BUILD_UNIX_TIME")
        .parse::<i64>()
        .unwrap_or_default();
    let build_time = chrono::DateTime::from_timestamp(built, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    Json(Version {
        version: env!("CARGO_PKG_VERSION").into(),
        git_commit: env!("STATESET_GIT_COMMIT").into(),
        build_time,
        payment_providers: app
            .services
            .payments
            .live_providers()
            .into_iter()
            .map(str::to_owned)
            .collect(),
    })
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(app): State<AppState>) -> impl axum::response::IntoResponse {
    let (idle, active) = app.db.connection_counts();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            crate::metrics::CONTENT_TYPE,
        )],
        app.metrics.encode(idle, active),
    )
}
