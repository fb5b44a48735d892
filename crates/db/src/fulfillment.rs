//! Rows and queries for fulfilment orders, shipments, their lines and packages.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::Keyset;
use super::schema::{
    customers, fulfillment_order_lines, fulfillment_orders, inventory_items, locations, orders,
    shipment_lines, shipment_packages, shipments,
};
use stateset_domain::{
    FulfillmentOrderStatus, HoldReason, ShipmentFilter, ShipmentStatus, SignatureRequirement,
};

/// A `fulfillment_orders` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = fulfillment_orders)]
pub struct FulfillmentOrderRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub location_id: Uuid,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: FulfillmentOrderStatus,
    pub held_from: Option<String>,
    pub hold_reason: Option<String>,
    pub hold_note: Option<String>,
    pub merged_into: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl FulfillmentOrderRow {
    pub fn held_from(&self) -> Option<FulfillmentOrderStatus> {
        self.held_from
            .as_deref()
            .and_then(FulfillmentOrderStatus::parse)
    }

    pub fn hold_reason(&self) -> Option<HoldReason> {
        self.hold_reason.as_deref().and_then(HoldReason::parse)
    }
}

/// A `fulfillment_order_lines` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = fulfillment_order_lines)]
pub struct FulfillmentLineRow {
    pub id: Uuid,
    pub fulfillment_order_id: Uuid,
    pub order_item_id: Uuid,
    pub variant_id: Option<Uuid>,
    pub quantity: i32,
    pub assigned_quantity: i32,
    pub shipped_quantity: i32,
}

impl FulfillmentLineRow {
    /// Units no shipment holds yet.
    pub fn remaining(&self) -> i32 {
        self.quantity - self.assigned_quantity
    }
}

/// A `shipments` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = shipments)]
pub struct ShipmentRow {
    pub id: Uuid,
    pub number: String,
    pub order_id: Uuid,
    pub fulfillment_order_id: Uuid,
    pub location_id: Uuid,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: ShipmentStatus,
    pub carrier: Option<String>,
    pub service: Option<String>,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub signature: SignatureRequirement,
    pub ship_to: Option<serde_json::Value>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub signed_by: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A `shipment_lines` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = shipment_lines)]
pub struct ShipmentLineRow {
    pub id: Uuid,
    pub shipment_id: Uuid,
    pub fulfillment_order_line_id: Uuid,
    pub quantity: i32,
}

/// A `shipment_packages` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = shipment_packages)]
pub struct PackageRow {
    pub id: Uuid,
    pub shipment_id: Uuid,
    pub position: i32,
    pub weight_grams: i32,
    pub length_mm: i32,
    pub width_mm: i32,
    pub height_mm: i32,
    pub tracking_number: Option<String>,
    pub created_at: DateTime<Utc>,
}

// ---- fulfilment orders ----

/// Fulfilment orders loaded at once at most (replans and merges keep cancelled ones).
const MAX_PLAN_ROWS: i64 = 5_000;

