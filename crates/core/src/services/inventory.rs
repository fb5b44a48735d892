//! Inventory across locations that never oversells.
//!
//! Every balance change is one ledger row written with it, in the caller's transaction, on
//! rows locked `FOR UPDATE` in id order (so concurrent callers queue instead of deadlocking,
//! and several server instances agree without any in-process lock). Allocation takes
//! locations by priority and, within a location, lots that expire first (never expired ones),
//! then stock outside any lot.

use stateset_domain::EventType;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use diesel_async::AsyncPgConnection;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::checks::optional_text;
use super::error::Validator;
use super::page::{Keyset, Page, PageRequest};
use super::{Ctx, Error};
use crate::events::{self, DomainEvent};
use crate::metrics::{Business, Metrics};
use stateset_db::Db;
use stateset_db::inventory::{
    self as q, CountLineRow, CountRow, ItemRow, ItemSettings, LocationChanges, LocationRow, LotRow,
    MovementRow, PurchaseOrderLineRow, PurchaseOrderRow, ReservationRow, TransferLineRow,
    TransferRow,
};
use stateset_domain::{
    Availability, AvailableToPromise, CycleCount, CycleCountLine, InventoryItem, InventoryLot,
    InventoryMovement, Location, LocationKind, LocationPromise, PurchaseOrder, PurchaseOrderLine,
    Reservation, StockLevel, Transfer, TransferLine,
};

use stateset_domain::quantity::{
    MAX_STOCK_UNITS as MAX_QUANTITY, check_stock_level, check_stock_units,
};

// ------------------------------------------------------------------------------ inputs

/// A new location.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CreateLocationInput {
    /// Short unique code, e.g. `WH-EAST` (letters, digits, `-`, `_`).
    pub code: String,
    pub name: String,
    pub kind: LocationKind,
    /// Lower numbers are allocated from first (default 100).
    pub priority: Option<i32>,
}

/// Changes to a location.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct UpdateLocationInput {
    pub name: Option<String>,
    pub kind: Option<LocationKind>,
    pub priority: Option<i32>,
    pub active: Option<bool>,
}

/// Stock arriving at a location.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct ReceiveInput {
    pub variant_id: Uuid,
    pub location_id: Uuid,
    pub quantity: i32,
    /// Receive into this lot (created when new).
    pub lot_code: Option<String>,
    /// The lot's expiry.
    pub expires_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
}

/// A correction of on-hand stock.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct AdjustInput {
    /// Units to add (positive) or remove (negative).
    pub delta: i32,
    /// Why: `damaged`, `found`, `theft`, ... (required).
    pub reason: String,
}

/// Stock to hold.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct ReserveInput {
    pub quantity: i32,
    /// Reserve what there is when there is not enough (default: all or nothing).
    #[serde(default)]
    #[graphql(default)]
    pub partial: bool,
    pub order_id: Option<Uuid>,
    /// A free-form reference, e.g. a cart token.
    pub reference: Option<String>,
    /// Release automatically after this many seconds (for carts and checkouts).
    pub expires_in_seconds: Option<i64>,
}

/// Stock-keeping settings of an item.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct ItemSettingsInput {
    pub safety_stock: Option<i32>,
    pub reorder_point: Option<i32>,
    pub reorder_quantity: Option<i32>,
}

/// One variant and quantity.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct VariantQuantity {
    pub variant_id: Uuid,
    pub quantity: i32,
}

/// Stock to send from one location to another.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CreateTransferInput {
    pub from_location_id: Uuid,
    pub to_location_id: Uuid,
    pub lines: Vec<VariantQuantity>,
}

/// A counted quantity.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CountInput {
    pub variant_id: Uuid,
    pub counted: i32,
}

/// A new purchase order.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CreatePurchaseOrderInput {
    pub location_id: Uuid,
    pub supplier: String,
    pub expected_at: Option<DateTime<Utc>>,
    pub lines: Vec<VariantQuantity>,
}

/// Units of a purchase order line that arrived.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct ReceiveLineInput {
    pub line_id: Uuid,
    pub quantity: i32,
    pub lot_code: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Which items to list.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct InventoryFilter {
    pub location_id: Option<Uuid>,
    pub sku: Option<String>,
    /// Only items at or below their reorder point.
    #[serde(default)]
    #[graphql(default)]
    pub below_reorder_point: bool,
}

// ------------------------------------------------------------------------------ core

