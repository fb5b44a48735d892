//! Extractors whose rejections are ordinary API errors naming the bad field.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};

use super::ApiError;

/// A JSON body; a malformed one is a 400 `VALIDATION` error naming the field.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

/// Path parameters; a malformed one (such as a bad UUID) is a 400 `VALIDATION` error.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// Query parameters; a malformed one is a 400 `VALIDATION` error naming the parameter.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// Splits serde's `path.to.field: what is wrong` into its two parts.
fn split_path(message: &str) -> (String, String) {
    match message.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') && !path.is_empty() => {
            (path.to_owned(), rest.to_owned())
        }
        _ => ("body".to_owned(), message.to_owned()),
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match &rejection {
            JsonRejection::JsonDataError(err) => {
                let inner = std::error::Error::source(err)
                    .map(ToString::to_string)
                    .unwrap_or_else(|| err.body_text());
                let (field, message) = split_path(&inner);
                ApiError::malformed(field, message)
            }
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::malformed("content-type", "must be application/json")
            }
            _ => ApiError::malformed("body", rejection.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::malformed("path", rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let text = rejection.body_text();
        let detail = text
            .strip_prefix("Failed to deserialize query string: ")
            .unwrap_or(&text);
        let (field, message) = split_path(detail);
        ApiError::malformed(
            if field == "body" {
                "query".to_owned()
            } else {
                field
            },
            message,
        )
    }
}
