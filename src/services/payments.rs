//! Payments: the `PaymentProvider` seam, the built-in `test` provider (card test numbers as
//! people know them), card tokens (no card number is ever stored or logged) and payment reads.

use chrono::{Datelike as _, Utc};
use diesel_async::AsyncConnection as _;
use futures::future::BoxFuture;
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::Validator;
use super::{Ctx, Error};
use crate::db::Db;
use crate::db::checkout::{self as q, TokenRow};
use crate::domain::{Payment, PaymentToken};

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

/// What to charge.
pub struct ChargeRequest<'a> {
    pub token: &'a TokenRow,
    pub amount: Decimal,
    pub currency: &'a str,
    /// Capture at once rather than only authorize.
    pub capture: bool,
}

/// A successful charge.
pub struct Charge {
    /// The provider's id for the payment.
    pub reference: String,
    pub captured: bool,
}

/// A payment provider. Checkout authorizes (or captures) through it inside its transaction; a
/// decline is `Error::PaymentDeclined` with the provider's code, and nothing is kept.
pub trait PaymentProvider: Send + Sync {
    fn name(&self) -> &'static str;
    fn charge<'a>(&'a self, request: ChargeRequest<'a>) -> BoxFuture<'a, Result<Charge, Error>>;
    /// Gives back `amount` of a captured payment; returns the provider's refund id.
    fn refund<'a>(
        &'a self,
        reference: &'a str,
        amount: Decimal,
    ) -> BoxFuture<'a, Result<String, Error>>;
}

/// The default provider: approves or declines by the card's test number, like the card
/// networks' test cards: `4242 4242 4242 4242` succeeds, `4000 0000 0000 0002` is
/// `card_declined`, `4000 0000 0000 9995` is `insufficient_funds`.
pub struct TestProvider;

impl PaymentProvider for TestProvider {
    fn name(&self) -> &'static str {
        "test"
    }

    fn charge<'a>(&'a self, request: ChargeRequest<'a>) -> BoxFuture<'a, Result<Charge, Error>> {
        Box::pin(async move {
            match request.token.outcome.as_str() {
                "approve" => Ok(Charge {
                    reference: format!("test_pay_{}", Uuid::new_v4().simple()),
                    captured: request.capture,
                }),
                decline => Err(Error::PaymentDeclined {
                    decline_code: decline.to_owned(),
                }),
            }
        })
    }

    fn refund<'a>(
        &'a self,
        reference: &'a str,
        amount: Decimal,
    ) -> BoxFuture<'a, Result<String, Error>> {
        let _ = (reference, amount);
        Box::pin(async move { Ok(format!("test_refund_{}", Uuid::new_v4().simple())) })
    }
}

/// The test provider's answer for a card number.
fn test_outcome(digits: &str) -> &'static str {
    match digits {
        "4000000000000002" => "card_declined",
        "4000000000009995" => "insufficient_funds",
        "4000000000000069" => "expired_card",
        _ => "approve",
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

/// Card tokens and payments.
#[derive(Clone)]
pub struct PaymentService {
    db: Db,
    stripe_webhook_secret: Option<String>,
}

/// How far a webhook's signed timestamp may be from now.
const WEBHOOK_TOLERANCE_SECS: i64 = 300;

/// Currencies Stripe counts in whole units (no minor unit).
const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];

/// An amount in a currency's minor units as money.
fn from_minor(amount: i64, currency: &str) -> Decimal {
    let scale = if ZERO_DECIMAL.contains(&currency.to_uppercase().as_str()) {
        0
    } else {
        2
    };
    Decimal::new(amount, scale)
}

impl PaymentService {
    pub fn new(db: Db, stripe_webhook_secret: Option<String>) -> Self {
        Self {
            db,
            stripe_webhook_secret,
        }
    }

