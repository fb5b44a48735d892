//! Rows and queries for users, roles, refresh tokens, revoked sessions and API keys.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::{api_keys, refresh_tokens, revoked_sessions, roles, users};
use stateset_domain::{ApiKey, User};

/// A `users` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub password_hash: String,
    pub role_id: Uuid,
    pub active: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserRow {
    pub fn into_domain(self, role: String) -> User {
        User {
            id: self.id,
            email: self.email,
            name: self.name,
            role_id: self.role_id,
            role,
            active: self.active,
            last_login_at: self.last_login_at,
            created_at: self.created_at,
        }
    }
}

/// A `roles` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = roles)]
pub struct RoleRow {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub parent_id: Option<Uuid>,
    pub permissions: Vec<String>,
    pub built_in: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Changes to a role; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = roles)]
pub struct RoleChanges {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub parent_id: Option<Option<Uuid>>,
    pub permissions: Option<Vec<String>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// An `api_keys` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub usage_count: i64,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(row: ApiKeyRow) -> Self {
        ApiKey {
            id: row.id,
            user_id: row.user_id,
            name: row.name,
            prefix: row.prefix,
            scopes: row.scopes,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            usage_count: row.usage_count,
            revoked_at: row.revoked_at,
            created_at: row.created_at,
        }
    }
}

/// A `refresh_tokens` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

// ---- users ----

pub async fn insert_user(conn: &mut AsyncPgConnection, row: &UserRow) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

