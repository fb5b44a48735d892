//! Payments: the `PaymentProvider` seam and its providers (the built-in `test` provider with
//! the card test numbers people know, Stripe, and StablePay for stablecoins), card tokens (no
//! card number is ever stored or logged), and the life of a payment: authorize, capture (all
//! or part), void, refund (all or part, several times, never above what was captured), and
//! the providers' webhooks.

pub(crate) mod attempts;
mod provider;
pub mod stablepay;
mod stripe;

use stateset_domain::EventType;
use std::sync::Arc;

use chrono::{Datelike as _, Utc};
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use self::attempts::{AttemptRow, Held, Operation};
use self::provider::test_outcome;
pub use self::provider::{
    Authorization, AuthorizeRequest, PaymentProvider, ProviderEvent, ProviderWebhook, TestProvider,
    from_minor, minor_unit_scale, to_minor,
};
use self::stablepay::{StablePayProvider, StablecoinInput};
use self::stripe::StripeProvider;
use super::error::Validator;
use super::{Ctx, Error};
use crate::config::PaymentSettings;
use crate::events::{self, DomainEvent};
use crate::metrics::{Business, Metrics};
use crate::services::invoices::reconcile_order_payments;
use stateset_db::Db;
use stateset_db::checkout::{self as q, PaymentChanges, PaymentRow, TokenRow};
use stateset_db::payment_attempts::{self as pa, AttemptChanges};
use stateset_db::stablecoin as sq;
use stateset_domain::{
    AttemptStatus, Money, OrderStatus, Payment, PaymentStatus, PaymentToken, StablecoinState,
};

/// A card to turn into a token. Its `Debug` shows only the last four digits.
#[derive(Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CardInput {
    /// The card number; spaces allowed. Never stored or logged.
    pub number: String,
    pub exp_month: i32,
    pub exp_year: i32,
    /// Checked for shape, then dropped.
    pub cvc: String,
}

impl std::fmt::Debug for CardInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits: String = self.number.chars().filter(char::is_ascii_digit).collect();
        let last4 = &digits[digits.len().saturating_sub(4)..];
        write!(
            f,
            "CardInput {{ number: \"…{last4}\", exp: {}/{} }}",
            self.exp_month, self.exp_year
        )
    }
}

fn brand(digits: &str) -> &'static str {
    match digits.as_bytes().first() {
        Some(b'4') => "visa",
        Some(b'5') => "mastercard",
        Some(b'3') => "amex",
        Some(b'6') => "discover",
        _ => "unknown",
    }
}

/// The Luhn checksum every card number carries.
fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A card handed to the vault.
pub struct VaultCard<'a> {
    pub number: &'a str,
    pub exp_month: Option<i32>,
    pub exp_year: Option<i32>,
    pub cvc: Option<&'a str>,
}

/// A refund to make.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct RefundInput {
    pub payment_id: Uuid,
    /// What to give back; all that is still refundable when absent.
    #[schema(value_type = Option<String>, example = "5.00")]
    pub amount: Option<Decimal>,
    pub reason: Option<String>,
}

/// The digits of a card number, when it is one: 12 to 19 digits (spaces and dashes allowed
/// between them) passing the Luhn check.
fn card_digits(number: &str) -> Option<String> {
    let digits: String = number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let valid = (12..=19).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && luhn(&digits);
    valid.then_some(digits)
}

/// Whether `number` is a card number (12 to 19 digits passing the Luhn check).
pub fn is_card_number(number: &str) -> bool {
    card_digits(number).is_some()
}

/// A test-provider token for a card's `digits`: the outcome follows the test number; only the
/// brand and last four digits are kept.
fn test_token(id: String, digits: &str, exp_month: i32, exp_year: i32) -> TokenRow {
    TokenRow {
        id,
        provider: TestProvider.name().to_owned(),
        brand: brand(digits).to_owned(),
        last4: digits[digits.len().saturating_sub(4)..].to_owned(),
        exp_month,
        exp_year,
        outcome: test_outcome(digits).to_owned(),
        used_at: None,
        created_at: Utc::now(),
        provider_token: None,
    }
}

/// A payment to take for an existing order: by card token, or as a stablecoin request.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CreatePaymentInput {
    pub order_id: Uuid,
    /// What to take; by default the rest of the order's total that its other payments do not
    /// already hold.
    #[schema(value_type = Option<String>, example = "25.00")]
    pub amount: Option<Decimal>,
    /// A `tok_...` from `POST /api/v1/payments/tokens`, or a Stripe payment method `pm_...`.
    pub payment_token: Option<String>,
    /// Capture at once (the default) or only authorize, to capture or void later.
    pub capture: Option<bool>,
    /// Pay in USDC/USDT instead of by card: the payment stays `pending` until paid.
    pub stablecoin: Option<StablecoinInput>,
}

/// How much of an authorization to capture.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CaptureInput {
    /// All that was authorized when absent; the rest is released.
    #[schema(value_type = Option<String>, example = "20.00")]
    pub amount: Option<Decimal>,
}

/// The order a payment is for: what it pays and in which currency.
pub struct PaymentTarget {
    pub order_id: Uuid,
    pub amount: Decimal,
    pub currency: String,
}

/// Card tokens and payments.
#[derive(Clone)]
pub struct PaymentService {
    db: Db,
    settings: Arc<PaymentSettings>,
    stripe: Arc<StripeProvider>,
    metrics: Arc<Metrics>,
}

/// Writes a payment event with the payment and `extra` fields as its data.
pub(crate) async fn payment_event(
    conn: &mut AsyncPgConnection,
    event_type: EventType,
    payment: &Payment,
    extra: serde_json::Value,
) -> Result<(), Error> {
    let event = DomainEvent::about(event_type, "payment", payment.id, payment, extra)
        .map_err(anyhow::Error::new)?;
    events::record(conn, event).await?;
    Ok(())
}

/// A payment's status once `refunded` of the `captured` money has gone back.
fn refund_status(refunded: Decimal, captured: Decimal) -> &'static str {
    if refunded >= captured {
        PaymentStatus::Refunded.as_str()
    } else {
        PaymentStatus::PartiallyRefunded.as_str()
    }
}

/// Checks an optional amount of money: above zero, with no finer fractions than stored.
fn check_amount(v: &mut Validator, amount: Option<Decimal>) {
    if let Some(amount) = amount {
        super::checks::positive_amount(v, "amount", amount);
    }
}

