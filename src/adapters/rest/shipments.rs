//! `/api/v1/shipments` and `/api/v1/fulfillment-orders`: an order's fulfilment plan per
//! location, and the shipments that leave from it.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, Path, Query};
use super::operation::operations;
use super::paging::{Paged, page_request};
use super::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::domain::{
    Carrier, CreatedCarrier, FulfillmentOrder, RateShopping, Shipment, ShipmentAction,
    ShipmentFilter, ShipmentStatus, TrackingAnswer, TrackingEvent,
};
use crate::http::Caller;
use crate::services::shipments::{
    BuyLabelsInput, CancelShipmentInput, CarrierWebhookBody, CarrierWebhookReceipt,
    CreateCarrierInput, CreateShipmentInput, DeliverShipmentInput, HoldFulfillmentOrderInput,
    MergeFulfillmentOrdersInput, MoveFulfillmentOrderInput, PackageInput,
    SplitFulfillmentOrderInput, TrackingEventInput, UpdateCarrierInput,
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

/// Which package's label to void; omitted: every purchased label of the shipment.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct VoidLabelsRequest {
    pub package_id: Option<Uuid>,
}

/// Which package's label to print.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LabelParams {
    /// The package's position in the shipment (default 1).
    package: Option<i32>,
}

/// Tracking events to record.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TrackingEventsRequest {
    /// 1 to 100 events, in any order.
    pub events: Vec<TrackingEventInput>,
}

/// A shipment's tracking events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrackingEventList {
    pub items: Vec<TrackingEvent>,
}

/// Every carrier, by code.
#[derive(Debug, Serialize, ToSchema)]
pub struct CarrierList {
    pub items: Vec<Carrier>,
}

