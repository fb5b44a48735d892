//! `/api/v1/inventory`, `/api/v1/locations` and `/api/v1/purchase-orders`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, Path, Query};
use super::operation::operations;
use super::paging::{PageParams, Paged};
use super::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::domain::{
    AvailableToPromise, CycleCount, InventoryItem, InventoryLot, InventoryMovement, Location,
    PurchaseOrder, Reservation, Transfer,
};
use crate::http::Caller;
use crate::services::inventory::{
    AdjustInput, CountInput, CreateLocationInput, CreatePurchaseOrderInput, CreateTransferInput,
    InventoryFilter, ItemSettingsInput, ReceiveInput, ReceiveLineInput, ReserveInput,
    UpdateLocationInput,
};

type ApiResult<T> = Result<T, ApiError>;

/// Filters and page of `GET /api/v1/inventory`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListInventoryParams {
    location_id: Option<Uuid>,
    sku: Option<String>,
    /// Only items at or below their reorder point.
    below_reorder_point: Option<bool>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// A page of inventory items.
#[derive(Debug, Serialize, ToSchema)]
pub struct InventoryList {
    pub items: Vec<InventoryItem>,
    pub next_cursor: Option<String>,
    pub total_count: i64,
}

/// Reservations just made, an item's lots, or the locations: short by nature, so not paged.
#[derive(Debug, Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// The reservation to release.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReleaseRequest {
    pub reservation_id: Uuid,
}

/// The location to count.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OpenCountRequest {
    pub location_id: Uuid,
}

/// Lines of a purchase order that arrived.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReceivePurchaseOrderRequest {
    pub lines: Vec<ReceiveLineInput>,
}

