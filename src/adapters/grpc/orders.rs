//! `stateset.v1.OrderService` and `stateset.v1.CustomerService`.

use tonic::{Request, Response, Status};

use super::pb::customer_service_server::CustomerService;
use super::pb::order_service_server::OrderService;
use super::pb::{self, get_order_request::Lookup};
use super::{call_ctx, convert, idempotent, method_of, status};
use crate::app::AppState;
use crate::domain::{
    Customer, Order, OrderAction, OrderDetail, OrderFilter, OrderItem, OrderStatus,
};
use crate::services::customers::{
    CreateCustomerInput, CustomerAddressInput, CustomerQuery, UpdateCustomerInput,
};
use crate::services::events::EventQuery;
use crate::services::orders::{
    CreateOrderInput, OrderLineInput, OrderRef, SplitLineInput, UpdateOrderInput,
};
use crate::services::{Ctx, Error};

/// Orders and customers over gRPC.
pub struct OrdersGrpc {
    app: AppState,
}

impl OrdersGrpc {
    pub fn new(app: AppState) -> Self {
        Self { app }
    }

    async fn act(
        &self,
        ctx: &Ctx,
        id: &str,
        action: OrderAction,
        reason: Option<String>,
    ) -> Result<pb::Order, Status> {
        let id = convert::uuid(id, "id").map_err(status)?;
        let detail = self
            .app
            .services
            .orders
            .transition(ctx, id, action, reason)
            .await
            .map_err(status)?;
        Ok(order(detail))
    }
}

convert::proto_enum!(status_out, status_in: OrderStatus => pb::OrderStatus, "order status" {
    Pending <=> Pending,
    Processing <=> Processing,
    PartiallyShipped <=> PartiallyShipped,
    Shipped <=> Shipped,
    Delivered <=> Delivered,
    Completed <=> Completed,
    OnHold <=> OnHold,
    Cancelled <=> Cancelled,
    Archived <=> Archived,
});

fn item(i: OrderItem) -> pb::OrderItem {
    pb::OrderItem {
        id: i.id.to_string(),
        variant_id: i.variant_id.map(|v| v.to_string()),
        sku: i.sku,
        name: i.name,
        quantity: i.quantity,
        unit_price: Some(convert::money(i.unit_price)),
        discount: Some(convert::money(i.discount)),
        tax: Some(convert::money(i.tax)),
        total: Some(convert::money(i.total)),
        position: i.position,
    }
}

fn order(detail: OrderDetail) -> pb::Order {
    order_with(detail.order, detail.items)
}

/// An order with the items given (checkout's completion has the order without them).
pub(super) fn order_with(o: Order, items: Vec<OrderItem>) -> pb::Order {
    pb::Order {
        id: o.id.to_string(),
        number: o.number,
        customer_id: o.customer_id.to_string(),
        email: o.email,
        status: status_out(o.status),
        hold_reason: o.hold_reason,
        cancel_reason: o.cancel_reason,
        currency: o.currency,
        subtotal: Some(convert::money(o.subtotal)),
        discount_total: Some(convert::money(o.discount_total)),
        shipping_total: Some(convert::money(o.shipping_total)),
        tax_total: Some(convert::money(o.tax_total)),
        total: Some(convert::money(o.total)),
        shipping_address: o.shipping_address.map(convert::address),
        billing_address: o.billing_address.map(convert::address),
        tags: o.tags,
        attributes: convert::json_to_struct(o.attributes),
        notes: o.notes,
        items: items.into_iter().map(item).collect(),
        created_at: Some(convert::timestamp(o.created_at)),
        updated_at: Some(convert::timestamp(o.updated_at)),
    }
}

fn customer(c: Customer) -> pb::Customer {
    pb::Customer {
        id: c.id.to_string(),
        user_id: c.user_id.map(|u| u.to_string()),
        email: c.email,
        first_name: c.first_name,
        last_name: c.last_name,
        phone: c.phone,
        tags: c.tags,
        notes: c.notes,
        addresses: c
            .addresses
            .into_iter()
            .map(|a| pb::CustomerAddress {
                id: a.id.to_string(),
                is_default_shipping: a.is_default_shipping,
                is_default_billing: a.is_default_billing,
                address: Some(convert::address(a.address)),
            })
            .collect(),
        wishlist_variant_ids: c
            .wishlist
            .into_iter()
            .map(|w| w.variant_id.to_string())
            .collect(),
        created_at: Some(convert::timestamp(c.created_at)),
    }
}

