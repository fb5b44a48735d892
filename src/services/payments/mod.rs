//! Payments: the `PaymentProvider` seam and its providers (the built-in `test` provider with
//! the card test numbers people know, Stripe, and StablePay for stablecoins), card tokens (no
//! card number is ever stored or logged), and the life of a payment: authorize, capture (all
//! or part), void, refund (all or part, several times, never above what was captured), and
//! the providers' webhooks.

mod provider;
pub mod stablepay;
mod stripe;

use std::sync::Arc;

use chrono::{Datelike as _, Utc};
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

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
use crate::db::Db;
use crate::db::checkout::{self as q, PaymentChanges, PaymentRow, TokenRow};
use crate::db::stablecoin as sq;
use crate::domain::{Money, Payment, PaymentToken};
use crate::events::{self, DomainEvent};
use crate::services::invoices::reconcile_order_payments;

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
}

/// Writes a payment event with the payment and `extra` fields as its data.
pub(crate) async fn payment_event(
    conn: &mut AsyncPgConnection,
    event_type: &'static str,
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
        "refunded"
    } else {
        "partially_refunded"
    }
}

/// Checks an optional amount of money: above zero, with no finer fractions than stored.
fn check_amount(v: &mut Validator, amount: Option<Decimal>) {
    if let Some(amount) = amount {
        super::checks::positive_amount(v, "amount", amount);
    }
}

