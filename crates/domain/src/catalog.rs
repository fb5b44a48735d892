//! Catalog entities: products, their variants and images, and the category tree.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::Money;

crate::stored_enum! {
    /// Where a product is in its life: only `active` products are meant for sale.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum ProductStatus {
        /// Being prepared; not for sale.
        Draft = "draft",
        /// For sale.
        Active = "active",
        /// Retired; kept for history.
        Archived = "archived",
    }
}

/// A product as sold. Its variants are loaded on demand (GraphQL) or alongside (`ProductDetail`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, async_graphql::SimpleObject)]
// GraphQL serves this as `Product` through a node of the GraphQL door, which adds
// its resolvers; this name is never in the schema.
#[graphql(name = "ProductFields")]
pub struct Product {
    pub id: Uuid,
    pub name: String,
    /// Unique, URL-safe name.
    pub slug: String,
    pub description: Option<String>,
    pub status: ProductStatus,
    /// Free-form attributes (a JSON object), e.g. `{"material": "cotton"}`.
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    /// Which tax rates apply (`reduced`, `food`, ...): rates of this class, or the standard
    /// rates (no class) when absent.
    pub tax_class: Option<String>,
    /// Images in display order.
    pub images: Vec<ProductImage>,
    /// Categories the product is assigned to.
    pub categories: Vec<CategorySummary>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A product together with its variants: what REST, gRPC and events carry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductDetail {
    #[serde(flatten)]
    pub product: Product,
    /// Variants in display order.
    pub variants: Vec<Variant>,
}

/// One sellable version of a product, identified by its SKU.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, async_graphql::SimpleObject)]
// GraphQL serves this as `ProductVariant` through a node of the GraphQL door, which adds
// its resolvers; this name is never in the schema.
#[graphql(name = "ProductVariantFields")]
pub struct Variant {
    pub id: Uuid,
    pub product_id: Uuid,
    /// Stock keeping unit, unique across the catalog.
    pub sku: String,
    /// Display title, e.g. `"Black / M"`.
    pub title: String,
    /// Option values that distinguish this variant, in order.
    pub options: Vec<VariantOption>,
    pub price: Money,
    /// The "was" price shown struck through, if any.
    pub compare_at_price: Option<Money>,
    /// Shipping weight in grams.
    pub weight_grams: Option<i32>,
    /// GTIN/EAN/UPC barcode.
    pub barcode: Option<String>,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One option value of a variant, e.g. `size` = `M`.
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
#[graphql(input_name = "VariantOptionInput")]
pub struct VariantOption {
    pub name: String,
    pub value: String,
}

/// An image of a product.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, async_graphql::SimpleObject,
)]
pub struct ProductImage {
    pub id: Uuid,
    /// Absolute `http(s)` URL.
    pub url: String,
    pub alt_text: Option<String>,
    pub position: i32,
}

/// A node of the category tree.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct Category {
    pub id: Uuid,
    /// The parent category; `null` for a root.
    pub parent_id: Option<Uuid>,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    /// Order among siblings.
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The part of a category shown on a product.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, async_graphql::SimpleObject,
)]
pub struct CategorySummary {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
}

/// Which products to list. Every field narrows the result; absent fields do not.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct ProductFilter {
    pub status: Option<ProductStatus>,
    /// Products in this category or any category below it.
    pub category_id: Option<Uuid>,
    /// Products with at least one variant priced at or above this amount.
    #[schema(value_type = Option<String>)]
    pub min_price: Option<rust_decimal::Decimal>,
    /// Products with at least one variant priced at or below this amount.
    #[schema(value_type = Option<String>)]
    pub max_price: Option<rust_decimal::Decimal>,
    /// Full-text search over name, description and SKUs (web search syntax: `tee -black`).
    pub query: Option<String>,
}

/// Orders of a product list; ties are broken by id so pages never overlap.
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
pub enum ProductSort {
    /// Newest first (the default).
    #[default]
    CreatedAtDesc,
    CreatedAtAsc,
    UpdatedAtDesc,
    NameAsc,
    NameDesc,
}
