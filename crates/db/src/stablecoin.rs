//! Rows and queries for stablecoin payment requests and the transfers reported for them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::checkout::PaymentRow;
use super::schema::{payments, stablecoin_requests, stablecoin_transfers};
use stateset_domain::{Stablecoin, StablecoinState};

/// A `stablecoin_requests` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = stablecoin_requests)]
pub struct RequestRow {
    pub payment_id: Uuid,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub asset: Stablecoin,
    pub network: String,
    pub address: String,
    pub amount: Decimal,
    pub received: Decimal,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub state: StablecoinState,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A `stablecoin_transfers` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = stablecoin_transfers)]
pub struct TransferRow {
    pub network: String,
    pub tx_hash: String,
    pub payment_id: Uuid,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub asset: Stablecoin,
    pub amount: Decimal,
    pub confirmations: i32,
    pub counted_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn insert_request(conn: &mut AsyncPgConnection, row: &RequestRow) -> QueryResult<()> {
    diesel::insert_into(stablecoin_requests::table)
        .values(row.clone())
        .execute(conn)
        .await
        .map(drop)
}

/// The request, locked until the transaction ends: callbacks for one request take turns.
pub async fn lock_request(
    conn: &mut AsyncPgConnection,
    payment_id: Uuid,
) -> QueryResult<Option<RequestRow>> {
    stablecoin_requests::table
        .find(payment_id)
        .select(RequestRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn requests_of(
    conn: &mut AsyncPgConnection,
    payment_ids: &[Uuid],
) -> QueryResult<Vec<RequestRow>> {
    stablecoin_requests::table
        .filter(stablecoin_requests::payment_id.eq_any(payment_ids))
        .select(RequestRow::as_select())
        .load(conn)
        .await
}

pub async fn update_request(
    conn: &mut AsyncPgConnection,
    payment_id: Uuid,
    received: Decimal,
    state: StablecoinState,
) -> QueryResult<RequestRow> {
    diesel::update(stablecoin_requests::table.find(payment_id))
        .set((
            stablecoin_requests::received.eq(received),
            stablecoin_requests::state.eq(state.as_str()),
            stablecoin_requests::updated_at.eq(Utc::now()),
        ))
        .returning(RequestRow::as_returning())
        .get_result(conn)
        .await
}

/// Open requests past their expiry, locked; requests another instance holds are skipped.
pub async fn claim_expired(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<RequestRow>> {
    stablecoin_requests::table
        .filter(stablecoin_requests::state.eq_any(["awaiting", "underpaid"]))
        .filter(stablecoin_requests::expires_at.lt(now))
        .order(stablecoin_requests::expires_at.asc())
        .limit(limit)
        .select(RequestRow::as_select())
        .for_update()
        .skip_locked()
        .load(conn)
        .await
}

pub async fn transfer(
    conn: &mut AsyncPgConnection,
    network: &str,
    tx_hash: &str,
) -> QueryResult<Option<TransferRow>> {
    stablecoin_transfers::table
        .find((network, tx_hash))
        .select(TransferRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn save_transfer(conn: &mut AsyncPgConnection, row: &TransferRow) -> QueryResult<()> {
    diesel::insert_into(stablecoin_transfers::table)
        .values(row.clone())
        .on_conflict((stablecoin_transfers::network, stablecoin_transfers::tx_hash))
        .do_update()
        .set((
            stablecoin_transfers::confirmations.eq(row.confirmations),
            stablecoin_transfers::counted_at.eq(row.counted_at),
            stablecoin_transfers::updated_at.eq(row.updated_at),
        ))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn transfers_of(
    conn: &mut AsyncPgConnection,
    payment_ids: &[Uuid],
) -> QueryResult<Vec<TransferRow>> {
    stablecoin_transfers::table
        .filter(stablecoin_transfers::payment_id.eq_any(payment_ids))
        .order(stablecoin_transfers::received_at.asc())
        .select(TransferRow::as_select())
        .load(conn)
        .await
}

/// Up to `limit` requests created in `[from, to)` with their payments, oldest first.
pub async fn requests_between(
    conn: &mut AsyncPgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<(RequestRow, PaymentRow)>> {
    stablecoin_requests::table
        .inner_join(payments::table)
        .filter(stablecoin_requests::created_at.ge(from))
        .filter(stablecoin_requests::created_at.lt(to))
        .order((
            stablecoin_requests::created_at.asc(),
            stablecoin_requests::payment_id.asc(),
        ))
        .select((RequestRow::as_select(), PaymentRow::as_select()))
        .limit(limit)
        .load(conn)
        .await
}
