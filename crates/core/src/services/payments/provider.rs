//! The seam between the payment service and whoever moves the money.

use futures::future::BoxFuture;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::Error;
use stateset_db::checkout::TokenRow;

/// What to authorize.
pub struct AuthorizeRequest<'a> {
    /// The id our payment will have.
    pub payment_id: Uuid,
    /// The provider's idempotency key: the same for every retry of this attempt, so the
    /// provider charges once (see `attempts`).
    pub idempotency_key: &'a str,
    pub token: &'a TokenRow,
    pub amount: Decimal,
    pub currency: &'a str,
    /// Capture at once rather than only authorize.
    pub capture: bool,
}

/// An authorization the provider granted.
pub struct Authorization {
    /// The provider's id for the payment.
    pub reference: String,
    pub captured: bool,
}

/// Something a provider told us in a webhook, in our terms.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderEvent {
    /// The payment `reference` was captured, `amount` in all.
    Succeeded {
        reference: String,
        amount: Option<Decimal>,
    },
    /// The payment `reference` failed with `code`.
    Failed {
        reference: String,
        code: Option<String>,
    },
    /// The payment `reference` has had `amount` refunded in all.
    Refunded {
        reference: String,
        amount: Option<Decimal>,
    },
}

/// A verified webhook: its id (each is applied once) and what it says, if it concerns us.
pub struct ProviderWebhook {
    pub id: String,
    pub kind: String,
    pub event: Option<ProviderEvent>,
}

/// A payment provider. Calls run outside any transaction, each written down first as a payment
/// attempt whose idempotency key they carry (see `attempts`), so a repeated call with the same
/// key does the thing once and answers as the first did. A decline is
/// `Error::PaymentDeclined` with the provider's code; `Error::Unavailable` means the outcome is
/// unknown (the attempt stays in doubt until the call is repeated).
pub trait PaymentProvider: Send + Sync {
    fn name(&self) -> &'static str;

    /// Authorizes `amount`, capturing it at once when asked.
    fn authorize<'a>(
        &'a self,
        request: AuthorizeRequest<'a>,
    ) -> BoxFuture<'a, Result<Authorization, Error>>;

    /// Captures `amount` (all or part) of an authorization; the rest is released.
    fn capture<'a>(
        &'a self,
        reference: &'a str,
        amount: Decimal,
        currency: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Releases an authorization.
    fn void<'a>(
        &'a self,
        reference: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Gives back `amount` of a captured payment; returns the provider's refund id.
    fn refund<'a>(
        &'a self,
        reference: &'a str,
        amount: Decimal,
        currency: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<String, Error>>;

    /// Verifies a webhook's signature and reads it.
    fn webhook(&self, signature: Option<&str>, body: &[u8]) -> Result<ProviderWebhook, Error> {
        let _ = (signature, body);
        Err(Error::Unavailable(anyhow::anyhow!(
            "the {} provider sends no webhooks",
            self.name()
        )))
    }
}

/// The built-in provider: approves or declines by the card's test number, like the card
/// networks' test cards: `4242 4242 4242 4242` succeeds, `4000 0000 0000 0002` is
/// `card_declined`, `4000 0000 0000 9995` is `insufficient_funds`.
pub struct TestProvider;

impl PaymentProvider for TestProvider {
    fn name(&self) -> &'static str {
        "test"
    }

    fn authorize<'a>(
        &'a self,
        request: AuthorizeRequest<'a>,
    ) -> BoxFuture<'a, Result<Authorization, Error>> {
        Box::pin(async move {
            match request.token.outcome.as_str() {
                "approve" => Ok(Authorization {
                    reference: format!("test_pay_{}", request.payment_id.simple()),
                    captured: request.capture,
                }),
                decline => Err(Error::PaymentDeclined {
                    decline_code: decline.to_owned(),
                }),
            }
        })
    }

    fn capture<'a>(
        &'a self,
        _reference: &'a str,
        _amount: Decimal,
        _currency: &'a str,
        _idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }

    fn void<'a>(
        &'a self,
        _reference: &'a str,
        _idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }

    fn refund<'a>(
        &'a self,
        _reference: &'a str,
        _amount: Decimal,
        _currency: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<String, Error>> {
        // The same key names the same refund, as at a real provider.
        let id = hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(idempotency_key)[..12]);
        Box::pin(async move { Ok(format!("test_refund_{id}")) })
    }
}

/// The test provider's answer for a card number.
pub(super) fn test_outcome(digits: &str) -> &'static str {
    match digits {
        "4000000000000002" => "card_declined",
        "4000000000009995" => "insufficient_funds",
        "4000000000000069" => "expired_card",
        _ => "approve",
    }
}

/// Currencies counted in whole units (no minor unit), as Stripe lists them.
const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];

/// Decimal places of a currency's minor unit (2 for USD, 0 for JPY).
pub fn minor_unit_scale(currency: &str) -> u32 {
    if ZERO_DECIMAL.contains(&currency.to_uppercase().as_str()) {
        0
    } else {
        2
    }
}

/// An amount in a currency's minor units as money.
pub fn from_minor(amount: i64, currency: &str) -> Decimal {
    Decimal::new(amount, minor_unit_scale(currency))
}

/// Money as an integer count of the currency's minor units (cents); `None` when it has finer
/// fractions than that or does not fit.
pub fn to_minor(amount: Decimal, currency: &str) -> Option<i64> {
    let scaled = amount * Decimal::from(10_i64.pow(minor_unit_scale(currency)));
    if scaled.fract().is_zero() {
        i64::try_from(scaled.trunc()).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_round_trip() {
        assert_eq!(to_minor(Decimal::new(1999, 2), "usd"), Some(1999));
        assert_eq!(to_minor(Decimal::new(500, 0), "JPY"), Some(500));
        assert_eq!(to_minor(Decimal::new(1, 3), "USD"), None);
        assert_eq!(from_minor(1999, "usd"), Decimal::new(1999, 2));
        assert_eq!(from_minor(500, "jpy"), Decimal::new(500, 0));
    }
}
