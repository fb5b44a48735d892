//! Invoices: made from an order (when it completes, or on demand), numbered gap-free per
//! calendar year, issued with a due date, paid by the order's captured payments and by payments
//! recorded against them, voided, printed as PDF, and chased with `invoice.overdue` reminders.
//! Customers read their own.

pub mod pdf;

use stateset_domain::EventType;
use std::collections::HashMap;

use chrono::{Datelike as _, Utc};
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::checks::optional_text;
use super::error::Validator;
use super::page::{Keyset, Page, PageRequest};
use super::{Ctx, Error};
use crate::auth::Access;
use crate::config::InvoiceSettings;
use crate::events::{self, DomainEvent};
use stateset_db::Db;
use stateset_db::customers as customer_q;
use stateset_db::invoices::{
    self as q, InvoiceChanges, InvoiceLineRow, InvoicePaymentRow, InvoiceRow,
};
use stateset_db::orders as order_q;
use stateset_domain::invoice::{InvoiceAction, invoice_number};
use stateset_domain::{
    Address, Invoice, InvoiceBuyer, InvoiceFilter, InvoiceSeller, InvoiceStatus, OrderStatus,
};

/// Overdue invoices claimed per reminder transaction.
const REMINDER_BATCH: i64 = 100;

/// An invoice to make for an order.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
#[graphql(name = "CreateInvoiceInput")]
pub struct CreateInvoiceInput {
    pub order_id: Uuid,
    /// Issue it at once (open, with a due date); default false: a draft to issue later.
    pub issue: Option<bool>,
}

/// Money received against an open invoice.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
#[graphql(name = "RecordInvoicePaymentInput")]
pub struct RecordInvoicePaymentInput {
    /// Above 0 and at most the amount due, in the invoice's currency.
    #[schema(value_type = String, example = "10.00")]
    pub amount: Decimal,
    /// The bank transfer's reference, cheque number, ... (up to 200 characters).
    pub reference: Option<String>,
    /// How it was paid: `bank_transfer`, `cash`, ... (up to 50 characters; default `manual`).
    pub method: Option<String>,
}

/// The invoice service.
#[derive(Clone)]
pub struct InvoiceService {
    db: Db,
    settings: InvoiceSettings,
}

fn invalid_transition(from: InvoiceStatus, action: InvoiceAction) -> Error {
    Error::InvalidState {
        from: from.as_str().to_owned(),
        action: action.as_str().to_owned(),
    }
}

/// Whether the caller may see invoices of `customer_id`: everything, or only their own.
async fn visible(
    conn: &mut AsyncPgConnection,
    access: Access,
    customer_id: Uuid,
) -> Result<bool, Error> {
    Ok(match access {
        Access::All => true,
        Access::Own(user) => customer_q::customer_by_id(conn, customer_id)
            .await?
            .is_some_and(|c| c.user_id == Some(user)),
    })
}

/// Invoices with their lines and payments, in two queries whatever their number.
async fn load(conn: &mut AsyncPgConnection, rows: Vec<InvoiceRow>) -> Result<Vec<Invoice>, Error> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut lines = q::lines_for(conn, &ids).await?;
    let mut payments = q::payments_for(conn, &ids).await?;
    let now = Utc::now();
    Ok(rows
        .into_iter()
        .map(|row| {
            let (own_lines, rest): (Vec<_>, Vec<_>) =
                lines.drain(..).partition(|l| l.invoice_id == row.id);
            lines = rest;
            let (own_payments, rest): (Vec<_>, Vec<_>) =
                payments.drain(..).partition(|p| p.invoice_id == row.id);
            payments = rest;
            row.into_domain(own_lines, own_payments, now)
        })
        .collect())
}

async fn load_one(conn: &mut AsyncPgConnection, row: InvoiceRow) -> Result<Invoice, Error> {
    let id = row.id;
    load(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("invoice", id))
}

/// Records `event_type` about the invoice as it now is, plus `extra` fields.
async fn invoice_event(
    conn: &mut AsyncPgConnection,
    event_type: EventType,
    invoice: &Invoice,
    extra: serde_json::Value,
) -> Result<(), Error> {
    let event = DomainEvent::about(event_type, "invoice", invoice.id, invoice, extra)
        .map_err(anyhow::Error::new)?;
    events::record(conn, event).await?;
    Ok(())
}

