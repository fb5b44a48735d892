//! Reservations: holds on stock, their expiry, and moving them between orders.

use super::*;

pub async fn insert_reservation(
    conn: &mut AsyncPgConnection,
    row: &ReservationRow,
) -> QueryResult<()> {
    diesel::insert_into(inventory_reservations::table)
        .values(row.clone())
        .execute(conn)
        .await
        .map(drop)
}

pub async fn lock_reservation(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<ReservationRow>> {
    inventory_reservations::table
        .find(id)
        .select(ReservationRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Active reservations of an order, locked, oldest first.
pub async fn lock_order_reservations(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
) -> QueryResult<Vec<ReservationRow>> {
    inventory_reservations::table
        .filter(inventory_reservations::order_id.eq(order_id))
        .filter(inventory_reservations::status.eq("active"))
        .select(ReservationRow::as_select())
        .order(inventory_reservations::id)
        .for_update()
        .load(conn)
        .await
}

/// Active reservations on these items whose hold has run out.
pub async fn expired_reservations(
    conn: &mut AsyncPgConnection,
    item_ids: &[Uuid],
) -> QueryResult<Vec<ReservationRow>> {
    inventory_reservations::table
        .filter(inventory_reservations::item_id.eq_any(item_ids))
        .filter(inventory_reservations::status.eq("active"))
        .filter(inventory_reservations::expires_at.lt(Utc::now()))
        .select(ReservationRow::as_select())
        .order(inventory_reservations::id)
        .for_update()
        .load(conn)
        .await
}

pub async fn set_reservation(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: ReservationStatus,
    quantity: i32,
    order_id: Option<Uuid>,
) -> QueryResult<()> {
    diesel::update(inventory_reservations::table.find(id))
        .set((
            inventory_reservations::status.eq(status.as_str()),
            inventory_reservations::quantity.eq(quantity),
            inventory_reservations::order_id.eq(order_id),
            inventory_reservations::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Up to `limit` reservations of an item in id order, strictly after `after`, with the
/// item's total count of reservations.
pub async fn reservations_of_item(
    conn: &mut AsyncPgConnection,
    item_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<(Vec<ReservationRow>, i64)> {
    let of_item =
        || inventory_reservations::table.filter(inventory_reservations::item_id.eq(item_id));
    let total = of_item().count().get_result(conn).await?;
    let mut query = of_item()
        .select(ReservationRow::as_select())
        .order(inventory_reservations::id)
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(inventory_reservations::id.gt(after));
    }
    Ok((query.load(conn).await?, total))
}

/// Moves every active reservation of `from` orders to order `to` (after a merge).
pub async fn move_all_reservations(
    conn: &mut AsyncPgConnection,
    from: &[Uuid],
    to: Uuid,
) -> QueryResult<()> {
    diesel::update(inventory_reservations::table)
        .filter(inventory_reservations::order_id.eq_any(from))
        .filter(inventory_reservations::status.eq("active"))
        .set((
            inventory_reservations::order_id.eq(to),
            inventory_reservations::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Active reservations of an order for one variant, locked, newest first.
pub async fn lock_order_variant_reservations(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    variant_id: Uuid,
) -> QueryResult<Vec<ReservationRow>> {
    let items = inventory_items::table
        .filter(inventory_items::variant_id.eq(variant_id))
        .select(inventory_items::id);
    inventory_reservations::table
        .filter(inventory_reservations::order_id.eq(order_id))
        .filter(inventory_reservations::status.eq("active"))
        .filter(inventory_reservations::item_id.eq_any(items))
        .select(ReservationRow::as_select())
        .order(inventory_reservations::id.desc())
        .for_update()
        .load(conn)
        .await
}

/// Active reservations of an order for one variant at one location, locked, oldest first.
pub async fn lock_order_reservations_at(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    variant_id: Uuid,
    location_id: Uuid,
) -> QueryResult<Vec<ReservationRow>> {
    let items = inventory_items::table
        .filter(inventory_items::variant_id.eq(variant_id))
        .filter(inventory_items::location_id.eq(location_id))
        .select(inventory_items::id);
    inventory_reservations::table
        .filter(inventory_reservations::order_id.eq(order_id))
        .filter(inventory_reservations::status.eq("active"))
        .filter(inventory_reservations::item_id.eq_any(items))
        .select(ReservationRow::as_select())
        .order(inventory_reservations::id)
        .for_update()
        .load(conn)
        .await
}

/// The stock record of a variant at a location, if it has one.
pub async fn item_at(
    conn: &mut AsyncPgConnection,
    variant_id: Uuid,
    location_id: Uuid,
) -> QueryResult<Option<ItemRow>> {
    inventory_items::table
        .filter(inventory_items::variant_id.eq(variant_id))
        .filter(inventory_items::location_id.eq(location_id))
        .select(ItemRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Whether the order ever held a reservation of the variant (active or settled): a variant
/// it never reserved was not stock-tracked when ordered.
pub async fn order_ever_reserved(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    variant_id: Uuid,
) -> QueryResult<bool> {
    let items = inventory_items::table
        .filter(inventory_items::variant_id.eq(variant_id))
        .select(inventory_items::id);
    diesel::select(diesel::dsl::exists(
        inventory_reservations::table
            .filter(inventory_reservations::order_id.eq(order_id))
            .filter(inventory_reservations::item_id.eq_any(items)),
    ))
    .get_result(conn)
    .await
}
