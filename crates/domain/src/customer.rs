//! Customers, their address book and wishlist.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A postal address. Orders keep a copy, so later edits never rewrite history.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    async_graphql::SimpleObject,
    async_graphql::InputObject,
)]
#[graphql(input_name = "AddressInput")]
pub struct Address {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    /// State, province or county.
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code, e.g. `US`.
    pub country: String,
    pub phone: Option<String>,
}

/// An address in a customer's address book.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct CustomerAddress {
    pub id: Uuid,
    #[serde(flatten)]
    #[graphql(flatten)]
    pub address: Address,
    pub is_default_shipping: bool,
    pub is_default_billing: bool,
}

/// A variant a customer wants.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct WishlistItem {
    pub variant_id: Uuid,
    pub added_at: DateTime<Utc>,
}

/// Someone who buys: with a login (`user_id`) or without one (imported, guest).
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct Customer {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    pub default_shipping_address_id: Option<Uuid>,
    pub default_billing_address_id: Option<Uuid>,
    pub addresses: Vec<CustomerAddress>,
    pub wishlist: Vec<WishlistItem>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
