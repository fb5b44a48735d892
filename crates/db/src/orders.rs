//! Rows and queries for orders, their lines and history.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::Keyset;
use super::schema::{customers, order_history, order_items, orders, product_variants, products};
use stateset_domain::{
    Money, Order, OrderFilter, OrderHistoryEntry, OrderItem, OrderSort, OrderStatus,
};

/// An `orders` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = orders)]
pub struct OrderRow {
    pub id: Uuid,
    pub number: String,
    pub customer_id: Uuid,
    pub email: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: OrderStatus,
    pub held_from: Option<String>,
    pub hold_reason: Option<String>,
    pub cancel_reason: Option<String>,
    pub currency: String,
    pub subtotal: Decimal,
    pub discount_total: Decimal,
    pub shipping_total: Decimal,
    pub tax_total: Decimal,
    pub total: Decimal,
    pub shipping_address: Option<serde_json::Value>,
    pub billing_address: Option<serde_json::Value>,
    pub tags: Vec<String>,
    pub attributes: serde_json::Value,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrderRow {
    pub fn held_from(&self) -> Option<OrderStatus> {
        self.held_from.as_deref().and_then(OrderStatus::parse)
    }

    pub fn sort_key(&self, sort: OrderSort) -> String {
        match sort {
            OrderSort::CreatedAtDesc | OrderSort::CreatedAtAsc => self
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            OrderSort::TotalDesc | OrderSort::TotalAsc => self.total.to_string(),
        }
    }
}

impl From<OrderRow> for Order {
    fn from(row: OrderRow) -> Self {
        let money = |amount| Money::from_stored(amount, &row.currency);
        Order {
            id: row.id,
            status: row.status,
            subtotal: money(row.subtotal),
            discount_total: money(row.discount_total),
            shipping_total: money(row.shipping_total),
            tax_total: money(row.tax_total),
            total: money(row.total),
            number: row.number,
            customer_id: row.customer_id,
            email: row.email,
            hold_reason: row.hold_reason,
            cancel_reason: row.cancel_reason,
            shipping_address: row
                .shipping_address
                .and_then(|a| serde_json::from_value(a).ok()),
            billing_address: row
                .billing_address
                .and_then(|a| serde_json::from_value(a).ok()),
            tags: row.tags,
            attributes: row.attributes,
            notes: row.notes,
            created_at: row.created_at,
            updated_at: row.updated_at,
            currency: row.currency,
        }
    }
}

/// Changes to an order; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = orders)]
pub struct OrderChanges {
    pub status: Option<String>,
    pub held_from: Option<Option<String>>,
    pub hold_reason: Option<Option<String>>,
    pub cancel_reason: Option<Option<String>>,
    pub subtotal: Option<Decimal>,
    pub discount_total: Option<Decimal>,
    pub shipping_total: Option<Decimal>,
    pub tax_total: Option<Decimal>,
    pub total: Option<Decimal>,
    pub tags: Option<Vec<String>>,
    pub attributes: Option<serde_json::Value>,
    pub notes: Option<Option<String>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// An `order_items` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = order_items)]
pub struct OrderItemRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub variant_id: Option<Uuid>,
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price: Decimal,
    pub discount: Decimal,
    pub tax: Decimal,
    pub total: Decimal,
    pub position: i32,
}

impl OrderItemRow {
    pub fn into_domain(self, currency: &str) -> OrderItem {
        let money = |amount| Money::from_stored(amount, currency);
        OrderItem {
            id: self.id,
            order_id: self.order_id,
            variant_id: self.variant_id,
            sku: self.sku,
            name: self.name,
            quantity: self.quantity,
            unit_price: money(self.unit_price),
            discount: money(self.discount),
            tax: money(self.tax),
            total: money(self.total),
            position: self.position,
        }
    }
}

/// An `order_history` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_history)]
pub struct HistoryRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub reason: Option<String>,
    pub actor: String,
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<HistoryRow> for OrderHistoryEntry {
    fn from(row: HistoryRow) -> Self {
        OrderHistoryEntry {
            id: row.id,
            action: row.action,
            from_status: row.from_status.as_deref().and_then(OrderStatus::parse),
            to_status: row.to_status.as_deref().and_then(OrderStatus::parse),
            reason: row.reason,
            actor: row.actor,
            details: row.details,
            created_at: row.created_at,
        }
    }
}

/// A variant as an order line needs it: SKU, price, currency and a display name.
#[derive(Debug, Clone, Queryable)]
pub struct SellableVariant {
    pub id: Uuid,
    pub sku: String,
    pub title: String,
    pub price: Decimal,
    pub currency: String,
    pub product_name: String,
}

/// The variants with these ids, with their product's name.
pub async fn sellable_variants(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> QueryResult<Vec<SellableVariant>> {
    product_variants::table
        .inner_join(products::table)
        .filter(product_variants::id.eq_any(ids))
        .select((
            product_variants::id,
            product_variants::sku,
            product_variants::title,
            product_variants::price,
            product_variants::currency,
            products::name,
        ))
        .load(conn)
        .await
}

/// The next human order number: `ORD-000001`, `ORD-000002`, ... unique under any concurrency.
pub async fn next_order_number(conn: &mut AsyncPgConnection) -> QueryResult<String> {
    #[derive(QueryableByName)]
    struct Number {
        #[diesel(sql_type = Text)]
        number: String,
    }
    let row: Number = diesel::sql_query(
        "SELECT 'ORD-' || lpad(nextval('order_number_seq')::text, 6, '0') AS number",
    )
    .get_result(conn)
    .await?;
    Ok(row.number)
}

pub async fn insert_order(conn: &mut AsyncPgConnection, row: &OrderRow) -> QueryResult<()> {
    diesel::insert_into(orders::table)
        .values(row.clone())
        .execute(conn)
        .await
        .map(drop)
}

pub async fn insert_items(conn: &mut AsyncPgConnection, rows: &[OrderItemRow]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(order_items::table)
        .values(rows)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn update_item(conn: &mut AsyncPgConnection, row: &OrderItemRow) -> QueryResult<()> {
    diesel::update(order_items::table.find(row.id))
        .set(row)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn delete_item(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::delete(order_items::table.find(id))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn order_by_id(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<OrderRow>> {
    orders::table
        .find(id)
        .select(OrderRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn orders_by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> QueryResult<Vec<OrderRow>> {
    orders::table
        .filter(orders::id.eq_any(ids))
        .select(OrderRow::as_select())
        .load(conn)
        .await
}

pub async fn order_by_number(
    conn: &mut AsyncPgConnection,
    number: &str,
) -> QueryResult<Option<OrderRow>> {
    orders::table
        .filter(orders::number.eq(number))
        .select(OrderRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// These orders, locked in id order (a stable order, so concurrent merges cannot deadlock).
pub async fn lock_orders(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<OrderRow>> {
    orders::table
        .filter(orders::id.eq_any(ids))
        .select(OrderRow::as_select())
        .order(orders::id)
        .for_update()
        .load(conn)
        .await
}

pub async fn update_order(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &OrderChanges,
) -> QueryResult<OrderRow> {
    diesel::update(orders::table.find(id))
        .set(changes)
        .returning(OrderRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn items_for(
    conn: &mut AsyncPgConnection,
    order_ids: &[Uuid],
) -> QueryResult<Vec<OrderItemRow>> {
    order_items::table
        .filter(order_items::order_id.eq_any(order_ids))
        .select(OrderItemRow::as_select())
        .order((
            order_items::order_id,
            order_items::position,
            order_items::id,
        ))
        .load(conn)
        .await
}

/// Moves lines to another order.
pub async fn move_items(
    conn: &mut AsyncPgConnection,
    item_ids: &[Uuid],
    to_order: Uuid,
) -> QueryResult<()> {
    diesel::update(order_items::table.filter(order_items::id.eq_any(item_ids)))
        .set(order_items::order_id.eq(to_order))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn insert_history(conn: &mut AsyncPgConnection, row: &HistoryRow) -> QueryResult<()> {
    diesel::insert_into(order_history::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

/// Up to `limit` history entries of an order, oldest first, strictly after `after`, with the
/// order's total count of entries.
pub async fn history_for(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    after: Option<Keyset>,
    limit: i64,
) -> QueryResult<(Vec<HistoryRow>, i64)> {
    let of_order = || order_history::table.filter(order_history::order_id.eq(order_id));
    let total = of_order().count().get_result(conn).await?;
    let mut query = of_order()
        .select(HistoryRow::as_select())
        .order((order_history::created_at, order_history::id))
        .limit(limit)
        .into_boxed();
    if let Some(at) = after {
        query = query.filter(super::created_after("order_history", at));
    }
    Ok((query.load(conn).await?, total))
}

/// Orders matching `filter`, optionally only those of the customer owned by `owner` (a user).
fn filtered(filter: &OrderFilter, owner: Option<Uuid>) -> orders::BoxedQuery<'static, Pg> {
    let mut query = orders::table.into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(orders::status.eq(status.as_str()));
    }
    if let Some(customer_id) = filter.customer_id {
        query = query.filter(orders::customer_id.eq(customer_id));
    }
    if let Some(from) = filter.from {
        query = query.filter(orders::created_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(orders::created_at.lt(to));
    }
    if let Some(min) = filter.min_total {
        query = query.filter(orders::total.ge(min));
    }
    if let Some(max) = filter.max_total {
        query = query.filter(orders::total.le(max));
    }
    if let Some(tag) = &filter.tag {
        query = query.filter(orders::tags.contains(vec![tag.replace('\0', "")]));
    }
    if let Some(text) = filter
        .query
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let pattern = format!("%{}%", super::like_escape(text));
        query = query.filter(
            orders::number
                .ilike(pattern.clone())
                .or(orders::email.ilike(pattern)),
        );
    }
    if let Some(user_id) = owner {
        let owned = customers::table
            .filter(customers::user_id.eq(user_id))
            .select(customers::id);
        query = query.filter(orders::customer_id.eq_any(owned));
    }
    query
}

/// A page of orders in `sort` order, strictly after `after`.
pub async fn list_orders(
    conn: &mut AsyncPgConnection,
    filter: &OrderFilter,
    owner: Option<Uuid>,
    sort: OrderSort,
    after: Option<Keyset>,
    limit: i64,
) -> QueryResult<Vec<OrderRow>> {
    let (column, cast, descending) = match sort {
        OrderSort::CreatedAtDesc => ("created_at", "timestamptz", true),
        OrderSort::CreatedAtAsc => ("created_at", "timestamptz", false),
        OrderSort::TotalDesc => ("total", "numeric", true),
        OrderSort::TotalAsc => ("total", "numeric", false),
    };
    let mut query = filtered(filter, owner)
        .select(OrderRow::as_select())
        .limit(limit);
    if let Some(Keyset { key, id }) = after {
        let op = if descending { "<" } else { ">" };
        query = query.filter(
            sql::<Bool>(&format!("(orders.{column}, orders.id) {op} (CAST("))
                .bind::<Text, _>(key)
                .sql(&format!(" AS {cast}), "))
                .bind::<diesel::sql_types::Uuid, _>(id)
                .sql(")"),
        );
    }
    query = match sort {
        OrderSort::CreatedAtDesc => query.order((orders::created_at.desc(), orders::id.desc())),
        OrderSort::CreatedAtAsc => query.order((orders::created_at.asc(), orders::id.asc())),
        OrderSort::TotalDesc => query.order((orders::total.desc(), orders::id.desc())),
        OrderSort::TotalAsc => query.order((orders::total.asc(), orders::id.asc())),
    };
    query.load(conn).await
}

pub async fn count_orders(
    conn: &mut AsyncPgConnection,
    filter: &OrderFilter,
    owner: Option<Uuid>,
) -> QueryResult<i64> {
    filtered(filter, owner).count().get_result(conn).await
}
