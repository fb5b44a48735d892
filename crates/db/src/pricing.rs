//! Rows and queries for shipping methods, tax rates, discount codes and their redemptions.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::schema::{discount_codes, discount_redemptions, shipping_methods, tax_rates};
use stateset_domain::{DiscountCode, DiscountKind, RateBand, RateKind, ShippingMethod, TaxRate};

/// A `shipping_methods` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = shipping_methods)]
pub struct ShippingMethodRow {
    pub id: Uuid,
    pub name: String,
    pub carrier: String,
    pub service: String,
    pub countries: Vec<String>,
    pub regions: Vec<String>,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub kind: RateKind,
    pub rate: Decimal,
    pub bands: serde_json::Value,
    pub free_over: Option<Decimal>,
    pub currency: String,
    pub min_days: i32,
    pub max_days: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<ShippingMethodRow> for ShippingMethod {
    fn from(row: ShippingMethodRow) -> Self {
        ShippingMethod {
            id: row.id,
            name: row.name,
            carrier: row.carrier,
            service: row.service,
            countries: row.countries,
            regions: row.regions,
            kind: row.kind,
            rate: row.rate,
            bands: serde_json::from_value::<Vec<RateBand>>(row.bands).unwrap_or_default(),
            free_over: row.free_over,
            currency: row.currency,
            min_days: row.min_days,
            max_days: row.max_days,
            active: row.active,
        }
    }
}

/// A `tax_rates` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tax_rates)]
pub struct TaxRateRow {
    pub id: Uuid,
    pub name: String,
    pub country: String,
    pub region: Option<String>,
    pub tax_class: Option<String>,
    pub rate: Decimal,
    pub prices_include_tax: bool,
    pub applies_to_shipping: bool,
    pub created_at: DateTime<Utc>,
}

impl From<TaxRateRow> for TaxRate {
    fn from(row: TaxRateRow) -> Self {
        TaxRate {
            id: row.id,
            name: row.name,
            country: row.country,
            region: row.region,
            tax_class: row.tax_class,
            rate: row.rate,
            prices_include_tax: row.prices_include_tax,
            applies_to_shipping: row.applies_to_shipping,
        }
    }
}

/// A `discount_codes` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = discount_codes)]
pub struct DiscountRow {
    pub id: Uuid,
    pub code: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub kind: DiscountKind,
    pub value: Decimal,
    pub min_order_value: Option<Decimal>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub usage_limit: Option<i32>,
    pub per_customer_limit: Option<i32>,
    pub times_used: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<DiscountRow> for DiscountCode {
    fn from(row: DiscountRow) -> Self {
        DiscountCode {
            id: row.id,
            code: row.code,
            kind: row.kind,
            value: row.value,
            min_order_value: row.min_order_value,
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            usage_limit: row.usage_limit,
            per_customer_limit: row.per_customer_limit,
            times_used: row.times_used,
            active: row.active,
        }
    }
}

pub async fn insert_shipping_method(
    conn: &mut AsyncPgConnection,
    row: &ShippingMethodRow,
) -> QueryResult<()> {
    diesel::insert_into(shipping_methods::table)
        .values(row.clone())
        .execute(conn)
        .await
        .map(drop)
}

pub async fn shipping_methods(conn: &mut AsyncPgConnection) -> QueryResult<Vec<ShippingMethodRow>> {
    shipping_methods::table
        .select(ShippingMethodRow::as_select())
        .order(shipping_methods::id)
        .load(conn)
        .await
}

pub async fn shipping_method(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<ShippingMethodRow>> {
    shipping_methods::table
        .find(id)
        .select(ShippingMethodRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Whether a method was deleted.
pub async fn delete_shipping_method(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    Ok(diesel::delete(shipping_methods::table.find(id))
        .execute(conn)
        .await?
        > 0)
}

pub async fn insert_tax_rate(conn: &mut AsyncPgConnection, row: &TaxRateRow) -> QueryResult<()> {
    diesel::insert_into(tax_rates::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn tax_rates(conn: &mut AsyncPgConnection) -> QueryResult<Vec<TaxRateRow>> {
    tax_rates::table
        .select(TaxRateRow::as_select())
        .order((tax_rates::country, tax_rates::region, tax_rates::tax_class))
        .load(conn)
        .await
}

/// The rates of a destination: the country's, and the region's when given.
pub async fn tax_rates_for(
    conn: &mut AsyncPgConnection,
    country: &str,
    region: Option<&str>,
) -> QueryResult<Vec<TaxRateRow>> {
    let rows: Vec<TaxRateRow> = tax_rates::table
        .filter(tax_rates::country.eq(country.to_uppercase()))
        .select(TaxRateRow::as_select())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|r| match (&r.region, region) {
            (None, _) => true,
            (Some(rate_region), Some(region)) => rate_region.eq_ignore_ascii_case(region),
            (Some(_), None) => false,
        })
        .collect())
}

pub async fn delete_tax_rate(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    Ok(diesel::delete(tax_rates::table.find(id))
        .execute(conn)
        .await?
        > 0)
}

pub async fn insert_discount(conn: &mut AsyncPgConnection, row: &DiscountRow) -> QueryResult<()> {
    diesel::insert_into(discount_codes::table)
        .values(row.clone())
        .execute(conn)
        .await
        .map(drop)
}

/// Up to `limit` codes in code order after `after` (a code; codes are unique), and how many
/// codes there are in all.
pub async fn discounts(
    conn: &mut AsyncPgConnection,
    after: Option<String>,
    limit: i64,
) -> QueryResult<(Vec<DiscountRow>, i64)> {
    let total = discount_codes::table.count().get_result(conn).await?;
    let mut query = discount_codes::table
        .select(DiscountRow::as_select())
        .order(discount_codes::code)
        .limit(limit)
        .into_boxed();
    if let Some(code) = after {
        query = query.filter(discount_codes::code.gt(code));
    }
    Ok((query.load(conn).await?, total))
}

/// The code (upper-cased), optionally locked until the transaction ends so its use counts
/// cannot race.
pub async fn discount_by_code(
    conn: &mut AsyncPgConnection,
    code: &str,
    lock: bool,
) -> QueryResult<Option<DiscountRow>> {
    let query = discount_codes::table
        .filter(discount_codes::code.eq(code.trim().to_uppercase()))
        .select(DiscountRow::as_select());
    if lock {
        query.for_update().first(conn).await.optional()
    } else {
        query.first(conn).await.optional()
    }
}

pub async fn delete_discount(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    Ok(diesel::delete(discount_codes::table.find(id))
        .execute(conn)
        .await?
        > 0)
}

/// How often `email` has used the code.
pub async fn redemptions_by(
    conn: &mut AsyncPgConnection,
    discount_id: Uuid,
    email: &str,
) -> QueryResult<i64> {
    discount_redemptions::table
        .filter(discount_redemptions::discount_id.eq(discount_id))
        .filter(discount_redemptions::email.eq(email.to_lowercase()))
        .count()
        .get_result(conn)
        .await
}

/// Counts one use of a (locked) code by an order.
pub async fn redeem(
    conn: &mut AsyncPgConnection,
    discount_id: Uuid,
    order_id: Uuid,
    email: &str,
) -> QueryResult<()> {
    diesel::insert_into(discount_redemptions::table)
        .values((
            discount_redemptions::id.eq(Uuid::now_v7()),
            discount_redemptions::discount_id.eq(discount_id),
            discount_redemptions::order_id.eq(order_id),
            discount_redemptions::email.eq(email.to_lowercase()),
        ))
        .execute(conn)
        .await?;
    diesel::update(discount_codes::table.find(discount_id))
        .set(discount_codes::times_used.eq(discount_codes::times_used + 1))
        .execute(conn)
        .await
        .map(drop)
}

/// The tax class of each variant's product, for the variants whose product has one.
pub async fn tax_classes_of(
    conn: &mut AsyncPgConnection,
    variant_ids: &[Uuid],
) -> QueryResult<std::collections::HashMap<Uuid, String>> {
    use super::schema::{product_variants, products};
    let rows: Vec<(Uuid, Option<String>)> = product_variants::table
        .inner_join(products::table)
        .filter(product_variants::id.eq_any(variant_ids))
        .select((product_variants::id, products::tax_class))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, class)| class.map(|c| (id, c)))
        .collect())
}
