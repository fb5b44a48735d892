//! Fulfilment: an order's lines planned per location (fulfilment orders) and shipped from
//! there in shipments of one or more packages. The shipment's life is a table, like the
//! order's.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::rating::RateTable;
use super::tracking::{CarrierKind, TrackingStatus};
use super::{Address, Money};

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
    /// The carrier's public tracking page for it, when the carrier is a known one.
    pub tracking_url: Option<String>,
    /// Its label: the one in play, else the last one voided or failed.
    pub label: Option<ShippingLabel>,
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

crate::stored_enum! {
    /// How a carrier is reached.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum CarrierAdapter {
        /// Rated from the merchant's rate table; labels rendered by this server.
        Table = "table",
        /// A carrier API (or a bridge to one) at `base_url`.
        Http = "http",
    }
}

/// A carrier the shop ships with. Its API key and webhook secret are never shown.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct Carrier {
    pub id: Uuid,
    /// `ups`, `fedex`, ... or a custom carrier's code: what shipments name.
    pub code: String,
    pub name: String,
    /// Whose tracking numbers and event codes apply; `null` for a custom carrier.
    pub kind: Option<CarrierKind>,
    pub adapter: CarrierAdapter,
    /// Disabled carriers are not asked for rates and sell no labels.
    pub enabled: bool,
    pub base_url: Option<String>,
    pub has_api_key: bool,
    /// How long rating waits for it before counting it failed.
    pub timeout_ms: i32,
    pub rate_table: Option<RateTable>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A carrier just made, with the secret its tracking webhooks are signed with (shown once).
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct CreatedCarrier {
    #[serde(flatten)]
    #[graphql(flatten)]
    pub carrier: Carrier,
    /// Signs `X-Carrier-Signature` on `POST /api/v1/carriers/{code}/webhook`.
    pub webhook_secret: String,
}

crate::stored_enum! {
    /// Where a label purchase is.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum LabelStatus {
        /// Asked of the carrier; the answer is not in yet (a retry settles it).
        Pending = "pending",
        Purchased = "purchased",
        /// The carrier is being asked to void it.
        Voiding = "voiding",
        Voided = "voided",
        /// The carrier refused or could not be reached; nothing was bought.
        Failed = "failed",
    }
}

impl LabelStatus {
    /// The states of a label in play: at most one per package (a partial unique index).
    pub const LIVE: [LabelStatus; 3] = [Self::Pending, Self::Purchased, Self::Voiding];
    /// The states whose outcome at the carrier is not known yet.
    pub const IN_DOUBT: [LabelStatus; 2] = [Self::Pending, Self::Voiding];

    pub fn is_live(self) -> bool {
        Self::LIVE.contains(&self)
    }
}

/// A label bought (or being bought) for one package.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct ShippingLabel {
    pub id: Uuid,
    pub package_id: Uuid,
    /// The carrier's code.
    pub carrier: String,
    pub service: String,
    pub status: LabelStatus,
    pub tracking_number: Option<String>,
    pub price: Option<Money>,
    /// Why the purchase failed.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub purchased_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
}

/// One way to send a shipment: a carrier's service and what it costs.
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, async_graphql::SimpleObject,
)]
pub struct ShipmentRate {
    /// The carrier's code.
    pub carrier: String,
    pub carrier_name: String,
    pub service: String,
    pub service_name: String,
    pub price: Money,
    pub estimated_delivery: NaiveDate,
    /// Whether the carrier guarantees `estimated_delivery`.
    pub guaranteed: bool,
}

/// A carrier that gave no rates: it failed, or did not answer in time.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct CarrierFailure {
    pub carrier: String,
    pub error: String,
}

crate::stored_enum! {
    /// How to pick among a shipment's rates.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum RateChoice {
        /// The lowest price (the earlier delivery breaks a tie).
        Cheapest = "cheapest",
        /// The earliest delivery (the lower price breaks a tie).
        Fastest = "fastest",
        /// The cheapest that arrives by the date promised at checkout (cheapest when
        /// nothing was promised).
        BestValue = "best_value",
    }
}