impl PaymentService {
    pub fn new(db: Db, settings: PaymentSettings, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let stripe = StripeProvider::new(
            &settings.stripe_api_base,
            settings.stripe_api_key.clone(),
            settings.stripe_webhook_secret.clone(),
            settings.provider_timeout,
        )?;
        Ok(Self {
            db,
            settings: Arc::new(settings),
            stripe: Arc::new(stripe),
            metrics,
        })
    }

    /// The providers that can take money with these settings, for operators to see.
    pub fn live_providers(&self) -> Vec<&'static str> {
        let stablepay = &self.settings.stablepay;
        [
            ("test", self.settings.test_provider),
            ("stripe", self.stripe.enabled()),
            (
                stablepay::NAME,
                !stablepay.addresses.is_empty() && stablepay.callback_secret.is_some(),
            ),
        ]
        .into_iter()
        .filter_map(|(name, live)| live.then_some(name))
        .collect()
    }

    /// Whether checkout captures at completion or only authorizes.
    pub fn checkout_captures(&self) -> bool {
        self.settings.checkout_capture == crate::config::CaptureMode::Automatic
    }

    /// The provider a payment or token belongs to.
    fn provider(&self, name: &str) -> Result<&dyn PaymentProvider, Error> {
        match name {
            "test" => Ok(&TestProvider),
            "stripe" => Ok(self.stripe.as_ref()),
            stablepay::NAME => Ok(&StablePayProvider),
            other => Err(Error::Unavailable(anyhow::anyhow!(
                "unknown payment provider `{other}`"
            ))),
        }
    }

    /// How long an attempt's holder may work on it before others may take it over: two
    /// provider requests (the call and its one retry) and a margin.
    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.settings.provider_timeout * 2)
            .unwrap_or(chrono::Duration::seconds(30))
            + chrono::Duration::seconds(5)
    }

    /// Finds a token by the id a client gave: a `tok_...` of the test provider, a vaulted
    /// `vt_...`, or a Stripe payment method (`pm_...`), which is looked up at Stripe and
    /// remembered the first time. Call it outside any transaction: it may ask Stripe.
    pub async fn resolve_token(&self, token: &str) -> Result<TokenRow, Error> {
        let token = token.trim();
        let known = {
            let mut conn = self.db.conn().await?;
            q::token(&mut conn, token).await?
        };
        let row = match known {
            Some(row) => row,
            None if token.starts_with("pm_") && self.stripe.enabled() => {
                let card = self.stripe.payment_method(token).await?;
                let row = TokenRow {
                    id: token.to_owned(),
                    provider: "stripe".into(),
                    brand: card.brand,
                    last4: card.last4,
                    exp_month: card.exp_month,
                    exp_year: card.exp_year,
                    // Stripe decides when the payment is made.
                    outcome: "provider".into(),
                    used_at: None,
                    created_at: Utc::now(),
                    provider_token: None,
                };
                let mut conn = self.db.conn().await?;
                q::insert_token(&mut conn, &row).await?;
                row
            }
            None if token.starts_with("pm_") => {
                return Err(Error::invalid(
                    "payment_token",
                    "Stripe payment methods are not accepted here (no STRIPE_API_KEY)",
                ));
            }
            None => return Err(Error::invalid("payment_token", "no such token")),
        };
        self.check_usable(&row)?;
        Ok(row)
    }

    /// Whether a token can pay at all: unused, of a provider that is on.
    fn check_usable(&self, row: &TokenRow) -> Result<(), Error> {
        if row.used_at.is_some() {
            return Err(Error::invalid("payment_token", "was already used"));
        }
        if row.provider == "test" && !self.settings.test_provider {
            return Err(Error::invalid(
                "payment_token",
                "the test provider is turned off (PAYMENTS_TEST_PROVIDER)",
            ));
        }
        Ok(())
    }

    /// The token, locked, checked for what it is about to pay: usable, and within the
    /// allowance a delegated (`vt_...`) token was given: this checkout, this currency, at
    /// most this much, before it expires.
    async fn lock_token_for(
        &self,
        conn: &mut AsyncPgConnection,
        token: &str,
        pays: &Pays,
    ) -> Result<TokenRow, Error> {
        let row = q::lock_token(conn, token)
            .await?
            .ok_or_else(|| Error::invalid("payment_token", "no such token"))?;
        self.check_usable(&row)?;
        if let Some(allowance) = stateset_db::acp::allowance(conn, &row.id).await? {
            let minor = to_minor(pays.amount, &pays.currency).unwrap_or(i64::MAX);
            let why = if pays.checkout_id.map(|id| id.to_string()).as_deref()
                != Some(allowance.checkout_session_id.as_str())
            {
                Some("was delegated for another checkout session")
            } else if !allowance.currency.eq_ignore_ascii_case(&pays.currency) {
                Some("was delegated in another currency")
            } else if allowance.max_amount < minor {
                Some("allows less than the total")
            } else if allowance.expires_at <= Utc::now() {
                Some("has expired")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(Error::invalid("payment_token", why));
            }
        }
        Ok(row)
    }

    /// Inside the caller's transaction, which holds the lock of what is paid (the checkout
    /// row, or the order row): the authorization in doubt for it, taken over when its holder
    /// is gone, or else a new one written down (see `attempts`).
    pub(crate) async fn begin_authorization(
        &self,
        conn: &mut AsyncPgConnection,
        pays: &Pays,
        token: &str,
        capture: bool,
    ) -> Result<Begun, Error> {
        let open = match pays.checkout_id {
            Some(checkout) => pa::lock_open_for_checkout(conn, checkout).await?,
            None => pa::lock_open_for_order(conn, pays.order_id.unwrap_or_default()).await?,
        };
        let what = if pays.checkout_id.is_some() {
            "checkout"
        } else {
            "order"
        };
        if let Some(open) = open {
            if open.token.as_deref() != Some(token) || open.amount != pays.amount {
                return Err(Error::Conflict {
                    field: None,
                    message: format!(
                        "another payment of this {what} is in progress; retry shortly"
                    ),
                });
            }
            return Ok(Begun::Held(
                attempts::resume(conn, open, self.lease()).await?,
            ));
        }
        let client_key = attempts::client_key(pays.client_key.as_deref());
        let (target, count) = match pays.checkout_id {
            Some(checkout) => {
                if let Some(last) = pa::latest_for_checkout(conn, checkout).await?
                    && last.status == AttemptStatus::Declined
                    && last.token.as_deref() == Some(token)
                {
                    // The same card again would be the same answer: ask for another.
                    return Err(Error::PaymentDeclined {
                        decline_code: last.failure_code.unwrap_or_else(|| "card_declined".into()),
                    });
                }
                let count = pa::count(conn, "authorize", Some(checkout), None, None).await?;
                (format!("checkout_{checkout}"), count)
            }
            None => {
                let order = pays.order_id.unwrap_or_default();
                let count = pa::count(conn, "authorize", None, Some(order), None).await?;
                (format!("order_{order}"), count)
            }
        };
        let key = match &client_key {
            Some(client) => format!("stateset_{target}_{client}"),
            None => format!("stateset_{target}_{}", count + 1),
        };
        if let Some(earlier) = pa::lock_by_key(conn, &key).await? {
            // A client's retry of a request whose answer it lost.
            return match earlier.status {
                AttemptStatus::Applied => Ok(Begun::Applied(earlier.payment_id)),
                _ => Err(Error::Conflict {
                    field: None,
                    message:
                        "this Idempotency-Key was used for a payment that failed; use a new key"
                            .into(),
                }),
            };
        }
        let row = self.lock_token_for(conn, token, pays).await?;
        let new = attempts::NewAttempt {
            key,
            operation: Operation::Authorize,
            provider: row.provider.clone(),
            checkout_id: pays.checkout_id,
            order_id: pays.order_id,
            payment_id: Uuid::now_v7(),
            token: Some(row.id),
            reference: None,
            amount: pays.amount,
            currency: pays.currency.clone(),
            capture,
            client_key,
        };
        Ok(Begun::Held(Held::Mine(Box::new(
            attempts::open(conn, new, self.lease()).await?,
        ))))
    }

    /// Makes the provider call an attempt stands for, outside every transaction, and writes
    /// down at once what the provider said. Returns the attempt `succeeded`.
    ///
    /// # Errors
    /// `PAYMENT_DECLINED` (written down as declined), a provider's refusal (written down as
    /// failed: nothing moved), or `UNAVAILABLE` when the outcome is unknown: the attempt stays
    /// in doubt and its lease is given up, so a retry or the reconciler asks again.
    pub(crate) async fn run_attempt(&self, attempt: AttemptRow) -> Result<AttemptRow, Error> {
        let provider = self.provider(&attempt.provider)?;
        let key = attempt.idempotency_key.as_str();
        let reference = attempt.provider_reference.clone().unwrap_or_default();
        let answer = match Operation::of(&attempt)? {
            Operation::Authorize => {
                let token = {
                    let mut conn = self.db.conn().await?;
                    q::token(&mut conn, attempt.token.as_deref().unwrap_or_default()).await?
                }
                .ok_or_else(|| Error::invalid("payment_token", "no such token"))?;
                provider
                    .authorize(AuthorizeRequest {
                        payment_id: attempt.payment_id,
                        idempotency_key: key,
                        token: &token,
                        amount: attempt.amount,
                        currency: &attempt.currency,
                        capture: attempt.capture,
                    })
                    .await
                    .map(|a| (Some(a.reference), Some(a.captured), None))
            }
            Operation::Capture => provider
                .capture(&reference, attempt.amount, &attempt.currency, key)
                .await
                .map(|()| (None, Some(true), None)),
            Operation::Void => provider
                .void(&reference, key)
                .await
                .map(|()| (None, None, None)),
            Operation::Refund => provider
                .refund(&reference, attempt.amount, &attempt.currency, key)
                .await
                .map(|refund| (None, None, Some(refund))),
        };
        let mut conn = self.db.conn().await?;
        match answer {
            Ok((reference, captured, result)) => {
                let changes = AttemptChanges {
                    status: Some(AttemptStatus::Succeeded.as_str()),
                    provider_reference: reference.map(Some),
                    captured: captured.map(Some),
                    result_reference: result.map(Some),
                    ..Default::default()
                };
                attempts::record(&mut conn, &attempt, changes).await
            }
            Err(err) if err.is_server_fault() => {
                // Unknown outcome: let a retry (or the reconciler) ask again with the key.
                let changes = AttemptChanges {
                    lease_until: Some(Utc::now()),
                    ..Default::default()
                };
                if let Err(record) = attempts::record(&mut conn, &attempt, changes).await {
                    tracing::warn!(error = %record, attempt.id = %attempt.id, "cannot give up the lease of a payment attempt");
                }
                Err(err)
            }
            Err(err) => {
                let (status, code) = match &err {
                    Error::PaymentDeclined { decline_code } => {
                        (AttemptStatus::Declined, decline_code.clone())
                    }
                    other => (AttemptStatus::Failed, other.code().to_lowercase()),
                };
                let changes = AttemptChanges {
                    status: Some(status.as_str()),
                    failure_code: Some(Some(code)),
                    ..Default::default()
                };
                attempts::record(&mut conn, &attempt, changes).await?;
                Err(err)
            }
        }
    }

    /// Gives back what a succeeded authorization took because its effect could not be written
    /// on our side (the order could not be placed): voids the authorization, or refunds the
    /// capture. The attempt ends `voided`.
    pub(crate) async fn compensate(&self, attempt: &AttemptRow) -> Result<(), Error> {
        let provider = self.provider(&attempt.provider)?;
        let reference = attempt.provider_reference.clone().unwrap_or_default();
        let key = format!("{}_undo", attempt.idempotency_key);
        if attempt.captured == Some(true) {
            provider
                .refund(&reference, attempt.amount, &attempt.currency, &key)
                .await?;
        } else {
            provider.void(&reference, &key).await?;
        }
        let mut conn = self.db.conn().await?;
        let changes = AttemptChanges {
            status: Some(AttemptStatus::Voided.as_str()),
            ..Default::default()
        };
        attempts::record(&mut conn, attempt, changes).await?;
        tracing::info!(attempt.id = %attempt.id, "payment given back: its order could not be placed");
        Ok(())
    }

    /// Gives back a succeeded authorization whose effect failed to commit, logging (and leaving
    /// to the reconciler) what cannot be given back now.
    pub(crate) async fn undo_after(&self, attempt: &AttemptRow, why: &Error) {
        // Taken over meanwhile (this request was too slow): its new holder settles it.
        let current = match self.db.conn().await {
            Ok(mut conn) => pa::by_id(&mut conn, attempt.id).await.map_err(Error::from),
            Err(err) => Err(Error::from(err)),
        };
        match current {
            Ok(Some(row)) if row.tries != attempt.tries || !row.is_open() => return,
            Ok(_) => {}
            Err(err) => {
                tracing::error!(error = %err, attempt.id = %attempt.id, "cannot check a payment attempt; the reconciler will settle it");
                return;
            }
        }
        tracing::warn!(error = %why, attempt.id = %attempt.id, "payment taken but not recorded: giving it back");
        if let Err(err) = self.compensate(attempt).await {
            tracing::error!(error = %err, attempt.id = %attempt.id, "cannot give the payment back now; the reconciler will");
        }
    }

    /// Inside the transaction that writes the order's side: records the payment a succeeded
    /// authorization made (spending its token), writes `payment.processed`, applies a capture
    /// to the order's open invoice, and marks the attempt applied.
    pub(crate) async fn record_payment(
        &self,
        conn: &mut AsyncPgConnection,
        attempt: &AttemptRow,
        order_id: Uuid,
    ) -> Result<Payment, Error> {
        let token_id = attempt.token.clone().unwrap_or_default();
        let token = q::lock_token(conn, &token_id)
            .await?
            .ok_or_else(|| Error::invalid("payment_token", "no such token"))?;
        q::use_token(conn, &token.id).await?;
        let captured = attempt.captured == Some(true);
        let now = Utc::now();
        let row = PaymentRow {
            id: attempt.payment_id,
            order_id,
            provider: attempt.provider.clone(),
            provider_reference: attempt.provider_reference.clone().unwrap_or_default(),
            status: if captured {
                PaymentStatus::Captured
            } else {
                PaymentStatus::Authorized
            },
            amount: attempt.amount,
            captured_amount: if captured {
                attempt.amount
            } else {
                Decimal::ZERO
            },
            refunded_amount: Decimal::ZERO,
            currency: attempt.currency.clone(),
            card_brand: Some(token.brand.clone()),
            card_last4: Some(token.last4.clone()),
            created_at: now,
            updated_at: now,
            failure_code: None,
        };
        q::insert_payment(conn, &row).await?;
        attempts::applied(conn, attempt).await?;
        let payment = Payment::from(row);
        payment_event(
            conn,
            EventType::PaymentProcessed,
            &payment,
            serde_json::json!({}),
        )
        .await?;
        if captured {
            reconcile_order_payments(conn, &attempt.provider, payment.order_id).await?;
        }
        Ok(payment)
    }

    /// Writes `payment.failed` for a decline whose own transaction rolled back, about
    /// `entity` (the checkout or order that was to be paid).
    pub async fn record_decline(&self, entity_type: &'static str, entity_id: Uuid, code: &str) {
        let event = DomainEvent {
            event_type: EventType::PaymentFailed,
            entity_type,
            entity_id,
            data: serde_json::json!({
                format!("{entity_type}_id"): entity_id,
                "decline_code": code,
            }),
        };
        let recorded = match self.db.conn().await {
            Ok(mut conn) => events::record(&mut conn, event)
                .await
                .map(drop)
                .map_err(anyhow::Error::new),
            Err(err) => Err(anyhow::Error::new(err)),
        };
        if let Err(err) = recorded {
            tracing::warn!(error = %err, "cannot record payment.failed");
        }
    }

    /// Takes a payment for an existing order (`POST /api/v1/payments`): by card token,
    /// captured at once or only authorized, or as a stablecoin payment request. The amount may
    /// not exceed what the order's other payments leave unpaid.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, order.id = %input.order_id))]
    pub async fn create_payment(
        &self,
        ctx: &Ctx,
        input: CreatePaymentInput,
    ) -> Result<Payment, Error> {
        ctx.authorize("payments:create")?;
        let mut v = Validator::default();
        check_amount(&mut v, input.amount);
        match (&input.payment_token, &input.stablecoin) {
            (Some(_), Some(_)) => v.add(
                "stablecoin",
                "give a payment_token or a stablecoin, not both",
            ),
            (None, None) => v.add("payment_token", "is required (or `stablecoin`)"),
            (None, Some(_)) if input.capture == Some(false) => v.add(
                "capture",
                "a stablecoin payment is captured when it is paid",
            ),
            _ => {}
        }
        v.finish()?;
        let token = match (&input.payment_token, &input.stablecoin) {
            (Some(token), _) => self.resolve_token(token).await?.id,
            (None, Some(stablecoin)) => {
                return self
                    .request_stablecoin_payment(input.order_id, input.amount, stablecoin)
                    .await;
            }
            (None, None) => return Err(Error::invalid("payment_token", "is required")),
        };
        let order_id = input.order_id;
        let capture = input.capture.unwrap_or(true);
        let client_key = ctx.idempotency_key.clone();
        let begun = self
            .db
            .tx("create_payment", async |conn: &mut AsyncPgConnection| {
                let (_, unpaid) = lock_unpaid_order(conn, order_id).await?;
                let open = pa::lock_open_for_order(conn, order_id).await?;
                let holds = open.as_ref().map_or(Decimal::ZERO, |a| a.amount);
                let amount = input
                    .amount
                    .unwrap_or(if open.is_some() { holds } else { unpaid });
                if open.is_none() && amount > unpaid {
                    return Err(Error::invalid(
                        "amount",
                        format!("exceeds what the order leaves unpaid ({unpaid})"),
                    ));
                }
                let order = stateset_db::orders::order_by_id(conn, order_id)
                    .await?
                    .ok_or_else(|| Error::not_found("order", order_id))?;
                let pays = Pays {
                    checkout_id: None,
                    order_id: Some(order_id),
                    amount,
                    currency: order.currency,
                    client_key: client_key.clone(),
                };
                self.begin_authorization(conn, &pays, &token, capture).await
            })
            .await?;
        let attempt = match begun {
            Begun::Applied(payment_id) => return self.get(ctx, payment_id).await,
            Begun::Held(Held::Busy) => {
                return Err(Error::Conflict {
                    field: None,
                    message: "a payment of this order is in progress; retry shortly".into(),
                });
            }
            Begun::Held(Held::Mine(attempt)) => *attempt,
        };
        let attempt = match self.run_attempt(attempt).await {
            Ok(attempt) => attempt,
            Err(Error::PaymentDeclined { decline_code }) => {
                self.record_decline("order", order_id, &decline_code).await;
                return Err(Error::PaymentDeclined { decline_code });
            }
            Err(err) => return Err(err),
        };
        let recorded = self
            .db
            .tx("create_payment", async |conn: &mut AsyncPgConnection| {
                // The order may have been cancelled while the provider answered.
                lock_unpaid_order(conn, order_id).await?;
                self.record_payment(conn, &attempt, order_id).await
            })
            .await;
        match &recorded {
            Ok(_) => self.metrics.observe_business(Business::PaymentProcessed, 1),
            Err(err) => self.undo_after(&attempt, err).await,
        }
        recorded
    }

    /// Opens a stablecoin payment request for an order (nothing is called: the payer sends
    /// the money and StablePay reports it).
    async fn request_stablecoin_payment(
        &self,
        order_id: Uuid,
        amount: Option<Decimal>,
        stablecoin: &StablecoinInput,
    ) -> Result<Payment, Error> {
        self.db
            .tx(
                "request_stablecoin_payment",
                async |conn: &mut AsyncPgConnection| {
                    let (order, unpaid) = lock_unpaid_order(conn, order_id).await?;
                    if pa::lock_open_for_order(conn, order_id).await?.is_some() {
                        return Err(Error::Conflict {
                            field: None,
                            message: "a card payment of this order is in progress; retry shortly"
                                .into(),
                        });
                    }
                    let amount = amount.unwrap_or(unpaid);
                    if amount > unpaid {
                        return Err(Error::invalid(
                            "amount",
                            format!("exceeds what the order leaves unpaid ({unpaid})"),
                        ));
                    }
                    let id = Uuid::now_v7();
                    let now = Utc::now();
                    let row = PaymentRow {
                        id,
                        order_id,
                        provider: stablepay::NAME.to_owned(),
                        provider_reference: format!("sp_{}", id.simple()),
                        status: PaymentStatus::Pending,
                        amount,
                        captured_amount: Decimal::ZERO,
                        refunded_amount: Decimal::ZERO,
                        currency: order.currency,
                        card_brand: None,
                        card_last4: None,
                        created_at: now,
                        updated_at: now,
                        failure_code: None,
                    };
                    self.request_stablecoin(conn, row, stablecoin).await
                },
            )
            .await
    }

    /// Captures all or part of an authorized payment; the rest of the authorization is
    /// released. Writes `payment.captured`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, payment.id = %id))]
    pub async fn capture(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: CaptureInput,
    ) -> Result<Payment, Error> {
        ctx.authorize("payments:capture")?;
        let mut v = Validator::default();
        check_amount(&mut v, input.amount);
        v.finish()?;
        self.change_payment(ctx, id, Operation::Capture, input.amount, None)
            .await
    }

    /// Releases an authorization, or closes a stablecoin request nothing was paid into. Writes
    /// `payment.voided`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, payment.id = %id))]
    pub async fn void(&self, ctx: &Ctx, id: Uuid) -> Result<Payment, Error> {
        ctx.authorize("payments:void")?;
        let provider = {
            let mut conn = self.db.conn().await?;
            q::payment(&mut conn, id)
                .await?
                .ok_or_else(|| Error::not_found("payment", id))?
                .provider
        };
        if provider == stablepay::NAME {
            return self.void_stablecoin_request(id).await;
        }
        self.change_payment(ctx, id, Operation::Void, None, None)
            .await
    }

    /// Closes an unpaid stablecoin request: no money is held anywhere, so nothing is called.
    /// Once money arrived, voiding would record giving it back, which StablePay cannot do.
    async fn void_stablecoin_request(&self, id: Uuid) -> Result<Payment, Error> {
        self
            .db
            .tx("void_stablecoin_request", async move |conn: &mut AsyncPgConnection| {
                let payment = q::lock_payment(conn, id)
                    .await?
                    .ok_or_else(|| Error::not_found("payment", id))?;
                if payment.status != PaymentStatus::Pending {
                    return Err(Error::InvalidState {
                        from: payment.status.to_string(),
                        action: "void".into(),
                    });
                }
                if let Some(request) = sq::lock_request(conn, id).await? {
                    if !request.received.is_zero() {
                        return Err(Error::InvalidState {
                            from: format!("received {} {}", request.received.normalize(), request.asset),
                            action: "void (StablePay cannot send money back; return it from the receiving wallet)".into(),
                        });
                    }
                    sq::update_request(conn, id, request.received, StablecoinState::Cancelled).await?;
                }
                let changes = PaymentChanges {
                    status: Some(PaymentStatus::Voided.as_str()),
                    updated_at: Some(Utc::now()),
                    ..Default::default()
                };
                let row = q::update_payment(conn, id, &changes).await?;
                let updated = self.payment_view(conn, row).await?;
                payment_event(conn, EventType::PaymentVoided, &updated, serde_json::json!({})).await?;
                Ok(updated)
            })
            .await
    }

    /// Captures, voids or refunds a payment through its provider, exactly once: the attempt
    /// is written down under the payment's lock, the provider called with no lock held, and
    /// the result written with the payment's change (see `attempts`).
    async fn change_payment(
        &self,
        ctx: &Ctx,
        id: Uuid,
        operation: Operation,
        amount: Option<Decimal>,
        reason: Option<String>,
    ) -> Result<Payment, Error> {
        let client_key = attempts::client_key(ctx.idempotency_key.as_deref());
        let begun = self
            .db
            .tx("change_payment", async |conn: &mut AsyncPgConnection| {
                let payment = q::lock_payment(conn, id)
                    .await?
                    .ok_or_else(|| Error::not_found("payment", id))?;
                if let Some(open) = pa::lock_open_for_payment(conn, id).await? {
                    let same = open.operation == operation.as_str()
                        && amount.is_none_or(|a| a == open.amount);
                    if !same {
                        return Err(Error::Conflict {
                            field: None,
                            message: format!(
                                "a {} of this payment is in progress; retry shortly",
                                open.operation
                            ),
                        });
                    }
                    return Ok(Begun::Held(attempts::resume(conn, open, self.lease()).await?));
                }
                let amount = check_change(&payment, operation, amount)?;
                let count = pa::count(conn, operation.as_str(), None, None, Some(id)).await?;
                let key = match (&client_key, operation) {
                    (Some(client), Operation::Refund) => format!("stateset_refund_{id}_{client}"),
                    _ => format!("stateset_{}_{id}_{}", operation.as_str(), count + 1),
                };
                if let Some(earlier) = pa::lock_by_key(conn, &key).await? {
                    return match earlier.status {
                        AttemptStatus::Applied => Ok(Begun::Applied(earlier.payment_id)),
                        _ => Err(Error::Conflict {
                            field: None,
                            message: "this Idempotency-Key was used for a refund that failed; use a new key".into(),
                        }),
                    };
                }
                let new = attempts::NewAttempt {
                    key,
                    operation,
                    provider: payment.provider.clone(),
                    checkout_id: None,
                    order_id: Some(payment.order_id),
                    payment_id: id,
                    token: None,
                    reference: Some(payment.provider_reference.clone()),
                    amount,
                    currency: payment.currency.clone(),
                    capture: operation == Operation::Capture,
                    client_key: client_key.clone(),
                };
                Ok(Begun::Held(Held::Mine(Box::new(
                    attempts::open(conn, new, self.lease()).await?,
                ))))
            })
            .await?;
        let attempt = match begun {
            Begun::Applied(_) => return self.get(ctx, id).await,
            Begun::Held(Held::Busy) => {
                return Err(Error::Conflict {
                    field: None,
                    message: format!(
                        "a {} of this payment is in progress; retry shortly",
                        operation.as_str()
                    ),
                });
            }
            Begun::Held(Held::Mine(attempt)) => *attempt,
        };
        let attempt = self.run_attempt(attempt).await?;
        let actor = ctx.principal.key();
        self.db
            .tx("change_payment", async |conn: &mut AsyncPgConnection| {
                apply_change(self, conn, &attempt, &actor, reason.as_deref()).await
            })
            .await
    }

    /// Settles the payment attempts left in doubt: by a request that gave up without knowing
    /// what the provider did, or by a crash between the provider call and the commit. Each is
    /// asked of the provider again with its key (so it is done at most once); a capture, void
    /// or refund is then written to its payment, and an authorization whose order was never
    /// placed is given back. Runs in `serve` and `stateset worker`; instances share the work.
    /// Returns how many were settled.
    pub async fn settle_in_doubt(&self) -> Result<usize, Error> {
        let before = Utc::now()
            - chrono::Duration::from_std(self.settings.reconcile_after)
                .unwrap_or(chrono::Duration::seconds(60));
        let lease_until = Utc::now() + self.lease();
        let claimed = self
            .db
            .tx(
                "settle_in_doubt",
                async move |conn: &mut AsyncPgConnection| {
                    Ok::<_, Error>(pa::claim_in_doubt(conn, before, lease_until, 20).await?)
                },
            )
            .await?;
        let mut settled = 0;
        for attempt in claimed {
            let id = attempt.id;
            match self.settle(attempt).await {
                Ok(()) => settled += 1,
                Err(err) => {
                    tracing::warn!(error = %err, attempt.id = %id, "payment attempt still in doubt")
                }
            }
        }
        Ok(settled)
    }

    async fn settle(&self, attempt: AttemptRow) -> Result<(), Error> {
        let attempt = if attempt.status == AttemptStatus::Pending {
            match self.run_attempt(attempt).await {
                Ok(attempt) => attempt,
                Err(err) if err.is_server_fault() => return Err(err),
                // A final answer (declined, refused) is written down: nothing moved.
                Err(_) => return Ok(()),
            }
        } else {
            attempt
        };
        match Operation::of(&attempt)? {
            // Its order was never placed (that would have marked it applied).
            Operation::Authorize => self.compensate(&attempt).await,
            _ => {
                let applied = self
                    .db
                    .tx("settle", async |conn: &mut AsyncPgConnection| {
                        apply_change(self, conn, &attempt, "system", None).await
                    })
                    .await;
                match applied {
                    Ok(_) => Ok(()),
                    Err(err @ (Error::InvalidState { .. } | Error::Validation(_))) => {
                        // The payment moved on meanwhile (a provider webhook said so): what
                        // the provider did stands; say so loudly and stop retrying.
                        tracing::error!(error = %err, attempt.id = %attempt.id, "a provider change no longer fits its payment; check it by hand");
                        let changes = AttemptChanges {
                            status: Some(AttemptStatus::Failed.as_str()),
                            failure_code: Some(Some("state_changed".into())),
                            ..Default::default()
                        };
                        let mut conn = self.db.conn().await?;
                        attempts::record(&mut conn, &attempt, changes)
                            .await
                            .map(drop)
                    }
                    Err(err) => Err(err),
                }
            }
        }
    }

    /// Applies a provider's webhook once its signature checks out; each webhook id is applied
    /// once (a redelivery is acknowledged and ignored), and events about payments that are not
    /// ours are acknowledged.
    #[tracing::instrument(skip_all, fields(provider))]
    pub async fn provider_webhook(
        &self,
        provider: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<(), Error> {
        let provider = self.provider(provider)?;
        let webhook = provider.webhook(signature, body)?;
        let name = provider.name();
        self.db
            .tx(
                "provider_webhook",
                async move |conn: &mut AsyncPgConnection| {
                    if !q::first_delivery(conn, name, &webhook.id, &webhook.kind).await? {
                        return Ok(());
                    }
                    match webhook.event {
                        Some(event) => apply_provider_event(conn, name, event).await,
                        None => Ok(()),
                    }
                },
            )
            .await
    }

    /// The payment with its stablecoin request, if it has one.
    async fn payment_view(
        &self,
        conn: &mut AsyncPgConnection,
        row: PaymentRow,
    ) -> Result<Payment, Error> {
        let id = row.id;
        self.payment_views(conn, vec![row])
            .await?
            .pop()
            .ok_or_else(|| Error::not_found("payment", id))
    }

    /// The payments with their stablecoin requests, loaded in one query for all of them.
    async fn payment_views(
        &self,
        conn: &mut AsyncPgConnection,
        rows: Vec<PaymentRow>,
    ) -> Result<Vec<Payment>, Error> {
        let stablecoin_ids: Vec<Uuid> = rows
            .iter()
            .filter(|row| row.provider == stablepay::NAME)
            .map(|row| row.id)
            .collect();
        let (requests, transfers) = if stablecoin_ids.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            (
                sq::requests_of(conn, &stablecoin_ids).await?,
                sq::transfers_of(conn, &stablecoin_ids).await?,
            )
        };
        Ok(rows
            .into_iter()
            .map(|row| {
                let stablecoin = requests
                    .iter()
                    .find(|request| request.payment_id == row.id)
                    .map(|request| stablepay::request_view(request, &transfers));
                Payment {
                    stablecoin,
                    ..Payment::from(row)
                }
            })
            .collect())
    }

    /// Turns a card into a single-use `tok_...` for the test provider. Anyone may: it is
    /// what a shop's payment form does before checkout.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn create_token(&self, ctx: &Ctx, card: CardInput) -> Result<PaymentToken, Error> {
        self.check_test_provider()?;
        let mut v = Validator::default();
        let digits = card_digits(&card.number);
        if digits.is_none() {
            v.add("number", "is not a valid card number");
        }
        if !(1..=12).contains(&card.exp_month) {
            v.add("exp_month", "must be 1 to 12");
        }
        let now = Utc::now();
        let expired = (card.exp_year, card.exp_month) < (now.year(), now.month() as i32);
        if !(2000..=2100).contains(&card.exp_year) || expired {
            v.add("exp_year", "the card has expired");
        }
        if !(3..=4).contains(&card.cvc.len()) || !card.cvc.bytes().all(|b| b.is_ascii_digit()) {
            v.add("cvc", "must be 3 or 4 digits");
        }
        v.finish()?;
        let id = format!("tok_{}", crate::auth::random_token(24));
        let row = test_token(
            id,
            &digits.unwrap_or_default(),
            card.exp_month,
            card.exp_year,
        );
        let mut conn = self.db.conn().await?;
        q::insert_token(&mut conn, &row).await?;
        Ok(PaymentToken {
            id: row.id,
            brand: row.brand,
            last4: row.last4,
            exp_month: row.exp_month,
            exp_year: row.exp_year,
        })
    }

    /// Vaults a delegated card (ACP's `delegate_payment`) as a single-use token row with id
    /// `id` (`vt_...`), through the configured vault provider: at Stripe as a PaymentMethod
    /// (the row keeps its `pm_...`; the card number goes no further), or with the test
    /// provider, whose outcome follows the test card number. Only brand and last four digits
    /// are kept. The caller inserts the row in its own transaction.
    ///
    /// # Errors
    /// `VALIDATION` naming `number`, `exp_month` or `exp_year`; `UNAVAILABLE` when the vault's
    /// provider is off or does not answer.
    pub async fn vault_card(&self, id: String, card: VaultCard<'_>) -> Result<TokenRow, Error> {
        let digits = card_digits(card.number)
            .ok_or_else(|| Error::invalid("number", "is not a valid card number"))?;
        match self.settings.vault_provider {
            crate::config::VaultProvider::Test => {
                self.check_test_provider()?;
                Ok(test_token(
                    id,
                    &digits,
                    card.exp_month.unwrap_or(12),
                    card.exp_year.unwrap_or(2099),
                ))
            }
            crate::config::VaultProvider::Stripe => {
                let (Some(exp_month), Some(exp_year)) = (card.exp_month, card.exp_year) else {
                    return Err(Error::invalid(
                        "exp_month",
                        "Stripe needs the card's expiry month and year",
                    ));
                };
                let (method, details) = self
                    .stripe
                    .vault_card(&id, &digits, exp_month, exp_year, card.cvc)
                    .await?;
                Ok(TokenRow {
                    id,
                    provider: "stripe".into(),
                    brand: details.brand,
                    last4: details.last4,
                    exp_month: details.exp_month,
                    exp_year: details.exp_year,
                    outcome: "provider".into(),
                    used_at: None,
                    created_at: Utc::now(),
                    provider_token: Some(method),
                })
            }
        }
    }

    fn check_test_provider(&self) -> Result<(), Error> {
        if self.settings.test_provider {
            Ok(())
        } else {
            Err(Error::Unavailable(anyhow::anyhow!(
                "the test provider is turned off (PAYMENTS_TEST_PROVIDER)"
            )))
        }
    }

    /// Refunds all or part of a captured payment, as often as needed but never more than was
    /// captured. A retry with the same `Idempotency-Key` refunds once. Writes
    /// `payment.refunded`. StablePay has no refund API, so its payments are refused here.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, payment.id = %input.payment_id))]
    pub async fn refund(&self, ctx: &Ctx, input: RefundInput) -> Result<Payment, Error> {
        ctx.authorize("payments:refund")?;
        let mut v = Validator::default();
        check_amount(&mut v, input.amount);
        let reason = super::checks::optional_text(&mut v, "reason", input.reason.as_deref(), 500);
        v.finish()?;
        self.change_payment(
            ctx,
            input.payment_id,
            Operation::Refund,
            input.amount,
            reason,
        )
        .await
    }

    /// One payment.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, payment.id = %id))]
    pub async fn get(&self, ctx: &Ctx, id: Uuid) -> Result<Payment, Error> {
        ctx.authorize("payments:read")?;
        let mut conn = self.db.conn().await?;
        let row = q::payment(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found("payment", id))?;
        self.payment_view(&mut conn, row).await
    }

    /// The payments of an order, oldest first.
    pub async fn payments_of_order(
        &self,
        ctx: &Ctx,
        order_id: Uuid,
    ) -> Result<Vec<Payment>, Error> {
        let mut by_order = self.payments_by_order(ctx, &[order_id]).await?;
        Ok(by_order.remove(&order_id).unwrap_or_default())
    }

    /// The payments of many orders in one query, oldest first.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn payments_by_order(
        &self,
        ctx: &Ctx,
        order_ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, Vec<Payment>>, Error> {
        ctx.authorize("payments:read")?;
        let mut conn = self.db.conn().await?;
        let rows = q::payments_of_orders(&mut conn, order_ids).await?;
        let mut by_order: std::collections::HashMap<Uuid, Vec<Payment>> = Default::default();
        for payment in self.payment_views(&mut conn, rows).await? {
            by_order.entry(payment.order_id).or_default().push(payment);
        }
        Ok(by_order)
    }
}