    /// Applies a Stripe webhook: the `Stripe-Signature` header must sign the raw body with the
    /// configured secret within five minutes; each event id is applied once (a redelivery is
    /// acknowledged and ignored). Handles `payment_intent.succeeded`,
    /// `payment_intent.payment_failed` and `charge.refunded` for payments made through Stripe;
    /// other events are acknowledged.
    #[tracing::instrument(skip_all)]
    pub async fn stripe_webhook(&self, signature: Option<&str>, body: &[u8]) -> Result<(), Error> {
        let Some(secret) = self.stripe_webhook_secret.as_deref() else {
            return Err(Error::Unavailable(anyhow::anyhow!(
                "Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)"
            )));
        };
        let header = signature.ok_or_else(|| Error::invalid("Stripe-Signature", "is required"))?;
        crate::auth::signature::verify(
            secret,
            header,
            body,
            Utc::now().timestamp(),
            WEBHOOK_TOLERANCE_SECS,
        )
        .map_err(|why| Error::invalid("Stripe-Signature", why.to_string()))?;
        let event: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| Error::invalid("body", format!("is not a Stripe event: {e}")))?;
        let (Some(event_id), Some(kind)) = (event["id"].as_str(), event["type"].as_str()) else {
            return Err(Error::invalid(
                "body",
                "a Stripe event has an `id` and a `type`",
            ));
        };
        let (event_id, kind) = (event_id.to_owned(), kind.to_owned());
        let object = event["data"]["object"].clone();
        let mut conn = self.db.conn().await?;
        (*conn)
            .transaction(async move |conn: &mut diesel_async::AsyncPgConnection| {
                if !q::first_delivery(conn, "stripe", &event_id, &kind).await? {
                    return Ok(());
                }
                let reference = match kind.as_str() {
                    "charge.refunded" => object["payment_intent"].as_str(),
                    _ => object["id"].as_str(),
                };
                let Some(reference) = reference else {
                    return Ok(());
                };
                let Some(payment) = q::lock_payment_by_reference(conn, "stripe", reference).await?
                else {
                    return Ok(()); // not one of ours
                };
                let currency = payment.currency.clone();
                let minor = |field: &str| object[field].as_i64().map(|a| from_minor(a, &currency));
                let now = Some(Utc::now());
                let (changes, event_type, extra) = match kind.as_str() {
                    "payment_intent.succeeded" => (
                        q::PaymentChanges {
                            status: Some("captured"),
                            captured_amount: Some(
                                minor("amount_received").unwrap_or(payment.amount),
                            ),
                            updated_at: now,
                            ..Default::default()
                        },
                        "payment.processed",
                        serde_json::json!({}),
                    ),
                    "payment_intent.payment_failed" => (
                        q::PaymentChanges {
                            status: Some("failed"),
                            updated_at: now,
                            ..Default::default()
                        },
                        "payment.failed",
                        serde_json::json!({
                            "decline_code": object["last_payment_error"]["decline_code"]
                                .as_str()
                                .or(object["last_payment_error"]["code"].as_str()),
                        }),
                    ),
                    "charge.refunded" => {
                        let refunded = minor("amount_refunded").unwrap_or(payment.captured_amount);
                        let full = refunded >= payment.captured_amount;
                        (
                            q::PaymentChanges {
                                status: Some(if full {
                                    "refunded"
                                } else {
                                    "partially_refunded"
                                }),
                                refunded_amount: Some(refunded.min(payment.captured_amount)),
                                updated_at: now,
                                ..Default::default()
                            },
                            "payment.refunded",
                            serde_json::json!({}),
                        )
                    }
                    _ => return Ok(()),
                };
                let updated = Payment::from(q::update_payment(conn, payment.id, &changes).await?);
                let mut data = serde_json::to_value(&updated).map_err(anyhow::Error::new)?;
                if let (Some(data), serde_json::Value::Object(extra)) =
                    (data.as_object_mut(), extra)
                {
                    data.extend(extra);
                }
                crate::events::record(
                    conn,
                    crate::events::DomainEvent {
                        event_type,
                        entity_type: "payment",
                        entity_id: updated.id,
                        data,
                    },
                )
                .await?;
                Ok::<_, Error>(())
            })
            .await
    }

    /// The provider payments go through.
    pub fn provider(&self) -> &'static dyn PaymentProvider {
        &TestProvider
    }

    /// Turns a card into a single-use `tok_...` for the test provider. Anyone may: it is
    /// what a shop's payment form does before checkout.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn create_token(&self, ctx: &Ctx, card: CardInput) -> Result<PaymentToken, Error> {
        let mut v = Validator::default();
        let digits: String = card
            .number
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if !(12..=19).contains(&digits.len())
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || !luhn(&digits)
        {
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
        let row = TokenRow {
            id: format!("tok_{}", crate::auth::random_token(24)),
            provider: TestProvider.name().to_owned(),
            brand: brand(&digits).to_owned(),
            last4: digits[digits.len() - 4..].to_owned(),
            exp_month: card.exp_month,
            exp_year: card.exp_year,
            outcome: test_outcome(&digits).to_owned(),
            used_at: None,
            created_at: now,
        };
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

    /// Refunds all or part of a captured payment, as often as needed but never more than was
    /// captured. Writes `payment.refunded`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, payment.id = %input.payment_id))]
    pub async fn refund(&self, ctx: &Ctx, input: RefundInput) -> Result<Payment, Error> {
        ctx.authorize("payments:refund")?;
        let mut v = Validator::default();
        if input
            .amount
            .is_some_and(|a| a <= Decimal::ZERO || a.scale() > 4)
        {
            v.add("amount", "must be above 0");
        }
        let reason = super::checks::optional_text(&mut v, "reason", input.reason.as_deref(), 500);
        v.finish()?;
        let provider = self.provider();
        let mut conn = self.db.conn().await?;
        (*conn)
            .transaction(async move |conn: &mut diesel_async::AsyncPgConnection| {
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
                if amount > refundable || amount <= Decimal::ZERO {
                    return Err(Error::invalid(
                        "amount",
                        format!("exceeds what remains refundable ({refundable})"),
                    ));
                }
                let refund_id = provider.refund(&payment.provider_reference, amount).await?;
                let refunded = payment.refunded_amount + amount;
                let changes = q::PaymentChanges {
                    status: Some(if refunded >= payment.captured_amount {
                        "refunded"
                    } else {
                        "partially_refunded"
                    }),
                    refunded_amount: Some(refunded),
                    updated_at: Some(Utc::now()),
                    ..Default::default()
                };
                let updated = Payment::from(q::update_payment(conn, payment.id, &changes).await?);
                let mut data = serde_json::to_value(&updated).map_err(anyhow::Error::new)?;
                if let Some(data) = data.as_object_mut() {
                    data.insert("refund_id".into(), refund_id.into());
                    data.insert("refund_amount".into(), amount.to_string().into());
                    data.insert("reason".into(), reason.clone().into());
                }
                crate::events::record(
                    conn,
                    crate::events::DomainEvent {
                        event_type: "payment.refunded",
                        entity_type: "payment",
                        entity_id: updated.id,
                        data,
                    },
                )
                .await?;
                Ok(updated)
            })
            .await
    }

    /// One payment.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, payment.id = %id))]
    pub async fn get(&self, ctx: &Ctx, id: Uuid) -> Result<Payment, Error> {
        ctx.authorize("payments:read")?;
        let mut conn = self.db.conn().await?;
        q::payment(&mut conn, id)
            .await?
            .map(Payment::from)
            .ok_or_else(|| Error::not_found("payment", id))
    }
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
