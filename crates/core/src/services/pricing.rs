//! The shop's pricing settings: shipping methods, tax rates and discount codes. Checkout prices
//! with them through `domain::pricing`.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::checks::check_text;
use super::error::Validator;
use super::page::{Keyset, Page, PageRequest};
use super::{Ctx, Error};
use stateset_db::Db;
use stateset_db::pricing::{self as q, DiscountRow, ShippingMethodRow, TaxRateRow};
use stateset_domain::{DiscountCode, DiscountKind, RateBand, RateKind, ShippingMethod, TaxRate};

/// A new shipping method.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CreateShippingMethodInput {
    pub name: String,
    pub carrier: String,
    pub service: String,
    /// ISO country codes served; empty or absent serves everywhere.
    #[serde(default)]
    #[graphql(default)]
    pub countries: Vec<String>,
    /// Regions served within those countries; empty or absent serves all.
    #[serde(default)]
    #[graphql(default)]
    pub regions: Vec<String>,
    pub kind: RateKind,
    /// The price of a flat rate.
    #[schema(value_type = Option<String>, example = "5.00")]
    pub rate: Option<Decimal>,
    /// For weight (grams) and value rates: bands by ascending `up_to`.
    #[serde(default)]
    #[graphql(default)]
    pub bands: Vec<RateBand>,
    /// Free from this order value up.
    #[schema(value_type = Option<String>)]
    pub free_over: Option<Decimal>,
    pub currency: String,
    pub min_days: i32,
    pub max_days: i32,
    pub active: Option<bool>,
}

/// A new tax rate.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CreateTaxRateInput {
    pub name: String,
    /// ISO country code, e.g. `US`.
    pub country: String,
    pub region: Option<String>,
    pub tax_class: Option<String>,
    /// Percent, 0 to 100.
    #[schema(value_type = String, example = "8.25")]
    pub rate: Decimal,
    /// Default false: tax is added to prices.
    pub prices_include_tax: Option<bool>,
    /// Default true.
    pub applies_to_shipping: Option<bool>,
}

/// A new discount code.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CreateDiscountCodeInput {
    /// 3 to 64 letters, digits, `-` or `_`; stored upper case.
    pub code: String,
    pub kind: DiscountKind,
    /// Percent (0–100] or amount (> 0); ignored for free shipping.
    #[schema(value_type = Option<String>)]
    pub value: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub min_order_value: Option<Decimal>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub usage_limit: Option<i32>,
    pub per_customer_limit: Option<i32>,
    pub active: Option<bool>,
}

fn country_code(v: &mut Validator, field: &str, raw: &str) -> String {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        v.add(field, "must be a two-letter ISO 3166 country code");
    }
    code
}

fn short_code(v: &mut Validator, field: &str, raw: &str) -> String {
    let code = raw.trim().to_ascii_uppercase();
    if code.is_empty()
        || code.len() > 32
        || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        v.add(field, "must be 1 to 32 letters, digits or `-`");
    }
    code
}

fn non_negative(v: &mut Validator, field: &str, amount: Option<Decimal>) -> Option<Decimal> {
    if amount.is_some_and(|a| a.is_sign_negative() || a > Decimal::from(1_000_000_000)) {
        v.add(field, "must be between 0 and 1000000000");
    }
    amount
}

/// Shipping methods, tax rates and discount codes.
#[derive(Clone)]
pub struct PricingService {
    db: Db,
}

