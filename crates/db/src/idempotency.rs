//! Stored responses for `Idempotency-Key`s.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::idempotency_keys;

/// An `idempotency_keys` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyRow {
    pub request_hash: String,
    pub response_status: Option<i32>,
    pub response_body: Option<Vec<u8>>,
    pub content_type: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Claims `(scope, key)` for a new request; `false` when a row exists already.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    scope: &str,
    key: &str,
    request_hash: &str,
    expires_at: DateTime<Utc>,
) -> QueryResult<bool> {
    let inserted = diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::scope.eq(scope),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(request_hash),
            idempotency_keys::expires_at.eq(expires_at),
        ))
        .on_conflict((idempotency_keys::scope, idempotency_keys::key))
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    scope: &str,
    key: &str,
) -> QueryResult<Option<IdempotencyRow>> {
    idempotency_keys::table
        .find((scope, key))
        .select(IdempotencyRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Takes over a row whose first request is gone (expired, or in flight for too long).
pub async fn reclaim(
    conn: &mut AsyncPgConnection,
    scope: &str,
    key: &str,
    request_hash: &str,
    expires_at: DateTime<Utc>,
    seen_created_at: DateTime<Utc>,
) -> QueryResult<bool> {
    let updated = diesel::update(idempotency_keys::table.find((scope, key)))
        .filter(idempotency_keys::created_at.eq(seen_created_at))
        .set((
            idempotency_keys::request_hash.eq(request_hash),
            idempotency_keys::response_status.eq(None::<i32>),
            idempotency_keys::response_body.eq(None::<Vec<u8>>),
            idempotency_keys::content_type.eq(None::<String>),
            idempotency_keys::created_at.eq(Utc::now()),
            idempotency_keys::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(updated == 1)
}

pub async fn complete(
    conn: &mut AsyncPgConnection,
    scope: &str,
    key: &str,
    status: i32,
    body: &[u8],
    content_type: Option<&str>,
) -> QueryResult<()> {
    diesel::update(idempotency_keys::table.find((scope, key)))
        .set((
            idempotency_keys::response_status.eq(status),
            idempotency_keys::response_body.eq(body),
            idempotency_keys::content_type.eq(content_type),
        ))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn release(conn: &mut AsyncPgConnection, scope: &str, key: &str) -> QueryResult<()> {
    diesel::delete(idempotency_keys::table.find((scope, key)))
        .execute(conn)
        .await
        .map(drop)
}

/// Deletes expired rows; returns how many.
pub async fn sweep(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::expires_at.lt(Utc::now())))
        .execute(conn)
        .await
}
