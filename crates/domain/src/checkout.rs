//! Checkout and payments: a cart on its way to becoming a paid order.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Address, Money, Order};

/// A shipping method offered for a checkout, priced for its cart and address.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct ShippingOption {
    pub method_id: Uuid,
    pub name: String,
    pub carrier: String,
    pub service: String,
    pub price: Money,
    /// Delivery estimate in days.
    pub min_days: i32,
    pub max_days: i32,
}

/// What a checkout costs, recomputed at every step.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct CheckoutTotals {
    pub subtotal: Money,
    pub discount_total: Money,
    pub shipping_total: Money,
    pub tax_total: Money,
    pub total: Money,
}

/// The card a checkout will be paid with (never its number).
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct PaymentMethodSummary {
    pub token: String,
    pub brand: String,
    pub last4: String,
}

crate::stored_enum! {
    /// Where a checkout stands.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum CheckoutStatus {
        Open = "open",
        Completed = "completed",
    }
}

/// A checkout: the cart, where it goes, how it ships and is paid, and what it costs.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct Checkout {
    /// Random: whoever holds it may carry the checkout on.
    pub id: Uuid,
    pub cart_id: Uuid,
    pub status: CheckoutStatus,
    pub email: Option<String>,
    pub shipping_address: Option<Address>,
    pub billing_address: Option<Address>,
    pub shipping_method: Option<ShippingOption>,
    pub discount_code: Option<String>,
    pub payment_method: Option<PaymentMethodSummary>,
    pub items: Vec<super::CartItem>,
    pub totals: CheckoutTotals,
    /// What is still needed before completion (`email`, `shipping_address`, ...); empty when
    /// the checkout can be completed.
    pub missing: Vec<String>,
    /// The order placed, once completed.
    pub order_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

crate::stored_enum! {
    /// Where a payment stands.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum PaymentStatus {
        /// Waiting for the payer (a stablecoin transfer not yet confirmed in full).
        Pending = "pending",
        Authorized = "authorized",
        Captured = "captured",
        /// The provider reported the payment failed after it was made.
        Failed = "failed",
        Voided = "voided",
        /// A payment request that was not paid in full before it expired.
        Expired = "expired",
        PartiallyRefunded = "partially_refunded",
        Refunded = "refunded",
    }
}

/// Money taken (or held) for an order.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct Payment {
    pub id: Uuid,
    pub order_id: Uuid,
    /// `test`, `stripe`, ...
    pub provider: String,
    /// The provider's id for the payment.
    pub provider_reference: String,
    pub status: PaymentStatus,
    pub amount: Money,
    pub captured: Money,
    pub refunded: Money,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    /// Why the provider failed it (`card_declined`, `underpaid`, `expired`, ...).
    pub failure_code: Option<String>,
    /// What to send where, for a stablecoin payment.
    pub stablecoin: Option<StablecoinRequest>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

crate::stored_enum! {
    /// A stablecoin a payment request can be paid in.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "UPPERCASE")]
    pub enum Stablecoin {
        Usdc = "USDC",
        Usdt = "USDT",
    }
}

crate::stored_enum! {
    /// Where a stablecoin payment request stands, by the confirmed transfers received.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum StablecoinState {
        /// Nothing confirmed yet.
        Awaiting = "awaiting",
        /// Less than asked for has arrived; the payer may still send the rest before expiry.
        Underpaid = "underpaid",
        /// Exactly the amount asked for.
        Paid = "paid",
        /// More than asked for: the surplus is owed back to the payer.
        Overpaid = "overpaid",
        /// Not paid in full in time: whatever arrived is owed back.
        Expired = "expired",
        /// Voided by the merchant: whatever arrived is owed back.
        Cancelled = "cancelled",
    }
}

impl StablecoinState {
    /// The state of an open request once `received` of `amount` has been confirmed.
    pub fn settle(amount: rust_decimal::Decimal, received: rust_decimal::Decimal) -> Self {
        use std::cmp::Ordering::*;
        match received.cmp(&amount) {
            _ if received.is_zero() => Self::Awaiting,
            Less => Self::Underpaid,
            Equal => Self::Paid,
            Greater => Self::Overpaid,
        }
    }

