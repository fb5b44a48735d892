//! `/api/v1/shipping-methods`, `/api/v1/tax-rates` and `/api/v1/discounts`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{Json, Path, Query};
use super::operation::operations;
use super::paging::{PageParams, Paged};
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

operations! {
    get "/shipping-methods" list_shipping_methods needs "pricing:read"
        openapi(tag = "pricing",
            responses((status = 200, body = ShippingMethodList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller)
        -> ApiResult<Json<ShippingMethodList>> {
        Ok(Json(ShippingMethodList {
            items: app.services.pricing.shipping_methods(&ctx).await?,
        }))
    }

    post "/shipping-methods" create_shipping_method needs "pricing:manage"
        openapi(tag = "pricing", request_body = CreateShippingMethodInput,
            responses((status = 201, body = ShippingMethod), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Json(input): Json<CreateShippingMethodInput>,
        )
        -> ApiResult<(StatusCode, Json<ShippingMethod>)> {
        let method = app
            .services
            .pricing
            .create_shipping_method(&ctx, input)
            .await?;
        Ok((StatusCode::CREATED, Json(method)))
    }

    delete "/shipping-methods/{id}" delete_shipping_method needs "pricing:manage"
        openapi(tag = "pricing", params(("id" = Uuid, Path)),
            responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<StatusCode> {
        app.services
            .pricing
            .delete_shipping_method(&ctx, id)
            .await?;
        Ok(StatusCode::NO_CONTENT)
    }

    get "/tax-rates" list_tax_rates needs "pricing:read"
        openapi(tag = "pricing",
            responses((status = 200, body = TaxRateList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller)
        -> ApiResult<Json<TaxRateList>> {
        Ok(Json(TaxRateList {
            items: app.services.pricing.tax_rates(&ctx).await?,
        }))
    }

    post "/tax-rates" create_tax_rate needs "pricing:manage"
        openapi(tag = "pricing", request_body = CreateTaxRateInput,
            responses((status = 201, body = TaxRate), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<CreateTaxRateInput>)
        -> ApiResult<(StatusCode, Json<TaxRate>)> {
        let rate = app.services.pricing.create_tax_rate(&ctx, input).await?;
        Ok((StatusCode::CREATED, Json(rate)))
    }

    delete "/tax-rates/{id}" delete_tax_rate needs "pricing:manage"
        openapi(tag = "pricing", params(("id" = Uuid, Path)),
            responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<StatusCode> {
        app.services.pricing.delete_tax_rate(&ctx, id).await?;
        Ok(StatusCode::NO_CONTENT)
    }

    get "/discounts" list_discount_codes needs "pricing:read"
        openapi(tag = "pricing", params(PageParams),
            responses((status = 200, body = Paged<DiscountCode>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Query(page): Query<PageParams>)
        -> ApiResult<Json<Paged<DiscountCode>>> {
        let page = app.services.pricing.discount_codes(&ctx, page.request()).await?;
        Ok(Json(page.into()))
    }

    post "/discounts" create_discount_code needs "pricing:manage"
        openapi(tag = "pricing", request_body = CreateDiscountCodeInput,
            responses((status = 201, body = DiscountCode), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Json(input): Json<CreateDiscountCodeInput>,
        )
        -> ApiResult<(StatusCode, Json<DiscountCode>)> {
        let code = app
            .services
            .pricing
            .create_discount_code(&ctx, input)
            .await?;
        Ok((StatusCode::CREATED, Json(code)))
    }

    delete "/discounts/{id}" delete_discount_code needs "pricing:manage"
        openapi(tag = "pricing", params(("id" = Uuid, Path)),
            responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<StatusCode> {
        app.services.pricing.delete_discount_code(&ctx, id).await?;
        Ok(StatusCode::NO_CONTENT)
    }
}
