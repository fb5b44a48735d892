//! DataLoaders: batch the per-item loads of a list into one service call.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use super::to_graphql_error;
use crate::domain::{
    Availability, Customer, FulfillmentOrder, InventoryItem, Invoice, OrderItem, Payment, Shipment,
    Variant,
};
use crate::services::{
    CatalogService, Ctx, CustomerService, InventoryService, InvoiceService, OrderService,
    PaymentService, ShipmentService,
};

/// Loads the variants of many products in one query.
pub struct VariantLoader {
    catalog: CatalogService,
    ctx: Ctx,
}

impl VariantLoader {
    pub fn new(catalog: CatalogService, ctx: Ctx) -> Self {
        Self { catalog, ctx }
    }
}

impl Loader<Uuid> for VariantLoader {
    type Value = Vec<Variant>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Variant>>, Self::Error> {
        self.catalog
            .variants_by_product(&self.ctx, keys)
            .await
            .map_err(to_graphql_error)
    }
}

/// Loads customers by id in one query.
pub struct CustomerLoader {
    pub customers: CustomerService,
    pub ctx: Ctx,
}

impl Loader<Uuid> for CustomerLoader {
    type Value = Customer;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Customer>, Self::Error> {
        self.customers
            .customers_by_ids(&self.ctx, keys)
            .await
            .map_err(to_graphql_error)
    }
}

/// Loads the lines of many orders in one query.
pub struct OrderItemsLoader {
    pub orders: OrderService,
    pub ctx: Ctx,
}

impl Loader<Uuid> for OrderItemsLoader {
    type Value = Vec<OrderItem>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<OrderItem>>, Self::Error> {
        self.orders
            .items_by_order(&self.ctx, keys)
            .await
            .map_err(to_graphql_error)
    }
}

/// Loads variants by id in one query.
pub struct VariantByIdLoader {
    pub catalog: CatalogService,
    pub ctx: Ctx,
}

impl Loader<Uuid> for VariantByIdLoader {
    type Value = Variant;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Variant>, Self::Error> {
        self.catalog
            .variants_by_ids(&self.ctx, keys)
            .await
            .map_err(to_graphql_error)
    }
}

/// Loads what shoppers may know of the stock of many variants in one query.
pub struct AvailabilityLoader {
    pub inventory: InventoryService,
    pub ctx: Ctx,
}

impl Loader<Uuid> for AvailabilityLoader {
    type Value = Availability;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Availability>, Self::Error> {
        let of = crate::domain::SellableOf::Variants(keys);
        Ok(self
            .inventory
            .availability(&self.ctx, of)
            .await
            .map_err(to_graphql_error)?
            .into_iter()
            .map(|a| (a.variant_id, a))
            .collect())
    }
}

/// Loads the stock of many variants in one query.
pub struct InventoryLoader {
    pub inventory: InventoryService,
    pub ctx: Ctx,
}

impl Loader<Uuid> for InventoryLoader {
    type Value = Vec<InventoryItem>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<InventoryItem>>, Self::Error> {
        self.inventory
            .items_by_variant(&self.ctx, keys)
            .await
            .map_err(to_graphql_error)
    }
}

/// Loads the payments of many orders in one batch.
pub struct OrderPaymentsLoader {
    pub payments: PaymentService,
    pub ctx: Ctx,
}

impl Loader<Uuid> for OrderPaymentsLoader {
    type Value = Vec<Payment>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Payment>>, Self::Error> {
        self.payments
            .payments_by_order(&self.ctx, keys)
            .await
            .map_err(to_graphql_error)
    }
}

/// Loads the invoices of many orders in one batch.
pub struct OrderInvoicesLoader {
    pub invoices: InvoiceService,
    pub ctx: Ctx,
}

impl Loader<Uuid> for OrderInvoicesLoader {
    type Value = Vec<Invoice>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Invoice>>, Self::Error> {
        self.invoices
            .invoices_by_order(&self.ctx, keys)
            .await
            .map_err(to_graphql_error)
    }
}

/// Loads the shipments of many orders in one batch.
pub struct OrderShipmentsLoader {
    pub shipments: ShipmentService,
    pub ctx: Ctx,
}

impl Loader<Uuid> for OrderShipmentsLoader {
    type Value = Vec<Shipment>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Shipment>>, Self::Error> {
        self.shipments
            .shipments_by_order(&self.ctx, keys)
            .await
            .map_err(to_graphql_error)
    }
}

/// Loads the fulfilment orders of many orders in one batch.
pub struct OrderFulfillmentOrdersLoader {
    pub shipments: ShipmentService,
    pub ctx: Ctx,
}

impl Loader<Uuid> for OrderFulfillmentOrdersLoader {
    type Value = Vec<FulfillmentOrder>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<FulfillmentOrder>>, Self::Error> {
        self.shipments
            .fulfillment_orders_by_order(&self.ctx, keys)
            .await
            .map_err(to_graphql_error)
    }
}
