//! Checkout pricing as pure functions: shipping rates, taxes and discounts over a set of lines.
//! Amounts are rounded to the cent per line (half away from zero), so the totals add up to
//! exactly what each line shows.

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Rounds to the cent.
pub fn cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

crate::stored_enum! {
    /// How a shipping method prices a parcel.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum RateKind {
        /// One price.
        Flat = "flat",
        /// By total weight in grams, from `bands`.
        Weight = "weight",
        /// By order value (the discounted subtotal), from `bands`.
        Value = "value",
    }
}

/// Up to `up_to` (grams or money), the rate is `rate`.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Serialize,
    Deserialize,
    ToSchema,
    async_graphql::SimpleObject,
    async_graphql::InputObject,
)]
#[graphql(input_name = "RateBandInput")]
pub struct RateBand {
    #[schema(value_type = String, example = "1000")]
    pub up_to: Decimal,
    #[schema(value_type = String, example = "5.00")]
    pub rate: Decimal,
}

/// A way to ship, with its price rule and the zone it serves.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct ShippingMethod {
    pub id: Uuid,
    pub name: String,
    pub carrier: String,
    /// The carrier's service, e.g. `Ground`.
    pub service: String,
    /// ISO country codes served; empty serves everywhere.
    pub countries: Vec<String>,
    /// Regions (state or province codes) served within those countries; empty serves all.
    pub regions: Vec<String>,
    pub kind: RateKind,
    /// The price of a flat rate.
    #[schema(value_type = String)]
    pub rate: Decimal,
    /// Bands for weight or value rates, by ascending `up_to`; beyond the last, not served.
    pub bands: Vec<RateBand>,
    /// Free from this order value up.
    #[schema(value_type = Option<String>)]
    pub free_over: Option<Decimal>,
    pub currency: String,
    /// Delivery estimate in days.
    pub min_days: i32,
    pub max_days: i32,
    pub active: bool,
}

impl ShippingMethod {
    /// Whether the method ships to `country` (and `region`).
    pub fn serves(&self, country: &str, region: Option<&str>) -> bool {
        let country_ok = self.countries.is_empty()
            || self
                .countries
                .iter()
                .any(|c| c.eq_ignore_ascii_case(country));
        let region_ok = self.regions.is_empty()
            || region.is_some_and(|r| self.regions.iter().any(|x| x.eq_ignore_ascii_case(r)));
        self.active && country_ok && region_ok
    }

    /// The price for an order of `value` weighing `grams`; `None` when out of its bands.
    pub fn price(&self, value: Decimal, grams: i64) -> Option<Decimal> {
        if self.free_over.is_some_and(|free| value >= free) {
            return Some(Decimal::ZERO);
        }
        let measure = match self.kind {
            RateKind::Flat => return Some(cents(self.rate)),
            RateKind::Weight => Decimal::from(grams),
            RateKind::Value => value,
        };
        self.bands
            .iter()
            .find(|band| measure <= band.up_to)
            .map(|band| cents(band.rate))
    }
}

/// A tax rate for a place and, optionally, a tax class of products.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct TaxRate {
    pub id: Uuid,
    pub name: String,
    /// ISO country code.
    pub country: String,
    /// Region within the country; absent applies to the whole country.
    pub region: Option<String>,
    /// Products of this tax class; absent applies to products without a more specific rate.
    pub tax_class: Option<String>,
    /// Percent, e.g. `8.25`.
    #[schema(value_type = String, example = "8.25")]
    pub rate: Decimal,
    /// Whether prices already include this tax (VAT style) rather than having it added.
    pub prices_include_tax: bool,
    /// Whether shipping is taxed at this rate too.
    pub applies_to_shipping: bool,
}

crate::stored_enum! {
    /// What a discount code takes off.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum DiscountKind {
        /// `value` percent off the lines.
        Percentage = "percentage",
        /// `value` off the lines (never below zero).
        FixedAmount = "fixed_amount",
        /// Shipping is free.
        FreeShipping = "free_shipping",
    }
}

