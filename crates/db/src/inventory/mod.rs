//! Rows and queries for locations, stock balances, lots, the ledger, reservations,
//! transfers, cycle counts and purchase orders. Balance rows are always changed through
//! `apply_*_delta` next to a ledger insert, inside the caller's transaction.

mod counts;
mod ledger;
mod purchasing;
mod reservations;
mod transfers;

pub use counts::*;
pub use ledger::*;
pub use purchasing::*;
pub use reservations::*;
pub use transfers::*;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::{
    cycle_count_lines, cycle_counts, inventory_items, inventory_lots, inventory_movements,
    inventory_reservations, inventory_transfer_lines, inventory_transfers, locations,
    product_variants, purchase_order_lines, purchase_orders,
};
use super::{Keyset, created_after};
use stateset_domain::{
    CountStatus, InventoryItem, InventoryLot, InventoryMovement, Location, LocationKind,
    MovementKind, PurchaseOrderStatus, ReservationStatus, SellableOf, TransferStatus,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = locations)]
pub struct LocationRow {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub kind: LocationKind,
    pub priority: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Where it ships from (an `Address`).
    pub address: Option<serde_json::Value>,
}

impl LocationRow {
    /// The address it ships from, when it has one.
    pub fn ship_from(&self) -> Option<stateset_domain::Address> {
        self.address
            .clone()
            .and_then(|a| serde_json::from_value(a).ok())
    }
}

impl From<LocationRow> for Location {
    fn from(row: LocationRow) -> Self {
        let address = row.ship_from();
        Location {
            id: row.id,
            code: row.code,
            name: row.name,
            kind: row.kind,
            priority: row.priority,
            active: row.active,
            address,
            created_at: row.created_at,
        }
    }
}

/// Changes to a location; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = locations)]
pub struct LocationChanges {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub priority: Option<i32>,
    pub active: Option<bool>,
    pub address: Option<Option<serde_json::Value>>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = inventory_items)]
pub struct ItemRow {
    pub id: Uuid,
    pub variant_id: Uuid,
    pub location_id: Uuid,
    pub on_hand: i32,
    pub reserved: i32,
    pub on_order: i32,
    pub safety_stock: i32,
    pub reorder_point: Option<i32>,
    pub reorder_quantity: Option<i32>,
    pub low_stock: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ItemRow {
    pub fn available(&self) -> i32 {
        self.on_hand - self.reserved
    }

    pub fn into_domain(self, sku: String) -> InventoryItem {
        InventoryItem {
            id: self.id,
            variant_id: self.variant_id,
            sku,
            location_id: self.location_id,
            available: self.available(),
            on_hand: self.on_hand,
            reserved: self.reserved,
            on_order: self.on_order,
            safety_stock: self.safety_stock,
            reorder_point: self.reorder_point,
            reorder_quantity: self.reorder_quantity,
            low_stock: self.low_stock,
            updated_at: self.updated_at,
        }
    }
}

/// Settings of an item; `None` leaves a column as it is.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = inventory_items)]
pub struct ItemSettings {
    pub safety_stock: Option<i32>,
    pub reorder_point: Option<Option<i32>>,
    pub reorder_quantity: Option<Option<i32>>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = inventory_lots)]
pub struct LotRow {
    pub id: Uuid,
    pub item_id: Uuid,
    pub lot_code: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub on_hand: i32,
    pub reserved: i32,
    pub received_at: DateTime<Utc>,
}

