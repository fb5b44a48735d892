//! Customers and orders: queries and mutations, with the customer of an order, the lines of
//! an order and the variant of a line loaded through DataLoaders.

use async_graphql::connection::Connection;
use async_graphql::dataloader::DataLoader;
use async_graphql::{ComplexObject, Context, Object, SimpleObject};
use uuid::Uuid;

use super::catalog::DeletePayload;
use super::loaders::{
    CustomerLoader, OrderFulfillmentOrdersLoader, OrderInvoicesLoader, OrderItemsLoader,
    OrderPaymentsLoader, OrderShipmentsLoader, VariantByIdLoader,
};
use super::{
    ContextExt as _, GqlResult as _, ListTotals, OrderItemNode, OrderNode, VariantNode, connection,
    nodes, page_request,
};
use crate::domain::{
    Customer, FulfillmentOrder, Invoice, Order, OrderDetail, OrderFilter, OrderHistoryEntry,
    OrderSort, OrderStatus, Payment, Shipment,
};
use crate::services::Error;
use crate::services::customers::{
    CreateCustomerInput, CustomerAddressInput, CustomerQuery, UpdateCustomerInput,
};
use crate::services::orders::{CreateOrderInput, OrderRef, SplitLineInput, UpdateOrderInput};

/// The order that was split and the new order holding the moved lines.
#[derive(SimpleObject)]
pub struct SplitOrderPayload {
    order: OrderNode,
    new_order: OrderNode,
}

