//! `stateset.v1.InventoryService`.

use chrono::DateTime;
use tonic::{Request, Response, Status};

use super::pb::inventory_service_server::InventoryService;
use super::pb::{self, reserve_inventory_request::Target};
use super::{call_ctx, convert, status};
use crate::app::AppState;
use crate::domain::{InventoryItem, Reservation, Transfer};
use crate::services::Error;
use crate::services::inventory::{
    AdjustInput, CreateTransferInput, InventoryFilter, ReceiveInput, ReserveInput, VariantQuantity,
};
use crate::services::page::PageRequest;

/// Inventory over gRPC.
pub struct InventoryGrpc {
    app: AppState,
}

impl InventoryGrpc {
    pub fn new(app: AppState) -> Self {
        Self { app }
    }
}

fn item(i: InventoryItem) -> pb::InventoryItem {
    pb::InventoryItem {
        id: i.id.to_string(),
        variant_id: i.variant_id.to_string(),
        sku: i.sku,
        location_id: i.location_id.to_string(),
        on_hand: i.on_hand,
        reserved: i.reserved,
        available: i.available,
        on_order: i.on_order,
        safety_stock: i.safety_stock,
        reorder_point: i.reorder_point,
        reorder_quantity: i.reorder_quantity,
        low_stock: i.low_stock,
        updated_at: Some(convert::timestamp(i.updated_at)),
    }
}

fn reservation(r: Reservation) -> pb::Reservation {
    pb::Reservation {
        id: r.id.to_string(),
        item_id: r.item_id.to_string(),
        location_id: r.location_id.to_string(),
        variant_id: r.variant_id.to_string(),
        lot_id: r.lot_id.map(|l| l.to_string()),
        order_id: r.order_id.map(|o| o.to_string()),
        quantity: r.quantity,
        status: r.status,
        expires_at: r.expires_at.map(convert::timestamp),
    }
}

