//! `/api/v1` catalog and event-log resources: each handler parses, calls one service, maps.

use axum::extract::State;
use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, Path, Query};
use super::operation::operations;
use super::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::domain::{
    Availability, Category, Event, ProductDetail, ProductFilter, ProductSort, ProductStatus,
    Variant,
};
use crate::http::Caller;
use crate::services::catalog::{
    CreateCategoryInput, CreateProductInput, CreateVariantInput, ProductRef, UpdateCategoryInput,
    UpdateProductInput, UpdateVariantInput,
};
use crate::services::events::EventQuery;

type ApiResult<T> = Result<T, ApiError>;

/// Filters, order and page of `GET /api/v1/products`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListProductsParams {
    /// Only products in this status.
    status: Option<ProductStatus>,
    /// Only products in this category or below it.
    category_id: Option<Uuid>,
    /// Only products with a variant priced at least this (decimal string).
    #[param(value_type = Option<String>)]
    min_price: Option<Decimal>,
    /// Only products with a variant priced at most this (decimal string).
    #[param(value_type = Option<String>)]
    max_price: Option<Decimal>,
    /// Full-text search over name, description and SKUs.
    q: Option<String>,
    /// Order of the list; newest first by default.
    sort: Option<ProductSort>,
    /// Page size, 1 to 100 (default 20).
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of products.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductList {
    pub items: Vec<ProductDetail>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// Products matching the filters across all pages.
    pub total_count: i64,
}

/// All categories.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryList {
    pub items: Vec<Category>,
}

/// The categories to assign to a product (replacing the current ones).
#[derive(Debug, Deserialize, ToSchema)]
pub struct SetProductCategories {
    pub category_ids: Vec<Uuid>,
}

/// Which events `GET /api/v1/events` returns.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListEventsParams {
    /// Only events after this sequence number.
    after: Option<i64>,
    /// Comma-separated event types; `product.*` matches all product events.
    types: Option<String>,
    /// Only events about this entity.
    entity_id: Option<Uuid>,
    /// Most events to return, 1 to 500 (default 500).
    limit: Option<i64>,
}

/// Which of an entity's events `GET /api/v1/orders/{id}/events` returns.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntityEventsParams {
    /// Only events after this sequence number.
    pub after: Option<i64>,
    /// Most events to return, 1 to 500 (default 500).
    pub limit: Option<i64>,
}

/// Events in sequence order.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub items: Vec<Event>,
    /// Send as `after` for the next page: the last sequence read, events you may not see
    /// included (so it moves on even when `items` is empty), or your `after` when nothing
    /// was read.
    pub next_after: i64,
}

impl From<crate::services::events::EventPage> for EventList {
    fn from(page: crate::services::events::EventPage) -> Self {
        Self {
            items: page.events,
            next_after: page.next_after,
        }
    }
}

