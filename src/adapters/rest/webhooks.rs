//! `/api/v1/webhooks` and `/api/v1/webhook-deliveries`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, Path, Query};
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

#[utoipa::path(get, path = "/webhooks", tag = "webhooks",
    responses((status = 200, body = WebhookList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_webhooks(
    State(app): State<AppState>,
    Caller(ctx): Caller,
) -> ApiResult<Json<WebhookList>> {
    Ok(Json(WebhookList {
        items: app.services.webhooks.list(&ctx).await?,
    }))
}

#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = CreateWebhookInput,
    responses((status = 201, body = CreatedWebhook, description = "Created; `secret` is shown only this once"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_webhook(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Json(input): Json<CreateWebhookInput>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    let created = app.services.webhooks.create(&ctx, input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = Webhook), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_webhook(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Webhook>> {
    Ok(Json(app.services.webhooks.get(&ctx, id).await?))
}

#[utoipa::path(put, path = "/webhooks/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    request_body = UpdateWebhookInput,
    responses((status = 200, body = Webhook), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_webhook(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<UpdateWebhookInput>,
) -> ApiResult<Json<Webhook>> {
    Ok(Json(app.services.webhooks.update(&ctx, id, input).await?))
}

#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted with its delivery log"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_webhook(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    app.services.webhooks.delete(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/webhooks/{id}/ping", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookDelivery, description = "The ping and the receiver's answer"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn ping_webhook(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<WebhookDelivery>> {
    Ok(Json(app.services.webhooks.ping(&ctx, id).await?))
}

#[utoipa::path(post, path = "/webhooks/{id}/rotate-secret", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = CreatedWebhook, description = "The new `secret`, shown only this once"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotate_webhook_secret(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<CreatedWebhook>> {
    Ok(Json(app.services.webhooks.rotate_secret(&ctx, id).await?))
}

#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = Uuid, Path), ListDeliveriesParams),
    responses((status = 200, body = DeliveryList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_deliveries(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<Uuid>,
    Query(params): Query<ListDeliveriesParams>,
) -> ApiResult<Json<DeliveryList>> {
    let query = DeliveryQuery {
        status: params.status,
        first: params.limit,
        first_field: "limit",
        after: params.after,
    };
    let items = app.services.webhooks.deliveries(&ctx, id, query).await?;
    Ok(Json(DeliveryList { items }))
}

#[utoipa::path(get, path = "/webhook-deliveries/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookDelivery), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_delivery(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<WebhookDelivery>> {
    Ok(Json(app.services.webhooks.delivery(&ctx, id).await?))
}

#[utoipa::path(post, path = "/webhook-deliveries/{id}/resend", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookDelivery, description = "Queued again with a fresh retry window"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn resend_delivery(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<WebhookDelivery>> {
    Ok(Json(app.services.webhooks.resend(&ctx, id).await?))
}
