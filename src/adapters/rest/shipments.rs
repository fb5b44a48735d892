//! `/api/v1/shipments` and `/api/v1/fulfillment-orders`: an order's fulfilment plan per
//! location, and the shipments that leave from it.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, Path, Query};
use super::operation::operations;
use super::paging::{Paged, page_request};
use super::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::domain::{FulfillmentOrder, Shipment, ShipmentAction, ShipmentFilter, ShipmentStatus};
use crate::http::Caller;
use crate::services::shipments::{
    CancelShipmentInput, CreateShipmentInput, DeliverShipmentInput, HoldFulfillmentOrderInput,
    MergeFulfillmentOrdersInput, MoveFulfillmentOrderInput, PackageInput,
    SplitFulfillmentOrderInput,
};

type ApiResult<T> = Result<T, ApiError>;

/// Filters and page of `GET /api/v1/shipments`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListShipmentsParams {
    order_id: Option<Uuid>,
    status: Option<ShipmentStatus>,
    /// The carrier's code, e.g. `ups`.
    carrier: Option<String>,
    /// Made at or after this time (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Made before this time (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// Page size, 1 to 100 (default 20).
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Boxes to add to a shipment.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AddPackagesRequest {
    /// 1 to 50 packages.
    pub packages: Vec<PackageInput>,
}

/// The fulfilment orders of one order.
#[derive(Debug, Serialize, ToSchema)]
pub struct FulfillmentOrderList {
    /// Oldest first, cancelled ones (merged away or replanned) too.
    pub items: Vec<FulfillmentOrder>,
}

/// A fulfilment order and the one split off it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FulfillmentOrderSplit {
    pub fulfillment_order: FulfillmentOrder,
    pub new_fulfillment_order: FulfillmentOrder,
}

async fn act(
    app: &AppState,
    ctx: &crate::services::Ctx,
    id: Uuid,
    action: ShipmentAction,
    reason: Option<String>,
    signed_by: Option<String>,
) -> ApiResult<Json<Shipment>> {
    Ok(Json(
        app.services
            .shipments
            .transition_shipment(ctx, id, action, reason, signed_by)
            .await?,
    ))
}

