//! Carts over GraphQL. `id` arguments take the cart's id or its token.

use async_graphql::{Context, Object};
use uuid::Uuid;

use super::{ContextExt as _, GqlResult as _};
use crate::domain::Cart;
use crate::services::carts::{CartLineInput, CartRef, CreateCartInput, UpdateCartItemInput};

#[derive(Default)]
pub struct CartQuery;

#[Object]
impl CartQuery {
    /// A cart by its id (owner or staff) or its token (whoever holds it).
    async fn cart(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Cart> {
        ctx.services()
            .carts
            .get(ctx.call_ctx()?, &CartRef::parse(&id))
            .await
            .gql()
    }
}

#[derive(Default)]
pub struct CartMutation;

#[Object]
impl CartMutation {
    /// A new cart: the signed-in customer's, or a guest cart (keep its `token`).
    async fn create_cart(
        &self,
        ctx: &Context<'_>,
        input: Option<CreateCartInput>,
    ) -> async_graphql::Result<Cart> {
        ctx.services()
            .carts
            .create(ctx.call_ctx()?, input.unwrap_or_default())
            .await
            .gql()
    }

    async fn add_cart_item(
        &self,
        ctx: &Context<'_>,
        cart_id: String,
        input: CartLineInput,
    ) -> async_graphql::Result<Cart> {
        ctx.services()
            .carts
            .add_item(ctx.call_ctx()?, &CartRef::parse(&cart_id), input)
            .await
            .gql()
    }

    async fn update_cart_item(
        &self,
        ctx: &Context<'_>,
        cart_id: String,
        item_id: Uuid,
        input: UpdateCartItemInput,
    ) -> async_graphql::Result<Cart> {
        ctx.services()
            .carts
            .update_item(ctx.call_ctx()?, &CartRef::parse(&cart_id), item_id, input)
            .await
            .gql()
    }

    async fn remove_cart_item(
        &self,
        ctx: &Context<'_>,
        cart_id: String,
        item_id: Uuid,
    ) -> async_graphql::Result<Cart> {
        ctx.services()
            .carts
            .remove_item(ctx.call_ctx()?, &CartRef::parse(&cart_id), item_id)
            .await
            .gql()
    }

    /// Moves a guest cart's lines into the signed-in customer's cart.
    async fn merge_cart(&self, ctx: &Context<'_>, token: String) -> async_graphql::Result<Cart> {
        ctx.services()
            .carts
            .merge(ctx.call_ctx()?, &token)
            .await
            .gql()
    }
}