fn seller(settings: &InvoiceSettings) -> InvoiceSeller {
    InvoiceSeller {
        name: settings.seller_name.clone(),
        address: settings.seller_address.clone(),
        tax_id: settings.seller_tax_id.clone(),
    }
}

/// The buyer's name: the customer's, else the one on the address, else the email.
fn buyer_name(
    first: Option<&str>,
    last: Option<&str>,
    address: Option<&Address>,
    email: &str,
) -> String {
    let join = |first: Option<&str>, last: Option<&str>| {
        [first, last]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let from_customer = join(first, last);
    if !from_customer.is_empty() {
        return from_customer;
    }
    let from_address = address
        .map(|a| {
            let person = join(a.first_name.as_deref(), a.last_name.as_deref());
            if person.is_empty() {
                a.company.clone().unwrap_or_default()
            } else {
                person
            }
        })
        .unwrap_or_default();
    if from_address.is_empty() {
        email.to_owned()
    } else {
        from_address
    }
}

/// Makes a draft invoice for a (locked) order inside the caller's transaction: lines, totals,
/// seller and buyer copied in, the next number of the year drawn. Writes `invoice.created`.
async fn make_invoice(
    conn: &mut AsyncPgConnection,
    settings: &InvoiceSettings,
    order: &order_q::OrderRow,
) -> Result<InvoiceRow, Error> {
    let items = order_q::items_for(conn, &[order.id]).await?;
    let customer = customer_q::customer_by_id(conn, order.customer_id).await?;
    let address = |json: &Option<serde_json::Value>| {
        json.clone()
            .and_then(|a| serde_json::from_value::<Address>(a).ok())
    };
    let address = address(&order.billing_address).or_else(|| address(&order.shipping_address));
    let buyer = InvoiceBuyer {
        name: buyer_name(
            customer.as_ref().and_then(|c| c.first_name.as_deref()),
            customer.as_ref().and_then(|c| c.last_name.as_deref()),
            address.as_ref(),
            &order.email,
        ),
        email: order.email.clone(),
        address,
    };
    let now = Utc::now();
    let sequence = q::next_number(conn, now.year()).await?;
    let row = InvoiceRow {
        id: Uuid::now_v7(),
        number: invoice_number(now.year(), sequence),
        order_id: order.id,
        order_number: order.number.clone(),
        customer_id: order.customer_id,
        status: InvoiceStatus::Draft,
        currency: order.currency.clone(),
        subtotal: order.subtotal,
        discount_total: order.discount_total,
        tax_total: order.tax_total,
        shipping_total: order.shipping_total,
        total: order.total,
        amount_paid: Decimal::ZERO,
        seller: serde_json::to_value(seller(settings)).map_err(anyhow::Error::new)?,
        buyer: serde_json::to_value(&buyer).map_err(anyhow::Error::new)?,
        issued_at: None,
        due_at: None,
        paid_at: None,
        voided_at: None,
        last_reminded_at: None,
        reminders_sent: 0,
        created_at: now,
        updated_at: now,
    };
    let lines: Vec<InvoiceLineRow> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| InvoiceLineRow {
            id: Uuid::now_v7(),
            invoice_id: row.id,
            position: i32::try_from(i).unwrap_or(i32::MAX),
            sku: item.sku,
            name: item.name,
            quantity: item.quantity,
            unit_price: item.unit_price,
            discount: item.discount,
            tax: item.tax,
            total: item.total,
        })
        .collect();
    q::insert_invoice(conn, &row).await?;
    q::insert_lines(conn, &lines).await?;
    let invoice = load_one(conn, row.clone()).await?;
    invoice_event(
        conn,
        EventType::InvoiceCreated,
        &invoice,
        serde_json::json!({}),
    )
    .await?;
    Ok(row)
}

