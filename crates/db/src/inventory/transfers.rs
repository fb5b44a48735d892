//! Transfers between locations and their lines.

use super::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = inventory_transfers)]
pub struct TransferRow {
    pub id: Uuid,
    pub number: String,
    pub from_location_id: Uuid,
    pub to_location_id: Uuid,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: TransferStatus,
    pub created_at: DateTime<Utc>,
    pub received_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = inventory_transfer_lines)]
pub struct TransferLineRow {
    pub id: Uuid,
    pub transfer_id: Uuid,
    pub variant_id: Uuid,
    pub quantity: i32,
    pub lot_code: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert_transfer(
    conn: &mut AsyncPgConnection,
    row: &TransferRow,
    lines: &[TransferLineRow],
) -> QueryResult<()> {
    diesel::insert_into(inventory_transfers::table)
        .values(row.clone())
        .execute(conn)
        .await?;
    diesel::insert_into(inventory_transfer_lines::table)
        .values(lines)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn lock_transfer(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<(TransferRow, Vec<TransferLineRow>)>> {
    let Some(row) = inventory_transfers::table
        .find(id)
        .select(TransferRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    let lines = inventory_transfer_lines::table
        .filter(inventory_transfer_lines::transfer_id.eq(id))
        .select(TransferLineRow::as_select())
        .order(inventory_transfer_lines::id)
        .load(conn)
        .await?;
    Ok(Some((row, lines)))
}

pub async fn mark_transfer_received(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<TransferRow> {
    diesel::update(inventory_transfers::table.find(id))
        .set((
            inventory_transfers::status.eq("received"),
            inventory_transfers::received_at.eq(Utc::now()),
        ))
        .returning(TransferRow::as_returning())
        .get_result(conn)
        .await
}