operations! {
    get "/products" list_products needs "products:read"
        openapi(tag = "catalog", params(ListProductsParams),
            responses((status = 200, body = ProductList), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Query(params): Query<ListProductsParams>,
        )
        -> ApiResult<Json<ProductList>> {
        let filter = ProductFilter {
            status: params.status,
            category_id: params.category_id,
            min_price: params.min_price,
            max_price: params.max_price,
            query: params.q,
        };
        let page = super::paging::page_request(params.limit, params.cursor);
        let page = app
            .services
            .catalog
            .list_product_details(&ctx, filter, params.sort.unwrap_or_default(), page)
            .await?;
        let next_cursor = page.next_cursor();
        let items = page.items.into_iter().map(|(_, product)| product).collect();
        Ok(Json(ProductList {
            items,
            next_cursor,
            total_count: page.total_count,
        }))
    }

    post "/products" create_product needs "products:write"
        openapi(tag = "catalog", request_body = CreateProductInput,
            responses((status = 201, body = ProductDetail), (status = 400, body = ErrorBody),
            (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<CreateProductInput>)
        -> ApiResult<(StatusCode, Json<ProductDetail>)> {
        let product = app.services.catalog.create_product(&ctx, input).await?;
        Ok((StatusCode::CREATED, Json(product)))
    }

    /// A product by id, or by slug when the path segment is not a UUID.
    get "/products/{id}" get_product needs "products:read"
        openapi(tag = "catalog",
            params(("id" = String, Path, description = "Product id (UUID) or slug")),
            responses((status = 200, body = ProductDetail), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<String>)
        -> ApiResult<Json<ProductDetail>> {
        let lookup = match Uuid::parse_str(&id) {
            Ok(id) => ProductRef::Id(id),
            Err(_) => ProductRef::Slug(id),
        };
        Ok(Json(
            app.services
                .catalog
                .get_product_detail(&ctx, lookup)
                .await?,
        ))
    }

    /// What a storefront may show of a product's stock, per variant: the level, and the units for
    /// sale unless the merchant shows levels only (staff always see them). Anyone may read it for
    /// a product on sale; another is 404.
    get "/products/{id}/availability" product_availability needs "products:read"
        openapi(tag = "catalog",
            params(("id" = Uuid, Path, description = "Product id")),
            responses((status = 200, body = Vec<Availability>), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<Vec<Availability>>> {
        let of = crate::domain::SellableOf::Product(id);
        let shown = app.services.inventory.availability(&ctx, of).await?;
        if shown.is_empty() {
            return Err(crate::services::Error::not_found("product", id).into());
        }
        Ok(Json(shown))
    }

    put "/products/{id}" update_product needs "products:write"
        openapi(tag = "catalog", request_body = UpdateProductInput,
            params(("id" = Uuid, Path, description = "Product id")),
            responses((status = 200, body = ProductDetail), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<UpdateProductInput>,
        )
        -> ApiResult<Json<ProductDetail>> {
        Ok(Json(
            app.services.catalog.update_product(&ctx, id, input).await?,
        ))
    }

    delete "/products/{id}" delete_product needs "products:write"
        openapi(tag = "catalog",
            params(("id" = Uuid, Path, description = "Product id")),
            responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<StatusCode> {
        app.services.catalog.delete_product(&ctx, id).await?;
        Ok(StatusCode::NO_CONTENT)
    }

    post "/products/{id}/variants" create_variant needs "products:write"
        openapi(tag = "catalog", request_body = CreateVariantInput,
            params(("id" = Uuid, Path, description = "Product id")),
            responses((status = 201, body = Variant), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<CreateVariantInput>,
        )
        -> ApiResult<(StatusCode, Json<Variant>)> {
        let variant = app.services.catalog.create_variant(&ctx, id, input).await?;
        Ok((StatusCode::CREATED, Json(variant)))
    }

    put "/variants/{id}" update_variant needs "products:write"
        openapi(tag = "catalog", request_body = UpdateVariantInput,
            params(("id" = Uuid, Path, description = "Variant id")),
            responses((status = 200, body = Variant), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<UpdateVariantInput>,
        )
        -> ApiResult<Json<Variant>> {
        Ok(Json(
            app.services.catalog.update_variant(&ctx, id, input).await?,
        ))
    }

    delete "/variants/{id}" delete_variant needs "products:write"
        openapi(tag = "catalog",
            params(("id" = Uuid, Path, description = "Variant id")),
            responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<StatusCode> {
        app.services.catalog.delete_variant(&ctx, id).await?;
        Ok(StatusCode::NO_CONTENT)
    }

    put "/products/{id}/categories" set_product_categories needs "products:write"
        openapi(tag = "catalog", request_body = SetProductCategories,
            params(("id" = Uuid, Path, description = "Product id")),
            responses((status = 200, body = ProductDetail), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<SetProductCategories>,
        )
        -> ApiResult<Json<ProductDetail>> {
        let input = UpdateProductInput {
            category_ids: Some(input.category_ids),
            ..Default::default()
        };
        Ok(Json(
            app.services.catalog.update_product(&ctx, id, input).await?,
        ))
    }

    get "/categories" list_categories needs "categories:read"
        openapi(tag = "catalog", responses((status = 200, body = CategoryList)))
        (State(app): State<AppState>, Caller(ctx): Caller)
        -> ApiResult<Json<CategoryList>> {
        Ok(Json(CategoryList {
            items: app.services.catalog.list_categories(&ctx).await?,
        }))
    }

    post "/categories" create_category needs "categories:write"
        openapi(tag = "catalog", request_body = CreateCategoryInput,
            responses((status = 201, body = Category), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
            (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<CreateCategoryInput>)
        -> ApiResult<(StatusCode, Json<Category>)> {
        Ok((
            StatusCode::CREATED,
            Json(app.services.catalog.create_category(&ctx, input).await?),
        ))
    }

    get "/categories/{id}" get_category needs "categories:read"
        openapi(tag = "catalog",
            params(("id" = Uuid, Path, description = "Category id")),
            responses((status = 200, body = Category), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<Category>> {
        Ok(Json(app.services.catalog.get_category(&ctx, id).await?))
    }

    put "/categories/{id}" update_category needs "categories:write"
        openapi(tag = "catalog", request_body = UpdateCategoryInput,
            params(("id" = Uuid, Path, description = "Category id")),
            responses((status = 200, body = Category), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<UpdateCategoryInput>,
        )
        -> ApiResult<Json<Category>> {
        Ok(Json(
            app.services
                .catalog
                .update_category(&ctx, id, input)
                .await?,
        ))
    }

    delete "/categories/{id}" delete_category needs "categories:write"
        openapi(tag = "catalog",
            params(("id" = Uuid, Path, description = "Category id")),
            responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<StatusCode> {
        app.services.catalog.delete_category(&ctx, id).await?;
        Ok(StatusCode::NO_CONTENT)
    }

    get "/events" list_events needs anyone
        openapi(tag = "events", params(ListEventsParams),
            responses((status = 200, body = EventList), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Query(params): Query<ListEventsParams>)
        -> ApiResult<Json<EventList>> {
        let types = params
            .types
            .map(|t| {
                t.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let query = EventQuery {
            after: params.after,
            types,
            entity_id: params.entity_id,
            first: params.limit,
            first_field: "limit",
        };
        Ok(Json(app.services.events.list(&ctx, query).await?.into()))
    }
}
