//! Identity entities: users, roles, API keys and issued tokens. Secrets never appear here
//! except in the one-time results that hand them out.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// An account that can sign in.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct User {
    pub id: Uuid,
    /// Lower-cased email, unique.
    pub email: String,
    pub name: Option<String>,
    pub role_id: Uuid,
    /// The role's name, e.g. `customer`.
    pub role: String,
    /// Inactive users cannot sign in and their tokens and keys stop working.
    pub active: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A named set of permissions, optionally inheriting another role's.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct Role {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    /// The role whose permissions this one inherits.
    pub parent_id: Option<Uuid>,
    /// Permissions granted directly, e.g. `orders:read`, `products:*`, `orders:read:own`.
    pub permissions: Vec<String>,
    /// Including inherited ones.
    pub effective_permissions: Vec<String>,
    /// Built-in roles (admin, manager, staff, customer) cannot be changed or deleted.
    pub built_in: bool,
    pub created_at: DateTime<Utc>,
}

/// An API key as listed: never the key itself.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct ApiKey {
    pub id: Uuid,
    /// The user whose rights the key acts with (narrowed by `scopes`).
    pub user_id: Uuid,
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    /// What the key may do; always within its owner's permissions.
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub usage_count: i64,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A newly created API key: the only time the key is shown.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct CreatedApiKey {
    pub api_key: ApiKey,
    /// The secret to send as `Authorization: Bearer ...` or `X-API-Key`. Store it now; it
    /// cannot be shown again.
    pub key: String,
}

/// Tokens of a signed-in session.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct AuthTokens {
    /// Send as `Authorization: Bearer ...`; valid for `expires_in` seconds.
    pub access_token: String,
    /// Exchange once for a new pair; using it twice ends the session.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token stays valid.
    pub expires_in: i64,
    pub user: User,
}
