//! Identity primitives: principals, permissions, password hashing, tokens and API key format.
//!
//! Nothing here touches the database; `services::auth` turns credentials into a [`Principal`]
//! with these pieces, and every service asks the principal (through `Ctx`) for permission.

pub mod password;
pub mod permissions;
pub mod signature;
pub mod tokens;

use std::sync::Arc;

use rand::Rng as _;
use rand::distr::Alphanumeric;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

pub use permissions::{Access, PermissionSet};

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// No credentials were presented: only public catalog reads.
    Anonymous,
    /// A signed-in user, through a JWT access token of one session.
    User {
        user_id: Uuid,
        /// The token family (one login); logging out revokes it.
        session_id: Uuid,
        role: String,
        permissions: Arc<PermissionSet>,
    },
    /// A service calling with an API key; its permissions are the key's scopes that its owner
    /// still holds.
    ApiKey {
        key_id: Uuid,
        user_id: Uuid,
        permissions: Arc<PermissionSet>,
    },
    /// The server itself: seeding, background work, the admin CLI.
    System,
}

impl Principal {
    /// The user acting (directly or through their key), if any.
    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Self::User { user_id, .. } | Self::ApiKey { user_id, .. } => Some(*user_id),
            Self::Anonymous | Self::System => None,
        }
    }

    /// A stable name for rate limits and idempotency scopes: `user:<id>`, `api_key:<id>`, ...
    pub fn key(&self) -> String {
        match self {
            Self::Anonymous => "anonymous".to_owned(),
            Self::User { user_id, .. } => format!("user:{user_id}"),
            Self::ApiKey { key_id, .. } => format!("api_key:{key_id}"),
            Self::System => "system".to_owned(),
        }
    }
}

/// Prefix of every API key; the rest is random.
pub const API_KEY_PREFIX: &str = "sk_live_";

/// A random alphanumeric string of `len` characters from the OS-seeded CSPRNG.
pub fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A new API key: `sk_live_` and 40 random characters (about 238 bits).
pub fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_token(40))
}

/// How an API key is stored and looked up: hex SHA-256. A key has enough entropy that a fast
/// hash is safe, and lookups by hash leak nothing about other keys.
pub fn api_key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}
