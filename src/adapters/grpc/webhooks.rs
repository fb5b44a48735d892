//! `stateset.v1.WebhookService`: webhooks and their delivery log over gRPC, each method one call
//! of [`WebhookService`](crate::services::WebhookService), the service REST and GraphQL call.

use tonic::{Request, Response, Status};

use super::pb::webhook_service_server::WebhookService;
use super::pb::{self};
use super::{call_ctx, convert, idempotent, method_of, status};
use crate::app::AppState;
use crate::domain::{CreatedWebhook, DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery};
use crate::services::webhooks::{CreateWebhookInput, DeliveryQuery, UpdateWebhookInput};

/// Webhooks over gRPC.
pub struct WebhooksGrpc {
    app: AppState,
}

impl WebhooksGrpc {
    pub fn new(app: AppState) -> Self {
        Self { app }
    }
}

convert::proto_enum!(status_out, status_in: DeliveryStatus => pb::WebhookDeliveryStatus, "delivery status" {
    Pending <=> Pending,
    Succeeded <=> Succeeded,
    Failed <=> Failed,
});

fn webhook(w: Webhook) -> pb::Webhook {
    pb::Webhook {
        id: w.id.to_string(),
        url: w.url,
        description: w.description,
        event_types: w.event_types,
        active: w.active,
        disabled_reason: w.disabled_reason,
        consecutive_failures: w.consecutive_failures,
        failing_since: w.failing_since.map(convert::timestamp),
        created_at: Some(convert::timestamp(w.created_at)),
        updated_at: Some(convert::timestamp(w.updated_at)),
    }
}

fn with_secret(c: CreatedWebhook) -> pb::WebhookWithSecret {
    pb::WebhookWithSecret {
        webhook: Some(webhook(c.webhook)),
        secret: c.secret,
    }
}

fn attempt(a: WebhookAttempt) -> pb::WebhookAttempt {
    pb::WebhookAttempt {
        attempt: a.attempt,
        status_code: a.status_code,
        duration_ms: a.duration_ms,
        response_excerpt: a.response_excerpt,
        error: a.error,
        created_at: Some(convert::timestamp(a.created_at)),
    }
}

fn delivery(d: WebhookDelivery) -> pb::WebhookDelivery {
    pb::WebhookDelivery {
        id: d.id.to_string(),
        webhook_id: d.webhook_id.to_string(),
        event_id: d.event_id.to_string(),
        event_sequence: d.event_sequence,
        event_type: d.event_type,
        payload: convert::json_to_struct(d.payload),
        status: status_out(d.status),
        attempt_count: d.attempt_count,
        next_attempt_at: d.next_attempt_at.map(convert::timestamp),
        last_status_code: d.last_status_code,
        last_error: d.last_error,
        created_at: Some(convert::timestamp(d.created_at)),
        completed_at: d.completed_at.map(convert::timestamp),
        attempts: d.attempts.into_iter().map(attempt).collect(),
    }
}

