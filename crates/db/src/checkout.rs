//! Rows and queries for payment tokens, payments and checkouts.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::schema::{checkouts, payment_tokens, payments, provider_events};
use stateset_domain::{CheckoutStatus, Money, Payment, PaymentStatus};

/// A `payment_tokens` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = payment_tokens)]
pub struct TokenRow {
    pub id: String,
    pub provider: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i32,
    pub exp_year: i32,
    pub outcome: String,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The provider's own id for the card when it differs from `id` (a Stripe `pm_...` behind
    /// a vault `vt_...` token).
    pub provider_token: Option<String>,
}

pub async fn insert_token(conn: &mut AsyncPgConnection, row: &TokenRow) -> QueryResult<()> {
    diesel::insert_into(payment_tokens::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn token(conn: &mut AsyncPgConnection, id: &str) -> QueryResult<Option<TokenRow>> {
    payment_tokens::table
        .find(id)
        .select(TokenRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// A token, locked until the transaction ends: two payments cannot both spend it.
pub async fn lock_token(conn: &mut AsyncPgConnection, id: &str) -> QueryResult<Option<TokenRow>> {
    payment_tokens::table
        .find(id)
        .select(TokenRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn use_token(conn: &mut AsyncPgConnection, id: &str) -> QueryResult<()> {
    diesel::update(payment_tokens::table.find(id))
        .set(payment_tokens::used_at.eq(Utc::now()))
        .execute(conn)
        .await
        .map(drop)
}

/// A `payments` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = payments)]
pub struct PaymentRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub provider: String,
    pub provider_reference: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: PaymentStatus,
    pub amount: Decimal,
    pub captured_amount: Decimal,
    pub refunded_amount: Decimal,
    pub currency: String,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub failure_code: Option<String>,
}

impl From<PaymentRow> for Payment {
    fn from(row: PaymentRow) -> Self {
        Payment {
            id: row.id,
            order_id: row.order_id,
            provider: row.provider,
            provider_reference: row.provider_reference,
            status: row.status,
            amount: Money::from_stored(row.amount, &row.currency),
            captured: Money::from_stored(row.captured_amount, &row.currency),
            refunded: Money::from_stored(row.refunded_amount, &row.currency),
            card_brand: row.card_brand,
            card_last4: row.card_last4,
            failure_code: row.failure_code,
            stablecoin: None,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

pub async fn insert_payment(conn: &mut AsyncPgConnection, row: &PaymentRow) -> QueryResult<()> {
    diesel::insert_into(payments::table)
        .values(row.clone())
        .execute(conn)
        .await
        .map(drop)
}

pub async fn payment(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<PaymentRow>> {
    payments::table
        .find(id)
        .select(PaymentRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// A `checkouts` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = checkouts)]
pub struct CheckoutRow {
    pub id: Uuid,
    pub cart_id: Uuid,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: CheckoutStatus,
    pub email: Option<String>,
    pub shipping_address: Option<serde_json::Value>,
    pub billing_address: Option<serde_json::Value>,
    pub shipping_method_id: Option<Uuid>,
    pub discount_code: Option<String>,
    pub payment_token: Option<String>,
    pub order_id: Option<Uuid>,
    pub payment_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// Changes to a checkout; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = checkouts)]
pub struct CheckoutChanges {
    pub status: Option<&'static str>,
    pub email: Option<Option<String>>,
    pub shipping_address: Option<Option<serde_json::Value>>,
    pub billing_address: Option<Option<serde_json::Value>>,
    pub shipping_method_id: Option<Option<Uuid>>,
    pub discount_code: Option<Option<String>>,
    pub payment_token: Option<Option<String>>,
    pub order_id: Option<Option<Uuid>>,
    pub payment_id: Option<Option<Uuid>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub completed_at: Option<Option<DateTime<Utc>>>,
}

pub async fn insert_checkout(conn: &mut AsyncPgConnection, row: &CheckoutRow) -> QueryResult<()> {
    diesel::insert_into(checkouts::table)
        .values(row.clone())
        .execute(conn)
        .await
        .map(drop)
}

/// The checkout as it is now.
pub async fn checkout(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<CheckoutRow>> {
    checkouts::table
        .find(id)
        .select(CheckoutRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The checkout, locked until the transaction ends: steps and completion of one checkout
/// take turns.
pub async fn lock_checkout(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<CheckoutRow>> {
    checkouts::table
        .find(id)
        .select(CheckoutRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn update_checkout(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &CheckoutChanges,
) -> QueryResult<CheckoutRow> {
    diesel::update(checkouts::table.find(id))
        .set(changes)
        .returning(CheckoutRow::as_returning())
        .get_result(conn)
        .await
}

/// Records a provider's webhook event; false when it was recorded before (a redelivery).
pub async fn first_delivery(
    conn: &mut AsyncPgConnection,
    provider: &str,
    event_id: &str,
    event_type: &str,
) -> QueryResult<bool> {
    Ok(diesel::insert_into(provider_events::table)
        .values((
            provider_events::provider.eq(provider),
            provider_events::event_id.eq(event_id),
            provider_events::event_type.eq(event_type),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?
        > 0)
}

/// The payment a provider knows by `reference`, locked.
pub async fn lock_payment_by_reference(
    conn: &mut AsyncPgConnection,
    provider: &str,
    reference: &str,
) -> QueryResult<Option<PaymentRow>> {
    payments::table
        .filter(payments::provider.eq(provider))
        .filter(payments::provider_reference.eq(reference))
        .select(PaymentRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Changes to a payment after the provider reported on it.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = payments)]
pub struct PaymentChanges {
    pub status: Option<&'static str>,
    pub captured_amount: Option<Decimal>,
    pub refunded_amount: Option<Decimal>,
    pub failure_code: Option<Option<String>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// What the order's payments hold: authorized or captured and not refunded. A new payment
/// may take only the rest of the order's total.
pub async fn committed_to_order(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
) -> QueryResult<Decimal> {
    let rows: Vec<(String, Decimal, Decimal, Decimal)> = payments::table
        .filter(payments::order_id.eq(order_id))
        .select((
            payments::status,
            payments::amount,
            payments::captured_amount,
            payments::refunded_amount,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(status, amount, captured, refunded)| match status.as_str() {
                "pending" | "authorized" => amount,
                "captured" | "partially_refunded" | "refunded" => captured - refunded,
                _ => Decimal::ZERO,
            },
        )
        .sum())
}

/// Every payment of the orders, oldest first.
pub async fn payments_of_orders(
    conn: &mut AsyncPgConnection,
    order_ids: &[Uuid],
) -> QueryResult<Vec<PaymentRow>> {
    payments::table
        .filter(payments::order_id.eq_any(order_ids))
        .order(payments::created_at.asc())
        .select(PaymentRow::as_select())
        .load(conn)
        .await
}

pub async fn update_payment(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &PaymentChanges,
) -> QueryResult<PaymentRow> {
    diesel::update(payments::table.find(id))
        .set(changes)
        .returning(PaymentRow::as_returning())
        .get_result(conn)
        .await
}

/// A payment, locked until the transaction ends.
pub async fn lock_payment(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<PaymentRow>> {
    payments::table
        .find(id)
        .select(PaymentRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}
