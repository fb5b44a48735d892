//! `/api/v1/auth`, `/api/v1/api-keys`, `/api/v1/roles` and `/api/v1/users`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{Json, Path, Query};
use super::operation::operations;
use super::paging::{PageParams, Paged};
use super::{ApiError, ErrorBody};
use crate::app::AppState;
use crate::domain::{ApiKey, AuthTokens, CreatedApiKey, Role, User};
use crate::http::Caller;
use crate::services::access::{
    CreateApiKeyInput, CreateRoleInput, CreateUserInput, UpdateRoleInput,
};
use crate::services::auth::{LoginInput, RegisterInput};

type ApiResult<T> = Result<T, ApiError>;

/// Marks an answer holding secrets (a session's tokens, a new API key): no cache, and no
/// idempotency store, may keep it.
const NO_STORE: [(header::HeaderName, &str); 1] = [(header::CACHE_CONTROL, "no-store")];
type Secret<T> = ([(header::HeaderName, &'static str); 1], Json<T>);

/// A refresh token to exchange.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Which session to end; without a body, the caller's own.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LogoutRequest {
    pub refresh_token: Option<String>,
}

/// A list of roles.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleList {
    pub items: Vec<Role>,
}

/// A role to give a user.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SetUserRole {
    pub role_id: Uuid,
}

/// Whether a user may sign in.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SetUserActive {
    pub active: bool,
}

