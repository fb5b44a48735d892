//! The fulfilment plan: one fulfilment order per location holding an order's reservations,
//! made when the order is placed and remade when the order is merged or split; and what
//! staff do to a plan (hold, release, move to another location, split, merge).

use super::*;
use crate::services::inventory::{Hold, Want};
use stateset_db::inventory::{self as inventory_q, ReservationRow};
use stateset_domain::HoldReason;

/// Why a fulfilment order is held.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
#[graphql(name = "HoldFulfillmentOrderInput")]
pub struct HoldFulfillmentOrderInput {
    pub reason: HoldReason,
    /// Up to 500 characters.
    pub note: Option<String>,
}

/// Where a fulfilment order should ship from instead.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
#[graphql(name = "MoveFulfillmentOrderInput")]
pub struct MoveFulfillmentOrderInput {
    pub location_id: Uuid,
}

/// Lines and units to move into a new fulfilment order at the same location.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
#[graphql(name = "SplitFulfillmentOrderInput")]
pub struct SplitFulfillmentOrderInput {
    pub lines: Vec<FulfillmentLineQuantity>,
}

/// Fulfilment orders of one order at one location to join: the first one stays.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
#[graphql(name = "MergeFulfillmentOrdersInput")]
pub struct MergeFulfillmentOrdersInput {
    pub fulfillment_order_ids: Vec<Uuid>,
}

/// Plans an order's items into fulfilment orders inside the caller's transaction: each
/// item's units go to the locations its reservations hold them at (in the order they were
/// reserved); units with no reservation (not stock-tracked) go with the first location
/// planned, or the active location of highest priority. Writes `fulfillment_order.created`
/// for each. Nothing is planned when there is no location at all.
pub(crate) async fn plan(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    items: &[OrderItemRow],
    reserved: &[ReservationRow],
) -> Result<Vec<FulfillmentOrderRow>, Error> {
    let item_ids: Vec<Uuid> = reserved.iter().map(|r| r.item_id).collect();
    let places: HashMap<Uuid, (Uuid, Uuid)> = q::item_places(conn, &item_ids)
        .await?
        .into_iter()
        .map(|(item, location, variant)| (item, (location, variant)))
        .collect();
    // Per variant, the reserved units per location still to hand out, in reservation order.
    let mut pool: HashMap<Uuid, Vec<(Uuid, i32)>> = HashMap::new();
    for r in reserved {
        if let Some(&(location, variant)) = places.get(&r.item_id) {
            let at = pool.entry(variant).or_default();
            match at.iter_mut().find(|(l, _)| *l == location) {
                Some((_, units)) => *units += r.quantity,
                None => at.push((location, r.quantity)),
            }
        }
    }
    let mut planned: Vec<(Uuid, Vec<(&OrderItemRow, i32)>)> = Vec::new();
    let mut unplaced = Vec::new();
    for item in items {
        let mut left = item.quantity;
        if let Some(at) = item.variant_id.and_then(|v| pool.get_mut(&v)) {
            for (location, units) in at.iter_mut() {
                let take = (*units).min(left);
                if take > 0 {
                    match planned.iter_mut().find(|(l, _)| l == location) {
                        Some((_, lines)) => lines.push((item, take)),
                        None => planned.push((*location, vec![(item, take)])),
                    }
                    *units -= take;
                    left -= take;
                }
            }
        }
        if left > 0 {
            unplaced.push((item, left));
        }
    }
    if !unplaced.is_empty() {
        let home = match planned.first() {
            Some((location, _)) => Some(*location),
            None => q::home_location(conn).await?,
        };
        let Some(home) = home else {
            return Ok(Vec::new());
        };
        match planned.iter_mut().find(|(l, _)| *l == home) {
            Some((_, lines)) => lines.extend(unplaced),
            None => planned.push((home, unplaced)),
        }
    }
    let now = Utc::now();
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for (location_id, units) in &planned {
        let row = FulfillmentOrderRow {
            id: Uuid::now_v7(),
            order_id,
            location_id: *location_id,
            status: FulfillmentOrderStatus::Open,
            held_from: None,
            hold_reason: None,
            hold_note: None,
            merged_into: None,
            created_at: now,
            updated_at: now,
        };
        for (item, quantity) in units {
            lines.push(FulfillmentLineRow {
                id: Uuid::now_v7(),
                fulfillment_order_id: row.id,
                order_item_id: item.id,
                variant_id: item.variant_id,
                quantity: *quantity,
                assigned_quantity: 0,
                shipped_quantity: 0,
            });
        }
        rows.push(row);
    }
    q::insert_fulfillment_orders(conn, &rows, &lines).await?;
    let by_id: HashMap<Uuid, OrderItemRow> = items.iter().map(|i| (i.id, i.clone())).collect();
    for row in &rows {
        let own = lines
            .iter()
            .filter(|l| l.fulfillment_order_id == row.id)
            .cloned()
            .collect();
        let plan = fulfillment_order(row.clone(), own, &by_id);
        fulfillment_event(
            conn,
            EventType::FulfillmentOrderCreated,
            &plan,
            serde_json::json!({}),
        )
        .await?;
    }
    Ok(rows)
}

