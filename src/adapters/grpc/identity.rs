//! `stateset.v1.IdentityService`: sign-up, sessions, the signed-in user, API keys, roles and
//! users over gRPC, each method one call of the auth or access service REST and GraphQL call.

use tonic::{Request, Response, Status};

use super::pb::identity_service_server::IdentityService;
use super::pb::{self};
use super::{call_ctx, convert, idempotent, method_of, status};
use crate::app::AppState;
use crate::domain::{ApiKey, AuthTokens, Role, User};
use crate::services::access::{
    CreateApiKeyInput, CreateRoleInput, CreateUserInput, UpdateRoleInput,
};
use crate::services::auth::{LoginInput, RegisterInput};

/// Identity over gRPC.
pub struct IdentityGrpc {
    app: AppState,
}

impl IdentityGrpc {
    pub fn new(app: AppState) -> Self {
        Self { app }
    }
}

fn user(u: User) -> pb::User {
    pb::User {
        id: u.id.to_string(),
        email: u.email,
        name: u.name,
        role_id: u.role_id.to_string(),
        role: u.role,
        active: u.active,
        last_login_at: u.last_login_at.map(convert::timestamp),
        created_at: Some(convert::timestamp(u.created_at)),
    }
}

fn tokens(t: AuthTokens) -> pb::AuthTokens {
    pb::AuthTokens {
        access_token: t.access_token,
        refresh_token: t.refresh_token,
        token_type: t.token_type,
        expires_in: t.expires_in,
        user: Some(user(t.user)),
    }
}

fn role(r: Role) -> pb::Role {
    pb::Role {
        id: r.id.to_string(),
        name: r.name,
        description: r.description,
        parent_id: r.parent_id.map(|id| id.to_string()),
        permissions: r.permissions,
        effective_permissions: r.effective_permissions,
        built_in: r.built_in,
        created_at: Some(convert::timestamp(r.created_at)),
    }
}

fn api_key(k: ApiKey) -> pb::ApiKey {
    pb::ApiKey {
        id: k.id.to_string(),
        user_id: k.user_id.to_string(),
        name: k.name,
        prefix: k.prefix,
        scopes: k.scopes,
        expires_at: k.expires_at.map(convert::timestamp),
        last_used_at: k.last_used_at.map(convert::timestamp),
        usage_count: k.usage_count,
        revoked_at: k.revoked_at.map(convert::timestamp),
        created_at: Some(convert::timestamp(k.created_at)),
    }
}

