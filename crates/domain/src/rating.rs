//! Table rating: what a parcel costs with a carrier whose prices the merchant loaded as a
//! rate table (zones by origin and destination, weight bands per service and zone,
//! dimensional weight, signature surcharges, transit days). Pure: the built-in carrier
//! adapter quotes with it, and a test can check any price by hand.

use chrono::{Datelike as _, NaiveDate, Weekday};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::fulfillment::SignatureRequirement;
use super::{Address, Money};

/// A carrier's prices, as the merchant loads them.
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
#[graphql(input_name = "RateTableInput")]
pub struct RateTable {
    /// ISO 4217 currency of every price in the table.
    pub currency: String,
    /// Cubic centimetres per kilogram for dimensional weight (5000 is common); a parcel is
    /// charged by the larger of its weight and `length × width × height ÷ divisor`.
    pub dim_divisor: i32,
    /// Which zone a parcel travels in; the most specific rule that matches wins.
    pub zones: Vec<ZoneRule>,
    pub services: Vec<ServiceRates>,
}

/// Parcels from `origin` to `destination` travel in `zone`. A postal prefix narrows a
/// country; without one the rule covers the whole country.
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
#[graphql(input_name = "ZoneRuleInput")]
pub struct ZoneRule {
    /// ISO 3166-1 alpha-2, e.g. `US`.
    pub origin_country: String,
    pub origin_postal_prefix: Option<String>,
    pub destination_country: String,
    pub destination_postal_prefix: Option<String>,
    pub zone: i32,
}

/// One service level's prices.
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
#[graphql(input_name = "ServiceRatesInput")]
pub struct ServiceRates {
    /// e.g. `ground`, `express` (lowercase letters, digits and `_`).
    pub code: String,
    /// e.g. `UPS Ground`.
    pub name: String,
    /// Whether the carrier guarantees the delivery date (money back when late).
    pub guaranteed: bool,
    /// Business days in transit per zone.
    pub transit: Vec<ZoneTransit>,
    /// Price per parcel by zone and billable weight: the band with the smallest
    /// `max_weight_grams` at or above the parcel's applies.
    pub bands: Vec<WeightBand>,
    /// Added once per shipment that needs a signature.
    #[schema(value_type = String, example = "5.50")]
    pub signature_surcharge: Decimal,
    /// Added instead when an adult must sign.
    #[schema(value_type = String, example = "7.50")]
    pub adult_signature_surcharge: Decimal,
}

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
#[graphql(input_name = "ZoneTransitInput")]
pub struct ZoneTransit {
    pub zone: i32,
    pub business_days: i32,
}

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
#[graphql(input_name = "WeightBandInput")]
pub struct WeightBand {
    pub zone: i32,
    pub max_weight_grams: i32,
    #[schema(value_type = String, example = "9.80")]
    pub price: Decimal,
}

/// One parcel to rate: grams and millimetres.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parcel {
    pub weight_grams: i32,
    pub length_mm: i32,
    pub width_mm: i32,
    pub height_mm: i32,
}

impl Parcel {
    /// The weight charged for: the actual weight or the dimensional one, whichever is more.
    pub fn billable_grams(&self, dim_divisor: i32) -> i64 {
        let volume_mm3 =
            i64::from(self.length_mm) * i64::from(self.width_mm) * i64::from(self.height_mm);
        // mm³ ÷ (cm³/kg) = mm³ ÷ (1000 mm³ / 1000 g) = grams; rounded up as carriers do.
        let divisor = i64::from(dim_divisor.max(1));
        let dimensional = (volume_mm3 + divisor - 1) / divisor;
        dimensional.max(i64::from(self.weight_grams))
    }
}

/// What one service of a table charges for a shipment.
#[derive(Debug, Clone, PartialEq)]
pub struct TableQuote {
    pub service: String,
    pub service_name: String,
    pub price: Money,
    pub business_days: i32,
    pub guaranteed: bool,
}

fn postal_match(prefix: &Option<String>, postal: Option<&str>) -> Option<usize> {
    match prefix.as_deref().map(str::trim) {
        None | Some("") => Some(0),
        Some(prefix) => {
            let postal = postal
                .unwrap_or_default()
                .replace(' ', "")
                .to_ascii_uppercase();
            postal
                .starts_with(&prefix.replace(' ', "").to_ascii_uppercase())
                .then_some(prefix.len())
        }
    }
}

impl RateTable {
    /// The zone between two addresses: the matching rule with the longest postal prefixes.
    pub fn zone(&self, origin: &Address, destination: &Address) -> Option<i32> {
        self.zones
            .iter()
            .filter(|z| z.origin_country.eq_ignore_ascii_case(&origin.country))
            .filter(|z| {
                z.destination_country
                    .eq_ignore_ascii_case(&destination.country)
            })
            .filter_map(|z| {
                let from = postal_match(&z.origin_postal_prefix, origin.postal_code.as_deref())?;
                let to = postal_match(
                    &z.destination_postal_prefix,
                    destination.postal_code.as_deref(),
                )?;
                Some(((from, to), z.zone))
            })
            .max_by_key(|(specificity, _)| *specificity)
            .map(|(_, zone)| zone)
    }