operations! {
    get "/inventory" list_inventory needs "inventory:read"
        openapi(tag = "inventory", params(ListInventoryParams),
            responses((status = 200, body = InventoryList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Query(p): Query<ListInventoryParams>)
        -> ApiResult<Json<InventoryList>> {
        let filter = InventoryFilter {
            location_id: p.location_id,
            sku: p.sku,
            below_reorder_point: p.below_reorder_point.unwrap_or(false),
        };
        let page = super::paging::page_request(p.limit, p.cursor);
        let page = app
            .services
            .inventory
            .list_items(&ctx, filter, page)
            .await?;
        let next_cursor = page.next_cursor();
        Ok(Json(InventoryList {
            items: page.items.into_iter().map(|(_, i)| i).collect(),
            next_cursor,
            total_count: page.total_count,
        }))
    }

    get "/inventory/low-stock" low_stock needs "inventory:read"
        openapi(tag = "inventory", params(PageParams),
            responses((status = 200, body = Paged<InventoryItem>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Query(page): Query<PageParams>)
        -> ApiResult<Json<Paged<InventoryItem>>> {
        let page = app
            .services
            .inventory
            .low_stock(&ctx, page.request())
            .await?;
        Ok(Json(page.into()))
    }

    get "/inventory/{id}" get_item needs "inventory:read"
        openapi(tag = "inventory", params(("id" = Uuid, Path, description = "Inventory item id")),
            responses((status = 200, body = InventoryItem), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<InventoryItem>> {
        Ok(Json(app.services.inventory.get_item(&ctx, id).await?))
    }

    put "/inventory/{id}" update_item needs "inventory:manage"
        openapi(tag = "inventory", request_body = ItemSettingsInput,
            params(("id" = Uuid, Path, description = "Inventory item id")),
            responses((status = 200, body = InventoryItem), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<ItemSettingsInput>,
        )
        -> ApiResult<Json<InventoryItem>> {
        Ok(Json(
            app.services
                .inventory
                .update_item_settings(&ctx, id, input)
                .await?,
        ))
    }

    post "/inventory/{id}/reserve" reserve needs "inventory:reserve"
        openapi(tag = "inventory", request_body = ReserveInput,
            params(("id" = Uuid, Path, description = "Inventory item id")),
            responses((status = 201, body = Items<Reservation>), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody, description = "INSUFFICIENT_STOCK"), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<ReserveInput>,
        )
        -> ApiResult<(StatusCode, Json<Items<Reservation>>)> {
        Ok((
            StatusCode::CREATED,
            Json(Items {
                items: app.services.inventory.reserve_item(&ctx, id, input).await?,
            }),
        ))
    }

    post "/inventory/{id}/release" release needs "inventory:reserve"
        openapi(tag = "inventory", request_body = ReleaseRequest,
            params(("id" = Uuid, Path, description = "Inventory item id")),
            responses((status = 200, body = Reservation), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<ReleaseRequest>,
        )
        -> ApiResult<Json<Reservation>> {
        Ok(Json(
            app.services
                .inventory
                .release_at(&ctx, input.reservation_id, Some(id))
                .await?,
        ))
    }

    post "/inventory/{id}/adjust" adjust needs "inventory:adjust"
        openapi(tag = "inventory", request_body = AdjustInput,
            params(("id" = Uuid, Path, description = "Inventory item id")),
            responses((status = 200, body = InventoryItem), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<AdjustInput>,
        )
        -> ApiResult<Json<InventoryItem>> {
        Ok(Json(app.services.inventory.adjust(&ctx, id, input).await?))
    }

    get "/inventory/{id}/lots" lots needs "inventory:read"
        openapi(tag = "inventory", params(("id" = Uuid, Path, description = "Inventory item id")),
            responses((status = 200, body = Items<InventoryLot>), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<Items<InventoryLot>>> {
        Ok(Json(Items {
            items: app.services.inventory.lots(&ctx, id).await?,
        }))
    }

    get "/inventory/{id}/movements" movements needs "inventory:read"
        openapi(tag = "inventory",
            params(("id" = Uuid, Path, description = "Inventory item id"), PageParams),
            responses((status = 200, body = Paged<InventoryMovement>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Query(page): Query<PageParams>,
        )
        -> ApiResult<Json<Paged<InventoryMovement>>> {
        let page = app
            .services
            .inventory
            .movements(&ctx, id, page.request())
            .await?;
        Ok(Json(page.into()))
    }

    get "/inventory/{id}/reservations" reservations needs "inventory:read"
        openapi(tag = "inventory",
            params(("id" = Uuid, Path, description = "Inventory item id"), PageParams),
            responses((status = 200, body = Paged<Reservation>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Query(page): Query<PageParams>,
        )
        -> ApiResult<Json<Paged<Reservation>>> {
        let page = app
            .services
            .inventory
            .reservations(&ctx, id, page.request())
            .await?;
        Ok(Json(page.into()))
    }

    post "/inventory/receive" receive needs "inventory:adjust"
        openapi(tag = "inventory", request_body = ReceiveInput,
            responses((status = 200, body = InventoryItem), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<ReceiveInput>)
        -> ApiResult<Json<InventoryItem>> {
        Ok(Json(app.services.inventory.receive(&ctx, input).await?))
    }

    /// Available to promise = available + on order − committed (committed = safety stock).
    get "/inventory/atp/{variant_id}" available_to_promise needs "inventory:read"
        openapi(tag = "inventory",
            params(("variant_id" = Uuid, Path, description = "Variant id")),
            responses((status = 200, body = AvailableToPromise)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(variant_id): Path<Uuid>)
        -> ApiResult<Json<AvailableToPromise>> {
        Ok(Json(
            app.services
                .inventory
                .available_to_promise(&ctx, variant_id)
                .await?,
        ))
    }

    post "/inventory/transfers" create_transfer needs "inventory:adjust"
        openapi(tag = "inventory", request_body = CreateTransferInput,
            responses((status = 201, body = Transfer), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<CreateTransferInput>)
        -> ApiResult<(StatusCode, Json<Transfer>)> {
        Ok((
            StatusCode::CREATED,
            Json(app.services.inventory.create_transfer(&ctx, input).await?),
        ))
    }

    post "/inventory/transfers/{id}/receive" receive_transfer needs "inventory:adjust"
        openapi(tag = "inventory", params(("id" = Uuid, Path, description = "Transfer id")),
            responses((status = 200, body = Transfer), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<Transfer>> {
        Ok(Json(
            app.services.inventory.receive_transfer(&ctx, id).await?,
        ))
    }

    post "/inventory/counts" open_count needs "inventory:adjust"
        openapi(tag = "inventory", request_body = OpenCountRequest,
            responses((status = 201, body = CycleCount), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<OpenCountRequest>)
        -> ApiResult<(StatusCode, Json<CycleCount>)> {
        Ok((
            StatusCode::CREATED,
            Json(
                app.services
                    .inventory
                    .open_count(&ctx, input.location_id)
                    .await?,
            ),
        ))
    }

    get "/inventory/counts/{id}" get_count needs "inventory:read"
        openapi(tag = "inventory", params(("id" = Uuid, Path, description = "Cycle count id")),
            responses((status = 200, body = CycleCount), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<CycleCount>> {
        Ok(Json(app.services.inventory.get_count(&ctx, id).await?))
    }

    post "/inventory/counts/{id}/lines" record_count needs "inventory:adjust"
        openapi(tag = "inventory", request_body = CountInput,
            params(("id" = Uuid, Path, description = "Cycle count id")),
            responses((status = 200, body = CycleCount), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<CountInput>,
        )
        -> ApiResult<Json<CycleCount>> {
        Ok(Json(
            app.services.inventory.record_count(&ctx, id, input).await?,
        ))
    }

    post "/inventory/counts/{id}/post" post_count needs "inventory:adjust"
        openapi(tag = "inventory", params(("id" = Uuid, Path, description = "Cycle count id")),
            responses((status = 200, body = CycleCount), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<CycleCount>> {
        Ok(Json(app.services.inventory.post_count(&ctx, id).await?))
    }

    get "/locations" list_locations needs "inventory:read"
        openapi(tag = "inventory", responses((status = 200, body = Items<Location>)))
        (State(app): State<AppState>, Caller(ctx): Caller)
        -> ApiResult<Json<Items<Location>>> {
        Ok(Json(Items {
            items: app.services.inventory.list_locations(&ctx).await?,
        }))
    }

    post "/locations" create_location needs "inventory:manage"
        openapi(tag = "inventory", request_body = CreateLocationInput,
            responses((status = 201, body = Location), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<CreateLocationInput>)
        -> ApiResult<(StatusCode, Json<Location>)> {
        Ok((
            StatusCode::CREATED,
            Json(app.services.inventory.create_location(&ctx, input).await?),
        ))
    }

    put "/locations/{id}" update_location needs "inventory:manage"
        openapi(tag = "inventory", request_body = UpdateLocationInput,
            params(("id" = Uuid, Path, description = "Location id")),
            responses((status = 200, body = Location), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<UpdateLocationInput>,
        )
        -> ApiResult<Json<Location>> {
        Ok(Json(
            app.services
                .inventory
                .update_location(&ctx, id, input)
                .await?,
        ))
    }

    post "/purchase-orders" create_purchase_order needs "inventory:manage"
        openapi(tag = "inventory", request_body = CreatePurchaseOrderInput,
            responses((status = 201, body = PurchaseOrder), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Json(input): Json<CreatePurchaseOrderInput>,
        )
        -> ApiResult<(StatusCode, Json<PurchaseOrder>)> {
        Ok((
            StatusCode::CREATED,
            Json(
                app.services
                    .inventory
                    .create_purchase_order(&ctx, input)
                    .await?,
            ),
        ))
    }

    get "/purchase-orders/{id}" get_purchase_order needs "inventory:read"
        openapi(tag = "inventory", params(("id" = Uuid, Path, description = "Purchase order id")),
            responses((status = 200, body = PurchaseOrder), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<PurchaseOrder>> {
        Ok(Json(
            app.services.inventory.get_purchase_order(&ctx, id).await?,
        ))
    }

    post "/purchase-orders/{id}/receive" receive_purchase_order needs "inventory:adjust"
        openapi(tag = "inventory", request_body = ReceivePurchaseOrderRequest,
            params(("id" = Uuid, Path, description = "Purchase order id")),
            responses((status = 200, body = PurchaseOrder), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
            (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<ReceivePurchaseOrderRequest>,
        )
        -> ApiResult<Json<PurchaseOrder>> {
        Ok(Json(
            app.services
                .inventory
                .receive_purchase_order(&ctx, id, input.lines)
                .await?,
        ))
    }
}