#[tonic::async_trait]
impl IdentityService for IdentityGrpc {
    // Register, Login, Refresh and CreateApiKey never run through `idempotent`: a replayed
    // answer would be a stored copy of the session's tokens or the key.
    async fn register(
        &self,
        request: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::AuthTokens>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let input = RegisterInput {
            email: r.email,
            password: r.password,
            name: r.name,
        };
        let signed_up = self
            .app
            .services
            .auth
            .register(&ctx, input)
            .await
            .map_err(status)?;
        Ok(Response::new(tokens(signed_up)))
    }

    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::AuthTokens>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let input = LoginInput {
            email: r.email,
            password: r.password,
            cart_token: r.cart_token.filter(|t| !t.is_empty()),
        };
        let signed_in = self
            .app
            .services
            .auth
            .login(&ctx, input)
            .await
            .map_err(status)?;
        Ok(Response::new(tokens(signed_in)))
    }

    async fn refresh(
        &self,
        request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::AuthTokens>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let rotated = self
            .app
            .services
            .auth
            .refresh(&ctx, &r.refresh_token)
            .await
            .map_err(status)?;
        Ok(Response::new(tokens(rotated)))
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let refresh_token = r.refresh_token.filter(|t| !t.is_empty());
        self.app
            .services
            .auth
            .logout(&ctx, refresh_token.as_deref())
            .await
            .map_err(status)?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn get_current_user(
        &self,
        request: Request<pb::GetCurrentUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let ctx = call_ctx(&request);
        let me = self.app.services.auth.me(&ctx).await.map_err(status)?;
        Ok(Response::new(user(me)))
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let page = self
            .app
            .services
            .access
            .list_api_keys(&ctx, convert::page(r.page_size, r.page_token))
            .await
            .map_err(status)?;
        let (api_keys, next_page_token, total_count) = convert::paged(page, api_key);
        Ok(Response::new(pb::ListApiKeysResponse {
            api_keys,
            next_page_token,
            total_count,
        }))
    }

    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::CreatedApiKey>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let input = CreateApiKeyInput {
            name: r.name,
            scopes: r.scopes,
            expires_at: convert::time_in(r.expires_at, "expires_at").map_err(status)?,
        };
        let created = self
            .app
            .services
            .access
            .create_api_key(&ctx, input)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::CreatedApiKey {
            api_key: Some(api_key(created.api_key)),
            key: created.key,
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::ApiKey>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let revoked = self
                .app
                .services
                .access
                .revoke_api_key(&ctx, id)
                .await
                .map_err(status)?;
            Ok(api_key(revoked))
        })
        .await
    }

    async fn list_roles(
        &self,
        request: Request<pb::ListRolesRequest>,
    ) -> Result<Response<pb::ListRolesResponse>, Status> {
        let ctx = call_ctx(&request);
        let roles = self
            .app
            .services
            .access
            .list_roles(&ctx)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListRolesResponse {
            roles: roles.into_iter().map(role).collect(),
        }))
    }

    async fn create_role(
        &self,
        request: Request<pb::CreateRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let input = CreateRoleInput {
                name: r.name,
                description: r.description,
                parent_id: convert::optional_uuid(r.parent_id, "parent_id").map_err(status)?,
                permissions: r.permissions,
            };
            let created = self
                .app
                .services
                .access
                .create_role(&ctx, input)
                .await
                .map_err(status)?;
            Ok(role(created))
        })
        .await
    }

    async fn update_role(
        &self,
        request: Request<pb::UpdateRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let input = UpdateRoleInput {
                name: r.name,
                description: r.description,
                parent_id: convert::optional_uuid(r.parent_id, "parent_id").map_err(status)?,
                clear_parent: r.clear_parent,
                permissions: r.permissions.map(|list| list.permissions),
            };
            let updated = self
                .app
                .services
                .access
                .update_role(&ctx, id, input)
                .await
                .map_err(status)?;
            Ok(role(updated))
        })
        .await
    }

    async fn delete_role(
        &self,
        request: Request<pb::DeleteRoleRequest>,
    ) -> Result<Response<pb::DeleteRoleResponse>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            self.app
                .services
                .access
                .delete_role(&ctx, id)
                .await
                .map_err(status)?;
            Ok(pb::DeleteRoleResponse {})
        })
        .await
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let page = self
            .app
            .services
            .access
            .list_users(&ctx, convert::page(r.page_size, r.page_token))
            .await
            .map_err(status)?;
        let (users, next_page_token, total_count) = convert::paged(page, user);
        Ok(Response::new(pb::ListUsersResponse {
            users,
            next_page_token,
            total_count,
        }))
    }

    // Not through `idempotent`: the stored request hash would be a hash of the password. A
    // retry after a success is refused as ALREADY_EXISTS instead, as the email is taken.
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let input = CreateUserInput {
            email: r.email,
            password: r.password,
            name: r.name,
            role_id: convert::uuid(&r.role_id, "role_id").map_err(status)?,
        };
        let created = self
            .app
            .services
            .access
            .create_user(&ctx, input)
            .await
            .map_err(status)?;
        Ok(Response::new(user(created)))
    }

    async fn set_user_role(
        &self,
        request: Request<pb::SetUserRoleRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let role_id = convert::uuid(&r.role_id, "role_id").map_err(status)?;
            let updated = self
                .app
                .services
                .access
                .set_user_role(&ctx, id, role_id)
                .await
                .map_err(status)?;
            Ok(user(updated))
        })
        .await
    }

    async fn set_user_active(
        &self,
        request: Request<pb::SetUserActiveRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let updated = self
                .app
                .services
                .access
                .set_user_active(&ctx, id, r.active)
                .await
                .map_err(status)?;
            Ok(user(updated))
        })
        .await
    }
}
