//! Transfers between locations: stock leaves one and arrives at another.

use super::*;

impl InventoryService {
    /// Sends stock: it leaves the source at once and is in transit until received.
    /// Writes `inventory.transferred`.
    pub async fn create_transfer(
        &self,
        ctx: &Ctx,
        input: CreateTransferInput,
    ) -> Result<Transfer, Error> {
        ctx.authorize("inventory:adjust")?;
        let mut v = Validator::default();
        if input.from_location_id == input.to_location_id {
            v.add("to_location_id", "must differ from from_location_id");
        }
        if input.lines.is_empty() {
            v.add("lines", "must name at least one variant");
        }
        for (i, line) in input.lines.iter().enumerate() {
            check_quantity(&mut v, &format!("lines[{i}].quantity"), line.quantity);
        }
        v.finish()?;
        let actor = ctx.principal.key();
        self.db
            .tx_retrying("create_transfer", move |conn| {
                let (actor, input) = (actor.clone(), input.clone());
                Box::pin(async move {
                    let (actor, input) = (&actor, &input);
                    for (field, id) in [
                        ("from_location_id", input.from_location_id),
                        ("to_location_id", input.to_location_id),
                    ] {
                        q::location_by_id(conn, id)
                            .await?
                            .ok_or_else(|| Error::invalid(field, "no such location"))?;
                    }
                    let id = Uuid::now_v7();
                    let mut variant_ids: Vec<Uuid> =
                        input.lines.iter().map(|l| l.variant_id).collect();
                    variant_ids.sort();
                    variant_ids.dedup();
                    let items = q::lock_items_of_variants(conn, &variant_ids).await?;
                    let mut lines = Vec::new();
                    for (i, line) in input.lines.iter().enumerate() {
                        let source = items.iter().find(|it| {
                            it.variant_id == line.variant_id
                                && it.location_id == input.from_location_id
                        });
                        let Some(source) = source else {
                            return Err(Error::invalid(
                                format!("lines[{i}].variant_id"),
                                "has no stock at the source location",
                            ));
                        };
                        let source = q::lock_items(conn, &[source.id])
                            .await?
                            .pop()
                            .ok_or_else(|| Error::not_found("inventory item", source.id))?;
                        let lots = q::lock_lots(conn, &[source.id]).await?;
                        let taken = remove_free(
                            conn,
                            actor,
                            &source,
                            line.quantity,
                            MovementKind::TransferOut,
                            None,
                            Some(("transfer", id)),
                        )
                        .await?;
                        for (lot, quantity) in taken {
                            let lot = lot.and_then(|l| lots.iter().find(|x| x.id == l));
                            lines.push(TransferLineRow {
                                id: Uuid::now_v7(),
                                transfer_id: id,
                                variant_id: line.variant_id,
                                quantity,
                                lot_code: lot.map(|l| l.lot_code.clone()),
                                expires_at: lot.and_then(|l| l.expires_at),
                            });
                        }
                    }
                    let row = TransferRow {
                        id,
                        number: q::next_number(conn, "TRF", "transfer_number_seq").await?,
                        from_location_id: input.from_location_id,
                        to_location_id: input.to_location_id,
                        status: TransferStatus::InTransit,
                        created_at: Utc::now(),
                        received_at: None,
                    };
                    q::insert_transfer(conn, &row, &lines).await?;
                    let transfer = transfer_view(row, &lines);
                    let data = serde_json::to_value(&transfer).map_err(anyhow::Error::new)?;
                    record(conn, EventType::InventoryTransferred, id, data).await?;
                    Ok(transfer)
                })
            })
            .await
    }

    /// Receives a transfer at its destination, into the lots the units left from.
    pub async fn receive_transfer(&self, ctx: &Ctx, id: Uuid) -> Result<Transfer, Error> {
        ctx.authorize("inventory:adjust")?;
        let actor = ctx.principal.key();
        self.db
            .tx_retrying("receive_transfer", move |conn| {
                let actor = actor.clone();
                Box::pin(async move {
                    let actor = &actor;
                    let (row, lines) = q::lock_transfer(conn, id)
                        .await?
                        .ok_or_else(|| Error::not_found("transfer", id))?;
                    if row.status != TransferStatus::InTransit {
                        return Err(Error::InvalidState {
                            from: row.status.to_string(),
                            action: "receive".into(),
                        });
                    }
                    for line in &lines {
                        let item =
                            q::ensure_item(conn, line.variant_id, row.to_location_id).await?;
                        let lot = match &line.lot_code {
                            Some(code) => Some(
                                q::ensure_lot(conn, item.id, code, line.expires_at)
                                    .await?
                                    .id,
                            ),
                            None => None,
                        };
                        let m = Move {
                            kind: MovementKind::TransferIn,
                            on_hand: line.quantity,
                            reserved: 0,
                            lot,
                            reason: None,
                            reference: Some(("transfer", id)),
                        };
                        apply(conn, actor, item.id, m).await?;
                    }
                    let row = q::mark_transfer_received(conn, id).await?;
                    let transfer = transfer_view(row, &lines);
                    let data = serde_json::to_value(&transfer).map_err(anyhow::Error::new)?;
                    record(conn, EventType::InventoryTransferred, id, data).await?;
                    Ok(transfer)
                })
            })
            .await
    }

    // ---- cycle counts
}

pub(super) fn transfer_view(row: TransferRow, lines: &[TransferLineRow]) -> Transfer {
    let mut merged: Vec<TransferLine> = Vec::new();
    for line in lines {
        match merged.iter_mut().find(|l| l.variant_id == line.variant_id) {
            Some(existing) => existing.quantity += line.quantity,
            None => merged.push(TransferLine {
                variant_id: line.variant_id,
                quantity: line.quantity,
            }),
        }
    }
    Transfer {
        id: row.id,
        number: row.number,
        from_location_id: row.from_location_id,
        to_location_id: row.to_location_id,
        status: row.status.to_string(),
        lines: merged,
        created_at: row.created_at,
        received_at: row.received_at,
    }
}