/// Every carrier asked at once for a shipment: what came back, who failed, and the picks.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct RateShopping {
    pub shipment_id: Uuid,
    /// Cheapest first.
    pub rates: Vec<ShipmentRate>,
    pub failures: Vec<CarrierFailure>,
    /// The latest delivery date promised to the customer at checkout, if any.
    pub promised_by: Option<NaiveDate>,
    pub cheapest: Option<ShipmentRate>,
    pub fastest: Option<ShipmentRate>,
    /// `null` when no rate arrives by the promised date.
    pub best_value: Option<ShipmentRate>,
}

/// Picks a rate by `choice`; `promised_by` is what best value must arrive by.
pub fn choose_rate(
    rates: &[ShipmentRate],
    choice: RateChoice,
    promised_by: Option<NaiveDate>,
) -> Option<&ShipmentRate> {
    let cheapest = |r: &&ShipmentRate| (r.price.amount, r.estimated_delivery);
    match choice {
        RateChoice::Cheapest => rates.iter().min_by_key(cheapest),
        RateChoice::Fastest => rates
            .iter()
            .min_by_key(|r| (r.estimated_delivery, r.price.amount)),
        RateChoice::BestValue => rates
            .iter()
            .filter(|r| promised_by.is_none_or(|by| r.estimated_delivery <= by))
            .min_by_key(cheapest),
    }
}

/// One thing the carrier reported about a shipment.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct TrackingEvent {
    pub id: Uuid,
    /// The carrier's id of the event.
    pub event_id: String,
    pub status: TrackingStatus,
    /// The carrier's own code it was mapped from.
    pub carrier_code: String,
    pub occurred_at: DateTime<Utc>,
    pub location: Option<String>,
    pub description: Option<String>,
    pub signed_by: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// A parcel's progress as anyone holding its number may see it: no addresses, no names.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct PublicTracking {
    pub tracking_number: String,
    pub carrier: Option<String>,
    pub tracking_url: Option<String>,
    pub status: ShipmentStatus,
    pub shipped_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Newest first.
    pub events: Vec<PublicTrackingEvent>,
}

/// A tracking event without who signed.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct PublicTrackingEvent {
    pub status: TrackingStatus,
    pub occurred_at: DateTime<Utc>,
    pub location: Option<String>,
    pub description: Option<String>,
}

/// What `GET /shipments/track/{number}` answers: the public view, and the shipment with
/// its events for callers who may read shipments.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct TrackingAnswer {
    #[serde(flatten)]
    #[graphql(flatten)]
    pub tracking: PublicTracking,
    pub shipment: Option<Shipment>,
    pub tracking_events: Option<Vec<TrackingEvent>>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
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
    fn rates_are_picked_by_price_speed_or_the_promise() {
        use super::{RateChoice, ShipmentRate, choose_rate};
        use chrono::NaiveDate;
        let rate = |service: &str, price: i64, day: u32| ShipmentRate {
            carrier: "ups".into(),
            carrier_name: "UPS".into(),
            service: service.into(),
            service_name: service.into(),
            price: crate::Money::from_stored(rust_decimal::Decimal::new(price, 2), "USD"),
            estimated_delivery: NaiveDate::from_ymd_opt(2026, 12, day).unwrap(),
            guaranteed: false,
        };
        let rates = [
            rate("ground", 900, 11),
            rate("express", 2500, 8),
            rate("two_day", 1500, 9),
        ];
        let pick = |choice, by: Option<u32>| {
            choose_rate(
                &rates,
                choice,
                by.map(|d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap()),
            )
            .map(|r| r.service.clone())
        };
        assert_eq!(pick(RateChoice::Cheapest, None).as_deref(), Some("ground"));
        assert_eq!(pick(RateChoice::Fastest, None).as_deref(), Some("express"));
        assert_eq!(
            pick(RateChoice::BestValue, Some(9)).as_deref(),
            Some("two_day")
        );
        assert_eq!(pick(RateChoice::BestValue, None).as_deref(), Some("ground"));
        assert_eq!(pick(RateChoice::BestValue, Some(7)), None);
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