#[tonic::async_trait]
impl WebhookService for WebhooksGrpc {
    async fn list_webhooks(
        &self,
        request: Request<pb::ListWebhooksRequest>,
    ) -> Result<Response<pb::ListWebhooksResponse>, Status> {
        let ctx = call_ctx(&request);
        let webhooks = self
            .app
            .services
            .webhooks
            .list(&ctx)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListWebhooksResponse {
            webhooks: webhooks.into_iter().map(webhook).collect(),
        }))
    }

    async fn get_webhook(
        &self,
        request: Request<pb::GetWebhookRequest>,
    ) -> Result<Response<pb::Webhook>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.into_inner().id, "id").map_err(status)?;
        let found = self
            .app
            .services
            .webhooks
            .get(&ctx, id)
            .await
            .map_err(status)?;
        Ok(Response::new(webhook(found)))
    }

    async fn create_webhook(
        &self,
        request: Request<pb::CreateWebhookRequest>,
    ) -> Result<Response<pb::WebhookWithSecret>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let input = CreateWebhookInput {
                url: r.url.clone(),
                event_types: r.event_types.clone(),
                description: r.description.clone(),
                active: r.active,
            };
            let created = self
                .app
                .services
                .webhooks
                .create(&ctx, input)
                .await
                .map_err(status)?;
            Ok(with_secret(created))
        })
        .await
    }

    async fn update_webhook(
        &self,
        request: Request<pb::UpdateWebhookRequest>,
    ) -> Result<Response<pb::Webhook>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let input = UpdateWebhookInput {
                url: r.url.clone(),
                event_types: r.event_types.as_ref().map(|l| l.event_types.clone()),
                description: r.description.clone(),
                active: r.active,
            };
            let updated = self
                .app
                .services
                .webhooks
                .update(&ctx, id, input)
                .await
                .map_err(status)?;
            Ok(webhook(updated))
        })
        .await
    }

    async fn delete_webhook(
        &self,
        request: Request<pb::DeleteWebhookRequest>,
    ) -> Result<Response<pb::Webhook>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let deleted = self
                .app
                .services
                .webhooks
                .delete(&ctx, id)
                .await
                .map_err(status)?;
            Ok(webhook(deleted))
        })
        .await
    }

    async fn rotate_webhook_secret(
        &self,
        request: Request<pb::RotateWebhookSecretRequest>,
    ) -> Result<Response<pb::WebhookWithSecret>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let rotated = self
                .app
                .services
                .webhooks
                .rotate_secret(&ctx, id)
                .await
                .map_err(status)?;
            Ok(with_secret(rotated))
        })
        .await
    }

    async fn ping_webhook(
        &self,
        request: Request<pb::PingWebhookRequest>,
    ) -> Result<Response<pb::WebhookDelivery>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let ping = self
                .app
                .services
                .webhooks
                .ping(&ctx, id)
                .await
                .map_err(status)?;
            Ok(delivery(ping))
        })
        .await
    }

    async fn list_webhook_deliveries(
        &self,
        request: Request<pb::ListWebhookDeliveriesRequest>,
    ) -> Result<Response<pb::ListWebhookDeliveriesResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let webhook_id = convert::uuid(&r.webhook_id, "webhook_id").map_err(status)?;
        // The token is the id of the last delivery of the previous page; pages go back in time
        // from there, so deliveries made meanwhile never shift them.
        let after = convert::optional_uuid(Some(r.page_token), "page_token").map_err(status)?;
        let query = DeliveryQuery {
            status: status_in(r.status, "status").map_err(status)?,
            first: (r.page_size != 0).then_some(i64::from(r.page_size)),
            first_field: "page_size",
            after,
        };
        let page = self
            .app
            .services
            .webhooks
            .deliveries(&ctx, webhook_id, query)
            .await
            .map_err(status)?;
        let next_page_token = match page.items.last() {
            Some(last) if page.more => last.id.to_string(),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListWebhookDeliveriesResponse {
            deliveries: page.items.into_iter().map(delivery).collect(),
            next_page_token,
        }))
    }

    async fn get_webhook_delivery(
        &self,
        request: Request<pb::GetWebhookDeliveryRequest>,
    ) -> Result<Response<pb::WebhookDelivery>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.into_inner().id, "id").map_err(status)?;
        let found = self
            .app
            .services
            .webhooks
            .delivery(&ctx, id)
            .await
            .map_err(status)?;
        Ok(Response::new(delivery(found)))
    }

    async fn resend_webhook_delivery(
        &self,
        request: Request<pb::ResendWebhookDeliveryRequest>,
    ) -> Result<Response<pb::WebhookDelivery>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let queued = self
                .app
                .services
                .webhooks
                .resend(&ctx, id)
                .await
                .map_err(status)?;
            Ok(delivery(queued))
        })
        .await
    }
}