/// Counts the money the order's payments brought in (captured minus refunded, in the
/// invoice's currency) beyond what the (locked) invoice already recorded for each of them,
/// never above what is due: each as a line of the invoice's payments. Returns the amount paid.
async fn count_order_payments(
    conn: &mut AsyncPgConnection,
    actor: &str,
    row: &InvoiceRow,
) -> Result<Decimal, Error> {
    let recorded = q::payments_for(conn, &[row.id]).await?;
    let mut paid = row.amount_paid;
    let now = Utc::now();
    for payment in q::order_payments(conn, row.order_id).await? {
        let counted: Decimal = recorded
            .iter()
            .filter(|r| r.payment_id == Some(payment.id))
            .map(|r| r.amount)
            .sum();
        let amount = (payment.net() - counted).min(row.total - paid);
        if payment.currency != row.currency || amount <= Decimal::ZERO {
            continue;
        }
        let reconciled = InvoicePaymentRow {
            id: Uuid::now_v7(),
            invoice_id: row.id,
            amount,
            method: "order_payment".to_owned(),
            reference: Some(format!(
                "{}:{}",
                payment.provider, payment.provider_reference
            )),
            payment_id: Some(payment.id),
            recorded_by: actor.to_owned(),
            created_at: now,
        };
        q::insert_payment(conn, &reconciled).await?;
        paid += amount;
    }
    Ok(paid)
}

/// Issues a (locked) draft: open with a due date, and the order's money already in counted as
/// paid. Writes `invoice.issued`, and `invoice.paid` when nothing is left due.
async fn issue(
    conn: &mut AsyncPgConnection,
    actor: &str,
    settings: &InvoiceSettings,
    row: InvoiceRow,
) -> Result<Invoice, Error> {
    let now = Utc::now();
    let paid = count_order_payments(conn, actor, &row).await?;
    let settled = paid >= row.total;
    let changes = InvoiceChanges {
        status: Some(
            if settled {
                InvoiceStatus::Paid
            } else {
                InvoiceStatus::Open
            }
            .as_str()
            .to_owned(),
        ),
        amount_paid: Some(paid),
        issued_at: Some(Some(now)),
        due_at: Some(Some(
            now + chrono::Duration::days(i64::from(settings.due_days)),
        )),
        paid_at: settled.then_some(Some(now)),
        updated_at: Some(now),
        ..Default::default()
    };
    let row = q::update_invoice(conn, row.id, &changes).await?;
    let invoice = load_one(conn, row).await?;
    invoice_event(
        conn,
        EventType::InvoiceIssued,
        &invoice,
        serde_json::json!({}),
    )
    .await?;
    if settled {
        invoice_event(
            conn,
            EventType::InvoicePaid,
            &invoice,
            serde_json::json!({}),
        )
        .await?;
    }
    Ok(invoice)
}

/// Applies money an order's payments brought in after its invoice was issued (a capture made
/// later, a stablecoin request paid, a provider's late success) to its open invoice, in the
/// caller's transaction. Writes `invoice.payment_recorded`, and `invoice.paid` when nothing is
/// left due. Orders without an open invoice are left alone.
pub(crate) async fn reconcile_order_payments(
    conn: &mut AsyncPgConnection,
    actor: &str,
    order_id: Uuid,
) -> Result<(), Error> {
    let Some(row) = q::live_invoice_for_order(conn, order_id).await? else {
        return Ok(());
    };
    if row.status != InvoiceStatus::Open {
        return Ok(());
    }
    let paid = count_order_payments(conn, actor, &row).await?;
    if paid == row.amount_paid {
        return Ok(());
    }
    let now = Utc::now();
    let settled = paid >= row.total;
    let changes = InvoiceChanges {
        status: settled.then(|| InvoiceStatus::Paid.as_str().to_owned()),
        amount_paid: Some(paid),
        paid_at: settled.then_some(Some(now)),
        updated_at: Some(now),
        ..Default::default()
    };
    let row = q::update_invoice(conn, row.id, &changes).await?;
    let invoice = load_one(conn, row).await?;
    let extra = serde_json::json!({ "method": "order_payment" });
    invoice_event(conn, EventType::InvoicePaymentRecorded, &invoice, extra).await?;
    if settled {
        invoice_event(
            conn,
            EventType::InvoicePaid,
            &invoice,
            serde_json::json!({}),
        )
        .await?;
    }
    Ok(())
}

