//! Checkout over GraphQL.

use async_graphql::{Context, Object};
use uuid::Uuid;

use super::{CompletedCheckoutNode, ContextExt as _, GqlResult as _};
use crate::domain::{Checkout, ShippingOption};
use crate::services::checkout::{StartCheckoutInput, UpdateCheckoutInput};

#[derive(Default)]
pub struct CheckoutQuery;

#[Object]
impl CheckoutQuery {
    async fn checkout(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Checkout> {
        ctx.services().checkout.get(ctx.call_ctx()?, id).await.gql()
    }

    /// The shipping methods that serve the checkout's address, priced for its cart.
    async fn checkout_shipping_options(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Vec<ShippingOption>> {
        ctx.services()
            .checkout
            .shipping_options(ctx.call_ctx()?, id)
            .await
            .gql()
    }
}

#[derive(Default)]
pub struct CheckoutMutation;

#[Object]
impl CheckoutMutation {
    async fn start_checkout(
        &self,
        ctx: &Context<'_>,
        input: StartCheckoutInput,
    ) -> async_graphql::Result<Checkout> {
        ctx.services()
            .checkout
            .start(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    /// Sets email, addresses, shipping method, discount code or payment token; returns the
    /// checkout with its totals recomputed.
    async fn update_checkout(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: UpdateCheckoutInput,
    ) -> async_graphql::Result<Checkout> {
        ctx.services()
            .checkout
            .update(ctx.call_ctx()?, id, input)
            .await
            .gql()
    }

    /// Places the order and takes the payment; a decline is `PAYMENT_DECLINED` and creates
    /// nothing.
    async fn complete_checkout(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<CompletedCheckoutNode> {
        ctx.services()
            .checkout
            .complete(ctx.call_ctx()?, id)
            .await
            .gql()
            .map(Into::into)
    }
}
