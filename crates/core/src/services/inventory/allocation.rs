//! Allocation: reservations taken by location priority and lot expiry, holds that run out,
//! and what orders do with their stock (release, ship, move on merge and split).

use super::*;

/// What to reserve.
#[derive(Clone)]
pub(crate) struct Want {
    pub variant_id: Uuid,
    /// Only this item (one location), or any item of the variant.
    pub item_id: Option<Uuid>,
    pub quantity: i32,
}

/// How to reserve.
#[derive(Clone)]
pub(crate) struct Hold {
    pub order_id: Option<Uuid>,
    pub reference: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub partial: bool,
    /// Skip variants that have no stock records at all (not stock-tracked).
    pub tracked_only: bool,
}

/// Reserves `wants` in the caller's transaction, across locations by priority; all or
/// nothing unless `hold.partial`. Fails with `INSUFFICIENT_STOCK` naming the SKU.
pub(crate) async fn reserve(
    conn: &mut AsyncPgConnection,
    actor: &str,
    wants: &[Want],
    hold: &Hold,
) -> Result<Vec<ReservationRow>, Error> {
    let mut variant_ids: Vec<Uuid> = wants.iter().map(|w| w.variant_id).collect();
    variant_ids.sort();
    variant_ids.dedup();
    let locked = q::lock_items_of_variants(conn, &variant_ids).await?;
    let item_ids: Vec<Uuid> = locked.iter().map(|i| i.id).collect();
    let mut items: HashMap<Uuid, ItemRow> = locked.into_iter().map(|i| (i.id, i)).collect();
    expire_holds(conn, actor, &item_ids, &mut items).await?;
    let mut lots: HashMap<Uuid, Vec<LotRow>> = HashMap::new();
    for lot in q::lock_lots(conn, &item_ids).await? {
        lots.entry(lot.item_id).or_default().push(lot);
    }
    let locations: HashMap<Uuid, LocationRow> = q::all_locations(conn)
        .await?
        .into_iter()
        .map(|l| (l.id, l))
        .collect();
    let skus: HashMap<Uuid, String> = q::skus(conn, &variant_ids).await?.into_iter().collect();

    let mut made = Vec::new();
    for want in wants {
        let mut candidates: Vec<Uuid> = items
            .values()
            .filter(|i| {
                i.variant_id == want.variant_id && want.item_id.is_none_or(|only| only == i.id)
            })
            .filter(|i| locations.get(&i.location_id).is_some_and(|l| l.active))
            .map(|i| i.id)
            .collect();
        let tracked = items.values().any(|i| i.variant_id == want.variant_id);
        if !tracked && hold.tracked_only {
            continue;
        }
        candidates.sort_by_key(|id| {
            let location = items.get(id).and_then(|i| locations.get(&i.location_id));
            (
                location.map(|l| l.priority),
                location.map(|l| l.code.clone()),
            )
        });
        let mut plan: Vec<(Uuid, Option<Uuid>, i32)> = Vec::new();
        let mut left = want.quantity;
        for id in &candidates {
            let (Some(item), item_lots) = (
                items.get(id),
                lots.get(id).map(Vec::as_slice).unwrap_or_default(),
            ) else {
                continue;
            };
            for (lot, free) in sources(item, item_lots, true) {
                if left == 0 {
                    break;
                }
                let take = free.min(left);
                plan.push((*id, lot, take));
                left -= take;
            }
        }
        let sku = skus.get(&want.variant_id).cloned().unwrap_or_default();
        if left > 0 && !hold.partial {
            return Err(Error::InsufficientStock {
                sku,
                requested: want.quantity,
                available: want.quantity - left,
            });
        }
        for (item_id, lot, quantity) in plan {
            let reference = hold.order_id.map(|order| ("order", order));
            let updated = apply(
                conn,
                actor,
                item_id,
                Move {
                    kind: MovementKind::Reserve,
                    on_hand: 0,
                    reserved: quantity,
                    lot,
                    reason: None,
                    reference,
                },
            )
            .await?;
            items.insert(item_id, updated);
            if let Some(lot_id) = lot
                && let Some(l) = lots
                    .get_mut(&item_id)
                    .and_then(|ls| ls.iter_mut().find(|l| l.id == lot_id))
            {
                l.reserved += quantity;
            }
            let row = ReservationRow {
                id: Uuid::now_v7(),
                item_id,
                lot_id: lot,
                order_id: hold.order_id,
                reference: hold.reference.clone(),
                quantity,
                status: ReservationStatus::Active,
                expires_at: hold.expires_at,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            };
            q::insert_reservation(conn, &row).await?;
            made.push(row);
        }
    }
    if !made.is_empty() {
        let entity = made[0].order_id.unwrap_or(made[0].item_id);
        let data = serde_json::json!({ "order_id": hold.order_id, "reference": hold.reference, "reservations": reservation_json(&made) });
        record(conn, EventType::InventoryReserved, entity, data).await?;
    }
    Ok(made)
}