/// A user with the name of their role.
pub async fn user_by_id(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<(UserRow, String)>> {
    users::table
        .inner_join(roles::table)
        .filter(users::id.eq(id))
        .select((UserRow::as_select(), roles::name))
        .first(conn)
        .await
        .optional()
}

/// A user by (lower-cased) email, with the name of their role.
pub async fn user_by_email(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> QueryResult<Option<(UserRow, String)>> {
    users::table
        .inner_join(roles::table)
        .filter(users::email.eq(email))
        .select((UserRow::as_select(), roles::name))
        .first(conn)
        .await
        .optional()
}

/// Up to `limit` users with their role names, oldest first, strictly after `after`, with the
/// total count of users.
pub async fn list_users(
    conn: &mut AsyncPgConnection,
    after: Option<super::Keyset>,
    limit: i64,
) -> QueryResult<(Vec<(UserRow, String)>, i64)> {
    let total = users::table.count().get_result(conn).await?;
    let mut query = users::table
        .inner_join(roles::table)
        .select((UserRow::as_select(), roles::name))
        .order((users::created_at.asc(), users::id.asc()))
        .limit(limit)
        .into_boxed();
    if let Some(at) = after {
        query = query.filter(super::created_after("users", at));
    }
    Ok((query.load(conn).await?, total))
}

pub async fn touch_login(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::last_login_at.eq(Utc::now()))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn set_user_role(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    role_id: Uuid,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((users::role_id.eq(role_id), users::updated_at.eq(Utc::now())))
        .execute(conn)
        .await
}

pub async fn set_user_active(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    active: bool,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((users::active.eq(active), users::updated_at.eq(Utc::now())))
        .execute(conn)
        .await
}

// ---- roles ----

pub async fn all_roles(conn: &mut AsyncPgConnection) -> QueryResult<Vec<RoleRow>> {
    roles::table
        .select(RoleRow::as_select())
        .order(roles::name)
        .load(conn)
        .await
}

pub async fn role_by_id(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<RoleRow>> {
    roles::table
        .find(id)
        .select(RoleRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn insert_role(conn: &mut AsyncPgConnection, row: &RoleRow) -> QueryResult<()> {
    diesel::insert_into(roles::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn update_role(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &RoleChanges,
) -> QueryResult<RoleRow> {
    diesel::update(roles::table.find(id))
        .set(changes)
        .returning(RoleRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn delete_role(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(roles::table.find(id)).execute(conn).await
}

/// How many users and child roles refer to a role.
pub async fn role_references(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<(i64, i64)> {
    let users = users::table
        .filter(users::role_id.eq(id))
        .count()
        .get_result(conn)
        .await?;
    let children = roles::table
        .filter(roles::parent_id.eq(id))
        .count()
        .get_result(conn)
        .await?;
    Ok((users, children))
}

// ---- sessions ----

pub async fn insert_refresh_token(
    conn: &mut AsyncPgConnection,
    row: &RefreshTokenRow,
) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

/// The refresh token with this id, locked so that two concurrent refreshes cannot both use it.
pub async fn lock_refresh_token(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<RefreshTokenRow>> {
    refresh_tokens::table
        .find(id)
        .select(RefreshTokenRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn mark_refresh_token_used(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(refresh_tokens::table.find(id))
        .set(refresh_tokens::used_at.eq(Utc::now()))
        .execute(conn)
        .await
        .map(drop)
}

/// Revokes every refresh token of a session and puts the session on the denylist until
/// `expires_at`, after which none of its tokens would be accepted anyway.
pub async fn revoke_session(
    conn: &mut AsyncPgConnection,
    family_id: Uuid,
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(refresh_tokens::table.filter(refresh_tokens::family_id.eq(family_id)))
        .filter(refresh_tokens::revoked_at.is_null())
        .set(refresh_tokens::revoked_at.eq(Utc::now()))
        .execute(conn)
        .await?;
    diesel::insert_into(revoked_sessions::table)
        .values((
            revoked_sessions::family_id.eq(family_id),
            revoked_sessions::expires_at.eq(expires_at),
        ))
        .on_conflict(revoked_sessions::family_id)
        .do_nothing()
        .execute(conn)
        .await
        .map(drop)
}

/// Sessions on the denylist that have not expired.
pub async fn revoked_session_ids(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Uuid>> {
    revoked_sessions::table
        .filter(revoked_sessions::expires_at.gt(Utc::now()))
        .select(revoked_sessions::family_id)
        .load(conn)
        .await
}

// ---- API keys ----

pub async fn insert_api_key(conn: &mut AsyncPgConnection, row: &ApiKeyRow) -> QueryResult<()> {
    diesel::insert_into(api_keys::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

/// Records one use of a live key (not revoked, not expired) and returns it; `None` when no
/// live key has this hash.
pub async fn use_api_key(
    conn: &mut AsyncPgConnection,
    key_hash: &str,
) -> QueryResult<Option<ApiKeyRow>> {
    let now = Utc::now();
    diesel::update(api_keys::table)
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null())
        .filter(
            api_keys::expires_at
                .is_null()
                .or(api_keys::expires_at.gt(now)),
        )
        .set((
            api_keys::last_used_at.eq(now),
            api_keys::usage_count.eq(api_keys::usage_count + 1),
        ))
        .returning(ApiKeyRow::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// Up to `limit` keys of one user, or of everyone when `user` is `None`, newest first after
/// `after`, and how many there are in all.
pub async fn list_api_keys(
    conn: &mut AsyncPgConnection,
    user: Option<Uuid>,
    after: Option<super::Keyset>,
    limit: i64,
) -> QueryResult<(Vec<ApiKeyRow>, i64)> {
    let mut total = api_keys::table.count().into_boxed();
    let mut query = api_keys::table
        .select(ApiKeyRow::as_select())
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(user) = user {
        total = total.filter(api_keys::user_id.eq(user));
        query = query.filter(api_keys::user_id.eq(user));
    }
    if let Some(at) = after {
        query = query.filter(super::created_before("api_keys", at));
    }
    Ok((query.load(conn).await?, total.get_result(conn).await?))
}

pub async fn api_key_by_id(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table
        .find(id)
        .select(ApiKeyRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn revoke_api_key(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<ApiKeyRow> {
    diesel::update(api_keys::table.find(id))
        .set(api_keys::revoked_at.eq(Utc::now()))
        .returning(ApiKeyRow::as_returning())
        .get_result(conn)
        .await
}

/// Every permission of a role, including those inherited along its parent chain.
pub async fn effective_permissions(
    conn: &mut AsyncPgConnection,
    role_id: Uuid,
) -> QueryResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        permission: String,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "WITH RECURSIVE chain AS ( \
             SELECT id, parent_id, permissions, 1 AS depth FROM roles WHERE id = $1 \
             UNION ALL \
             SELECT r.id, r.parent_id, r.permissions, c.depth + 1 FROM roles r JOIN chain c ON r.id = c.parent_id \
             WHERE c.depth < 32) \
         SELECT DISTINCT unnest(permissions) AS permission FROM chain",
    )
    .bind::<diesel::sql_types::Uuid, _>(role_id)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.permission).collect())
}

/// The role itself and every ancestor.
pub async fn role_ancestry(conn: &mut AsyncPgConnection, role_id: Uuid) -> QueryResult<Vec<Uuid>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "WITH RECURSIVE up AS (SELECT id, parent_id, 1 AS depth FROM roles WHERE id = $1 \
         UNION ALL SELECT r.id, r.parent_id, up.depth + 1 FROM roles r JOIN up ON r.id = up.parent_id WHERE up.depth < 32) \
         SELECT id FROM up",
    )
    .bind::<diesel::sql_types::Uuid, _>(role_id)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}