    /// Whether the request still takes payments toward its amount.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Awaiting | Self::Underpaid)
    }
}

/// A request to pay in a stablecoin: send `amount` of `asset` on `network` to `address`
/// before `expires_at`.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct StablecoinRequest {
    pub asset: Stablecoin,
    /// `ethereum`, `base`, `polygon`, `solana`, ... (as configured).
    pub network: String,
    pub address: String,
    /// In token units, as a decimal string.
    #[schema(value_type = String, example = "25.00")]
    pub amount: rust_decimal::Decimal,
    /// Confirmed so far.
    #[schema(value_type = String, example = "0")]
    pub received: rust_decimal::Decimal,
    pub state: StablecoinState,
    pub expires_at: DateTime<Utc>,
    /// Transfers seen for it, counted or still confirming.
    pub transfers: Vec<StablecoinTransfer>,
}

/// An on-chain transfer reported for a payment request.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct StablecoinTransfer {
    pub tx_hash: String,
    #[schema(value_type = String, example = "25.00")]
    pub amount: rust_decimal::Decimal,
    pub confirmations: i32,
    /// Whether it reached the required confirmations and counts toward the request.
    pub counted: bool,
    pub received_at: DateTime<Utc>,
}

/// One line of the stablecoin reconciliation report.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct StablecoinReconciliationLine {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub payment_status: PaymentStatus,
    #[graphql(flatten)]
    #[serde(flatten)]
    pub request: StablecoinRequest,
    /// Still to be paid by the payer (open requests only).
    #[schema(value_type = String, example = "0")]
    pub outstanding: rust_decimal::Decimal,
    /// Owed back to the payer: an overpayment's surplus, or everything received for a request
    /// that expired or was voided.
    #[schema(value_type = String, example = "0")]
    pub refund_due: rust_decimal::Decimal,
}

/// Totals of the reconciliation report for one asset.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct StablecoinTotals {
    pub asset: Stablecoin,
    #[schema(value_type = String)]
    pub requested: rust_decimal::Decimal,
    #[schema(value_type = String)]
    pub received: rust_decimal::Decimal,
    #[schema(value_type = String)]
    pub outstanding: rust_decimal::Decimal,
    #[schema(value_type = String)]
    pub refund_due: rust_decimal::Decimal,
}

/// Expected against received for every stablecoin payment request in a period.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct StablecoinReconciliation {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub lines: Vec<StablecoinReconciliationLine>,
    pub totals: Vec<StablecoinTotals>,
}

/// A completed checkout: the order and its payment.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct CompletedCheckout {
    pub checkout: Checkout,
    pub order: Order,
    pub payment: Payment,
}

/// A card turned into a token: the only thing clients send on.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct PaymentToken {
    /// `tok_...`
    pub id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i32,
    pub exp_year: i32,
}

crate::stored_enum! {
    /// Where a recorded provider call stands (see `migrations/*_payment_attempts`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum AttemptStatus {
        /// The call may or may not have happened.
        Pending = "pending",
        /// The provider said yes; our side is not yet written.
        Succeeded = "succeeded",
        /// Written with the order or payment change it was for.
        Applied = "applied",
        /// The provider said no.
        Declined = "declined",
        /// Refused; nothing moved.
        Failed = "failed",
        /// It moved, but our side could not be written, so it was given back.
        Voided = "voided",
    }
}

impl AttemptStatus {
    /// The statuses whose outcome is still to be written on our side.
    pub const OPEN: [Self; 2] = [Self::Pending, Self::Succeeded];

    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self)
    }
}

crate::stored_enum! {
    /// What an agent's (ACP) checkout session row records; the status agents see is derived
    /// from this and the checkout.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum AgentSessionStatus {
        Open = "open",
        /// The agent cancelled it; it takes no more changes.
        Canceled = "canceled",
    }
}