/// What an authorization pays for.
pub(crate) struct Pays {
    /// The checkout being completed, if it is one.
    pub checkout_id: Option<Uuid>,
    /// The order paid directly, if it is one.
    pub order_id: Option<Uuid>,
    pub amount: Decimal,
    pub currency: String,
    /// The client's `Idempotency-Key`, so a retry after a lost answer is recognised.
    pub client_key: Option<String>,
}

/// What [`PaymentService::begin_authorization`] found.
pub(crate) enum Begun {
    /// An attempt to work on, or one someone else is working on.
    Held(Held),
    /// A retry of a request that already paid: the payment it made.
    Applied(Uuid),
}

/// The order, locked, and what its payments leave unpaid; refused once cancelled or archived.
async fn lock_unpaid_order(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
) -> Result<(stateset_db::orders::OrderRow, Decimal), Error> {
    let order = stateset_db::orders::lock_orders(conn, &[order_id])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("order", order_id))?;
    if matches!(order.status, OrderStatus::Cancelled | OrderStatus::Archived) {
        return Err(Error::InvalidState {
            from: order.status.to_string(),
            action: "take a payment".into(),
        });
    }
    let unpaid = order.total - q::committed_to_order(conn, order.id).await?;
    if unpaid <= Decimal::ZERO {
        return Err(Error::invalid(
            "order_id",
            "the order is already paid in full",
        ));
    }
    Ok((order, unpaid))
}

