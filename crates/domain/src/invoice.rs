//! Invoices: what a customer owes for an order, numbered per calendar year, with the lines,
//! taxes and both parties copied in when it is made, and its lifecycle as a table.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Address, Money};

crate::stored_enum! {
    /// Where an invoice is in its life.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum InvoiceStatus {
        /// Not yet sent: no issue or due date, takes no payments.
        Draft = "draft",
        /// Issued and waiting for money.
        Open = "open",
        /// Nothing left to pay.
        Paid = "paid",
        /// Cancelled; keeps its number, so the sequence has no gaps.
        Void = "void",
    }
}

/// What can be done to an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceAction {
    Issue,
    Void,
    RecordPayment,
}

impl InvoiceStatus {
    /// Whether `action` is allowed from here. Paying in full moves an open invoice to paid;
    /// the service decides that from the amounts.
    pub fn allows(self, action: InvoiceAction) -> bool {
        matches!(
            (self, action),
            (Self::Draft, InvoiceAction::Issue)
                | (Self::Draft | Self::Open, InvoiceAction::Void)
                | (Self::Open, InvoiceAction::RecordPayment)
        )
    }
}

impl InvoiceAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issue => "issue",
            Self::Void => "void",
            Self::RecordPayment => "record a payment",
        }
    }
}

/// Who sends the invoice: the shop, from its settings when the invoice was made.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, async_graphql::SimpleObject,
)]
#[graphql(name = "InvoiceSeller")]
pub struct InvoiceSeller {
    pub name: String,
    /// Postal address, lines separated by newlines.
    pub address: String,
    /// VAT or other tax registration number.
    pub tax_id: Option<String>,
}

/// Who owes the money: the customer and the order's billing address (its shipping address when
/// it had none), as they were when the invoice was made.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, async_graphql::SimpleObject,
)]
#[graphql(name = "InvoiceBuyer")]
pub struct InvoiceBuyer {
    pub name: String,
    pub email: String,
    pub address: Option<Address>,
}

/// One line of an invoice, copied from the order.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct InvoiceLine {
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price: Money,
    /// Discount on the whole line.
    pub discount: Money,
    /// Tax on the whole line.
    pub tax: Money,
    /// quantity × unit price − discount + tax.
    pub total: Money,
}

/// Money received against an invoice.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct InvoicePayment {
    pub id: Uuid,
    pub amount: Money,
    /// `order_payment` when reconciled from the order's payments, else as recorded.
    pub method: String,
    pub reference: Option<String>,
    /// The order's payment it was reconciled from.
    pub payment_id: Option<Uuid>,
    /// Who recorded it: `user:<id>`, `api_key:<id>` or `system`.
    pub recorded_by: String,
    pub created_at: DateTime<Utc>,
}

/// An invoice.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct Invoice {
    pub id: Uuid,
    /// `INV-<year>-<6 digits>`, consecutive within a calendar year.
    pub number: String,
    pub order_id: Uuid,
    pub order_number: String,
    pub customer_id: Uuid,
    pub status: InvoiceStatus,
    pub currency: String,
    pub lines: Vec<InvoiceLine>,
    /// Sum of quantity × unit price.
    pub subtotal: Money,
    pub discount_total: Money,
    pub tax_total: Money,
    pub shipping_total: Money,
    /// subtotal − discount + shipping + tax.
    pub total: Money,
    pub amount_paid: Money,
    /// total − amount paid.
    pub amount_due: Money,
    pub seller: InvoiceSeller,
    pub buyer: InvoiceBuyer,
    pub payments: Vec<InvoicePayment>,
    pub issued_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
    /// Open and past its due date.
    pub overdue: bool,
    /// Overdue reminders sent so far, and when the last one went out.
    pub reminders_sent: i32,
    pub last_reminded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which invoices to list. Every field narrows the result.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
#[graphql(name = "InvoiceFilter")]
pub struct InvoiceFilter {
    pub status: Option<InvoiceStatus>,
    pub customer_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    /// Only overdue invoices (true) or only those that are not (false).
    pub overdue: Option<bool>,
}

/// Whether an invoice in `status` due at `due_at` is overdue at `now`.
pub fn is_overdue(
    status: InvoiceStatus,
    due_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    status == InvoiceStatus::Open && due_at.is_some_and(|due| due < now)
}

/// The invoice number for the `n`th invoice of `year`.
pub fn invoice_number(year: i32, n: i64) -> String {
    format!("INV-{year}-{n:06}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_padded_per_year() {
        assert_eq!(invoice_number(2026, 1), "INV-2026-000001");
        assert_eq!(invoice_number(2027, 123_456), "INV-2027-123456");
    }

    #[test]
    fn the_lifecycle_table() {
        use InvoiceAction as A;
        use InvoiceStatus as S;
        assert!(S::Draft.allows(A::Issue));
        assert!(!S::Open.allows(A::Issue));
        assert!(S::Open.allows(A::Void) && S::Draft.allows(A::Void));
        assert!(!S::Paid.allows(A::Void) && !S::Void.allows(A::Void));
        assert!(S::Open.allows(A::RecordPayment));
        assert!(!S::Draft.allows(A::RecordPayment) && !S::Paid.allows(A::RecordPayment));
    }

    #[test]
    fn only_open_invoices_past_due_are_overdue() {
        let now = Utc::now();
        let past = Some(now - chrono::Duration::days(1));
        assert!(is_overdue(InvoiceStatus::Open, past, now));
        assert!(!is_overdue(InvoiceStatus::Paid, past, now));
        assert!(!is_overdue(
            InvoiceStatus::Open,
            Some(now + chrono::Duration::days(1)),
            now
        ));
        assert!(!is_overdue(InvoiceStatus::Draft, None, now));
    }
}
