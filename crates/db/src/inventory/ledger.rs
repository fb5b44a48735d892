//! The ledger: one movement row per balance change, and its reconciliation with the balances.

use super::*;

pub async fn insert_movement(conn: &mut AsyncPgConnection, row: &MovementRow) -> QueryResult<()> {
    diesel::insert_into(inventory_movements::table)
        .values(row.clone())
        .execute(conn)
        .await
        .map(drop)
}

/// Up to `limit` ledger rows of an item, oldest first, strictly after `after`, with the
/// item's total count of rows.
pub async fn movements_of_item(
    conn: &mut AsyncPgConnection,
    item_id: Uuid,
    after: Option<Keyset>,
    limit: i64,
) -> QueryResult<(Vec<MovementRow>, i64)> {
    let of_item = || inventory_movements::table.filter(inventory_movements::item_id.eq(item_id));
    let total = of_item().count().get_result(conn).await?;
    let mut query = of_item()
        .select(MovementRow::as_select())
        .order((inventory_movements::created_at, inventory_movements::id))
        .limit(limit)
        .into_boxed();
    if let Some(at) = after {
        query = query.filter(created_after("inventory_movements", at));
    }
    Ok((query.load(conn).await?, total))
}

/// Items whose balances differ from the sums of their ledger: `(item, on hand, ledger on
/// hand, reserved, ledger reserved)`. Empty when the books balance.
pub async fn unreconciled_items(
    conn: &mut AsyncPgConnection,
) -> QueryResult<Vec<(Uuid, i32, i64, i32, i64)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
        #[diesel(sql_type = diesel::sql_types::Int4)]
        on_hand: i32,
        #[diesel(sql_type = diesel::sql_types::Int8)]
        ledger_on_hand: i64,
        #[diesel(sql_type = diesel::sql_types::Int4)]
        reserved: i32,
        #[diesel(sql_type = diesel::sql_types::Int8)]
        ledger_reserved: i64,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT i.id, i.on_hand, coalesce(sum(m.on_hand_delta), 0)::int8 AS ledger_on_hand, \
                i.reserved, coalesce(sum(m.reserved_delta), 0)::int8 AS ledger_reserved \
         FROM inventory_items i LEFT JOIN inventory_movements m ON m.item_id = i.id \
         GROUP BY i.id \
         HAVING i.on_hand <> coalesce(sum(m.on_hand_delta), 0) OR i.reserved <> coalesce(sum(m.reserved_delta), 0)",
    )
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.id,
                r.on_hand,
                r.ledger_on_hand,
                r.reserved,
                r.ledger_reserved,
            )
        })
        .collect())
}
