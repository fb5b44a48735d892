//! The one mapping from service errors to REST responses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::services::Error;

/// Every REST error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code: `NOT_FOUND`, `VALIDATION`, `CONFLICT`, `INVALID_STATE`, `UNAUTHENTICATED`,
    /// `FORBIDDEN`, `RATE_LIMITED`, `IDEMPOTENCY_KEY_REUSED`, `IDEMPOTENCY_IN_FLIGHT`,
    /// `UNAVAILABLE`, `INTERNAL`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Structured details; for `VALIDATION`, `fields` lists `{field, message}` pairs.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// A service error on its way out of a REST handler. `status` overrides the usual status,
/// e.g. 400 instead of 422 for a body that is not even well-formed.
#[derive(Debug)]
pub struct ApiError {
    pub error: Error,
    pub status: Option<StatusCode>,
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        Self {
            error,
            status: None,
        }
    }
}

impl ApiError {
    /// A 400 for a request the server could not parse, naming the field when known.
    pub fn malformed(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: Error::invalid(field, message),
            status: Some(StatusCode::BAD_REQUEST),
        }
    }
}

/// The HTTP status of each error.
pub fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Conflict { .. }
        | Error::InvalidState { .. }
        | Error::Lagged { .. }
        | Error::InsufficientStock { .. } => StatusCode::CONFLICT,
        Error::PaymentDeclined { .. } => StatusCode::PAYMENT_REQUIRED,
        Error::Unauthenticated => StatusCode::UNAUTHORIZED,
        Error::Forbidden { .. } => StatusCode::FORBIDDEN,
        Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
        Error::IdempotencyInFlight { .. } => StatusCode::CONFLICT,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.error.is_server_fault() {
            tracing::error!(error = ?self.error, "request failed");
        }
        let status = self.status.unwrap_or_else(|| status_of(&self.error));
        let mut retry_headers = axum::http::HeaderMap::new();
        crate::http::add_retry_headers(&mut retry_headers, &self.error);
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.error.code().to_owned(),
                message: self.error.to_string(),
                details: self.error.details(),
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        response.headers_mut().extend(retry_headers);
        response
    }
}
