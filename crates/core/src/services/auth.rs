//! Sign-in and sessions: register, login, token refresh with rotation and reuse detection,
//! logout, and turning presented credentials into a [`Principal`].

use stateset_domain::EventType;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::Validator;
use super::{Ctx, Error};
use crate::auth::password::PasswordHasher;
use crate::auth::tokens::{TokenKind, TokenSigner};
use crate::auth::{API_KEY_PREFIX, PermissionSet, Principal, api_key_hash};
use crate::events::{self, DomainEvent};
use stateset_db::Db;
use stateset_db::identity::{self as q, RefreshTokenRow, UserRow};
use stateset_domain::{AuthTokens, User};

/// The built-in role new sign-ups get.
pub const CUSTOMER_ROLE: Uuid = Uuid::from_u128(0x00000000_0000_7000_8000_000000000004);
/// The built-in administrator role.
pub const ADMIN_ROLE: Uuid = Uuid::from_u128(0x00000000_0000_7000_8000_000000000001);
/// The built-in manager role.
pub const MANAGER_ROLE: Uuid = Uuid::from_u128(0x00000000_0000_7000_8000_000000000002);
/// The built-in staff role.
pub const STAFF_ROLE: Uuid = Uuid::from_u128(0x00000000_0000_7000_8000_000000000003);

/// How long role permissions and the session denylist are cached per instance. Changes made
/// through this instance apply at once; through another instance, within this long.
const CACHE_TTL: Duration = Duration::from_secs(5);

const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 256;

/// Credentials as a door received them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    None,
    /// `Authorization: Bearer <token>`: a JWT access token or an `sk_live_` API key.
    Bearer(String),
    /// `X-API-Key: <key>`.
    ApiKey(String),
}

impl Credentials {
    /// Reads an `Authorization` value; anything but a bearer token is bad credentials (an
    /// empty bearer token, which no key or token matches).
    pub fn from_authorization(value: &str) -> Self {
        match value.trim().split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                Self::Bearer(token.trim().to_owned())
            }
            _ => Self::Bearer(String::new()),
        }
    }
}

/// A new account.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct RegisterInput {
    pub email: String,
    /// 8 to 256 characters.
    pub password: String,
    pub name: Option<String>,
}

/// Email and password.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
    /// A guest cart to merge into the customer's cart on sign-in.
    #[serde(default)]
    #[graphql(default)]
    pub cart_token: Option<String>,
}

/// Effective permissions per role, cached briefly.
#[derive(Default)]
pub struct RoleCache {
    entries: Mutex<HashMap<Uuid, (Instant, Arc<PermissionSet>)>>,
}

impl RoleCache {
    /// The effective permissions of `role_id`.
    pub async fn permissions(
        &self,
        conn: &mut AsyncPgConnection,
        role_id: Uuid,
    ) -> Result<Arc<PermissionSet>, Error> {
        if let Some((at, set)) = self.lock().get(&role_id)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(set.clone());
        }
        let set = Arc::new(PermissionSet::new(
            q::effective_permissions(conn, role_id).await?,
        ));
        self.lock().insert(role_id, (Instant::now(), set.clone()));
        Ok(set)
    }

    /// Forgets everything, after any role changed (inheritance makes one change reach many).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (Instant, Arc<PermissionSet>)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Revoked sessions, reloaded from PostgreSQL every few seconds.
#[derive(Default)]
struct Denylist {
    state: Mutex<(Option<Instant>, HashSet<Uuid>)>,
}

impl Denylist {
    async fn contains(&self, conn: &mut AsyncPgConnection, session: Uuid) -> Result<bool, Error> {
        {
            let state = self.lock();
            if state.0.is_some_and(|at| at.elapsed() < CACHE_TTL) {
                return Ok(state.1.contains(&session));
            }
        }
        let revoked: HashSet<Uuid> = q::revoked_session_ids(conn).await?.into_iter().collect();
        let found = revoked.contains(&session);
        *self.lock() = (Some(Instant::now()), revoked);
        Ok(found)
    }

