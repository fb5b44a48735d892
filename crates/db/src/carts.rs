//! Rows and queries for carts and their lines.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::schema::{cart_items, carts, product_variants, products};
use stateset_domain::{CartStatus, ProductStatus};

/// A `carts` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = carts)]
pub struct CartRow {
    pub id: Uuid,
    pub token: String,
    pub customer_id: Option<Uuid>,
    pub currency: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: CartStatus,
    pub merged_into: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Changes to a cart; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = carts)]
pub struct CartChanges {
    pub customer_id: Option<Option<Uuid>>,
    pub currency: Option<String>,
    pub status: Option<&'static str>,
    pub merged_into: Option<Option<Uuid>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn insert_cart(conn: &mut AsyncPgConnection, row: &CartRow) -> QueryResult<()> {
    diesel::insert_into(carts::table)
        .values(row.clone())
        .execute(conn)
        .await
        .map(drop)
}

/// The cart with this id or token, locked until the transaction ends.
pub async fn lock_cart(
    conn: &mut AsyncPgConnection,
    id: Option<Uuid>,
    token: Option<&str>,
) -> QueryResult<Option<CartRow>> {
    let id = match (id, token) {
        (Some(id), _) => Some(id),
        (None, Some(token)) => carts::table
            .filter(carts::token.eq(token))
            .select(carts::id)
            .first(conn)
            .await
            .optional()?,
        (None, None) => None,
    };
    let Some(id) = id else {
        return Ok(None);
    };
    carts::table
        .find(id)
        .select(CartRow::as_select())
        .for_no_key_update()
        .first(conn)
        .await
        .optional()
}

/// A customer's active cart, locked.
pub async fn lock_active_cart_of(
    conn: &mut AsyncPgConnection,
    customer_id: Uuid,
) -> QueryResult<Option<CartRow>> {
    carts::table
        .filter(carts::customer_id.eq(customer_id))
        .filter(carts::status.eq("active"))
        .select(CartRow::as_select())
        .for_no_key_update()
        .first(conn)
        .await
        .optional()
}

pub async fn update_cart(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &CartChanges,
) -> QueryResult<CartRow> {
    diesel::update(carts::table.find(id))
        .set(changes)
        .returning(CartRow::as_returning())
        .get_result(conn)
        .await
}

/// A line with what the cart shows about its variant now.
#[derive(Debug, Clone, Queryable)]
pub struct LineRow {
    pub id: Uuid,
    pub variant_id: Uuid,
    pub quantity: i32,
    pub sku: String,
    pub variant_title: String,
    pub price: Decimal,
    pub currency: String,
    pub weight_grams: Option<i32>,
    pub product_id: Uuid,
    pub product_name: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub product_status: ProductStatus,
}

/// The lines of a cart, oldest first, with their variants' current prices.
pub async fn lines(conn: &mut AsyncPgConnection, cart_id: Uuid) -> QueryResult<Vec<LineRow>> {
    cart_items::table
        .inner_join(product_variants::table.inner_join(products::table))
        .filter(cart_items::cart_id.eq(cart_id))
        .order(cart_items::id)
        .select((
            cart_items::id,
            cart_items::variant_id,
            cart_items::quantity,
            product_variants::sku,
            product_variants::title,
            product_variants::price,
            product_variants::currency,
            product_variants::weight_grams,
            products::id,
            products::name,
            products::status,
        ))
        .load(conn)
        .await
}

/// Adds `quantity` of a variant, on top of any already in the cart; returns the new quantity.
pub async fn add_quantity(
    conn: &mut AsyncPgConnection,
    cart_id: Uuid,
    variant_id: Uuid,
    quantity: i32,
) -> QueryResult<i32> {
    let now = Utc::now();
    diesel::insert_into(cart_items::table)
        .values((
            cart_items::id.eq(Uuid::now_v7()),
            cart_items::cart_id.eq(cart_id),
            cart_items::variant_id.eq(variant_id),
            cart_items::quantity.eq(quantity),
        ))
        .on_conflict((cart_items::cart_id, cart_items::variant_id))
        .do_update()
        .set((
            cart_items::quantity.eq(cart_items::quantity + quantity),
            cart_items::updated_at.eq(now),
        ))
        .returning(cart_items::quantity)
        .get_result(conn)
        .await
}

/// Sets a line's quantity; whether the line exists in this cart.
pub async fn set_quantity(
    conn: &mut AsyncPgConnection,
    cart_id: Uuid,
    item_id: Uuid,
    quantity: i32,
) -> QueryResult<bool> {
    Ok(diesel::update(
        cart_items::table
            .filter(cart_items::id.eq(item_id))
            .filter(cart_items::cart_id.eq(cart_id)),
    )
    .set((
        cart_items::quantity.eq(quantity),
        cart_items::updated_at.eq(Utc::now()),
    ))
    .execute(conn)
    .await?
        > 0)
}

/// Removes a line; whether it was in this cart.
pub async fn remove_line(
    conn: &mut AsyncPgConnection,
    cart_id: Uuid,
    item_id: Uuid,
) -> QueryResult<bool> {
    Ok(diesel::delete(
        cart_items::table
            .filter(cart_items::id.eq(item_id))
            .filter(cart_items::cart_id.eq(cart_id)),
    )
    .execute(conn)
    .await?
        > 0)
}

/// Removes the line of `variant_id` from a cart, if it has one.
pub async fn remove_variant(
    conn: &mut AsyncPgConnection,
    cart_id: Uuid,
    variant_id: Uuid,
) -> QueryResult<()> {
    diesel::delete(
        cart_items::table
            .filter(cart_items::cart_id.eq(cart_id))
            .filter(cart_items::variant_id.eq(variant_id)),
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The variant ids and quantities in a cart.
pub async fn quantities(
    conn: &mut AsyncPgConnection,
    cart_id: Uuid,
) -> QueryResult<Vec<(Uuid, i32)>> {
    cart_items::table
        .filter(cart_items::cart_id.eq(cart_id))
        .order(cart_items::id)
        .select((cart_items::variant_id, cart_items::quantity))
        .load(conn)
        .await
}

/// Deletes carts that expired before `before`, with their lines; returns how many.
pub async fn delete_expired(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::delete(
        carts::table
            .filter(carts::expires_at.lt(before))
            .filter(carts::status.ne("converted")),
    )
    .execute(conn)
    .await
}
