//! `/api/v1/checkout`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{Json, Path};
use super::operation::operations;
use super::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::domain::{Checkout, CompletedCheckout, ShippingOption};
use crate::http::Caller;
use crate::services::checkout::{StartCheckoutInput, UpdateCheckoutInput};

type ApiResult<T> = Result<T, ApiError>;

/// The shipping methods a checkout can use.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShippingOptionList {
    pub items: Vec<ShippingOption>,
}

operations! {
    post "/checkout" start_checkout needs anyone
        openapi(tag = "checkout", request_body = StartCheckoutInput,
            responses((status = 201, body = Checkout), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<StartCheckoutInput>)
        -> ApiResult<(StatusCode, Json<Checkout>)> {
        let checkout = app.services.checkout.start(&ctx, input).await?;
        Ok((StatusCode::CREATED, Json(checkout)))
    }

    get "/checkout/{id}" get_checkout needs anyone
        openapi(tag = "checkout", params(("id" = Uuid, Path)),
            responses((status = 200, body = Checkout), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<Checkout>> {
        Ok(Json(app.services.checkout.get(&ctx, id).await?))
    }

    put "/checkout/{id}" update_checkout needs anyone
        openapi(tag = "checkout", params(("id" = Uuid, Path)),
            request_body = UpdateCheckoutInput,
            responses((status = 200, body = Checkout, description = "With totals recomputed"), (status = 400, body = ErrorBody),
            (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<UpdateCheckoutInput>,
        )
        -> ApiResult<Json<Checkout>> {
        Ok(Json(app.services.checkout.update(&ctx, id, input).await?))
    }

    get "/checkout/{id}/shipping-methods" shipping_options needs anyone
        openapi(tag = "checkout", params(("id" = Uuid, Path)),
            responses((status = 200, body = ShippingOptionList), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<ShippingOptionList>> {
        Ok(Json(ShippingOptionList {
            items: app.services.checkout.shipping_options(&ctx, id).await?,
        }))
    }

    post "/checkout/{id}/complete" complete_checkout needs anyone
        openapi(tag = "checkout", params(("id" = Uuid, Path)),
            responses((status = 200, body = CompletedCheckout, description = "The order placed and paid (the same one on a repeat)"),
            (status = 402, body = ErrorBody, description = "PAYMENT_DECLINED with the provider's decline_code; nothing was created"),
            (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<CompletedCheckout>> {
        Ok(Json(app.services.checkout.complete(&ctx, id).await?))
    }
}
