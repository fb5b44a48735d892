//! Inventory: stock per location, available to promise, and every stock operation.

use std::collections::HashMap;

use async_graphql::connection::Connection;
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{ComplexObject, Context, Object};
use uuid::Uuid;

use super::loaders::{AvailabilityLoader, InventoryLoader};
use super::nodes::VariantStock;
use super::{ContextExt as _, GqlResult as _, ListTotals, VariantNode, connection, page_request};
use crate::domain::{
    Availability, AvailableToPromise, CycleCount, InventoryItem, InventoryLot, InventoryMovement,
    Location, PurchaseOrder, Reservation, StockLevel, Transfer,
};
use crate::services::Error;
use crate::services::inventory::{
    AdjustInput, CountInput, CreateLocationInput, CreatePurchaseOrderInput, CreateTransferInput,
    InventoryFilter, ItemSettingsInput, ReceiveInput, ReceiveLineInput, ReserveInput,
    UpdateLocationInput,
};

/// The variants of a product list as nodes, with the stock their selection reads loaded in
/// one batch per loader for the whole list. Each variant's stock fields would batch through
/// the DataLoaders too, but those fields resolve one by one after the variants arrive, and a
/// slow moment between them splits the batch into several queries.
pub(super) async fn with_stock(
    ctx: &Context<'_>,
    variants: Vec<crate::domain::Variant>,
) -> async_graphql::Result<Vec<VariantNode>> {
    let selection = ctx.look_ahead();
    let reads_available = selection.field("available").exists();
    let staff = reads_stock_records(ctx)?;
    let wants_items = selection.field("inventory").exists() || (staff && reads_available);
    let wants_shown = selection.field("stockLevel").exists() || (!staff && reads_available);
    if variants.is_empty() || !(wants_items || wants_shown) {
        return Ok(variants.into_iter().map(VariantNode::from).collect());
    }
    let ids: Vec<Uuid> = variants.iter().map(|v| v.id).collect();
    let (mut items, mut shown) = futures::try_join!(
        load_if::<InventoryLoader>(ctx, wants_items, &ids),
        load_if::<AvailabilityLoader>(ctx, wants_shown, &ids),
    )?;
    Ok(variants
        .into_iter()
        .map(|variant| {
            let stock = VariantStock {
                items: items
                    .as_mut()
                    .map(|all| all.remove(&variant.id).unwrap_or_default()),
                shown: shown.as_mut().map(|all| all.remove(&variant.id)),
            };
            let mut node = VariantNode::from(variant);
            node.stock = Some(stock);
            node
        })
        .collect())
}

/// Whether `available` is counted from stock records (staff, who hold `inventory:read`)
/// rather than from what shoppers may be shown.
fn reads_stock_records(ctx: &Context<'_>) -> async_graphql::Result<bool> {
    Ok(ctx.call_ctx()?.access("inventory:read").is_some())
}

/// `ids` through loader `L` in one batch, when `wanted`.
async fn load_if<L>(
    ctx: &Context<'_>,
    wanted: bool,
    ids: &[Uuid],
) -> async_graphql::Result<Option<HashMap<Uuid, L::Value>>>
where
    L: Loader<Uuid, Error = async_graphql::Error>,
{
    if !wanted {
        return Ok(None);
    }
    ctx.data::<DataLoader<L>>()?
        .load_many(ids.iter().copied())
        .await
        .map(Some)
}