operations! {
    post "/auth/register" register needs anyone
        openapi(tag = "auth", request_body = RegisterInput,
            responses((status = 201, body = AuthTokens, headers(("Cache-Control" = String, description = "`no-store`: the answer holds secrets"))), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
            (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<RegisterInput>)
        -> ApiResult<(StatusCode, Secret<AuthTokens>)> {
        let tokens = app.services.auth.register(&ctx, input).await?;
        Ok((StatusCode::CREATED, (NO_STORE, Json(tokens))))
    }

    post "/auth/login" login needs anyone
        openapi(tag = "auth", request_body = LoginInput,
            responses((status = 200, body = AuthTokens, headers(("Cache-Control" = String, description = "`no-store`: the answer holds secrets"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<LoginInput>)
        -> ApiResult<Secret<AuthTokens>> {
        Ok((NO_STORE, Json(app.services.auth.login(&ctx, input).await?)))
    }

    post "/auth/refresh" refresh needs anyone
        openapi(tag = "auth", request_body = RefreshRequest,
            responses((status = 200, body = AuthTokens, headers(("Cache-Control" = String, description = "`no-store`: the answer holds secrets"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<RefreshRequest>)
        -> ApiResult<Secret<AuthTokens>> {
        let tokens = app.services.auth.refresh(&ctx, &input.refresh_token).await?;
        Ok((NO_STORE, Json(tokens)))
    }

    post "/auth/logout" logout needs signed_in
        openapi(tag = "auth", request_body(content = Option<LogoutRequest>),
            responses((status = 204, description = "The session is over"), (status = 401, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, body: axum::body::Bytes)
        -> ApiResult<StatusCode> {
        // The body is optional: an empty one means "my own session".
        let input: LogoutRequest = if body.iter().all(u8::is_ascii_whitespace) {
            LogoutRequest::default()
        } else {
            serde_json::from_slice(&body)
                .map_err(|e| ApiError::malformed("refresh_token", e.to_string()))?
        };
        app.services
            .auth
            .logout(&ctx, input.refresh_token.as_deref())
            .await?;
        Ok(StatusCode::NO_CONTENT)
    }

    get "/auth/me" me needs signed_in
        openapi(tag = "auth",
            responses((status = 200, body = User), (status = 401, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller)
        -> ApiResult<Json<User>> {
        Ok(Json(app.services.auth.me(&ctx).await?))
    }

    get "/api-keys" list_api_keys needs "api_keys:create"
        openapi(tag = "auth", params(PageParams),
            responses((status = 200, body = Paged<ApiKey>, description = "Newest first"), (status = 401, body = ErrorBody),
            (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Query(page): Query<PageParams>)
        -> ApiResult<Json<Paged<ApiKey>>> {
        let page = app.services.access.list_api_keys(&ctx, page.request()).await?;
        Ok(Json(page.into()))
    }

    post "/api-keys" create_api_key needs "api_keys:create"
        openapi(tag = "auth", request_body = CreateApiKeyInput,
            responses((status = 201, body = CreatedApiKey, headers(("Cache-Control" = String, description = "`no-store`: the answer holds secrets"))), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<CreateApiKeyInput>)
        -> ApiResult<(StatusCode, Secret<CreatedApiKey>)> {
        let created = app.services.access.create_api_key(&ctx, input).await?;
        Ok((StatusCode::CREATED, (NO_STORE, Json(created))))
    }

    delete "/api-keys/{id}" revoke_api_key needs "api_keys:create"
        openapi(tag = "auth", params(("id" = Uuid, Path, description = "API key id")),
            responses((status = 200, body = ApiKey, description = "The revoked key"), (status = 404, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<Json<ApiKey>> {
        Ok(Json(app.services.access.revoke_api_key(&ctx, id).await?))
    }

    get "/roles" list_roles needs "roles:read"
        openapi(tag = "auth",
            responses((status = 200, body = RoleList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller)
        -> ApiResult<Json<RoleList>> {
        Ok(Json(RoleList {
            items: app.services.access.list_roles(&ctx).await?,
        }))
    }

    post "/roles" create_role needs "roles:manage"
        openapi(tag = "auth", request_body = CreateRoleInput,
            responses((status = 201, body = Role), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
            (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<CreateRoleInput>)
        -> ApiResult<(StatusCode, Json<Role>)> {
        Ok((
            StatusCode::CREATED,
            Json(app.services.access.create_role(&ctx, input).await?),
        ))
    }

    put "/roles/{id}" update_role needs "roles:manage"
        openapi(tag = "auth", request_body = UpdateRoleInput,
            params(("id" = Uuid, Path, description = "Role id")),
            responses((status = 200, body = Role), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<UpdateRoleInput>,
        )
        -> ApiResult<Json<Role>> {
        Ok(Json(
            app.services.access.update_role(&ctx, id, input).await?,
        ))
    }

    delete "/roles/{id}" delete_role needs "roles:manage"
        openapi(tag = "auth", params(("id" = Uuid, Path, description = "Role id")),
            responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Path(id): Path<Uuid>)
        -> ApiResult<StatusCode> {
        app.services.access.delete_role(&ctx, id).await?;
        Ok(StatusCode::NO_CONTENT)
    }

    get "/users" list_users needs "users:read"
        openapi(tag = "auth", params(PageParams),
            responses((status = 200, body = Paged<User>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
            (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Query(page): Query<PageParams>)
        -> ApiResult<Json<Paged<User>>> {
        let page = app.services.access.list_users(&ctx, page.request()).await?;
        Ok(Json(page.into()))
    }

    post "/users" create_user needs "users:manage"
        openapi(tag = "auth", request_body = CreateUserInput,
            responses((status = 201, body = User), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
            (status = 422, body = ErrorBody)))
        (State(app): State<AppState>, Caller(ctx): Caller, Json(input): Json<CreateUserInput>)
        -> ApiResult<(StatusCode, Json<User>)> {
        Ok((
            StatusCode::CREATED,
            Json(app.services.access.create_user(&ctx, input).await?),
        ))
    }

    put "/users/{id}/role" set_user_role needs "users:manage"
        openapi(tag = "auth", request_body = SetUserRole,
            params(("id" = Uuid, Path, description = "User id")),
            responses((status = 200, body = User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
            (status = 422, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<SetUserRole>,
        )
        -> ApiResult<Json<User>> {
        Ok(Json(
            app.services
                .access
                .set_user_role(&ctx, id, input.role_id)
                .await?,
        ))
    }

    put "/users/{id}/active" set_user_active needs "users:manage"
        openapi(tag = "auth", request_body = SetUserActive,
            params(("id" = Uuid, Path, description = "User id")),
            responses((status = 200, body = User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))
        (
            State(app): State<AppState>,
            Caller(ctx): Caller,
            Path(id): Path<Uuid>,
            Json(input): Json<SetUserActive>,
        )
        -> ApiResult<Json<User>> {
        Ok(Json(
            app.services
                .access
                .set_user_active(&ctx, id, input.active)
                .await?,
        ))
    }
}
