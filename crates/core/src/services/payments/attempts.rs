//! Payment attempts: a call to a payment provider that can move money happens exactly once.
//!
//! Each call is written down first, in its own short transaction under the lock of what is
//! being paid (the checkout, the order, the payment), with the idempotency key the provider
//! gets. That key is derived from what is paid (the checkout and its attempt number, the
//! payment and the operation, a client's `Idempotency-Key`), so any retry of any step sends
//! the same key and the provider does the thing once. The call itself runs outside every
//! transaction; what the provider answered is written down at once, and the effect on our side
//! (the order, the payment row) is written in a second transaction that also marks the attempt
//! `applied`. When that second transaction cannot commit, the money is given back (void or
//! refund) and the attempt ends `voided`.
//!
//! An attempt is held through a lease. A request that gives up without knowing the outcome
//! (the provider timed out) ends its lease, so a retry takes the attempt over and asks the
//! provider again with the same key; the reconciler ([`super::PaymentService::settle_in_doubt`],
//! run by `serve` and `stateset worker`) settles attempts nobody came back for, and those a
//! crash left behind. `tries` is bumped on every take-over and fences out the holder it was
//! taken from.

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use super::Error;
pub(crate) use stateset_db::payment_attempts::AttemptRow;
use stateset_db::payment_attempts::{self as q, AttemptChanges};
use stateset_domain::AttemptStatus;

/// What an attempt asks the provider to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// Authorize (and maybe capture) a new payment.
    Authorize,
    /// Capture an authorization.
    Capture,
    /// Release an authorization.
    Void,
    /// Give back captured money.
    Refund,
}

impl Operation {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Authorize => "authorize",
            Self::Capture => "capture",
            Self::Void => "void",
            Self::Refund => "refund",
        }
    }

    pub(crate) fn of(row: &AttemptRow) -> Result<Self, Error> {
        match row.operation.as_str() {
            "authorize" => Ok(Self::Authorize),
            "capture" => Ok(Self::Capture),
            "void" => Ok(Self::Void),
            "refund" => Ok(Self::Refund),
            other => Err(Error::Internal(anyhow::anyhow!(
                "payment attempt {} has an unknown operation `{other}`",
                row.id
            ))),
        }
    }
}

/// A provider call to write down before it is made.
pub(crate) struct NewAttempt {
    /// The provider's idempotency key (see the module comment).
    pub key: String,
    pub operation: Operation,
    pub provider: String,
    pub checkout_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    /// The payment made (authorize) or acted on.
    pub payment_id: Uuid,
    /// The token paying (authorize).
    pub token: Option<String>,
    /// The provider's id of the payment acted on (capture, void, refund).
    pub reference: Option<String>,
    pub amount: Decimal,
    pub currency: String,
    pub capture: bool,
    /// The client's `Idempotency-Key`, hashed.
    pub client_key: Option<String>,
}

/// What to do about an open attempt found under a lock.
pub(crate) enum Held {
    /// Ours now: make (or repeat) the call.
    Mine(Box<AttemptRow>),
    /// Someone is working on it right now.
    Busy,
}

/// A client's `Idempotency-Key` as stored and as part of a provider key: hashed, so keys of
/// any shape fit and none is kept in clear.
pub(crate) fn client_key(key: Option<&str>) -> Option<String> {
    key.map(|key| hex::encode(&Sha256::digest(key.as_bytes())[..12]))
}

/// Writes an attempt down, pending and leased to the caller, in the caller's transaction.
pub(crate) async fn open(
    conn: &mut AsyncPgConnection,
    new: NewAttempt,
    lease: chrono::Duration,
) -> Result<AttemptRow, Error> {
    let now = Utc::now();
    let row = AttemptRow {
        id: Uuid::now_v7(),
        idempotency_key: new.key,
        operation: new.operation.as_str().to_owned(),
        provider: new.provider,
        checkout_id: new.checkout_id,
        order_id: new.order_id,
        payment_id: new.payment_id,
        token: new.token,
        amount: new.amount,
        currency: new.currency,
        capture: new.capture,
        client_key: new.client_key,
        status: AttemptStatus::Pending,
        provider_reference: new.reference,
        captured: None,
        result_reference: None,
        failure_code: None,
        lease_until: now + lease,
        tries: 1,
        created_at: now,
        updated_at: now,
    };
    q::insert(conn, &row).await?;
    Ok(row)
}

/// Takes an open attempt over when its lease has run out (its holder gave up or died).
pub(crate) async fn resume(
    conn: &mut AsyncPgConnection,
    row: AttemptRow,
    lease: chrono::Duration,
) -> Result<Held, Error> {
    if row.lease_until >= Utc::now() {
        return Ok(Held::Busy);
    }
    Ok(
        match q::take_over(conn, row.id, Utc::now() + lease).await? {
            Some(row) => Held::Mine(Box::new(row)),
            None => Held::Busy,
        },
    )
}

/// Records `changes` on an attempt the caller holds; fails when it was taken over meanwhile.
pub(crate) async fn record(
    conn: &mut AsyncPgConnection,
    attempt: &AttemptRow,
    changes: AttemptChanges,
) -> Result<AttemptRow, Error> {
    let changes = AttemptChanges {
        updated_at: Some(Utc::now()),
        ..changes
    };
    q::record(conn, attempt.id, attempt.tries, &changes)
        .await?
        .ok_or_else(|| {
            Error::Unavailable(anyhow::anyhow!(
                "payment attempt {} was taken over by another process; retry",
                attempt.id
            ))
        })
}

/// Marks an attempt applied, in the transaction that writes its effect: the order placed or
/// the payment changed. Fails (and so rolls that transaction back) when the attempt is no
/// longer the caller's.
pub(crate) async fn applied(
    conn: &mut AsyncPgConnection,
    attempt: &AttemptRow,
) -> Result<AttemptRow, Error> {
    record(
        conn,
        attempt,
        AttemptChanges {
            status: Some(AttemptStatus::Applied.as_str()),
            ..Default::default()
        },
    )
    .await
}
