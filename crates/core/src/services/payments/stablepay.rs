//! StablePay: payments in USDC/USDT. A payment request says how much of which token to send
//! to which address on which network before when; StablePay watches the chain and reports
//! each transfer in a signed callback with its transaction hash and confirmations. A transfer
//! counts once it has enough confirmations, once however many callbacks mention it. Paying
//! less leaves the request `underpaid` (the payer may send the rest until it expires); paying
//! more captures the payment and records the surplus as owed back; whatever arrives for an
//! expired or voided request is owed back in full. The reconciliation report lists expected
//! against received for every request.

use chrono::{DateTime, Duration, Utc};
use diesel_async::AsyncPgConnection;
use futures::future::BoxFuture;
use rust_decimal::Decimal;
use serde::Deserialize;
use stateset_domain::EventType;
use utoipa::ToSchema;
use uuid::Uuid;

use super::provider::{Authorization, AuthorizeRequest, PaymentProvider};
use super::{Ctx, Error, PaymentService, payment_event};
use stateset_db::checkout::{self as q, PaymentChanges, PaymentRow};
use stateset_db::stablecoin::{self as sq, RequestRow, TransferRow};
use stateset_domain::{
    Payment, PaymentStatus, Stablecoin, StablecoinReconciliation, StablecoinReconciliationLine,
    StablecoinRequest, StablecoinState, StablecoinTotals, StablecoinTransfer,
};

/// How far a callback's signed timestamp may be from now.
const CALLBACK_TOLERANCE_SECS: i64 = 300;
/// The longest period one reconciliation report may cover.
pub const RECONCILIATION_MAX_DAYS: i64 = 92;
/// The most requests one reconciliation report lists.
pub const RECONCILIATION_MAX_LINES: i64 = 1000;

/// The provider name payments carry.
pub const NAME: &str = "stablepay";

/// What a stablecoin payment asks for.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct StablecoinInput {
    pub asset: Stablecoin,
    /// One of the configured networks (`STABLEPAY_ADDRESSES`).
    pub network: String,
}

/// StablePay's report of one on-chain transfer, signed in the `StablePay-Signature` header
/// (`t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct StablePayCallback {
    /// The payment whose request the transfer pays.
    pub payment_id: Uuid,
    pub asset: Stablecoin,
    pub network: String,
    /// Where the transfer went: must be the request's address.
    pub to_address: String,
    pub tx_hash: String,
    /// In token units, as a decimal string.
    #[schema(value_type = String, example = "25.00")]
    pub amount: Decimal,
    pub confirmations: i32,
}

/// The StablePay provider seen through the common seam: money arrives by itself, nothing is
/// held on-chain and StablePay cannot send money back, so capture, void and refund are refused
/// (an unpaid request is closed by the payment service without a provider call).
pub struct StablePayProvider;

impl PaymentProvider for StablePayProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn authorize<'a>(
        &'a self,
        _request: AuthorizeRequest<'a>,
    ) -> BoxFuture<'a, Result<Authorization, Error>> {
        Box::pin(async {
            Err(Error::invalid(
                "payment_token",
                "stablecoin payments are requested with `stablecoin`, not a token",
            ))
        })
    }

    fn capture<'a>(
        &'a self,
        _reference: &'a str,
        _amount: Decimal,
        _currency: &'a str,
        _idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async {
            Err(Error::InvalidState {
                from: "pending".into(),
                action: "capture a stablecoin payment (it is captured when paid)".into(),
            })
        })
    }

    fn void<'a>(
        &'a self,
        _reference: &'a str,
        _idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        // Nothing is held on-chain; the payment service closes an unpaid request itself.
        Box::pin(async {
            Err(Error::InvalidState {
                from: "paid in stablecoins".into(),
                action: "void through StablePay (nothing is held on-chain)".into(),
            })
        })
    }

    fn refund<'a>(
        &'a self,
        _reference: &'a str,
        _amount: Decimal,
        _currency: &'a str,
        _idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<String, Error>> {
        // Never record a refund that moved no money.
        Box::pin(async {
            Err(Error::InvalidState {
                from: "paid in stablecoins".into(),
                action: "refund through StablePay (it has no refund API; send the refund from the receiving wallet)".into(),
            })
        })
    }
}