fn lookup(request: pb::GetOrderRequest) -> Result<OrderRef, Error> {
    match request.lookup {
        Some(Lookup::Id(id)) => Ok(OrderRef::Id(convert::uuid(&id, "id")?)),
        Some(Lookup::Number(number)) => Ok(OrderRef::Number(number)),
        None => Err(Error::invalid("lookup", "give `id` or `number`")),
    }
}

#[tonic::async_trait]
impl OrderService for OrdersGrpc {
    async fn create_order(
        &self,
        request: Request<pb::CreateOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let items = r
                .items
                .into_iter()
                .enumerate()
                .map(|(i, l)| {
                    Ok(OrderLineInput {
                        variant_id: convert::uuid(
                            &l.variant_id,
                            &format!("items[{i}].variant_id"),
                        )?,
                        quantity: l.quantity,
                        unit_price: convert::decimal(
                            l.unit_price,
                            &format!("items[{i}].unit_price"),
                        )?,
                        discount: convert::decimal(l.discount, &format!("items[{i}].discount"))?,
                        tax: convert::decimal(l.tax, &format!("items[{i}].tax"))?,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()
                .map_err(status)?;
            let input = CreateOrderInput {
                customer_id: r
                    .customer_id
                    .map(|c| convert::uuid(&c, "customer_id"))
                    .transpose()
                    .map_err(status)?,
                currency: r.currency,
                items,
                shipping_total: convert::decimal(r.shipping_total, "shipping_total")
                    .map_err(status)?,
                shipping_address: r.shipping_address.map(convert::address_in),
                billing_address: r.billing_address.map(convert::address_in),
                tags: r.tags,
                attributes: r.attributes.map(convert::struct_to_json),
                notes: r.notes,
            };
            let detail = self
                .app
                .services
                .orders
                .create_order(&ctx, input)
                .await
                .map_err(status)?;
            Ok(order(detail))
        })
        .await
    }

    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let ctx = call_ctx(&request);
        let lookup = lookup(request.into_inner()).map_err(status)?;
        let detail = self
            .app
            .services
            .orders
            .get_order_detail(&ctx, lookup)
            .await
            .map_err(status)?;
        Ok(Response::new(order(detail)))
    }

    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let filter = OrderFilter {
            status: status_in(r.status, "status").map_err(status)?,
            customer_id: convert::optional_uuid(r.customer_id, "customer_id").map_err(status)?,
            from: convert::time_in(r.from, "from").map_err(status)?,
            to: convert::time_in(r.to, "to").map_err(status)?,
            tag: r.tag,
            query: r.query,
            ..Default::default()
        };
        let page = self
            .app
            .services
            .orders
            .list_order_details(
                &ctx,
                filter,
                Default::default(),
                convert::page(r.page_size, r.page_token),
            )
            .await
            .map_err(status)?;
        let next_page_token = page.next_cursor().unwrap_or_default();
        let result = page
            .items
            .into_iter()
            .map(|(_, detail)| order(detail))
            .collect();
        Ok(Response::new(pb::ListOrdersResponse {
            orders: result,
            next_page_token,
            total_count: page.total_count,
        }))
    }

