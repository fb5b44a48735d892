//! `stateset.v1.InventoryService`.

use tonic::{Request, Response, Status};

use super::pb::inventory_service_server::InventoryService;
use super::pb::{self, reserve_inventory_request::Target};
use super::{call_ctx, convert, idempotent, method_of, status};
use crate::app::AppState;
use crate::domain::{
    CycleCount, InventoryItem, InventoryLot, InventoryMovement, Location, LocationKind,
    PurchaseOrder, Reservation, Transfer,
};
use crate::services::Error;
use crate::services::inventory::{
    AdjustInput, CountInput, CreateLocationInput, CreatePurchaseOrderInput, CreateTransferInput,
    InventoryFilter, ItemSettingsInput, ReceiveInput, ReceiveLineInput, ReserveInput,
    UpdateLocationInput, VariantQuantity,
};

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
        reference: r.reference,
        created_at: Some(convert::timestamp(r.created_at)),
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

convert::proto_enum!(location_kind, location_kind_in: LocationKind => pb::LocationKind, "location kind" {
    Warehouse <=> Warehouse,
    Store <=> Store,
    Virtual <=> Virtual,
});

fn location(l: Location) -> pb::Location {
    pb::Location {
        id: l.id.to_string(),
        code: l.code,
        name: l.name,
        kind: location_kind(l.kind),
        priority: l.priority,
        active: l.active,
        created_at: Some(convert::timestamp(l.created_at)),
        address: l.address.map(convert::address),
    }
}

fn lot(l: InventoryLot) -> pb::InventoryLot {
    pb::InventoryLot {
        id: l.id.to_string(),
        item_id: l.item_id.to_string(),
        lot_code: l.lot_code,
        expires_at: l.expires_at.map(convert::timestamp),
        on_hand: l.on_hand,
        reserved: l.reserved,
        received_at: Some(convert::timestamp(l.received_at)),
    }
}

fn movement(m: InventoryMovement) -> pb::InventoryMovement {
    pb::InventoryMovement {
        id: m.id.to_string(),
        item_id: m.item_id.to_string(),
        lot_id: m.lot_id.map(|l| l.to_string()),
        kind: m.kind,
        on_hand_delta: m.on_hand_delta,
        reserved_delta: m.reserved_delta,
        reason: m.reason,
        actor: m.actor,
        reference_type: m.reference_type,
        reference_id: m.reference_id.map(|r| r.to_string()),
        created_at: Some(convert::timestamp(m.created_at)),
    }
}

fn count(c: CycleCount) -> pb::CycleCount {
    pb::CycleCount {
        id: c.id.to_string(),
        location_id: c.location_id.to_string(),
        status: c.status,
        lines: c
            .lines
            .into_iter()
            .map(|l| pb::CycleCountLine {
                item_id: l.item_id.to_string(),
                variant_id: l.variant_id.to_string(),
                sku: l.sku,
                expected: l.expected,
                counted: l.counted,
                variance: l.variance,
            })
            .collect(),
        created_at: Some(convert::timestamp(c.created_at)),
        posted_at: c.posted_at.map(convert::timestamp),
    }
}

fn purchase_order(p: PurchaseOrder) -> pb::PurchaseOrder {
    pb::PurchaseOrder {
        id: p.id.to_string(),
        number: p.number,
        location_id: p.location_id.to_string(),
        supplier: p.supplier,
        expected_at: p.expected_at.map(convert::timestamp),
        status: p.status,
        lines: p
            .lines
            .into_iter()
            .map(|l| pb::PurchaseOrderLine {
                id: l.id.to_string(),
                variant_id: l.variant_id.to_string(),
                quantity_ordered: l.quantity_ordered,
                quantity_received: l.quantity_received,
            })
            .collect(),
        created_at: Some(convert::timestamp(p.created_at)),
    }
}

