//! Idempotency keys: the first request with a key runs and its response is kept for 24 hours;
//! a retry with the same key and request gets that response again without running anything.
//!
//! Doors wrap their mutations with [`IdempotencyService::begin`] and then `complete` or
//! `release`, and shape the outcome in their own protocol (REST, gRPC, ACP).

use chrono::{Duration, Utc};
use sha2::{Digest as _, Sha256};

use super::Error;
use stateset_db::Db;
use stateset_db::idempotency as q;

/// How long a response is kept.
pub const RETENTION: Duration = Duration::hours(24);
/// A first request still unfinished after this long is presumed dead and may be retried.
const ABANDONED_AFTER: Duration = Duration::minutes(5);
/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 255;

/// A response kept for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
}

/// What to do with a request that carries a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// First time: run it, then `complete` (or `release` on a server error).
    Proceed,
    /// Seen and finished: answer with this, run nothing.
    Replay(StoredResponse),
}

/// A claimed key: whoever holds it must complete or release it.
#[derive(Debug, Clone)]
pub struct Claim {
    scope: String,
    key: String,
}

/// Hex SHA-256 over the parts that identify a request.
pub fn request_hash(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

/// Checks a client's key: 1 to 255 visible ASCII characters.
pub fn check_key(field: &str, key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid(
            field,
            format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        ));
    }
    Ok(())
}

/// Stores and replays responses.
#[derive(Clone)]
pub struct IdempotencyService {
    db: Db,
}

impl IdempotencyService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Claims `key` within `scope` (the caller and the operation) for a request whose
    /// `request_hash` identifies its content.
    ///
    /// # Errors
    /// `IDEMPOTENCY_KEY_REUSED` when the key was used for a different request,
    /// `IDEMPOTENCY_IN_FLIGHT` while the first request with it is still running.
    pub async fn begin(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<(Begin, Claim), Error> {
        let claim = Claim {
            scope: scope.to_owned(),
            key: key.to_owned(),
        };
        let mut conn = self.db.conn().await?;
        let expires_at = Utc::now() + RETENTION;
        // Two rounds: a stale row found in the first is taken over and checked once more.
        for _ in 0..2 {
            if q::claim(&mut conn, scope, key, request_hash, expires_at).await? {
                return Ok((Begin::Proceed, claim));
            }
            let Some(row) = q::find(&mut conn, scope, key).await? else {
                continue;
            };
            let now = Utc::now();
            let abandoned = row.response_status.is_none() && now - row.created_at > ABANDONED_AFTER;
            if row.expires_at < now || abandoned {
                if q::reclaim(
                    &mut conn,
                    scope,
                    key,
                    request_hash,
                    expires_at,
                    row.created_at,
                )
                .await?
                {
                    return Ok((Begin::Proceed, claim));
                }
                continue;
            }
            if row.request_hash != request_hash {
                return Err(Error::IdempotencyKeyReused);
            }
            return match (row.response_status, row.response_body) {
                (Some(status), Some(body)) => Ok((
                    Begin::Replay(StoredResponse {
                        status: u16::try_from(status).unwrap_or(200),
                        body,
                        content_type: row.content_type,
                    }),
                    claim,
                )),
                _ => Err(Error::IdempotencyInFlight {
                    retry_after_secs: 1,
                }),
            };
        }
        Err(Error::IdempotencyInFlight {
            retry_after_secs: 1,
        })
    }

    /// Keeps the response of a claimed request for replays.
    pub async fn complete(&self, claim: &Claim, response: &StoredResponse) -> Result<(), Error> {
        let mut conn = self.db.conn().await?;
        let status = i32::from(response.status);
        q::complete(
            &mut conn,
            &claim.scope,
            &claim.key,
            status,
            &response.body,
            response.content_type.as_deref(),
        )
        .await?;
        Ok(())
    }

    /// Forgets a claimed key, so a retry runs again (after server errors, which are not kept).
    pub async fn release(&self, claim: &Claim) -> Result<(), Error> {
        let mut conn = self.db.conn().await?;
        q::release(&mut conn, &claim.scope, &claim.key).await?;
        Ok(())
    }

    /// Deletes expired keys; returns how many.
    pub async fn sweep(&self) -> Result<usize, Error> {
        let mut conn = self.db.conn().await?;
        Ok(q::sweep(&mut conn).await?)
    }
}
