//! Rows and queries for payment attempts: provider calls written down before they are made
//! (see `migrations/*_payment_attempts/up.sql` and `services::payments::attempts`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::schema::payment_attempts as a;
use stateset_domain::AttemptStatus;

/// The stored statuses of an attempt whose outcome is not yet written on our side.
const OPEN: [&str; 2] = [
    AttemptStatus::OPEN[0].as_str(),
    AttemptStatus::OPEN[1].as_str(),
];

/// A `payment_attempts` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = a)]
pub struct AttemptRow {
    pub id: Uuid,
    pub idempotency_key: String,
    pub operation: String,
    pub provider: String,
    pub checkout_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub payment_id: Uuid,
    pub token: Option<String>,
    pub amount: Decimal,
    pub currency: String,
    pub capture: bool,
    pub client_key: Option<String>,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: AttemptStatus,
    pub provider_reference: Option<String>,
    pub captured: Option<bool>,
    pub result_reference: Option<String>,
    pub failure_code: Option<String>,
    pub lease_until: DateTime<Utc>,
    pub tries: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AttemptRow {
    /// Whether the attempt's outcome is still to be written on our side.
    pub fn is_open(&self) -> bool {
        self.status.is_open()
    }
}

/// What an attempt's holder records; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = a)]
pub struct AttemptChanges {
    pub status: Option<&'static str>,
    pub provider_reference: Option<Option<String>>,
    pub captured: Option<Option<bool>>,
    pub result_reference: Option<Option<String>>,
    pub failure_code: Option<Option<String>>,
    pub lease_until: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn insert(conn: &mut AsyncPgConnection, row: &AttemptRow) -> QueryResult<()> {
    diesel::insert_into(a::table)
        .values(row.clone())
        .execute(conn)
        .await
        .map(drop)
}

/// One attempt as it is now.
pub async fn by_id(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<AttemptRow>> {
    a::table
        .find(id)
        .select(AttemptRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The attempt made under `key`, locked.
pub async fn lock_by_key(
    conn: &mut AsyncPgConnection,
    key: &str,
) -> QueryResult<Option<AttemptRow>> {
    a::table
        .filter(a::idempotency_key.eq(key))
        .select(AttemptRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// The attempt still open for a checkout, locked.
pub async fn lock_open_for_checkout(
    conn: &mut AsyncPgConnection,
    checkout_id: Uuid,
) -> QueryResult<Option<AttemptRow>> {
    a::table
        .filter(a::checkout_id.eq(checkout_id))
        .filter(a::status.eq_any(OPEN))
        .select(AttemptRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// The attempt still open to pay an order directly (not through checkout), locked.
pub async fn lock_open_for_order(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
) -> QueryResult<Option<AttemptRow>> {
    a::table
        .filter(a::order_id.eq(order_id))
        .filter(a::checkout_id.is_null())
        .filter(a::operation.eq("authorize"))
        .filter(a::status.eq_any(OPEN))
        .select(AttemptRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// The attempt still open on a payment (a capture, void or refund), locked.
pub async fn lock_open_for_payment(
    conn: &mut AsyncPgConnection,
    payment_id: Uuid,
) -> QueryResult<Option<AttemptRow>> {
    a::table
        .filter(a::payment_id.eq(payment_id))
        .filter(a::operation.ne("authorize"))
        .filter(a::status.eq_any(OPEN))
        .select(AttemptRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// The latest attempt to pay a checkout.
pub async fn latest_for_checkout(
    conn: &mut AsyncPgConnection,
    checkout_id: Uuid,
) -> QueryResult<Option<AttemptRow>> {
    a::table
        .filter(a::checkout_id.eq(checkout_id))
        .order(a::created_at.desc())
        .select(AttemptRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// How many attempts of `operation` were made for `checkout_id`, `order_id` (paid directly)
/// or `payment_id`: numbers the next one's key.
pub async fn count(
    conn: &mut AsyncPgConnection,
    operation: &str,
    checkout_id: Option<Uuid>,
    order_id: Option<Uuid>,
    payment_id: Option<Uuid>,
) -> QueryResult<i64> {
    let mut query = a::table
        .filter(a::operation.eq(operation.to_owned()))
        .into_boxed();
    if let Some(id) = checkout_id {
        query = query.filter(a::checkout_id.eq(id));
    }
    if let Some(id) = order_id {
        query = query.filter(a::order_id.eq(id));
    }
    if let Some(id) = payment_id {
        query = query.filter(a::payment_id.eq(id));
    }
    query.count().get_result(conn).await
}

/// Takes over an open attempt whose lease ran out: a new lease, and `tries` moves on so the
/// holder it was taken from can no longer write to it. `None` when someone else holds it.
pub async fn take_over(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    lease_until: DateTime<Utc>,
) -> QueryResult<Option<AttemptRow>> {
    diesel::update(a::table.find(id))
        .filter(a::status.eq_any(OPEN))
        .filter(a::lease_until.lt(Utc::now()))
        .set((
            a::tries.eq(a::tries + 1),
            a::lease_until.eq(lease_until),
            a::updated_at.eq(Utc::now()),
        ))
        .returning(AttemptRow::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// Claims up to `limit` open attempts whose lease ended before `before`, for the reconciler:
/// each gets a new lease and a new `tries`. Concurrent reconcilers claim different rows.
pub async fn claim_in_doubt(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<AttemptRow>> {
    let ids: Vec<Uuid> = a::table
        .filter(a::status.eq_any(OPEN))
        .filter(a::lease_until.lt(before))
        .order(a::lease_until.asc())
        .limit(limit)
        .select(a::id)
        .for_update()
        .skip_locked()
        .load(conn)
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(a::table.filter(a::id.eq_any(&ids)))
        .set((
            a::tries.eq(a::tries + 1),
            a::lease_until.eq(lease_until),
            a::updated_at.eq(Utc::now()),
        ))
        .returning(AttemptRow::as_returning())
        .get_results(conn)
        .await
}

/// Records on an open attempt, provided it is still held by whoever made try `tries`.
/// `None` when it was taken over or settled meanwhile.
pub async fn record(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    tries: i32,
    changes: &AttemptChanges,
) -> QueryResult<Option<AttemptRow>> {
    diesel::update(a::table.find(id))
        .filter(a::tries.eq(tries))
        .filter(a::status.eq_any(OPEN))
        .set(changes)
        .returning(AttemptRow::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// Every attempt of a checkout, oldest first (at most `limit`), for tests and operators.
pub async fn of_checkout(
    conn: &mut AsyncPgConnection,
    checkout_id: Uuid,
    limit: i64,
) -> QueryResult<Vec<AttemptRow>> {
    a::table
        .filter(a::checkout_id.eq(checkout_id))
        .order(a::created_at.asc())
        .limit(limit)
        .select(AttemptRow::as_select())
        .load(conn)
        .await
}
