//! `/api/v1/orders` and `/api/v1/customers`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::catalog::{EntityEventsParams, EventList};
use super::extract::{Json, Path, Query};
use super::operation::operations;
use super::paging::{PageParams, Paged};
use super::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::domain::{
    Customer, OrderAction, OrderDetail, OrderFilter, OrderHistoryEntry, OrderItem, OrderSort,
    OrderStatus,
};
use crate::http::Caller;
use crate::services::customers::{
    CreateCustomerInput, CustomerAddressInput, CustomerQuery, UpdateCustomerInput,
};
use crate::services::events::EventQuery;
use crate::services::orders::{CreateOrderInput, OrderRef, SplitLineInput, UpdateOrderInput};
use crate::services::page::Page;

type ApiResult<T> = Result<T, ApiError>;

/// Filters, order and page of `GET /api/v1/orders`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOrdersParams {
    status: Option<OrderStatus>,
    customer_id: Option<Uuid>,
    /// Placed at or after this time (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Placed before this time (RFC 3339).
    to: Option<DateTime<Utc>>,
    #[param(value_type = Option<String>)]
    min_total: Option<Decimal>,
    #[param(value_type = Option<String>)]
    max_total: Option<Decimal>,
    tag: Option<String>,
    /// Part of the order number or the customer's email.
    q: Option<String>,
    sort: Option<OrderSort>,
    /// Page size, 1 to 100 (default 20).
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of orders with their lines.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderList {
    pub items: Vec<OrderDetail>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    pub total_count: i64,
}

/// A status to move an order to.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateStatusRequest {
    pub status: OrderStatus,
    /// Required when the move is a hold or a cancellation.
    pub reason: Option<String>,
}

/// Why an order is held or cancelled.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReasonRequest {
    pub reason: String,
}

/// Orders to merge: the first one receives the others' lines.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MergeRequest {
    pub order_ids: Vec<Uuid>,
}

/// Lines to move into a new order.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SplitRequest {
    pub items: Vec<SplitLineInput>,
}

/// The order that was split and the new one.
#[derive(Debug, Serialize, ToSchema)]
pub struct SplitResponse {
    pub order: OrderDetail,
    pub new_order: OrderDetail,
}

/// An order's lines.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderItemList {
    pub items: Vec<OrderItem>,
}

async fn act(
    app: &AppState,
    ctx: &crate::services::Ctx,
    id: Uuid,
    action: OrderAction,
    reason: Option<String>,
) -> ApiResult<Json<OrderDetail>> {
    Ok(Json(
        app.services
            .orders
            .transition(ctx, id, action, reason)
            .await?,
    ))
}

/// Search and page of `GET /api/v1/customers`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListCustomersParams {
    /// Part of the email, first or last name.
    q: Option<String>,
    tag: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// A page of customers.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerList {
    pub items: Vec<Customer>,
    pub next_cursor: Option<String>,
    pub total_count: i64,
}

impl From<Page<Customer>> for CustomerList {
    fn from(page: Page<Customer>) -> Self {
        let next_cursor = page.next_cursor();
        CustomerList {
            items: page.items.into_iter().map(|(_, c)| c).collect(),
            next_cursor,
            total_count: page.total_count,
        }
    }
}

/// A variant to wish for.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WishlistRequest {
    pub variant_id: Uuid,
}

