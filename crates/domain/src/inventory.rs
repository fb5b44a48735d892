//! Inventory: locations, balances per variant and location, lots, the movement ledger,
//! reservations, transfers, cycle counts and purchase orders.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

crate::stored_enum! {
    /// What a location is.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum LocationKind {
        Warehouse = "warehouse",
        Store = "store",
        /// Stock that is not anywhere physical (drop-ship, digital).
        Virtual = "virtual",
    }
}

crate::stored_enum! {
    /// What a ledger movement records.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum MovementKind {
        Receive = "receive",
        Adjust = "adjust",
        Reserve = "reserve",
        Release = "release",
        Ship = "ship",
        TransferOut = "transfer_out",
        TransferIn = "transfer_in",
        CountCorrection = "count_correction",
        ReturnRestock = "return_restock",
    }
}

crate::stored_enum! {
    /// Where a reservation stands.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ReservationStatus {
        /// Holding stock.
        Active = "active",
        /// Given back.
        Released = "released",
        /// Shipped: the units left the building.
        Committed = "committed",
        /// Its hold ran out and was given back.
        Expired = "expired",
    }
}

crate::stored_enum! {
    /// Where a transfer stands.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum TransferStatus {
        InTransit = "in_transit",
        Received = "received",
    }
}

crate::stored_enum! {
    /// Where a cycle count stands.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum CountStatus {
        /// Counting.
        Open = "open",
        /// Its variances became adjustments.
        Posted = "posted",
    }
}

crate::stored_enum! {
    /// Where a purchase order stands.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum PurchaseOrderStatus {
        Open = "open",
        PartiallyReceived = "partially_received",
        Received = "received",
        Cancelled = "cancelled",
    }
}

impl PurchaseOrderStatus {
    /// Whether goods can still be received against it.
    pub fn is_receivable(self) -> bool {
        matches!(self, Self::Open | Self::PartiallyReceived)
    }
}

/// How much of a variant a storefront may promise, in words.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, async_graphql::Enum,
)]
#[serde(rename_all = "snake_case")]
pub enum StockLevel {
    InStock,
    /// At or below the merchant's low threshold (`STOREFRONT_LOW_STOCK_THRESHOLD`).
    LowStock,
    OutOfStock,
}

impl StockLevel {
    /// The level of `sellable` units; a variant with no stock records is not stock-tracked and
    /// always in stock.
    pub fn of(sellable: Option<i64>, low_threshold: i64) -> Self {
        match sellable {
            None => Self::InStock,
            Some(n) if n <= 0 => Self::OutOfStock,
            Some(n) if n <= low_threshold => Self::LowStock,
            Some(_) => Self::InStock,
        }
    }
}

/// What a shopper may know of a variant's stock: its level, and the units for sale unless the
/// merchant shows levels only (`STOREFRONT_STOCK_DISPLAY=level`) or it is not stock-tracked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Availability {
    pub variant_id: Uuid,
    pub sku: String,
    pub stock_level: StockLevel,
    /// Units for sale across locations (on hand − reserved); `null` when only levels are
    /// shown or the variant is not stock-tracked.
    pub available: Option<i32>,
}

/// A place that holds stock.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct Location {
    pub id: Uuid,
    /// Short unique code, e.g. `WH-EAST`.
    pub code: String,
    pub name: String,
    pub kind: LocationKind,
    /// Reservations take stock from lower numbers first.
    pub priority: i32,
    pub active: bool,
    /// Where it ships from: the sender on its labels, the origin its rates use.
    pub address: Option<super::Address>,
    pub created_at: DateTime<Utc>,
}

/// Stock of one variant at one location.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct InventoryItem {
    pub id: Uuid,
    pub variant_id: Uuid,
    pub sku: String,
    pub location_id: Uuid,
    pub on_hand: i32,
    pub reserved: i32,
    /// `on_hand − reserved`.
    pub available: i32,
    /// Expected from open purchase orders.
    pub on_order: i32,
    /// Kept back from promising (the `committed` part of available-to-promise).
    pub safety_stock: i32,
    /// `available` at or below this is low stock.
    pub reorder_point: Option<i32>,
    pub reorder_quantity: Option<i32>,
    pub low_stock: bool,
    pub updated_at: DateTime<Utc>,
}

