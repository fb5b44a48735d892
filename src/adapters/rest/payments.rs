//! `/api/v1/payments`: card tokens, payments of orders (authorize, capture, void, refund),
//! the providers' webhooks and the stablecoin reconciliation report.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, Path, Query};
use super::operation::operations;
use super::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::domain::{Payment, PaymentToken, StablecoinReconciliation};
use crate::http::Caller;
use crate::services::payments::stablepay::StablePayCallback;
use crate::services::payments::{CaptureInput, CardInput, CreatePaymentInput, RefundInput};

type ApiResult<T> = Result<T, ApiError>;

/// The payments of one order.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentList {
    pub items: Vec<Payment>,
}

/// Which payments `GET /api/v1/payments` lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListPaymentsParams {
    /// The order whose payments to list.
    order_id: Uuid,
}

/// Acknowledgement of a provider webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReceived {
    pub received: bool,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The period of the reconciliation report: at most 92 days, holding at most 1000 requests.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReconciliationParams {
    /// Requests created at or after this time (default: 30 days before `to`).
    from: Option<DateTime<Utc>>,
    /// Requests created before this time (default: now).
    to: Option<DateTime<Utc>>,
}

operations! {
    post "/payments/tokens" create_payment_token needs anyone
        openapi(tag = "payments", request_body = CardInput,
            responses((status = 201, body = PaymentToken), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
            (status = 503, body = ErrorBody, description = "The test provider is turned off")))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(card): Json<CardInput>)
        -> ApiResult<(StatusCode, Json<PaymentToken>)> {
        let token = app.services.payments.create_token(&ctx, card).await?;
        Ok((StatusCode::CREATED, Json(token)))
    }

    post "/payments" create_payment needs "payments:create"
        openapi(tag = "payments", request_body = CreatePaymentInput,
            responses((status = 201, body = Payment, description = "Captured, authorized, or (stablecoin) pending"),
            (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 402, body = ErrorBody, description = "PAYMENT_DECLINED"),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
            (status = 422, body = ErrorBody), (status = 503, body = ErrorBody, description = "The provider is unavailable or not configured")))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<CreatePaymentInput>)
        -> ApiResult<(StatusCode, Json<Payment>)> {
        let payment = app.services.payments.create_payment(&ctx, input).await?;
        Ok((StatusCode::CREATED, Json(payment)))
    }

    get "/payments" list_payments needs "payments:read"
        openapi(tag = "payments", params(ListPaymentsParams),
            responses((status = 200, body = PaymentList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Query(params): Query<ListPaymentsParams>,
        )
        -> ApiResult<Json<PaymentList>> {
        let items = app
            .services
            .payments
            .payments_of_order(&ctx, params.order_id)
            .await?;
        Ok(Json(PaymentList { items }))
    }

    get "/payments/{id}" get_payment needs "payments:read"
        openapi(tag = "payments", params(("id" = Uuid, Path)),
            responses((status = 200, body = Payment), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<Payment>> {
        Ok(Json(app.services.payments.get(&ctx, id).await?))
    }

    post "/payments/{id}/capture" capture_payment needs "payments:capture"
        openapi(tag = "payments", params(("id" = Uuid, Path)),
            request_body = CaptureInput,
            responses((status = 200, body = Payment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
            (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<CaptureInput>,
        )
        -> ApiResult<Json<Payment>> {
        Ok(Json(app.services.payments.capture(&ctx, id, input).await?))
    }

    post "/payments/{id}/void" void_payment needs "payments:void"
        openapi(tag = "payments", params(("id" = Uuid, Path)),
            responses((status = 200, body = Payment), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<Payment>> {
        Ok(Json(app.services.payments.void(&ctx, id).await?))
    }

    post "/payments/refund" refund_payment needs "payments:refund"
        openapi(tag = "payments", request_body = RefundInput,
            responses((status = 200, body = Payment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
            (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<RefundInput>)
        -> ApiResult<Json<Payment>> {
        Ok(Json(app.services.payments.refund(&ctx, input).await?))
    }

    post "/payments/webhooks/stripe" stripe_webhook needs anyone
        openapi(tag = "payments",
            request_body(content = Object, description = "A Stripe event, signed in the `Stripe-Signature` header"),
            params(("Stripe-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">")),
            responses((status = 200, body = WebhookReceived, description = "Applied (or a redelivery, ignored)"),
            (status = 422, body = ErrorBody, description = "Missing or bad signature, or not a Stripe event"),
            (status = 503, body = ErrorBody, description = "STRIPE_WEBHOOK_SECRET is not configured")))
        (State(app): State<AppState>, headers: HeaderMap, body: axum::body::Bytes)
        -> ApiResult<Json<WebhookReceived>> {
        let signature = header(&headers, "stripe-signature");
        app.services
            .payments
            .provider_webhook("stripe", signature, &body)
            .await?;
        Ok(Json(WebhookReceived { received: true }))
    }

    post "/payments/webhooks/stablepay" stablepay_callback needs anyone
        openapi(tag = "payments",
            request_body(content = StablePayCallback, description = "A transfer StablePay saw, signed in the `StablePay-Signature` header"),
            params(("StablePay-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">")),
            responses((status = 200, body = Payment, description = "The payment after the transfer was applied"),
            (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The transaction was reported before with another amount or payment"),
            (status = 422, body = ErrorBody, description = "Missing or bad signature, or a transfer that does not match the request"),
            (status = 503, body = ErrorBody, description = "STABLEPAY_CALLBACK_SECRET is not configured")))
        (State(app): State<AppState>, headers: HeaderMap, body: axum::body::Bytes)
        -> ApiResult<Json<Payment>> {
        let signature = header(&headers, "stablepay-signature");
        let payment = app
            .services
            .payments
            .stablepay_callback(signature, &body)
            .await?;
        Ok(Json(payment))
    }

    get "/payments/stablepay/reconciliation" stablecoin_reconciliation needs "payments:read"
        openapi(tag = "payments", params(ReconciliationParams),
            responses((status = 200, body = StablecoinReconciliation), (status = 400, body = ErrorBody),
            (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Query(params): Query<ReconciliationParams>,
        )
        -> ApiResult<Json<StablecoinReconciliation>> {
        let report = app
            .services
            .payments
            .stablecoin_reconciliation(&ctx, params.from, params.to)
            .await?;
        Ok(Json(report))
    }
}