impl From<LotRow> for InventoryLot {
    fn from(row: LotRow) -> Self {
        InventoryLot {
            id: row.id,
            item_id: row.item_id,
            lot_code: row.lot_code,
            expires_at: row.expires_at,
            on_hand: row.on_hand,
            reserved: row.reserved,
            received_at: row.received_at,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = inventory_movements)]
pub struct MovementRow {
    pub id: Uuid,
    pub item_id: Uuid,
    pub lot_id: Option<Uuid>,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub kind: MovementKind,
    pub on_hand_delta: i32,
    pub reserved_delta: i32,
    pub reason: Option<String>,
    pub actor: String,
    pub reference_type: Option<String>,
    pub reference_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<MovementRow> for InventoryMovement {
    fn from(row: MovementRow) -> Self {
        InventoryMovement {
            id: row.id,
            item_id: row.item_id,
            lot_id: row.lot_id,
            kind: row.kind.to_string(),
            on_hand_delta: row.on_hand_delta,
            reserved_delta: row.reserved_delta,
            reason: row.reason,
            actor: row.actor,
            reference_type: row.reference_type,
            reference_id: row.reference_id,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = inventory_reservations)]
pub struct ReservationRow {
    pub id: Uuid,
    pub item_id: Uuid,
    pub lot_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub reference: Option<String>,
    pub quantity: i32,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: ReservationStatus,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// ---- locations ----

pub async fn insert_location(conn: &mut AsyncPgConnection, row: &LocationRow) -> QueryResult<()> {
    diesel::insert_into(locations::table)
        .values(row.clone())
        .execute(conn)
        .await
        .map(drop)
}

pub async fn all_locations(conn: &mut AsyncPgConnection) -> QueryResult<Vec<LocationRow>> {
    locations::table
        .select(LocationRow::as_select())
        .order((locations::priority, locations::code))
        .load(conn)
        .await
}

pub async fn location_by_id(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<LocationRow>> {
    locations::table
        .find(id)
        .select(LocationRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn update_location(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &LocationChanges,
) -> QueryResult<LocationRow> {
    diesel::update(locations::table.find(id))
        .set(changes)
        .returning(LocationRow::as_returning())
        .get_result(conn)
        .await
}

// ---- items ----

/// The SKU of each of these variants.
pub async fn skus(
    conn: &mut AsyncPgConnection,
    variant_ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, String)>> {
    product_variants::table
        .filter(product_variants::id.eq_any(variant_ids))
        .select((product_variants::id, product_variants::sku))
        .load(conn)
        .await
}

/// SKUs among these variants with units on hand or reserved anywhere.
pub async fn stocked_skus(
    conn: &mut AsyncPgConnection,
    variant_ids: &[Uuid],
) -> QueryResult<Vec<String>> {
    inventory_items::table
        .inner_join(product_variants::table)
        .filter(inventory_items::variant_id.eq_any(variant_ids))
        .filter(
            inventory_items::on_hand
                .gt(0)
                .or(inventory_items::reserved.gt(0)),
        )
        .select(product_variants::sku)
        .distinct()
        .load(conn)
        .await
}

/// Every item of these variants, locked in id order (a stable order: no deadlocks between
/// callers locking overlapping sets).
pub async fn lock_items_of_variants(
    conn: &mut AsyncPgConnection,
    variant_ids: &[Uuid],
) -> QueryResult<Vec<ItemRow>> {
    inventory_items::table
        .filter(inventory_items::variant_id.eq_any(variant_ids))
        .select(ItemRow::as_select())
        .order(inventory_items::id)
        .for_update()
        .load(conn)
        .await
}

pub async fn lock_items(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<ItemRow>> {
    inventory_items::table
        .filter(inventory_items::id.eq_any(ids))
        .select(ItemRow::as_select())
        .order(inventory_items::id)
        .for_update()
        .load(conn)
        .await
}

/// The item of a variant at a location, created empty when missing, locked.
pub async fn ensure_item(
    conn: &mut AsyncPgConnection,
    variant_id: Uuid,
    location_id: Uuid,
) -> QueryResult<ItemRow> {
    let now = Utc::now();
    diesel::insert_into(inventory_items::table)
        .values((
            inventory_items::id.eq(Uuid::now_v7()),
            inventory_items::variant_id.eq(variant_id),
            inventory_items::location_id.eq(location_id),
            inventory_items::created_at.eq(now),
            inventory_items::updated_at.eq(now),
        ))
        .on_conflict((inventory_items::variant_id, inventory_items::location_id))
        .do_nothing()
        .execute(conn)
        .await?;
    inventory_items::table
        .filter(inventory_items::variant_id.eq(variant_id))
        .filter(inventory_items::location_id.eq(location_id))
        .select(ItemRow::as_select())
        .for_update()
        .first(conn)
        .await
}

pub async fn apply_item_delta(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    on_hand: i32,
    reserved: i32,
    on_order: i32,
) -> QueryResult<ItemRow> {
    diesel::update(inventory_items::table.find(id))
        .set((
            inventory_items::on_hand.eq(inventory_items::on_hand + on_hand),
            inventory_items::reserved.eq(inventory_items::reserved + reserved),
            inventory_items::on_order.eq(inventory_items::on_order + on_order),
            inventory_items::updated_at.eq(Utc::now()),
        ))
        .returning(ItemRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn set_low_stock(conn: &mut AsyncPgConnection, id: Uuid, low: bool) -> QueryResult<()> {
    diesel::update(inventory_items::table.find(id))
        .set(inventory_items::low_stock.eq(low))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn update_item_settings(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    settings: &ItemSettings,
) -> QueryResult<ItemRow> {
    diesel::update(inventory_items::table.find(id))
        .set(settings)
        .returning(ItemRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn items_of_variants(
    conn: &mut AsyncPgConnection,
    variant_ids: &[Uuid],
) -> QueryResult<Vec<ItemRow>> {
    inventory_items::table
        .filter(inventory_items::variant_id.eq_any(variant_ids))
        .select(ItemRow::as_select())
        .order(inventory_items::id)
        .load(conn)
        .await
}

pub async fn item_by_id(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<ItemRow>> {
    inventory_items::table
        .find(id)
        .select(ItemRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Which items to list.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    pub location_id: Option<Uuid>,
    pub sku: Option<String>,
    /// Only items at or below their reorder point.
    pub low_stock_only: bool,
}

/// Items matching `filter` in id order, strictly after `after`.
pub async fn list_items(
    conn: &mut AsyncPgConnection,
    filter: &ItemFilter,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<(Vec<(ItemRow, String)>, i64)> {
    let build = || {
        let mut query = inventory_items::table
            .inner_join(product_variants::table)
            .into_boxed();
        if let Some(location) = filter.location_id {
            query = query.filter(inventory_items::location_id.eq(location));
        }
        if let Some(sku) = &filter.sku {
            query = query.filter(product_variants::sku.eq(sku.replace('\0', "")));
        }
        if filter.low_stock_only {
            query = query.filter(
                inventory_items::reorder_point.is_not_null().and(
                    (inventory_items::on_hand - inventory_items::reserved)
                        .nullable()
                        .le(inventory_items::reorder_point),
                ),
            );
        }
        query
    };
    let total = build().count().get_result(conn).await?;
    let mut query = build()
        .select((ItemRow::as_select(), product_variants::sku))
        .order(inventory_items::id)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(inventory_items::id.gt(after));
    }
    Ok((query.load(conn).await?, total))
}

// ---- lots ----

pub async fn lock_lots(
    conn: &mut AsyncPgConnection,
    item_ids: &[Uuid],
) -> QueryResult<Vec<LotRow>> {
    inventory_lots::table
        .filter(inventory_lots::item_id.eq_any(item_ids))
        .select(LotRow::as_select())
        .order(inventory_lots::id)
        .for_update()
        .load(conn)
        .await
}

pub async fn lots_of_item(conn: &mut AsyncPgConnection, item_id: Uuid) -> QueryResult<Vec<LotRow>> {
    inventory_lots::table
        .filter(inventory_lots::item_id.eq(item_id))
        .select(LotRow::as_select())
        .order((
            inventory_lots::expires_at.asc().nulls_last(),
            inventory_lots::lot_code,
        ))
        .load(conn)
        .await
}

/// The lot with this code of an item, created when missing, locked.
pub async fn ensure_lot(
    conn: &mut AsyncPgConnection,
    item_id: Uuid,
    code: &str,
    expires_at: Option<DateTime<Utc>>,
) -> QueryResult<LotRow> {
    diesel::insert_into(inventory_lots::table)
        .values((
            inventory_lots::id.eq(Uuid::now_v7()),
            inventory_lots::item_id.eq(item_id),
            inventory_lots::lot_code.eq(code),
            inventory_lots::expires_at.eq(expires_at),
        ))
        .on_conflict((inventory_lots::item_id, inventory_lots::lot_code))
        .do_nothing()
        .execute(conn)
        .await?;
    inventory_lots::table
        .filter(inventory_lots::item_id.eq(item_id))
        .filter(inventory_lots::lot_code.eq(code))
        .select(LotRow::as_select())
        .for_update()
        .first(conn)
        .await
}

pub async fn apply_lot_delta(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    on_hand: i32,
    reserved: i32,
) -> QueryResult<LotRow> {
    diesel::update(inventory_lots::table.find(id))
        .set((
            inventory_lots::on_hand.eq(inventory_lots::on_hand + on_hand),
            inventory_lots::reserved.eq(inventory_lots::reserved + reserved),
        ))
        .returning(LotRow::as_returning())
        .get_result(conn)
        .await
}

// ---- numbers ----

/// `PREFIX-000001` from a sequence.
pub async fn next_number(
    conn: &mut AsyncPgConnection,
    prefix: &str,
    sequence: &str,
) -> QueryResult<String> {
    #[derive(QueryableByName)]
    struct Number {
        #[diesel(sql_type = diesel::sql_types::Text)]
        number: String,
    }
    let row: Number = diesel::sql_query(format!(
        "SELECT '{prefix}-' || lpad(nextval('{sequence}')::text, 6, '0') AS number"
    ))
    .get_result(conn)
    .await?;
    Ok(row.number)
}

/// The stock a storefront may show of one variant: units for sale over all locations, `None`
/// when it has no stock records (not stock-tracked).
#[derive(diesel::QueryableByName)]
pub struct SellableRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub variant_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub sku: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    pub sellable: Option<i64>,
}

/// Sellable units (on hand − reserved, summed over locations) of variants of *active*
/// products, in one grouped query.
pub async fn sellable(
    conn: &mut AsyncPgConnection,
    of: SellableOf<'_>,
) -> QueryResult<Vec<SellableRow>> {
    // Kept prepared per connection (`fixed_sql`): the storefront runs it on every catalog read.
    macro_rules! select {
        () => {
            "SELECT v.id AS variant_id, v.sku, \
             (SUM(GREATEST(i.on_hand - i.reserved, 0)) FILTER (WHERE i.id IS NOT NULL))::int8 \
             AS sellable \
             FROM product_variants v JOIN products p ON p.id = v.product_id AND p.status = 'active' \
             LEFT JOIN inventory_items i ON i.variant_id = v.id "
        };
    }
    macro_rules! group {
        () => {
            " GROUP BY v.id, v.sku, v.position ORDER BY v.position, v.id"
        };
    }
    match of {
        SellableOf::Variants(ids) => {
            crate::fixed_sql::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(
                concat!(select!(), "WHERE v.id = ANY("),
                ids,
                concat!(")", group!()),
            )
            .load(conn)
            .await
        }
        SellableOf::Product(id) => {
            crate::fixed_sql::<diesel::sql_types::Uuid, _>(
                concat!(select!(), "WHERE v.product_id = "),
                id,
                group!(),
            )
            .load(conn)
            .await
        }
    }
}