/// The request as clients see it, with its transfers.
pub(super) fn request_view(row: &RequestRow, transfers: &[TransferRow]) -> StablecoinRequest {
    StablecoinRequest {
        asset: row.asset,
        network: row.network.clone(),
        address: row.address.clone(),
        amount: row.amount.normalize(),
        received: row.received.normalize(),
        state: row.state,
        expires_at: row.expires_at,
        transfers: transfers
            .iter()
            .filter(|t| t.payment_id == row.payment_id)
            .map(|t| StablecoinTransfer {
                tx_hash: t.tx_hash.clone(),
                amount: t.amount.normalize(),
                confirmations: t.confirmations,
                counted: t.counted_at.is_some(),
                received_at: t.received_at,
            })
            .collect(),
    }
}

/// Still to be paid, and owed back to the payer.
fn balances(request: &StablecoinRequest) -> (Decimal, Decimal) {
    match request.state {
        StablecoinState::Awaiting | StablecoinState::Underpaid => {
            (request.amount - request.received, Decimal::ZERO)
        }
        StablecoinState::Paid => (Decimal::ZERO, Decimal::ZERO),
        StablecoinState::Overpaid => (Decimal::ZERO, request.received - request.amount),
        StablecoinState::Expired | StablecoinState::Cancelled => (Decimal::ZERO, request.received),
    }
}

impl PaymentService {
    /// Opens a request for `amount` of the order's (USD) total in a stablecoin; the payment is
    /// `pending` until the transfers are confirmed.
    pub(super) async fn request_stablecoin(
        &self,
        conn: &mut AsyncPgConnection,
        payment: PaymentRow,
        input: &StablecoinInput,
    ) -> Result<Payment, Error> {
        let settings = &self.settings.stablepay;
        if settings.addresses.is_empty() || settings.callback_secret.is_none() {
            return Err(Error::Unavailable(anyhow::anyhow!(
                "stablecoin payments are not configured (STABLEPAY_ADDRESSES, STABLEPAY_CALLBACK_SECRET)"
            )));
        }
        if !payment.currency.eq_ignore_ascii_case("USD") {
            return Err(Error::invalid(
                "stablecoin",
                format!(
                    "USDC and USDT pay USD orders; this order is in {}",
                    payment.currency
                ),
            ));
        }
        let Some(address) = settings.addresses.get(input.network.trim()) else {
            let networks: Vec<&str> = settings.addresses.keys().map(String::as_str).collect();
            return Err(Error::invalid(
                "stablecoin.network",
                format!("must be one of: {}", networks.join(", ")),
            ));
        };
        let now = Utc::now();
        let request = RequestRow {
            payment_id: payment.id,
            asset: input.asset,
            network: input.network.trim().to_owned(),
            address: address.clone(),
            amount: payment.amount,
            received: Decimal::ZERO,
            state: StablecoinState::Awaiting,
            expires_at: now
                + Duration::from_std(settings.request_ttl).unwrap_or(Duration::hours(1)),
            created_at: now,
            updated_at: now,
        };
        q::insert_payment(conn, &payment).await?;
        sq::insert_request(conn, &request).await?;
        let mut view = Payment::from(payment);
        view.stablecoin = Some(request_view(&request, &[]));
        payment_event(
            conn,
            EventType::PaymentRequested,
            &view,
            serde_json::json!({}),
        )
        .await?;
        Ok(view)
    }

