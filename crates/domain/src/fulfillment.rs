//! Fulfilment: an order's lines planned per location (fulfilment orders) and shipped from
//! there in shipments of one or more packages. The shipment's life is a table, like the
//! order's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::Address;

crate::stored_enum! {
    /// Where a fulfilment order is: `open` until a shipment takes some of it, `in_progress`
    /// while shipments hold lines, `closed` when all has shipped, `cancelled` with its order
    /// (or when merged into another).
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum FulfillmentOrderStatus {
        Open = "open",
        InProgress = "in_progress",
        OnHold = "on_hold",
        Closed = "closed",
        Cancelled = "cancelled",
    }
}

impl FulfillmentOrderStatus {
    /// Whether shipments may still be made from it (not held, not ended).
    pub fn is_workable(self) -> bool {
        matches!(self, Self::Open | Self::InProgress)
    }
}

crate::stored_enum! {
    /// Why a fulfilment order is held.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum HoldReason {
        AwaitingPayment = "awaiting_payment",
        HighRiskOfFraud = "high_risk_of_fraud",
        IncorrectAddress = "incorrect_address",
        InventoryOutOfStock = "inventory_out_of_stock",
        Other = "other",
    }
}

crate::stored_enum! {
    /// Where a shipment is. Up to `shipped` the warehouse moves it; after that the carrier's
    /// tracking does.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum ShipmentStatus {
        Pending = "pending",
        Picking = "picking",
        Packed = "packed",
        Shipped = "shipped",
        InTransit = "in_transit",
        OutForDelivery = "out_for_delivery",
        Delivered = "delivered",
        Exception = "exception",
        ReturnedToSender = "returned_to_sender",
        Cancelled = "cancelled",
    }
}

crate::stored_enum! {
    /// What the warehouse (or the delivery confirmation) does to a shipment.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum ShipmentAction {
        Pick = "pick",
        Pack = "pack",
        Ship = "ship",
        Deliver = "deliver",
        Cancel = "cancel",
    }
}

/// The allowed moves: action, the states it may start from, the state it leads to.
const SHIPMENT_TRANSITIONS: &[(ShipmentAction, &[ShipmentStatus], ShipmentStatus)] = {
    use ShipmentAction as A;
    use ShipmentStatus as S;
    &[
        (A::Pick, &[S::Pending], S::Picking),
        (A::Pack, &[S::Pending, S::Picking], S::Packed),
        (A::Ship, &[S::Pending, S::Picking, S::Packed], S::Shipped),
        (
            A::Deliver,
            &[S::Shipped, S::InTransit, S::OutForDelivery, S::Exception],
            S::Delivered,
        ),
        (
            A::Cancel,
            &[S::Pending, S::Picking, S::Packed],
            S::Cancelled,
        ),
    ]
};

impl ShipmentStatus {
    /// Where `action` leads from here; `None` when the table does not allow it.
    pub fn apply(self, action: ShipmentAction) -> Option<ShipmentStatus> {
        SHIPMENT_TRANSITIONS
            .iter()
            .find(|(a, from, _)| *a == action && from.contains(&self))
            .map(|(_, _, to)| *to)
    }

    /// Whether its parcels have left the warehouse (and so its stock left the ledger).
    pub fn has_left(self) -> bool {
        !matches!(
            self,
            Self::Pending | Self::Picking | Self::Packed | Self::Cancelled
        )
    }
}

crate::stored_enum! {
    /// Who must sign for a delivery.
    #[derive(
        Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum SignatureRequirement {
        #[default]
        None = "none",
        Signature = "signature",
        AdultSignature = "adult_signature",
    }
}

/// An order's lines to be shipped from one location.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct FulfillmentOrder {
    pub id: Uuid,
    pub order_id: Uuid,
    /// Where the units are reserved and leave from.
    pub location_id: Uuid,
    pub status: FulfillmentOrderStatus,
    pub hold_reason: Option<HoldReason>,
    pub hold_note: Option<String>,
    /// The fulfilment order this one was merged into.
    pub merged_into: Option<Uuid>,
    pub lines: Vec<FulfillmentOrderLine>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Units of one order line planned at a fulfilment order's location.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct FulfillmentOrderLine {
    pub id: Uuid,
    pub order_item_id: Uuid,
    pub variant_id: Option<Uuid>,
    pub sku: String,
    pub name: String,
    /// Units planned here.
    pub quantity: i32,
    /// Units in shipments not cancelled (shipped or not).
    pub assigned_quantity: i32,
    /// Units that have left in shipments.
    pub shipped_quantity: i32,
    /// Units no shipment holds yet: what a new shipment may take.
    pub remaining_quantity: i32,
}

/// Lines of one fulfilment order leaving together, in one or more packages.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct Shipment {
    pub id: Uuid,
    /// Human number, e.g. `SHP-000042`.
    pub number: String,
    pub order_id: Uuid,
    pub fulfillment_order_id: Uuid,
    pub location_id: Uuid,
    pub status: ShipmentStatus,
    /// The carrier's code (`ups`, `fedex`, `usps`, `dhl_express`, or a custom carrier's).
    pub carrier: Option<String>,
    /// The carrier's service level, e.g. `ground`.
    pub service: Option<String>,
    pub signature: SignatureRequirement,
    /// The order's shipping address when the shipment was made.
    pub ship_to: Option<Address>,
    pub lines: Vec<ShipmentLine>,
    pub packages: Vec<ShipmentPackage>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Who signed for the delivery.
    pub signed_by: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Units of one fulfilment order line in a shipment.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct ShipmentLine {
    pub id: Uuid,
    pub fulfillment_order_line_id: Uuid,
    pub order_item_id: Uuid,
    pub sku: String,
    pub name: String,
    pub quantity: i32,
}

/// One box of a shipment.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct ShipmentPackage {
    pub id: Uuid,
    /// 1, 2, ... within the shipment.
    pub position: i32,
    pub weight_grams: i32,
    pub length_mm: i32,
    pub width_mm: i32,
    pub height_mm: i32,
    pub tracking_number: Option<String>,
}

/// Which shipments to list. Every field narrows the result.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct ShipmentFilter {
    pub order_id: Option<Uuid>,
    pub status: Option<ShipmentStatus>,
    pub carrier: Option<String>,
    /// Made at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Made before this time.
    pub to: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::ShipmentAction as A;
    use super::ShipmentStatus as S;

    #[test]
    fn a_shipment_leaves_then_arrives() {
        assert_eq!(S::Pending.apply(A::Pick), Some(S::Picking));
        assert_eq!(S::Picking.apply(A::Pack), Some(S::Packed));
        assert_eq!(S::Packed.apply(A::Ship), Some(S::Shipped));
        assert_eq!(S::Pending.apply(A::Ship), Some(S::Shipped));
        assert_eq!(S::InTransit.apply(A::Deliver), Some(S::Delivered));
        assert_eq!(S::Exception.apply(A::Deliver), Some(S::Delivered));
    }

    #[test]
    fn nothing_is_cancelled_once_it_left() {
        assert_eq!(S::Packed.apply(A::Cancel), Some(S::Cancelled));
        for left in [S::Shipped, S::InTransit, S::Delivered, S::ReturnedToSender] {
            assert!(left.has_left());
            assert_eq!(left.apply(A::Cancel), None, "{left:?}");
        }
        assert_eq!(S::Pending.apply(A::Deliver), None);
        assert_eq!(S::Cancelled.apply(A::Ship), None);
        assert_eq!(S::Delivered.apply(A::Pick), None);
        assert!(!S::Cancelled.has_left());
    }
}