    async fn list_order_items(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::ListOrderItemsResponse>, Status> {
        let ctx = call_ctx(&request);
        let lookup = lookup(request.into_inner()).map_err(status)?;
        let detail = self
            .app
            .services
            .orders
            .get_order_detail(&ctx, lookup)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListOrderItemsResponse {
            items: detail.items.into_iter().map(item).collect(),
        }))
    }

    async fn update_order_status(
        &self,
        request: Request<pb::UpdateOrderStatusRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let target = status_in(r.status, "status")
                .map_err(status)?
                .ok_or_else(|| status(Error::invalid("status", "is required")))?;
            let detail = self
                .app
                .services
                .orders
                .update_order_status(&ctx, id, target, r.reason)
                .await
                .map_err(status)?;
            Ok(order(detail))
        })
        .await
    }

    async fn hold_order(
        &self,
        request: Request<pb::OrderReasonRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        let run = self.act(&ctx, &r.id, OrderAction::Hold, Some(r.reason.clone()));
        idempotent(&self.app, &ctx, &method, &r, run).await
    }

    async fn release_order_hold(
        &self,
        request: Request<pb::OrderIdRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        let run = self.act(&ctx, &r.id, OrderAction::Release, None);
        idempotent(&self.app, &ctx, &method, &r, run).await
    }

    async fn cancel_order(
        &self,
        request: Request<pb::OrderReasonRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        let run = self.act(&ctx, &r.id, OrderAction::Cancel, Some(r.reason.clone()));
        idempotent(&self.app, &ctx, &method, &r, run).await
    }

    async fn archive_order(
        &self,
        request: Request<pb::OrderIdRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        let run = self.act(&ctx, &r.id, OrderAction::Archive, None);
        idempotent(&self.app, &ctx, &method, &r, run).await
    }

    async fn merge_orders(
        &self,
        request: Request<pb::MergeOrdersRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let ids = convert::uuids(&r.order_ids, "order_ids").map_err(status)?;
            let merged = self.app.services.orders.merge_orders(&ctx, ids).await;
            Ok(order(merged.map_err(status)?))
        })
        .await
    }

    async fn split_order(
        &self,
        request: Request<pb::SplitOrderRequest>,
    ) -> Result<Response<pb::SplitOrderResponse>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let lines = r
                .items
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    Ok(SplitLineInput {
                        item_id: convert::uuid(&l.item_id, &format!("items[{i}].item_id"))?,
                        quantity: l.quantity,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()
                .map_err(status)?;
            let (source, new) = self
                .app
                .services
                .orders
                .split_order(&ctx, id, lines)
                .await
                .map_err(status)?;
            Ok(pb::SplitOrderResponse {
                order: Some(order(source)),
                new_order: Some(order(new)),
            })
        })
        .await
    }

    async fn update_order(
        &self,
        request: Request<pb::UpdateOrderRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let input = UpdateOrderInput {
                tags: r.tags.map(|t| t.tags),
                attributes: r.attributes.map(convert::struct_to_json),
                notes: r.notes,
            };
            let updated = self.app.services.orders.update_order(&ctx, id, input).await;
            Ok(order(updated.map_err(status)?))
        })
        .await
    }

    async fn list_order_history(
        &self,
        request: Request<pb::ListOrderHistoryRequest>,
    ) -> Result<Response<pb::ListOrderHistoryResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.id, "id").map_err(status)?;
        let page = self
            .app
            .services
            .orders
            .order_history(&ctx, id, convert::page(r.page_size, r.page_token))
            .await
            .map_err(status)?;
        let next_page_token = page.next_cursor().unwrap_or_default();
        Ok(Response::new(pb::ListOrderHistoryResponse {
            entries: page
                .items
                .into_iter()
                .map(|(_, e)| pb::OrderHistoryEntry {
                    id: e.id.to_string(),
                    action: e.action,
                    from_status: e.from_status.map_or(0, status_out),
                    to_status: e.to_status.map_or(0, status_out),
                    reason: e.reason,
                    actor: e.actor,
                    details: convert::json_to_struct(e.details),
                    created_at: Some(convert::timestamp(e.created_at)),
                })
                .collect(),
            next_page_token,
            total_count: page.total_count,
        }))
    }

    async fn list_order_events(
        &self,
        request: Request<pb::ListOrderEventsRequest>,
    ) -> Result<Response<pb::ListOrderEventsResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.id, "id").map_err(status)?;
        let query = EventQuery {
            after: r.after,
            first: (r.page_size != 0).then_some(i64::from(r.page_size)),
            first_field: "page_size",
            ..EventQuery::default()
        };
        let page = self
            .app
            .services
            .orders
            .order_events(&ctx, id, query)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListOrderEventsResponse {
            events: page.events.into_iter().map(super::events::event).collect(),
            next_after: page.next_after,
        }))
    }
}

