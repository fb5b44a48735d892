//! Cycle counts and their lines.

use super::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = cycle_counts)]
pub struct CountRow {
    pub id: Uuid,
    pub location_id: Uuid,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: CountStatus,
    pub created_at: DateTime<Utc>,
    pub posted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = cycle_count_lines)]
pub struct CountLineRow {
    pub id: Uuid,
    pub count_id: Uuid,
    pub item_id: Uuid,
    pub expected: i32,
    pub counted: Option<i32>,
}

pub async fn items_at_location(
    conn: &mut AsyncPgConnection,
    location_id: Uuid,
) -> QueryResult<Vec<ItemRow>> {
    inventory_items::table
        .filter(inventory_items::location_id.eq(location_id))
        .select(ItemRow::as_select())
        .order(inventory_items::id)
        .load(conn)
        .await
}

pub async fn insert_count(
    conn: &mut AsyncPgConnection,
    row: &CountRow,
    lines: &[CountLineRow],
) -> QueryResult<()> {
    diesel::insert_into(cycle_counts::table)
        .values(row.clone())
        .execute(conn)
        .await?;
    if !lines.is_empty() {
        diesel::insert_into(cycle_count_lines::table)
            .values(lines)
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn lock_count(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<(CountRow, Vec<CountLineRow>)>> {
    let Some(row) = cycle_counts::table
        .find(id)
        .select(CountRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    let lines = cycle_count_lines::table
        .filter(cycle_count_lines::count_id.eq(id))
        .select(CountLineRow::as_select())
        .order(cycle_count_lines::id)
        .load(conn)
        .await?;
    Ok(Some((row, lines)))
}

/// Adds a line to an open count (stock found that had no record when the count opened).
pub async fn insert_count_line(
    conn: &mut AsyncPgConnection,
    line: &CountLineRow,
) -> QueryResult<()> {
    diesel::insert_into(cycle_count_lines::table)
        .values(line)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn set_counted(
    conn: &mut AsyncPgConnection,
    line_id: Uuid,
    counted: i32,
) -> QueryResult<()> {
    diesel::update(cycle_count_lines::table.find(line_id))
        .set(cycle_count_lines::counted.eq(counted))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn mark_count_posted(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(cycle_counts::table.find(id))
        .set((
            cycle_counts::status.eq("posted"),
            cycle_counts::posted_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(drop)
}
