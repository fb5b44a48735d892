//! `/api/v1/shipping-methods`, `/api/v1/tax-rates` and `/api/v1/discounts`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{Json, Path};
use super::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::domain::{DiscountCode, ShippingMethod, TaxRate};
use crate::http::Caller;
use crate::services::pricing::{
    CreateDiscountCodeInput, CreateShippingMethodInput, CreateTaxRateInput,
};

type ApiResult<T> = Result<T, ApiError>;

/// Every shipping method.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShippingMethodList {
    pub items: Vec<ShippingMethod>,
}

/// Every tax rate.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaxRateList {
    pub items: Vec<TaxRate>,
}

/// Every discount code.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiscountCodeList {
    pub items: Vec<DiscountCode>,
}

#[utoipa::path(get, path = "/shipping-methods", tag = "pricing",
    responses((status = 200, body = ShippingMethodList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_shipping_methods(
    State(app): State<AppState>,
    Caller(ctx): Caller,
) -> ApiResult<Json<ShippingMethodList>> {
    Ok(Json(ShippingMethodList {
        items: app.services.pricing.shipping_methods(&ctx).await?,
    }))
}

#[utoipa::path(post, path = "/shipping-methods", tag = "pricing", request_body = CreateShippingMethodInput,
    responses((status = 201, body = ShippingMethod), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_shipping_method(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Json(input): Json<CreateShippingMethodInput>,
) -> ApiResult<(StatusCode, Json<ShippingMethod>)> {
    let method = app
        .services
        .pricing
        .create_shipping_method(&ctx, input)
        .await?;
    Ok((StatusCode::CREATED, Json(method)))
}

#[utoipa::path(delete, path = "/shipping-methods/{id}", tag = "pricing", params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn delete_shipping_method(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    app.services
        .pricing
        .delete_shipping_method(&ctx, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/tax-rates", tag = "pricing",
    responses((status = 200, body = TaxRateList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_tax_rates(
    State(app): State<AppState>,
    Caller(ctx): Caller,
) -> ApiResult<Json<TaxRateList>> {
    Ok(Json(TaxRateList {
        items: app.services.pricing.tax_rates(&ctx).await?,
    }))
}

#[utoipa::path(post, path = "/tax-rates", tag = "pricing", request_body = CreateTaxRateInput,
    responses((status = 201, body = TaxRate), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_tax_rate(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Json(input): Json<CreateTaxRateInput>,
) -> ApiResult<(StatusCode, Json<TaxRate>)> {
    let rate = app.services.pricing.create_tax_rate(&ctx, input).await?;
    Ok((StatusCode::CREATED, Json(rate)))
}

#[utoipa::path(delete, path = "/tax-rates/{id}", tag = "pricing", params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn delete_tax_rate(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    app.services.pricing.delete_tax_rate(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/discounts", tag = "pricing",
    responses((status = 200, body = DiscountCodeList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_discount_codes(
    State(app): State<AppState>,
    Caller(ctx): Caller,
) -> ApiResult<Json<DiscountCodeList>> {
    Ok(Json(DiscountCodeList {
        items: app.services.pricing.discount_codes(&ctx).await?,
    }))
}

#[utoipa::path(post, path = "/discounts", tag = "pricing", request_body = CreateDiscountCodeInput,
    responses((status = 201, body = DiscountCode), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_discount_code(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Json(input): Json<CreateDiscountCodeInput>,
) -> ApiResult<(StatusCode, Json<DiscountCode>)> {
    let code = app
        .services
        .pricing
        .create_discount_code(&ctx, input)
        .await?;
    Ok((StatusCode::CREATED, Json(code)))
}

#[utoipa::path(delete, path = "/discounts/{id}", tag = "pricing", params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn delete_discount_code(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    app.services.pricing.delete_discount_code(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
