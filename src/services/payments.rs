//! Payments: the `PaymentProvider` seam, the built-in `test` provider (card test numbers as
//! people know them), card tokens (no card number is ever stored or logged) and payment reads.

use chrono::{Datelike as _, Utc};
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

/// Card tokens and payments.
#[derive(Clone)]
pub struct PaymentService {
    db: Db,
}

impl PaymentService {
    pub fn new(db: Db) -> Self {
        Self { db }
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