operations! {
    /// Shipments, newest first.
    get "/shipments" list_shipments needs "shipments:read"
        openapi(tag = "shipments", params(ListShipmentsParams),
            responses((status = 200, body = Paged<Shipment>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Query(p): Query<ListShipmentsParams>)
        -> ApiResult<Json<Paged<Shipment>>> {
        let filter = ShipmentFilter { order_id: p.order_id, status: p.status, carrier: p.carrier, from: p.from, to: p.to };
        let page = app.services.shipments.list_shipments(&ctx, filter, page_request(p.limit, p.cursor)).await?;
        Ok(Json(page.into()))
    }

    /// Makes a pending shipment from one fulfilment order: the lines and units given (never
    /// more than no shipment holds yet), or everything it still has to ship.
    post "/shipments" create_shipment needs "shipments:create"
        openapi(tag = "shipments", request_body = CreateShipmentInput,
            responses((status = 201, body = Shipment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody, description = "INVALID_STATE: the fulfilment order is held or ended, or the order cannot ship"),
            (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<CreateShipmentInput>)
        -> ApiResult<(StatusCode, Json<Shipment>)> {
        let shipment = app.services.shipments.create_shipment(&ctx, input).await?;
        Ok((StatusCode::CREATED, Json(shipment)))
    }

    get "/shipments/{id}" get_shipment needs "shipments:read"
        openapi(tag = "shipments", params(("id" = Uuid, Path, description = "Shipment id")),
            responses((status = 200, body = Shipment), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<Shipment>> {
        Ok(Json(app.services.shipments.get_shipment(&ctx, id).await?))
    }

    /// Adds boxes to a shipment that has not shipped.
    post "/shipments/{id}/packages" add_shipment_packages needs "shipments:update"
        openapi(tag = "shipments", request_body = AddPackagesRequest, params(("id" = Uuid, Path, description = "Shipment id")),
            responses((status = 200, body = Shipment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody, description = "INVALID_STATE: it has shipped or is cancelled"), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>, Json(input): Json<AddPackagesRequest>)
        -> ApiResult<Json<Shipment>> {
        Ok(Json(app.services.shipments.add_packages(&ctx, id, input.packages).await?))
    }

    /// Starts picking a pending shipment.
    post "/shipments/{id}/pick" pick_shipment needs "shipments:update"
        openapi(tag = "shipments", params(("id" = Uuid, Path, description = "Shipment id")),
            responses((status = 200, body = Shipment), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "INVALID_STATE: not pending")))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<Shipment>> {
        act(&app, &ctx, id, ShipmentAction::Pick, None, None).await
    }

    /// Marks a shipment packed.
    post "/shipments/{id}/pack" pack_shipment needs "shipments:update"
        openapi(tag = "shipments", params(("id" = Uuid, Path, description = "Shipment id")),
            responses((status = 200, body = Shipment), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "INVALID_STATE: not pending or picking")))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<Shipment>> {
        act(&app, &ctx, id, ShipmentAction::Pack, None, None).await
    }

    /// Hands a shipment to the carrier: its reserved units leave stock, and the order
    /// becomes `partially_shipped` while lines remain, `shipped` when all have left (a pending
    /// order is processed first).
    post "/shipments/{id}/ship" ship_shipment needs "shipments:update"
        openapi(tag = "shipments", params(("id" = Uuid, Path, description = "Shipment id")),
            responses((status = 200, body = Shipment), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody, description = "INVALID_STATE: shipped or cancelled already, its fulfilment order is held, or the order is on hold")))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<Shipment>> {
        act(&app, &ctx, id, ShipmentAction::Ship, None, None).await
    }

    /// Confirms the delivery. When a signature is required and none is given, the shipment
    /// becomes an `exception` instead. The last shipment of a shipped order delivers it.
    post "/shipments/{id}/deliver" deliver_shipment needs "shipments:update"
        openapi(tag = "shipments", request_body = DeliverShipmentInput, params(("id" = Uuid, Path, description = "Shipment id")),
            responses((status = 200, body = Shipment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody, description = "INVALID_STATE: not shipped yet, or delivered already"), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>, Json(input): Json<DeliverShipmentInput>)
        -> ApiResult<Json<Shipment>> {
        act(&app, &ctx, id, ShipmentAction::Deliver, None, input.signed_by).await
    }

    /// Cancels a shipment that has not shipped: its units go back to the fulfilment order.
    post "/shipments/{id}/cancel" cancel_shipment needs "shipments:cancel"
        openapi(tag = "shipments", request_body = CancelShipmentInput, params(("id" = Uuid, Path, description = "Shipment id")),
            responses((status = 200, body = Shipment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody, description = "INVALID_STATE: it has shipped"), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>, Json(input): Json<CancelShipmentInput>)
        -> ApiResult<Json<Shipment>> {
        act(&app, &ctx, id, ShipmentAction::Cancel, Some(input.reason), None).await
    }

    /// The order's fulfilment orders: its lines planned per location.
    get "/orders/{id}/fulfillment-orders" list_order_fulfillment_orders needs "shipments:read"
        openapi(tag = "shipments", params(("id" = Uuid, Path, description = "Order id")),
            responses((status = 200, body = FulfillmentOrderList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<FulfillmentOrderList>> {
        let items = app.services.shipments.fulfillment_orders_of_order(&ctx, id).await?;
        Ok(Json(FulfillmentOrderList { items }))
    }

    get "/fulfillment-orders/{id}" get_fulfillment_order needs "shipments:read"
        openapi(tag = "shipments", params(("id" = Uuid, Path, description = "Fulfilment order id")),
            responses((status = 200, body = FulfillmentOrder), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<FulfillmentOrder>> {
        Ok(Json(app.services.shipments.get_fulfillment_order(&ctx, id).await?))
    }

    /// Holds a fulfilment order: none of its shipments ships until it is released.
    post "/fulfillment-orders/{id}/hold" hold_fulfillment_order needs "shipments:update"
        openapi(tag = "shipments", request_body = HoldFulfillmentOrderInput, params(("id" = Uuid, Path, description = "Fulfilment order id")),
            responses((status = 200, body = FulfillmentOrder), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody, description = "INVALID_STATE: held or ended already"), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>, Json(input): Json<HoldFulfillmentOrderInput>)
        -> ApiResult<Json<FulfillmentOrder>> {
        Ok(Json(app.services.shipments.hold_fulfillment_order(&ctx, id, input).await?))
    }

    /// Releases a held fulfilment order back to where it was.
    post "/fulfillment-orders/{id}/release" release_fulfillment_order needs "shipments:update"
        openapi(tag = "shipments", params(("id" = Uuid, Path, description = "Fulfilment order id")),
            responses((status = 200, body = FulfillmentOrder), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "INVALID_STATE: not on hold")))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<FulfillmentOrder>> {
        Ok(Json(app.services.shipments.release_fulfillment_order(&ctx, id).await?))
    }

    /// Ships an open fulfilment order from another location, moving its reservations there
    /// (all or nothing).
    post "/fulfillment-orders/{id}/move" move_fulfillment_order needs "shipments:update"
        openapi(tag = "shipments", request_body = MoveFulfillmentOrderInput, params(("id" = Uuid, Path, description = "Fulfilment order id")),
            responses((status = 200, body = FulfillmentOrder), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody, description = "INVALID_STATE: shipments hold some of it; INSUFFICIENT_STOCK at the new location"),
            (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>, Json(input): Json<MoveFulfillmentOrderInput>)
        -> ApiResult<Json<FulfillmentOrder>> {
        Ok(Json(app.services.shipments.move_fulfillment_order(&ctx, id, input).await?))
    }

    /// Moves units no shipment holds into a new fulfilment order at the same location.
    post "/fulfillment-orders/{id}/split" split_fulfillment_order needs "shipments:update"
        openapi(tag = "shipments", request_body = SplitFulfillmentOrderInput, params(("id" = Uuid, Path, description = "Fulfilment order id")),
            responses((status = 200, body = FulfillmentOrderSplit), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody, description = "INVALID_STATE: held or ended"), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>, Json(input): Json<SplitFulfillmentOrderInput>)
        -> ApiResult<Json<FulfillmentOrderSplit>> {
        let (fulfillment_order, new_fulfillment_order) = app.services.shipments.split_fulfillment_order(&ctx, id, input).await?;
        Ok(Json(FulfillmentOrderSplit { fulfillment_order, new_fulfillment_order }))
    }

    /// Joins open fulfilment orders of one order at one location into the first named.
    post "/fulfillment-orders/merge" merge_fulfillment_orders needs "shipments:update"
        openapi(tag = "shipments", request_body = MergeFulfillmentOrdersInput,
            responses((status = 200, body = FulfillmentOrder), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody, description = "INVALID_STATE: the first is held or ended"), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<MergeFulfillmentOrdersInput>)
        -> ApiResult<Json<FulfillmentOrder>> {
        Ok(Json(app.services.shipments.merge_fulfillment_orders(&ctx, input).await?))
    }
}