/// One change to an item's balances (and optionally a lot's).
struct Move<'a> {
    kind: &'static str,
    on_hand: i32,
    reserved: i32,
    lot: Option<Uuid>,
    reason: Option<String>,
    reference: Option<(&'a str, Uuid)>,
}

/// Applies `m` to a locked item: balances, lot, ledger row, low-stock crossing.
async fn apply(
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
        kind: m.kind.to_owned(),
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
async fn watch_low_stock(conn: &mut AsyncPgConnection, item: &ItemRow) -> Result<(), Error> {
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

async fn record(
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
fn free_unlotted(item: &ItemRow, lots: &[LotRow]) -> i32 {
    let lot_on_hand: i32 = lots.iter().map(|l| l.on_hand).sum();
    let lot_reserved: i32 = lots.iter().map(|l| l.reserved).sum();
    (item.on_hand - lot_on_hand) - (item.reserved - lot_reserved)
}

fn expired(lot: &LotRow, now: DateTime<Utc>) -> bool {
    lot.expires_at.is_some_and(|at| at <= now)
}

/// Where `quantity` free units of an item may come from, in the order to take them.
/// Allocation (`for_sale`) takes unexpired lots soonest-expiring first, then unlotted stock;
/// removals take expired lots first, then unlotted stock, then the other lots.
fn sources(item: &ItemRow, lots: &[LotRow], for_sale: bool) -> Vec<(Option<Uuid>, i32)> {
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
async fn remove_free(
    conn: &mut AsyncPgConnection,
    actor: &str,
    item: &ItemRow,
    quantity: i32,
    kind: &'static str,
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

async fn sku_of(conn: &mut AsyncPgConnection, variant: Uuid) -> Result<String, Error> {
    Ok(q::skus(conn, &[variant])
        .await?
        .pop()
        .map(|(_, s)| s)
        .unwrap_or_default())
}

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
                    kind: "reserve",
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
                status: "active".into(),
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

fn reservation_json(rows: &[ReservationRow]) -> serde_json::Value {
    rows.iter()
        .map(|r| serde_json::json!({ "id": r.id, "item_id": r.item_id, "lot_id": r.lot_id, "quantity": r.quantity }))
        .collect()
}

/// Releases reservations whose hold ran out on these (locked) items, writing
/// `inventory.released` for them like any other release: one event per order (or per hold
/// without an order), in the order the holds were made.
async fn expire_holds(
    conn: &mut AsyncPgConnection,
    actor: &str,
    item_ids: &[Uuid],
    items: &mut HashMap<Uuid, ItemRow>,
) -> Result<(), Error> {
    let expired = q::expired_reservations(conn, item_ids).await?;
    for r in &expired {
        let reference = r.order_id.map(|o| ("order", o));
        let m = Move {
            kind: "release",
            on_hand: 0,
            reserved: -r.quantity,
            lot: r.lot_id,
            reason: Some("expired".into()),
            reference,
        };
        let updated = apply(conn, actor, r.item_id, m).await?;
        items.insert(r.item_id, updated);
        q::set_reservation(conn, r.id, "expired", r.quantity, r.order_id).await?;
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
async fn settled_event(
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
async fn settle(
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
            ("ship", -r.quantity, "committed")
        } else {
            ("release", 0, "released")
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

/// Moves `quantity` reserved units of a variant from one order to another (a split),
/// splitting a reservation when it holds more than needed.
pub(crate) async fn move_variant_reservations(
    conn: &mut AsyncPgConnection,
    from: Uuid,
    to: Uuid,
    variant_id: Uuid,
    quantity: i32,
) -> Result<(), Error> {
    let mut left = quantity;
    for r in q::lock_order_variant_reservations(conn, from, variant_id).await? {
        if left == 0 {
            break;
        }
        if r.quantity <= left {
            q::set_reservation(conn, r.id, "active", r.quantity, Some(to)).await?;
            left -= r.quantity;
        } else {
            q::set_reservation(conn, r.id, "active", r.quantity - left, Some(from)).await?;
            let moved = ReservationRow {
                id: Uuid::now_v7(),
                order_id: Some(to),
                quantity: left,
                ..r
            };
            q::insert_reservation(conn, &moved).await?;
            left = 0;
        }
    }
    Ok(())
}

fn check_quantity(v: &mut Validator, field: &str, quantity: i32) {
    v.check(field, check_stock_units(quantity));
}

// ------------------------------------------------------------------------------ service

/// The inventory service.
#[derive(Clone)]
pub struct InventoryService {
    db: Db,
    /// The event feed that `watch` follows.
    events: super::EventService,
    metrics: Arc<Metrics>,
    storefront: crate::config::StorefrontSettings,
}

fn reservation_view(row: ReservationRow, item: &ItemRow) -> Reservation {
    Reservation {
        id: row.id,
        item_id: row.item_id,
        location_id: item.location_id,
        variant_id: item.variant_id,
        lot_id: row.lot_id,
        order_id: row.order_id,
        reference: row.reference,
        quantity: row.quantity,
        status: row.status,
        expires_at: row.expires_at,
        created_at: row.created_at,
    }
}

async fn item_view(conn: &mut AsyncPgConnection, item: ItemRow) -> Result<InventoryItem, Error> {
    let sku = sku_of(conn, item.variant_id).await?;
    Ok(item.into_domain(sku))
}

impl InventoryService {
    pub fn new(
        db: Db,
        events: super::EventService,
        metrics: Arc<Metrics>,
        storefront: crate::config::StorefrontSettings,
    ) -> Self {
        Self {
            db,
            events,
            metrics,
            storefront,
        }
    }

    /// A live feed of one SKU's stock: its available-to-promise now, then again whenever a
    /// stock change alters it.
    pub async fn watch(
        &self,
        ctx: &Ctx,
        sku: &str,
    ) -> Result<impl futures::Stream<Item = Result<AvailableToPromise, Error>> + Send + use<>, Error>
    {
        use futures::StreamExt as _;
        ctx.authorize("inventory:read")?;
        let variant = {
            let mut conn = self.db.conn().await?;
            stateset_db::catalog::variant_by_sku(&mut conn, sku.trim())
                .await?
                .ok_or_else(|| Error::invalid("sku", "no such SKU"))?
        };
        let after = Some(self.events.head().await?);
        let query = super::events::EventQuery {
            types: vec!["inventory.*".into()],
            after,
            ..Default::default()
        };
        let changes = self.events.subscribe(ctx, query).await?;
        let first = self.available_to_promise(ctx, variant).await?;
        let (service, ctx) = (self.clone(), ctx.clone());
        let updates = changes
            .then(move |event| {
                let (service, ctx) = (service.clone(), ctx.clone());
                async move {
                    event?;
                    service.available_to_promise(&ctx, variant).await
                }
            })
            .scan(Some(first.clone()), |last, next| {
                let item = match next {
                    Ok(next) if last.as_ref().is_some_and(|l| same_stock(l, &next)) => Some(None),
                    Ok(next) => {
                        *last = Some(next.clone());
                        Some(Some(Ok(next)))
                    }
                    Err(err) => Some(Some(Err(err))),
                };
                futures::future::ready(item)
            })
            .filter_map(futures::future::ready);
        Ok(futures::stream::iter([Ok(first)]).chain(updates))
    }

    // ---- locations

    /// Creates a location.
    pub async fn create_location(
        &self,
        ctx: &Ctx,
        input: CreateLocationInput,
    ) -> Result<Location, Error> {
        ctx.authorize("inventory:manage")?;
        let mut v = Validator::default();
        let code = input.code.trim().to_owned();
        if code.is_empty()
            || code.len() > 32
            || !code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            v.add("code", "must be 1 to 32 letters, digits, `-` or `_`");
        }
        let name = optional_text(&mut v, "name", Some(&input.name), 200).unwrap_or_default();
        if name.is_empty() {
            v.add("name", "must not be empty");
        }
        v.finish()?;
        let now = Utc::now();
        let row = LocationRow {
            id: Uuid::now_v7(),
            code,
            name,
            kind: input.kind.as_str().to_owned(),
            priority: input.priority.unwrap_or(100),
            active: true,
            created_at: now,
            updated_at: now,
        };
        let mut conn = self.db.conn().await?;
        q::insert_location(&mut conn, &row)
            .await
            .map_err(|e| match Error::from(e) {
                Error::Conflict { .. } => Error::Conflict {
                    field: Some("code".into()),
                    message: "a location with this code exists".into(),
                },
                other => other,
            })?;
        Ok(row.into())
    }

    /// Every location, by priority.
    pub async fn list_locations(&self, ctx: &Ctx) -> Result<Vec<Location>, Error> {
        ctx.authorize("inventory:read")?;
        let mut conn = self.db.conn().await?;
        Ok(q::all_locations(&mut conn)
            .await?
            .into_iter()
            .map(Location::from)
            .collect())
    }

    /// Changes a location; an inactive one is never allocated from.
    pub async fn update_location(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: UpdateLocationInput,
    ) -> Result<Location, Error> {
        ctx.authorize("inventory:manage")?;
        let mut v = Validator::default();
        let name = input
            .name
            .as_deref()
            .and_then(|n| optional_text(&mut v, "name", Some(n), 200));
        v.finish()?;
        let mut conn = self.db.conn().await?;
        q::location_by_id(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found("location", id))?;
        let changes = LocationChanges {
            name,
            kind: input.kind.map(|k| k.as_str().to_owned()),
            priority: input.priority,
            active: input.active,
            updated_at: Some(Utc::now()),
        };
        Ok(q::update_location(&mut conn, id, &changes).await?.into())
    }

    // ---- reads

    /// Items, filtered by location, SKU or low stock, in a stable order.
    pub async fn list_items(
        &self,
        ctx: &Ctx,
        filter: InventoryFilter,
        page: PageRequest,
    ) -> Result<Page<InventoryItem>, Error> {
        ctx.authorize("inventory:read")?;
        let limit = page.limit()?;
        let after = page.keyset("id")?.map(|k| k.id);
        let filter = q::ItemFilter {
            location_id: filter.location_id,
            sku: filter.sku,
            low_stock_only: filter.below_reorder_point,
        };
        let mut conn = self.db.conn().await?;
        let (rows, total) = q::list_items(&mut conn, &filter, after, limit + 1).await?;
        let position = |(row, _): &(ItemRow, String)| Keyset {
            key: String::new(),
            id: row.id,
        };
        Ok(page.page("id", limit, rows, total, position, |(row, sku)| {
            row.into_domain(sku)
        }))
    }

    /// One item.
    pub async fn get_item(&self, ctx: &Ctx, id: Uuid) -> Result<InventoryItem, Error> {
        ctx.authorize("inventory:read")?;
        let mut conn = self.db.conn().await?;
        let item = q::item_by_id(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found("inventory item", id))?;
        item_view(&mut conn, item).await
    }

    /// Items at or below their reorder point, in id order.
    pub async fn low_stock(
        &self,
        ctx: &Ctx,
        page: PageRequest,
    ) -> Result<Page<InventoryItem>, Error> {
        let filter = InventoryFilter {
            below_reorder_point: true,
            ..Default::default()
        };
        self.list_items(ctx, filter, page).await
    }

    /// The stock of each variant across locations (the batch behind GraphQL's loader).
    pub async fn items_by_variant(
        &self,
        ctx: &Ctx,
        variant_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<InventoryItem>>, Error> {
        ctx.authorize("inventory:read")?;
        let mut conn = self.db.conn().await?;
        let skus: HashMap<Uuid, String> =
            q::skus(&mut conn, variant_ids).await?.into_iter().collect();
        let mut by_variant: HashMap<Uuid, Vec<InventoryItem>> = HashMap::new();
        for item in q::items_of_variants(&mut conn, variant_ids).await? {
            let sku = skus.get(&item.variant_id).cloned().unwrap_or_default();
            by_variant
                .entry(item.variant_id)
                .or_default()
                .push(item.into_domain(sku));
        }
        Ok(by_variant)
    }

    /// Whether shoppers see units for sale (`STOREFRONT_STOCK_DISPLAY=quantity`), not only
    /// levels.
    pub fn shows_numbers(&self) -> bool {
        self.storefront.stock_display == crate::config::StockDisplay::Quantity
    }

    /// What a shopper may know of the stock of active products' variants (`of` a product or
    /// a list of variants): the level always, the units for sale unless the merchant shows
    /// levels only (staff with `inventory:read` always see them). Variants of products not on
    /// sale are left out. Anyone who may read the catalog may ask.
    pub async fn availability(
        &self,
        ctx: &Ctx,
        of: stateset_domain::SellableOf<'_>,
    ) -> Result<Vec<Availability>, Error> {
        ctx.authorize("products:read")?;
        let numbers = ctx.access("inventory:read").is_some() || self.shows_numbers();
        let threshold = self.storefront.low_stock_threshold;
        let mut conn = self.db.conn().await?;
        Ok(q::sellable(&mut conn, of)
            .await?
            .into_iter()
            .map(|row| Availability {
                variant_id: row.variant_id,
                sku: row.sku,
                stock_level: StockLevel::of(row.sellable, threshold),
                available: row
                    .sellable
                    .filter(|_| numbers)
                    .map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
            })
            .collect())
    }

    /// Available to promise: `available + on_order − committed` (committed = safety stock),
    /// in total and per location.
    pub async fn available_to_promise(
        &self,
        ctx: &Ctx,
        variant_id: Uuid,
    ) -> Result<AvailableToPromise, Error> {
        let items = self
            .items_by_variant(ctx, &[variant_id])
            .await?
            .remove(&variant_id)
            .unwrap_or_default();
        let locations: Vec<LocationPromise> = items
            .iter()
            .map(|i| LocationPromise {
                location_id: i.location_id,
                available: i.available,
                on_order: i.on_order,
                committed: i.safety_stock,
                available_to_promise: (i.available + i.on_order - i.safety_stock).max(0),
            })
            .collect();
        let sum = |f: fn(&InventoryItem) -> i32| items.iter().map(f).sum::<i32>();
        let (available, on_order, committed) = (
            sum(|i| i.available),
            sum(|i| i.on_order),
            sum(|i| i.safety_stock),
        );
        Ok(AvailableToPromise {
            variant_id,
            on_hand: sum(|i| i.on_hand),
            reserved: sum(|i| i.reserved),
            available,
            on_order,
            committed,
            available_to_promise: (available + on_order - committed).max(0),
            locations,
        })
    }

    /// An item's lots, soonest expiry first.
    pub async fn lots(&self, ctx: &Ctx, item_id: Uuid) -> Result<Vec<InventoryLot>, Error> {
        ctx.authorize("inventory:read")?;
        let mut conn = self.db.conn().await?;
        q::item_by_id(&mut conn, item_id)
            .await?
            .ok_or_else(|| Error::not_found("inventory item", item_id))?;
        Ok(q::lots_of_item(&mut conn, item_id)
            .await?
            .into_iter()
            .map(InventoryLot::from)
            .collect())
    }

    /// An item's ledger, oldest first.
    pub async fn movements(
        &self,
        ctx: &Ctx,
        item_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<InventoryMovement>, Error> {
        ctx.authorize("inventory:read")?;
        let limit = page.limit()?;
        let after = page.keyset("created_at")?;
        let mut conn = self.db.conn().await?;
        q::item_by_id(&mut conn, item_id)
            .await?
            .ok_or_else(|| Error::not_found("inventory item", item_id))?;
        let (rows, total) = q::movements_of_item(&mut conn, item_id, after, limit + 1).await?;
        let position = |row: &MovementRow| Keyset::created(row.created_at, row.id);
        Ok(page.page(
            "created_at",
            limit,
            rows,
            total,
            position,
            InventoryMovement::from,
        ))
    }

    /// An item's reservations, in id order (the order they were made).
    pub async fn reservations(
        &self,
        ctx: &Ctx,
        item_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<Reservation>, Error> {
        ctx.authorize("inventory:read")?;
        let limit = page.limit()?;
        let after = page.keyset("id")?.map(|k| k.id);
        let mut conn = self.db.conn().await?;
        let item = q::item_by_id(&mut conn, item_id)
            .await?
            .ok_or_else(|| Error::not_found("inventory item", item_id))?;
        let (rows, total) = q::reservations_of_item(&mut conn, item_id, after, limit + 1).await?;
        let position = |row: &ReservationRow| Keyset {
            key: String::new(),
            id: row.id,
        };
        Ok(page.page("id", limit, rows, total, position, |row| {
            reservation_view(row, &item)
        }))
    }

    /// Items whose balances differ from their ledger; empty when the books balance.
    pub async fn unreconciled(&self, ctx: &Ctx) -> Result<Vec<Uuid>, Error> {
        ctx.authorize("inventory:read")?;
        let mut conn = self.db.conn().await?;
        Ok(q::unreconciled_items(&mut conn)
            .await?
            .into_iter()
            .map(|(id, ..)| id)
            .collect())
    }

    // ---- movements

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
                let m = Move { kind: "receive", on_hand: input.quantity, reserved: 0, lot, reason: reason.clone(), reference: None };
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
                    apply(conn, actor, item_id, Move { kind: "adjust", on_hand: delta, reserved: 0, lot: None, reason: reason.clone(), reference: None }).await?;
                } else {
                    remove_free(conn, actor, &item, -delta, "adjust", reason.clone(), None).await.map_err(|e| match e {
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
                    if row.status != "active" {
                        return Err(Error::InvalidState {
                            from: row.status.clone(),
                            action: "release".into(),
                        });
                    }
                    settle(conn, actor, std::slice::from_ref(&row), false).await?;
                    let item = q::item_by_id(conn, row.item_id)
                        .await?
                        .ok_or_else(|| Error::not_found("inventory item", row.item_id))?;
                    Ok(reservation_view(
                        ReservationRow {
                            status: "released".into(),
                            ..row
                        },
                        &item,
                    ))
                })
            })
            .await
    }

    /// Changes an item's safety stock and reorder settings.
    pub async fn update_item_settings(
        &self,
        ctx: &Ctx,
        item_id: Uuid,
        input: ItemSettingsInput,
    ) -> Result<InventoryItem, Error> {
        ctx.authorize("inventory:manage")?;
        let mut v = Validator::default();
        for (field, value) in [
            ("safety_stock", input.safety_stock),
            ("reorder_point", input.reorder_point),
            ("reorder_quantity", input.reorder_quantity),
        ] {
            if let Some(level) = value {
                v.check(field, check_stock_level(level));
            }
        }
        v.finish()?;
        let settings = ItemSettings {
            safety_stock: input.safety_stock,
            reorder_point: input.reorder_point.map(Some),
            reorder_quantity: input.reorder_quantity.map(Some),
            updated_at: Some(Utc::now()),
        };
        self.db
            .tx_retrying("update_item_settings", move |conn| {
                let settings = settings.clone();
                Box::pin(async move {
                    let settings = &settings;
                    q::lock_items(conn, &[item_id])
                        .await?
                        .pop()
                        .ok_or_else(|| Error::not_found("inventory item", item_id))?;
                    let item = q::update_item_settings(conn, item_id, settings).await?;
                    watch_low_stock(conn, &item).await?;
                    let item = q::item_by_id(conn, item_id)
                        .await?
                        .ok_or_else(|| Error::not_found("inventory item", item_id))?;
                    item_view(conn, item).await
                })
            })
            .await
    }

    // ---- transfers

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
                            "transfer_out",
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
                        status: "in_transit".into(),
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
                    if row.status != "in_transit" {
                        return Err(Error::InvalidState {
                            from: row.status.clone(),
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
                            kind: "transfer_in",
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
                    status: "open".into(),
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
                if row.status != "open" {
                    return Err(Error::InvalidState {
                        from: row.status.clone(),
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
                    if row.status != "open" {
                        return Err(Error::InvalidState {
                            from: row.status.clone(),
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
                                    kind: "count_correction",
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
                                "count_correction",
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
                        status: "open".into(),
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
                    if !matches!(row.status.as_str(), "open" | "partially_received") {
                        return Err(Error::InvalidState {
                            from: row.status.clone(),
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
                            kind: "receive",
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
                        "received"
                    } else {
                        "partially_received"
                    };
                    q::set_purchase_order_status(conn, id, status).await?;
                    let view = purchase_order_view(
                        PurchaseOrderRow {
                            status: status.into(),
                            ..row
                        },
                        lines,
                    );
                    let data = serde_json::to_value(&view).map_err(anyhow::Error::new)?;
                    record(conn, EventType::InventoryReceived, id, data).await?;
                    Ok(view)
                })
            })
            .await
    }
}

fn same_stock(a: &AvailableToPromise, b: &AvailableToPromise) -> bool {
    (a.on_hand, a.reserved, a.on_order, a.committed)
        == (b.on_hand, b.reserved, b.on_order, b.committed)
}

fn transfer_view(row: TransferRow, lines: &[TransferLineRow]) -> Transfer {
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
        status: row.status,
        lines: merged,
        created_at: row.created_at,
        received_at: row.received_at,
    }
}

async fn count_view(
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
        status: row.status,
        lines,
        created_at: row.created_at,
        posted_at: row.posted_at,
    })
}

fn purchase_order_view(row: PurchaseOrderRow, lines: Vec<PurchaseOrderLineRow>) -> PurchaseOrder {
    PurchaseOrder {
        id: row.id,
        number: row.number,
        location_id: row.location_id,
        supplier: row.supplier,
        expected_at: row.expected_at,
        status: row.status,
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
