//! Domain events as read back from the outbox.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Something that happened, recorded in the same transaction as the change itself.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct Event {
    /// Global, increasing number: resume a feed after the last one seen.
    pub sequence: i64,
    pub id: Uuid,
    /// Dotted name such as `product.created`.
    #[graphql(name = "type")]
    #[serde(rename = "type")]
    pub event_type: String,
    /// The kind of entity the event is about, e.g. `product`.
    pub entity_type: String,
    pub entity_id: Uuid,
    /// The entity as it was after the change.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}

/// Event types to match: exact names (`order.created`) and wildcards (`order.*`); `*`, or no
/// pattern at all, matches every type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypePatterns {
    pub exact: Vec<String>,
    /// From wildcards: `order.*` is kept as `order.`.
    pub prefixes: Vec<String>,
}

/// Which pattern could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPattern {
    pub index: usize,
    pub reason: &'static str,
}

impl TypePatterns {
    pub fn parse(patterns: &[String]) -> Result<Self, BadPattern> {
        let mut parsed = Self::default();
        let mut everything = false;
        for (index, pattern) in patterns.iter().enumerate() {
            let bad = |reason| Err(BadPattern { index, reason });
            let pattern = pattern.trim();
            if pattern.is_empty() || pattern.contains('\0') || pattern.len() > 200 {
                return bad("must be an event type such as `order.created` or `order.*`");
            }
            if pattern == "*" {
                everything = true;
                continue;
            }
            match pattern.strip_suffix('*') {
                Some(prefix)
                    if prefix.ends_with('.') && !prefix[..prefix.len() - 1].contains('*') =>
                {
                    parsed.prefixes.push(prefix.to_owned())
                }
                Some(_) => return bad("a wildcard must follow a dot, as in `order.*`"),
                None if pattern.contains('*') => {
                    return bad("a wildcard may only end a pattern, as in `order.*`");
                }
                None => parsed.exact.push(pattern.to_owned()),
            }
        }
        Ok(if everything { Self::default() } else { parsed })
    }

    /// Whether `event_type` is one of these types.
    pub fn matches(&self, event_type: &str) -> bool {
        type_matches(&self.exact, &self.prefixes, event_type)
    }
}

/// Whether `event_type` is one of `exact` or starts with one of `prefixes` (both empty: all).
pub fn type_matches(exact: &[String], prefixes: &[String], event_type: &str) -> bool {
    (exact.is_empty() && prefixes.is_empty())
        || exact.iter().any(|t| t == event_type)
        || prefixes.iter().any(|p| event_type.starts_with(p.as_str()))
}

/// Declares [`EventType`]: each variant and the dotted name it is stored and sent under.
macro_rules! event_types {
    ($($variant:ident => $name:literal,)*) => {
        /// Every kind of event the server records, by its dotted name (`order.created`): the
        /// `type` of an event in the log, in subscriptions and in webhook deliveries.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventType {
            $($variant,)*
        }

        impl EventType {
            /// Every event type, in name order.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)*];

            /// The dotted name, e.g. `order.created`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)*
                }
            }
        }
    };
}

event_types! {
    ApiKeyCreated => "api_key.created",
    ApiKeyRevoked => "api_key.revoked",
    CartCreated => "cart.created",
    CartUpdated => "cart.updated",
    CategoryCreated => "category.created",
    CategoryDeleted => "category.deleted",
    CategoryUpdated => "category.updated",
    CheckoutCanceled => "checkout.canceled",
    CheckoutCompleted => "checkout.completed",
    CheckoutCreated => "checkout.created",
    CheckoutUpdated => "checkout.updated",
    CustomerCreated => "customer.created",
    CustomerUpdated => "customer.updated",
    FulfillmentOrderCancelled => "fulfillment_order.cancelled",
    FulfillmentOrderCreated => "fulfillment_order.created",
    FulfillmentOrderHeld => "fulfillment_order.held",
    FulfillmentOrderMerged => "fulfillment_order.merged",
    FulfillmentOrderMoved => "fulfillment_order.moved",
    FulfillmentOrderReleased => "fulfillment_order.released",
    FulfillmentOrderSplit => "fulfillment_order.split",
    FulfillmentOrderUpdated => "fulfillment_order.updated",
    InventoryAdjusted => "inventory.adjusted",
    InventoryLowStock => "inventory.low_stock",
    InventoryReceived => "inventory.received",
    InventoryReleased => "inventory.released",
    InventoryReserved => "inventory.reserved",
    InventoryShipped => "inventory.shipped",
    InventoryTransferred => "inventory.transferred",
    InvoiceCreated => "invoice.created",
    InvoiceIssued => "invoice.issued",
    InvoiceOverdue => "invoice.overdue",
    InvoicePaid => "invoice.paid",
    InvoicePaymentRecorded => "invoice.payment_recorded",
    InvoiceVoided => "invoice.voided",
    OrderArchived => "order.archived",
    OrderCancelled => "order.cancelled",
    OrderCompleted => "order.completed",
    OrderCreated => "order.created",
    OrderDelivered => "order.delivered",
    OrderMerged => "order.merged",
    OrderShipped => "order.shipped",
    OrderSplit => "order.split",
    OrderStatusChanged => "order.status_changed",
    OrderUpdated => "order.updated",
    PaymentCaptured => "payment.captured",
    PaymentFailed => "payment.failed",
    PaymentOverpaid => "payment.overpaid",
    PaymentProcessed => "payment.processed",
    PaymentRefunded => "payment.refunded",
    PaymentRequested => "payment.requested",
    PaymentUnderpaid => "payment.underpaid",
    PaymentVoided => "payment.voided",
    ProductCreated => "product.created",
    ProductDeleted => "product.deleted",
    ProductUpdated => "product.updated",
    RoleCreated => "role.created",
    ShipmentCancelled => "shipment.cancelled",
    ShipmentCreated => "shipment.created",
    ShipmentDelivered => "shipment.delivered",
    ShipmentException => "shipment.exception",
    ShipmentInTransit => "shipment.in_transit",
    ShipmentShipped => "shipment.shipped",
    ShipmentUpdated => "shipment.updated",
    RoleDeleted => "role.deleted",
    RoleUpdated => "role.updated",
    UserCreated => "user.created",
    UserUpdated => "user.updated",
    WebhookCreated => "webhook.created",
    WebhookDeleted => "webhook.deleted",
    WebhookDisabled => "webhook.disabled",
    WebhookPing => "webhook.ping",
    WebhookUpdated => "webhook.updated",
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<EventType> for String {
    fn eq(&self, other: &EventType) -> bool {
        self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_its_own_dotted_name() {
        let names: std::collections::HashSet<&str> =
            EventType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(
            names.len(),
            EventType::ALL.len(),
            "no two kinds share a name"
        );
        for name in names {
            let (entity, action) = name.split_once('.').unwrap_or_default();
            assert!(!entity.is_empty() && !action.is_empty(), "{name}");
            assert!(TypePatterns::parse(&[format!("{entity}.*")]).is_ok_and(|p| p.matches(name)));
        }
        assert_eq!(EventType::OrderCreated.to_string(), "order.created");
        assert!("order.created".to_owned() == EventType::OrderCreated);
    }
}
