//! Shipping methods, tax rates and discount codes over GraphQL.

use async_graphql::connection::Connection;
use async_graphql::{Context, Object};
use uuid::Uuid;

use super::{ContextExt as _, GqlResult as _, ListTotals, connection, page_request};
use crate::domain::{DiscountCode, ShippingMethod, TaxRate};
use crate::services::pricing::{
    CreateDiscountCodeInput, CreateShippingMethodInput, CreateTaxRateInput,
};

#[derive(Default)]
pub struct PricingQuery;

#[Object]
impl PricingQuery {
    async fn shipping_methods(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ShippingMethod>> {
        ctx.services()
            .pricing
            .shipping_methods(ctx.call_ctx()?)
            .await
            .gql()
    }

    async fn tax_rates(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TaxRate>> {
        ctx.services()
            .pricing
            .tax_rates(ctx.call_ctx()?)
            .await
            .gql()
    }

    /// Discount codes in code order.
    async fn discount_codes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, DiscountCode, ListTotals>> {
        let page = ctx
            .services()
            .pricing
            .discount_codes(ctx.call_ctx()?, page_request(ctx, first, after))
            .await
            .gql()?;
        Ok(connection(page))
    }
}

#[derive(Default)]
pub struct PricingMutation;

#[Object]
impl PricingMutation {
    async fn create_shipping_method(
        &self,
        ctx: &Context<'_>,
        input: CreateShippingMethodInput,
    ) -> async_graphql::Result<ShippingMethod> {
        ctx.services()
            .pricing
            .create_shipping_method(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    async fn delete_shipping_method(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<bool> {
        ctx.services()
            .pricing
            .delete_shipping_method(ctx.call_ctx()?, id)
            .await
            .gql()?;
        Ok(true)
    }

    async fn create_tax_rate(
        &self,
        ctx: &Context<'_>,
        input: CreateTaxRateInput,
    ) -> async_graphql::Result<TaxRate> {
        ctx.services()
            .pricing
            .create_tax_rate(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    async fn delete_tax_rate(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<bool> {
        ctx.services()
            .pricing
            .delete_tax_rate(ctx.call_ctx()?, id)
            .await
            .gql()?;
        Ok(true)
    }

    async fn create_discount_code(
        &self,
        ctx: &Context<'_>,
        input: CreateDiscountCodeInput,
    ) -> async_graphql::Result<DiscountCode> {
        ctx.services()
            .pricing
            .create_discount_code(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    async fn delete_discount_code(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<bool> {
        ctx.services()
            .pricing
            .delete_discount_code(ctx.call_ctx()?, id)
            .await
            .gql()?;
        Ok(true)
    }
}