/// Checks that `payment` allows `operation` of `amount` now; returns the amount it applies to.
fn check_change(
    payment: &PaymentRow,
    operation: Operation,
    amount: Option<Decimal>,
) -> Result<Decimal, Error> {
    let state = |action: &str| Error::InvalidState {
        from: payment.status.to_string(),
        action: action.into(),
    };
    match operation {
        Operation::Capture => {
            if payment.status != PaymentStatus::Authorized {
                return Err(state("capture"));
            }
            let amount = amount.unwrap_or(payment.amount);
            if amount > payment.amount {
                return Err(Error::invalid(
                    "amount",
                    format!("exceeds what was authorized ({})", payment.amount),
                ));
            }
            Ok(amount)
        }
        Operation::Void => {
            if payment.status != PaymentStatus::Authorized {
                return Err(state("void"));
            }
            Ok(payment.amount)
        }
        Operation::Refund => {
            if payment.provider == stablepay::NAME {
                return Err(Error::InvalidState {
                    from: "paid in stablecoins".into(),
                    action: "refund through StablePay (it has no refund API; send the refund from the receiving wallet)".into(),
                });
            }
            if !matches!(
                payment.status,
                PaymentStatus::Captured | PaymentStatus::PartiallyRefunded
            ) {
                return Err(state("refund"));
            }
            let refundable = payment.captured_amount - payment.refunded_amount;
            let amount = amount.unwrap_or(refundable);
            if amount > refundable {
                return Err(Error::invalid(
                    "amount",
                    format!("exceeds what remains refundable ({refundable})"),
                ));
            }
            Ok(amount)
        }
        Operation::Authorize => Err(state("authorize again")),
    }
}

