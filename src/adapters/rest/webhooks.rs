//! `/api/v1/webhooks` and `/api/v1/webhook-deliveries`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, Path, Query};
use super::operation::operations;
use super::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::domain::{CreatedWebhook, DeliveryStatus, Webhook, WebhookDelivery};
use crate::http::Caller;
use crate::services::webhooks::{CreateWebhookInput, DeliveryQuery, UpdateWebhookInput};

type ApiResult<T> = Result<T, ApiError>;

/// Every webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<Webhook>,
}

/// Deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub items: Vec<WebhookDelivery>,
}

/// Which deliveries `GET /api/v1/webhooks/{id}/deliveries` returns.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListDeliveriesParams {
    /// Only deliveries in this state.
    status: Option<DeliveryStatus>,
    /// Most deliveries to return, 1 to 100 (default 20).
    limit: Option<i64>,
    /// Only deliveries older than this one: the last id of the previous page.
    after: Option<Uuid>,
}

operations! {
    get "/webhooks" list_webhooks needs "webhooks:read"
        openapi(tag = "webhooks",
            responses((status = 200, body = WebhookList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller)
        -> ApiResult<Json<WebhookList>> {
        Ok(Json(WebhookList {
            items: app.services.webhooks.list(&ctx).await?,
        }))
    }

    /// Creates a webhook; a shop has at most 100, so the list stays short.
    post "/webhooks" create_webhook needs "webhooks:manage"
        openapi(tag = "webhooks", request_body = CreateWebhookInput,
            responses((status = 201, body = CreatedWebhook, description = "Created; `secret` is shown only this once"),
            (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 409, body = ErrorBody, description = "INVALID_STATE: 100 webhooks exist already"),
            (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<CreateWebhookInput>)
        -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
        let created = app.services.webhooks.create(&ctx, input).await?;
        Ok((StatusCode::CREATED, Json(created)))
    }

    get "/webhooks/{id}" get_webhook needs "webhooks:read"
        openapi(tag = "webhooks", params(("id" = Uuid, Path)),
            responses((status = 200, body = Webhook), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<Webhook>> {
        Ok(Json(app.services.webhooks.get(&ctx, id).await?))
    }

    put "/webhooks/{id}" update_webhook needs "webhooks:manage"
        openapi(tag = "webhooks", params(("id" = Uuid, Path)),
            request_body = UpdateWebhookInput,
            responses((status = 200, body = Webhook), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<UpdateWebhookInput>,
        )
        -> ApiResult<Json<Webhook>> {
        Ok(Json(app.services.webhooks.update(&ctx, id, input).await?))
    }

    delete "/webhooks/{id}" delete_webhook needs "webhooks:manage"
        openapi(tag = "webhooks", params(("id" = Uuid, Path)),
            responses((status = 204, description = "Deleted with its delivery log"), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<StatusCode> {
        app.services.webhooks.delete(&ctx, id).await?;
        Ok(StatusCode::NO_CONTENT)
    }

    post "/webhooks/{id}/ping" ping_webhook needs "webhooks:manage"
        openapi(tag = "webhooks", params(("id" = Uuid, Path)),
            responses((status = 200, body = WebhookDelivery, description = "The ping and the receiver's answer"),
            (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<WebhookDelivery>> {
        Ok(Json(app.services.webhooks.ping(&ctx, id).await?))
    }

    post "/webhooks/{id}/rotate-secret" rotate_webhook_secret needs "webhooks:manage"
        openapi(tag = "webhooks", params(("id" = Uuid, Path)),
            responses((status = 200, body = CreatedWebhook, description = "The new `secret`, shown only this once"),
            (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<CreatedWebhook>> {
        Ok(Json(app.services.webhooks.rotate_secret(&ctx, id).await?))
    }

    get "/webhooks/{id}/deliveries" list_deliveries needs "webhooks:read"
        openapi(tag = "webhooks",
            params(("id" = Uuid, Path), ListDeliveriesParams),
            responses((status = 200, body = DeliveryList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Query(params): Query<ListDeliveriesParams>,
        )
        -> ApiResult<Json<DeliveryList>> {
        let query = DeliveryQuery {
            status: params.status,
            first: params.limit,
            first_field: "limit",
            after: params.after,
        };
        let page = app.services.webhooks.deliveries(&ctx, id, query).await?;
        Ok(Json(DeliveryList { items: page.items }))
    }

    get "/webhook-deliveries/{id}" get_delivery needs "webhooks:read"
        openapi(tag = "webhooks", params(("id" = Uuid, Path)),
            responses((status = 200, body = WebhookDelivery), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<WebhookDelivery>> {
        Ok(Json(app.services.webhooks.delivery(&ctx, id).await?))
    }

    post "/webhook-deliveries/{id}/resend" resend_delivery needs "webhooks:manage"
        openapi(tag = "webhooks", params(("id" = Uuid, Path)),
            responses((status = 200, body = WebhookDelivery, description = "Queued again with a fresh retry window"),
            (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<WebhookDelivery>> {
        Ok(Json(app.services.webhooks.resend(&ctx, id).await?))
    }
}
