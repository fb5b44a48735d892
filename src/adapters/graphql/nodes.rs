//! GraphQL objects for the domain types that have resolvers beyond their fields (batched
//! loads, nested lists). Each wraps the domain value, flattens its fields in and carries the
//! domain type's own GraphQL name and description; its extra resolvers live beside the
//! queries of its domain (`catalog.rs`, `inventory.rs`, `orders.rs`). The domain types stay
//! pure: they know nothing of loaders or services.

use async_graphql::SimpleObject;

use crate::domain::{
    Availability, Checkout, InventoryItem, Order, OrderItem, Payment, Product, Variant,
};

/// Declares a node wrapping a domain type, with the conversions resolvers need.
macro_rules! node {
    ($(#[$doc:meta])* $node:ident($inner:ty) as $name:literal) => {
        $(#[$doc])*
        #[derive(SimpleObject)]
        #[graphql(name = $name, complex)]
        pub struct $node {
            #[graphql(flatten)]
            inner: $inner,
        }

        impl From<$inner> for $node {
            fn from(inner: $inner) -> Self {
                Self { inner }
            }
        }

        impl std::ops::Deref for $node {
            type Target = $inner;

            fn deref(&self) -> &$inner {
                &self.inner
            }
        }
    };
}

node! {
    /// A product as sold. Its variants are loaded on demand (GraphQL) or alongside (`ProductDetail`).
    ProductNode(Product) as "Product"
}

/// One sellable version of a product, identified by its SKU.
#[derive(SimpleObject)]
#[graphql(name = "ProductVariant", complex)]
pub struct VariantNode {
    #[graphql(flatten)]
    inner: Variant,
    /// Stock loaded together for all the variants of a product list, when the query reads it;
    /// `None` sends the stock fields to their DataLoaders.
    #[graphql(skip)]
    pub(super) stock: Option<VariantStock>,
}

/// The stock of one variant, loaded ahead of its fields: stock records (staff) and what
/// shoppers may see. Each is `None` when the query does not read it.
#[derive(Default)]
pub(super) struct VariantStock {
    pub items: Option<Vec<InventoryItem>>,
    pub shown: Option<Option<Availability>>,
}

impl From<Variant> for VariantNode {
    fn from(inner: Variant) -> Self {
        Self { inner, stock: None }
    }
}

impl std::ops::Deref for VariantNode {
    type Target = Variant;

    fn deref(&self) -> &Variant {
        &self.inner
    }
}

node! {
    /// An order.
    OrderNode(Order) as "Order"
}

node! {
    /// One line of an order, priced when the order was placed.
    OrderItemNode(OrderItem) as "OrderItem"
}

/// A completed checkout: the order and its payment.
#[derive(SimpleObject)]
#[graphql(name = "CompletedCheckout")]
pub struct CompletedCheckoutNode {
    pub checkout: Checkout,
    pub order: OrderNode,
    pub payment: Payment,
}

impl From<crate::domain::CompletedCheckout> for CompletedCheckoutNode {
    fn from(done: crate::domain::CompletedCheckout) -> Self {
        Self {
            checkout: done.checkout,
            order: done.order.into(),
            payment: done.payment,
        }
    }
}

/// Converts what a service returned into the GraphQL objects for it.
pub fn nodes<T, N: From<T>>(items: Vec<T>) -> Vec<N> {
    items.into_iter().map(N::from).collect()
}
