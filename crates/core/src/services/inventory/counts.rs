//! Cycle counts: a location counted line by line, then posted as adjustments.

use super::*;

impl InventoryService {
    /// Opens a count of a location: the expected quantities are today's on hand.
    pub async fn open_count(&self, ctx: &Ctx, location_id: Uuid) -> Result<CycleCount, Error> {
        ctx.authorize("inventory:adjust")?;
        self.db
            .tx("open_count", async move |conn: &mut AsyncPgConnection| {
                q::location_by_id(conn, location_id)
                    .await?
                    .ok_or_else(|| Error::invalid("location_id", "no such location"))?;
                let id = Uuid::now_v7();
                let lines: Vec<CountLineRow> = q::items_at_location(conn, location_id)
                    .await?
                    .into_iter()
                    .map(|item| CountLineRow {
                        id: Uuid::now_v7(),
                        count_id: id,
                        item_id: item.id,
                        expected: item.on_hand,
                        counted: None,
                    })
                    .collect();
                let row = CountRow {
                    id,
                    location_id,
                    status: CountStatus::Open,
                    created_at: Utc::now(),
                    posted_at: None,
                };
                q::insert_count(conn, &row, &lines).await?;
                count_view(conn, row, lines).await
            })
            .await
    }

    /// Records what was counted for a variant; the variance shows at once.
    pub async fn record_count(
        &self,
        ctx: &Ctx,
        count_id: Uuid,
        input: CountInput,
    ) -> Result<CycleCount, Error> {
        ctx.authorize("inventory:adjust")?;
        if let Err(message) = check_stock_level(input.counted) {
            return Err(Error::invalid("counted", message));
        }
        self.db
            .tx("record_count", async move |conn: &mut AsyncPgConnection| {
                let (row, mut lines) = q::lock_count(conn, count_id)
                    .await?
                    .ok_or_else(|| Error::not_found("cycle count", count_id))?;
                if row.status != CountStatus::Open {
                    return Err(Error::InvalidState {
                        from: row.status.to_string(),
                        action: "record a count".into(),
                    });
                }
                let item = q::ensure_item(conn, input.variant_id, row.location_id).await?;
                match lines.iter_mut().find(|l| l.item_id == item.id) {
                    Some(line) => {
                        q::set_counted(conn, line.id, input.counted).await?;
                        line.counted = Some(input.counted);
                    }
                    None => {
                        // Found stock that had no record at this location when the count opened.
                        let line = CountLineRow {
                            id: Uuid::now_v7(),
                            count_id,
                            item_id: item.id,
                            expected: 0,
                            counted: Some(input.counted),
                        };
                        q::insert_count_line(conn, &line).await?;
                        lines.push(line);
                    }
                }
                count_view(conn, row, lines).await
            })
            .await
    }

    /// One count with its variances.
    pub async fn get_count(&self, ctx: &Ctx, count_id: Uuid) -> Result<CycleCount, Error> {
        ctx.authorize("inventory:read")?;
        let mut conn = self.db.conn().await?;
        let (row, lines) = q::lock_count(&mut conn, count_id)
            .await?
            .ok_or_else(|| Error::not_found("cycle count", count_id))?;
        count_view(&mut conn, row, lines).await
    }

    /// Turns the variances of counted lines into `count_correction` movements.
    pub async fn post_count(&self, ctx: &Ctx, count_id: Uuid) -> Result<CycleCount, Error> {
        ctx.authorize("inventory:adjust")?;
        let actor = ctx.principal.key();
        self.db
            .tx_retrying("post_count", move |conn| {
                let actor = actor.clone();
                Box::pin(async move {
                    let actor = &actor;
                    let (row, lines) = q::lock_count(conn, count_id)
                        .await?
                        .ok_or_else(|| Error::not_found("cycle count", count_id))?;
                    if row.status != CountStatus::Open {
                        return Err(Error::InvalidState {
                            from: row.status.to_string(),
                            action: "post".into(),
                        });
                    }
                    for line in &lines {
                        let Some(counted) = line.counted else {
                            continue;
                        };
                        let variance = counted - line.expected;
                        let reference = Some(("cycle_count", count_id));
                        let item = q::lock_items(conn, &[line.item_id])
                            .await?
                            .pop()
                            .ok_or_else(|| Error::not_found("inventory item", line.item_id))?;
                        if variance > 0 {
                            apply(
                                conn,
                                actor,
                                item.id,
                                Move {
                                    kind: MovementKind::CountCorrection,
                                    on_hand: variance,
                                    reserved: 0,
                                    lot: None,
                                    reason: None,
                                    reference,
                                },
                            )
                            .await?;
                        } else if variance < 0 {
                            remove_free(
                                conn,
                                actor,
                                &item,
                                -variance,
                                MovementKind::CountCorrection,
                                None,
                                reference,
                            )
                            .await?;
                        }
                    }
                    q::mark_count_posted(conn, count_id).await?;
                    let (row, lines) = q::lock_count(conn, count_id)
                        .await?
                        .ok_or_else(|| Error::not_found("cycle count", count_id))?;
                    let view = count_view(conn, row, lines).await?;
                    let data = serde_json::to_value(&view).map_err(anyhow::Error::new)?;
                    record(conn, EventType::InventoryAdjusted, count_id, data).await?;
                    Ok(view)
                })
            })
            .await
    }

    // ---- purchase orders
}

pub(super) async fn count_view(
    conn: &mut AsyncPgConnection,
    row: CountRow,
    lines: Vec<CountLineRow>,
) -> Result<CycleCount, Error> {
    let item_ids: Vec<Uuid> = lines.iter().map(|l| l.item_id).collect();
    let items: HashMap<Uuid, ItemRow> = q::lock_items(conn, &item_ids)
        .await?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    let variant_ids: Vec<Uuid> = items.values().map(|i| i.variant_id).collect();
    let skus: HashMap<Uuid, String> = q::skus(conn, &variant_ids).await?.into_iter().collect();
    let lines = lines
        .into_iter()
        .map(|l| {
            let variant_id = items
                .get(&l.item_id)
                .map(|i| i.variant_id)
                .unwrap_or_default();
            CycleCountLine {
                item_id: l.item_id,
                variant_id,
                sku: skus.get(&variant_id).cloned().unwrap_or_default(),
                expected: l.expected,
                counted: l.counted,
                variance: l.counted.map(|c| c - l.expected),
            }
        })
        .collect();
    Ok(CycleCount {
        id: row.id,
        location_id: row.location_id,
        status: row.status.to_string(),
        lines,
        created_at: row.created_at,
        posted_at: row.posted_at,
    })
}