pub async fn insert_fulfillment_orders(
    conn: &mut AsyncPgConnection,
    rows: &[FulfillmentOrderRow],
    lines: &[FulfillmentLineRow],
) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(fulfillment_orders::table)
        .values(rows.to_vec())
        .execute(conn)
        .await?;
    if !lines.is_empty() {
        diesel::insert_into(fulfillment_order_lines::table)
            .values(lines.to_vec())
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Fulfilment orders of these orders, oldest first.
pub async fn fulfillment_orders_of(
    conn: &mut AsyncPgConnection,
    order_ids: &[Uuid],
) -> QueryResult<Vec<FulfillmentOrderRow>> {
    fulfillment_orders::table
        .filter(fulfillment_orders::order_id.eq_any(order_ids))
        .select(FulfillmentOrderRow::as_select())
        .order((fulfillment_orders::order_id, fulfillment_orders::id))
        .limit(MAX_PLAN_ROWS)
        .load(conn)
        .await
}

/// Fulfilment orders of an order, locked, oldest first.
pub async fn lock_fulfillment_orders_of(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
) -> QueryResult<Vec<FulfillmentOrderRow>> {
    fulfillment_orders::table
        .filter(fulfillment_orders::order_id.eq(order_id))
        .select(FulfillmentOrderRow::as_select())
        .order(fulfillment_orders::id)
        .for_update()
        .load(conn)
        .await
}

pub async fn fulfillment_order_by_id(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<FulfillmentOrderRow>> {
    fulfillment_orders::table
        .find(id)
        .select(FulfillmentOrderRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// These fulfilment orders, locked, in id order (the order locks are always taken in).
pub async fn lock_fulfillment_orders(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> QueryResult<Vec<FulfillmentOrderRow>> {
    fulfillment_orders::table
        .filter(fulfillment_orders::id.eq_any(ids))
        .select(FulfillmentOrderRow::as_select())
        .order(fulfillment_orders::id)
        .for_update()
        .load(conn)
        .await
}

/// What changes on a fulfilment order; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = fulfillment_orders)]
pub struct FulfillmentOrderChanges {
    pub status: Option<String>,
    pub held_from: Option<Option<String>>,
    pub hold_reason: Option<Option<String>>,
    pub hold_note: Option<Option<String>>,
    pub location_id: Option<Uuid>,
    pub merged_into: Option<Option<Uuid>>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn update_fulfillment_order(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &FulfillmentOrderChanges,
) -> QueryResult<FulfillmentOrderRow> {
    diesel::update(fulfillment_orders::table.find(id))
        .set(changes)
        .returning(FulfillmentOrderRow::as_returning())
        .get_result(conn)
        .await
}

/// Lines of these fulfilment orders, in id order.
pub async fn lines_of(
    conn: &mut AsyncPgConnection,
    fulfillment_order_ids: &[Uuid],
) -> QueryResult<Vec<FulfillmentLineRow>> {
    fulfillment_order_lines::table
        .filter(fulfillment_order_lines::fulfillment_order_id.eq_any(fulfillment_order_ids))
        .select(FulfillmentLineRow::as_select())
        .order(fulfillment_order_lines::id)
        .load(conn)
        .await
}

/// Lines of these fulfilment orders, locked, in id order.
pub async fn lock_lines_of(
    conn: &mut AsyncPgConnection,
    fulfillment_order_ids: &[Uuid],
) -> QueryResult<Vec<FulfillmentLineRow>> {
    fulfillment_order_lines::table
        .filter(fulfillment_order_lines::fulfillment_order_id.eq_any(fulfillment_order_ids))
        .select(FulfillmentLineRow::as_select())
        .order(fulfillment_order_lines::id)
        .for_update()
        .load(conn)
        .await
}

/// Sets a line's planned, assigned and shipped units, and the fulfilment order it is on.
pub async fn set_line(conn: &mut AsyncPgConnection, line: &FulfillmentLineRow) -> QueryResult<()> {
    diesel::update(fulfillment_order_lines::table.find(line.id))
        .set((
            fulfillment_order_lines::fulfillment_order_id.eq(line.fulfillment_order_id),
            fulfillment_order_lines::quantity.eq(line.quantity),
            fulfillment_order_lines::assigned_quantity.eq(line.assigned_quantity),
            fulfillment_order_lines::shipped_quantity.eq(line.shipped_quantity),
        ))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn delete_line(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::delete(fulfillment_order_lines::table.find(id))
        .execute(conn)
        .await
        .map(drop)
}

/// The location and variant of each of these inventory items: `(item, location, variant)`.
pub async fn item_places(
    conn: &mut AsyncPgConnection,
    item_ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, Uuid, Uuid)>> {
    inventory_items::table
        .filter(inventory_items::id.eq_any(item_ids))
        .select((
            inventory_items::id,
            inventory_items::location_id,
            inventory_items::variant_id,
        ))
        .load(conn)
        .await
}

/// The active location of highest priority: where lines without stock records are planned.
pub async fn home_location(conn: &mut AsyncPgConnection) -> QueryResult<Option<Uuid>> {
    locations::table
        .filter(locations::active.eq(true))
        .order((locations::priority, locations::code))
        .select(locations::id)
        .first(conn)
        .await
        .optional()
}

// ---- shipments ----

/// `SHP-000001` from its sequence (gaps are fine: a rolled-back shipment keeps none).
pub async fn next_shipment_number(conn: &mut AsyncPgConnection) -> QueryResult<String> {
    super::inventory::next_number(conn, "SHP", "shipment_number_seq").await
}

pub async fn insert_shipment(
    conn: &mut AsyncPgConnection,
    row: &ShipmentRow,
    lines: &[ShipmentLineRow],
    packages: &[PackageRow],
) -> QueryResult<()> {
    diesel::insert_into(shipments::table)
        .values(row.clone())
        .execute(conn)
        .await?;
    diesel::insert_into(shipment_lines::table)
        .values(lines.to_vec())
        .execute(conn)
        .await?;
    if !packages.is_empty() {
        diesel::insert_into(shipment_packages::table)
            .values(packages.to_vec())
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn shipment_by_id(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<ShipmentRow>> {
    shipments::table
        .find(id)
        .select(ShipmentRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn lock_shipment(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<ShipmentRow>> {
    shipments::table
        .find(id)
        .select(ShipmentRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Shipments of these orders, oldest first; at most `limit`.
pub async fn shipments_of_orders(
    conn: &mut AsyncPgConnection,
    order_ids: &[Uuid],
    limit: i64,
) -> QueryResult<Vec<ShipmentRow>> {
    shipments::table
        .filter(shipments::order_id.eq_any(order_ids))
        .select(ShipmentRow::as_select())
        .order((shipments::order_id, shipments::id))
        .limit(limit)
        .load(conn)
        .await
}

/// Shipments of an order, locked, oldest first.
pub async fn lock_shipments_of_order(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
) -> QueryResult<Vec<ShipmentRow>> {
    shipments::table
        .filter(shipments::order_id.eq(order_id))
        .select(ShipmentRow::as_select())
        .order(shipments::id)
        .for_update()
        .load(conn)
        .await
}

/// What changes on a shipment; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = shipments)]
pub struct ShipmentChanges {
    pub status: Option<String>,
    pub carrier: Option<Option<String>>,
    pub service: Option<Option<String>>,
    pub shipped_at: Option<Option<DateTime<Utc>>>,
    pub delivered_at: Option<Option<DateTime<Utc>>>,
    pub signed_by: Option<Option<String>>,
    pub cancel_reason: Option<Option<String>>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn update_shipment(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &ShipmentChanges,
) -> QueryResult<ShipmentRow> {
    diesel::update(shipments::table.find(id))
        .set(changes)
        .returning(ShipmentRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn shipment_lines_of(
    conn: &mut AsyncPgConnection,
    shipment_ids: &[Uuid],
) -> QueryResult<Vec<ShipmentLineRow>> {
    shipment_lines::table
        .filter(shipment_lines::shipment_id.eq_any(shipment_ids))
        .select(ShipmentLineRow::as_select())
        .order(shipment_lines::id)
        .load(conn)
        .await
}

pub async fn packages_of(
    conn: &mut AsyncPgConnection,
    shipment_ids: &[Uuid],
) -> QueryResult<Vec<PackageRow>> {
    shipment_packages::table
        .filter(shipment_packages::shipment_id.eq_any(shipment_ids))
        .select(PackageRow::as_select())
        .order((shipment_packages::shipment_id, shipment_packages::position))
        .load(conn)
        .await
}

/// Fulfilment order lines by id (the lines shipments refer to).
pub async fn lines_by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> QueryResult<Vec<FulfillmentLineRow>> {
    fulfillment_order_lines::table
        .filter(fulfillment_order_lines::id.eq_any(ids))
        .select(FulfillmentLineRow::as_select())
        .load(conn)
        .await
}

/// Shipments matching `filter`, optionally only those of orders of the customer owned by
/// `owner`.
fn filtered(filter: &ShipmentFilter, owner: Option<Uuid>) -> shipments::BoxedQuery<'static, Pg> {
    let mut query = shipments::table.into_boxed();
    if let Some(order_id) = filter.order_id {
        query = query.filter(shipments::order_id.eq(order_id));
    }
    if let Some(status) = filter.status {
        query = query.filter(shipments::status.eq(status.as_str()));
    }
    if let Some(carrier) = &filter.carrier {
        query = query.filter(shipments::carrier.eq(carrier.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(shipments::created_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(shipments::created_at.lt(to));
    }
    if let Some(user_id) = owner {
        let owned = orders::table
            .inner_join(customers::table)
            .filter(customers::user_id.eq(user_id))
            .select(orders::id);
        query = query.filter(shipments::order_id.eq_any(owned));
    }
    query
}

/// A page of shipments, newest first, strictly after `after`.
pub async fn list_shipments(
    conn: &mut AsyncPgConnection,
    filter: &ShipmentFilter,
    owner: Option<Uuid>,
    after: Option<Keyset>,
    limit: i64,
) -> QueryResult<Vec<ShipmentRow>> {
    let mut query = filtered(filter, owner)
        .select(ShipmentRow::as_select())
        .order((shipments::created_at.desc(), shipments::id.desc()))
        .limit(limit);
    if let Some(at) = after {
        query = query.filter(super::created_before("shipments", at));
    }
    query.load(conn).await
}

pub async fn count_shipments(
    conn: &mut AsyncPgConnection,
    filter: &ShipmentFilter,
    owner: Option<Uuid>,
) -> QueryResult<i64> {
    filtered(filter, owner).count().get_result(conn).await
}

pub async fn insert_packages(conn: &mut AsyncPgConnection, rows: &[PackageRow]) -> QueryResult<()> {
    diesel::insert_into(shipment_packages::table)
        .values(rows.to_vec())
        .execute(conn)
        .await
        .map(drop)
}

pub async fn insert_lines(
    conn: &mut AsyncPgConnection,
    lines: &[FulfillmentLineRow],
) -> QueryResult<()> {
    if lines.is_empty() {
        return Ok(());
    }
    diesel::insert_into(fulfillment_order_lines::table)
        .values(lines.to_vec())
        .execute(conn)
        .await
        .map(drop)
}