pub(super) fn reservation_json(rows: &[ReservationRow]) -> serde_json::Value {
    rows.iter()
        .map(|r| serde_json::json!({ "id": r.id, "item_id": r.item_id, "lot_id": r.lot_id, "quantity": r.quantity }))
        .collect()
}

/// Releases reservations whose hold ran out on these (locked) items, writing
/// `inventory.released` for them like any other release: one event per order (or per hold
/// without an order), in the order the holds were made.
pub(super) async fn expire_holds(
    conn: &mut AsyncPgConnection,
    actor: &str,
    item_ids: &[Uuid],
    items: &mut HashMap<Uuid, ItemRow>,
) -> Result<(), Error> {
    let expired = q::expired_reservations(conn, item_ids).await?;
    for r in &expired {
        let reference = r.order_id.map(|o| ("order", o));
        let m = Move {
            kind: MovementKind::Release,
            on_hand: 0,
            reserved: -r.quantity,
            lot: r.lot_id,
            reason: Some("expired".into()),
            reference,
        };
        let updated = apply(conn, actor, r.item_id, m).await?;
        items.insert(r.item_id, updated);
        q::set_reservation(
            conn,
            r.id,
            ReservationStatus::Expired,
            r.quantity,
            r.order_id,
        )
        .await?;
    }
    let mut by_order: Vec<Vec<ReservationRow>> = Vec::new();
    for r in expired {
        match by_order
            .iter_mut()
            .find(|group| r.order_id.is_some() && group[0].order_id == r.order_id)
        {
            Some(group) => group.push(r),
            None => by_order.push(vec![r]),
        }
    }
    for group in by_order {
        settled_event(conn, EventType::InventoryReleased, &group).await?;
    }
    Ok(())
}

/// Writes the event of reservations ended together (`inventory.released` or
/// `inventory.shipped`): the order and the reservations, about the order or else the item.
pub(super) async fn settled_event(
    conn: &mut AsyncPgConnection,
    event_type: EventType,
    rows: &[ReservationRow],
) -> Result<(), Error> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let data =
        serde_json::json!({ "order_id": first.order_id, "reservations": reservation_json(rows) });
    record(
        conn,
        event_type,
        first.order_id.unwrap_or(first.item_id),
        data,
    )
    .await
}

/// Ends reservations: `release` gives the units back, `ship` takes them out of stock.
pub(super) async fn settle(
    conn: &mut AsyncPgConnection,
    actor: &str,
    rows: &[ReservationRow],
    ship: bool,
) -> Result<(), Error> {
    let mut ids: Vec<Uuid> = rows.iter().map(|r| r.item_id).collect();
    ids.sort();
    ids.dedup();
    q::lock_items(conn, &ids).await?;
    for r in rows {
        let reference = r.order_id.map(|o| ("order", o));
        let (kind, on_hand, status) = if ship {
            (
                MovementKind::Ship,
                -r.quantity,
                ReservationStatus::Committed,
            )
        } else {
            (MovementKind::Release, 0, ReservationStatus::Released)
        };
        apply(
            conn,
            actor,
            r.item_id,
            Move {
                kind,
                on_hand,
                reserved: -r.quantity,
                lot: r.lot_id,
                reason: None,
                reference,
            },
        )
        .await?;
        q::set_reservation(conn, r.id, status, r.quantity, r.order_id).await?;
    }
    let event = if ship {
        EventType::InventoryShipped
    } else {
        EventType::InventoryReleased
    };
    settled_event(conn, event, rows).await
}

/// Releases every active reservation of an order (cancellation).
pub(crate) async fn release_order(
    conn: &mut AsyncPgConnection,
    actor: &str,
    order_id: Uuid,
) -> Result<(), Error> {
    let rows = q::lock_order_reservations(conn, order_id).await?;
    settle(conn, actor, &rows, false).await
}