    fn add(&self, session: Uuid) {
        self.lock().1.insert(session);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Option<Instant>, HashSet<Uuid>)> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Sign-in, sessions and authentication.
#[derive(Clone)]
pub struct AuthService {
    db: Db,
    signer: Arc<TokenSigner>,
    hasher: Arc<PasswordHasher>,
    roles: Arc<RoleCache>,
    denylist: Arc<Denylist>,
}

/// Checks a new password's length.
pub fn check_password(v: &mut Validator, field: &str, password: &str) {
    let length = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&length) || password.contains('\0') {
        v.add(
            field,
            format!("must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"),
        );
    }
}

fn invalid_credentials() -> Error {
    Error::Unauthenticated
}

impl AuthService {
    pub fn new(
        db: Db,
        signer: Arc<TokenSigner>,
        hasher: Arc<PasswordHasher>,
        roles: Arc<RoleCache>,
    ) -> Self {
        Self {
            db,
            signer,
            hasher,
            roles,
            denylist: Arc::default(),
        }
    }

    /// Hashes a password off the async threads (Argon2 is deliberately slow).
    pub async fn hash_password(&self, password: String) -> Result<String, Error> {
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || hasher.hash(&password))
            .await
            .map_err(anyhow::Error::new)?
            .map_err(Error::Internal)
    }

    async fn verify_password(&self, password: String, hash: Option<String>) -> Result<bool, Error> {
        let hasher = self.hasher.clone();
        Ok(
            tokio::task::spawn_blocking(move || hasher.verify(&password, hash.as_deref()))
                .await
                .map_err(anyhow::Error::new)?,
        )
    }

    /// Turns presented credentials into a principal. No credentials is `Anonymous`; anything
    /// presented but not valid (bad signature, expired, revoked, unknown key, inactive user)
    /// is `UNAUTHENTICATED`, never a silent downgrade to anonymous.
    pub async fn authenticate(&self, credentials: &Credentials) -> Result<Principal, Error> {
        let token = match credentials {
            Credentials::None => return Ok(Principal::Anonymous),
            Credentials::ApiKey(key) => return self.authenticate_api_key(key).await,
            Credentials::Bearer(token) if token.starts_with(API_KEY_PREFIX) => {
                return self.authenticate_api_key(token).await;
            }
            Credentials::Bearer(token) => token,
        };
        let claims = self
            .signer
            .verify(token, TokenKind::Access)
            .ok_or_else(invalid_credentials)?;
        let mut conn = self.db.conn().await?;
        if self.denylist.contains(&mut conn, claims.sid).await? {
            return Err(invalid_credentials());
        }
        let (user, role) = q::user_by_id(&mut conn, claims.sub)
            .await?
            .ok_or_else(invalid_credentials)?;
        if !user.active {
            return Err(invalid_credentials());
        }
        let permissions = self.roles.permissions(&mut conn, user.role_id).await?;
        Ok(Principal::User {
            user_id: user.id,
            session_id: claims.sid,
            role,
            permissions,
        })
    }

    async fn authenticate_api_key(&self, key: &str) -> Result<Principal, Error> {
        let mut conn = self.db.conn().await?;
        let row = q::use_api_key(&mut conn, &api_key_hash(key.trim()))
            .await?
            .ok_or_else(invalid_credentials)?;
        let (owner, _) = q::user_by_id(&mut conn, row.user_id)
            .await?
            .ok_or_else(invalid_credentials)?;
        if !owner.active {
            return Err(invalid_credentials());
        }
        // A key never does more than its owner can do today.
        let owner_permissions = self.roles.permissions(&mut conn, owner.role_id).await?;
        let scopes = row
            .scopes
            .iter()
            .filter(|scope| owner_permissions.includes(scope));
        Ok(Principal::ApiKey {
            key_id: row.id,
            user_id: owner.id,
            permissions: Arc::new(PermissionSet::new(scopes)),
        })
    }

    /// Creates a customer account and signs it in; writes `user.created`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn register(&self, ctx: &Ctx, input: RegisterInput) -> Result<AuthTokens, Error> {
        let mut v = Validator::default();
        let email = v.email("email", &input.email);
        check_password(&mut v, "password", &input.password);
        if let Some(name) = &input.name
            && (name.contains('\0') || name.chars().count() > 255)
        {
            v.add("name", "must be at most 255 characters");
        }
        v.finish()?;
        let _ = ctx;
        let user = self
            .create_user(email, input.password, input.name, CUSTOMER_ROLE)
            .await?;
        self.start_session(user).await
    }

    /// Creates a user with a role; writes `user.created`. The caller checks who may do this.
    pub(crate) async fn create_user(
        &self,
        email: String,
        password: String,
        name: Option<String>,
        role_id: Uuid,
    ) -> Result<User, Error> {
        let password_hash = self.hash_password(password).await?;
        let now = Utc::now();
        let row = UserRow {
            id: Uuid::now_v7(),
            email,
            name: name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
            password_hash,
            role_id,
            active: true,
            last_login_at: None,
            created_at: now,
            updated_at: now,
        };
        self.db
            .tx("create_user", async move |conn: &mut AsyncPgConnection| {
                let role = q::role_by_id(conn, role_id)
                    .await?
                    .ok_or_else(|| Error::invalid("role_id", "no such role"))?;
                q::insert_user(conn, &row).await?;
                let user = row.into_domain(role.name);
                let data = serde_json::to_value(&user).map_err(anyhow::Error::new)?;
                events::record(
                    conn,
                    DomainEvent {
                        event_type: EventType::UserCreated,
                        entity_type: "user",
                        entity_id: user.id,
                        data,
                    },
                )
                .await?;
                if role_id == CUSTOMER_ROLE {
                    super::customers::create_for_user(
                        conn,
                        user.id,
                        &user.email,
                        user.name.as_deref(),
                    )
                    .await?;
                }
                Ok(user)
            })
            .await
    }

    /// Signs in with email and password. A wrong email and a wrong password cost the same
    /// time and give the same `UNAUTHENTICATED` error.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn login(&self, ctx: &Ctx, input: LoginInput) -> Result<AuthTokens, Error> {
        let _ = ctx;
        let email = input.email.trim().to_lowercase();
        let found = if email.contains('\0') {
            None
        } else {
            let mut conn = self.db.conn().await?;
            q::user_by_email(&mut conn, &email).await?
        };
        let hash = found
            .as_ref()
            .filter(|(user, _)| user.active)
            .map(|(user, _)| user.password_hash.clone());
        if !self.verify_password(input.password, hash).await? {
            return Err(invalid_credentials());
        }
        let Some((user, role)) = found else {
            return Err(invalid_credentials());
        };
        let mut conn = self.db.conn().await?;
        q::touch_login(&mut conn, user.id).await?;
        if let Some(token) = input.cart_token {
            // A customer signing in takes the cart they filled as a guest along.
            let user_id = user.id;
            (*conn)
                .transaction(async move |conn: &mut AsyncPgConnection| {
                    match stateset_db::customers::customer_by_user(conn, user_id).await? {
                        Some(customer) => {
                            super::carts::merge_guest_cart(conn, &token, customer.id).await?;
                            Ok(())
                        }
                        None => Ok::<_, Error>(()),
                    }
                })
                .await?;
        }
        self.start_session(user.into_domain(role)).await
    }

    async fn start_session(&self, user: User) -> Result<AuthTokens, Error> {
        let session = Uuid::now_v7();
        let mut conn = self.db.conn().await?;
        self.issue_pair(&mut conn, user, session).await
    }

    async fn issue_pair(
        &self,
        conn: &mut AsyncPgConnection,
        user: User,
        session: Uuid,
    ) -> Result<AuthTokens, Error> {
        let (access_token, _) = self.signer.issue(TokenKind::Access, user.id, session)?;
        let (refresh_token, refresh) = self.signer.issue(TokenKind::Refresh, user.id, session)?;
        let row = RefreshTokenRow {
            id: refresh.jti,
            family_id: session,
            user_id: user.id,
            expires_at: chrono::DateTime::from_timestamp(refresh.exp, 0).unwrap_or_else(Utc::now),
            used_at: None,
            revoked_at: None,
            created_at: Utc::now(),
        };
        q::insert_refresh_token(conn, &row).await?;
        Ok(AuthTokens {
            access_token,
            refresh_token,
            token_type: "Bearer".into(),
            expires_in: i64::try_from(self.signer.access_ttl.as_secs()).unwrap_or(i64::MAX),
            user,
        })
    }

    fn session_expiry(&self) -> chrono::DateTime<Utc> {
        Utc::now()
            + chrono::Duration::seconds(
                i64::try_from(self.signer.refresh_ttl.as_secs()).unwrap_or(i64::MAX / 4),
            )
    }

    /// Exchanges a refresh token for a new pair. Each refresh token works once: presenting a
    /// spent one means it was copied, so the whole session is revoked (theft detection).
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn refresh(&self, ctx: &Ctx, refresh_token: &str) -> Result<AuthTokens, Error> {
        let _ = ctx;
        let claims = self
            .signer
            .verify(refresh_token.trim(), TokenKind::Refresh)
            .ok_or_else(invalid_credentials)?;
        enum Outcome {
            Rotated(Box<AuthTokens>),
            Reused,
            Invalid,
        }
        let session_expiry = self.session_expiry();
        let this = self.clone();
        let outcome = self
            .db
            .tx("refresh", async move |conn: &mut AsyncPgConnection| {
                let Some(token) = q::lock_refresh_token(conn, claims.jti).await? else {
                    return Ok(Outcome::Invalid);
                };
                if token.used_at.is_some() || token.revoked_at.is_some() {
                    q::revoke_session(conn, token.family_id, session_expiry).await?;
                    return Ok(Outcome::Reused);
                }
                q::mark_refresh_token_used(conn, token.id).await?;
                let Some((user, role)) = q::user_by_id(conn, token.user_id).await? else {
                    return Ok(Outcome::Invalid);
                };
                if !user.active {
                    return Ok(Outcome::Invalid);
                }
                let tokens = this
                    .issue_pair(conn, user.into_domain(role), token.family_id)
                    .await?;
                Ok::<_, Error>(Outcome::Rotated(Box::new(tokens)))
            })
            .await?;
        match outcome {
            Outcome::Rotated(tokens) => Ok(*tokens),
            Outcome::Reused => {
                self.denylist.add(claims.sid);
                tracing::warn!(session.id = %claims.sid, user.id = %claims.sub, "refresh token reused: session revoked");
                Err(Error::Unauthenticated)
            }
            Outcome::Invalid => Err(invalid_credentials()),
        }
    }

    /// Ends a session: the caller's own (signed in with an access token), or the one a refresh
    /// token belongs to. Its refresh tokens stop working and its access tokens are refused.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn logout(&self, ctx: &Ctx, refresh_token: Option<&str>) -> Result<(), Error> {
        let session = match (&ctx.principal, refresh_token) {
            (Principal::User { session_id, .. }, _) => *session_id,
            (_, Some(token)) => {
                self.signer
                    .verify(token.trim(), TokenKind::Refresh)
                    .ok_or_else(invalid_credentials)?
                    .sid
            }
            (Principal::Anonymous, None) => return Err(Error::Unauthenticated),
            (_, None) => {
                return Err(Error::invalid(
                    "refresh_token",
                    "is required to end a session with an API key",
                ));
            }
        };
        let mut conn = self.db.conn().await?;
        q::revoke_session(&mut conn, session, self.session_expiry()).await?;
        self.denylist.add(session);
        Ok(())
    }

    /// The signed-in user.
    pub async fn me(&self, ctx: &Ctx) -> Result<User, Error> {
        let user_id = ctx.principal.user_id().ok_or(Error::Unauthenticated)?;
        let mut conn = self.db.conn().await?;
        let (user, role) = q::user_by_id(&mut conn, user_id)
            .await?
            .ok_or(Error::Unauthenticated)?;
        Ok(user.into_domain(role))
    }
}
