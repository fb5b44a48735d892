//! The ledger: every balance change is one movement row written with it, on rows locked in id
//! order; receiving and adjusting stock.

use super::*;

/// One change to an item's balances (and optionally a lot's).
pub(super) struct Move<'a> {
    pub kind: MovementKind,
    pub on_hand: i32,
    pub reserved: i32,
    pub lot: Option<Uuid>,
    pub reason: Option<String>,
    pub reference: Option<(&'a str, Uuid)>,
}

/// Applies `m` to a locked item: balances, lot, ledger row, low-stock crossing.
pub(super) async fn apply(
    conn: &mut AsyncPgConnection,
    actor: &str,
    item_id: Uuid,
    m: Move<'_>,
) -> Result<ItemRow, Error> {
    let item = q::apply_item_delta(conn, item_id, m.on_hand, m.reserved, 0).await?;
    if let Some(lot) = m.lot {
        q::apply_lot_delta(conn, lot, m.on_hand, m.reserved).await?;
    }
    let row = MovementRow {
        id: Uuid::now_v7(),
        item_id,
        lot_id: m.lot,
        kind: m.kind,
        on_hand_delta: m.on_hand,
        reserved_delta: m.reserved,
        reason: m.reason,
        actor: actor.to_owned(),
        reference_type: m.reference.map(|(kind, _)| kind.to_owned()),
        reference_id: m.reference.map(|(_, id)| id),
        created_at: Utc::now(),
    };
    q::insert_movement(conn, &row).await?;
    watch_low_stock(conn, &item).await?;
    Ok(item)
}

