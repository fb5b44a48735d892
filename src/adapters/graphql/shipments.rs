//! Fulfilment and shipments over GraphQL: fulfilment orders (hold, release, move, split,
//! merge) and shipments (make, pick, pack, ship, deliver, cancel, packages). An order's own
//! are `Order.fulfillmentOrders` and `Order.shipments`, batched through DataLoaders.

use async_graphql::connection::Connection;
use async_graphql::{Context, Object, SimpleObject};
use uuid::Uuid;

use super::{ContextExt as _, GqlResult as _, ListTotals, connection, page_request};
use crate::domain::{
    Carrier, CreatedCarrier, FulfillmentOrder, RateShopping, Shipment, ShipmentAction,
    ShipmentFilter, TrackingAnswer, TrackingEvent,
};
use crate::services::shipments::{
    BuyLabelsInput, CreateCarrierInput, CreateShipmentInput, DeliverShipmentInput,
    FulfillmentLineQuantity, HoldFulfillmentOrderInput, MergeFulfillmentOrdersInput,
    MoveFulfillmentOrderInput, PackageInput, SplitFulfillmentOrderInput, TrackingEventInput,
    UpdateCarrierInput,
};

/// The fulfilment order that was split and the new one holding the moved units.
#[derive(SimpleObject)]
pub struct SplitFulfillmentOrderPayload {
    fulfillment_order: FulfillmentOrder,
    new_fulfillment_order: FulfillmentOrder,
}

#[derive(Default)]
pub struct ShipmentQuery;

#[Object]
impl ShipmentQuery {
    /// One shipment.
    async fn shipment(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Shipment> {
        ctx.services()
            .shipments
            .get_shipment(ctx.call_ctx()?, id)
            .await
            .gql()
    }

    /// Shipments, newest first, as a Relay connection.
    async fn shipments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ShipmentFilter>,
    ) -> async_graphql::Result<Connection<String, Shipment, ListTotals>> {
        let page = ctx
            .services()
            .shipments
            .list_shipments(
                ctx.call_ctx()?,
                filter.unwrap_or_default(),
                page_request(ctx, first, after),
            )
            .await
            .gql()?;
        Ok(connection(page))
    }