#[ComplexObject]
impl OrderNode {
    /// The customer who placed it (batched across a list).
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        ctx.data::<DataLoader<CustomerLoader>>()?
            .load_one(self.customer_id)
            .await
    }

    /// The lines, in order (batched across a list).
    async fn items(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrderItemNode>> {
        Ok(nodes(
            ctx.data::<DataLoader<OrderItemsLoader>>()?
                .load_one(self.id)
                .await?
                .unwrap_or_default(),
        ))
    }

    /// The order's payments, oldest first (batched across a list; needs `payments:read`).
    async fn payments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Payment>> {
        Ok(ctx
            .data::<DataLoader<OrderPaymentsLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or_default())
    }

    /// The order's invoices (void ones too), oldest first (batched across a list).
    async fn invoices(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Invoice>> {
        Ok(ctx
            .data::<DataLoader<OrderInvoicesLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or_default())
    }

    /// Its lines planned per location, oldest first (batched across a list; needs
    /// `shipments:read`, which customers hold for their own orders).
    async fn fulfillment_orders(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<FulfillmentOrder>> {
        Ok(ctx
            .data::<DataLoader<OrderFulfillmentOrdersLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or_default())
    }

    /// Its shipments, oldest first (batched across a list; needs `shipments:read`).
    async fn shipments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Shipment>> {
        Ok(ctx
            .data::<DataLoader<OrderShipmentsLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or_default())
    }

    /// What happened to the order, oldest first.
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, OrderHistoryEntry, ListTotals>> {
        let page = ctx
            .services()
            .orders
            .order_history(ctx.call_ctx()?, self.id, page_request(ctx, first, after))
            .await
            .gql()?;
        Ok(connection(page))
    }
}

#[ComplexObject]
impl OrderItemNode {
    /// The variant sold, if it still exists (batched across a list).
    async fn variant(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<VariantNode>> {
        match self.variant_id {
            Some(id) => Ok(ctx
                .data::<DataLoader<VariantByIdLoader>>()?
                .load_one(id)
                .await?
                .map(VariantNode::from)),
            None => Ok(None),
        }
    }
}

#[derive(Default)]
pub struct OrderQuery;

#[Object]
impl OrderQuery {
    /// One order, by `id` or by `number` (give exactly one).
    async fn order(
        &self,
        ctx: &Context<'_>,
        id: Option<Uuid>,
        number: Option<String>,
    ) -> async_graphql::Result<OrderNode> {
        let lookup = match (id, number) {
            (Some(id), None) => OrderRef::Id(id),
            (None, Some(number)) => OrderRef::Number(number),
            _ => {
                return Err(Error::invalid(
                    "id",
                    "give exactly one of `id` and `number`",
                ))
                .gql();
            }
        };
        ctx.services()
            .orders
            .get_order(ctx.call_ctx()?, lookup)
            .await
            .gql()
            .map(Into::into)
    }

    /// Orders, filtered and sorted, as a Relay connection.
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<OrderFilter>,
        #[graphql(default)] sort: OrderSort,
    ) -> async_graphql::Result<Connection<String, OrderNode, ListTotals>> {
        let page = ctx
            .services()
            .orders
            .list_orders(
                ctx.call_ctx()?,
                filter.unwrap_or_default(),
                sort,
                page_request(ctx, first, after),
            )
            .await
            .gql()?;
        Ok(connection(page.map(Into::into)))
    }

    /// One customer.
    async fn customer(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Customer> {
        ctx.services()
            .customers
            .get_customer(ctx.call_ctx()?, id)
            .await
            .gql()
    }

    /// The signed-in customer's own record.
    async fn my_customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Customer> {
        ctx.services()
            .customers
            .my_customer(ctx.call_ctx()?)
            .await
            .gql()
    }

    /// Customers, newest first, searched by name or email and filtered by tag.
    async fn customers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<CustomerQuery>,
    ) -> async_graphql::Result<Connection<String, Customer, ListTotals>> {
        let page = ctx
            .services()
            .customers
            .list_customers(
                ctx.call_ctx()?,
                filter.unwrap_or_default(),
                page_request(ctx, first, after),
            )
            .await
            .gql()?;
        Ok(connection(page))
    }
}

#[derive(Default)]
pub struct OrderMutation;

fn order_of(detail: OrderDetail) -> Order {
    detail.order
}

#[Object]
impl OrderMutation {
    /// Places an order; totals are computed on the server.
    async fn create_order(
        &self,
        ctx: &Context<'_>,
        input: CreateOrderInput,
    ) -> async_graphql::Result<OrderNode> {
        ctx.services()
            .orders
            .create_order(ctx.call_ctx()?, input)
            .await
            .map(order_of)
            .gql()
            .map(Into::into)
    }

    /// Moves an order to `status` if the lifecycle allows it.
    async fn update_order_status(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        status: OrderStatus,
        reason: Option<String>,
    ) -> async_graphql::Result<OrderNode> {
        ctx.services()
            .orders
            .update_order_status(ctx.call_ctx()?, id, status, reason)
            .await
            .map(order_of)
            .gql()
            .map(Into::into)
    }

    /// Puts an order on hold, with a reason.
    async fn hold_order(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        reason: String,
    ) -> async_graphql::Result<OrderNode> {
        let action = crate::domain::OrderAction::Hold;
        ctx.services()
            .orders
            .transition(ctx.call_ctx()?, id, action, Some(reason))
            .await
            .map(order_of)
            .gql()
            .map(Into::into)
    }

    /// Releases a hold: the order returns to where it was.
    async fn release_order_hold(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<OrderNode> {
        let action = crate::domain::OrderAction::Release;
        ctx.services()
            .orders
            .transition(ctx.call_ctx()?, id, action, None)
            .await
            .map(order_of)
            .gql()
            .map(Into::into)
    }

    /// Cancels an order that has not shipped, with a reason.
    async fn cancel_order(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        reason: String,
    ) -> async_graphql::Result<OrderNode> {
        let action = crate::domain::OrderAction::Cancel;
        ctx.services()
            .orders
            .transition(ctx.call_ctx()?, id, action, Some(reason))
            .await
            .map(order_of)
            .gql()
            .map(Into::into)
    }

    /// Archives a completed or cancelled order.
    async fn archive_order(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<OrderNode> {
        let action = crate::domain::OrderAction::Archive;
        ctx.services()
            .orders
            .transition(ctx.call_ctx()?, id, action, None)
            .await
            .map(order_of)
            .gql()
            .map(Into::into)
    }

    /// Changes an order's tags, attributes or notes.
    async fn update_order(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: UpdateOrderInput,
    ) -> async_graphql::Result<OrderNode> {
        ctx.services()
            .orders
            .update_order(ctx.call_ctx()?, id, input)
            .await
            .map(order_of)
            .gql()
            .map(Into::into)
    }

    /// Merges open orders of one customer into the first one listed.
    async fn merge_orders(
        &self,
        ctx: &Context<'_>,
        order_ids: Vec<Uuid>,
    ) -> async_graphql::Result<OrderNode> {
        ctx.services()
            .orders
            .merge_orders(ctx.call_ctx()?, order_ids)
            .await
            .map(order_of)
            .gql()
            .map(Into::into)
    }

    /// Moves lines (or part of a line) into a new order.
    async fn split_order(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        items: Vec<SplitLineInput>,
    ) -> async_graphql::Result<SplitOrderPayload> {
        let (order, new_order) = ctx
            .services()
            .orders
            .split_order(ctx.call_ctx()?, id, items)
            .await
            .gql()?;
        Ok(SplitOrderPayload {
            order: order.order.into(),
            new_order: new_order.order.into(),
        })
    }

    /// Creates a customer.
    async fn create_customer(
        &self,
        ctx: &Context<'_>,
        input: CreateCustomerInput,
    ) -> async_graphql::Result<Customer> {
        ctx.services()
            .customers
            .create_customer(ctx.call_ctx()?, input)
            .await
            .gql()
    }

    /// Changes a customer's profile.
    async fn update_customer(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: UpdateCustomerInput,
    ) -> async_graphql::Result<Customer> {
        ctx.services()
            .customers
            .update_customer(ctx.call_ctx()?, id, input)
            .await
            .gql()
    }

    /// Adds an address to a customer's address book.
    async fn add_customer_address(
        &self,
        ctx: &Context<'_>,
        customer_id: Uuid,
        input: CustomerAddressInput,
    ) -> async_graphql::Result<Customer> {
        ctx.services()
            .customers
            .add_address(ctx.call_ctx()?, customer_id, input)
            .await
            .gql()
    }

    /// Replaces an address of a customer's address book.
    async fn update_customer_address(
        &self,
        ctx: &Context<'_>,
        customer_id: Uuid,
        address_id: Uuid,
        input: CustomerAddressInput,
    ) -> async_graphql::Result<Customer> {
        ctx.services()
            .customers
            .update_address(ctx.call_ctx()?, customer_id, address_id, input)
            .await
            .gql()
    }

    /// Removes an address from a customer's address book.
    async fn delete_customer_address(
        &self,
        ctx: &Context<'_>,
        customer_id: Uuid,
        address_id: Uuid,
    ) -> async_graphql::Result<DeletePayload> {
        ctx.services()
            .customers
            .delete_address(ctx.call_ctx()?, customer_id, address_id)
            .await
            .gql()?;
        Ok(DeletePayload {
            deleted_id: address_id,
        })
    }

    /// Adds a variant to a customer's wishlist.
    async fn add_to_wishlist(
        &self,
        ctx: &Context<'_>,
        customer_id: Uuid,
        variant_id: Uuid,
    ) -> async_graphql::Result<Customer> {
        ctx.services()
            .customers
            .add_to_wishlist(ctx.call_ctx()?, customer_id, variant_id)
            .await
            .gql()
    }

    /// Removes a variant from a customer's wishlist.
    async fn remove_from_wishlist(
        &self,
        ctx: &Context<'_>,
        customer_id: Uuid,
        variant_id: Uuid,
    ) -> async_graphql::Result<Customer> {
        ctx.services()
            .customers
            .remove_from_wishlist(ctx.call_ctx()?, customer_id, variant_id)
            .await
            .gql()
    }
}