impl PaymentService {
    pub fn new(db: Db, settings: PaymentSettings) -> anyhow::Result<Self> {
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
        })
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

    /// A token that can still pay: a `tok_...` of the test provider, or a Stripe payment
    /// method (`pm_...`), which is looked up at Stripe and remembered the first time.
    pub async fn usable_token(
        &self,
        conn: &mut AsyncPgConnection,
        token: &str,
    ) -> Result<TokenRow, Error> {
        let token = token.trim();
        let known = q::token(conn, token).await?;
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
                };
                q::insert_token(conn, &row).await?;
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
        if row.used_at.is_some() {
            return Err(Error::invalid("payment_token", "was already used"));
        }
        if row.provider == "test" && !self.settings.test_provider {
            return Err(Error::invalid(
                "payment_token",
                "the test provider is turned off (PAYMENTS_TEST_PROVIDER)",
            ));
        }
        Ok(row)
    }

    /// Authorizes (and, when asked, captures) `target` with a token through its provider, in
    /// the caller's transaction; writes `payment.processed`. A decline is
    /// `PAYMENT_DECLINED` and leaves nothing (the caller's transaction rolls back).
    pub async fn take_payment(
        &self,
        conn: &mut AsyncPgConnection,
        target: &PaymentTarget,
        token: &str,
        capture: bool,
    ) -> Result<Payment, Error> {
        let token = self.usable_token(conn, token).await?;
        let provider = self.provider(&token.provider)?;
        let id = Uuid::now_v7();
        let authorization = provider
            .authorize(AuthorizeRequest {
                payment_id: id,
                token: &token,
                amount: target.amount,
                currency: &target.currency,
                capture,
            })
            .await?;
        q::use_token(conn, &token.id).await?;
        let now = Utc::now();
        let row = PaymentRow {
            id,
            order_id: target.order_id,
            provider: provider.name().to_owned(),
            provider_reference: authorization.reference,
            status: if authorization.captured {
                "captured"
            } else {
                "authorized"
            }
            .to_owned(),
            amount: target.amount,
            captured_amount: if authorization.captured {
                target.amount
            } else {
                Decimal::ZERO
            },
            refunded_amount: Decimal::ZERO,
            currency: target.currency.clone(),
            card_brand: Some(token.brand.clone()),
            card_last4: Some(token.last4.clone()),
            created_at: now,
            updated_at: now,
            failure_code: None,
        };
        q::insert_payment(conn, &row).await?;
        let payment = Payment::from(row);
        payment_event(conn, "payment.processed", &payment, serde_json::json!({})).await?;
        if authorization.captured {
            reconcile_order_payments(conn, provider.name(), payment.order_id).await?;
        }
        Ok(payment)
    }

    /// Writes `payment.failed` for a decline whose own transaction rolled back, about
    /// `entity` (the checkout or order that was to be paid).
    pub async fn record_decline(&self, entity_type: &'static str, entity_id: Uuid, code: &str) {
        let event = DomainEvent {
            event_type: "payment.failed",
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
        let order_id = input.order_id;
        let mut conn = self.db.conn().await?;
        let result = (*conn)
            .transaction(async move |conn: &mut AsyncPgConnection| {
                // Locked so that two payments of one order cannot both take the same balance.
                let order = crate::db::orders::lock_orders(conn, &[input.order_id])
                    .await?
                    .pop()
                    .ok_or_else(|| Error::not_found("order", input.order_id))?;
                if matches!(order.status.as_str(), "cancelled" | "archived") {
                    return Err(Error::InvalidState {
                        from: order.status,
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
                let amount = input.amount.unwrap_or(unpaid);
                if amount > unpaid {
                    return Err(Error::invalid(
                        "amount",
                        format!("exceeds what the order leaves unpaid ({unpaid})"),
                    ));
                }
                let target = PaymentTarget {
                    order_id: order.id,
                    amount,
                    currency: order.currency.clone(),
                };
                match (&input.payment_token, &input.stablecoin) {
                    (Some(token), _) => {
                        self.take_payment(conn, &target, token, input.capture.unwrap_or(true))
                            .await
                    }
                    (None, Some(stablecoin)) => {
                        let id = Uuid::now_v7();
                        let now = Utc::now();
                        let row = PaymentRow {
                            id,
                            order_id: target.order_id,
                            provider: stablepay::NAME.to_owned(),
                            provider_reference: format!("sp_{}", id.simple()),
                            status: "pending".into(),
                            amount: target.amount,
                            captured_amount: Decimal::ZERO,
                            refunded_amount: Decimal::ZERO,
                            currency: target.currency,
                            card_brand: None,
                            card_last4: None,
                            created_at: now,
                            updated_at: now,
                            failure_code: None,
                        };
                        self.request_stablecoin(conn, row, stablecoin).await
                    }
                    (None, None) => Err(Error::invalid("payment_token", "is required")),
                }
            })
            .await;
        if let Err(Error::PaymentDeclined { decline_code }) = &result {
            self.record_decline("order", order_id, decline_code).await;
        }
        result
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
        let mut conn = self.db.conn().await?;
        (*conn)
            .transaction(async move |conn: &mut AsyncPgConnection| {
                let payment = q::lock_payment(conn, id)
                    .await?
                    .ok_or_else(|| Error::not_found("payment", id))?;
                if payment.status != "authorized" {
                    return Err(Error::InvalidState {
                        from: payment.status,
                        action: "capture".into(),
                    });
                }
                let amount = input.amount.unwrap_or(payment.amount);
                if amount > payment.amount {
                    return Err(Error::invalid(
                        "amount",
                        format!("exceeds what was authorized ({})", payment.amount),
                    ));
                }
                self.provider(&payment.provider)?
                    .capture(&payment.provider_reference, amount, &payment.currency)
                    .await?;
                let changes = PaymentChanges {
                    status: Some("captured"),
                    captured_amount: Some(amount),
                    updated_at: Some(Utc::now()),
                    ..Default::default()
                };
                let updated = Payment::from(q::update_payment(conn, id, &changes).await?);
                let released = Money::from_stored(payment.amount - amount, &payment.currency);
                let extra = serde_json::json!({ "released": released });
                payment_event(conn, "payment.captured", &updated, extra).await?;
                reconcile_order_payments(conn, &ctx.principal.key(), updated.order_id).await?;
                Ok(updated)
            })
            .await
    }

    /// Releases an authorization, or closes an unpaid stablecoin request. Writes
    /// `payment.voided`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, payment.id = %id))]
    pub async fn void(&self, ctx: &Ctx, id: Uuid) -> Result<Payment, Error> {
        ctx.authorize("payments:void")?;
        let mut conn = self.db.conn().await?;
        (*conn)
            .transaction(async move |conn: &mut AsyncPgConnection| {
                let payment = q::lock_payment(conn, id)
                    .await?
                    .ok_or_else(|| Error::not_found("payment", id))?;
                if !matches!(payment.status.as_str(), "authorized" | "pending") {
                    return Err(Error::InvalidState {
                        from: payment.status,
                        action: "void".into(),
                    });
                }
                self.provider(&payment.provider)?
                    .void(&payment.provider_reference)
                    .await?;
                if let Some(request) = sq::lock_request(conn, id).await? {
                    sq::update_request(conn, id, request.received, "cancelled").await?;
                }
                let changes = PaymentChanges {
                    status: Some("voided"),
                    updated_at: Some(Utc::now()),
                    ..Default::default()
                };
                let row = q::update_payment(conn, id, &changes).await?;
                let updated = self.payment_view(conn, row).await?;
                payment_event(conn, "payment.voided", &updated, serde_json::json!({})).await?;
                Ok(updated)
            })
            .await
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
        let mut conn = self.db.conn().await?;
        (*conn)
            .transaction(async move |conn: &mut AsyncPgConnection| {
                if !q::first_delivery(conn, name, &webhook.id, &webhook.kind).await? {
                    return Ok(());
                }
                match webhook.event {
                    Some(event) => apply_provider_event(conn, name, event).await,
                    None => Ok(()),
                }
            })
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

    /// Builds a single-use test-provider token row for a delegated card (ACP's
    /// `delegate_payment` vault): the outcome follows the test card number, only brand and
    /// last four digits are kept. `id` is the token to issue (`vt_...`); the caller inserts
    /// the row in its own transaction.
    ///
    /// # Errors
    /// `VALIDATION` on `number` when it is not a valid card number; `UNAVAILABLE` when the
    /// test provider is turned off.
    pub fn vault_token(
        &self,
        id: String,
        number: &str,
        exp_month: Option<i32>,
        exp_year: Option<i32>,
    ) -> Result<TokenRow, Error> {
        self.check_test_provider()?;
        let digits = card_digits(number)
            .ok_or_else(|| Error::invalid("number", "is not a valid card number"))?;
        Ok(test_token(
            id,
            &digits,
            exp_month.unwrap_or(12),
            exp_year.unwrap_or(2099),
        ))
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
    /// captured. Writes `payment.refunded`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, payment.id = %input.payment_id))]
    pub async fn refund(&self, ctx: &Ctx, input: RefundInput) -> Result<Payment, Error> {
        ctx.authorize("payments:refund")?;
        let mut v = Validator::default();
        check_amount(&mut v, input.amount);
        let reason = super::checks::optional_text(&mut v, "reason", input.reason.as_deref(), 500);
        v.finish()?;
        let mut conn = self.db.conn().await?;
        (*conn)
            .transaction(async move |conn: &mut AsyncPgConnection| {
                let payment = q::lock_payment(conn, input.payment_id)
                    .await?
                    .ok_or_else(|| Error::not_found("payment", input.payment_id))?;
                if !matches!(payment.status.as_str(), "captured" | "partially_refunded") {
                    return Err(Error::InvalidState {
                        from: payment.status,
                        action: "refund".into(),
                    });
                }
                let refundable = payment.captured_amount - payment.refunded_amount;
                let amount = input.amount.unwrap_or(refundable);
                if amount > refundable {
                    return Err(Error::invalid(
                        "amount",
                        format!("exceeds what remains refundable ({refundable})"),
                    ));
                }
                let refund_id = self
                    .provider(&payment.provider)?
                    .refund(&payment.provider_reference, amount, &payment.currency)
                    .await?;
                let refunded = payment.refunded_amount + amount;
                let changes = PaymentChanges {
                    status: Some(refund_status(refunded, payment.captured_amount)),
                    refunded_amount: Some(refunded),
                    updated_at: Some(Utc::now()),
                    ..Default::default()
                };
                let row = q::update_payment(conn, payment.id, &changes).await?;
                let updated = self.payment_view(conn, row).await?;
                let extra = serde_json::json!({
                    "refund_id": refund_id,
                    "refund_amount": amount.to_string(),
                    "reason": reason,
                });
                payment_event(conn, "payment.refunded", &updated, extra).await?;
                Ok(updated)
            })
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
            if payment.status == "captured" && payment.captured_amount == captured {
                return Ok(());
            }
            let changes = PaymentChanges {
                status: Some("captured"),
                captured_amount: Some(captured),
                updated_at: now,
                ..Default::default()
            };
            (changes, "payment.processed", serde_json::json!({}))
        }
        ProviderEvent::Failed { code, .. } => {
            if payment.status == "failed" {
                return Ok(());
            }
            let changes = PaymentChanges {
                status: Some("failed"),
                failure_code: Some(code.clone()),
                updated_at: now,
                ..Default::default()
            };
            (
                changes,
                "payment.failed",
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
            (changes, "payment.refunded", serde_json::json!({}))
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
