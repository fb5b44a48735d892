//! Purchase orders: stock on order, received into a location.

use super::*;

impl InventoryService {
    /// Orders stock from a supplier; the units count as on order until received.
    pub async fn create_purchase_order(
        &self,
        ctx: &Ctx,
        input: CreatePurchaseOrderInput,
    ) -> Result<PurchaseOrder, Error> {
        ctx.authorize("inventory:manage")?;
        let mut v = Validator::default();
        let supplier = optional_text(&mut v, "supplier", Some(&input.supplier), 200);
        if supplier.is_none() {
            v.add("supplier", "is required");
        }
        if input.lines.is_empty() {
            v.add("lines", "must name at least one variant");
        }
        for (i, line) in input.lines.iter().enumerate() {
            check_quantity(&mut v, &format!("lines[{i}].quantity"), line.quantity);
        }
        v.finish()?;
        self.db
            .tx(
                "create_purchase_order",
                async move |conn: &mut AsyncPgConnection| {
                    q::location_by_id(conn, input.location_id)
                        .await?
                        .ok_or_else(|| Error::invalid("location_id", "no such location"))?;
                    let id = Uuid::now_v7();
                    let mut lines = Vec::new();
                    for (i, line) in input.lines.iter().enumerate() {
                        if q::skus(conn, &[line.variant_id]).await?.is_empty() {
                            return Err(Error::invalid(
                                format!("lines[{i}].variant_id"),
                                "no such variant",
                            ));
                        }
                        let item = q::ensure_item(conn, line.variant_id, input.location_id).await?;
                        q::apply_item_delta(conn, item.id, 0, 0, line.quantity).await?;
                        lines.push(PurchaseOrderLineRow {
                            id: Uuid::now_v7(),
                            purchase_order_id: id,
                            variant_id: line.variant_id,
                            quantity_ordered: line.quantity,
                            quantity_received: 0,
                        });
                    }
                    let now = Utc::now();
                    let row = PurchaseOrderRow {
                        id,
                        number: q::next_number(conn, "PO", "purchase_order_number_seq").await?,
                        location_id: input.location_id,
                        supplier: supplier.unwrap_or_default(),
                        expected_at: input.expected_at,
                        status: PurchaseOrderStatus::Open,
                        created_at: now,
                        updated_at: now,
                    };
                    q::insert_purchase_order(conn, &row, &lines).await?;
                    Ok(purchase_order_view(row, lines))
                },
            )
            .await
    }

    /// One purchase order.
    pub async fn get_purchase_order(&self, ctx: &Ctx, id: Uuid) -> Result<PurchaseOrder, Error> {
        ctx.authorize("inventory:read")?;
        let mut conn = self.db.conn().await?;
        let (row, lines) = q::lock_purchase_order(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found("purchase order", id))?;
        Ok(purchase_order_view(row, lines))
    }

    /// Receives some or all of a purchase order's lines (partial receipts are fine).
    pub async fn receive_purchase_order(
        &self,
        ctx: &Ctx,
        id: Uuid,
        receipts: Vec<ReceiveLineInput>,
    ) -> Result<PurchaseOrder, Error> {
        ctx.authorize("inventory:adjust")?;
        let mut v = Validator::default();
        if receipts.is_empty() {
            v.add("lines", "must name at least one line");
        }
        let mut codes = Vec::new();
        for (i, r) in receipts.iter().enumerate() {
            check_quantity(&mut v, &format!("lines[{i}].quantity"), r.quantity);
            codes.push(optional_text(
                &mut v,
                &format!("lines[{i}].lot_code"),
                r.lot_code.as_deref(),
                64,
            ));
        }
        v.finish()?;
        let actor = ctx.principal.key();
        self.db
            .tx_retrying("receive_purchase_order", move |conn| {
                let (actor, receipts, codes) = (actor.clone(), receipts.clone(), codes.clone());
                Box::pin(async move {
                    let (actor, receipts, codes) = (&actor, &receipts, &codes);
                    let (row, mut lines) = q::lock_purchase_order(conn, id)
                        .await?
                        .ok_or_else(|| Error::not_found("purchase order", id))?;
                    if !row.status.is_receivable() {
                        return Err(Error::InvalidState {
                            from: row.status.to_string(),
                            action: "receive".into(),
                        });
                    }
                    for (i, receipt) in receipts.iter().enumerate() {
                        let Some(line) = lines.iter_mut().find(|l| l.id == receipt.line_id) else {
                            return Err(Error::invalid(
                                format!("lines[{i}].line_id"),
                                "is not a line of this purchase order",
                            ));
                        };
                        let open = line.quantity_ordered - line.quantity_received;
                        if receipt.quantity > open {
                            return Err(Error::invalid(
                                format!("lines[{i}].quantity"),
                                format!("only {open} units are still expected"),
                            ));
                        }
                        let item = q::ensure_item(conn, line.variant_id, row.location_id).await?;
                        let lot = match &codes[i] {
                            Some(code) => Some(
                                q::ensure_lot(conn, item.id, code, receipt.expires_at)
                                    .await?
                                    .id,
                            ),
                            None => None,
                        };
                        q::apply_item_delta(conn, item.id, 0, 0, -receipt.quantity).await?;
                        let m = Move {
                            kind: MovementKind::Receive,
                            on_hand: receipt.quantity,
                            reserved: 0,
                            lot,
                            reason: None,
                            reference: Some(("purchase_order", id)),
                        };
                        apply(conn, actor, item.id, m).await?;
                        q::add_received(conn, line.id, receipt.quantity).await?;
                        line.quantity_received += receipt.quantity;
                    }
                    let done = lines
                        .iter()
                        .all(|l| l.quantity_received == l.quantity_ordered);
                    let status = if done {
                        PurchaseOrderStatus::Received
                    } else {
                        PurchaseOrderStatus::PartiallyReceived
                    };
                    q::set_purchase_order_status(conn, id, status).await?;
                    let view = purchase_order_view(PurchaseOrderRow { status, ..row }, lines);
                    let data = serde_json::to_value(&view).map_err(anyhow::Error::new)?;
                    record(conn, EventType::InventoryReceived, id, data).await?;
                    Ok(view)
                })
            })
            .await
    }
}

pub(super) fn purchase_order_view(
    row: PurchaseOrderRow,
    lines: Vec<PurchaseOrderLineRow>,
) -> PurchaseOrder {
    PurchaseOrder {
        id: row.id,
        number: row.number,
        location_id: row.location_id,
        supplier: row.supplier,
        expected_at: row.expected_at,
        status: row.status.to_string(),
        lines: lines
            .into_iter()
            .map(|l| PurchaseOrderLine {
                id: l.id,
                variant_id: l.variant_id,
                quantity_ordered: l.quantity_ordered,
                quantity_received: l.quantity_received,
            })
            .collect(),
        created_at: row.created_at,
    }
}
