//! Rows and queries for invoices, their lines and payments, and the yearly number counters.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::Keyset;
use super::schema::{customers, invoice_lines, invoice_payments, invoices, payments};
use stateset_domain::invoice::is_overdue;
use stateset_domain::{
    Invoice, InvoiceBuyer, InvoiceFilter, InvoiceLine, InvoicePayment, InvoiceSeller,
    InvoiceStatus, Money,
};

/// An `invoices` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = invoices)]
pub struct InvoiceRow {
    pub id: Uuid,
    pub number: String,
    pub order_id: Uuid,
    pub order_number: String,
    pub customer_id: Uuid,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: InvoiceStatus,
    pub currency: String,
    pub subtotal: Decimal,
    pub discount_total: Decimal,
    pub tax_total: Decimal,
    pub shipping_total: Decimal,
    pub total: Decimal,
    pub amount_paid: Decimal,
    pub seller: serde_json::Value,
    pub buyer: serde_json::Value,
    pub issued_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
    pub last_reminded_at: Option<DateTime<Utc>>,
    pub reminders_sent: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl InvoiceRow {
    pub fn amount_due(&self) -> Decimal {
        self.total - self.amount_paid
    }

    /// The invoice with its lines and payments, as seen at `now`.
    pub fn into_domain(
        self,
        lines: Vec<InvoiceLineRow>,
        payments: Vec<InvoicePaymentRow>,
        now: DateTime<Utc>,
    ) -> Invoice {
        let currency = self.currency.clone();
        let money = |amount| Money::from_stored(amount, &currency);
        let status = self.status;
        Invoice {
            id: self.id,
            number: self.number.clone(),
            order_id: self.order_id,
            order_number: self.order_number.clone(),
            customer_id: self.customer_id,
            status,
            lines: lines
                .into_iter()
                .map(|l| InvoiceLine {
                    sku: l.sku,
                    name: l.name,
                    quantity: l.quantity,
                    unit_price: money(l.unit_price),
                    discount: money(l.discount),
                    tax: money(l.tax),
                    total: money(l.total),
                })
                .collect(),
            subtotal: money(self.subtotal),
            discount_total: money(self.discount_total),
            tax_total: money(self.tax_total),
            shipping_total: money(self.shipping_total),
            total: money(self.total),
            amount_paid: money(self.amount_paid),
            amount_due: money(self.amount_due()),
            // Written by the service from these very types; an unreadable snapshot would be a
            // bug, shown as empty rather than failing the whole list.
            seller: serde_json::from_value::<InvoiceSeller>(self.seller).unwrap_or_else(|_| {
                InvoiceSeller {
                    name: String::new(),
                    address: String::new(),
                    tax_id: None,
                }
            }),
            buyer: serde_json::from_value::<InvoiceBuyer>(self.buyer).unwrap_or_else(|_| {
                InvoiceBuyer {
                    name: String::new(),
                    email: String::new(),
                    address: None,
                }
            }),
            payments: payments
                .into_iter()
                .map(|p| InvoicePayment {
                    id: p.id,
                    amount: money(p.amount),
                    method: p.method,
                    reference: p.reference,
                    payment_id: p.payment_id,
                    recorded_by: p.recorded_by,
                    created_at: p.created_at,
                })
                .collect(),
            overdue: is_overdue(status, self.due_at, now),
            issued_at: self.issued_at,
            due_at: self.due_at,
            paid_at: self.paid_at,
            voided_at: self.voided_at,
            reminders_sent: self.reminders_sent,
            last_reminded_at: self.last_reminded_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            currency: self.currency,
        }
    }
}

/// An `invoice_lines` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = invoice_lines)]
pub struct InvoiceLineRow {
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub position: i32,
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price: Decimal,
    pub discount: Decimal,
    pub tax: Decimal,
    pub total: Decimal,
}

/// An `invoice_payments` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = invoice_payments)]
pub struct InvoicePaymentRow {
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub amount: Decimal,
    pub method: String,
    pub reference: Option<String>,
    pub payment_id: Option<Uuid>,
    pub recorded_by: String,
    pub created_at: DateTime<Utc>,
}

/// Changes to an invoice; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = invoices)]
pub struct InvoiceChanges {
    pub status: Option<String>,
    pub amount_paid: Option<Decimal>,
    pub issued_at: Option<Option<DateTime<Utc>>>,
    pub due_at: Option<Option<DateTime<Utc>>>,
    pub paid_at: Option<Option<DateTime<Utc>>>,
    pub voided_at: Option<Option<DateTime<Utc>>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Draws the next number of `year`: 1 for its first invoice, then one more each time. The
/// upsert locks the year's row until the transaction ends, so concurrent invoices queue here
/// and a rollback returns the number (no gaps).
pub async fn next_number(conn: &mut AsyncPgConnection, year: i32) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Last {
        #[diesel(sql_type = BigInt)]
        last: i64,
    }
    let row: Last = diesel::sql_query(
        "INSERT INTO invoice_counters (year, last) VALUES ($1, 1) \
         ON CONFLICT (year) DO UPDATE SET last = invoice_counters.last + 1 RETURNING last",
    )
    .bind::<Integer, _>(year)
    .get_result(conn)
    .await?;
    Ok(row.last)
}

pub async fn insert_invoice(conn: &mut AsyncPgConnection, row: &InvoiceRow) -> QueryResult<()> {
    diesel::insert_into(invoices::table)
        .values(row.clone())
        .execute(conn)
        .await
        .map(drop)
}

pub async fn insert_lines(
    conn: &mut AsyncPgConnection,
    rows: &[InvoiceLineRow],
) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(invoice_lines::table)
        .values(rows)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn insert_payment(
    conn: &mut AsyncPgConnection,
    row: &InvoicePaymentRow,
) -> QueryResult<()> {
    diesel::insert_into(invoice_payments::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

/// One invoice, optionally locked until the transaction ends.
pub async fn invoice_by_id(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    lock: bool,
) -> QueryResult<Option<InvoiceRow>> {
    let query = invoices::table.find(id).select(InvoiceRow::as_select());
    if lock {
        query.for_update().first(conn).await.optional()
    } else {
        query.first(conn).await.optional()
    }
}

/// The order's invoice that is not void, if it has one, locked until the transaction ends
/// (every caller is about to make or change it).
pub async fn live_invoice_for_order(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
) -> QueryResult<Option<InvoiceRow>> {
    invoices::table
        .filter(invoices::order_id.eq(order_id))
        .filter(invoices::status.ne(InvoiceStatus::Void.as_str()))
        .select(InvoiceRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn update_invoice(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &InvoiceChanges,
) -> QueryResult<InvoiceRow> {
    diesel::update(invoices::table.find(id))
        .set(changes)
        .returning(InvoiceRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn lines_for(
    conn: &mut AsyncPgConnection,
    invoice_ids: &[Uuid],
) -> QueryResult<Vec<InvoiceLineRow>> {
    invoice_lines::table
        .filter(invoice_lines::invoice_id.eq_any(invoice_ids))
        .select(InvoiceLineRow::as_select())
        .order((invoice_lines::invoice_id, invoice_lines::position))
        .load(conn)
        .await
}

pub async fn payments_for(
    conn: &mut AsyncPgConnection,
    invoice_ids: &[Uuid],
) -> QueryResult<Vec<InvoicePaymentRow>> {
    invoice_payments::table
        .filter(invoice_payments::invoice_id.eq_any(invoice_ids))
        .select(InvoicePaymentRow::as_select())
        .order((invoice_payments::created_at, invoice_payments::id))
        .load(conn)
        .await
}

/// The invoices of these orders, oldest first.
pub async fn invoices_for_orders(
    conn: &mut AsyncPgConnection,
    order_ids: &[Uuid],
) -> QueryResult<Vec<InvoiceRow>> {
    invoices::table
        .filter(invoices::order_id.eq_any(order_ids))
        .select(InvoiceRow::as_select())
        .order((invoices::created_at, invoices::id))
        .load(conn)
        .await
}

/// Invoices matching `filter` at `now`, optionally only those of the customer owned by `owner`.
fn filtered(
    filter: &InvoiceFilter,
    owner: Option<Uuid>,
    now: DateTime<Utc>,
) -> invoices::BoxedQuery<'static, Pg> {
    let mut query = invoices::table.into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(invoices::status.eq(status.as_str()));
    }
    if let Some(customer_id) = filter.customer_id {
        query = query.filter(invoices::customer_id.eq(customer_id));
    }
    if let Some(order_id) = filter.order_id {
        query = query.filter(invoices::order_id.eq(order_id));
    }
    match filter.overdue {
        Some(true) => {
            query = query
                .filter(invoices::status.eq(InvoiceStatus::Open.as_str()))
                .filter(invoices::due_at.lt(now));
        }
        Some(false) => {
            query = query.filter(
                invoices::status
                    .ne(InvoiceStatus::Open.as_str())
                    .or(invoices::due_at.is_null())
                    .or(invoices::due_at.ge(now)),
            );
        }
        None => {}
    }
    if let Some(user_id) = owner {
        let owned = customers::table
            .filter(customers::user_id.eq(user_id))
            .select(customers::id);
        query = query.filter(invoices::customer_id.eq_any(owned));
    }
    query
}

/// A page of invoices, newest first, strictly after `after`.
pub async fn list_invoices(
    conn: &mut AsyncPgConnection,
    filter: &InvoiceFilter,
    owner: Option<Uuid>,
    now: DateTime<Utc>,
    after: Option<Keyset>,
    limit: i64,
) -> QueryResult<Vec<InvoiceRow>> {
    let mut query = filtered(filter, owner, now)
        .select(InvoiceRow::as_select())
        .order((invoices::created_at.desc(), invoices::id.desc()))
        .limit(limit);
    if let Some(at) = after {
        query = query.filter(super::created_before("invoices", at));
    }
    query.load(conn).await
}

pub async fn count_invoices(
    conn: &mut AsyncPgConnection,
    filter: &InvoiceFilter,
    owner: Option<Uuid>,
    now: DateTime<Utc>,
) -> QueryResult<i64> {
    filtered(filter, owner, now).count().get_result(conn).await
}

/// A payment of an order, with what it still brings in: captured minus refunded.
#[derive(Debug, Clone, Queryable)]
pub struct OrderPayment {
    pub id: Uuid,
    pub provider: String,
    pub provider_reference: String,
    pub currency: String,
    pub captured_amount: Decimal,
    pub refunded_amount: Decimal,
}

impl OrderPayment {
    pub fn net(&self) -> Decimal {
        self.captured_amount - self.refunded_amount
    }
}

/// The order's payments, oldest first.
pub async fn order_payments(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
) -> QueryResult<Vec<OrderPayment>> {
    payments::table
        .filter(payments::order_id.eq(order_id))
        .select((
            payments::id,
            payments::provider,
            payments::provider_reference,
            payments::currency,
            payments::captured_amount,
            payments::refunded_amount,
        ))
        .order((payments::created_at, payments::id))
        .load(conn)
        .await
}

/// Claims up to `limit` open invoices due before `now` whose last reminder (if any) is at or
/// before `reminded_before`, locking them; rows another instance holds are skipped, so two
/// reminder runs never claim the same invoice.
pub async fn claim_overdue(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    reminded_before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<InvoiceRow>> {
    invoices::table
        .filter(invoices::status.eq(InvoiceStatus::Open.as_str()))
        .filter(invoices::due_at.lt(now))
        .filter(
            invoices::last_reminded_at
                .is_null()
                .or(invoices::last_reminded_at.le(reminded_before)),
        )
        .select(InvoiceRow::as_select())
        .order((invoices::due_at, invoices::id))
        .limit(limit)
        .for_update()
        .skip_locked()
        .load(conn)
        .await
}

/// Notes that a reminder went out at `at`.
pub async fn mark_reminded(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> QueryResult<InvoiceRow> {
    diesel::update(invoices::table.find(id))
        .set((
            invoices::last_reminded_at.eq(at),
            invoices::reminders_sent.eq(invoices::reminders_sent + 1),
        ))
        .returning(InvoiceRow::as_returning())
        .get_result(conn)
        .await
}