    /// The carriers the shop ships with (at most 50), by code.
    async fn carriers(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Carrier>> {
        ctx.services()
            .shipments
            .list_carriers(ctx.call_ctx()?)
            .await
            .gql()
    }

    /// One carrier.
    async fn carrier(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Carrier> {
        ctx.services()
            .shipments
            .get_carrier(ctx.call_ctx()?, id)
            .await
            .gql()
    }

    /// Every enabled carrier asked at once for a shipment's rates, with the picks.
    async fn shipment_rates(
        &self,
        ctx: &Context<'_>,
        shipment_id: Uuid,
    ) -> async_graphql::Result<RateShopping> {
        ctx.services()
            .shipments
            .shop_rates(ctx.call_ctx()?, shipment_id)
            .await
            .gql()
    }

    /// A shipment's tracking events, newest first.
    async fn tracking_events(
        &self,
        ctx: &Context<'_>,
        shipment_id: Uuid,
    ) -> async_graphql::Result<Vec<TrackingEvent>> {
        ctx.services()
            .shipments
            .tracking_events(ctx.call_ctx()?, shipment_id)
            .await
            .gql()
    }

    /// A parcel by its tracking number: the public view for anyone, the shipment too for
    /// callers who may read it.
    async fn track_shipment(
        &self,
        ctx: &Context<'_>,
        tracking_number: String,
    ) -> async_graphql::Result<TrackingAnswer> {
        ctx.services()
            .shipments
            .track(ctx.call_ctx()?, &tracking_number)
            .await
            .gql()
    }

    /// One fulfilment order.
    async fn fulfillment_order(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<FulfillmentOrder> {
        ctx.services()
            .shipments
            .get_fulfillment_order(ctx.call_ctx()?, id)
            .await
            .gql()
    }
}

#[derive(Default)]
pub struct ShipmentMutation;

async fn act(
    ctx: &Context<'_>,
    id: Uuid,
    action: ShipmentAction,
    reason: Option<String>,
    signed_by: Option<String>,
) -> async_graphql::Result<Shipment> {
    ctx.services()
        .shipments
        .transition_shipment(ctx.call_ctx()?, id, action, reason, signed_by)
        .await
        .gql()
}

#[Object]
impl ShipmentMutation {
    /// Makes a pending shipment from one fulfilment order: the lines and units given, or
    /// everything it still has to ship.
    async fn create_shipment(
        &self,
        ctx: &Context<'_>,
        input: CreateShipmentInput,
    ) -> async_graphql::Result<Shipment> {
        ctx.services()
            .shipments
            .create_shipment(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    /// Adds boxes to a shipment that has not shipped.
    async fn add_shipment_packages(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        packages: Vec<PackageInput>,
    ) -> async_graphql::Result<Shipment> {
        ctx.services()
            .shipments
            .add_packages(ctx.call_ctx()?, id, packages)
            .await
            .gql()
    }

    /// Starts picking a pending shipment.
    async fn pick_shipment(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Shipment> {
        act(ctx, id, ShipmentAction::Pick, None, None).await
    }

    /// Marks a shipment packed.
    async fn pack_shipment(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Shipment> {
        act(ctx, id, ShipmentAction::Pack, None, None).await
    }

    /// Hands a shipment to the carrier: its reserved units leave stock and the order moves
    /// to `PARTIALLY_SHIPPED` or `SHIPPED`.
    async fn ship_shipment(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Shipment> {
        act(ctx, id, ShipmentAction::Ship, None, None).await
    }

    /// Confirms the delivery; without a required signature the shipment becomes an
    /// `EXCEPTION` instead.
    async fn deliver_shipment(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: Option<DeliverShipmentInput>,
    ) -> async_graphql::Result<Shipment> {
        let signed_by = input.unwrap_or_default().signed_by;
        act(ctx, id, ShipmentAction::Deliver, None, signed_by).await
    }

    /// Cancels a shipment that has not shipped; its units go back to the fulfilment order.
    async fn cancel_shipment(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        reason: String,
    ) -> async_graphql::Result<Shipment> {
        act(ctx, id, ShipmentAction::Cancel, Some(reason), None).await
    }

    /// Adds a carrier; the answer shows its webhook secret, once.
    async fn create_carrier(
        &self,
        ctx: &Context<'_>,
        input: CreateCarrierInput,
    ) -> async_graphql::Result<CreatedCarrier> {
        ctx.services()
            .shipments
            .create_carrier(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    /// Changes a carrier.
    async fn update_carrier(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: UpdateCarrierInput,
    ) -> async_graphql::Result<Carrier> {
        ctx.services()
            .shipments
            .update_carrier(ctx.call_ctx()?, id, input)
            .await
            .gql()
    }

    /// Buys a label for every package without one (a carrier's service, or a rate choice).
    /// Retrying never buys twice.
    async fn buy_shipment_labels(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: BuyLabelsInput,
    ) -> async_graphql::Result<Shipment> {
        ctx.services()
            .shipments
            .buy_labels(ctx.call_ctx()?, id, input)
            .await
            .gql()
    }

    /// Voids purchased labels (one package's, or all) before the shipment ships.
    async fn void_shipment_labels(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        package_id: Option<Uuid>,
    ) -> async_graphql::Result<Shipment> {
        ctx.services()
            .shipments
            .void_labels(ctx.call_ctx()?, id, package_id)
            .await
            .gql()
    }

    /// Records tracking events (idempotent by event id, in any order).
    async fn record_tracking_events(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        events: Vec<TrackingEventInput>,
    ) -> async_graphql::Result<Shipment> {
        ctx.services()
            .shipments
            .record_tracking_events(ctx.call_ctx()?, id, events)
            .await
            .gql()
    }

    /// Holds a fulfilment order: none of its shipments ships until it is released.
    async fn hold_fulfillment_order(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: HoldFulfillmentOrderInput,
    ) -> async_graphql::Result<FulfillmentOrder> {
        ctx.services()
            .shipments
            .hold_fulfillment_order(ctx.call_ctx()?, id, input)
            .await
            .gql()
    }

    /// Releases a held fulfilment order back to where it was.
    async fn release_fulfillment_order(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<FulfillmentOrder> {
        ctx.services()
            .shipments
            .release_fulfillment_order(ctx.call_ctx()?, id)
            .await
            .gql()
    }

    /// Ships an open fulfilment order from another location, moving its reservations.
    async fn move_fulfillment_order(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        location_id: Uuid,
    ) -> async_graphql::Result<FulfillmentOrder> {
        ctx.services()
            .shipments
            .move_fulfillment_order(
                ctx.call_ctx()?,
                id,
                MoveFulfillmentOrderInput { location_id },
            )
            .await
            .gql()
    }

    /// Moves units no shipment holds into a new fulfilment order at the same location.
    async fn split_fulfillment_order(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        lines: Vec<FulfillmentLineQuantity>,
    ) -> async_graphql::Result<SplitFulfillmentOrderPayload> {
        let (fulfillment_order, new_fulfillment_order) = ctx
            .services()
            .shipments
            .split_fulfillment_order(ctx.call_ctx()?, id, SplitFulfillmentOrderInput { lines })
            .await
            .gql()?;
        Ok(SplitFulfillmentOrderPayload {
            fulfillment_order,
            new_fulfillment_order,
        })
    }

    /// Joins open fulfilment orders of one order at one location into the first named.
    async fn merge_fulfillment_orders(
        &self,
        ctx: &Context<'_>,
        fulfillment_order_ids: Vec<Uuid>,
    ) -> async_graphql::Result<FulfillmentOrder> {
        ctx.services()
            .shipments
            .merge_fulfillment_orders(
                ctx.call_ctx()?,
                MergeFulfillmentOrdersInput {
                    fulfillment_order_ids,
                },
            )
            .await
            .gql()
    }
}