/// Invoices a completed order inside the transaction that completes it (the order row is
/// locked there): made and issued at once, unless the order already has an invoice that is
/// not void, in which case nothing happens and `None` is returned.
pub(crate) async fn invoice_completed_order(
    conn: &mut AsyncPgConnection,
    ctx: &Ctx,
    settings: &InvoiceSettings,
    order_id: Uuid,
) -> Result<Option<Invoice>, Error> {
    if q::live_invoice_for_order(conn, order_id).await?.is_some() {
        return Ok(None);
    }
    let order = order_q::order_by_id(conn, order_id)
        .await?
        .ok_or_else(|| Error::not_found("order", order_id))?;
    let row = make_invoice(conn, settings, &order).await?;
    Ok(Some(
        issue(conn, &ctx.principal.key(), settings, row).await?,
    ))
}

impl InvoiceService {
    pub fn new(db: Db, settings: InvoiceSettings) -> Self {
        Self { db, settings }
    }

    /// Makes an invoice for an order on demand: a draft, or issued at once with `issue`.
    /// An order that already has an invoice that is not void is a `CONFLICT`; a cancelled one
    /// is `INVALID_STATE`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, order.id = %input.order_id))]
    pub async fn create_invoice(
        &self,
        ctx: &Ctx,
        input: CreateInvoiceInput,
    ) -> Result<Invoice, Error> {
        let access = ctx.authorize("invoices:manage")?;
        let (ctx, settings) = (ctx.clone(), self.settings.clone());
        self.db
            .tx(
                "create_invoice",
                async move |conn: &mut AsyncPgConnection| {
                    // The order's lock makes a second request for it wait here, then see the first
                    // invoice.
                    let order = order_q::lock_orders(conn, &[input.order_id]).await?.pop();
                    let order = match order {
                        Some(order) if visible(conn, access, order.customer_id).await? => order,
                        _ => return Err(Error::invalid("order_id", "no such order")),
                    };
                    if matches!(order.status, OrderStatus::Cancelled) {
                        return Err(Error::InvalidState {
                            from: order.status.as_str().to_owned(),
                            action: "invoice".to_owned(),
                        });
                    }
                    if let Some(existing) = q::live_invoice_for_order(conn, order.id).await? {
                        return Err(Error::Conflict {
                            field: Some("order_id".into()),
                            message: format!(
                                "order {} already has invoice {} ({})",
                                order.number, existing.number, existing.status
                            ),
                        });
                    }
                    let row = make_invoice(conn, &settings, &order).await?;
                    if input.issue.unwrap_or(false) {
                        issue(conn, &ctx.principal.key(), &settings, row).await
                    } else {
                        load_one(conn, row).await
                    }
                },
            )
            .await
    }

    /// One invoice; someone else's is `NOT_FOUND` for a customer.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, invoice.id = %id))]
    pub async fn get_invoice(&self, ctx: &Ctx, id: Uuid) -> Result<Invoice, Error> {
        let access = ctx.authorize("invoices:read")?;
        let mut conn = self.db.conn().await?;
        match q::invoice_by_id(&mut conn, id, false).await? {
            Some(row) if visible(&mut conn, access, row.customer_id).await? => {
                load_one(&mut conn, row).await
            }
            _ => Err(Error::not_found("invoice", id)),
        }
    }

    /// The invoice as a PDF document.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, invoice.id = %id))]
    pub async fn invoice_pdf(&self, ctx: &Ctx, id: Uuid) -> Result<(Invoice, Vec<u8>), Error> {
        let invoice = self.get_invoice(ctx, id).await?;
        let bytes = pdf::render(&invoice);
        Ok((invoice, bytes))
    }

