//! Orders: entities, totals, and the state machine, declared once as a table.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Address, Money};

crate::stored_enum! {
    /// Where an order is in its life.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum OrderStatus {
        Pending = "pending",
        Processing = "processing",
        /// Some lines have left in shipments, others not yet.
        PartiallyShipped = "partially_shipped",
        Shipped = "shipped",
        Delivered = "delivered",
        Completed = "completed",
        OnHold = "on_hold",
        Cancelled = "cancelled",
        Archived = "archived",
    }
}

crate::stored_enum! {
    /// What can be done to an order.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum OrderAction {
        Process = "process",
        Ship = "ship",
        Deliver = "deliver",
        Complete = "complete",
        Hold = "hold",
        Release = "release",
        Cancel = "cancel",
        Archive = "archive",
    }
}

/// The allowed transitions: action, the states it may start from, the state it leads to
/// (`None`: back to where the hold began).
const TRANSITIONS: &[(OrderAction, &[OrderStatus], Option<OrderStatus>)] = {
    use OrderAction as A;
    use OrderStatus as S;
    &[
        (A::Process, &[S::Pending], Some(S::Processing)),
        (
            A::Ship,
            &[S::Processing, S::PartiallyShipped],
            Some(S::Shipped),
        ),
        (A::Deliver, &[S::Shipped], Some(S::Delivered)),
        (A::Complete, &[S::Delivered], Some(S::Completed)),
        (
            A::Hold,
            &[S::Pending, S::Processing, S::PartiallyShipped],
            Some(S::OnHold),
        ),
        (A::Release, &[S::OnHold], None),
        (
            A::Cancel,
            &[S::Pending, S::Processing, S::OnHold],
            Some(S::Cancelled),
        ),
        (A::Archive, &[S::Completed, S::Cancelled], Some(S::Archived)),
    ]
};

impl OrderStatus {
    /// Open orders can still be merged, split and edited.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Processing)
    }

    /// Where `action` leads from here; `held_from` is where an order on hold came from.
    ///
    /// `None` when the table does not allow `action` from this state.
    pub fn apply(self, action: OrderAction, held_from: Option<OrderStatus>) -> Option<OrderStatus> {
        let (_, from, to) = TRANSITIONS.iter().find(|(a, _, _)| *a == action)?;
        if !from.contains(&self) {
            return None;
        }
        to.or(held_from)
    }

    /// Where a shipment leaving moves the order: `partially_shipped` while lines remain,
    /// `shipped` when all have left. A pending order is processed first (shipping it proves
    /// it was), so the path may hold two steps; `None` when the order cannot ship from here.
    pub fn after_shipment(self, all_shipped: bool) -> Option<Vec<(OrderAction, OrderStatus)>> {
        let mut path = Vec::new();
        let mut at = self;
        if at == Self::Pending {
            at = Self::Processing;
            path.push((OrderAction::Process, at));
        }
        if !matches!(at, Self::Processing | Self::PartiallyShipped) {
            return None;
        }
        let to = if all_shipped {
            Self::Shipped
        } else {
            Self::PartiallyShipped
        };
        if to != at {
            path.push((OrderAction::Ship, to));
        }
        Some(path)
    }

    /// Whether a cancel may still happen: nothing of the order has left (an order on hold
    /// is judged by where it was held from).
    pub fn may_cancel(self, held_from: Option<OrderStatus>) -> bool {
        self.apply(OrderAction::Cancel, held_from).is_some()
            && held_from != Some(Self::PartiallyShipped)
    }

    /// The action that moves an order to `target`, for "set the status to" requests.
    pub fn action_towards(target: OrderStatus) -> Option<OrderAction> {
        TRANSITIONS
            .iter()
            .find(|(_, _, to)| *to == Some(target))
            .map(|(action, _, _)| *action)
    }
}

/// An order's money, computed on the server from its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: Decimal,
    pub discount: Decimal,
    pub shipping: Decimal,
    pub tax: Decimal,
    pub total: Decimal,
}

/// The total of one line: quantity × unit price − discount + tax.
pub fn line_total(quantity: i32, unit_price: Decimal, discount: Decimal, tax: Decimal) -> Decimal {
    Decimal::from(quantity) * unit_price - discount + tax
}

impl Totals {
    /// Totals of lines given as `(quantity, unit price, discount, tax)`, plus shipping.
    pub fn of(
        lines: impl IntoIterator<Item = (i32, Decimal, Decimal, Decimal)>,
        shipping: Decimal,
    ) -> Self {
        let mut totals = Totals {
            subtotal: Decimal::ZERO,
            discount: Decimal::ZERO,
            shipping,
            tax: Decimal::ZERO,
            total: Decimal::ZERO,
        };
        for (quantity, unit_price, discount, tax) in lines {
            totals.subtotal += Decimal::from(quantity) * unit_price;
            totals.discount += discount;
            totals.tax += tax;
        }
        totals.total = totals.subtotal - totals.discount + totals.shipping + totals.tax;
        totals
    }
}