/// A discount code and its limits.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct DiscountCode {
    pub id: Uuid,
    /// Upper case; matched case-insensitively.
    pub code: String,
    pub kind: DiscountKind,
    #[schema(value_type = String)]
    pub value: Decimal,
    /// Only for orders worth at least this (before discounts).
    #[schema(value_type = Option<String>)]
    pub min_order_value: Option<Decimal>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Uses in all; absent is unlimited.
    pub usage_limit: Option<i32>,
    /// Uses per customer (by email); absent is unlimited.
    pub per_customer_limit: Option<i32>,
    pub times_used: i32,
    pub active: bool,
}

impl DiscountCode {
    /// Why the code cannot be used for an order of `subtotal` now, if it cannot; `used_by_customer`
    /// counts this customer's earlier uses.
    pub fn refusal(
        &self,
        subtotal: Decimal,
        now: DateTime<Utc>,
        used_by_customer: i64,
    ) -> Option<String> {
        if !self.active {
            return Some("is not active".into());
        }
        if self.starts_at.is_some_and(|s| now < s) {
            return Some("is not valid yet".into());
        }
        if self.ends_at.is_some_and(|e| now >= e) {
            return Some("has expired".into());
        }
        if self
            .usage_limit
            .is_some_and(|limit| self.times_used >= limit)
        {
            return Some("has been used up".into());
        }
        if self
            .per_customer_limit
            .is_some_and(|limit| used_by_customer >= i64::from(limit))
        {
            return Some("was already used by this customer".into());
        }
        if let Some(min) = self.min_order_value
            && subtotal < min
        {
            return Some(format!("needs an order of at least {min}"));
        }
        None
    }
}

/// A line to price.
#[derive(Debug, Clone)]
pub struct PricedLineInput {
    pub unit_price: Decimal,
    pub quantity: i32,
    pub tax_class: Option<String>,
}

/// A line's share of discount and tax, and its total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LinePrice {
    #[schema(value_type = String)]
    pub subtotal: Decimal,
    #[schema(value_type = String)]
    pub discount: Decimal,
    #[schema(value_type = String)]
    pub tax: Decimal,
    /// What the customer pays for the line: subtotal − discount (+ tax when prices exclude it).
    #[schema(value_type = String)]
    pub total: Decimal,
}

/// The totals of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pricing {
    pub lines: Vec<LinePrice>,
    pub subtotal: Decimal,
    pub discount_total: Decimal,
    pub shipping_total: Decimal,
    pub shipping_tax: Decimal,
    pub tax_total: Decimal,
    pub total: Decimal,
}

/// The rate that applies to a tax class among rates for one place: the class's own rate, else
/// the place's general rate; a region's rates win over the country's.
pub fn rate_for<'a>(rates: &'a [TaxRate], tax_class: Option<&str>) -> Option<&'a TaxRate> {
    let specificity = |rate: &TaxRate| {
        let class = match (&rate.tax_class, tax_class) {
            (Some(c), Some(wanted)) if c.eq_ignore_ascii_case(wanted) => 2,
            (None, _) => 1,
            _ => 0,
        };
        (class, u8::from(rate.region.is_some()))
    };
    rates
        .iter()
        .filter(|rate| specificity(rate).0 > 0)
        .max_by_key(|rate| specificity(rate))
}

fn tax_on(amount: Decimal, rate: &TaxRate) -> Decimal {
    let fraction = rate.rate / Decimal::ONE_HUNDRED;
    if rate.prices_include_tax {
        cents(amount - amount / (Decimal::ONE + fraction))
    } else {
        cents(amount * fraction)
    }
}