/// Cancels a fulfilment order inside the caller's transaction. Writes
/// `fulfillment_order.cancelled` with `extra`.
async fn cancel_plan(
    conn: &mut AsyncPgConnection,
    row: FulfillmentOrderRow,
    merged_into: Option<Uuid>,
    extra: serde_json::Value,
) -> Result<(), Error> {
    let changes = FulfillmentOrderChanges {
        status: Some(FulfillmentOrderStatus::Cancelled.as_str().to_owned()),
        held_from: Some(None),
        hold_reason: Some(None),
        merged_into: Some(merged_into),
        updated_at: Some(Utc::now()),
        ..Default::default()
    };
    change_plan(
        conn,
        row.id,
        &changes,
        EventType::FulfillmentOrderCancelled,
        extra,
    )
    .await
    .map(drop)
}

/// Applies `changes` to a fulfilment order and records `event_type` about it as it now is.
async fn change_plan(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &FulfillmentOrderChanges,
    event_type: EventType,
    extra: serde_json::Value,
) -> Result<FulfillmentOrder, Error> {
    let row = q::update_fulfillment_order(conn, id, changes).await?;
    let plan = one(conn, row).await?;
    fulfillment_event(conn, event_type, &plan, extra).await?;
    Ok(plan)
}

async fn one(
    conn: &mut AsyncPgConnection,
    row: FulfillmentOrderRow,
) -> Result<FulfillmentOrder, Error> {
    let id = row.id;
    load_fulfillment_orders(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("fulfillment order", id))
}

/// Ends the fulfilment of a cancelled order: shipments that have not left are cancelled,
/// its fulfilment orders too. (Its reservations are released by the caller.)
pub(crate) async fn cancel_order_fulfillment(
    conn: &mut AsyncPgConnection,
    _ctx: &Ctx,
    order_id: Uuid,
) -> Result<(), Error> {
    for shipment in q::lock_shipments_of_order(conn, order_id).await? {
        if shipment.status.apply(ShipmentAction::Cancel).is_some() {
            let row = cancel_shipment_row(conn, shipment, Some("order cancelled".into())).await?;
            shipment_event(
                conn,
                EventType::ShipmentCancelled,
                row,
                serde_json::json!({ "action": "cancel", "reason": "order cancelled" }),
            )
            .await?;
        }
    }
    for plan in q::lock_fulfillment_orders_of(conn, order_id).await? {
        if plan.status != FulfillmentOrderStatus::Cancelled {
            cancel_plan(
                conn,
                plan,
                None,
                serde_json::json!({ "reason": "order cancelled" }),
            )
            .await?;
        }
    }
    Ok(())
}

/// Remakes the plans of orders whose lines or reservations moved (a merge or split): their
/// fulfilment orders are cancelled and new ones made from their items and reservations now.
/// Refused with `CONFLICT` while any of them has a shipment that is not cancelled.
pub(crate) async fn replan(
    conn: &mut AsyncPgConnection,
    _ctx: &Ctx,
    order_ids: &[Uuid],
) -> Result<(), Error> {
    for &order_id in order_ids {
        let shipments = q::lock_shipments_of_order(conn, order_id).await?;
        if let Some(shipment) = shipments
            .iter()
            .find(|s| s.status != ShipmentStatus::Cancelled)
        {
            return Err(Error::Conflict {
                field: None,
                message: format!(
                    "shipment {} is under way for this order; cancel it before merging or splitting",
                    shipment.number
                ),
            });
        }
        let plans = q::lock_fulfillment_orders_of(conn, order_id).await?;
        // A hold is someone's decision; a replan would silently lift it.
        if plans
            .iter()
            .any(|p| p.status == FulfillmentOrderStatus::OnHold)
        {
            return Err(Error::Conflict {
                field: None,
                message: "a fulfillment order of this order is on hold; release it before merging or splitting".into(),
            });
        }
        for old in plans {
            if old.status != FulfillmentOrderStatus::Cancelled {
                cancel_plan(
                    conn,
                    old,
                    None,
                    serde_json::json!({ "reason": "replanned" }),
                )
                .await?;
            }
        }
        let items = order_q::items_for(conn, &[order_id]).await?;
        let reserved = inventory_q::lock_order_reservations(conn, order_id).await?;
        plan(conn, order_id, &items, &reserved).await?;
    }
    Ok(())
}