/// An order.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
// GraphQL serves this as `Order` through a node of the GraphQL door, which adds
// its resolvers; this name is never in the schema.
#[graphql(name = "OrderFields")]
pub struct Order {
    pub id: Uuid,
    /// Human number, e.g. `ORD-000042`.
    pub number: String,
    pub customer_id: Uuid,
    /// The customer's email when the order was placed.
    pub email: String,
    pub status: OrderStatus,
    pub hold_reason: Option<String>,
    pub cancel_reason: Option<String>,
    pub currency: String,
    pub subtotal: Money,
    pub discount_total: Money,
    pub shipping_total: Money,
    pub tax_total: Money,
    pub total: Money,
    pub shipping_address: Option<Address>,
    pub billing_address: Option<Address>,
    pub tags: Vec<String>,
    /// Free-form attributes (a JSON object).
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An order with its lines: what REST, gRPC and events carry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderDetail {
    #[serde(flatten)]
    pub order: Order,
    pub items: Vec<OrderItem>,
}

/// One line of an order, priced when the order was placed.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
// GraphQL serves this as `OrderItem` through a node of the GraphQL door, which adds
// its resolvers; this name is never in the schema.
#[graphql(name = "OrderItemFields")]
pub struct OrderItem {
    pub id: Uuid,
    pub order_id: Uuid,
    /// The variant sold; `null` once it was deleted from the catalog.
    pub variant_id: Option<Uuid>,
    pub sku: String,
    /// Product name and variant title at the time of ordering.
    pub name: String,
    pub quantity: i32,
    pub unit_price: Money,
    /// Discount on the whole line.
    pub discount: Money,
    /// Tax on the whole line.
    pub tax: Money,
    /// quantity × unit price − discount + tax.
    pub total: Money,
    pub position: i32,
}

/// One entry of an order's history.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct OrderHistoryEntry {
    pub id: Uuid,
    /// `created`, `process`, `hold`, `cancel`, `merged`, `split`, `updated`, ...
    pub action: String,
    pub from_status: Option<OrderStatus>,
    pub to_status: Option<OrderStatus>,
    pub reason: Option<String>,
    /// Who did it: `user:<id>`, `api_key:<id>` or `system`.
    pub actor: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Which orders to list. Every field narrows the result.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub customer_id: Option<Uuid>,
    /// Placed at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Placed before this time.
    pub to: Option<DateTime<Utc>>,
    #[schema(value_type = Option<String>)]
    pub min_total: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub max_total: Option<Decimal>,
    pub tag: Option<String>,
    /// Part of the order number or the customer's email.
    pub query: Option<String>,
}

/// Orders of an order list; ties are broken by id.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    async_graphql::Enum,
)]
#[serde(rename_all = "snake_case")]
pub enum OrderSort {
    /// Newest first (the default).
    #[default]
    CreatedAtDesc,
    CreatedAtAsc,
    TotalDesc,
    TotalAsc,
}

#[cfg(test)]
mod tests {
    use super::OrderAction as A;
    use super::OrderStatus as S;
    use super::*;

    #[test]
    fn the_lifecycle_and_its_exits() {
        assert_eq!(S::Pending.apply(A::Process, None), Some(S::Processing));
        assert_eq!(S::Processing.apply(A::Ship, None), Some(S::Shipped));
        assert_eq!(S::Shipped.apply(A::Deliver, None), Some(S::Delivered));
        assert_eq!(S::Delivered.apply(A::Complete, None), Some(S::Completed));
        assert_eq!(S::Completed.apply(A::Archive, None), Some(S::Archived));
        assert_eq!(S::Processing.apply(A::Hold, None), Some(S::OnHold));
        assert_eq!(
            S::OnHold.apply(A::Release, Some(S::Processing)),
            Some(S::Processing)
        );
        assert_eq!(S::OnHold.apply(A::Cancel, None), Some(S::Cancelled));
        assert_eq!(S::Cancelled.apply(A::Archive, None), Some(S::Archived));
    }

    #[test]
    fn illegal_transitions_are_refused() {
        assert!(
            S::Shipped.apply(A::Cancel, None).is_none(),
            "no cancelling after shipment"
        );
        assert!(S::Pending.apply(A::Ship, None).is_none());
        assert!(S::Pending.apply(A::Archive, None).is_none());
        assert!(S::Archived.apply(A::Process, None).is_none());
        assert!(S::Pending.apply(A::Release, None).is_none());
        assert!(S::OnHold.apply(A::Hold, None).is_none());
        assert!(!S::OnHold.may_cancel(Some(S::PartiallyShipped)));
        assert!(S::OnHold.may_cancel(Some(S::Processing)));
    }

    #[test]
    fn shipments_move_the_order_step_by_step() {
        assert_eq!(
            S::Pending.after_shipment(false),
            Some(vec![
                (A::Process, S::Processing),
                (A::Ship, S::PartiallyShipped)
            ])
        );
        assert_eq!(
            S::PartiallyShipped.after_shipment(true),
            Some(vec![(A::Ship, S::Shipped)])
        );
        assert_eq!(S::PartiallyShipped.after_shipment(false), Some(vec![]));
        assert_eq!(S::OnHold.after_shipment(true), None);
        assert_eq!(S::Cancelled.after_shipment(false), None);
        assert_eq!(S::PartiallyShipped.apply(A::Ship, None), Some(S::Shipped));
        assert!(S::PartiallyShipped.apply(A::Deliver, None).is_none());
    }

    #[test]
    fn totals_add_up_per_line() {
        let d = |v: i64| Decimal::new(v, 2);
        let totals = Totals::of(
            [(2, d(1000), d(200), d(150)), (1, d(550), d(0), d(44))],
            d(500),
        );
        assert_eq!(totals.subtotal, d(2550));
        assert_eq!(totals.discount, d(200));
        assert_eq!(totals.tax, d(194));
        assert_eq!(totals.total, d(2550) - d(200) + d(500) + d(194));
        assert_eq!(line_total(2, d(1000), d(200), d(150)), d(1950));
    }
}
