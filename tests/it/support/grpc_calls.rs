//! What gRPC tests say again and again: a request with an `idempotency-key`, whether an answer
//! was replayed, and which fields a refusal names.

use tonic_types::StatusExt as _;

/// `message` with an `idempotency-key` metadata value.
pub fn keyed<T>(message: T, key: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("idempotency-key", key.parse().expect("an ASCII key"));
    request
}

/// Whether the server answered from the idempotency store (`idempotent-replayed: true`).
pub fn replayed<T>(response: &tonic::Response<T>) -> bool {
    response
        .metadata()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

/// The field paths of a status's `google.rpc.BadRequest` details.
pub fn bad_fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}