operations! {
    get "/orders" list_orders needs "orders:read"
        openapi(tag = "orders", params(ListOrdersParams),
            responses((status = 200, body = OrderList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Query(p): Query<ListOrdersParams>)
        -> ApiResult<Json<OrderList>> {
        let filter = OrderFilter {
            status: p.status,
            customer_id: p.customer_id,
            from: p.from,
            to: p.to,
            min_total: p.min_total,
            max_total: p.max_total,
            tag: p.tag,
            query: p.q,
        };
        let page = app
            .services
            .orders
            .list_order_details(
                &ctx,
                filter,
                p.sort.unwrap_or_default(),
                super::paging::page_request(p.limit, p.cursor),
            )
            .await?;
        let next_cursor = page.next_cursor();
        let items = page.items.into_iter().map(|(_, order)| order).collect();
        Ok(Json(OrderList {
            items,
            next_cursor,
            total_count: page.total_count,
        }))
    }

    post "/orders" create_order needs "orders:create"
        openapi(tag = "orders", request_body = CreateOrderInput,
            responses((status = 201, body = OrderDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<CreateOrderInput>)
        -> ApiResult<(StatusCode, Json<OrderDetail>)> {
        Ok((
            StatusCode::CREATED,
            Json(app.services.orders.create_order(&ctx, input).await?),
        ))
    }

    /// An order by id, or by number (`ORD-000001`) when the path segment is not a UUID.
    get "/orders/{id}" get_order needs "orders:read"
        openapi(tag = "orders", params(("id" = String, Path, description = "Order id or number")),
            responses((status = 200, body = OrderDetail), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<String>)
        -> ApiResult<Json<OrderDetail>> {
        let lookup = Uuid::parse_str(&id).map_or(OrderRef::Number(id), OrderRef::Id);
        Ok(Json(
            app.services.orders.get_order_detail(&ctx, lookup).await?,
        ))
    }

    get "/orders/{id}/items" order_items needs "orders:read"
        openapi(tag = "orders", params(("id" = Uuid, Path, description = "Order id")),
            responses((status = 200, body = OrderItemList), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<OrderItemList>> {
        let detail = app
            .services
            .orders
            .get_order_detail(&ctx, OrderRef::Id(id))
            .await?;
        Ok(Json(OrderItemList {
            items: detail.items,
        }))
    }

    get "/orders/{id}/history" order_history needs "orders:read"
        openapi(tag = "orders",
            params(("id" = Uuid, Path, description = "Order id"), PageParams),
            responses((status = 200, body = Paged<OrderHistoryEntry>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Query(page): Query<PageParams>,
        )
        -> ApiResult<Json<Paged<OrderHistoryEntry>>> {
        let page = app
            .services
            .orders
            .order_history(&ctx, id, page.request())
            .await?;
        Ok(Json(page.into()))
    }

    /// An order's events, oldest first.
    ///
    /// The events a webhook or a subscription would have carried about it (`order.created`,
    /// `order.updated`, ...); 404 for an order the caller cannot see.
    get "/orders/{id}/events" order_events needs "orders:read"
        openapi(tag = "orders",
            params(("id" = Uuid, Path, description = "Order id"), EntityEventsParams),
            responses((status = 200, body = EventList), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Query(p): Query<EntityEventsParams>,
        )
        -> ApiResult<Json<EventList>> {
        let query = EventQuery {
            after: p.after,
            first: p.limit,
            first_field: "limit",
            ..EventQuery::default()
        };
        Ok(Json(
            app.services.orders.order_events(&ctx, id, query).await?.into(),
        ))
    }

    put "/orders/{id}" update_order needs "orders:update"
        openapi(tag = "orders", request_body = UpdateOrderInput,
            params(("id" = Uuid, Path, description = "Order id")),
            responses((status = 200, body = OrderDetail), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<UpdateOrderInput>,
        )
        -> ApiResult<Json<OrderDetail>> {
        Ok(Json(
            app.services.orders.update_order(&ctx, id, input).await?,
        ))
    }

    put "/orders/{id}/status" update_status needs "orders:update"
        openapi(tag = "orders", request_body = UpdateStatusRequest,
            params(("id" = Uuid, Path, description = "Order id")),
            responses((status = 200, body = OrderDetail), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody, description = "INVALID_STATE: the lifecycle does not allow it"),
            (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<UpdateStatusRequest>,
        )
        -> ApiResult<Json<OrderDetail>> {
        Ok(Json(
            app.services
                .orders
                .update_order_status(&ctx, id, input.status, input.reason)
                .await?,
        ))
    }

    post "/orders/{id}/cancel" cancel_order needs "orders:cancel"
        openapi(tag = "orders", request_body = ReasonRequest,
            params(("id" = Uuid, Path, description = "Order id")),
            responses((status = 200, body = OrderDetail), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
            (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<ReasonRequest>,
        )
        -> ApiResult<Json<OrderDetail>> {
        act(&app, &ctx, id, OrderAction::Cancel, Some(input.reason)).await
    }

    post "/orders/{id}/hold" hold_order needs "orders:update"
        openapi(tag = "orders", request_body = ReasonRequest,
            params(("id" = Uuid, Path, description = "Order id")),
            responses((status = 200, body = OrderDetail), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
            (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<ReasonRequest>,
        )
        -> ApiResult<Json<OrderDetail>> {
        act(&app, &ctx, id, OrderAction::Hold, Some(input.reason)).await
    }

    post "/orders/{id}/release" release_order needs "orders:update"
        openapi(tag = "orders", params(("id" = Uuid, Path, description = "Order id")),
            responses((status = 200, body = OrderDetail), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<OrderDetail>> {
        act(&app, &ctx, id, OrderAction::Release, None).await
    }

    post "/orders/{id}/archive" archive_order needs "orders:archive"
        openapi(tag = "orders", params(("id" = Uuid, Path, description = "Order id")),
            responses((status = 200, body = OrderDetail), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<OrderDetail>> {
        act(&app, &ctx, id, OrderAction::Archive, None).await
    }

    post "/orders/merge" merge_orders needs "orders:update"
        openapi(tag = "orders", request_body = MergeRequest,
            responses((status = 200, body = OrderDetail), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<MergeRequest>)
        -> ApiResult<Json<OrderDetail>> {
        Ok(Json(
            app.services
                .orders
                .merge_orders(&ctx, input.order_ids)
                .await?,
        ))
    }

    post "/orders/{id}/split" split_order needs "orders:update"
        openapi(tag = "orders", request_body = SplitRequest,
            params(("id" = Uuid, Path, description = "Order id")),
            responses((status = 201, body = SplitResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
            (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<SplitRequest>,
        )
        -> ApiResult<(StatusCode, Json<SplitResponse>)> {
        let (order, new_order) = app
            .services
            .orders
            .split_order(&ctx, id, input.items)
            .await?;
        Ok((
            StatusCode::CREATED,
            Json(SplitResponse { order, new_order }),
        ))
    }

    get "/customers" list_customers needs "customers:read"
        openapi(tag = "customers", params(ListCustomersParams),
            responses((status = 200, body = CustomerList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Query(p): Query<ListCustomersParams>)
        -> ApiResult<Json<CustomerList>> {
        let query = CustomerQuery {
            query: p.q,
            tag: p.tag,
        };
        Ok(Json(
            app.services
                .customers
                .list_customers(&ctx, query, super::paging::page_request(p.limit, p.cursor))
                .await?
                .into(),
        ))
    }

    post "/customers" create_customer needs "customers:write"
        openapi(tag = "customers", request_body = CreateCustomerInput,
            responses((status = 201, body = Customer), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<CreateCustomerInput>)
        -> ApiResult<(StatusCode, Json<Customer>)> {
        Ok((
            StatusCode::CREATED,
            Json(app.services.customers.create_customer(&ctx, input).await?),
        ))
    }

    get "/customers/{id}" get_customer needs "customers:read"
        openapi(tag = "customers", params(("id" = Uuid, Path, description = "Customer id")),
            responses((status = 200, body = Customer), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<Customer>> {
        Ok(Json(app.services.customers.get_customer(&ctx, id).await?))
    }

    put "/customers/{id}" update_customer needs "customers:write"
        openapi(tag = "customers", request_body = UpdateCustomerInput,
            params(("id" = Uuid, Path, description = "Customer id")),
            responses((status = 200, body = Customer), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
            (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<UpdateCustomerInput>,
        )
        -> ApiResult<Json<Customer>> {
        Ok(Json(
            app.services
                .customers
                .update_customer(&ctx, id, input)
                .await?,
        ))
    }

    post "/customers/{id}/addresses" add_address needs "customers:write"
        openapi(tag = "customers", request_body = CustomerAddressInput,
            params(("id" = Uuid, Path, description = "Customer id")),
            responses((status = 201, body = Customer), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<CustomerAddressInput>,
        )
        -> ApiResult<(StatusCode, Json<Customer>)> {
        Ok((
            StatusCode::CREATED,
            Json(app.services.customers.add_address(&ctx, id, input).await?),
        ))
    }

    put "/customers/{id}/addresses/{address_id}" update_address needs "customers:write"
        openapi(tag = "customers", request_body = CustomerAddressInput,
            params(("id" = Uuid, Path, description = "Customer id"), ("address_id" = Uuid, Path, description = "Address id")),
            responses((status = 200, body = Customer), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path((id, address_id)): Path<(Uuid, Uuid)>,
            Json(input): Json<CustomerAddressInput>,
        )
        -> ApiResult<Json<Customer>> {
        Ok(Json(
            app.services
                .customers
                .update_address(&ctx, id, address_id, input)
                .await?,
        ))
    }

    delete "/customers/{id}/addresses/{address_id}" delete_address needs "customers:write"
        openapi(tag = "customers",
            params(("id" = Uuid, Path, description = "Customer id"), ("address_id" = Uuid, Path, description = "Address id")),
            responses((status = 200, body = Customer), (status = 404, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path((id, address_id)): Path<(Uuid, Uuid)>,
        )
        -> ApiResult<Json<Customer>> {
        Ok(Json(
            app.services
                .customers
                .delete_address(&ctx, id, address_id)
                .await?,
        ))
    }

    post "/customers/{id}/wishlist" add_to_wishlist needs "customers:write"
        openapi(tag = "customers", request_body = WishlistRequest,
            params(("id" = Uuid, Path, description = "Customer id")),
            responses((status = 200, body = Customer), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<WishlistRequest>,
        )
        -> ApiResult<Json<Customer>> {
        Ok(Json(
            app.services
                .customers
                .add_to_wishlist(&ctx, id, input.variant_id)
                .await?,
        ))
    }

    delete "/customers/{id}/wishlist/{variant_id}" remove_from_wishlist needs "customers:write"
        openapi(tag = "customers",
            params(("id" = Uuid, Path, description = "Customer id"), ("variant_id" = Uuid, Path, description = "Variant id")),
            responses((status = 200, body = Customer), (status = 404, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path((id, variant_id)): Path<(Uuid, Uuid)>,
        )
        -> ApiResult<Json<Customer>> {
        Ok(Json(
            app.services
                .customers
                .remove_from_wishlist(&ctx, id, variant_id)
                .await?,
        ))
    }
}