/// Takes an order's reserved units out of stock (shipment).
pub(crate) async fn ship_order(
    conn: &mut AsyncPgConnection,
    actor: &str,
    order_id: Uuid,
) -> Result<(), Error> {
    let rows = q::lock_order_reservations(conn, order_id).await?;
    settle(conn, actor, &rows, true).await
}

/// Moves the reservations of merged orders to the order they merged into.
pub(crate) async fn move_order_reservations(
    conn: &mut AsyncPgConnection,
    from: &[Uuid],
    to: Uuid,
) -> Result<(), Error> {
    Ok(q::move_all_reservations(conn, from, to).await?)
}

/// Takes `quantity` units out of these locked reservations, oldest first: whole rows while
/// they fit, and a row holding more than is still needed is split (the rest stays on it,
/// the part taken becomes a new active row). Returns the rows taken; fewer units than asked
/// when the rows hold fewer.
async fn take(
    conn: &mut AsyncPgConnection,
    rows: Vec<ReservationRow>,
    quantity: i32,
) -> Result<Vec<ReservationRow>, Error> {
    let mut left = quantity;
    let mut taken = Vec::new();
    for r in rows {
        if left == 0 {
            break;
        }
        if r.quantity <= left {
            left -= r.quantity;
            taken.push(r);
        } else {
            q::set_reservation(
                conn,
                r.id,
                ReservationStatus::Active,
                r.quantity - left,
                r.order_id,
            )
            .await?;
            let part = ReservationRow {
                id: Uuid::now_v7(),
                quantity: left,
                ..r
            };
            q::insert_reservation(conn, &part).await?;
            taken.push(part);
            left = 0;
        }
    }
    Ok(taken)
}

/// Moves `quantity` reserved units of a variant from one order to another (a split),
/// splitting a reservation when it holds more than needed.
pub(crate) async fn move_variant_reservations(
    conn: &mut AsyncPgConnection,
    from: Uuid,
    to: Uuid,
    variant_id: Uuid,
    quantity: i32,
) -> Result<(), Error> {
    let rows = q::lock_order_variant_reservations(conn, from, variant_id).await?;
    for r in take(conn, rows, quantity).await? {
        q::set_reservation(conn, r.id, ReservationStatus::Active, r.quantity, Some(to)).await?;
    }
    Ok(())
}

/// The reservations holding `quantity` units of a variant for an order at one location,
/// split off so they can be shipped or released on their own. Empty for a variant that is
/// not stock-tracked; `INSUFFICIENT_STOCK` when a tracked one holds fewer units there. Call
/// it once per variant and location: rows taken whole stay active until settled, so a second
/// call would find them again.
pub(crate) async fn take_order_units(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    location_id: Uuid,
    variant_id: Uuid,
    quantity: i32,
) -> Result<Vec<ReservationRow>, Error> {
    let rows = q::lock_order_reservations_at(conn, order_id, variant_id, location_id).await?;
    let taken = take(conn, rows, quantity).await?;
    let held: i32 = taken.iter().map(|r| r.quantity).sum();
    // A variant the order never reserved was not stock-tracked when it was placed (even if
    // it is now): nothing to take. Fewer units than reserved is a fault, never shipped past.
    if held < quantity && (held > 0 || q::order_ever_reserved(conn, order_id, variant_id).await?) {
        let sku = q::skus(conn, &[variant_id])
            .await?
            .pop()
            .map(|(_, sku)| sku)
            .unwrap_or_default();
        return Err(Error::InsufficientStock {
            sku,
            requested: quantity,
            available: held,
        });
    }
    Ok(taken)
}

/// Takes reserved units out of stock (they left in a shipment): ledger rows, lots, and one
/// `inventory.shipped`.
pub(crate) async fn ship_reservations(
    conn: &mut AsyncPgConnection,
    actor: &str,
    rows: &[ReservationRow],
) -> Result<(), Error> {
    if rows.is_empty() {
        return Ok(());
    }
    settle(conn, actor, rows, true).await
}

/// Gives reserved units back to stock: ledger rows, lots, and one `inventory.released`.
pub(crate) async fn release_reservations(
    conn: &mut AsyncPgConnection,
    actor: &str,
    rows: &[ReservationRow],
) -> Result<(), Error> {
    if rows.is_empty() {
        return Ok(());
    }
    settle(conn, actor, rows, false).await
}