/// Variant and quantity lines (`field[i].variant_id`), as transfers and purchase orders take
/// them.
fn variant_quantities(
    lines: impl IntoIterator<Item = (String, i32)>,
    field: &str,
) -> Result<Vec<VariantQuantity>, Error> {
    lines
        .into_iter()
        .enumerate()
        .map(|(i, (variant_id, quantity))| {
            Ok(VariantQuantity {
                variant_id: convert::uuid(&variant_id, &format!("{field}[{i}].variant_id"))?,
                quantity,
            })
        })
        .collect()
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
            location_id: convert::optional_uuid(r.location_id, "location_id").map_err(status)?,
            sku: r.sku,
            below_reorder_point: r.below_reorder_point,
        };
        let page = self
            .app
            .services
            .inventory
            .list_items(&ctx, filter, convert::page(r.page_size, r.page_token))
            .await
            .map_err(status)?;
        let (items, next_page_token, total_count) = convert::paged(page, item);
        Ok(Response::new(pb::ListInventoryResponse {
            items,
            next_page_token,
            total_count,
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
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let input = ReceiveInput {
                variant_id: convert::uuid(&r.variant_id, "variant_id").map_err(status)?,
                location_id: convert::uuid(&r.location_id, "location_id").map_err(status)?,
                quantity: r.quantity,
                lot_code: r.lot_code,
                expires_at: convert::time_in(r.expires_at, "expires_at").map_err(status)?,
                reason: r.reason,
            };
            let received = self
                .app
                .services
                .inventory
                .receive(&ctx, input)
                .await
                .map_err(status)?;
            Ok(item(received))
        })
        .await
    }

    async fn adjust_inventory(
        &self,
        request: Request<pb::AdjustInventoryRequest>,
    ) -> Result<Response<pb::InventoryItem>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.item_id, "item_id").map_err(status)?;
            let input = AdjustInput {
                delta: r.delta,
                reason: r.reason,
            };
            let adjusted = self
                .app
                .services
                .inventory
                .adjust(&ctx, id, input)
                .await
                .map_err(status)?;
            Ok(item(adjusted))
        })
        .await
    }

    async fn reserve_inventory(
        &self,
        request: Request<pb::ReserveInventoryRequest>,
    ) -> Result<Response<pb::ReserveInventoryResponse>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
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
            Ok(pb::ReserveInventoryResponse {
                reservations: made.into_iter().map(reservation).collect(),
            })
        })
        .await
    }

    async fn release_reservation(
        &self,
        request: Request<pb::ReleaseReservationRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let released = self
                .app
                .services
                .inventory
                .release(&ctx, id)
                .await
                .map_err(status)?;
            Ok(reservation(released))
        })
        .await
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
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let lines = r.lines.iter().map(|l| (l.variant_id.clone(), l.quantity));
            let input = CreateTransferInput {
                from_location_id: convert::uuid(&r.from_location_id, "from_location_id")
                    .map_err(status)?,
                to_location_id: convert::uuid(&r.to_location_id, "to_location_id")
                    .map_err(status)?,
                lines: variant_quantities(lines, "lines").map_err(status)?,
            };
            let created = self
                .app
                .services
                .inventory
                .create_transfer(&ctx, input)
                .await
                .map_err(status)?;
            Ok(transfer(created))
        })
        .await
    }

    async fn receive_transfer(
        &self,
        request: Request<pb::ReceiveTransferRequest>,
    ) -> Result<Response<pb::Transfer>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let received = self
                .app
                .services
                .inventory
                .receive_transfer(&ctx, id)
                .await
                .map_err(status)?;
            Ok(transfer(received))
        })
        .await
    }

    async fn list_low_stock(
        &self,
        request: Request<pb::ListLowStockRequest>,
    ) -> Result<Response<pb::ListLowStockResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let page = self
            .app
            .services
            .inventory
            .low_stock(&ctx, convert::page(r.page_size, r.page_token))
            .await
            .map_err(status)?;
        let (items, next_page_token, total_count) = convert::paged(page, item);
        Ok(Response::new(pb::ListLowStockResponse {
            items,
            next_page_token,
            total_count,
        }))
    }

    async fn update_inventory_item(
        &self,
        request: Request<pb::UpdateInventoryItemRequest>,
    ) -> Result<Response<pb::InventoryItem>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let input = ItemSettingsInput {
                safety_stock: r.safety_stock,
                reorder_point: r.reorder_point,
                reorder_quantity: r.reorder_quantity,
            };
            let updated = self
                .app
                .services
                .inventory
                .update_item_settings(&ctx, id, input)
                .await
                .map_err(status)?;
            Ok(item(updated))
        })
        .await
    }

    async fn list_lots(
        &self,
        request: Request<pb::ListLotsRequest>,
    ) -> Result<Response<pb::ListLotsResponse>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.into_inner().item_id, "item_id").map_err(status)?;
        let lots = self
            .app
            .services
            .inventory
            .lots(&ctx, id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListLotsResponse {
            lots: lots.into_iter().map(lot).collect(),
        }))
    }

    async fn list_movements(
        &self,
        request: Request<pb::ListMovementsRequest>,
    ) -> Result<Response<pb::ListMovementsResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.item_id, "item_id").map_err(status)?;
        let page = self
            .app
            .services
            .inventory
            .movements(&ctx, id, convert::page(r.page_size, r.page_token))
            .await
            .map_err(status)?;
        let (movements, next_page_token, total_count) = convert::paged(page, movement);
        Ok(Response::new(pb::ListMovementsResponse {
            movements,
            next_page_token,
            total_count,
        }))
    }

    async fn list_reservations(
        &self,
        request: Request<pb::ListReservationsRequest>,
    ) -> Result<Response<pb::ListReservationsResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.item_id, "item_id").map_err(status)?;
        let page = self
            .app
            .services
            .inventory
            .reservations(&ctx, id, convert::page(r.page_size, r.page_token))
            .await
            .map_err(status)?;
        let (reservations, next_page_token, total_count) = convert::paged(page, reservation);
        Ok(Response::new(pb::ListReservationsResponse {
            reservations,
            next_page_token,
            total_count,
        }))
    }

    async fn open_count(
        &self,
        request: Request<pb::OpenCountRequest>,
    ) -> Result<Response<pb::CycleCount>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let location_id = convert::uuid(&r.location_id, "location_id").map_err(status)?;
            let opened = self
                .app
                .services
                .inventory
                .open_count(&ctx, location_id)
                .await
                .map_err(status)?;
            Ok(count(opened))
        })
        .await
    }

    async fn get_count(
        &self,
        request: Request<pb::GetCountRequest>,
    ) -> Result<Response<pb::CycleCount>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.into_inner().id, "id").map_err(status)?;
        let found = self
            .app
            .services
            .inventory
            .get_count(&ctx, id)
            .await
            .map_err(status)?;
        Ok(Response::new(count(found)))
    }

    async fn record_count(
        &self,
        request: Request<pb::RecordCountRequest>,
    ) -> Result<Response<pb::CycleCount>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.count_id, "count_id").map_err(status)?;
            let input = CountInput {
                variant_id: convert::uuid(&r.variant_id, "variant_id").map_err(status)?,
                counted: r.counted,
            };
            let recorded = self
                .app
                .services
                .inventory
                .record_count(&ctx, id, input)
                .await
                .map_err(status)?;
            Ok(count(recorded))
        })
        .await
    }

    async fn post_count(
        &self,
        request: Request<pb::PostCountRequest>,
    ) -> Result<Response<pb::CycleCount>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let posted = self
                .app
                .services
                .inventory
                .post_count(&ctx, id)
                .await
                .map_err(status)?;
            Ok(count(posted))
        })
        .await
    }

    async fn list_locations(
        &self,
        request: Request<pb::ListLocationsRequest>,
    ) -> Result<Response<pb::ListLocationsResponse>, Status> {
        let ctx = call_ctx(&request);
        let locations = self
            .app
            .services
            .inventory
            .list_locations(&ctx)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListLocationsResponse {
            locations: locations.into_iter().map(location).collect(),
        }))
    }

    async fn create_location(
        &self,
        request: Request<pb::CreateLocationRequest>,
    ) -> Result<Response<pb::Location>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let kind = location_kind_in(r.kind, "kind")
                .and_then(|k| k.ok_or_else(|| Error::invalid("kind", "is required")))
                .map_err(status)?;
            let input = CreateLocationInput {
                code: r.code,
                name: r.name,
                kind,
                priority: r.priority,
                address: r.address.map(convert::address_in),
            };
            let created = self
                .app
                .services
                .inventory
                .create_location(&ctx, input)
                .await
                .map_err(status)?;
            Ok(location(created))
        })
        .await
    }

    async fn update_location(
        &self,
        request: Request<pb::UpdateLocationRequest>,
    ) -> Result<Response<pb::Location>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let input = UpdateLocationInput {
                name: r.name,
                kind: location_kind_in(r.kind, "kind").map_err(status)?,
                priority: r.priority,
                active: r.active,
                address: r.address.map(convert::address_in),
            };
            let updated = self
                .app
                .services
                .inventory
                .update_location(&ctx, id, input)
                .await
                .map_err(status)?;
            Ok(location(updated))
        })
        .await
    }

    async fn create_purchase_order(
        &self,
        request: Request<pb::CreatePurchaseOrderRequest>,
    ) -> Result<Response<pb::PurchaseOrder>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let lines = r.lines.iter().map(|l| (l.variant_id.clone(), l.quantity));
            let input = CreatePurchaseOrderInput {
                location_id: convert::uuid(&r.location_id, "location_id").map_err(status)?,
                supplier: r.supplier,
                expected_at: convert::time_in(r.expected_at, "expected_at").map_err(status)?,
                lines: variant_quantities(lines, "lines").map_err(status)?,
            };
            let created = self
                .app
                .services
                .inventory
                .create_purchase_order(&ctx, input)
                .await
                .map_err(status)?;
            Ok(purchase_order(created))
        })
        .await
    }

    async fn get_purchase_order(
        &self,
        request: Request<pb::GetPurchaseOrderRequest>,
    ) -> Result<Response<pb::PurchaseOrder>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.into_inner().id, "id").map_err(status)?;
        let found = self
            .app
            .services
            .inventory
            .get_purchase_order(&ctx, id)
            .await
            .map_err(status)?;
        Ok(Response::new(purchase_order(found)))
    }

    async fn receive_purchase_order(
        &self,
        request: Request<pb::ReceivePurchaseOrderRequest>,
    ) -> Result<Response<pb::PurchaseOrder>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        idempotent(&self.app, &ctx, &method, &r.clone(), async {
            let id = convert::uuid(&r.id, "id").map_err(status)?;
            let receipts = r
                .lines
                .into_iter()
                .enumerate()
                .map(|(i, l)| {
                    Ok(ReceiveLineInput {
                        line_id: convert::uuid(&l.line_id, &format!("lines[{i}].line_id"))?,
                        quantity: l.quantity,
                        lot_code: l.lot_code,
                        expires_at: convert::time_in(
                            l.expires_at,
                            &format!("lines[{i}].expires_at"),
                        )?,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()
                .map_err(status)?;
            let received = self
                .app
                .services
                .inventory
                .receive_purchase_order(&ctx, id, receipts)
                .await
                .map_err(status)?;
            Ok(purchase_order(received))
        })
        .await
    }
}
