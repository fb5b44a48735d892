//! `stateset.v1.CartService`.

use tonic::{Request, Response, Status};

use super::pb::cart_service_server::CartService;
use super::pb::{self};
use super::{call_ctx, convert, idempotent, method_of, status};
use crate::app::AppState;
use crate::domain::{Cart, CartItem, CartStatus};
use crate::services::Error;
use crate::services::carts::{CartLineInput, CartRef, CreateCartInput, UpdateCartItemInput};

/// Carts over gRPC.
pub struct CartsGrpc {
    app: AppState,
}

impl CartsGrpc {
    pub fn new(app: AppState) -> Self {
        Self { app }
    }
}

convert::proto_enum!(cart_status: CartStatus => pb::CartStatus, "cart status" {
    Active <=> Active,
    Merged <=> Merged,
    Converted <=> Converted,
});

pub(super) fn cart_item(i: CartItem) -> pb::CartItem {
    pb::CartItem {
        id: i.id.to_string(),
        variant_id: i.variant_id.to_string(),
        product_id: i.product_id.to_string(),
        sku: i.sku,
        product_name: i.product_name,
        variant_title: i.variant_title,
        quantity: i.quantity,
        unit_price: Some(convert::money(i.unit_price)),
        line_total: Some(convert::money(i.line_total)),
        weight_grams: i.weight_grams,
        available: i.available,
        purchasable: i.purchasable,
    }
}

fn cart(c: Cart) -> pb::Cart {
    pb::Cart {
        id: c.id.to_string(),
        token: c.token,
        customer_id: c.customer_id.map(|id| id.to_string()),
        status: cart_status(c.status),
        currency: c.currency,
        items: c.items.into_iter().map(cart_item).collect(),
        item_count: c.item_count,
        subtotal: Some(convert::money(c.subtotal)),
        purchasable: c.purchasable,
        expires_at: Some(convert::timestamp(c.expires_at)),
        created_at: Some(convert::timestamp(c.created_at)),
        updated_at: Some(convert::timestamp(c.updated_at)),
    }
}

fn line_in(line: pb::CartLineInput, field: &str) -> Result<CartLineInput, Error> {
    Ok(CartLineInput {
        variant_id: convert::uuid(&line.variant_id, &format!("{field}.variant_id"))?,
        quantity: line.quantity,
    })
}

#[tonic::async_trait]
impl CartService for CartsGrpc {
    async fn create_cart(
        &self,
        request: Request<pb::CreateCartRequest>,
    ) -> Result<Response<pb::Cart>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let input = CreateCartInput {
                items: r
                    .items
                    .into_iter()
                    .enumerate()
                    .map(|(i, line)| line_in(line, &format!("items[{i}]")))
                    .collect::<Result<_, _>>()
                    .map_err(status)?,
                customer_id: r
                    .customer_id
                    .map(|id| convert::uuid(&id, "customer_id"))
                    .transpose()
                    .map_err(status)?,
            };
            let created = self.app.services.carts.create(&ctx, input).await;
            Ok(cart(created.map_err(status)?))
        })
        .await
    }

    async fn get_cart(
        &self,
        request: Request<pb::GetCartRequest>,
    ) -> Result<Response<pb::Cart>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let found = self
            .app
            .services
            .carts
            .get(&ctx, &CartRef::parse(&r.cart))
            .await;
        Ok(Response::new(cart(found.map_err(status)?)))
    }

    async fn add_cart_item(
        &self,
        request: Request<pb::AddCartItemRequest>,
    ) -> Result<Response<pb::Cart>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let line = r
                .item
                .ok_or_else(|| Error::invalid("item", "is required"))
                .and_then(|line| line_in(line, "item"))
                .map_err(status)?;
            let changed = self
                .app
                .services
                .carts
                .add_item(&ctx, &CartRef::parse(&r.cart), line)
                .await;
            Ok(cart(changed.map_err(status)?))
        })
        .await
    }

    async fn update_cart_item(
        &self,
        request: Request<pb::UpdateCartItemRequest>,
    ) -> Result<Response<pb::Cart>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let item_id = convert::uuid(&r.item_id, "item_id").map_err(status)?;
            let input = UpdateCartItemInput {
                quantity: r.quantity,
            };
            let changed = self
                .app
                .services
                .carts
                .update_item(&ctx, &CartRef::parse(&r.cart), item_id, input)
                .await;
            Ok(cart(changed.map_err(status)?))
        })
        .await
    }

    async fn remove_cart_item(
        &self,
        request: Request<pb::RemoveCartItemRequest>,
    ) -> Result<Response<pb::Cart>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let item_id = convert::uuid(&r.item_id, "item_id").map_err(status)?;
            let changed = self
                .app
                .services
                .carts
                .remove_item(&ctx, &CartRef::parse(&r.cart), item_id)
                .await;
            Ok(cart(changed.map_err(status)?))
        })
        .await
    }

    async fn merge_cart(
        &self,
        request: Request<pb::MergeCartRequest>,
    ) -> Result<Response<pb::Cart>, Status> {
        let ctx = call_ctx(&request);
        let method = method_of(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let merged = self.app.services.carts.merge(&ctx, &r.token).await;
            Ok(cart(merged.map_err(status)?))
        })
        .await
    }
}