impl InventoryService {
    /// Holds stock of one item (one location). Writes `inventory.reserved`.
    pub async fn reserve_item(
        &self,
        ctx: &Ctx,
        item_id: Uuid,
        input: ReserveInput,
    ) -> Result<Vec<Reservation>, Error> {
        ctx.authorize("inventory:reserve")?;
        let variant = {
            let mut conn = self.db.conn().await?;
            q::item_by_id(&mut conn, item_id)
                .await?
                .ok_or_else(|| Error::not_found("inventory item", item_id))?
                .variant_id
        };
        self.reserve_stock(
            ctx,
            Want {
                variant_id: variant,
                item_id: Some(item_id),
                quantity: input.quantity,
            },
            input,
        )
        .await
    }

    /// Holds stock of a variant across locations by priority. Writes `inventory.reserved`.
    pub async fn reserve_variant(
        &self,
        ctx: &Ctx,
        variant_id: Uuid,
        input: ReserveInput,
    ) -> Result<Vec<Reservation>, Error> {
        self.reserve_stock(
            ctx,
            Want {
                variant_id,
                item_id: None,
                quantity: input.quantity,
            },
            input,
        )
        .await
    }

    async fn reserve_stock(
        &self,
        ctx: &Ctx,
        want: Want,
        input: ReserveInput,
    ) -> Result<Vec<Reservation>, Error> {
        ctx.authorize("inventory:reserve")?;
        let mut v = Validator::default();
        check_quantity(&mut v, "quantity", input.quantity);
        let reference = optional_text(&mut v, "reference", input.reference.as_deref(), 200);
        if input
            .expires_in_seconds
            .is_some_and(|s| !(1..=30 * 24 * 3600).contains(&s))
        {
            v.add("expires_in_seconds", "must be between 1 and 2592000");
        }
        v.finish()?;
        let hold = Hold {
            order_id: input.order_id,
            reference,
            expires_at: input
                .expires_in_seconds
                .map(|s| Utc::now() + Duration::seconds(s)),
            partial: input.partial,
            tracked_only: false,
        };
        let actor = ctx.principal.key();
        let reserved = self
            .db
            .tx_retrying("reserve_stock", move |conn| {
                let (actor, hold, want) = (actor.clone(), hold.clone(), want.clone());
                Box::pin(async move {
                    let (actor, hold, want) = (&actor, &hold, &want);
                    let rows = reserve(conn, actor, std::slice::from_ref(want), hold).await?;
                    let mut views = Vec::new();
                    for row in rows {
                        let item = q::item_by_id(conn, row.item_id)
                            .await?
                            .ok_or_else(|| Error::not_found("inventory item", row.item_id))?;
                        views.push(reservation_view(row, &item));
                    }
                    Ok::<_, Error>(views)
                })
            })
            .await?;
        self.metrics
            .observe_business(Business::StockReserved, reserved.len() as u64);
        Ok(reserved)
    }

    /// Gives reserved stock back. Writes `inventory.released`.
    pub async fn release(&self, ctx: &Ctx, reservation_id: Uuid) -> Result<Reservation, Error> {
        self.release_at(ctx, reservation_id, None).await
    }

    /// Releases a reservation, which must be on `item` when one is named (REST's
    /// `/inventory/{id}/release`); another item's reservation is `NOT_FOUND` and stays held.
    pub async fn release_at(
        &self,
        ctx: &Ctx,
        reservation_id: Uuid,
        item: Option<Uuid>,
    ) -> Result<Reservation, Error> {
        ctx.authorize("inventory:reserve")?;
        let actor = ctx.principal.key();
        self.db
            .tx_retrying("release_at", move |conn| {
                let actor = actor.clone();
                Box::pin(async move {
                    let actor = &actor;
                    let row = q::lock_reservation(conn, reservation_id)
                        .await?
                        .filter(|row| item.is_none_or(|item| item == row.item_id))
                        .ok_or_else(|| Error::not_found("reservation", reservation_id))?;
                    if row.status != ReservationStatus::Active {
                        return Err(Error::InvalidState {
                            from: row.status.to_string(),
                            action: "release".into(),
                        });
                    }
                    settle(conn, actor, std::slice::from_ref(&row), false).await?;
                    let item = q::item_by_id(conn, row.item_id)
                        .await?
                        .ok_or_else(|| Error::not_found("inventory item", row.item_id))?;
                    Ok(reservation_view(
                        ReservationRow {
                            status: ReservationStatus::Released,
                            ..row
                        },
                        &item,
                    ))
                })
            })
            .await
    }
}