/// Writes what a succeeded capture, void or refund did to its payment, with its event, and
/// marks the attempt applied; in the caller's transaction.
async fn apply_change(
    service: &PaymentService,
    conn: &mut AsyncPgConnection,
    attempt: &AttemptRow,
    actor: &str,
    reason: Option<&str>,
) -> Result<Payment, Error> {
    let payment = q::lock_payment(conn, attempt.payment_id)
        .await?
        .ok_or_else(|| Error::not_found("payment", attempt.payment_id))?;
    let operation = Operation::of(attempt)?;
    // Still what it was when the attempt was written down (a webhook may have moved it).
    check_change(&payment, operation, Some(attempt.amount))?;
    let now = Some(Utc::now());
    let (changes, event_type, extra) = match operation {
        Operation::Capture => (
            PaymentChanges {
                status: Some(PaymentStatus::Captured.as_str()),
                captured_amount: Some(attempt.amount),
                updated_at: now,
                ..Default::default()
            },
            EventType::PaymentCaptured,
            serde_json::json!({
                "released": Money::from_stored(payment.amount - attempt.amount, &payment.currency),
            }),
        ),
        Operation::Void => (
            PaymentChanges {
                status: Some(PaymentStatus::Voided.as_str()),
                updated_at: now,
                ..Default::default()
            },
            EventType::PaymentVoided,
            serde_json::json!({}),
        ),
        Operation::Refund => {
            let refunded = payment.refunded_amount + attempt.amount;
            (
                PaymentChanges {
                    status: Some(refund_status(refunded, payment.captured_amount)),
                    refunded_amount: Some(refunded),
                    updated_at: now,
                    ..Default::default()
                },
                EventType::PaymentRefunded,
                serde_json::json!({
                    "refund_id": attempt.result_reference,
                    "refund_amount": attempt.amount.to_string(),
                    "reason": reason,
                }),
            )
        }
        Operation::Authorize => return Err(Error::Internal(anyhow::anyhow!("not a change"))),
    };
    let row = q::update_payment(conn, payment.id, &changes).await?;
    attempts::applied(conn, attempt).await?;
    let updated = service.payment_view(conn, row).await?;
    payment_event(conn, event_type, &updated, extra).await?;
    if operation == Operation::Capture {
        reconcile_order_payments(conn, actor, updated.order_id).await?;
    }
    Ok(updated)
}

