//! Carts: what a shopper is about to buy, priced live.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Money;

crate::stored_enum! {
    /// Where a cart stands.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum CartStatus {
        /// Open for changes.
        Active = "active",
        /// A guest cart whose lines went into a customer's cart at sign-in.
        Merged = "merged",
        /// Checked out: an order was placed from it.
        Converted = "converted",
    }
}

/// A cart with its lines at today's prices.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct Cart {
    pub id: Uuid,
    /// The opaque token that opens this cart without signing in (guests keep it); send it as
    /// the cart id in paths and queries.
    pub token: String,
    /// The customer who owns the cart; absent for a guest cart.
    pub customer_id: Option<Uuid>,
    pub status: CartStatus,
    pub currency: String,
    pub items: Vec<CartItem>,
    /// Units across all lines.
    pub item_count: i32,
    /// Sum of the lines at current prices, before shipping, taxes and discounts.
    pub subtotal: Money,
    /// Whether every line can be bought now (in stock and on sale).
    pub purchasable: bool,
    /// After this the cart can no longer be used; every change pushes it back.
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One line of a cart.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct CartItem {
    pub id: Uuid,
    pub variant_id: Uuid,
    pub product_id: Uuid,
    pub sku: String,
    pub product_name: String,
    pub variant_title: String,
    pub quantity: i32,
    /// The variant's price now.
    pub unit_price: Money,
    pub line_total: Money,
    pub weight_grams: Option<i32>,
    /// Units available to sell now across locations; absent when stock is not tracked.
    pub available: Option<i32>,
    /// Whether this line can be bought now: the product is active and enough is available.
    pub purchasable: bool,
}