fn transfer(t: Transfer) -> pb::Transfer {
    pb::Transfer {
        id: t.id.to_string(),
        number: t.number,
        from_location_id: t.from_location_id.to_string(),
        to_location_id: t.to_location_id.to_string(),
        status: t.status,
        lines: t
            .lines
            .into_iter()
            .map(|l| pb::TransferLine {
                variant_id: l.variant_id.to_string(),
                quantity: l.quantity,
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl InventoryService for InventoryGrpc {
    async fn list_inventory(
        &self,
        request: Request<pb::ListInventoryRequest>,
    ) -> Result<Response<pb::ListInventoryResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let filter = InventoryFilter {
            location_id: r
                .location_id
                .filter(|l| !l.is_empty())
                .map(|l| convert::uuid(&l, "location_id"))
                .transpose()
                .map_err(status)?,
            sku: r.sku,
            below_reorder_point: r.below_reorder_point,
        };
        let page = PageRequest {
            size: (r.page_size != 0).then_some(i64::from(r.page_size)),
            after: Some(r.page_token).filter(|t| !t.is_empty()),
            size_field: "page_size",
            cursor_field: "page_token",
        };
        let page = self
            .app
            .services
            .inventory
            .list_items(&ctx, filter, page)
            .await
            .map_err(status)?;
        let next_page_token = page.next_cursor().unwrap_or_default();
        Ok(Response::new(pb::ListInventoryResponse {
            items: page.items.into_iter().map(|(_, i)| item(i)).collect(),
            next_page_token,
            total_count: page.total_count,
        }))
    }

    async fn get_inventory_item(
        &self,
        request: Request<pb::InventoryItemRequest>,
    ) -> Result<Response<pb::InventoryItem>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.into_inner().id, "id").map_err(status)?;
        Ok(Response::new(item(
            self.app
                .services
                .inventory
                .get_item(&ctx, id)
                .await
                .map_err(status)?,
        )))
    }

    async fn receive_inventory(
        &self,
        request: Request<pb::ReceiveInventoryRequest>,
    ) -> Result<Response<pb::InventoryItem>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let input = ReceiveInput {
            variant_id: convert::uuid(&r.variant_id, "variant_id").map_err(status)?,
            location_id: convert::uuid(&r.location_id, "location_id").map_err(status)?,
            quantity: r.quantity,
            lot_code: r.lot_code,
            expires_at: r.expires_at.and_then(|t| {
                DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
            }),
            reason: r.reason,
        };
        Ok(Response::new(item(
            self.app
                .services
                .inventory
                .receive(&ctx, input)
                .await
                .map_err(status)?,
        )))
    }

    async fn adjust_inventory(
        &self,
        request: Request<pb::AdjustInventoryRequest>,
    ) -> Result<Response<pb::InventoryItem>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.item_id, "item_id").map_err(status)?;
        let input = AdjustInput {
            delta: r.delta,
            reason: r.reason,
        };
        Ok(Response::new(item(
            self.app
                .services
                .inventory
                .adjust(&ctx, id, input)
                .await
                .map_err(status)?,
        )))
    }

    async fn reserve_inventory(
        &self,
        request: Request<pb::ReserveInventoryRequest>,
    ) -> Result<Response<pb::ReserveInventoryResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let input = ReserveInput {
            quantity: r.quantity,
            partial: r.partial,
            order_id: r
                .order_id
                .map(|o| convert::uuid(&o, "order_id"))
                .transpose()
                .map_err(status)?,
            reference: r.reference,
            expires_in_seconds: r.expires_in_seconds,
        };
        let inventory = &self.app.services.inventory;
        let made = match r.target {
            Some(Target::VariantId(v)) => {
                inventory
                    .reserve_variant(
                        &ctx,
                        convert::uuid(&v, "variant_id").map_err(status)?,
                        input,
                    )
                    .await
            }
            Some(Target::ItemId(i)) => {
                inventory
                    .reserve_item(&ctx, convert::uuid(&i, "item_id").map_err(status)?, input)
                    .await
            }
            None => Err(Error::invalid("target", "give `variant_id` or `item_id`")),
        }
        .map_err(status)?;
        Ok(Response::new(pb::ReserveInventoryResponse {
            reservations: made.into_iter().map(reservation).collect(),
        }))
    }

    async fn release_reservation(
        &self,
        request: Request<pb::ReleaseReservationRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.into_inner().id, "id").map_err(status)?;
        Ok(Response::new(reservation(
            self.app
                .services
                .inventory
                .release(&ctx, id)
                .await
                .map_err(status)?,
        )))
    }

    async fn get_available_to_promise(
        &self,
        request: Request<pb::AvailableToPromiseRequest>,
    ) -> Result<Response<pb::AvailableToPromise>, Status> {
        let ctx = call_ctx(&request);
        let variant =
            convert::uuid(&request.into_inner().variant_id, "variant_id").map_err(status)?;
        let atp = self
            .app
            .services
            .inventory
            .available_to_promise(&ctx, variant)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::AvailableToPromise {
            variant_id: atp.variant_id.to_string(),
            on_hand: atp.on_hand,
            reserved: atp.reserved,
            available: atp.available,
            on_order: atp.on_order,
            committed: atp.committed,
            available_to_promise: atp.available_to_promise,
        }))
    }

    async fn create_transfer(
        &self,
        request: Request<pb::CreateTransferRequest>,
    ) -> Result<Response<pb::Transfer>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let lines = r
            .lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                Ok(VariantQuantity {
                    variant_id: convert::uuid(&l.variant_id, &format!("lines[{i}].variant_id"))?,
                    quantity: l.quantity,
                })
            })
            .collect::<Result<Vec<_>, Error>>()
            .map_err(status)?;
        let input = CreateTransferInput {
            from_location_id: convert::uuid(&r.from_location_id, "from_location_id")
                .map_err(status)?,
            to_location_id: convert::uuid(&r.to_location_id, "to_location_id").map_err(status)?,
            lines,
        };
        Ok(Response::new(transfer(
            self.app
                .services
                .inventory
                .create_transfer(&ctx, input)
                .await
                .map_err(status)?,
        )))
    }

    async fn receive_transfer(
        &self,
        request: Request<pb::ReceiveTransferRequest>,
    ) -> Result<Response<pb::Transfer>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.into_inner().id, "id").map_err(status)?;
        Ok(Response::new(transfer(
            self.app
                .services
                .inventory
                .receive_transfer(&ctx, id)
                .await
                .map_err(status)?,
        )))
    }
}
