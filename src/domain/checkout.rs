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

/// Where a checkout stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema, async_graphql::Enum,
)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutStatus {
    Open,
    Completed,
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

/// Where a payment stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema, async_graphql::Enum,
)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Authorized,
    Captured,
    /// The provider reported the payment failed after it was made.
    Failed,
    Voided,
    PartiallyRefunded,
    Refunded,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorized => "authorized",
            Self::Captured => "captured",
            Self::Failed => "failed",
            Self::Voided => "voided",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
        }
    }

    pub fn from_stored(value: &str) -> Self {
        match value {
            "captured" => Self::Captured,
            "failed" => Self::Failed,
            "voided" => Self::Voided,
            "partially_refunded" => Self::PartiallyRefunded,
            "refunded" => Self::Refunded,
            _ => Self::Authorized,
        }
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
    pub created_at: DateTime<Utc>,
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