/// A received batch with an optional expiry; allocation takes the soonest-expiring first.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct InventoryLot {
    pub id: Uuid,
    pub item_id: Uuid,
    pub lot_code: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub on_hand: i32,
    pub reserved: i32,
    pub received_at: DateTime<Utc>,
}

/// One immutable ledger row; balances are the running sums of the deltas.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct InventoryMovement {
    pub id: Uuid,
    pub item_id: Uuid,
    pub lot_id: Option<Uuid>,
    /// `receive`, `adjust`, `reserve`, `release`, `ship`, `transfer_out`, `transfer_in`,
    /// `count_correction`, `return_restock`.
    pub kind: String,
    pub on_hand_delta: i32,
    pub reserved_delta: i32,
    pub reason: Option<String>,
    pub actor: String,
    pub reference_type: Option<String>,
    pub reference_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// Stock held for an order or another reference.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct Reservation {
    pub id: Uuid,
    pub item_id: Uuid,
    pub location_id: Uuid,
    pub variant_id: Uuid,
    pub lot_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub reference: Option<String>,
    pub quantity: i32,
    /// `active`, `released`, `committed` (shipped) or `expired`.
    pub status: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Available to promise for one variant: `available + on_order − committed`, where
/// `committed` is the safety stock kept back.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct AvailableToPromise {
    pub variant_id: Uuid,
    pub on_hand: i32,
    pub reserved: i32,
    pub available: i32,
    pub on_order: i32,
    pub committed: i32,
    pub available_to_promise: i32,
    pub locations: Vec<LocationPromise>,
}

/// Available to promise at one location.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct LocationPromise {
    pub location_id: Uuid,
    pub available: i32,
    pub on_order: i32,
    pub committed: i32,
    pub available_to_promise: i32,
}

/// Stock moving between two locations.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct Transfer {
    pub id: Uuid,
    /// `TRF-000001`.
    pub number: String,
    pub from_location_id: Uuid,
    pub to_location_id: Uuid,
    /// `in_transit` until received.
    pub status: String,
    pub lines: Vec<TransferLine>,
    pub created_at: DateTime<Utc>,
    pub received_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct TransferLine {
    pub variant_id: Uuid,
    pub quantity: i32,
}

/// A cycle count of one location.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct CycleCount {
    pub id: Uuid,
    pub location_id: Uuid,
    /// `open` while counting, `posted` once the variances became adjustments.
    pub status: String,
    pub lines: Vec<CycleCountLine>,
    pub created_at: DateTime<Utc>,
    pub posted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct CycleCountLine {
    pub item_id: Uuid,
    pub variant_id: Uuid,
    pub sku: String,
    /// On hand when the count was opened.
    pub expected: i32,
    pub counted: Option<i32>,
    /// `counted − expected`, once counted.
    pub variance: Option<i32>,
}

/// Stock ordered from a supplier.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct PurchaseOrder {
    pub id: Uuid,
    /// `PO-000001`.
    pub number: String,
    pub location_id: Uuid,
    pub supplier: String,
    pub expected_at: Option<DateTime<Utc>>,
    /// `open`, `partially_received`, `received` or `cancelled`.
    pub status: String,
    pub lines: Vec<PurchaseOrderLine>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct PurchaseOrderLine {
    pub id: Uuid,
    pub variant_id: Uuid,
    pub quantity_ordered: i32,
    pub quantity_received: i32,
}

/// Whose sellable stock a storefront reads: some variants, or every variant of a product.
#[derive(Debug, Clone, Copy)]
pub enum SellableOf<'a> {
    Variants(&'a [Uuid]),
    Product(Uuid),
}
