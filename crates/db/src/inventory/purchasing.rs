//! Purchase orders and their lines.

use super::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = purchase_orders)]
pub struct PurchaseOrderRow {
    pub id: Uuid,
    pub number: String,
    pub location_id: Uuid,
    pub supplier: String,
    pub expected_at: Option<DateTime<Utc>>,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: PurchaseOrderStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = purchase_order_lines)]
pub struct PurchaseOrderLineRow {
    pub id: Uuid,
    pub purchase_order_id: Uuid,
    pub variant_id: Uuid,
    pub quantity_ordered: i32,
    pub quantity_received: i32,
}

pub async fn insert_purchase_order(
    conn: &mut AsyncPgConnection,
    row: &PurchaseOrderRow,
    lines: &[PurchaseOrderLineRow],
) -> QueryResult<()> {
    diesel::insert_into(purchase_orders::table)
        .values(row.clone())
        .execute(conn)
        .await?;
    diesel::insert_into(purchase_order_lines::table)
        .values(lines)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn lock_purchase_order(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<(PurchaseOrderRow, Vec<PurchaseOrderLineRow>)>> {
    let Some(row) = purchase_orders::table
        .find(id)
        .select(PurchaseOrderRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    let lines = purchase_order_lines::table
        .filter(purchase_order_lines::purchase_order_id.eq(id))
        .select(PurchaseOrderLineRow::as_select())
        .order(purchase_order_lines::id)
        .load(conn)
        .await?;
    Ok(Some((row, lines)))
}

pub async fn add_received(
    conn: &mut AsyncPgConnection,
    line_id: Uuid,
    quantity: i32,
) -> QueryResult<()> {
    diesel::update(purchase_order_lines::table.find(line_id))
        .set(
            purchase_order_lines::quantity_received
                .eq(purchase_order_lines::quantity_received + quantity),
        )
        .execute(conn)
        .await
        .map(drop)
}

pub async fn set_purchase_order_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: PurchaseOrderStatus,
) -> QueryResult<()> {
    diesel::update(purchase_orders::table.find(id))
        .set((
            purchase_orders::status.eq(status.as_str()),
            purchase_orders::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(drop)
}
