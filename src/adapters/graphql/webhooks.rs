//! Webhooks over GraphQL: management, ping, the delivery log and re-sending.

use async_graphql::{Context, Object};
use uuid::Uuid;

use super::{ContextExt as _, GqlResult as _};
use crate::domain::{CreatedWebhook, DeliveryStatus, Webhook, WebhookDelivery};
use crate::services::webhooks::{CreateWebhookInput, DeliveryQuery, UpdateWebhookInput};

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// Every webhook.
    async fn webhooks(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Webhook>> {
        ctx.services().webhooks.list(ctx.call_ctx()?).await.gql()
    }

    async fn webhook(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Webhook> {
        ctx.services().webhooks.get(ctx.call_ctx()?, id).await.gql()
    }

    /// A webhook's delivery log, newest first; page on with `after` set to the last id seen.
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        webhook_id: Uuid,
        status: Option<DeliveryStatus>,
        first: Option<i64>,
        after: Option<Uuid>,
    ) -> async_graphql::Result<Vec<WebhookDelivery>> {
        let query = DeliveryQuery {
            status,
            first,
            after,
            ..Default::default()
        };
        ctx.services()
            .webhooks
            .deliveries(ctx.call_ctx()?, webhook_id, query)
            .await
            .map(|page| page.items)
            .gql()
    }

    async fn webhook_delivery(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<WebhookDelivery> {
        ctx.services()
            .webhooks
            .delivery(ctx.call_ctx()?, id)
            .await
            .gql()
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Creates a webhook; its signing secret is in the result and shown only this once.
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookInput,
    ) -> async_graphql::Result<CreatedWebhook> {
        ctx.services()
            .webhooks
            .create(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: UpdateWebhookInput,
    ) -> async_graphql::Result<Webhook> {
        ctx.services()
            .webhooks
            .update(ctx.call_ctx()?, id, input)
            .await
            .gql()
    }

    /// Deletes a webhook and its delivery log; returns it as it was.
    async fn delete_webhook(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Webhook> {
        ctx.services()
            .webhooks
            .delete(ctx.call_ctx()?, id)
            .await
            .gql()
    }

    /// Replaces the signing secret; the new one is shown only this once.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<CreatedWebhook> {
        ctx.services()
            .webhooks
            .rotate_secret(ctx.call_ctx()?, id)
            .await
            .gql()
    }

    /// Sends a `webhook.ping` now and returns the delivery with the receiver's answer.
    async fn ping_webhook(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<WebhookDelivery> {
        ctx.services()
            .webhooks
            .ping(ctx.call_ctx()?, id)
            .await
            .gql()
    }

    /// Sends a delivery again (typically a failed one), with a fresh retry window.
    async fn resend_webhook_delivery(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<WebhookDelivery> {
        ctx.services()
            .webhooks
            .resend(ctx.call_ctx()?, id)
            .await
            .gql()
    }
}
