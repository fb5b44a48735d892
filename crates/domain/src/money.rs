//! Money: a decimal amount with an ISO 4217 currency code.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Largest number of decimal places stored (`NUMERIC(19,4)`).
pub const MAX_SCALE: u32 = 4;

/// An amount of money. Amounts are decimal strings on the wire (`"19.99"`), never floats.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    async_graphql::SimpleObject,
    async_graphql::InputObject,
)]
#[graphql(input_name = "MoneyInput")]
pub struct Money {
    /// Decimal amount, at most 4 decimal places, e.g. `"19.99"`.
    #[schema(value_type = String, example = "19.99")]
    pub amount: Decimal,
    /// ISO 4217 currency code, e.g. `"USD"`.
    #[schema(example = "USD")]
    pub currency: String,
}

impl Money {
    /// Builds money as stored, shown with at least two decimal places (`19.9900` → `19.99`).
    pub fn from_stored(amount: Decimal, currency: &str) -> Self {
        Self {
            amount: display_amount(amount),
            currency: currency.trim().to_owned(),
        }
    }

    /// Checks the amount and currency, returning the normalised value or a reason per part.
    ///
    /// # Returns
    /// Every problem as `(part, message)`, where `part` is `"amount"` or `"currency"`.
    pub fn parse(&self) -> Result<Money, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let currency = match Currency::parse(&self.currency) {
            Ok(currency) => Some(currency.into_string()),
            Err(message) => {
                problems.push(("currency", message));
                None
            }
        };
        if self.amount.is_sign_negative() && !self.amount.is_zero() {
            problems.push(("amount", "must not be negative".to_owned()));
        }
        if self.amount.normalize().scale() > MAX_SCALE {
            problems.push((
                "amount",
                format!("must have at most {MAX_SCALE} decimal places"),
            ));
        }
        if self.amount >= Decimal::from(1_000_000_000_000_000i64) {
            problems.push(("amount", "is too large".to_owned()));
        }
        match currency {
            Some(currency) if problems.is_empty() => Ok(Money {
                amount: display_amount(self.amount),
                currency,
            }),
            _ => Err(problems),
        }
    }
}

/// Normalises an amount for display: trailing zeros dropped, but at least two decimals.
pub fn display_amount(amount: Decimal) -> Decimal {
    let mut amount = amount.normalize();
    if amount.scale() < 2 {
        amount.rescale(2);
    }
    amount
}

/// A three-letter ISO 4217 currency code as we keep it: upper case (`USD`). Every door and
/// service reads a currency through [`Currency::parse`]; ACP's lower-case spelling is
/// [`Currency::acp_code`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Currency(String);

impl Currency {
    /// Reads a code, accepting lower case and surrounding blanks (` usd` → `USD`).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code))
        } else {
            Err(format!(
                "`{raw}` is not a three-letter ISO 4217 currency code"
            ))
        }
    }

    /// The code as ACP writes it (`usd`).
    pub fn acp_code(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

crate::text::parsed_text!(Currency);

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn stored_amounts_display_with_two_decimals() {
        assert_eq!(
            Money::from_stored(dec!(19.9900), "USD").amount.to_string(),
            "19.99"
        );
        assert_eq!(
            Money::from_stored(dec!(20.0000), "USD").amount.to_string(),
            "20.00"
        );
        assert_eq!(
            Money::from_stored(dec!(0.1250), "USD").amount.to_string(),
            "0.125"
        );
    }

    #[test]
    fn a_currency_is_kept_upper_case_and_shown_to_acp_in_lower_case() {
        let usd = Currency::parse(" usd ");
        assert_eq!(usd.as_ref().map(Currency::as_str), Ok("USD"));
        assert_eq!(usd.as_ref().map(Currency::acp_code), Ok("usd".to_owned()));
        for bad in ["US", "USDT", "U5D", "", "€€€"] {
            assert!(
                Currency::parse(bad).is_err_and(|m| m.contains("ISO 4217")),
                "{bad:?} must be refused"
            );
        }
    }

    #[test]
    fn parse_rejects_bad_parts() {
        let bad = |amount, currency: &str| {
            Money {
                amount,
                currency: currency.to_owned(),
            }
            .parse()
        };
        assert_eq!(
            bad(dec!(1), "usd").map(|m| m.currency),
            Ok("USD".to_owned())
        );
        let parts = |r: Result<Money, Vec<(&'static str, String)>>| {
            r.err()
                .unwrap_or_default()
                .into_iter()
                .map(|(part, _)| part)
                .collect::<Vec<_>>()
        };
        assert_eq!(parts(bad(dec!(1), "US")), ["currency"]);
        assert_eq!(parts(bad(dec!(-1), "USD")), ["amount"]);
        assert_eq!(parts(bad(dec!(1.23456), "USD")), ["amount"]);
        assert_eq!(parts(bad(dec!(-1), "US")), ["currency", "amount"]);
    }
}
