//! GraphQL objects for the domain types that have resolvers beyond their fields (batched
//! loads, nested lists). Each wraps the domain value, flattens its fields in and carries the
//! domain type's own GraphQL name and description; its extra resolvers live beside the
//! queries of its domain (`catalog.rs`, `inventory.rs`, `orders.rs`). The domain types stay
//! pure: they know nothing of loaders or services.

use async_graphql::SimpleObject;

use crate::domain::{Checkout, Order, OrderItem, Payment, Product, Variant};

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

node! {
    /// One sellable version of a product, identified by its SKU.
    VariantNode(Variant) as "ProductVariant"
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
