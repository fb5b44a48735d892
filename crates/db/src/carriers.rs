//! Rows and queries for carriers, the labels bought from them, and tracking events.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use stateset_domain::LabelStatus;

use super::schema::{
    carriers, checkouts, shipment_packages, shipments, shipping_labels, shipping_methods,
    tracking_events,
};

/// The most carriers a shop configures (rate shopping asks them all).
pub const MAX_CARRIERS: i64 = 50;
/// Label attempts loaded with shipments at most (voids and failures add rows).
const MAX_LABEL_ROWS: i64 = 5_000;

/// A `carriers` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = carriers)]
pub struct CarrierRow {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: Option<String>,
    pub adapter: String,
    pub enabled: bool,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub webhook_secret: String,
    pub timeout_ms: i32,
    pub rate_table: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What changes on a carrier; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = carriers)]
pub struct CarrierChanges {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub base_url: Option<Option<String>>,
    pub api_key: Option<Option<String>>,
    pub timeout_ms: Option<i32>,
    pub rate_table: Option<Option<serde_json::Value>>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn insert_carrier(conn: &mut AsyncPgConnection, row: &CarrierRow) -> QueryResult<()> {
    diesel::insert_into(carriers::table)
        .values(row.clone())
        .execute(conn)
        .await
        .map(drop)
}

pub async fn update_carrier(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &CarrierChanges,
) -> QueryResult<Option<CarrierRow>> {
    diesel::update(carriers::table.find(id))
        .set(changes)
        .returning(CarrierRow::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// Every carrier (at most [`MAX_CARRIERS`]), by code.
pub async fn list_carriers(conn: &mut AsyncPgConnection) -> QueryResult<Vec<CarrierRow>> {
    carriers::table
        .select(CarrierRow::as_select())
        .order(carriers::code)
        .limit(MAX_CARRIERS)
        .load(conn)
        .await
}

pub async fn count_carriers(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    carriers::table.count().get_result(conn).await
}

pub async fn carrier_by_id(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<CarrierRow>> {
    carriers::table
        .find(id)
        .select(CarrierRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn carrier_by_code(
    conn: &mut AsyncPgConnection,
    code: &str,
) -> QueryResult<Option<CarrierRow>> {
    carriers::table
        .filter(carriers::code.eq(code))
        .select(CarrierRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// A `shipping_labels` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = shipping_labels)]
pub struct LabelRow {
    pub id: Uuid,
    pub shipment_id: Uuid,
    pub package_id: Uuid,
    pub carrier_id: Uuid,
    pub service: String,
    pub idempotency_key: String,
    pub sequence: i64,
    pub status: String,
    pub attempted_at: DateTime<Utc>,
    pub tracking_number: Option<String>,
    pub carrier_label_id: Option<String>,
    pub price: Option<Decimal>,
    pub currency: Option<String>,
    pub pdf: Option<Vec<u8>>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub purchased_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
}

/// A label without its PDF: what lists and shipments show.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = shipping_labels)]
pub struct LabelSummaryRow {
    pub id: Uuid,
    pub shipment_id: Uuid,
    pub package_id: Uuid,
    pub carrier_id: Uuid,
    pub service: String,
    pub status: String,
    pub tracking_number: Option<String>,
    pub price: Option<Decimal>,
    pub currency: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub purchased_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
}

/// The next label sequence number.
pub async fn next_label_sequence(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "nextval('label_sequence')",
    ))
    .get_result(conn)
    .await
}

pub async fn insert_label(conn: &mut AsyncPgConnection, row: &LabelRow) -> QueryResult<()> {
    diesel::insert_into(shipping_labels::table)
        .values(row.clone())
        .execute(conn)
        .await
        .map(drop)
}

fn spelled(statuses: &[LabelStatus]) -> Vec<&'static str> {
    statuses.iter().map(|s| s.as_str()).collect()
}

/// The label in play (pending, purchased or being voided) of a package, locked (inside the
/// caller's transaction).
pub async fn lock_live_label(
    conn: &mut AsyncPgConnection,
    package_id: Uuid,
) -> QueryResult<Option<LabelRow>> {
    shipping_labels::table
        .filter(shipping_labels::package_id.eq(package_id))
        .filter(shipping_labels::status.eq_any(spelled(&LabelStatus::LIVE)))
        .select(LabelRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// The label in play of a package, read without a lock.
pub async fn live_label(
    conn: &mut AsyncPgConnection,
    package_id: Uuid,
) -> QueryResult<Option<LabelRow>> {
    shipping_labels::table
        .filter(shipping_labels::package_id.eq(package_id))
        .filter(shipping_labels::status.eq_any(spelled(&LabelStatus::LIVE)))
        .select(LabelRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Records what the carrier answered for an attempt.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = shipping_labels)]
pub struct LabelChanges {
    pub status: Option<String>,
    pub tracking_number: Option<Option<String>>,
    pub carrier_label_id: Option<Option<String>>,
    pub price: Option<Option<Decimal>>,
    pub currency: Option<Option<String>>,
    pub pdf: Option<Option<Vec<u8>>>,
    pub error: Option<Option<String>>,
    pub purchased_at: Option<Option<DateTime<Utc>>>,
    pub voided_at: Option<Option<DateTime<Utc>>>,
}

pub async fn update_label(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &LabelChanges,
) -> QueryResult<()> {
    diesel::update(shipping_labels::table.find(id))
        .set(changes)
        .execute(conn)
        .await
        .map(drop)
}

/// Claims a pending purchase for one attempt at `at`: false when another attempt holds it
/// (asked since `lease_start`).
pub async fn claim_label(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    at: DateTime<Utc>,
    lease_start: DateTime<Utc>,
) -> QueryResult<bool> {
    let claimed = diesel::update(shipping_labels::table.find(id))
        .filter(shipping_labels::status.eq("pending"))
        .filter(shipping_labels::attempted_at.lt(lease_start))
        .set(shipping_labels::attempted_at.eq(at))
        .execute(conn)
        .await?;
    Ok(claimed == 1)
}

/// Settles a pending purchase the attempt at `attempted_at` claimed; false when a later
/// attempt claimed it since (that one settles it).
pub async fn settle_label(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    attempted_at: DateTime<Utc>,
    changes: &LabelChanges,
) -> QueryResult<bool> {
    let settled = diesel::update(shipping_labels::table.find(id))
        .filter(shipping_labels::status.eq("pending"))
        .filter(shipping_labels::attempted_at.eq(attempted_at))
        .set(changes)
        .execute(conn)
        .await?;
    Ok(settled == 1)
}

/// Whether any label of the shipment is pending or being voided.
pub async fn has_label_in_doubt(
    conn: &mut AsyncPgConnection,
    shipment_id: Uuid,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        shipping_labels::table
            .filter(shipping_labels::shipment_id.eq(shipment_id))
            .filter(shipping_labels::status.eq_any(spelled(&LabelStatus::IN_DOUBT))),
    ))
    .get_result(conn)
    .await
}

/// Whether any label of the shipment is in play (pending, purchased or being voided).
pub async fn has_live_label(conn: &mut AsyncPgConnection, shipment_id: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        shipping_labels::table
            .filter(shipping_labels::shipment_id.eq(shipment_id))
            .filter(shipping_labels::status.eq_any(spelled(&LabelStatus::LIVE))),
    ))
    .get_result(conn)
    .await
}

/// The labels of these shipments (all attempts), oldest first, without their PDFs.
pub async fn labels_of(
    conn: &mut AsyncPgConnection,
    shipment_ids: &[Uuid],
) -> QueryResult<Vec<LabelSummaryRow>> {
    shipping_labels::table
        .filter(shipping_labels::shipment_id.eq_any(shipment_ids))
        .select(LabelSummaryRow::as_select())
        .order((shipping_labels::shipment_id, shipping_labels::created_at))
        .limit(MAX_LABEL_ROWS)
        .load(conn)
        .await
}

/// The purchased label of a package, with its PDF.
pub async fn purchased_label(
    conn: &mut AsyncPgConnection,
    package_id: Uuid,
) -> QueryResult<Option<LabelRow>> {
    shipping_labels::table
        .filter(shipping_labels::package_id.eq(package_id))
        .filter(shipping_labels::status.eq("purchased"))
        .select(LabelRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Sets (or clears) a package's tracking number.
pub async fn set_package_tracking(
    conn: &mut AsyncPgConnection,
    package_id: Uuid,
    tracking_number: Option<&str>,
) -> QueryResult<()> {
    diesel::update(shipment_packages::table.find(package_id))
        .set(shipment_packages::tracking_number.eq(tracking_number))
        .execute(conn)
        .await
        .map(drop)
}

/// The shipment a package with this tracking number belongs to; with `carrier`, only a
/// shipment sent with that carrier.
pub async fn shipment_of_tracking_number(
    conn: &mut AsyncPgConnection,
    tracking_number: &str,
    carrier: Option<&str>,
) -> QueryResult<Option<Uuid>> {
    let mut query = shipment_packages::table
        .inner_join(shipments::table)
        .filter(shipment_packages::tracking_number.eq(tracking_number))
        .select(shipment_packages::shipment_id)
        .into_boxed();
    if let Some(carrier) = carrier {
        query = query.filter(shipments::carrier.eq(carrier.to_owned()));
    }
    query.first(conn).await.optional()
}

/// The most business days the shipping method chosen at checkout promised for an order,
/// and when that checkout completed.
pub async fn promise_of_order(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
) -> QueryResult<Option<(i32, Option<DateTime<Utc>>)>> {
    checkouts::table
        .inner_join(
            shipping_methods::table
                .on(checkouts::shipping_method_id.eq(shipping_methods::id.nullable())),
        )
        .filter(checkouts::order_id.eq(order_id))
        .select((shipping_methods::max_days, checkouts::completed_at))
        .first(conn)
        .await
        .optional()
}

/// A `tracking_events` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tracking_events)]
pub struct TrackingEventRow {
    pub id: Uuid,
    pub shipment_id: Uuid,
    pub event_id: String,
    pub status: String,
    pub carrier_code: String,
    pub occurred_at: DateTime<Utc>,
    pub location: Option<String>,
    pub description: Option<String>,
    pub signed_by: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// Stores an event unless one with its id is stored for the shipment; true when new.
pub async fn insert_tracking_event(
    conn: &mut AsyncPgConnection,
    row: &TrackingEventRow,
) -> QueryResult<bool> {
    let inserted = diesel::insert_into(tracking_events::table)
        .values(row.clone())
        .on_conflict((tracking_events::shipment_id, tracking_events::event_id))
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// The latest event of a shipment by when it happened (not when it arrived).
pub async fn latest_tracking_event(
    conn: &mut AsyncPgConnection,
    shipment_id: Uuid,
) -> QueryResult<Option<TrackingEventRow>> {
    tracking_events::table
        .filter(tracking_events::shipment_id.eq(shipment_id))
        .select(TrackingEventRow::as_select())
        .order((
            tracking_events::occurred_at.desc(),
            tracking_events::id.desc(),
        ))
        .first(conn)
        .await
        .optional()
}

/// A shipment's events, newest first (at most `limit`).
pub async fn tracking_events_of(
    conn: &mut AsyncPgConnection,
    shipment_id: Uuid,
    limit: i64,
) -> QueryResult<Vec<TrackingEventRow>> {
    tracking_events::table
        .filter(tracking_events::shipment_id.eq(shipment_id))
        .select(TrackingEventRow::as_select())
        .order((
            tracking_events::occurred_at.desc(),
            tracking_events::id.desc(),
        ))
        .limit(limit)
        .load(conn)
        .await
}