impl ShipmentService {
    /// Locks a fulfilment order after its order (the order every writer takes locks in).
    async fn lock_plan(
        conn: &mut AsyncPgConnection,
        id: Uuid,
    ) -> Result<(OrderRow, FulfillmentOrderRow), Error> {
        let found = q::fulfillment_order_by_id(conn, id)
            .await?
            .ok_or_else(|| Error::not_found("fulfillment order", id))?;
        let order = order_service::lock_order(conn, found.order_id).await?;
        let row = q::lock_fulfillment_orders(conn, &[id])
            .await?
            .pop()
            .ok_or_else(|| Error::not_found("fulfillment order", id))?;
        Ok((order, row))
    }

    /// Holds a fulfilment order (no shipment of it ships until it is released). Writes
    /// `fulfillment_order.held`.
    pub async fn hold_fulfillment_order(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: HoldFulfillmentOrderInput,
    ) -> Result<FulfillmentOrder, Error> {
        ctx.authorize("shipments:update")?;
        let mut v = Validator::default();
        let note = optional_text(&mut v, "note", input.note.as_deref(), 500);
        v.finish()?;
        self.db
            .tx(
                "hold_fulfillment_order",
                async move |conn: &mut AsyncPgConnection| {
                    let (_, row) = Self::lock_plan(conn, id).await?;
                    if !row.status.is_workable() {
                        return Err(invalid(row.status, "hold"));
                    }
                    let changes = FulfillmentOrderChanges {
                        status: Some(FulfillmentOrderStatus::OnHold.as_str().to_owned()),
                        held_from: Some(Some(row.status.as_str().to_owned())),
                        hold_reason: Some(Some(input.reason.as_str().to_owned())),
                        hold_note: Some(note),
                        updated_at: Some(Utc::now()),
                        ..Default::default()
                    };
                    let held = EventType::FulfillmentOrderHeld;
                    change_plan(conn, id, &changes, held, serde_json::json!({})).await
                },
            )
            .await
    }

    /// Releases a held fulfilment order back to where it was. Writes
    /// `fulfillment_order.released`.
    pub async fn release_fulfillment_order(
        &self,
        ctx: &Ctx,
        id: Uuid,
    ) -> Result<FulfillmentOrder, Error> {
        ctx.authorize("shipments:update")?;
        self.db
            .tx(
                "release_fulfillment_order",
                async move |conn: &mut AsyncPgConnection| {
                    let (_, row) = Self::lock_plan(conn, id).await?;
                    if row.status != FulfillmentOrderStatus::OnHold {
                        return Err(invalid(row.status, "release"));
                    }
                    let back = row.held_from().unwrap_or(FulfillmentOrderStatus::Open);
                    let changes = FulfillmentOrderChanges {
                        status: Some(back.as_str().to_owned()),
                        held_from: Some(None),
                        hold_reason: Some(None),
                        hold_note: Some(None),
                        updated_at: Some(Utc::now()),
                        ..Default::default()
                    };
                    let released = EventType::FulfillmentOrderReleased;
                    change_plan(conn, id, &changes, released, serde_json::json!({})).await
                },
            )
            .await
    }