    /// A page of invoices matching `filter`, newest first.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn list_invoices(
        &self,
        ctx: &Ctx,
        filter: InvoiceFilter,
        page: PageRequest,
    ) -> Result<Page<Invoice>, Error> {
        const SORT: &str = "CreatedAtDesc";
        let access = ctx.authorize("invoices:read")?;
        let limit = page.limit()?;
        let after = page.keyset(SORT)?;
        let owner = match access {
            Access::All => None,
            Access::Own(user) => Some(user),
        };
        let now = Utc::now();
        let mut conn = self.db.conn().await?;
        let rows = q::list_invoices(&mut conn, &filter, owner, now, after, limit + 1).await?;
        let total = page
            .total(q::count_invoices(&mut conn, &filter, owner, now))
            .await?;
        let invoices = load(&mut conn, rows).await?;
        let position = |invoice: &Invoice| Keyset::created(invoice.created_at, invoice.id);
        Ok(page.page(SORT, limit, invoices, total, position, |i| i))
    }

    /// The invoices of each order (void ones too), oldest first, in a constant number of
    /// queries (the batch behind GraphQL's `Order.invoices`); invoices the caller may not see
    /// are left out.
    pub async fn invoices_by_order(
        &self,
        ctx: &Ctx,
        order_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<Invoice>>, Error> {
        let access = ctx.authorize("invoices:read")?;
        let mut conn = self.db.conn().await?;
        let mut rows = q::invoices_for_orders(&mut conn, order_ids).await?;
        if let Access::Own(user) = access {
            let own = customer_q::customer_by_user(&mut conn, user)
                .await?
                .map(|c| c.id);
            rows.retain(|r| Some(r.customer_id) == own);
        }
        let mut by_order: HashMap<Uuid, Vec<Invoice>> = HashMap::new();
        for invoice in load(&mut conn, rows).await? {
            by_order.entry(invoice.order_id).or_default().push(invoice);
        }
        Ok(by_order)
    }

    /// Locks an invoice the caller may manage, inside a transaction.
    async fn lock(
        conn: &mut AsyncPgConnection,
        access: Access,
        id: Uuid,
    ) -> Result<InvoiceRow, Error> {
        match q::invoice_by_id(conn, id, true).await? {
            Some(row) if visible(conn, access, row.customer_id).await? => Ok(row),
            _ => Err(Error::not_found("invoice", id)),
        }
    }

    /// Issues a draft: open, due in `INVOICE_DUE_DAYS`, with the order's payments counted.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, invoice.id = %id))]
    pub async fn issue_invoice(&self, ctx: &Ctx, id: Uuid) -> Result<Invoice, Error> {
        let access = ctx.authorize("invoices:manage")?;
        let (ctx, settings) = (ctx.clone(), self.settings.clone());
        self.db
            .tx(
                "issue_invoice",
                async move |conn: &mut AsyncPgConnection| {
                    let row = Self::lock(conn, access, id).await?;
                    if !row.status.allows(InvoiceAction::Issue) {
                        return Err(invalid_transition(row.status, InvoiceAction::Issue));
                    }
                    issue(conn, &ctx.principal.key(), &settings, row).await
                },
            )
            .await
    }

    /// Voids a draft or open invoice; it keeps its number. Paid or void ones are
    /// `INVALID_STATE`. Writes `invoice.voided`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, invoice.id = %id))]
    pub async fn void_invoice(&self, ctx: &Ctx, id: Uuid) -> Result<Invoice, Error> {
        let access = ctx.authorize("invoices:manage")?;
        self.db
            .tx("void_invoice", async move |conn: &mut AsyncPgConnection| {
                let row = Self::lock(conn, access, id).await?;
                if !row.status.allows(InvoiceAction::Void) {
                    return Err(invalid_transition(row.status, InvoiceAction::Void));
                }
                let now = Utc::now();
                let changes = InvoiceChanges {
                    status: Some(InvoiceStatus::Void.as_str().to_owned()),
                    voided_at: Some(Some(now)),
                    updated_at: Some(now),
                    ..Default::default()
                };
                let row = q::update_invoice(conn, id, &changes).await?;
                let invoice = load_one(conn, row).await?;
                invoice_event(
                    conn,
                    EventType::InvoiceVoided,
                    &invoice,
                    serde_json::json!({}),
                )
                .await?;
                Ok(invoice)
            })
            .await
    }

    /// Records money received against an open invoice, never more than is due; the invoice is
    /// paid when nothing is left. Writes `invoice.payment_recorded`, and `invoice.paid`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, invoice.id = %id))]
    pub async fn record_payment(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: RecordInvoicePaymentInput,
    ) -> Result<Invoice, Error> {
        let access = ctx.authorize("invoices:manage")?;
        let mut v = Validator::default();
        super::checks::positive_amount(&mut v, "amount", input.amount);
        let reference = optional_text(&mut v, "reference", input.reference.as_deref(), 200);
        let method = optional_text(&mut v, "method", input.method.as_deref(), 50)
            .unwrap_or_else(|| "manual".to_owned());
        v.finish()?;
        let actor = ctx.principal.key();
        self
            .db
            .tx("record_payment", async move |conn: &mut AsyncPgConnection| {
                let row = Self::lock(conn, access, id).await?;
                if !row.status.allows(InvoiceAction::RecordPayment) {
                    return Err(invalid_transition(
                        row.status,
                        InvoiceAction::RecordPayment,
                    ));
                }
                let due = row.amount_due();
                if input.amount > due {
                    return Err(Error::invalid(
                        "amount",
                        format!(
                            "must not exceed the amount due ({} {})",
                            stateset_domain::money::display_amount(due),
                            row.currency
                        ),
                    ));
                }
                let now = Utc::now();
                let payment = InvoicePaymentRow {
                    id: Uuid::now_v7(),
                    invoice_id: id,
                    amount: input.amount,
                    method,
                    reference,
                    payment_id: None,
                    recorded_by: actor,
                    created_at: now,
                };
                q::insert_payment(conn, &payment).await?;
                let paid = row.amount_paid + input.amount;
                let settled = paid >= row.total;
                let changes = InvoiceChanges {
                    status: settled.then(|| InvoiceStatus::Paid.as_str().to_owned()),
                    amount_paid: Some(paid),
                    paid_at: settled.then_some(Some(now)),
                    updated_at: Some(now),
                    ..Default::default()
                };
                let row = q::update_invoice(conn, id, &changes).await?;
                let invoice = load_one(conn, row).await?;
                let extra = serde_json::json!({ "payment": {
                    "id": payment.id,
                    "amount": stateset_domain::Money::from_stored(payment.amount, &invoice.currency),
                    "method": payment.method,
                    "reference": payment.reference,
                }});
                invoice_event(conn, EventType::InvoicePaymentRecorded, &invoice, extra).await?;
                if settled {
                    invoice_event(conn, EventType::InvoicePaid, &invoice, serde_json::json!({})).await?;
                }
                Ok(invoice)
            })
            .await
    }

    /// Writes an `invoice.overdue` reminder for every open invoice past its due date that had
    /// none within `INVOICE_REMINDER_INTERVAL_HOURS`, and notes it on the invoice. Invoices are
    /// claimed with `FOR UPDATE SKIP LOCKED` in batches, each in its own transaction, so several
    /// instances running this at once never remind about one invoice twice. Returns how many
    /// reminders were written. Run by every instance's housekeeping each minute.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn send_overdue_reminders(&self, ctx: &Ctx) -> Result<usize, Error> {
        ctx.authorize("invoices:manage")?;
        let interval = chrono::Duration::from_std(self.settings.reminder_interval)
            .map_err(anyhow::Error::new)?;
        let mut sent = 0;
        loop {
            let batch = self
                .db
                .tx(
                    "send_overdue_reminders",
                    async move |conn: &mut AsyncPgConnection| {
                        let now = Utc::now();
                        let rows =
                            q::claim_overdue(conn, now, now - interval, REMINDER_BATCH).await?;
                        let claimed = rows.len();
                        for row in rows {
                            let row = q::mark_reminded(conn, row.id, now).await?;
                            let invoice = load_one(conn, row).await?;
                            let extra = serde_json::json!({ "reminder": invoice.reminders_sent });
                            invoice_event(conn, EventType::InvoiceOverdue, &invoice, extra).await?;
                        }
                        Ok::<_, Error>(claimed)
                    },
                )
                .await?;
            sent += batch;
            if batch < REMINDER_BATCH as usize {
                return Ok(sent);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buyer_is_named_by_the_best_source_at_hand() {
        let address = Address {
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            company: Some("Engines Ltd".into()),
            line1: "1 Main".into(),
            line2: None,
            city: "London".into(),
            region: None,
            postal_code: None,
            country: "GB".into(),
            phone: None,
        };
        assert_eq!(
            buyer_name(Some("Grace"), Some("Hopper"), Some(&address), "g@x"),
            "Grace Hopper"
        );
        assert_eq!(
            buyer_name(None, None, Some(&address), "a@x"),
            "Ada Lovelace"
        );
        let company_only = Address {
            first_name: None,
            last_name: None,
            ..address
        };
        assert_eq!(
            buyer_name(None, Some(" "), Some(&company_only), "a@x"),
            "Engines Ltd"
        );
        assert_eq!(buyer_name(None, None, None, "e@x"), "e@x");
    }
}
