//! `stateset.v1.CheckoutService`.

use tonic::{Request, Response, Status};

use super::carts::cart_item;
use super::pb::checkout_service_server::CheckoutService;
use super::pb::{self};
use super::{call_ctx, convert, idempotent, method_of, status};
use crate::app::AppState;
use crate::domain::{Checkout, CheckoutStatus, ShippingOption};
use crate::services::checkout::{StartCheckoutInput, UpdateCheckoutInput};

/// Checkout over gRPC.
pub struct CheckoutGrpc {
    app: AppState,
}

impl CheckoutGrpc {
    pub fn new(app: AppState) -> Self {
        Self { app }
    }
}

convert::proto_enum!(checkout_status: CheckoutStatus => pb::CheckoutStatus, "checkout status" {
    Open <=> Open,
    Completed <=> Completed,
});

fn shipping_option(o: ShippingOption) -> pb::ShippingOption {
    pb::ShippingOption {
        method_id: o.method_id.to_string(),
        name: o.name,
        carrier: o.carrier,
        service: o.service,
        price: Some(convert::money(o.price)),
        min_days: o.min_days,
        max_days: o.max_days,
    }
}

fn checkout(c: Checkout) -> pb::Checkout {
    let totals = c.totals;
    pb::Checkout {
        id: c.id.to_string(),
        cart_id: c.cart_id.to_string(),
        status: checkout_status(c.status),
        email: c.email,
        shipping_address: c.shipping_address.map(convert::address),
        billing_address: c.billing_address.map(convert::address),
        shipping_method: c.shipping_method.map(shipping_option),
        discount_code: c.discount_code,
        payment_method: c.payment_method.map(|p| pb::CheckoutPaymentMethod {
            token: p.token,
            brand: p.brand,
            last4: p.last4,
        }),
        items: c.items.into_iter().map(cart_item).collect(),
        totals: Some(pb::CheckoutTotals {
            subtotal: Some(convert::money(totals.subtotal)),
            discount_total: Some(convert::money(totals.discount_total)),
            shipping_total: Some(convert::money(totals.shipping_total)),
            tax_total: Some(convert::money(totals.tax_total)),
            total: Some(convert::money(totals.total)),
        }),
        missing: c.missing,
        order_id: c.order_id.map(|id| id.to_string()),
        created_at: Some(convert::timestamp(c.created_at)),
        updated_at: Some(convert::timestamp(c.updated_at)),
    }
}

#[tonic::async_trait]
impl CheckoutService for CheckoutGrpc {
    async fn start_checkout(
        &self,
        request: Request<pb::StartCheckoutRequest>,
    ) -> Result<Response<pb::Checkout>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let input = StartCheckoutInput {
                cart_id: r.cart_id,
                email: r.email,
            };
            let started = self.app.services.checkout.start(&ctx, input).await;
            Ok(checkout(started.map_err(status)?))
        })
        .await
    }

    async fn get_checkout(
        &self,
        request: Request<pb::GetCheckoutRequest>,
    ) -> Result<Response<pb::Checkout>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.get_ref().id, "id").map_err(status)?;
        let found = self.app.services.checkout.get(&ctx, id).await;
        Ok(Response::new(checkout(found.map_err(status)?)))
    }

    async fn update_checkout(
        &self,
        request: Request<pb::UpdateCheckoutRequest>,
    ) -> Result<Response<pb::Checkout>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let input = UpdateCheckoutInput {
                email: r.email,
                shipping_address: r.shipping_address.map(convert::address_in),
                billing_address: r.billing_address.map(convert::address_in),
                shipping_method_id: r
                    .shipping_method_id
                    .map(|m| convert::uuid(&m, "shipping_method_id"))
                    .transpose()
                    .map_err(status)?,
                discount_code: r.discount_code,
                payment_token: r.payment_token,
            };
            let updated = self.app.services.checkout.update(&ctx, id, input).await;
            Ok(checkout(updated.map_err(status)?))
        })
        .await
    }

    async fn list_shipping_options(
        &self,
        request: Request<pb::ListShippingOptionsRequest>,
    ) -> Result<Response<pb::ListShippingOptionsResponse>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.get_ref().id, "id").map_err(status)?;
        let options = self.app.services.checkout.shipping_options(&ctx, id).await;
        Ok(Response::new(pb::ListShippingOptionsResponse {
            options: options
                .map_err(status)?
                .into_iter()
                .map(shipping_option)
                .collect(),
        }))
    }

    async fn complete_checkout(
        &self,
        request: Request<pb::CompleteCheckoutRequest>,
    ) -> Result<Response<pb::CompleteCheckoutResponse>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r, async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let done = self
                .app
                .services
                .checkout
                .complete(&ctx, id)
                .await
                .map_err(status)?;
            Ok(pb::CompleteCheckoutResponse {
                checkout: Some(checkout(done.checkout)),
                order: Some(super::orders::order_with(done.order, Vec::new())),
                payment: Some(super::payments::payment(done.payment)),
            })
        })
        .await
    }
}
