//! Idempotency keys: the first request with a key runs and its response is kept for 24 hours;
//! a retry with the same key and request gets that response again without running anything.
//!
//! Every door runs its mutations through [`IdempotencyService::run_once`] and shapes the
//! outcome in its own protocol (HTTP for REST, GraphQL and ACP; gRPC).

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

/// What a door's call came to, as [`IdempotencyService::run_once`] needs to know it.
pub enum Outcome<R> {
    /// The operation completed: keep `StoredResponse` for retries, answer with `R`.
    Keep(R, StoredResponse),
    /// It did not (a server-side failure): forget the key so a retry runs again.
    Forget(R),
}

/// What [`IdempotencyService::run_once`] did.
pub enum Ran<R> {
    /// The key was seen and finished: nothing ran; answer with the kept response.
    Replayed(StoredResponse),
    /// This call ran.
    Ran(R),
}

/// A claimed key given back if its call never finishes (a timeout, a client gone), so a
/// retry runs.
struct ClaimGuard {
    service: IdempotencyService,
    claim: Option<Claim>,
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if let Some(claim) = self.claim.take() {
            let service = self.service.clone();
            tokio::spawn(async move {
                if let Err(err) = service.release(&claim).await {
                    tracing::error!(error = ?err, "cannot release an unfinished idempotency key");
                }
            });
        }
    }
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

    /// Runs `call` at most once under `key` in `scope` for a request whose `request_hash`
    /// identifies its content: a finished earlier run is replayed instead; what `call` came to
    /// is kept or forgotten as its [`Outcome`] says; a call dropped unfinished gives the key
    /// back.
    ///
    /// # Errors
    /// Those of [`IdempotencyService::begin`].
    pub async fn run_once<R>(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        call: impl Future<Output = Outcome<R>>,
    ) -> Result<Ran<R>, Error> {
        let claim = match self.begin(scope, key, request_hash).await? {
            (Begin::Replay(stored), _) => return Ok(Ran::Replayed(stored)),
            (Begin::Proceed, claim) => claim,
        };
        let mut guard = ClaimGuard {
            service: self.clone(),
            claim: Some(claim),
        };
        let outcome = call.await;
        let Some(claim) = guard.claim.take() else {
            return Err(Error::Internal(anyhow::anyhow!(
                "idempotency claim taken twice"
            )));
        };
        let (answer, recorded) = match outcome {
            Outcome::Keep(answer, stored) => (answer, self.complete(&claim, &stored).await),
            Outcome::Forget(answer) => (answer, self.release(&claim).await),
        };
        if let Err(err) = recorded {
            tracing::error!(error = ?err, "cannot record the idempotent outcome");
        }
        Ok(Ran::Ran(answer))
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