impl PricingService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn shipping_methods(&self, ctx: &Ctx) -> Result<Vec<ShippingMethod>, Error> {
        ctx.authorize("pricing:read")?;
        let mut conn = self.db.conn().await?;
        Ok(q::shipping_methods(&mut conn)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn create_shipping_method(
        &self,
        ctx: &Ctx,
        input: CreateShippingMethodInput,
    ) -> Result<ShippingMethod, Error> {
        ctx.authorize("pricing:manage")?;
        let mut v = Validator::default();
        check_text(&mut v, "name", &input.name, 1, 100);
        check_text(&mut v, "carrier", &input.carrier, 1, 100);
        check_text(&mut v, "service", &input.service, 1, 100);
        let countries: Vec<String> = input
            .countries
            .iter()
            .enumerate()
            .map(|(i, c)| country_code(&mut v, &format!("countries[{i}]"), c))
            .collect();
        let regions: Vec<String> = input
            .regions
            .iter()
            .enumerate()
            .map(|(i, r)| short_code(&mut v, &format!("regions[{i}]"), r))
            .collect();
        let rate = non_negative(&mut v, "rate", input.rate);
        if input.kind == RateKind::Flat && rate.is_none() {
            v.add("rate", "is required for a flat rate");
        }
        if input.kind != RateKind::Flat && input.bands.is_empty() {
            v.add("bands", "are required for weight and value rates");
        }
        for (i, band) in input.bands.iter().enumerate() {
            non_negative(&mut v, &format!("bands[{i}].rate"), Some(band.rate));
            non_negative(&mut v, &format!("bands[{i}].up_to"), Some(band.up_to));
            if i > 0 && band.up_to <= input.bands[i - 1].up_to {
                v.add(
                    format!("bands[{i}].up_to"),
                    "must be above the previous band's",
                );
            }
        }
        non_negative(&mut v, "free_over", input.free_over);
        let currency = v.currency("currency", &input.currency);
        if !(0..=365).contains(&input.min_days) {
            v.add("min_days", "must be between 0 and 365");
        }
        if input.max_days < input.min_days || input.max_days > 365 {
            v.add("max_days", "must be between min_days and 365");
        }
        v.finish()?;
        let Some(currency) = currency else {
            return Err(Error::invalid("currency", "is required"));
        };
        let row = ShippingMethodRow {
            id: Uuid::now_v7(),
            name: input.name.trim().to_owned(),
            carrier: input.carrier.trim().to_owned(),
            service: input.service.trim().to_owned(),
            countries,
            regions,
            kind: input.kind,
            rate: rate.unwrap_or_default(),
            bands: serde_json::to_value(&input.bands).map_err(anyhow::Error::new)?,
            free_over: input.free_over,
            currency: currency.into_string(),
            min_days: input.min_days,
            max_days: input.max_days,
            active: input.active.unwrap_or(true),
            created_at: Utc::now(),
        };
        let mut conn = self.db.conn().await?;
        q::insert_shipping_method(&mut conn, &row).await?;
        Ok(row.into())
    }

    pub async fn delete_shipping_method(&self, ctx: &Ctx, id: Uuid) -> Result<(), Error> {
        ctx.authorize("pricing:manage")?;
        let mut conn = self.db.conn().await?;
        if q::delete_shipping_method(&mut conn, id).await? {
            Ok(())
        } else {
            Err(Error::not_found("shipping method", id))
        }
    }

    pub async fn tax_rates(&self, ctx: &Ctx) -> Result<Vec<TaxRate>, Error> {
        ctx.authorize("pricing:read")?;
        let mut conn = self.db.conn().await?;
        Ok(q::tax_rates(&mut conn)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn create_tax_rate(
        &self,
        ctx: &Ctx,
        input: CreateTaxRateInput,
    ) -> Result<TaxRate, Error> {
        ctx.authorize("pricing:manage")?;
        let mut v = Validator::default();
        check_text(&mut v, "name", &input.name, 1, 100);
        let country = country_code(&mut v, "country", &input.country);
        let region = input
            .region
            .as_deref()
            .map(|r| short_code(&mut v, "region", r));
        let tax_class = input
            .tax_class
            .as_deref()
            .map(|c| super::checks::tax_class(&mut v, "tax_class", c));
        if input.rate.is_sign_negative()
            || input.rate > Decimal::ONE_HUNDRED
            || input.rate.scale() > 4
        {
            v.add(
                "rate",
                "must be a percentage between 0 and 100 with at most 4 decimals",
            );
        }
        v.finish()?;
        let row = TaxRateRow {
            id: Uuid::now_v7(),
            name: input.name.trim().to_owned(),
            country,
            region,
            tax_class,
            rate: input.rate,
            prices_include_tax: input.prices_include_tax.unwrap_or(false),
            applies_to_shipping: input.applies_to_shipping.unwrap_or(true),
            created_at: Utc::now(),
        };
        let mut conn = self.db.conn().await?;
        q::insert_tax_rate(&mut conn, &row)
            .await
            .map_err(|e| match e {
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                ) => Error::Conflict {
                    field: Some("country".into()),
                    message: "a rate for this country, region and tax class already exists".into(),
                },
                other => other.into(),
            })?;
        Ok(row.into())
    }

    pub async fn delete_tax_rate(&self, ctx: &Ctx, id: Uuid) -> Result<(), Error> {
        ctx.authorize("pricing:manage")?;
        let mut conn = self.db.conn().await?;
        if q::delete_tax_rate(&mut conn, id).await? {
            Ok(())
        } else {
            Err(Error::not_found("tax rate", id))
        }
    }

    /// Discount codes in code order, paged: a promotion may hand out thousands of codes.
    pub async fn discount_codes(
        &self,
        ctx: &Ctx,
        page: PageRequest,
    ) -> Result<Page<DiscountCode>, Error> {
        ctx.authorize("pricing:read")?;
        let limit = page.limit()?;
        let after = page.keyset("code")?.map(|at| at.key);
        let mut conn = self.db.conn().await?;
        let (rows, total) = q::discounts(&mut conn, after, limit + 1).await?;
        let position = |row: &DiscountRow| Keyset {
            key: row.code.clone(),
            id: row.id,
        };
        Ok(page.page("code", limit, rows, total, position, Into::into))
    }

    /// One discount code by its code, in any case.
    pub async fn discount_code(&self, ctx: &Ctx, code: &str) -> Result<DiscountCode, Error> {
        ctx.authorize("pricing:read")?;
        let mut conn = self.db.conn().await?;
        q::discount_by_code(&mut conn, code, false)
            .await?
            .map(Into::into)
            .ok_or_else(|| Error::not_found("discount code", code.trim().to_uppercase()))
    }

    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn create_discount_code(
        &self,
        ctx: &Ctx,
        input: CreateDiscountCodeInput,
    ) -> Result<DiscountCode, Error> {
        ctx.authorize("pricing:manage")?;
        let mut v = Validator::default();
        let code = input.code.trim().to_ascii_uppercase();
        if !(3..=64).contains(&code.len())
            || !code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            v.add("code", "must be 3 to 64 letters, digits, `-` or `_`");
        }
        let value = non_negative(&mut v, "value", input.value).unwrap_or_default();
        match input.kind {
            DiscountKind::Percentage if value.is_zero() || value > Decimal::ONE_HUNDRED => {
                v.add("value", "must be a percentage above 0 and at most 100")
            }
            DiscountKind::FixedAmount if value.is_zero() => v.add("value", "must be above 0"),
            _ => {}
        }
        non_negative(&mut v, "min_order_value", input.min_order_value);
        if let (Some(start), Some(end)) = (input.starts_at, input.ends_at)
            && end <= start
        {
            v.add("ends_at", "must be after starts_at");
        }
        for (field, limit) in [
            ("usage_limit", input.usage_limit),
            ("per_customer_limit", input.per_customer_limit),
        ] {
            if limit.is_some_and(|l| l < 1) {
                v.add(field, "must be at least 1");
            }
        }
        v.finish()?;
        let row = DiscountRow {
            id: Uuid::now_v7(),
            code,
            kind: input.kind,
            value,
            min_order_value: input.min_order_value,
            starts_at: input.starts_at,
            ends_at: input.ends_at,
            usage_limit: input.usage_limit,
            per_customer_limit: input.per_customer_limit,
            times_used: 0,
            active: input.active.unwrap_or(true),
            created_at: Utc::now(),
        };
        self.db
            .tx(
                "create_discount_code",
                async |conn: &mut AsyncPgConnection| {
                    if q::discount_by_code(conn, &row.code, false).await?.is_some() {
                        return Err(Error::Conflict {
                            field: Some("code".into()),
                            message: format!("the code `{}` exists already", row.code),
                        });
                    }
                    q::insert_discount(conn, &row).await?;
                    Ok(())
                },
            )
            .await?;
        Ok(row.into())
    }

    pub async fn delete_discount_code(&self, ctx: &Ctx, id: Uuid) -> Result<(), Error> {
        ctx.authorize("pricing:manage")?;
        let mut conn = self.db.conn().await?;
        if q::delete_discount(&mut conn, id).await? {
            Ok(())
        } else {
            Err(Error::not_found("discount code", id))
        }
    }
}