    /// Every service's price for these parcels between two addresses; services with no
    /// band heavy enough (or no transit time) for the zone are left out. Empty when no zone
    /// covers the route.
    pub fn quote(
        &self,
        origin: &Address,
        destination: &Address,
        parcels: &[Parcel],
        signature: SignatureRequirement,
    ) -> Vec<TableQuote> {
        let Some(zone) = self.zone(origin, destination) else {
            return Vec::new();
        };
        self.services
            .iter()
            .filter_map(|service| {
                let days = service
                    .transit
                    .iter()
                    .find(|t| t.zone == zone)?
                    .business_days;
                let mut price = Decimal::ZERO;
                for parcel in parcels {
                    let weight = parcel.billable_grams(self.dim_divisor);
                    let band = service
                        .bands
                        .iter()
                        .filter(|b| b.zone == zone && i64::from(b.max_weight_grams) >= weight)
                        .min_by_key(|b| b.max_weight_grams)?;
                    price += band.price;
                }
                price += match signature {
                    SignatureRequirement::None => Decimal::ZERO,
                    SignatureRequirement::Signature => service.signature_surcharge,
                    SignatureRequirement::AdultSignature => service.adult_signature_surcharge,
                };
                Some(TableQuote {
                    service: service.code.clone(),
                    service_name: service.name.clone(),
                    price: Money::from_stored(price, &self.currency),
                    business_days: days,
                    guaranteed: service.guaranteed,
                })
            })
            .collect()
    }

    /// What is wrong with the table, as `(field path, message)`; empty when it can be used.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut add = |field: String, message: &str| problems.push((field, message.to_owned()));
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            add("currency".into(), "must be an ISO 4217 code such as USD");
        }
        if !(1..=100_000).contains(&self.dim_divisor) {
            add("dim_divisor".into(), "must be 1 to 100000");
        }
        if self.zones.is_empty() || self.zones.len() > 5_000 {
            add("zones".into(), "must hold 1 to 5000 rules");
        }
        for (i, z) in self.zones.iter().enumerate() {
            for (name, country) in [
                ("origin_country", &z.origin_country),
                ("destination_country", &z.destination_country),
            ] {
                if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
                    add(
                        format!("zones[{i}].{name}"),
                        "must be a two-letter country code",
                    );
                }
            }
        }
        if self.services.is_empty() || self.services.len() > 50 {
            add("services".into(), "must hold 1 to 50 services");
        }
        for (i, s) in self.services.iter().enumerate() {
            let at = |name: &str| format!("services[{i}].{name}");
            let code_ok = !s.code.is_empty()
                && s.code.len() <= 50
                && s.code
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !code_ok {
                add(
                    at("code"),
                    "must be lowercase letters, digits and `_`, up to 50",
                );
            }
            if self.services[..i].iter().any(|other| other.code == s.code) {
                add(at("code"), "is used by another service");
            }
            if s.name.trim().is_empty() || s.name.len() > 100 {
                add(at("name"), "must be 1 to 100 characters");
            }
            if s.bands.is_empty() || s.bands.len() > 10_000 {
                add(at("bands"), "must hold 1 to 10000 bands");
            }
            for (j, b) in s.bands.iter().enumerate() {
                if b.max_weight_grams < 1 {
                    add(
                        format!("services[{i}].bands[{j}].max_weight_grams"),
                        "must be at least 1",
                    );
                }
                if b.price.is_sign_negative() {
                    add(
                        format!("services[{i}].bands[{j}].price"),
                        "must not be negative",
                    );
                }
            }
            for (j, t) in s.transit.iter().enumerate() {
                if !(0..=60).contains(&t.business_days) {
                    add(
                        format!("services[{i}].transit[{j}].business_days"),
                        "must be 0 to 60",
                    );
                }
            }
            for (name, amount) in [
                ("signature_surcharge", s.signature_surcharge),
                ("adult_signature_surcharge", s.adult_signature_surcharge),
            ] {
                if amount.is_sign_negative() {
                    add(at(name), "must not be negative");
                }
            }
        }
        problems
    }
}