#[tonic::async_trait]
impl CustomerService for OrdersGrpc {
    async fn create_customer(
        &self,
        request: Request<pb::CreateCustomerRequest>,
    ) -> Result<Response<pb::Customer>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let input = CreateCustomerInput {
                email: r.email,
                first_name: r.first_name,
                last_name: r.last_name,
                phone: r.phone,
                tags: r.tags,
                notes: r.notes,
                user_id: r
                    .user_id
                    .map(|u| convert::uuid(&u, "user_id"))
                    .transpose()
                    .map_err(status)?,
            };
            let created = self.app.services.customers.create_customer(&ctx, input);
            Ok(customer(created.await.map_err(status)?))
        })
        .await
    }

    async fn get_customer(
        &self,
        request: Request<pb::GetCustomerRequest>,
    ) -> Result<Response<pb::Customer>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.into_inner().id, "id").map_err(status)?;
        Ok(Response::new(customer(
            self.app
                .services
                .customers
                .get_customer(&ctx, id)
                .await
                .map_err(status)?,
        )))
    }

    async fn get_my_customer(
        &self,
        request: Request<pb::GetMyCustomerRequest>,
    ) -> Result<Response<pb::Customer>, Status> {
        let ctx = call_ctx(&request);
        let mine = self
            .app
            .services
            .customers
            .my_customer(&ctx)
            .await
            .map_err(status)?;
        Ok(Response::new(customer(mine)))
    }

    async fn list_customers(
        &self,
        request: Request<pb::ListCustomersRequest>,
    ) -> Result<Response<pb::ListCustomersResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let query = CustomerQuery {
            query: r.query,
            tag: r.tag,
        };
        let page = self
            .app
            .services
            .customers
            .list_customers(&ctx, query, convert::page(r.page_size, r.page_token))
            .await
            .map_err(status)?;
        let (customers, next_page_token, total_count) = convert::paged(page, customer);
        Ok(Response::new(pb::ListCustomersResponse {
            customers,
            next_page_token,
            total_count,
        }))
    }

    async fn update_customer(
        &self,
        request: Request<pb::UpdateCustomerRequest>,
    ) -> Result<Response<pb::Customer>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let input = UpdateCustomerInput {
                email: r.email,
                first_name: r.first_name,
                last_name: r.last_name,
                phone: r.phone,
                tags: r.tags.map(|t| t.tags),
                notes: r.notes,
            };
            let updated = self.app.services.customers.update_customer(&ctx, id, input);
            Ok(customer(updated.await.map_err(status)?))
        })
        .await
    }

    async fn add_customer_address(
        &self,
        request: Request<pb::AddCustomerAddressRequest>,
    ) -> Result<Response<pb::Customer>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.customer_id, "customer_id").map_err(status)?;
            let input =
                address_input(r.address, r.default_shipping, r.default_billing).map_err(status)?;
            let changed = self.app.services.customers.add_address(&ctx, id, input);
            Ok(customer(changed.await.map_err(status)?))
        })
        .await
    }

    async fn update_customer_address(
        &self,
        request: Request<pb::UpdateCustomerAddressRequest>,
    ) -> Result<Response<pb::Customer>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.customer_id, "customer_id").map_err(status)?;
            let address_id = convert::uuid(&r.address_id, "address_id").map_err(status)?;
            let input =
                address_input(r.address, r.default_shipping, r.default_billing).map_err(status)?;
            let changed = self
                .app
                .services
                .customers
                .update_address(&ctx, id, address_id, input);
            Ok(customer(changed.await.map_err(status)?))
        })
        .await
    }

    async fn delete_customer_address(
        &self,
        request: Request<pb::DeleteCustomerAddressRequest>,
    ) -> Result<Response<pb::Customer>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.customer_id, "customer_id").map_err(status)?;
            let address_id = convert::uuid(&r.address_id, "address_id").map_err(status)?;
            let changed = self
                .app
                .services
                .customers
                .delete_address(&ctx, id, address_id);
            Ok(customer(changed.await.map_err(status)?))
        })
        .await
    }

    async fn add_to_wishlist(
        &self,
        request: Request<pb::WishlistItemRequest>,
    ) -> Result<Response<pb::Customer>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let (id, variant_id) = wishlist_item(&r).map_err(status)?;
            let changed = self
                .app
                .services
                .customers
                .add_to_wishlist(&ctx, id, variant_id);
            Ok(customer(changed.await.map_err(status)?))
        })
        .await
    }

    async fn remove_from_wishlist(
        &self,
        request: Request<pb::WishlistItemRequest>,
    ) -> Result<Response<pb::Customer>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let (id, variant_id) = wishlist_item(&r).map_err(status)?;
            let changed = self
                .app
                .services
                .customers
                .remove_from_wishlist(&ctx, id, variant_id);
            Ok(customer(changed.await.map_err(status)?))
        })
        .await
    }
}

/// An address-book entry from a request; the address is required.
fn address_input(
    address: Option<pb::Address>,
    default_shipping: Option<bool>,
    default_billing: Option<bool>,
) -> Result<CustomerAddressInput, Error> {
    let address = address.ok_or_else(|| Error::invalid("address", "is required"))?;
    Ok(CustomerAddressInput {
        address: convert::address_in(address),
        default_shipping,
        default_billing,
    })
}

fn wishlist_item(r: &pb::WishlistItemRequest) -> Result<(uuid::Uuid, uuid::Uuid), Error> {
    Ok((
        convert::uuid(&r.customer_id, "customer_id")?,
        convert::uuid(&r.variant_id, "variant_id")?,
    ))
}
