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

mod allocation;
mod counts;
mod ledger;
mod purchasing;
mod transfers;

pub(crate) use allocation::{
    Hold, Want, move_order_reservations, move_variant_reservations, release_order,
    release_reservations, reserve, ship_order, ship_reservations, take_order_units,
};
// The ledger's primitives, for the other parts (each reads `use super::*`).
use ledger::*;

use super::checks::{check_address, optional_text};
use super::error::Validator;
use super::page::{Keyset, Page, PageRequest};
use super::{Ctx, Error, shown_conn};
use crate::events::{self, DomainEvent};
use crate::metrics::{Business, Metrics};
use stateset_db::Db;
use stateset_db::inventory::{
    self as q, CountLineRow, CountRow, ItemRow, ItemSettings, LocationChanges, LocationRow, LotRow,
    MovementRow, PurchaseOrderLineRow, PurchaseOrderRow, ReservationRow, TransferLineRow,
    TransferRow,
};
use stateset_domain::{
    Availability, AvailableToPromise, CountStatus, CycleCount, CycleCountLine, InventoryItem,
    InventoryLot, InventoryMovement, Location, LocationKind, LocationPromise, MovementKind,
    PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatus, Reservation, ReservationStatus,
    StockLevel, Transfer, TransferLine, TransferStatus,
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
    /// Where it ships from (the sender on its labels).
    pub address: Option<stateset_domain::Address>,
}

/// Changes to a location.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct UpdateLocationInput {
    pub name: Option<String>,
    pub kind: Option<LocationKind>,
    pub priority: Option<i32>,
    pub active: Option<bool>,
    /// A new address it ships from.
    pub address: Option<stateset_domain::Address>,
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
        status: row.status.to_string(),
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
            // A malformed SKU names no variant either.
            let found = match stateset_domain::Sku::parse(sku) {
                Ok(sku) => stateset_db::catalog::variant_by_sku(&mut conn, &sku).await?,
                Err(_) => None,
            };
            found.ok_or_else(|| Error::invalid("sku", "no such SKU"))?
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
        let address = input
            .address
            .as_ref()
            .map(|a| check_address(&mut v, "address", a));
        v.finish()?;
        let now = Utc::now();
        let row = LocationRow {
            id: Uuid::now_v7(),
            code,
            name,
            kind: input.kind,
            priority: input.priority.unwrap_or(100),
            active: true,
            created_at: now,
            updated_at: now,
            address: address.map(|a| serde_json::to_value(a).unwrap_or_default()),
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
        let address = input
            .address
            .as_ref()
            .map(|a| check_address(&mut v, "address", a));
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
            address: address.map(|a| Some(serde_json::to_value(a).unwrap_or_default())),
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
        let mut conn = shown_conn(&self.db, ctx, "inventory:read").await?;
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
}

fn same_stock(a: &AvailableToPromise, b: &AvailableToPromise) -> bool {
    (a.on_hand, a.reserved, a.on_order, a.committed)
        == (b.on_hand, b.reserved, b.on_order, b.committed)
}
