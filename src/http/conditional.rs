//! Conditional reads: every successful `GET` (REST reads, GraphQL queries in the query string;
//! not health probes or the metrics scrape) answers with an `ETag` that hashes its body, and a request whose `If-None-Match` names the
//! current tag gets `304 Not Modified` with no body.
//!
//! The tag is computed from the very bytes that would be sent, after the read ran, so it can
//! never be stale: a change to anything the answer shows changes the tag. What a client saves
//! is the transfer and the parsing. The tag is weak (`W/"…"`) because compression, further
//! out, changes the bytes on the wire but not the representation.

use axum::body::{Body, HttpBody as _};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::idempotency::is_no_store;
use super::middleware::is_probe_or_scrape;
use crate::adapters::rest::ApiError;
use crate::services::Error;

/// Bodies above this are sent untagged rather than held in memory to be hashed.
const LARGEST_TAGGED_BODY: u64 = 4 * 1024 * 1024;

/// Tags successful `GET` answers and answers `304` when the client already holds the answer.
pub(super) async fn layer(request: Request, next: Next) -> Response {
    if request.method() != Method::GET || is_probe_or_scrape(request.uri().path()) {
        return next.run(request).await;
    }
    let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
    let response = next.run(request).await;
    if !taggable(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, LARGEST_TAGGED_BODY as usize).await {
        Ok(bytes) => bytes,
        Err(err) => {
            return ApiError::from(Error::Internal(anyhow::anyhow!(
                "reading a response body to tag it: {err}"
            )))
            .into_response();
        }
    };
    let Some(tag) = tag_of(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let unchanged = if_none_match.is_some_and(|wanted| names(&wanted, &tag));
    parts.headers.insert(header::ETAG, tag);
    if unchanged {
        parts.status = StatusCode::NOT_MODIFIED;
        drop_body_headers(&mut parts.headers);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// A `200` whose whole body is already known and small enough, that may be stored, and that
/// carries no tag of its own. Streams (server-sent events) never have an exact size.
fn taggable(response: &Response) -> bool {
    response.status() == StatusCode::OK
        && !response.headers().contains_key(header::ETAG)
        && !is_no_store(response.headers())
        && response
            .body()
            .size_hint()
            .exact()
            .is_some_and(|size| size <= LARGEST_TAGGED_BODY)
}

/// `W/"<first 128 bits of the body's SHA-256, base64url>"`.
fn tag_of(body: &[u8]) -> Option<HeaderValue> {
    let digest = Sha256::digest(body);
    let tag = format!(
        "W/\"{}\"",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
    );
    HeaderValue::from_str(&tag).ok()
}

/// Whether an `If-None-Match` value names `tag` (weak comparison, as RFC 9110 asks for
/// `GET`), or is `*`.
fn names(if_none_match: &HeaderValue, tag: &HeaderValue) -> bool {
    let Ok(listed) = if_none_match.to_str() else {
        return false;
    };
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = opaque(tag.to_str().unwrap_or_default());
    listed
        .split(',')
        .any(|candidate| candidate.trim() == "*" || opaque(candidate) == ours)
}

/// A `304` has no body, so it must not give one's length.
fn drop_body_headers(headers: &mut HeaderMap) {
    headers.remove(header::CONTENT_LENGTH);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_named_weakly_or_strongly_in_a_list_or_by_a_star() {
        let tag = tag_of(b"{\"a\":1}").unwrap();
        let bare = tag.to_str().unwrap().trim_start_matches("W/").to_owned();
        for listed in [
            tag.to_str().unwrap().to_owned(),
            bare.clone(),
            format!("\"other\", {bare}"),
            "*".to_owned(),
        ] {
            assert!(
                names(&HeaderValue::from_str(&listed).unwrap(), &tag),
                "{listed}"
            );
        }
        assert!(!names(&HeaderValue::from_static("W/\"other\""), &tag));
        assert_ne!(Some(tag), tag_of(b"{\"a\":2}"));
    }
}