/// The day a parcel handed over on `from` arrives after `business_days` (Saturdays and
/// Sundays do not count; a parcel handed over at the weekend leaves on Monday).
pub fn add_business_days(from: NaiveDate, business_days: i32) -> NaiveDate {
    let is_weekend = |d: NaiveDate| matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
    let mut day = from;
    while is_weekend(day) {
        day = day.succ_opt().unwrap_or(day);
    }
    let mut left = business_days;
    while left > 0 {
        day = day.succ_opt().unwrap_or(day);
        if !is_weekend(day) {
            left -= 1;
        }
    }
    day
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(country: &str, postal: &str) -> Address {
        Address {
            first_name: None,
            last_name: None,
            company: None,
            line1: "1 Main St".into(),
            line2: None,
            city: "Town".into(),
            region: None,
            postal_code: Some(postal.into()),
            country: country.into(),
            phone: None,
        }
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn table() -> RateTable {
        let zone = |dest: Option<&str>, zone| ZoneRule {
            origin_country: "US".into(),
            origin_postal_prefix: None,
            destination_country: "US".into(),
            destination_postal_prefix: dest.map(Into::into),
            zone,
        };
        let band = |zone, max_weight_grams, price: &str| WeightBand {
            zone,
            max_weight_grams,
            price: d(price),
        };
        RateTable {
            currency: "USD".into(),
            dim_divisor: 5000,
            zones: vec![zone(None, 5), zone(Some("9"), 8), zone(Some("941"), 2)],
            services: vec![ServiceRates {
                code: "ground".into(),
                name: "Ground".into(),
                guaranteed: false,
                transit: vec![
                    ZoneTransit {
                        zone: 2,
                        business_days: 1,
                    },
                    ZoneTransit {
                        zone: 5,
                        business_days: 3,
                    },
                    ZoneTransit {
                        zone: 8,
                        business_days: 5,
                    },
                ],
                bands: vec![
                    band(2, 1000, "6.00"),
                    band(2, 5000, "9.00"),
                    band(5, 1000, "8.00"),
                    band(5, 5000, "12.00"),
                    band(8, 1000, "11.00"),
                ],
                signature_surcharge: d("5.50"),
                adult_signature_surcharge: d("7.50"),
            }],
        }
    }

    #[test]
    fn the_most_specific_zone_rule_wins() {
        let t = table();
        let from = at("US", "10001");
        assert_eq!(t.zone(&from, &at("US", "94107")), Some(2));
        assert_eq!(t.zone(&from, &at("US", "90210")), Some(8));
        assert_eq!(t.zone(&from, &at("US", "60601")), Some(5));
        assert_eq!(t.zone(&from, &at("CA", "M5V 2T6")), None);
    }

    #[test]
    fn parcels_are_charged_by_the_heavier_of_weight_and_volume() {
        // 300 × 300 × 300 mm = 27,000 cm³ ÷ 5000 = 5.4 kg, above its 1 kg.
        let bulky = Parcel {
            weight_grams: 1000,
            length_mm: 300,
            width_mm: 300,
            height_mm: 300,
        };
        assert_eq!(bulky.billable_grams(5000), 5400);
        let dense = Parcel {
            weight_grams: 2000,
            length_mm: 100,
            width_mm: 100,
            height_mm: 100,
        };
        assert_eq!(dense.billable_grams(5000), 2000);
    }

    #[test]
    fn a_quote_sums_the_bands_of_every_parcel_and_the_signature() {
        let t = table();
        let small = Parcel {
            weight_grams: 800,
            length_mm: 100,
            width_mm: 100,
            height_mm: 100,
        };
        let mid = Parcel {
            weight_grams: 3000,
            length_mm: 200,
            width_mm: 200,
            height_mm: 200,
        };
        let quotes = t.quote(
            &at("US", "10001"),
            &at("US", "60601"),
            &[small, mid],
            SignatureRequirement::Signature,
        );
        assert_eq!(quotes.len(), 1);
        assert_eq!(
            quotes[0].price,
            Money::from_stored(d("25.50"), "USD"),
            "8 + 12 + 5.50"
        );
        assert_eq!(quotes[0].business_days, 3);
        // Too heavy for any zone-8 band: the service cannot carry it there.
        assert!(
            t.quote(
                &at("US", "10001"),
                &at("US", "90210"),
                &[mid],
                SignatureRequirement::None
            )
            .is_empty()
        );
        let adult = t.quote(
            &at("US", "10001"),
            &at("US", "94107"),
            &[small],
            SignatureRequirement::AdultSignature,
        );
        assert_eq!(adult[0].price, Money::from_stored(d("13.50"), "USD"));
    }

    #[test]
    fn business_days_skip_weekends() {
        let friday = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        assert_eq!(
            add_business_days(friday, 1),
            NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
        );
        assert_eq!(add_business_days(friday, 0), friday);
        let saturday = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        assert_eq!(
            add_business_days(saturday, 2),
            NaiveDate::from_ymd_opt(2026, 12, 9).unwrap()
        );
    }

    #[test]
    fn a_bad_table_names_each_problem() {
        let mut t = table();
        t.currency = "usd".into();
        t.services[0].code = "Ground!".into();
        t.services[0].bands[0].price = d("-1");
        let fields: Vec<String> = t.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            ["currency", "services[0].code", "services[0].bands[0].price"]
        );
        assert!(table().problems().is_empty());
    }
}
