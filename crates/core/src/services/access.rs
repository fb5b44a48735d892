//! Who may do what: users and their roles, custom roles with inheritance, and API keys.

use stateset_domain::EventType;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{AuthService, RoleCache, check_password};
use super::error::Validator;
use super::page::{Keyset, Page, PageRequest};
use super::{Ctx, Error};
use crate::auth::permissions::check_permission;
use crate::auth::{Access, PermissionSet, Principal, api_key_hash, new_api_key};
use crate::events::{self, DomainEvent};
use stateset_db::Db;
use stateset_db::identity::{self as q, ApiKeyRow, RoleChanges, RoleRow};
use stateset_domain::{ApiKey, CreatedApiKey, Role, User};

/// A user created by an administrator.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CreateUserInput {
    pub email: String,
    pub password: String,
    pub name: Option<String>,
    pub role_id: Uuid,
}

/// A new custom role.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CreateRoleInput {
    /// Lower-case letters, digits, `_` and `-`.
    pub name: String,
    pub description: Option<String>,
    /// Inherit every permission of this role.
    pub parent_id: Option<Uuid>,
    #[serde(default)]
    #[graphql(default)]
    pub permissions: Vec<String>,
}

/// Changes to a custom role; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct UpdateRoleInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub parent_id: Option<Uuid>,
    /// `true` stops inheriting.
    pub clear_parent: Option<bool>,
    /// Replaces the directly granted permissions.
    pub permissions: Option<Vec<String>>,
}

/// A new API key.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CreateApiKeyInput {
    pub name: String,
    /// Permissions the key may use; each must be within the creator's own.
    pub scopes: Vec<String>,
    /// When the key stops working; never when absent.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Users, roles and API keys.
#[derive(Clone)]
pub struct AccessService {
    db: Db,
    auth: AuthService,
    roles: Arc<RoleCache>,
}

fn check_role_name(v: &mut Validator, name: &str) -> String {
    let name = name.trim().to_owned();
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !ok {
        v.add(
            "name",
            "must be 1 to 64 lower-case letters, digits, `_` or `-`",
        );
    }
    name
}

fn check_permissions(v: &mut Validator, field: &str, permissions: &[String]) -> Vec<String> {
    for (i, permission) in permissions.iter().enumerate() {
        v.check(format!("{field}[{i}]"), check_permission(permission));
    }
    PermissionSet::new(permissions).to_strings()
}

async fn role_view(
    conn: &mut AsyncPgConnection,
    roles: &RoleCache,
    row: RoleRow,
) -> Result<Role, Error> {
    let effective = roles.permissions(conn, row.id).await?.to_strings();
    Ok(Role {
        id: row.id,
        name: row.name,
        description: row.description,
        parent_id: row.parent_id,
        permissions: row.permissions,
        effective_permissions: effective,
        built_in: row.built_in,
        created_at: row.created_at,
    })
}

async fn record(
    conn: &mut AsyncPgConnection,
    event_type: EventType,
    entity_type: &'static str,
    id: Uuid,
    data: &impl serde::Serialize,
) -> Result<(), Error> {
    let data = serde_json::to_value(data).map_err(anyhow::Error::new)?;
    events::record(
        conn,
        DomainEvent {
            event_type,
            entity_type,
            entity_id: id,
            data,
        },
    )
    .await?;
    Ok(())
}

impl AccessService {
    pub fn new(db: Db, auth: AuthService, roles: Arc<RoleCache>) -> Self {
        Self { db, auth, roles }
    }

    // ------------------------------------------------------------------ users