    /// Applies StablePay's signed report of a transfer (see the module comment).
    #[tracing::instrument(skip_all)]
    pub async fn stablepay_callback(
        &self,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<Payment, Error> {
        let Some(secret) = self.settings.stablepay.callback_secret.as_deref() else {
            return Err(Error::Unavailable(anyhow::anyhow!(
                "StablePay callbacks are not configured (STABLEPAY_CALLBACK_SECRET)"
            )));
        };
        let header =
            signature.ok_or_else(|| Error::invalid("StablePay-Signature", "is required"))?;
        crate::auth::signature::verify(
            secret,
            header,
            body,
            Utc::now().timestamp(),
            CALLBACK_TOLERANCE_SECS,
        )
        .map_err(|why| Error::invalid("StablePay-Signature", why.to_string()))?;
        let callback: StablePayCallback = serde_json::from_slice(body)
            .map_err(|e| Error::invalid("body", format!("is not a StablePay callback: {e}")))?;
        let mut v = super::super::error::Validator::default();
        if callback.amount <= Decimal::ZERO || callback.amount.scale() > 6 {
            v.add("amount", "must be above 0 with at most 6 decimals");
        }
        if callback.confirmations < 0 {
            v.add("confirmations", "must not be negative");
        }
        let tx_hash = callback.tx_hash.trim().to_owned();
        if tx_hash.is_empty() || tx_hash.len() > 200 {
            v.add("tx_hash", "must be 1 to 200 characters");
        }
        v.finish()?;
        let required = self.settings.stablepay.confirmations;
        let (view, paid_now) = self
            .db
            .tx("stablepay_callback", async move |conn: &mut AsyncPgConnection| {
                let request = sq::lock_request(conn, callback.payment_id)
                    .await?
                    .ok_or_else(|| Error::not_found("payment", callback.payment_id))?;
                if callback.asset != request.asset {
                    return Err(Error::invalid("asset", format!("the request is for {}", request.asset)));
                }
                if callback.network != request.network {
                    return Err(Error::invalid("network", format!("the request is on {}", request.network)));
                }
                if !callback.to_address.trim().eq_ignore_ascii_case(&request.address) {
                    return Err(Error::invalid("to_address", "is not the request's receiving address"));
                }
                let now = Utc::now();
                let known = sq::transfer(conn, &request.network, &tx_hash).await?;
                if let Some(known) = &known
                    && (known.payment_id != request.payment_id || known.amount != callback.amount)
                {
                    return Err(Error::Conflict {
                        field: Some("tx_hash".into()),
                        message: "this transaction was reported before with another payment or amount".into(),
                    });
                }
                let confirmations = known
                    .as_ref()
                    .map_or(callback.confirmations, |k| k.confirmations.max(callback.confirmations));
                let already_counted = known.as_ref().and_then(|k| k.counted_at);
                let counts_now = already_counted.is_none() && confirmations >= required;
                sq::save_transfer(
                    conn,
                    &TransferRow {
                        network: request.network.clone(),
                        tx_hash: tx_hash.clone(),
                        payment_id: request.payment_id,
                        asset: request.asset,
                        amount: callback.amount,
                        confirmations,
                        counted_at: already_counted.or(counts_now.then_some(now)),
                        received_at: known.as_ref().map_or(now, |k| k.received_at),
                        updated_at: now,
                    },
                )
                .await?;
                let payment = q::lock_payment(conn, request.payment_id)
                    .await?
                    .ok_or_else(|| Error::not_found("payment", request.payment_id))?;
                if !counts_now {
                    return Ok((self.payment_view(conn, payment).await?, false));
                }
                let received = request.received + callback.amount;
                let before = request.state;
                let after = if before.is_open() {
                    StablecoinState::settle(request.amount, received)
                } else if before == StablecoinState::Paid {
                    StablecoinState::Overpaid
                } else {
                    before
                };
                sq::update_request(conn, request.payment_id, received, after).await?;
                let payment = if before.is_open()
                    && matches!(after, StablecoinState::Paid | StablecoinState::Overpaid)
                {
                    let changes = PaymentChanges {
                        status: Some(PaymentStatus::Captured.as_str()),
                        captured_amount: Some(payment.amount),
                        updated_at: Some(now),
                        ..Default::default()
                    };
                    q::update_payment(conn, payment.id, &changes).await?
                } else {
                    payment
                };
                let view = self.payment_view(conn, payment).await?;
                let transfer = serde_json::json!({ "tx_hash": tx_hash, "transfer_amount": callback.amount.normalize().to_string() });
                let paid_now =
                    view.status == stateset_domain::PaymentStatus::Captured && before.is_open();
                if paid_now {
                    payment_event(conn, EventType::PaymentProcessed, &view, transfer.clone()).await?;
                    crate::services::invoices::reconcile_order_payments(conn, NAME, view.order_id)
                        .await?;
                }
                let stablecoin = view.stablecoin.as_ref();
                let (outstanding, refund_due) = stablecoin.map(balances).unwrap_or_default();
                match after {
                    StablecoinState::Underpaid => {
                        let extra = serde_json::json!({ "tx_hash": tx_hash, "remaining": outstanding.to_string() });
                        payment_event(conn, EventType::PaymentUnderpaid, &view, extra).await?;
                    }
                    StablecoinState::Overpaid | StablecoinState::Expired | StablecoinState::Cancelled => {
                        let extra = serde_json::json!({ "tx_hash": tx_hash, "refund_due": refund_due.to_string(), "reason": after.as_str() });
                        payment_event(conn, EventType::PaymentOverpaid, &view, extra).await?;
                    }
                    StablecoinState::Awaiting | StablecoinState::Paid => {}
                }
                Ok((view, paid_now))
            })
            .await?;
        if paid_now {
            self.metrics
                .observe_business(crate::metrics::Business::PaymentProcessed, 1);
        }
        Ok(view)
    }

    /// Closes requests that were not paid in full before they expired: their payments fail
    /// with `expired` (nothing arrived) or `underpaid`. Returns how many were closed.
    pub async fn expire_stablecoin_requests(&self) -> Result<usize, Error> {
        self.db
            .tx(
                "expire_stablecoin_requests",
                async move |conn: &mut AsyncPgConnection| {
                    let now = Utc::now();
                    let expired = sq::claim_expired(conn, now, 100).await?;
                    for request in &expired {
                        sq::update_request(
                            conn,
                            request.payment_id,
                            request.received,
                            StablecoinState::Expired,
                        )
                        .await?;
                        let code = if request.received.is_zero() {
                            "expired"
                        } else {
                            "underpaid"
                        };
                        let changes = PaymentChanges {
                            status: Some(PaymentStatus::Expired.as_str()),
                            failure_code: Some(Some(code.to_owned())),
                            updated_at: Some(now),
                            ..Default::default()
                        };
                        let payment = q::update_payment(conn, request.payment_id, &changes).await?;
                        let view = self.payment_view(conn, payment).await?;
                        let extra = serde_json::json!({ "decline_code": code });
                        payment_event(conn, EventType::PaymentFailed, &view, extra).await?;
                    }
                    Ok(expired.len())
                },
            )
            .await
    }

    /// Expected against received for every stablecoin request created in `[from, to)`
    /// (default: the last 30 days), with totals per asset.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn stablecoin_reconciliation(
        &self,
        ctx: &Ctx,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<StablecoinReconciliation, Error> {
        ctx.authorize("payments:read")?;
        let to = to.unwrap_or_else(Utc::now);
        let from = from.unwrap_or(to - Duration::days(30));
        if from >= to {
            return Err(Error::invalid("from", "must be before `to`"));
        }
        if to - from > Duration::days(RECONCILIATION_MAX_DAYS) {
            return Err(Error::invalid(
                "from",
                format!("must be at most {RECONCILIATION_MAX_DAYS} days before `to`"),
            ));
        }
        let mut conn = self.db.conn().await?;
        let rows = sq::requests_between(&mut conn, from, to, RECONCILIATION_MAX_LINES + 1).await?;
        // Totals must cover the whole period, so a period too busy to list is refused rather
        // than summed over a truncated page.
        if rows.len() as i64 > RECONCILIATION_MAX_LINES {
            return Err(Error::invalid(
                "from",
                format!(
                    "the period holds more than {RECONCILIATION_MAX_LINES} requests; choose a shorter one"
                ),
            ));
        }
        let ids: Vec<Uuid> = rows.iter().map(|(r, _)| r.payment_id).collect();
        let transfers = sq::transfers_of(&mut conn, &ids).await?;
        let mut totals: Vec<StablecoinTotals> = Vec::new();
        let lines = rows
            .iter()
            .map(|(request, payment)| {
                let view = request_view(request, &transfers);
                let (outstanding, refund_due) = balances(&view);
                let total = match totals.iter_mut().find(|t| t.asset == view.asset) {
                    Some(total) => total,
                    None => {
                        totals.push(StablecoinTotals {
                            asset: view.asset,
                            requested: Decimal::ZERO,
                            received: Decimal::ZERO,
                            outstanding: Decimal::ZERO,
                            refund_due: Decimal::ZERO,
                        });
                        let last = totals.len() - 1;
                        &mut totals[last]
                    }
                };
                total.requested += view.amount;
                total.received += view.received;
                total.outstanding += outstanding;
                total.refund_due += refund_due;
                StablecoinReconciliationLine {
                    payment_id: payment.id,
                    order_id: payment.order_id,
                    payment_status: payment.status,
                    request: view,
                    outstanding,
                    refund_due,
                }
            })
            .collect();
        Ok(StablecoinReconciliation {
            from,
            to,
            lines,
            totals,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_settle_by_what_was_confirmed() {
        let d = |s: &str| s.parse::<Decimal>().unwrap_or_default();
        assert_eq!(
            StablecoinState::settle(d("25"), d("0")),
            StablecoinState::Awaiting
        );
        assert_eq!(
            StablecoinState::settle(d("25"), d("10")),
            StablecoinState::Underpaid
        );
        assert_eq!(
            StablecoinState::settle(d("25"), d("25.000000")),
            StablecoinState::Paid
        );
        assert_eq!(
            StablecoinState::settle(d("25"), d("25.5")),
            StablecoinState::Overpaid
        );
    }
}