/// Applies what a provider reported about one of its payments; a report that changes
/// nothing (our own refund coming back, a repeated success) writes no event.
async fn apply_provider_event(
    conn: &mut AsyncPgConnection,
    provider: &str,
    event: ProviderEvent,
) -> Result<(), Error> {
    let reference = match &event {
        ProviderEvent::Succeeded { reference, .. }
        | ProviderEvent::Failed { reference, .. }
        | ProviderEvent::Refunded { reference, .. } => reference.clone(),
    };
    let Some(payment) = q::lock_payment_by_reference(conn, provider, &reference).await? else {
        return Ok(()); // not one of ours
    };
    let now = Some(Utc::now());
    let (changes, event_type, extra) = match event {
        ProviderEvent::Succeeded { amount, .. } => {
            let captured = amount.unwrap_or(payment.amount);
            if payment.status == PaymentStatus::Captured && payment.captured_amount == captured {
                return Ok(());
            }
            let changes = PaymentChanges {
                status: Some(PaymentStatus::Captured.as_str()),
                captured_amount: Some(captured),
                updated_at: now,
                ..Default::default()
            };
            (changes, EventType::PaymentProcessed, serde_json::json!({}))
        }
        ProviderEvent::Failed { code, .. } => {
            if payment.status == PaymentStatus::Failed {
                return Ok(());
            }
            let changes = PaymentChanges {
                status: Some(PaymentStatus::Failed.as_str()),
                failure_code: Some(code.clone()),
                updated_at: now,
                ..Default::default()
            };
            (
                changes,
                EventType::PaymentFailed,
                serde_json::json!({ "decline_code": code }),
            )
        }
        ProviderEvent::Refunded { amount, .. } => {
            let refunded = amount
                .unwrap_or(payment.captured_amount)
                .min(payment.captured_amount);
            if refunded == payment.refunded_amount {
                return Ok(());
            }
            let changes = PaymentChanges {
                status: Some(refund_status(refunded, payment.captured_amount)),
                refunded_amount: Some(refunded),
                updated_at: now,
                ..Default::default()
            };
            (changes, EventType::PaymentRefunded, serde_json::json!({}))
        }
    };
    let updated = Payment::from(q::update_payment(conn, payment.id, &changes).await?);
    payment_event(conn, event_type, &updated, extra).await?;
    reconcile_order_payments(conn, provider, updated.order_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_answer_as_documented() {
        assert!(luhn("4242424242424242") && luhn("4000000000000002") && luhn("4000000000009995"));
        assert!(!luhn("4242424242424241"));
        assert_eq!(test_outcome("4242424242424242"), "approve");
        assert_eq!(test_outcome("4000000000000002"), "card_declined");
        assert_eq!(test_outcome("4000000000009995"), "insufficient_funds");
        let card = CardInput {
            number: "4242 4242 4242 4242".into(),
            exp_month: 12,
            exp_year: 2030,
            cvc: "123".into(),
        };
        assert!(
            !format!("{card:?}").contains("4242 4242"),
            "the number never shows"
        );
    }
}