impl VariantNode {
    /// This variant's stock records, as loaded with its list or through the loader.
    async fn stock_items(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<InventoryItem>> {
        if let Some(items) = self.stock.as_ref().and_then(|s| s.items.clone()) {
            return Ok(items);
        }
        Ok(ctx
            .data::<DataLoader<InventoryLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or_default())
    }

    /// What shoppers may know of this variant's stock, as loaded with its list or through
    /// the loader.
    async fn shown_stock(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Availability>> {
        if let Some(shown) = self.stock.as_ref().and_then(|s| s.shown.clone()) {
            return Ok(shown);
        }
        ctx.data::<DataLoader<AvailabilityLoader>>()?
            .load_one(self.id)
            .await
    }
}

#[ComplexObject]
impl VariantNode {
    /// Stock of this variant at each location (batched across a list).
    async fn inventory(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<InventoryItem>> {
        self.stock_items(ctx).await
    }

    /// Units available for sale across locations (batched across a list). Staff always see
    /// it; shoppers see it for products on sale unless the merchant shows levels only
    /// (`STOREFRONT_STOCK_DISPLAY=level`: then FORBIDDEN, read `stockLevel`). A variant that
    /// is not stock-tracked has 0 here and `IN_STOCK` as its level.
    async fn available(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        if reads_stock_records(ctx)? {
            let items = self.stock_items(ctx).await?;
            return Ok(items.iter().map(|i| i.available).sum());
        }
        let shown = self.shown_stock(ctx).await?;
        let numbers = ctx.services().inventory.shows_numbers();
        match shown.map(|a| a.available) {
            Some(Some(units)) => Ok(units),
            // Not stock-tracked: nothing counted, never short.
            Some(None) if numbers => Ok(0),
            Some(None) => Err(Error::Forbidden {
                permission: "inventory:read (STOREFRONT_STOCK_DISPLAY=level: read stockLevel)"
                    .into(),
            })
            .gql(),
            None => Err(Error::Forbidden {
                permission: "inventory:read".into(),
            })
            .gql(),
        }
    }

    /// How much a storefront may promise: `IN_STOCK`, `LOW_STOCK` (at or below
    /// `STOREFRONT_LOW_STOCK_THRESHOLD`) or `OUT_OF_STOCK`; anyone may read it. `null` when the
    /// product is not on sale.
    async fn stock_level(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<StockLevel>> {
        Ok(self.shown_stock(ctx).await?.map(|a| a.stock_level))
    }
}

#[derive(Default)]
pub struct InventoryQuery;

#[Object]
impl InventoryQuery {
    /// Stock records, filtered by location, SKU or low stock.
    async fn inventory_items(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<InventoryFilter>,
    ) -> async_graphql::Result<Connection<String, InventoryItem, ListTotals>> {
        let page = ctx
            .services()
            .inventory
            .list_items(
                ctx.call_ctx()?,
                filter.unwrap_or_default(),
                page_request(ctx, first, after),
            )
            .await
            .gql()?;
        Ok(connection(page))
    }

    /// One stock record.
    async fn inventory_item(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<InventoryItem> {
        ctx.services()
            .inventory
            .get_item(ctx.call_ctx()?, id)
            .await
            .gql()
    }

    /// An item's lots, soonest expiry first.
    async fn inventory_lots(
        &self,
        ctx: &Context<'_>,
        item_id: Uuid,
    ) -> async_graphql::Result<Vec<InventoryLot>> {
        ctx.services()
            .inventory
            .lots(ctx.call_ctx()?, item_id)
            .await
            .gql()
    }

    /// An item's ledger, oldest first.
    async fn inventory_movements(
        &self,
        ctx: &Context<'_>,
        item_id: Uuid,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, InventoryMovement, ListTotals>> {
        let page = ctx
            .services()
            .inventory
            .movements(ctx.call_ctx()?, item_id, page_request(ctx, first, after))
            .await
            .gql()?;
        Ok(connection(page))
    }

    /// Items at or below their reorder point, in a stable order.
    async fn low_stock(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, InventoryItem, ListTotals>> {
        let page = ctx
            .services()
            .inventory
            .low_stock(ctx.call_ctx()?, page_request(ctx, first, after))
            .await
            .gql()?;
        Ok(connection(page))
    }

    /// Every location, by priority.
    async fn locations(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Location>> {
        ctx.services()
            .inventory
            .list_locations(ctx.call_ctx()?)
            .await
            .gql()
    }

    /// Available to promise: available + on order − committed (committed = safety stock).
    async fn available_to_promise(
        &self,
        ctx: &Context<'_>,
        variant_id: Uuid,
    ) -> async_graphql::Result<AvailableToPromise> {
        ctx.services()
            .inventory
            .available_to_promise(ctx.call_ctx()?, variant_id)
            .await
            .gql()
    }

    /// One cycle count with its variances.
    async fn cycle_count(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<CycleCount> {
        ctx.services()
            .inventory
            .get_count(ctx.call_ctx()?, id)
            .await
            .gql()
    }

    /// One purchase order.
    async fn purchase_order(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<PurchaseOrder> {
        ctx.services()
            .inventory
            .get_purchase_order(ctx.call_ctx()?, id)
            .await
            .gql()
    }
}

#[derive(Default)]
pub struct InventoryMutation;

#[Object]
impl InventoryMutation {
    async fn create_location(
        &self,
        ctx: &Context<'_>,
        input: CreateLocationInput,
    ) -> async_graphql::Result<Location> {
        ctx.services()
            .inventory
            .create_location(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    async fn update_location(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: UpdateLocationInput,
    ) -> async_graphql::Result<Location> {
        ctx.services()
            .inventory
            .update_location(ctx.call_ctx()?, id, input)
            .await
            .gql()
    }

    /// Receives stock at a location (into a lot when named).
    async fn receive_inventory(
        &self,
        ctx: &Context<'_>,
        input: ReceiveInput,
    ) -> async_graphql::Result<InventoryItem> {
        ctx.services()
            .inventory
            .receive(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    /// Corrects on-hand stock with a reason.
    async fn adjust_inventory(
        &self,
        ctx: &Context<'_>,
        item_id: Uuid,
        input: AdjustInput,
    ) -> async_graphql::Result<InventoryItem> {
        ctx.services()
            .inventory
            .adjust(ctx.call_ctx()?, item_id, input)
            .await
            .gql()
    }

    /// Changes safety stock and reorder settings.
    async fn update_inventory_item(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: ItemSettingsInput,
    ) -> async_graphql::Result<InventoryItem> {
        ctx.services()
            .inventory
            .update_item_settings(ctx.call_ctx()?, id, input)
            .await
            .gql()
    }

    /// Holds stock of a variant across locations by priority (or of one item with `itemId`).
    async fn reserve_inventory(
        &self,
        ctx: &Context<'_>,
        variant_id: Option<Uuid>,
        item_id: Option<Uuid>,
        input: ReserveInput,
    ) -> async_graphql::Result<Vec<Reservation>> {
        let inventory = &ctx.services().inventory;
        match (variant_id, item_id) {
            (Some(variant), None) => inventory
                .reserve_variant(ctx.call_ctx()?, variant, input)
                .await
                .gql(),
            (None, Some(item)) => inventory
                .reserve_item(ctx.call_ctx()?, item, input)
                .await
                .gql(),
            _ => Err(crate::services::Error::invalid(
                "variantId",
                "give exactly one of `variantId` and `itemId`",
            ))
            .gql(),
        }
    }

    /// Gives reserved stock back.
    async fn release_reservation(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Reservation> {
        ctx.services()
            .inventory
            .release(ctx.call_ctx()?, id)
            .await
            .gql()
    }

    /// Sends stock to another location (in transit until received).
    async fn create_transfer(
        &self,
        ctx: &Context<'_>,
        input: CreateTransferInput,
    ) -> async_graphql::Result<Transfer> {
        ctx.services()
            .inventory
            .create_transfer(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    async fn receive_transfer(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Transfer> {
        ctx.services()
            .inventory
            .receive_transfer(ctx.call_ctx()?, id)
            .await
            .gql()
    }

    /// Opens a count of a location.
    async fn open_cycle_count(
        &self,
        ctx: &Context<'_>,
        location_id: Uuid,
    ) -> async_graphql::Result<CycleCount> {
        ctx.services()
            .inventory
            .open_count(ctx.call_ctx()?, location_id)
            .await
            .gql()
    }

    async fn record_cycle_count(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: CountInput,
    ) -> async_graphql::Result<CycleCount> {
        ctx.services()
            .inventory
            .record_count(ctx.call_ctx()?, id, input)
            .await
            .gql()
    }

    /// Turns the variances into adjustments.
    async fn post_cycle_count(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<CycleCount> {
        ctx.services()
            .inventory
            .post_count(ctx.call_ctx()?, id)
            .await
            .gql()
    }

    async fn create_purchase_order(
        &self,
        ctx: &Context<'_>,
        input: CreatePurchaseOrderInput,
    ) -> async_graphql::Result<PurchaseOrder> {
        ctx.services()
            .inventory
            .create_purchase_order(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    async fn receive_purchase_order(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        lines: Vec<ReceiveLineInput>,
    ) -> async_graphql::Result<PurchaseOrder> {
        ctx.services()
            .inventory
            .receive_purchase_order(ctx.call_ctx()?, id, lines)
            .await
            .gql()
    }
}
