//! ACP's one error shape: a flat `{type, code, message, param?, supported_versions?}` object
//! (no envelope), `param` an RFC 9535 JSONPath. Every service `Error` is mapped here, once.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::wire::SUPPORTED_VERSIONS;
use crate::services::Error;

/// An ACP error response.
#[derive(Debug, Clone, Serialize)]
pub struct AcpError {
    #[serde(skip)]
    pub status: StatusCode,
    #[serde(skip)]
    pub retry_after: Option<u64>,
    /// `invalid_request`, `processing_error`, `service_unavailable` (and
    /// `rate_limit_exceeded` on the vault).
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported_versions: Option<Vec<String>>,
}

/// A field path as a JSONPath (`$.a.b[0]`); paths that already are one stay as they are.
fn json_path(field: &str) -> String {
    if field.starts_with('$') {
        field.to_owned()
    } else {
        format!("$.{field}")
    }
}

impl AcpError {
    /// A 400 `invalid_request` error.
    pub fn invalid(code: &str, message: &str, param: Option<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            retry_after: None,
            kind: "invalid_request",
            code: code.to_owned(),
            message: message.to_owned(),
            param,
            supported_versions: None,
        }
    }

    /// A 401 about the request's credentials or signature.
    pub fn unauthorized(code: &str, message: &str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            ..Self::invalid(code, message, None)
        }
    }

    /// A 400 about the `API-Version` header, listing what is supported (newest first).
    pub fn version(code: &str) -> Self {
        let mut versions: Vec<String> =
            SUPPORTED_VERSIONS.iter().map(|v| (*v).to_owned()).collect();
        versions.sort_unstable_by(|a, b| b.cmp(a));
        let message = format!(
            "send an API-Version header with one of: {}",
            versions.join(", ")
        );
        Self {
            supported_versions: Some(versions),
            ..Self::invalid(code, &message, Some("$.headers['API-Version']".into()))
        }
    }

    /// Reshapes the error for the delegate-payment API, whose codes are a closed list:
    /// invalid input is `invalid_card`, rate limits are `rate_limit_exceeded`.
    pub fn vault(mut self, vault: bool) -> Self {
        if !vault {
            return self;
        }
        match self.code.as_str() {
            "invalid" | "missing" | "invalid_request" | "invalid_json" => {
                self.code = "invalid_card".into();
                if self.status == StatusCode::BAD_REQUEST {
                    self.status = StatusCode::UNPROCESSABLE_ENTITY;
                }
            }
            "rate_limited" => {
                self.kind = "rate_limit_exceeded";
                self.code = "too_many_requests".into();
            }
            _ => {}
        }
        self
    }
}

impl From<Error> for AcpError {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        let base = |status: StatusCode, kind: &'static str, code: &str| Self {
            status,
            retry_after: None,
            kind,
            code: code.to_owned(),
            message: message.clone(),
            param: None,
            supported_versions: None,
        };
        match &err {
            Error::Validation(fields) => {
                let first = fields.first();
                let code = match first {
                    Some(f) if f.message == "is required" => "missing",
                    _ => "invalid",
                };
                let message = fields
                    .iter()
                    .map(|f| format!("{} {}", json_path(&f.field), f.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                Self {
                    message,
                    param: first.map(|f| json_path(&f.field)),
                    ..base(StatusCode::BAD_REQUEST, "invalid_request", code)
                }
            }
            Error::NotFound { .. } => base(StatusCode::NOT_FOUND, "invalid_request", "not_found"),
            Error::InvalidState { .. } => base(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "invalid_state",
            ),
            Error::Conflict { field, .. } => Self {
                param: field.as_deref().map(json_path),
                ..base(StatusCode::CONFLICT, "invalid_request", "conflict")
            },
            Error::InsufficientStock { .. } => {
                base(StatusCode::CONFLICT, "invalid_request", "out_of_stock")
            }
            Error::PaymentDeclined { .. } => Self {
                param: Some("$.payment_data".into()),
                ..base(
                    StatusCode::PAYMENT_REQUIRED,
                    "invalid_request",
                    "payment_declined",
                )
            },
            Error::Unauthenticated => Self {
                message: "a valid `Authorization: Bearer` API key is required".into(),
                ..base(StatusCode::UNAUTHORIZED, "invalid_request", "unauthorized")
            },
            Error::Forbidden { .. } => base(StatusCode::FORBIDDEN, "invalid_request", "forbidden"),
            Error::RateLimited {
                retry_after_secs, ..
            } => Self {
                retry_after: Some(*retry_after_secs),
                ..base(
                    StatusCode::TOO_MANY_REQUESTS,
                    "invalid_request",
                    "rate_limited",
                )
            },
            Error::IdempotencyKeyReused => base(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                "idempotency_conflict",
            ),
            Error::IdempotencyInFlight { retry_after_secs } => Self {
                retry_after: Some(*retry_after_secs),
                ..base(
                    StatusCode::CONFLICT,
                    "invalid_request",
                    "idempotency_in_flight",
                )
            },
            Error::Unavailable(_) | Error::Lagged { .. } => Self {
                message: "the service is unavailable; retry later".into(),
                ..base(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service_unavailable",
                    "service_unavailable",
                )
            },
            Error::Internal(_) => {
                tracing::error!(error = ?err, "ACP request failed");
                Self {
                    message: "internal error".into(),
                    ..base(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "processing_error",
                        "internal_error",
                    )
                }
            }
        }
    }
}

impl IntoResponse for AcpError {
    fn into_response(self) -> Response {
        let status = self.status;
        let retry_after = self.retry_after;
        let mut response = (status, axum::Json(self)).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