/// Prices `lines` with an optional discount, shipping and the tax rates of the destination.
pub fn price(
    lines: &[PricedLineInput],
    discount: Option<&DiscountCode>,
    shipping: Decimal,
    rates: &[TaxRate],
) -> Pricing {
    let subtotals: Vec<Decimal> = lines
        .iter()
        .map(|l| cents(l.unit_price * Decimal::from(l.quantity)))
        .collect();
    let subtotal: Decimal = subtotals.iter().copied().sum();
    let discount_total = match discount.map(|d| (d.kind, d.value)) {
        Some((DiscountKind::Percentage, pct)) => {
            cents(subtotal * pct.min(Decimal::ONE_HUNDRED) / Decimal::ONE_HUNDRED)
        }
        Some((DiscountKind::FixedAmount, amount)) => cents(amount.min(subtotal)),
        _ => Decimal::ZERO,
    };
    // Spread the discount over the lines by value; the last line takes the rounding remainder.
    let mut discounts = Vec::with_capacity(lines.len());
    let mut left = discount_total;
    for (i, line_subtotal) in subtotals.iter().enumerate() {
        let share = if i + 1 == subtotals.len() || subtotal.is_zero() {
            left
        } else {
            cents(discount_total * line_subtotal / subtotal).min(left)
        };
        left -= share;
        discounts.push(share);
    }
    let free_shipping = discount.is_some_and(|d| d.kind == DiscountKind::FreeShipping);
    let shipping_total = if free_shipping {
        Decimal::ZERO
    } else {
        cents(shipping)
    };
    let mut priced = Vec::with_capacity(lines.len());
    let mut tax_total = Decimal::ZERO;
    let mut added_tax = Decimal::ZERO;
    for ((line, line_subtotal), line_discount) in lines.iter().zip(&subtotals).zip(&discounts) {
        let taxable = line_subtotal - line_discount;
        let rate = rate_for(rates, line.tax_class.as_deref());
        let tax = rate.map_or(Decimal::ZERO, |r| tax_on(taxable, r));
        let exclusive = rate.is_some_and(|r| !r.prices_include_tax);
        if exclusive {
            added_tax += tax;
        }
        tax_total += tax;
        priced.push(LinePrice {
            subtotal: *line_subtotal,
            discount: *line_discount,
            tax,
            total: if exclusive { taxable + tax } else { taxable },
        });
    }
    let shipping_rate = rate_for(rates, None).filter(|r| r.applies_to_shipping);
    let shipping_tax = shipping_rate.map_or(Decimal::ZERO, |r| tax_on(shipping_total, r));
    tax_total += shipping_tax;
    if shipping_rate.is_some_and(|r| !r.prices_include_tax) {
        added_tax += shipping_tax;
    }
    Pricing {
        lines: priced,
        subtotal,
        discount_total,
        shipping_total,
        shipping_tax,
        tax_total,
        total: subtotal - discount_total + shipping_total + added_tax,
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::dec;

    use super::*;

    fn rate(pct: Decimal, inclusive: bool, class: Option<&str>, region: Option<&str>) -> TaxRate {
        TaxRate {
            id: Uuid::nil(),
            name: "tax".into(),
            country: "US".into(),
            region: region.map(str::to_owned),
            tax_class: class.map(str::to_owned),
            rate: pct,
            prices_include_tax: inclusive,
            applies_to_shipping: true,
        }
    }

    fn line(price: Decimal, quantity: i32, class: Option<&str>) -> PricedLineInput {
        PricedLineInput {
            unit_price: price,
            quantity,
            tax_class: class.map(str::to_owned),
        }
    }

    fn code(kind: DiscountKind, value: Decimal) -> DiscountCode {
        DiscountCode {
            id: Uuid::nil(),
            code: "SAVE".into(),
            kind,
            value,
            min_order_value: Some(dec!(20)),
            starts_at: None,
            ends_at: None,
            usage_limit: Some(2),
            per_customer_limit: Some(1),
            times_used: 0,
            active: true,
        }
    }

    #[test]
    fn exclusive_tax_is_added_per_line_and_on_shipping() {
        let rates = [
            rate(dec!(8.25), false, None, Some("CA")),
            rate(dec!(5), false, None, None),
        ];
        let p = price(
            &[line(dec!(19.99), 3, None), line(dec!(0.99), 1, None)],
            None,
            dec!(5),
            &rates,
        );
        assert_eq!(p.subtotal, dec!(60.96));
        // The region's rate wins: 59.97 × 8.25% = 4.9475 → 4.95; 0.99 → 0.08; shipping 0.41.
        assert_eq!(p.lines[0].tax, dec!(4.95));
        assert_eq!(p.lines[1].tax, dec!(0.08));
        assert_eq!(p.shipping_tax, dec!(0.41));
        assert_eq!(p.tax_total, dec!(5.44));
        assert_eq!(p.total, dec!(60.96) + dec!(5) + dec!(5.44));
    }

    #[test]
    fn inclusive_tax_is_shown_but_not_added() {
        let rates = [rate(dec!(20), true, None, None)];
        let p = price(&[line(dec!(12), 1, None)], None, Decimal::ZERO, &rates);
        assert_eq!(p.lines[0].tax, dec!(2.00));
        assert_eq!(p.total, dec!(12));
    }

    #[test]
    fn a_tax_class_uses_its_own_rate() {
        let rates = [
            rate(dec!(20), false, None, None),
            rate(dec!(5), false, Some("books"), None),
        ];
        let p = price(
            &[line(dec!(10), 1, Some("books")), line(dec!(10), 1, None)],
            None,
            Decimal::ZERO,
            &rates,
        );
        assert_eq!((p.lines[0].tax, p.lines[1].tax), (dec!(0.50), dec!(2.00)));
    }

    #[test]
    fn discounts_spread_over_lines_and_add_up() {
        let percent = code(DiscountKind::Percentage, dec!(15));
        let p = price(
            &[line(dec!(10), 1, None), line(dec!(20.01), 1, None)],
            Some(&percent),
            dec!(4),
            &[],
        );
        assert_eq!(p.discount_total, dec!(4.50));
        assert_eq!(
            p.lines.iter().map(|l| l.discount).sum::<Decimal>(),
            dec!(4.50)
        );
        assert_eq!(p.total, dec!(30.01) - dec!(4.50) + dec!(4));
        let fixed = code(DiscountKind::FixedAmount, dec!(100));
        assert_eq!(
            price(&[line(dec!(10), 1, None)], Some(&fixed), Decimal::ZERO, &[]).total,
            Decimal::ZERO
        );
        let free = code(DiscountKind::FreeShipping, Decimal::ZERO);
        assert_eq!(
            price(&[line(dec!(10), 1, None)], Some(&free), dec!(7), &[]).shipping_total,
            Decimal::ZERO
        );
    }

    #[test]
    fn codes_have_limits() {
        let now = Utc::now();
        let mut c = code(DiscountKind::Percentage, dec!(10));
        assert_eq!(c.refusal(dec!(25), now, 0), None);
        assert!(
            c.refusal(dec!(10), now, 0)
                .is_some_and(|r| r.contains("at least"))
        );
        assert!(
            c.refusal(dec!(25), now, 1)
                .is_some_and(|r| r.contains("already used"))
        );
        c.times_used = 2;
        assert!(
            c.refusal(dec!(25), now, 0)
                .is_some_and(|r| r.contains("used up"))
        );
        c.times_used = 0;
        c.ends_at = Some(now);
        assert!(
            c.refusal(dec!(25), now, 0)
                .is_some_and(|r| r.contains("expired"))
        );
    }

    #[test]
    fn shipping_rates_by_flat_weight_value_and_free_threshold() {
        let mut m = ShippingMethod {
            id: Uuid::nil(),
            name: "Ground".into(),
            carrier: "UPS".into(),
            service: "Ground".into(),
            countries: vec!["US".into()],
            regions: vec![],
            kind: RateKind::Weight,
            rate: Decimal::ZERO,
            bands: vec![
                RateBand {
                    up_to: dec!(1000),
                    rate: dec!(5),
                },
                RateBand {
                    up_to: dec!(5000),
                    rate: dec!(9.5),
                },
            ],
            free_over: Some(dec!(100)),
            currency: "USD".into(),
            min_days: 3,
            max_days: 5,
            active: true,
        };
        assert!(m.serves("us", Some("CA")) && !m.serves("DE", None));
        assert_eq!(m.price(dec!(20), 800), Some(dec!(5)));
        assert_eq!(m.price(dec!(20), 4000), Some(dec!(9.50)));
        assert_eq!(m.price(dec!(20), 9000), None, "too heavy");
        assert_eq!(
            m.price(dec!(100), 9000),
            Some(Decimal::ZERO),
            "free over 100"
        );
        m.kind = RateKind::Value;
        m.bands = vec![
            RateBand {
                up_to: dec!(50),
                rate: dec!(6),
            },
            RateBand {
                up_to: dec!(99.99),
                rate: dec!(3),
            },
        ];
        assert_eq!(m.price(dec!(60), 0), Some(dec!(3)));
        m.kind = RateKind::Flat;
        m.rate = dec!(7.5);
        assert_eq!(m.price(dec!(10), 0), Some(dec!(7.50)));
    }
}