    /// Every user.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn list_users(&self, ctx: &Ctx, page: PageRequest) -> Result<Page<User>, Error> {
        ctx.authorize("users:read")?;
        let limit = page.limit()?;
        let after = page.keyset("created_at")?;
        let mut conn = self.db.conn().await?;
        let (rows, total) = q::list_users(&mut conn, after, limit + 1).await?;
        let position = |(row, _): &(q::UserRow, String)| Keyset::created(row.created_at, row.id);
        Ok(
            page.page("created_at", limit, rows, total, position, |(u, role)| {
                u.into_domain(role)
            }),
        )
    }

    /// Creates a user with any role (staff, managers, other administrators).
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn create_user(&self, ctx: &Ctx, input: CreateUserInput) -> Result<User, Error> {
        ctx.authorize("users:manage")?;
        let mut v = Validator::default();
        let email = v.email("email", &input.email);
        check_password(&mut v, "password", &input.password);
        v.finish()?;
        self.auth
            .create_user(email, input.password, input.name, input.role_id)
            .await
    }

    /// Gives a user another role; writes `user.updated`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, user.id = %user_id))]
    pub async fn set_user_role(
        &self,
        ctx: &Ctx,
        user_id: Uuid,
        role_id: Uuid,
    ) -> Result<User, Error> {
        ctx.authorize("users:manage")?;
        self.db
            .tx(
                "set_user_role",
                async move |conn: &mut AsyncPgConnection| {
                    let role = q::role_by_id(conn, role_id)
                        .await?
                        .ok_or_else(|| Error::invalid("role_id", "no such role"))?;
                    if q::set_user_role(conn, user_id, role_id).await? == 0 {
                        return Err(Error::not_found("user", user_id));
                    }
                    let (user, _) = q::user_by_id(conn, user_id)
                        .await?
                        .ok_or_else(|| Error::not_found("user", user_id))?;
                    let user = user.into_domain(role.name);
                    record(conn, EventType::UserUpdated, "user", user.id, &user).await?;
                    Ok(user)
                },
            )
            .await
    }

    /// Turns a user's access on or off; off ends their sessions and keys at once.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, user.id = %user_id))]
    pub async fn set_user_active(
        &self,
        ctx: &Ctx,
        user_id: Uuid,
        active: bool,
    ) -> Result<User, Error> {
        ctx.authorize("users:manage")?;
        if ctx.principal.user_id() == Some(user_id) && !active {
            return Err(Error::invalid("active", "you cannot deactivate yourself"));
        }
        self.db
            .tx(
                "set_user_active",
                async move |conn: &mut AsyncPgConnection| {
                    if q::set_user_active(conn, user_id, active).await? == 0 {
                        return Err(Error::not_found("user", user_id));
                    }
                    let (user, role) = q::user_by_id(conn, user_id)
                        .await?
                        .ok_or_else(|| Error::not_found("user", user_id))?;
                    let user = user.into_domain(role);
                    record(conn, EventType::UserUpdated, "user", user.id, &user).await?;
                    Ok(user)
                },
            )
            .await
    }

    // ------------------------------------------------------------------ roles

    /// Every role with its effective permissions.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn list_roles(&self, ctx: &Ctx) -> Result<Vec<Role>, Error> {
        ctx.authorize("roles:read")?;
        let mut conn = self.db.conn().await?;
        let mut roles = Vec::new();
        for row in q::all_roles(&mut conn).await? {
            roles.push(role_view(&mut conn, &self.roles, row).await?);
        }
        Ok(roles)
    }

    /// Creates a custom role; writes `role.created`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn create_role(&self, ctx: &Ctx, input: CreateRoleInput) -> Result<Role, Error> {
        ctx.authorize("roles:manage")?;
        let mut v = Validator::default();
        let name = check_role_name(&mut v, &input.name);
        let permissions = check_permissions(&mut v, "permissions", &input.permissions);
        v.finish()?;
        let roles = self.roles.clone();
        self.db
            .tx("create_role", async move |conn: &mut AsyncPgConnection| {
                if let Some(parent) = input.parent_id {
                    q::role_by_id(conn, parent)
                        .await?
                        .ok_or_else(|| Error::invalid("parent_id", "no such role"))?;
                }
                let now = Utc::now();
                let row = RoleRow {
                    id: Uuid::now_v7(),
                    name,
                    description: input.description.filter(|d| !d.trim().is_empty()),
                    parent_id: input.parent_id,
                    permissions,
                    built_in: false,
                    created_at: now,
                    updated_at: now,
                };
                q::insert_role(conn, &row).await?;
                let role = role_view(conn, &roles, row).await?;
                record(conn, EventType::RoleCreated, "role", role.id, &role).await?;
                Ok(role)
            })
            .await
    }

    /// Changes a custom role; built-in roles are fixed. Writes `role.updated`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, role.id = %id))]
    pub async fn update_role(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: UpdateRoleInput,
    ) -> Result<Role, Error> {
        ctx.authorize("roles:manage")?;
        let mut v = Validator::default();
        let name = input.name.as_deref().map(|n| check_role_name(&mut v, n));
        let permissions = input
            .permissions
            .as_deref()
            .map(|p| check_permissions(&mut v, "permissions", p));
        if input.parent_id.is_some() && input.clear_parent == Some(true) {
            v.add("clear_parent", "cannot be combined with parent_id");
        }
        v.finish()?;
        let roles = self.roles.clone();
        let role = self
            .db
            .tx("update_role", async move |conn: &mut AsyncPgConnection| {
                let current = q::role_by_id(conn, id)
                    .await?
                    .ok_or_else(|| Error::not_found("role", id))?;
                if current.built_in {
                    return Err(Error::InvalidState {
                        from: "built_in".into(),
                        action: "change a built-in role".into(),
                    });
                }
                if let Some(parent) = input.parent_id {
                    let ancestry = q::role_ancestry(conn, parent).await?;
                    if ancestry.is_empty() {
                        return Err(Error::invalid("parent_id", "no such role"));
                    }
                    if ancestry.contains(&id) {
                        return Err(Error::invalid(
                            "parent_id",
                            "would make the role inherit from itself",
                        ));
                    }
                }
                let changes = RoleChanges {
                    name,
                    description: input
                        .description
                        .map(|d| Some(d).filter(|d| !d.trim().is_empty())),
                    parent_id: match (input.parent_id, input.clear_parent) {
                        (Some(parent), _) => Some(Some(parent)),
                        (None, Some(true)) => Some(None),
                        _ => None,
                    },
                    permissions,
                    updated_at: Some(Utc::now()),
                };
                let row = q::update_role(conn, id, &changes).await?;
                roles.clear();
                let role = role_view(conn, &roles, row).await?;
                record(conn, EventType::RoleUpdated, "role", role.id, &role).await?;
                Ok(role)
            })
            .await?;
        self.roles.clear();
        Ok(role)
    }

    /// Deletes a custom role no user or role refers to; writes `role.deleted`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, role.id = %id))]
    pub async fn delete_role(&self, ctx: &Ctx, id: Uuid) -> Result<(), Error> {
        ctx.authorize("roles:manage")?;
        self.db
            .tx("delete_role", async move |conn: &mut AsyncPgConnection| {
                let current = q::role_by_id(conn, id)
                    .await?
                    .ok_or_else(|| Error::not_found("role", id))?;
                if current.built_in {
                    return Err(Error::InvalidState {
                        from: "built_in".into(),
                        action: "delete a built-in role".into(),
                    });
                }
                let (users, children) = q::role_references(conn, id).await?;
                if users > 0 || children > 0 {
                    return Err(Error::Conflict {
                        field: None,
                        message: format!("the role is used by {users} users and {children} roles"),
                    });
                }
                q::delete_role(conn, id)
                    .await
                    .map_err(|e| Error::from_delete(e, "role"))?;
                record(
                    conn,
                    EventType::RoleDeleted,
                    "role",
                    id,
                    &serde_json::json!({ "id": id, "name": current.name }),
                )
                .await
            })
            .await?;
        self.roles.clear();
        Ok(())
    }

    // ------------------------------------------------------------------ API keys

    /// Creates an API key acting for the caller with `scopes`; the key is shown only now.
    /// Writes `api_key.created`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn create_api_key(
        &self,
        ctx: &Ctx,
        input: CreateApiKeyInput,
    ) -> Result<CreatedApiKey, Error> {
        ctx.authorize("api_keys:create")?;
        let (owner, held) = match &ctx.principal {
            Principal::User {
                user_id,
                permissions,
                ..
            }
            | Principal::ApiKey {
                user_id,
                permissions,
                ..
            } => (*user_id, permissions.clone()),
            Principal::Anonymous | Principal::System => return Err(Error::Unauthenticated),
        };
        let mut v = Validator::default();
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 || name.contains('\0') {
            v.add("name", "must be 1 to 100 characters");
        }
        if input.scopes.is_empty() {
            v.add("scopes", "must name at least one permission");
        }
        let scopes = check_permissions(&mut v, "scopes", &input.scopes);
        for (i, scope) in input.scopes.iter().enumerate() {
            if check_permission(scope).is_ok() && !held.includes(scope) {
                v.add(
                    format!("scopes[{i}]"),
                    format!("`{scope}` is beyond your own permissions"),
                );
            }
        }
        if input.expires_at.is_some_and(|at| at <= Utc::now()) {
            v.add("expires_at", "must be in the future");
        }
        v.finish()?;
        let key = new_api_key();
        let row = ApiKeyRow {
            id: Uuid::now_v7(),
            user_id: owner,
            name,
            prefix: key.chars().take(16).collect(),
            key_hash: api_key_hash(&key),
            scopes,
            expires_at: input.expires_at,
            last_used_at: None,
            usage_count: 0,
            revoked_at: None,
            created_at: Utc::now(),
        };
        let api_key = self
            .db
            .tx(
                "create_api_key",
                async move |conn: &mut AsyncPgConnection| {
                    q::insert_api_key(conn, &row).await?;
                    let api_key = ApiKey::from(row);
                    record(
                        conn,
                        EventType::ApiKeyCreated,
                        "api_key",
                        api_key.id,
                        &api_key,
                    )
                    .await?;
                    Ok::<_, Error>(api_key)
                },
            )
            .await?;
        Ok(CreatedApiKey { api_key, key })
    }

    /// The caller's keys; every key with `api_keys:manage`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn list_api_keys(&self, ctx: &Ctx, page: PageRequest) -> Result<Page<ApiKey>, Error> {
        let owner = self.key_owner_filter(ctx)?;
        let limit = page.limit()?;
        let after = page.keyset("created_at_desc")?;
        let mut conn = self.db.conn().await?;
        let (rows, total) = q::list_api_keys(&mut conn, owner, after, limit + 1).await?;
        let position = |row: &q::ApiKeyRow| Keyset::created(row.created_at, row.id);
        Ok(page.page(
            "created_at_desc",
            limit,
            rows,
            total,
            position,
            ApiKey::from,
        ))
    }

    /// Revokes a key at once; writes `api_key.revoked`. Someone else's key is `NOT_FOUND`
    /// unless the caller manages all keys.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, api_key.id = %id))]
    pub async fn revoke_api_key(&self, ctx: &Ctx, id: Uuid) -> Result<ApiKey, Error> {
        let owner = self.key_owner_filter(ctx)?;
        self.db
            .tx(
                "revoke_api_key",
                async move |conn: &mut AsyncPgConnection| {
                    let row = q::api_key_by_id(conn, id)
                        .await?
                        .filter(|row| owner.is_none_or(|o| o == row.user_id));
                    let row = row.ok_or_else(|| Error::not_found("api_key", id))?;
                    if row.revoked_at.is_some() {
                        return Ok(ApiKey::from(row));
                    }
                    let api_key = ApiKey::from(q::revoke_api_key(conn, id).await?);
                    record(conn, EventType::ApiKeyRevoked, "api_key", id, &api_key).await?;
                    Ok(api_key)
                },
            )
            .await
    }

    /// `None` to see every key, or the one user whose keys the caller may see.
    fn key_owner_filter(&self, ctx: &Ctx) -> Result<Option<Uuid>, Error> {
        if ctx.access("api_keys:manage") == Some(Access::All) {
            return Ok(None);
        }
        ctx.authorize("api_keys:create")?;
        ctx.principal
            .user_id()
            .map(Some)
            .ok_or(Error::Unauthenticated)
    }
}