    /// Ships a fulfilment order from another location: its reservations are released where
    /// they are and taken at the new location (all or nothing: `INSUFFICIENT_STOCK` naming
    /// the SKU). Only while no shipment holds any of it. Writes `fulfillment_order.moved`.
    pub async fn move_fulfillment_order(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: MoveFulfillmentOrderInput,
    ) -> Result<FulfillmentOrder, Error> {
        ctx.authorize("shipments:update")?;
        let ctx = ctx.clone();
        self.db
            .tx_retrying("move_fulfillment_order", move |conn: &mut AsyncPgConnection| {
                let (ctx, input) = (ctx.clone(), input.clone());
                Box::pin(async move {
                let (order, row) = Self::lock_plan(conn, id).await?;
                if row.status != FulfillmentOrderStatus::Open {
                    return Err(invalid(row.status, "move"));
                }
                let to = input.location_id;
                let location = inventory_q::location_by_id(conn, to).await?;
                if !location.is_some_and(|l| l.active) {
                    return Err(Error::invalid("location_id", "no such active location"));
                }
                if to == row.location_id {
                    return Err(Error::invalid("location_id", "is where it ships from already"));
                }
                let lines = q::lock_lines_of(conn, &[row.id]).await?;
                let actor = ctx.principal.key();
                // Units per variant, taken once per variant (rows taken whole stay active
                // until released).
                let mut units: Vec<(Uuid, i32)> = Vec::new();
                for line in &lines {
                    let Some(variant_id) = line.variant_id else { continue };
                    match units.iter_mut().find(|(v, _)| *v == variant_id) {
                        Some((_, total)) => *total += line.quantity,
                        None => units.push((variant_id, line.quantity)),
                    }
                }
                let mut released = Vec::new();
                let mut wants = Vec::new();
                for (variant_id, quantity) in units {
                    let taken = inventory::take_order_units(conn, order.id, row.location_id, variant_id, quantity).await?;
                    if taken.is_empty() {
                        continue; // not stock-tracked: nothing to move
                    }
                    released.extend(taken);
                    let Some(item) = inventory_q::item_at(conn, variant_id, to).await? else {
                        let sku = inventory_q::skus(conn, &[variant_id]).await?.pop().map(|(_, s)| s).unwrap_or_default();
                        return Err(Error::InsufficientStock { sku, requested: quantity, available: 0 });
                    };
                    wants.push(Want { variant_id, item_id: Some(item.id), quantity });
                }
                inventory::release_reservations(conn, &actor, &released).await?;
                let hold = Hold { order_id: Some(order.id), reference: None, expires_at: None, partial: false, tracked_only: true };
                inventory::reserve(conn, &actor, &wants, &hold).await?;
                let changes = FulfillmentOrderChanges { location_id: Some(to), updated_at: Some(Utc::now()), ..Default::default() };
                let extra = serde_json::json!({ "from_location_id": row.location_id, "to_location_id": to });
                change_plan(conn, id, &changes, EventType::FulfillmentOrderMoved, extra).await
                })
            })
            .await
    }

    /// Moves units no shipment holds into a new fulfilment order at the same location.
    /// Returns `(the fulfilment order, the new one)`; writes `fulfillment_order.split`.
    pub async fn split_fulfillment_order(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: SplitFulfillmentOrderInput,
    ) -> Result<(FulfillmentOrder, FulfillmentOrder), Error> {
        ctx.authorize("shipments:update")?;
        if input.lines.is_empty() {
            return Err(Error::invalid(
                "lines",
                "must name at least one line to move",
            ));
        }
        self.db
            .tx("split_fulfillment_order", async move |conn: &mut AsyncPgConnection| {
                let (_, row) = Self::lock_plan(conn, id).await?;
                if !row.status.is_workable() {
                    return Err(invalid(row.status, "split"));
                }
                let mut lines = q::lock_lines_of(conn, &[row.id]).await?;
                let mut v = Validator::default();
                let mut moving: HashMap<Uuid, i32> = HashMap::new();
                for (i, want) in input.lines.iter().enumerate() {
                    let Some(line) = lines.iter().find(|l| l.id == want.fulfillment_order_line_id) else {
                        v.add(format!("lines[{i}].fulfillment_order_line_id"), "is not a line of this fulfillment order");
                        continue;
                    };
                    let total = moving.entry(line.id).or_default();
                    *total = total.saturating_add(want.quantity);
                    if want.quantity < 1 || *total > line.remaining() {
                        v.add(format!("lines[{i}].quantity"), format!("must be between 1 and {}, the units no shipment holds", line.remaining()));
                    }
                }
                let staying: i32 = lines.iter().map(|l| l.quantity - moving.get(&l.id).copied().unwrap_or(0)).sum();
                if v.is_empty() && staying == 0 {
                    v.add("lines", "must leave at least one unit in the fulfillment order");
                }
                v.finish()?;
                let now = Utc::now();
                let new_row = FulfillmentOrderRow { id: Uuid::now_v7(), status: FulfillmentOrderStatus::Open, held_from: None, hold_reason: None, hold_note: None, merged_into: None, created_at: now, updated_at: now, ..row.clone() };
                let mut new_lines = Vec::new();
                for line in lines.iter_mut() {
                    let Some(&units) = moving.get(&line.id) else { continue };
                    if units == line.quantity {
                        // A whole line with nothing assigned moves as it is.
                        line.fulfillment_order_id = new_row.id;
                        new_lines.push(line.clone());
                    } else {
                        line.quantity -= units;
                        new_lines.push(FulfillmentLineRow { id: Uuid::now_v7(), fulfillment_order_id: new_row.id, quantity: units, assigned_quantity: 0, shipped_quantity: 0, ..line.clone() });
                    }
                }
                q::insert_fulfillment_orders(conn, std::slice::from_ref(&new_row), &[]).await?;
                for line in &lines {
                    if moving.contains_key(&line.id) {
                        q::set_line(conn, line).await?;
                    }
                }
                let inserted: Vec<FulfillmentLineRow> = new_lines.iter().filter(|l| !lines.iter().any(|k| k.id == l.id)).cloned().collect();
                q::insert_lines(conn, &inserted).await?;
                let kept: Vec<FulfillmentLineRow> = lines.into_iter().filter(|l| l.fulfillment_order_id == row.id).collect();
                let row = refresh_status(conn, row, &kept).await?;
                let plan = one(conn, row).await?;
                let new_plan = one(conn, new_row).await?;
                fulfillment_event(conn, EventType::FulfillmentOrderCreated, &new_plan, serde_json::json!({ "split_from": plan.id })).await?;
                let extra = serde_json::json!({ "new_fulfillment_order": serde_json::to_value(&new_plan).map_err(anyhow::Error::new)? });
                fulfillment_event(conn, EventType::FulfillmentOrderSplit, &plan, extra).await?;
                Ok((plan, new_plan))
            })
            .await
    }

