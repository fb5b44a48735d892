//! `/api/v1/auth`, `/api/v1/api-keys`, `/api/v1/roles` and `/api/v1/users`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{Json, Path, Query};
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

/// A list of API keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKey>,
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

#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterInput,
    responses((status = 201, body = AuthTokens), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn register(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Json(input): Json<RegisterInput>,
) -> ApiResult<(StatusCode, Json<AuthTokens>)> {
    Ok((
        StatusCode::CREATED,
        Json(app.services.auth.register(&ctx, input).await?),
    ))
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginInput,
    responses((status = 200, body = AuthTokens), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn login(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Json(input): Json<LoginInput>,
) -> ApiResult<Json<AuthTokens>> {
    Ok(Json(app.services.auth.login(&ctx, input).await?))
}

#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = AuthTokens), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn refresh(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Json(input): Json<RefreshRequest>,
) -> ApiResult<Json<AuthTokens>> {
    Ok(Json(
        app.services
            .auth
            .refresh(&ctx, &input.refresh_token)
            .await?,
    ))
}

#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body(content = Option<LogoutRequest>),
    responses((status = 204, description = "The session is over"), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
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

#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
pub async fn me(State(app): State<AppState>, Caller(ctx): Caller) -> ApiResult<Json<User>> {
    Ok(Json(app.services.auth.me(&ctx).await?))
}

#[utoipa::path(get, path = "/api-keys", tag = "auth",
    responses((status = 200, body = ApiKeyList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_api_keys(
    State(app): State<AppState>,
    Caller(ctx): Caller,
) -> ApiResult<Json<ApiKeyList>> {
    Ok(Json(ApiKeyList {
        items: app.services.access.list_api_keys(&ctx).await?,
    }))
}

#[utoipa::path(post, path = "/api-keys", tag = "auth", request_body = CreateApiKeyInput,
    responses((status = 201, body = CreatedApiKey), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_api_key(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Json(input): Json<CreateApiKeyInput>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    Ok((
        StatusCode::CREATED,
        Json(app.services.access.create_api_key(&ctx, input).await?),
    ))
}

#[utoipa::path(delete, path = "/api-keys/{id}", tag = "auth", params(("id" = Uuid, Path, description = "API key id")),
    responses((status = 200, body = ApiKey, description = "The revoked key"), (status = 404, body = ErrorBody)))]
pub async fn revoke_api_key(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ApiKey>> {
    Ok(Json(app.services.access.revoke_api_key(&ctx, id).await?))
}

#[utoipa::path(get, path = "/roles", tag = "auth",
    responses((status = 200, body = RoleList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_roles(
    State(app): State<AppState>,
    Caller(ctx): Caller,
) -> ApiResult<Json<RoleList>> {
    Ok(Json(RoleList {
        items: app.services.access.list_roles(&ctx).await?,
    }))
}

#[utoipa::path(post, path = "/roles", tag = "auth", request_body = CreateRoleInput,
    responses((status = 201, body = Role), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_role(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Json(input): Json<CreateRoleInput>,
) -> ApiResult<(StatusCode, Json<Role>)> {
    Ok((
        StatusCode::CREATED,
        Json(app.services.access.create_role(&ctx, input).await?),
    ))
}

#[utoipa::path(put, path = "/roles/{id}", tag = "auth", request_body = UpdateRoleInput,
    params(("id" = Uuid, Path, description = "Role id")),
    responses((status = 200, body = Role), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_role(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<UpdateRoleInput>,
) -> ApiResult<Json<Role>> {
    Ok(Json(
        app.services.access.update_role(&ctx, id, input).await?,
    ))
}

#[utoipa::path(delete, path = "/roles/{id}", tag = "auth", params(("id" = Uuid, Path, description = "Role id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_role(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    app.services.access.delete_role(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/users", tag = "auth", params(PageParams),
    responses((status = 200, body = Paged<User>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn list_users(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<Paged<User>>> {
    let page = app.services.access.list_users(&ctx, page.request()).await?;
    Ok(Json(page.into()))
}

#[utoipa::path(post, path = "/users", tag = "auth", request_body = CreateUserInput,
    responses((status = 201, body = User), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_user(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Json(input): Json<CreateUserInput>,
) -> ApiResult<(StatusCode, Json<User>)> {
    Ok((
        StatusCode::CREATED,
        Json(app.services.access.create_user(&ctx, input).await?),
    ))
}

#[utoipa::path(put, path = "/users/{id}/role", tag = "auth", request_body = SetUserRole,
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn set_user_role(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<SetUserRole>,
) -> ApiResult<Json<User>> {
    Ok(Json(
        app.services
            .access
            .set_user_role(&ctx, id, input.role_id)
            .await?,
    ))
}

#[utoipa::path(put, path = "/users/{id}/active", tag = "auth", request_body = SetUserActive,
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_user_active(
    State(app): State<AppState>,
    Caller(ctx): Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<SetUserActive>,
) -> ApiResult<Json<User>> {
    Ok(Json(
        app.services
            .access
            .set_user_active(&ctx, id, input.active)
            .await?,
    ))
}