/// A PDF document (documentation only: the handler sends the bytes as they are).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct LabelPdf(#[expect(dead_code, reason = "it only describes the response")] Vec<u8>);

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

    /// The carriers the shop ships with (at most 50): staff only, since they hold bridge
    /// addresses and the merchant's prices.
    get "/carriers" list_carriers needs "shipments:manage"
        openapi(tag = "shipments",
            responses((status = 200, body = CarrierList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller)
        -> ApiResult<Json<CarrierList>> {
        Ok(Json(CarrierList { items: app.services.shipments.list_carriers(&ctx).await? }))
    }

    /// Adds a carrier: `table` (rated from the rate table given, labels rendered here) or
    /// `http` (a carrier API at `base_url`). The answer shows its webhook secret, once.
    post "/carriers" create_carrier needs "shipments:manage"
        openapi(tag = "shipments", request_body = CreateCarrierInput,
            responses((status = 201, body = CreatedCarrier), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "CONFLICT: the code is taken"),
            (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<CreateCarrierInput>)
        -> ApiResult<Response> {
        let created = app.services.shipments.create_carrier(&ctx, input).await?;
        // The answer holds the webhook secret: never kept by the idempotency store.
        Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(created)).into_response())
    }

    get "/carriers/{id}" get_carrier needs "shipments:manage"
        openapi(tag = "shipments", params(("id" = Uuid, Path, description = "Carrier id")),
            responses((status = 200, body = Carrier), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<Carrier>> {
        Ok(Json(app.services.shipments.get_carrier(&ctx, id).await?))
    }

    /// Changes a carrier: name, enabled, base URL, API key, timeout, rate table.
    put "/carriers/{id}" update_carrier needs "shipments:manage"
        openapi(tag = "shipments", request_body = UpdateCarrierInput, params(("id" = Uuid, Path, description = "Carrier id")),
            responses((status = 200, body = Carrier), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>, Json(input): Json<UpdateCarrierInput>)
        -> ApiResult<Json<Carrier>> {
        Ok(Json(app.services.shipments.update_carrier(&ctx, id, input).await?))
    }

    /// A carrier's tracking events, signed with its webhook secret in `X-Carrier-Signature`
    /// (`t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, at most five minutes old).
    /// Replays and retries are harmless: each event is kept once by its id.
    post "/carriers/{code}/webhook" carrier_webhook needs anyone
        openapi(tag = "shipments", request_body = CarrierWebhookBody,
            params(("code" = String, Path, description = "The carrier's code"),
                ("X-Carrier-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">")),
            responses((status = 200, body = CarrierWebhookReceipt), (status = 404, body = ErrorBody),
            (status = 422, body = ErrorBody, description = "Missing or bad signature, an unreadable body, or an event code the carrier does not send")))
        (State(app): State<AppState>, Path(code): Path<String>, headers: HeaderMap, body: axum::body::Bytes)
        -> ApiResult<Json<CarrierWebhookReceipt>> {
        let signature = headers.get("x-carrier-signature").and_then(|v| v.to_str().ok());
        Ok(Json(app.services.shipments.carrier_webhook(&code, signature, &body).await?))
    }

    /// Every enabled carrier asked at once: each rate with its price and delivery date, the
    /// carriers that failed or were too slow, and the cheapest, fastest and best-value picks.
    get "/shipments/{id}/rates" shipment_rates needs "shipments:update"
        openapi(tag = "shipments", params(("id" = Uuid, Path, description = "Shipment id")),
            responses((status = 200, body = RateShopping), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "INVALID_STATE: it has shipped or is cancelled"),
            (status = 422, body = ErrorBody, description = "No packages yet, or no address to ship from or to")))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<RateShopping>> {
        Ok(Json(app.services.shipments.shop_rates(&ctx, id).await?))
    }

    /// Buys a label for every package without one: from `carrier` with `service`, or the
    /// rate `choice` picks. Retrying never buys twice.
    post "/shipments/{id}/labels" buy_shipment_labels needs "shipments:update"
        openapi(tag = "shipments", request_body = BuyLabelsInput, params(("id" = Uuid, Path, description = "Shipment id")),
            responses((status = 200, body = Shipment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody, description = "INVALID_STATE: it has shipped or is cancelled"), (status = 422, body = ErrorBody),
            (status = 503, body = ErrorBody, description = "The carrier could not be reached; retry (the purchase is repeated, not doubled)")))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>, Json(input): Json<BuyLabelsInput>)
        -> ApiResult<Json<Shipment>> {
        Ok(Json(app.services.shipments.buy_labels(&ctx, id, input).await?))
    }

    /// Voids purchased labels before the shipment ships.
    post "/shipments/{id}/labels/void" void_shipment_labels needs "shipments:update"
        openapi(tag = "shipments", request_body = VoidLabelsRequest, params(("id" = Uuid, Path, description = "Shipment id")),
            responses((status = 200, body = Shipment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody, description = "INVALID_STATE: it has shipped"), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>, Json(input): Json<VoidLabelsRequest>)
        -> ApiResult<Json<Shipment>> {
        Ok(Json(app.services.shipments.void_labels(&ctx, id, input.package_id).await?))
    }

    /// One package's label as a 4×6 inch PDF.
    get "/shipments/{id}/label" shipment_label needs "shipments:read"
        openapi(tag = "shipments", params(("id" = Uuid, Path, description = "Shipment id"), LabelParams),
            responses((status = 200, body = LabelPdf, content_type = "application/pdf", description = "The label as a PDF document"),
            (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>, Query(p): Query<LabelParams>)
        -> ApiResult<Response> {
        let (name, bytes) = app.services.shipments.label_pdf(&ctx, id, p.package.unwrap_or(1)).await?;
        // `SHP-<digits>-<n>`: safe inside a quoted filename.
        let disposition = format!("inline; filename=\"{name}.pdf\"");
        Ok(([(header::CONTENT_TYPE, "application/pdf".to_owned()), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response())
    }

    /// Records tracking events (idempotent by event id; the shipment follows the latest in
    /// time, whatever order they arrive in).
    post "/shipments/{id}/tracking-events" record_tracking_events needs "shipments:update"
        openapi(tag = "shipments", request_body = TrackingEventsRequest, params(("id" = Uuid, Path, description = "Shipment id")),
            responses((status = 200, body = Shipment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>, Json(input): Json<TrackingEventsRequest>)
        -> ApiResult<Json<Shipment>> {
        Ok(Json(app.services.shipments.record_tracking_events(&ctx, id, input.events).await?))
    }

    get "/shipments/{id}/tracking-events" list_tracking_events needs "shipments:read"
        openapi(tag = "shipments", params(("id" = Uuid, Path, description = "Shipment id")),
            responses((status = 200, body = TrackingEventList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<TrackingEventList>> {
        Ok(Json(TrackingEventList { items: app.services.shipments.tracking_events(&ctx, id).await? }))
    }

    /// A parcel by its tracking number: status and events for anyone (no addresses, no
    /// names); the shipment and full events too for a caller who may read it.
    get "/shipments/track/{tracking_number}" track_shipment needs anyone
        openapi(tag = "shipments", params(("tracking_number" = String, Path, description = "A package's tracking number")),
            responses((status = 200, body = TrackingAnswer), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(number): Path<String>)
        -> ApiResult<Json<TrackingAnswer>> {
        Ok(Json(app.services.shipments.track(&ctx, &number).await?))
    }
}