    /// Joins fulfilment orders of one order at one location into the first named: the
    /// others' lines move to it and they end `cancelled`, `merged_into` it. The ones merged
    /// away must have no units in shipments. Writes `fulfillment_order.merged`.
    pub async fn merge_fulfillment_orders(
        &self,
        ctx: &Ctx,
        input: MergeFulfillmentOrdersInput,
    ) -> Result<FulfillmentOrder, Error> {
        ctx.authorize("shipments:update")?;
        let ids = input.fulfillment_order_ids;
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        if ids.len() < 2 || unique.len() != ids.len() {
            return Err(Error::invalid(
                "fulfillment_order_ids",
                "must name two or more different fulfillment orders",
            ));
        }
        self.db
            .tx(
                "merge_fulfillment_orders",
                async move |conn: &mut AsyncPgConnection| {
                    let (_, target) = Self::lock_plan(conn, ids[0]).await?;
                    let mut others = q::lock_fulfillment_orders(conn, &unique).await?;
                    others.retain(|o| o.id != target.id);
                    let mut v = Validator::default();
                    for (i, id) in ids.iter().enumerate().skip(1) {
                        let field = format!("fulfillment_order_ids[{i}]");
                        match others.iter().find(|o| o.id == *id) {
                            None => v.add(field, "no such fulfillment order"),
                            Some(o) if o.order_id != target.order_id => {
                                v.add(field, "belongs to another order")
                            }
                            Some(o) if o.location_id != target.location_id => {
                                v.add(field, "ships from another location")
                            }
                            Some(o) if o.status != FulfillmentOrderStatus::Open => {
                                v.add(field, format!("is {}; only open ones merge away", o.status))
                            }
                            Some(_) => {}
                        }
                    }
                    v.finish()?;
                    if !target.status.is_workable() {
                        return Err(invalid(target.status, "merge"));
                    }
                    let other_ids: Vec<Uuid> = others.iter().map(|o| o.id).collect();
                    for mut line in q::lock_lines_of(conn, &other_ids).await? {
                        line.fulfillment_order_id = target.id;
                        q::set_line(conn, &line).await?;
                    }
                    for other in others {
                        cancel_plan(
                            conn,
                            other,
                            Some(target.id),
                            serde_json::json!({ "reason": "merged", "merged_into": target.id }),
                        )
                        .await?;
                    }
                    let lines = q::lock_lines_of(conn, &[target.id]).await?;
                    let row = refresh_status(conn, target, &lines).await?;
                    let plan = one(conn, row).await?;
                    fulfillment_event(
                        conn,
                        EventType::FulfillmentOrderMerged,
                        &plan,
                        serde_json::json!({ "merged_fulfillment_order_ids": other_ids }),
                    )
                    .await?;
                    Ok(plan)
                },
            )
            .await
    }
}