/// Writes `inventory.low_stock` once when available falls to the reorder point, and re-arms
/// once it rises above it.
pub(super) async fn watch_low_stock(
    conn: &mut AsyncPgConnection,
    item: &ItemRow,
) -> Result<(), Error> {
    let low = item
        .reorder_point
        .is_some_and(|point| item.available() <= point);
    if low == item.low_stock {
        return Ok(());
    }
    q::set_low_stock(conn, item.id, low).await?;
    if low {
        let sku = q::skus(conn, &[item.variant_id])
            .await?
            .pop()
            .map(|(_, s)| s)
            .unwrap_or_default();
        let view = ItemRow {
            low_stock: true,
            ..item.clone()
        }
        .into_domain(sku);
        record(
            conn,
            EventType::InventoryLowStock,
            item.id,
            serde_json::json!({ "item": view }),
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn record(
    conn: &mut AsyncPgConnection,
    event_type: EventType,
    entity_id: Uuid,
    data: serde_json::Value,
) -> Result<(), Error> {
    events::record(
        conn,
        DomainEvent {
            event_type,
            entity_type: "inventory",
            entity_id,
            data,
        },
    )
    .await?;
    Ok(())
}

/// Units of an item not in any lot, and not reserved.
pub(super) fn free_unlotted(item: &ItemRow, lots: &[LotRow]) -> i32 {
    let lot_on_hand: i32 = lots.iter().map(|l| l.on_hand).sum();
    let lot_reserved: i32 = lots.iter().map(|l| l.reserved).sum();
    (item.on_hand - lot_on_hand) - (item.reserved - lot_reserved)
}

pub(super) fn expired(lot: &LotRow, now: DateTime<Utc>) -> bool {
    lot.expires_at.is_some_and(|at| at <= now)
}

/// Where `quantity` free units of an item may come from, in the order to take them.
/// Allocation (`for_sale`) takes unexpired lots soonest-expiring first, then unlotted stock;
/// removals take expired lots first, then unlotted stock, then the other lots.
pub(super) fn sources(item: &ItemRow, lots: &[LotRow], for_sale: bool) -> Vec<(Option<Uuid>, i32)> {
    let now = Utc::now();
    let mut usable: Vec<&LotRow> = lots.iter().filter(|l| l.on_hand > l.reserved).collect();
    usable.sort_by_key(|l| (l.expires_at.is_none(), l.expires_at, l.lot_code.clone()));
    let (stale, fresh): (Vec<&LotRow>, Vec<&LotRow>) =
        usable.into_iter().partition(|l| expired(l, now));
    let lot = |l: &&LotRow| (Some(l.id), l.on_hand - l.reserved);
    let unlotted = (None, free_unlotted(item, lots));
    let ordered: Vec<(Option<Uuid>, i32)> = if for_sale {
        fresh
            .iter()
            .map(lot)
            .chain(std::iter::once(unlotted))
            .collect()
    } else {
        stale
            .iter()
            .map(lot)
            .chain(std::iter::once(unlotted))
            .chain(fresh.iter().map(lot))
            .collect()
    };
    ordered.into_iter().filter(|(_, q)| *q > 0).collect()
}

/// Takes `quantity` free units out of an item (not reserved ones) with `kind` movements.
pub(super) async fn remove_free(
    conn: &mut AsyncPgConnection,
    actor: &str,
    item: &ItemRow,
    quantity: i32,
    kind: MovementKind,
    reason: Option<String>,
    reference: Option<(&str, Uuid)>,
) -> Result<Vec<(Option<Uuid>, i32)>, Error> {
    let lots = q::lock_lots(conn, &[item.id]).await?;
    let mut left = quantity;
    let mut taken = Vec::new();
    for (lot, free) in sources(item, &lots, false) {
        if left == 0 {
            break;
        }
        let take = free.min(left);
        apply(
            conn,
            actor,
            item.id,
            Move {
                kind,
                on_hand: -take,
                reserved: 0,
                lot,
                reason: reason.clone(),
                reference,
            },
        )
        .await?;
        taken.push((lot, take));
        left -= take;
    }
    if left > 0 {
        return Err(Error::InsufficientStock {
            sku: sku_of(conn, item.variant_id).await?,
            requested: quantity,
            available: quantity - left,
        });
    }
    Ok(taken)
}

pub(super) async fn sku_of(conn: &mut AsyncPgConnection, variant: Uuid) -> Result<String, Error> {
    Ok(q::skus(conn, &[variant])
        .await?
        .pop()
        .map(|(_, s)| s)
        .unwrap_or_default())
}

impl InventoryService {
    /// Receives stock at a location (into a lot when named); writes `inventory.received`.
    pub async fn receive(&self, ctx: &Ctx, input: ReceiveInput) -> Result<InventoryItem, Error> {
        ctx.authorize("inventory:adjust")?;
        let mut v = Validator::default();
        check_quantity(&mut v, "quantity", input.quantity);
        let lot_code = optional_text(&mut v, "lot_code", input.lot_code.as_deref(), 64);
        let reason = optional_text(&mut v, "reason", input.reason.as_deref(), 500);
        v.finish()?;
        let actor = ctx.principal.key();
        self.db.tx_retrying("receive", move |conn| {
            let (actor, input, lot_code, reason) = (actor.clone(), input.clone(), lot_code.clone(), reason.clone());
            Box::pin(async move {
                let (actor, lot_code) = (&actor, &lot_code);
                let location = q::location_by_id(conn, input.location_id).await?;
                location.ok_or_else(|| Error::invalid("location_id", "no such location"))?;
                if q::skus(conn, &[input.variant_id]).await?.is_empty() {
                    return Err(Error::invalid("variant_id", "no such variant"));
                }
                let item = q::ensure_item(conn, input.variant_id, input.location_id).await?;
                let lot = match lot_code {
                    Some(code) => Some(q::ensure_lot(conn, item.id, code, input.expires_at).await?.id),
                    None => None,
                };
                let m = Move { kind: MovementKind::Receive, on_hand: input.quantity, reserved: 0, lot, reason: reason.clone(), reference: None };
                let item = apply(conn, actor, item.id, m).await?;
                let view = item_view(conn, item).await?;
                let data = serde_json::json!({ "item": view, "quantity": input.quantity, "lot_code": lot_code });
                record(conn, EventType::InventoryReceived, view.id, data).await?;
                Ok(view)
            })
        })
        .await
    }

    /// Corrects on-hand stock with a reason; never below what is reserved. Writes
    /// `inventory.adjusted`.
    pub async fn adjust(
        &self,
        ctx: &Ctx,
        item_id: Uuid,
        input: AdjustInput,
    ) -> Result<InventoryItem, Error> {
        ctx.authorize("inventory:adjust")?;
        let mut v = Validator::default();
        if input.delta == 0 || input.delta.unsigned_abs() > MAX_QUANTITY.unsigned_abs() {
            v.add(
                "delta",
                format!("must be a non-zero number between -{MAX_QUANTITY} and {MAX_QUANTITY}"),
            );
        }
        let reason = optional_text(&mut v, "reason", Some(&input.reason), 500);
        if reason.is_none() {
            v.add("reason", "is required");
        }
        v.finish()?;
        let actor = ctx.principal.key();
        let delta = input.delta;
        self.db.tx_retrying("adjust", move |conn| {
            let (actor, reason) = (actor.clone(), reason.clone());
            Box::pin(async move {
                let (actor, reason) = (&actor, &reason);
                let item = q::lock_items(conn, &[item_id]).await?.pop().ok_or_else(|| Error::not_found("inventory item", item_id))?;
                if delta > 0 {
                    apply(conn, actor, item_id, Move { kind: MovementKind::Adjust, on_hand: delta, reserved: 0, lot: None, reason: reason.clone(), reference: None }).await?;
                } else {
                    remove_free(conn, actor, &item, -delta, MovementKind::Adjust, reason.clone(), None).await.map_err(|e| match e {
                        Error::InsufficientStock { available, .. } => {
                            Error::invalid("delta", format!("only {available} units are free to remove (the rest are reserved)"))
                        }
                        other => other,
                    })?;
                }
                let item = q::item_by_id(conn, item_id).await?.ok_or_else(|| Error::not_found("inventory item", item_id))?;
                let view = item_view(conn, item).await?;
                record(conn, EventType::InventoryAdjusted, item_id, serde_json::json!({ "item": view, "delta": delta, "reason": reason })).await?;
                Ok(view)
            })
        })
        .await
    }
}
