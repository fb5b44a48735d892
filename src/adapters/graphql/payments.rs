//! Payments over GraphQL: tokens, payments of orders and their life, and the stablecoin
//! reconciliation report.

use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ContextExt as _, GqlResult as _};
use crate::domain::{Payment, PaymentToken, StablecoinReconciliation};
use crate::services::payments::{CaptureInput, CardInput, CreatePaymentInput, RefundInput};

#[derive(Default)]
pub struct PaymentQuery;

#[Object]
impl PaymentQuery {
    async fn payment(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Payment> {
        ctx.services().payments.get(ctx.call_ctx()?, id).await.gql()
    }

    /// The payments of an order, oldest first.
    async fn payments(
        &self,
        ctx: &Context<'_>,
        order_id: Uuid,
    ) -> async_graphql::Result<Vec<Payment>> {
        ctx.services()
            .payments
            .payments_of_order(ctx.call_ctx()?, order_id)
            .await
            .gql()
    }

    /// Expected against received for every stablecoin payment request created in
    /// `[from, to)` (default: the last 30 days). The period is at most 92 days and may hold
    /// at most 1000 requests; a wider or busier one is a `VALIDATION` error on `from`.
    async fn stablecoin_reconciliation(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<StablecoinReconciliation> {
        ctx.services()
            .payments
            .stablecoin_reconciliation(ctx.call_ctx()?, from, to)
            .await
            .gql()
    }
}

#[derive(Default)]
pub struct PaymentMutation;

#[Object]
impl PaymentMutation {
    /// Turns a card into a `tok_...` (the number is never stored).
    async fn create_payment_token(
        &self,
        ctx: &Context<'_>,
        input: CardInput,
    ) -> async_graphql::Result<PaymentToken> {
        ctx.services()
            .payments
            .create_token(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    /// Takes a payment for an order: by card token (captured, or only authorized with
    /// `capture: false`), or as a stablecoin payment request.
    async fn create_payment(
        &self,
        ctx: &Context<'_>,
        input: CreatePaymentInput,
    ) -> async_graphql::Result<Payment> {
        ctx.services()
            .payments
            .create_payment(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    /// Captures all or part of an authorized payment; the rest is released.
    async fn capture_payment(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: Option<CaptureInput>,
    ) -> async_graphql::Result<Payment> {
        ctx.services()
            .payments
            .capture(ctx.call_ctx()?, id, input.unwrap_or_default())
            .await
            .gql()
    }

    /// Releases an authorization or closes an unpaid stablecoin request.
    async fn void_payment(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Payment> {
        ctx.services()
            .payments
            .void(ctx.call_ctx()?, id)
            .await
            .gql()
    }

    /// Refunds all or part of a captured payment (never more than was captured).
    async fn refund_payment(
        &self,
        ctx: &Context<'_>,
        input: RefundInput,
    ) -> async_graphql::Result<Payment> {
        ctx.services()
            .payments
            .refund(ctx.call_ctx()?, input)
            .await
            .gql()
    }
}
