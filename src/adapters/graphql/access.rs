//! Sign-in, sessions, users, roles and API keys.

use async_graphql::connection::Connection;
use async_graphql::{Context, Object};
use uuid::Uuid;

use super::{ContextExt as _, GqlResult as _, ListTotals, connection, page_request};
use crate::domain::{ApiKey, AuthTokens, CreatedApiKey, Role, User};
use crate::services::access::{
    CreateApiKeyInput, CreateRoleInput, CreateUserInput, UpdateRoleInput,
};
use crate::services::auth::{LoginInput, RegisterInput};

#[derive(Default)]
pub struct AccessQuery;

#[Object]
impl AccessQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        ctx.services().auth.me(ctx.call_ctx()?).await.gql()
    }

    /// The caller's API keys (every key with `api_keys:manage`). Keys themselves are never shown.
    /// Newest first.
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, ApiKey, ListTotals>> {
        let page = ctx
            .services()
            .access
            .list_api_keys(ctx.call_ctx()?, page_request(ctx, first, after))
            .await
            .gql()?;
        Ok(connection(page))
    }

    /// Every role with its effective permissions.
    async fn roles(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Role>> {
        ctx.services()
            .access
            .list_roles(ctx.call_ctx()?)
            .await
            .gql()
    }

    /// Users, oldest first.
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, User, ListTotals>> {
        let page = ctx
            .services()
            .access
            .list_users(ctx.call_ctx()?, page_request(ctx, first, after))
            .await
            .gql()?;
        Ok(connection(page))
    }
}

#[derive(Default)]
pub struct AccessMutation;

/// Marks the answer as holding secrets (a session's tokens, a new API key), so no cache and no
/// idempotency store keeps it.
fn no_store(ctx: &Context<'_>) {
    ctx.insert_http_header(axum::http::header::CACHE_CONTROL, "no-store");
}

#[Object]
impl AccessMutation {
    /// Creates a customer account and signs it in.
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> async_graphql::Result<AuthTokens> {
        no_store(ctx);
        ctx.services()
            .auth
            .register(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    /// Signs in with email and password.
    async fn login(
        &self,
        ctx: &Context<'_>,
        input: LoginInput,
    ) -> async_graphql::Result<AuthTokens> {
        no_store(ctx);
        ctx.services()
            .auth
            .login(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    /// Exchanges a refresh token (once) for a new pair.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> async_graphql::Result<AuthTokens> {
        no_store(ctx);
        ctx.services()
            .auth
            .refresh(ctx.call_ctx()?, &refresh_token)
            .await
            .gql()
    }

    /// Ends the current session (or the one `refreshToken` belongs to).
    async fn logout(
        &self,
        ctx: &Context<'_>,
        refresh_token: Option<String>,
    ) -> async_graphql::Result<bool> {
        ctx.services()
            .auth
            .logout(ctx.call_ctx()?, refresh_token.as_deref())
            .await
            .gql()?;
        Ok(true)
    }

    /// Creates an API key; the key is in the result and shown only this once.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> async_graphql::Result<CreatedApiKey> {
        no_store(ctx);
        ctx.services()
            .access
            .create_api_key(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    /// Revokes an API key at once.
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<ApiKey> {
        ctx.services()
            .access
            .revoke_api_key(ctx.call_ctx()?, id)
            .await
            .gql()
    }

    /// Creates a user with any role.
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> async_graphql::Result<User> {
        ctx.services()
            .access
            .create_user(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    /// Gives a user another role.
    async fn set_user_role(
        &self,
        ctx: &Context<'_>,
        user_id: Uuid,
        role_id: Uuid,
    ) -> async_graphql::Result<User> {
        ctx.services()
            .access
            .set_user_role(ctx.call_ctx()?, user_id, role_id)
            .await
            .gql()
    }

    /// Turns a user's access on or off.
    async fn set_user_active(
        &self,
        ctx: &Context<'_>,
        user_id: Uuid,
        active: bool,
    ) -> async_graphql::Result<User> {
        ctx.services()
            .access
            .set_user_active(ctx.call_ctx()?, user_id, active)
            .await
            .gql()
    }

    /// Creates a custom role.
    async fn create_role(
        &self,
        ctx: &Context<'_>,
        input: CreateRoleInput,
    ) -> async_graphql::Result<Role> {
        ctx.services()
            .access
            .create_role(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    /// Changes a custom role.
    async fn update_role(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: UpdateRoleInput,
    ) -> async_graphql::Result<Role> {
        ctx.services()
            .access
            .update_role(ctx.call_ctx()?, id, input)
            .await
            .gql()
    }

    /// Deletes a custom role nobody uses.
    async fn delete_role(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<bool> {
        ctx.services()
            .access
            .delete_role(ctx.call_ctx()?, id)
            .await
            .gql()?;
        Ok(true)
    }
}
