//! `stateset.v1.ShipmentService`: fulfilment orders, shipments, carriers, labels and
//! tracking over gRPC, each method one call of
//! [`ShipmentService`](crate::services::ShipmentService), the service REST and GraphQL call.
//! Calendar dates travel as `YYYY-MM-DD` strings (proto has no date type of its own).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::pb::shipment_service_server::ShipmentService;
use super::pb::{self};
use super::{call_ctx, convert, idempotent, method_of, status};
use crate::app::AppState;
use crate::domain::{
    Carrier, CarrierAdapter, CarrierKind, FulfillmentOrder, FulfillmentOrderLine,
    FulfillmentOrderStatus, HoldReason, LabelStatus, RateChoice, RateShopping, RateTable,
    ServiceRates, Shipment, ShipmentAction, ShipmentFilter, ShipmentLine, ShipmentPackage,
    ShipmentRate, ShipmentStatus, ShippingLabel, SignatureRequirement, TrackingAnswer,
    TrackingEvent, TrackingStatus, WeightBand, ZoneRule, ZoneTransit,
};
use crate::services::shipments::{
    BuyLabelsInput, CreateCarrierInput, CreateShipmentInput, FulfillmentLineQuantity,
    HoldFulfillmentOrderInput, MergeFulfillmentOrdersInput, MoveFulfillmentOrderInput,
    PackageInput, SplitFulfillmentOrderInput, TrackingEventInput, UpdateCarrierInput,
};
use crate::services::{Ctx, Error, FieldError};

/// Shipments over gRPC.
pub struct ShipmentsGrpc {
    app: AppState,
}

impl ShipmentsGrpc {
    pub fn new(app: AppState) -> Self {
        Self { app }
    }

    /// Moves a shipment along its table (`act` in REST and GraphQL).
    async fn act(
        &self,
        ctx: &Ctx,
        id: Uuid,
        action: ShipmentAction,
        reason: Option<String>,
        signed_by: Option<String>,
    ) -> Result<pb::Shipment, Status> {
        let moved = self
            .app
            .services
            .shipments
            .transition_shipment(ctx, id, action, reason, signed_by)
            .await
            .map_err(status)?;
        Ok(shipment(moved))
    }
}

convert::proto_enum!(shipment_status, shipment_status_in: ShipmentStatus => pb::ShipmentStatus, "shipment status" {
    Pending <=> Pending,
    Picking <=> Picking,
    Packed <=> Packed,
    Shipped <=> Shipped,
    InTransit <=> InTransit,
    OutForDelivery <=> OutForDelivery,
    Delivered <=> Delivered,
    Exception <=> Exception,
    ReturnedToSender <=> ReturnedToSender,
    Cancelled <=> Cancelled,
});

convert::proto_enum!(signature, signature_in: SignatureRequirement => pb::SignatureRequirement, "signature requirement" {
    None <=> None,
    Signature <=> Signature,
    AdultSignature <=> AdultSignature,
});

convert::proto_enum!(plan_status: FulfillmentOrderStatus => pb::FulfillmentOrderStatus, "fulfillment order status" {
    Open <=> Open,
    InProgress <=> InProgress,
    OnHold <=> OnHold,
    Closed <=> Closed,
    Cancelled <=> Cancelled,
});

convert::proto_enum!(hold_reason, hold_reason_in: HoldReason => pb::FulfillmentHoldReason, "hold reason" {
    AwaitingPayment <=> AwaitingPayment,
    HighRiskOfFraud <=> HighRiskOfFraud,
    IncorrectAddress <=> IncorrectAddress,
    InventoryOutOfStock <=> InventoryOutOfStock,
    Other <=> Other,
});

convert::proto_enum!(carrier_kind, carrier_kind_in: CarrierKind => pb::CarrierKind, "carrier kind" {
    Ups <=> Ups,
    Fedex <=> Fedex,
    Usps <=> Usps,
    DhlExpress <=> DhlExpress,
});

convert::proto_enum!(carrier_adapter, carrier_adapter_in: CarrierAdapter => pb::CarrierAdapter, "carrier adapter" {
    Table <=> Table,
    Http <=> Http,
});

convert::proto_enum!(label_status: LabelStatus => pb::ShippingLabelStatus, "label status" {
    Pending <=> Pending,
    Purchased <=> Purchased,
    Voiding <=> Voiding,
    Voided <=> Voided,
    Failed <=> Failed,
});

convert::proto_enum!(tracking_status: TrackingStatus => pb::TrackingStatus, "tracking status" {
    LabelCreated <=> LabelCreated,
    Accepted <=> Accepted,
    InTransit <=> InTransit,
    OutForDelivery <=> OutForDelivery,
    AttemptedDelivery <=> AttemptedDelivery,
    Exception <=> Exception,
    ReturnedToSender <=> ReturnedToSender,
    Delivered <=> Delivered,
});

/// A rate choice from a request: `None` for UNSPECIFIED (buy by carrier and service).
fn rate_choice_in(raw: i32) -> Result<Option<RateChoice>, Error> {
    match pb::RateChoice::try_from(raw) {
        Ok(pb::RateChoice::Unspecified) => Ok(None),
        Ok(pb::RateChoice::Cheapest) => Ok(Some(RateChoice::Cheapest)),
        Ok(pb::RateChoice::Fastest) => Ok(Some(RateChoice::Fastest)),
        Ok(pb::RateChoice::BestValue) => Ok(Some(RateChoice::BestValue)),
        Err(_) => Err(Error::invalid("choice", "is not a known rate choice")),
    }
}

/// Every item read, or every bad field among them at once (another error stops the read).
fn all<T>(items: impl IntoIterator<Item = Result<T, Error>>) -> Result<Vec<T>, Error> {
    let mut read = Vec::new();
    let mut bad = Vec::new();
    for item in items {
        match item {
            Ok(value) => read.push(value),
            Err(Error::Validation(fields)) => bad.extend(fields),
            Err(other) => return Err(other),
        }
    }
    if bad.is_empty() {
        Ok(read)
    } else {
        Err(Error::Validation(bad))
    }
}

/// A calendar date as the wire sends it: `YYYY-MM-DD`.
fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn plan_line(l: FulfillmentOrderLine) -> pb::FulfillmentOrderLine {
    pb::FulfillmentOrderLine {
        id: l.id.to_string(),
        order_item_id: l.order_item_id.to_string(),
        variant_id: l.variant_id.map(|v| v.to_string()),
        sku: l.sku,
        name: l.name,
        quantity: l.quantity,
        assigned_quantity: l.assigned_quantity,
        shipped_quantity: l.shipped_quantity,
        remaining_quantity: l.remaining_quantity,
    }
}

fn fulfillment_order(f: FulfillmentOrder) -> pb::FulfillmentOrder {
    pb::FulfillmentOrder {
        id: f.id.to_string(),
        order_id: f.order_id.to_string(),
        location_id: f.location_id.to_string(),
        status: plan_status(f.status),
        hold_reason: f.hold_reason.map_or(0, hold_reason),
        hold_note: f.hold_note,
        merged_into: f.merged_into.map(|m| m.to_string()),
        lines: f.lines.into_iter().map(plan_line).collect(),
        created_at: Some(convert::timestamp(f.created_at)),
        updated_at: Some(convert::timestamp(f.updated_at)),
    }
}

fn label(l: ShippingLabel) -> pb::ShippingLabel {
    pb::ShippingLabel {
        id: l.id.to_string(),
        package_id: l.package_id.to_string(),
        carrier: l.carrier,
        service: l.service,
        status: label_status(l.status),
        tracking_number: l.tracking_number,
        price: l.price.map(convert::money),
        error: l.error,
        created_at: Some(convert::timestamp(l.created_at)),
        purchased_at: l.purchased_at.map(convert::timestamp),
        voided_at: l.voided_at.map(convert::timestamp),
    }
}

fn package(p: ShipmentPackage) -> pb::ShipmentPackage {
    pb::ShipmentPackage {
        id: p.id.to_string(),
        position: p.position,
        weight_grams: p.weight_grams,
        length_mm: p.length_mm,
        width_mm: p.width_mm,
        height_mm: p.height_mm,
        tracking_number: p.tracking_number,
        tracking_url: p.tracking_url,
        label: p.label.map(label),
    }
}

fn shipment_line(l: ShipmentLine) -> pb::ShipmentLine {
    pb::ShipmentLine {
        id: l.id.to_string(),
        fulfillment_order_line_id: l.fulfillment_order_line_id.to_string(),
        order_item_id: l.order_item_id.to_string(),
        sku: l.sku,
        name: l.name,
        quantity: l.quantity,
    }
}

fn shipment(s: Shipment) -> pb::Shipment {
    pb::Shipment {
        id: s.id.to_string(),
        number: s.number,
        order_id: s.order_id.to_string(),
        fulfillment_order_id: s.fulfillment_order_id.to_string(),
        location_id: s.location_id.to_string(),
        status: shipment_status(s.status),
        carrier: s.carrier,
        service: s.service,
        signature: signature(s.signature),
        ship_to: s.ship_to.map(convert::address),
        lines: s.lines.into_iter().map(shipment_line).collect(),
        packages: s.packages.into_iter().map(package).collect(),
        shipped_at: s.shipped_at.map(convert::timestamp),
        delivered_at: s.delivered_at.map(convert::timestamp),
        signed_by: s.signed_by,
        cancel_reason: s.cancel_reason,
        created_at: Some(convert::timestamp(s.created_at)),
        updated_at: Some(convert::timestamp(s.updated_at)),
    }
}

fn rate(r: ShipmentRate) -> pb::ShipmentRate {
    pb::ShipmentRate {
        carrier: r.carrier,
        carrier_name: r.carrier_name,
        service: r.service,
        service_name: r.service_name,
        price: Some(convert::money(r.price)),
        estimated_delivery: date(r.estimated_delivery),
        guaranteed: r.guaranteed,
    }
}

fn rate_shopping(r: RateShopping) -> pb::RateShopping {
    pb::RateShopping {
        shipment_id: r.shipment_id.to_string(),
        rates: r.rates.into_iter().map(rate).collect(),
        failures: r
            .failures
            .into_iter()
            .map(|f| pb::CarrierFailure {
                carrier: f.carrier,
                error: f.error,
            })
            .collect(),
        promised_by: r.promised_by.map(date),
        cheapest: r.cheapest.map(rate),
        fastest: r.fastest.map(rate),
        best_value: r.best_value.map(rate),
    }
}

fn rate_table(t: RateTable) -> pb::RateTable {
    pb::RateTable {
        currency: t.currency,
        dim_divisor: t.dim_divisor,
        zones: t
            .zones
            .into_iter()
            .map(|z| pb::ZoneRule {
                origin_country: z.origin_country,
                origin_postal_prefix: z.origin_postal_prefix,
                destination_country: z.destination_country,
                destination_postal_prefix: z.destination_postal_prefix,
                zone: z.zone,
            })
            .collect(),
        services: t
            .services
            .into_iter()
            .map(|s| pb::ServiceRates {
                code: s.code,
                name: s.name,
                guaranteed: s.guaranteed,
                transit: s
                    .transit
                    .into_iter()
                    .map(|t| pb::ZoneTransit {
                        zone: t.zone,
                        business_days: t.business_days,
                    })
                    .collect(),
                bands: s
                    .bands
                    .into_iter()
                    .map(|b| pb::WeightBand {
                        zone: b.zone,
                        max_weight_grams: b.max_weight_grams,
                        price: b.price.to_string(),
                    })
                    .collect(),
                signature_surcharge: s.signature_surcharge.to_string(),
                adult_signature_surcharge: s.adult_signature_surcharge.to_string(),
            })
            .collect(),
    }
}

/// Decimal prices read from a request, the bad ones kept so that all are reported at once.
#[derive(Default)]
struct Prices {
    bad: Vec<FieldError>,
}

impl Prices {
    /// The decimal string at `field`: empty is `None` when `required`, else 0.
    fn read(&mut self, raw: String, field: String, required: bool) -> Decimal {
        match convert::decimal(Some(raw), &field) {
            Ok(Some(amount)) => return amount,
            Ok(None) if required => self.bad.push(FieldError {
                field,
                message: "is required".into(),
            }),
            Ok(None) => {}
            Err(Error::Validation(fields)) => self.bad.extend(fields),
            Err(_) => self.bad.push(FieldError {
                field,
                message: "must be a decimal number such as 19.99".into(),
            }),
        }
        Decimal::ZERO
    }
}

/// A rate table from a request (`field` is its path, `rate_table`), every unreadable price
/// named at once; the service checks the rest (`RateTable::problems`).
fn rate_table_in(t: pb::RateTable, field: &str) -> Result<RateTable, Error> {
    let mut prices = Prices::default();
    let mut services = Vec::with_capacity(t.services.len());
    for (i, s) in t.services.into_iter().enumerate() {
        let at = format!("{field}.services[{i}]");
        let mut bands = Vec::with_capacity(s.bands.len());
        for (j, b) in s.bands.into_iter().enumerate() {
            bands.push(WeightBand {
                zone: b.zone,
                max_weight_grams: b.max_weight_grams,
                price: prices.read(b.price, format!("{at}.bands[{j}].price"), true),
            });
        }
        services.push(ServiceRates {
            code: s.code,
            name: s.name,
            guaranteed: s.guaranteed,
            transit: s
                .transit
                .into_iter()
                .map(|t| ZoneTransit {
                    zone: t.zone,
                    business_days: t.business_days,
                })
                .collect(),
            bands,
            signature_surcharge: prices.read(
                s.signature_surcharge,
                format!("{at}.signature_surcharge"),
                false,
            ),
            adult_signature_surcharge: prices.read(
                s.adult_signature_surcharge,
                format!("{at}.adult_signature_surcharge"),
                false,
            ),
        });
    }
    if !prices.bad.is_empty() {
        return Err(Error::Validation(prices.bad));
    }
    Ok(RateTable {
        currency: t.currency,
        dim_divisor: t.dim_divisor,
        zones: t
            .zones
            .into_iter()
            .map(|z| ZoneRule {
                origin_country: z.origin_country,
                origin_postal_prefix: z.origin_postal_prefix,
                destination_country: z.destination_country,
                destination_postal_prefix: z.destination_postal_prefix,
                zone: z.zone,
            })
            .collect(),
        services,
    })
}

fn carrier(c: Carrier) -> pb::Carrier {
    pb::Carrier {
        id: c.id.to_string(),
        code: c.code,
        name: c.name,
        kind: c.kind.map_or(0, carrier_kind),
        adapter: carrier_adapter(c.adapter),
        enabled: c.enabled,
        base_url: c.base_url,
        has_api_key: c.has_api_key,
        timeout_ms: c.timeout_ms,
        rate_table: c.rate_table.map(rate_table),
        created_at: Some(convert::timestamp(c.created_at)),
        updated_at: Some(convert::timestamp(c.updated_at)),
    }
}

fn tracking_event(e: TrackingEvent) -> pb::TrackingEvent {
    pb::TrackingEvent {
        id: e.id.to_string(),
        event_id: e.event_id,
        status: tracking_status(e.status),
        carrier_code: e.carrier_code,
        occurred_at: Some(convert::timestamp(e.occurred_at)),
        location: e.location,
        description: e.description,
        signed_by: e.signed_by,
        received_at: Some(convert::timestamp(e.received_at)),
    }
}

fn tracking_answer(a: TrackingAnswer) -> pb::TrackingAnswer {
    let t = a.tracking;
    pb::TrackingAnswer {
        tracking_number: t.tracking_number,
        carrier: t.carrier,
        tracking_url: t.tracking_url,
        status: shipment_status(t.status),
        shipped_at: t.shipped_at.map(convert::timestamp),
        delivered_at: t.delivered_at.map(convert::timestamp),
        events: t
            .events
            .into_iter()
            .map(|e| pb::PublicTrackingEvent {
                status: tracking_status(e.status),
                occurred_at: Some(convert::timestamp(e.occurred_at)),
                location: e.location,
                description: e.description,
            })
            .collect(),
        shipment: a.shipment.map(shipment),
        tracking_events: a
            .tracking_events
            .unwrap_or_default()
            .into_iter()
            .map(tracking_event)
            .collect(),
    }
}

fn package_in(p: &pb::ShipmentPackageInput) -> PackageInput {
    PackageInput {
        weight_grams: p.weight_grams,
        length_mm: p.length_mm,
        width_mm: p.width_mm,
        height_mm: p.height_mm,
        tracking_number: p.tracking_number.clone(),
    }
}

/// Lines and units from a request, every bad id named (`lines[0].fulfillment_order_line_id`).
fn lines_in(
    lines: &[pb::FulfillmentLineQuantity],
    field: &str,
) -> Result<Vec<FulfillmentLineQuantity>, Error> {
    all(lines.iter().enumerate().map(|(i, l)| {
        Ok(FulfillmentLineQuantity {
            fulfillment_order_line_id: convert::uuid(
                &l.fulfillment_order_line_id,
                &format!("{field}[{i}].fulfillment_order_line_id"),
            )?,
            quantity: l.quantity,
        })
    }))
}

/// Tracking events from a request; each needs its time (`events[0].occurred_at`).
fn events_in(events: &[pb::TrackingEventInput]) -> Result<Vec<TrackingEventInput>, Error> {
    all(events.iter().enumerate().map(|(i, e)| {
        let field = format!("events[{i}].occurred_at");
        let occurred_at = convert::time_in(e.occurred_at, &field)?
            .ok_or_else(|| Error::invalid(field, "is required"))?;
        Ok(TrackingEventInput {
            event_id: e.event_id.clone(),
            code: e.code.clone(),
            occurred_at,
            location: e.location.clone(),
            description: e.description.clone(),
            signed_by: e.signed_by.clone(),
        })
    }))
}

#[tonic::async_trait]
impl ShipmentService for ShipmentsGrpc {
    async fn list_shipments(
        &self,
        request: Request<pb::ListShipmentsRequest>,
    ) -> Result<Response<pb::ListShipmentsResponse>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let filter = ShipmentFilter {
            order_id: convert::optional_uuid(r.order_id, "order_id").map_err(status)?,
            status: shipment_status_in(r.status, "status").map_err(status)?,
            carrier: r.carrier.filter(|c| !c.is_empty()),
            from: convert::time_in(r.from, "from").map_err(status)?,
            to: convert::time_in(r.to, "to").map_err(status)?,
        };
        let page = convert::page(r.page_size, r.page_token);
        let page = self
            .app
            .services
            .shipments
            .list_shipments(&ctx, filter, page)
            .await
            .map_err(status)?;
        let (shipments, next_page_token, total_count) = convert::paged(page, shipment);
        Ok(Response::new(pb::ListShipmentsResponse {
            shipments,
            next_page_token,
            total_count,
        }))
    }

    async fn get_shipment(
        &self,
        request: Request<pb::GetShipmentRequest>,
    ) -> Result<Response<pb::Shipment>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.into_inner().id, "id").map_err(status)?;
        let found = self
            .app
            .services
            .shipments
            .get_shipment(&ctx, id)
            .await
            .map_err(status)?;
        Ok(Response::new(shipment(found)))
    }

    async fn create_shipment(
        &self,
        request: Request<pb::CreateShipmentRequest>,
    ) -> Result<Response<pb::Shipment>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        // Empty lists are "left out", as proto3 cannot tell them apart.
        let input = CreateShipmentInput {
            fulfillment_order_id: convert::uuid(&r.fulfillment_order_id, "fulfillment_order_id")
                .map_err(status)?,
            lines: match r.lines.as_slice() {
                [] => None,
                lines => Some(lines_in(lines, "lines").map_err(status)?),
            },
            packages: Some(r.packages.iter().map(package_in).collect::<Vec<_>>())
                .filter(|p| !p.is_empty()),
            carrier: r.carrier.clone(),
            service: r.service.clone(),
            signature: signature_in(r.signature, "signature").map_err(status)?,
        };
        idempotent(&self.app, &ctx, &method, &r, async {
            let made = self
                .app
                .services
                .shipments
                .create_shipment(&ctx, input)
                .await
                .map_err(status)?;
            Ok(shipment(made))
        })
        .await
    }

    async fn add_shipment_packages(
        &self,
        request: Request<pb::AddShipmentPackagesRequest>,
    ) -> Result<Response<pb::Shipment>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.id, "id").map_err(status)?;
        let packages = r.packages.iter().map(package_in).collect();
        idempotent(&self.app, &ctx, &method, &r, async {
            let added = self
                .app
                .services
                .shipments
                .add_packages(&ctx, id, packages)
                .await
                .map_err(status)?;
            Ok(shipment(added))
        })
        .await
    }

    async fn pick_shipment(
        &self,
        request: Request<pb::PickShipmentRequest>,
    ) -> Result<Response<pb::Shipment>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.id, "id").map_err(status)?;
        let step = self.act(&ctx, id, ShipmentAction::Pick, None, None);
        idempotent(&self.app, &ctx, &method, &r, step).await
    }

    async fn pack_shipment(
        &self,
        request: Request<pb::PackShipmentRequest>,
    ) -> Result<Response<pb::Shipment>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.id, "id").map_err(status)?;
        let step = self.act(&ctx, id, ShipmentAction::Pack, None, None);
        idempotent(&self.app, &ctx, &method, &r, step).await
    }

    async fn ship_shipment(
        &self,
        request: Request<pb::ShipShipmentRequest>,
    ) -> Result<Response<pb::Shipment>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.id, "id").map_err(status)?;
        let step = self.act(&ctx, id, ShipmentAction::Ship, None, None);
        idempotent(&self.app, &ctx, &method, &r, step).await
    }

    async fn deliver_shipment(
        &self,
        request: Request<pb::DeliverShipmentRequest>,
    ) -> Result<Response<pb::Shipment>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.id, "id").map_err(status)?;
        let signed_by = r.signed_by.clone();
        let step = self.act(&ctx, id, ShipmentAction::Deliver, None, signed_by);
        idempotent(&self.app, &ctx, &method, &r, step).await
    }

    async fn cancel_shipment(
        &self,
        request: Request<pb::CancelShipmentRequest>,
    ) -> Result<Response<pb::Shipment>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.id, "id").map_err(status)?;
        let reason = Some(r.reason.clone());
        let step = self.act(&ctx, id, ShipmentAction::Cancel, reason, None);
        idempotent(&self.app, &ctx, &method, &r, step).await
    }

    async fn get_shipment_rates(
        &self,
        request: Request<pb::GetShipmentRatesRequest>,
    ) -> Result<Response<pb::RateShopping>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.into_inner().id, "id").map_err(status)?;
        let shopped = self
            .app
            .services
            .shipments
            .shop_rates(&ctx, id)
            .await
            .map_err(status)?;
        Ok(Response::new(rate_shopping(shopped)))
    }

    async fn buy_shipment_labels(
        &self,
        request: Request<pb::BuyShipmentLabelsRequest>,
    ) -> Result<Response<pb::Shipment>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.id, "id").map_err(status)?;
        let input = BuyLabelsInput {
            carrier: r.carrier.clone(),
            service: r.service.clone(),
            choice: rate_choice_in(r.choice).map_err(status)?,
        };
        idempotent(&self.app, &ctx, &method, &r, async {
            let labelled = self
                .app
                .services
                .shipments
                .buy_labels(&ctx, id, input)
                .await
                .map_err(status)?;
            Ok(shipment(labelled))
        })
        .await
    }

    async fn void_shipment_labels(
        &self,
        request: Request<pb::VoidShipmentLabelsRequest>,
    ) -> Result<Response<pb::Shipment>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.id, "id").map_err(status)?;
        let package_id =
            convert::optional_uuid(r.package_id.clone(), "package_id").map_err(status)?;
        idempotent(&self.app, &ctx, &method, &r, async {
            let voided = self
                .app
                .services
                .shipments
                .void_labels(&ctx, id, package_id)
                .await
                .map_err(status)?;
            Ok(shipment(voided))
        })
        .await
    }

    async fn get_shipment_label(
        &self,
        request: Request<pb::GetShipmentLabelRequest>,
    ) -> Result<Response<pb::ShippingLabelPdf>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.id, "id").map_err(status)?;
        let position = if r.package == 0 { 1 } else { r.package };
        let (name, content) = self
            .app
            .services
            .shipments
            .label_pdf(&ctx, id, position)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ShippingLabelPdf {
            shipment_id: id.to_string(),
            package: position,
            content_type: "application/pdf".into(),
            filename: format!("{name}.pdf"),
            content,
        }))
    }

    async fn record_tracking_events(
        &self,
        request: Request<pb::RecordTrackingEventsRequest>,
    ) -> Result<Response<pb::Shipment>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.id, "id").map_err(status)?;
        let events = events_in(&r.events).map_err(status)?;
        idempotent(&self.app, &ctx, &method, &r, async {
            let tracked = self
                .app
                .services
                .shipments
                .record_tracking_events(&ctx, id, events)
                .await
                .map_err(status)?;
            Ok(shipment(tracked))
        })
        .await
    }

    async fn list_tracking_events(
        &self,
        request: Request<pb::ListTrackingEventsRequest>,
    ) -> Result<Response<pb::ListTrackingEventsResponse>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.into_inner().id, "id").map_err(status)?;
        let events = self
            .app
            .services
            .shipments
            .tracking_events(&ctx, id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListTrackingEventsResponse {
            events: events.into_iter().map(tracking_event).collect(),
        }))
    }

    async fn track_shipment(
        &self,
        request: Request<pb::TrackShipmentRequest>,
    ) -> Result<Response<pb::TrackingAnswer>, Status> {
        let ctx = call_ctx(&request);
        let number = request.into_inner().tracking_number;
        let answer = self
            .app
            .services
            .shipments
            .track(&ctx, &number)
            .await
            .map_err(status)?;
        Ok(Response::new(tracking_answer(answer)))
    }

    async fn list_order_fulfillment_orders(
        &self,
        request: Request<pb::ListOrderFulfillmentOrdersRequest>,
    ) -> Result<Response<pb::ListOrderFulfillmentOrdersResponse>, Status> {
        let ctx = call_ctx(&request);
        let order_id = convert::uuid(&request.into_inner().order_id, "order_id").map_err(status)?;
        let plans = self
            .app
            .services
            .shipments
            .fulfillment_orders_of_order(&ctx, order_id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListOrderFulfillmentOrdersResponse {
            fulfillment_orders: plans.into_iter().map(fulfillment_order).collect(),
        }))
    }

    async fn get_fulfillment_order(
        &self,
        request: Request<pb::GetFulfillmentOrderRequest>,
    ) -> Result<Response<pb::FulfillmentOrder>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.into_inner().id, "id").map_err(status)?;
        let found = self
            .app
            .services
            .shipments
            .get_fulfillment_order(&ctx, id)
            .await
            .map_err(status)?;
        Ok(Response::new(fulfillment_order(found)))
    }

    async fn hold_fulfillment_order(
        &self,
        request: Request<pb::HoldFulfillmentOrderRequest>,
    ) -> Result<Response<pb::FulfillmentOrder>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.id, "id").map_err(status)?;
        let reason = hold_reason_in(r.reason, "reason")
            .and_then(|reason| reason.ok_or_else(|| Error::invalid("reason", "is required")))
            .map_err(status)?;
        let input = HoldFulfillmentOrderInput {
            reason,
            note: r.note.clone(),
        };
        idempotent(&self.app, &ctx, &method, &r, async {
            let held = self
                .app
                .services
                .shipments
                .hold_fulfillment_order(&ctx, id, input)
                .await
                .map_err(status)?;
            Ok(fulfillment_order(held))
        })
        .await
    }

    async fn release_fulfillment_order(
        &self,
        request: Request<pb::ReleaseFulfillmentOrderRequest>,
    ) -> Result<Response<pb::FulfillmentOrder>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.id, "id").map_err(status)?;
        idempotent(&self.app, &ctx, &method, &r, async {
            let released = self
                .app
                .services
                .shipments
                .release_fulfillment_order(&ctx, id)
                .await
                .map_err(status)?;
            Ok(fulfillment_order(released))
        })
        .await
    }

    async fn move_fulfillment_order(
        &self,
        request: Request<pb::MoveFulfillmentOrderRequest>,
    ) -> Result<Response<pb::FulfillmentOrder>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.id, "id").map_err(status)?;
        let input = MoveFulfillmentOrderInput {
            location_id: convert::uuid(&r.location_id, "location_id").map_err(status)?,
        };
        idempotent(&self.app, &ctx, &method, &r, async {
            let moved = self
                .app
                .services
                .shipments
                .move_fulfillment_order(&ctx, id, input)
                .await
                .map_err(status)?;
            Ok(fulfillment_order(moved))
        })
        .await
    }

    async fn split_fulfillment_order(
        &self,
        request: Request<pb::SplitFulfillmentOrderRequest>,
    ) -> Result<Response<pb::SplitFulfillmentOrderResponse>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.id, "id").map_err(status)?;
        let input = SplitFulfillmentOrderInput {
            lines: lines_in(&r.lines, "lines").map_err(status)?,
        };
        idempotent(&self.app, &ctx, &method, &r, async {
            let (kept, split_off) = self
                .app
                .services
                .shipments
                .split_fulfillment_order(&ctx, id, input)
                .await
                .map_err(status)?;
            Ok(pb::SplitFulfillmentOrderResponse {
                fulfillment_order: Some(fulfillment_order(kept)),
                new_fulfillment_order: Some(fulfillment_order(split_off)),
            })
        })
        .await
    }

    async fn merge_fulfillment_orders(
        &self,
        request: Request<pb::MergeFulfillmentOrdersRequest>,
    ) -> Result<Response<pb::FulfillmentOrder>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let input = MergeFulfillmentOrdersInput {
            fulfillment_order_ids: convert::uuids(
                &r.fulfillment_order_ids,
                "fulfillment_order_ids",
            )
            .map_err(status)?,
        };
        idempotent(&self.app, &ctx, &method, &r, async {
            let merged = self
                .app
                .services
                .shipments
                .merge_fulfillment_orders(&ctx, input)
                .await
                .map_err(status)?;
            Ok(fulfillment_order(merged))
        })
        .await
    }

    async fn list_carriers(
        &self,
        request: Request<pb::ListCarriersRequest>,
    ) -> Result<Response<pb::ListCarriersResponse>, Status> {
        let ctx = call_ctx(&request);
        let carriers = self
            .app
            .services
            .shipments
            .list_carriers(&ctx)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListCarriersResponse {
            carriers: carriers.into_iter().map(carrier).collect(),
        }))
    }

    async fn get_carrier(
        &self,
        request: Request<pb::GetCarrierRequest>,
    ) -> Result<Response<pb::Carrier>, Status> {
        let ctx = call_ctx(&request);
        let id = convert::uuid(&request.into_inner().id, "id").map_err(status)?;
        let found = self
            .app
            .services
            .shipments
            .get_carrier(&ctx, id)
            .await
            .map_err(status)?;
        Ok(Response::new(carrier(found)))
    }

    // Not through `idempotent`: the answer holds the webhook secret, of which the store must
    // keep no copy. A retry after a success is refused as ALREADY_EXISTS instead, as the code
    // is taken.
    async fn create_carrier(
        &self,
        request: Request<pb::CreateCarrierRequest>,
    ) -> Result<Response<pb::CreatedCarrier>, Status> {
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let adapter = carrier_adapter_in(r.adapter, "adapter")
            .and_then(|a| a.ok_or_else(|| Error::invalid("adapter", "is required")))
            .map_err(status)?;
        let input = CreateCarrierInput {
            code: r.code,
            name: r.name,
            kind: carrier_kind_in(r.kind, "kind").map_err(status)?,
            adapter,
            enabled: r.enabled,
            base_url: r.base_url,
            api_key: r.api_key,
            timeout_ms: r.timeout_ms,
            rate_table: r
                .rate_table
                .map(|t| rate_table_in(t, "rate_table"))
                .transpose()
                .map_err(status)?,
        };
        let created = self
            .app
            .services
            .shipments
            .create_carrier(&ctx, input)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::CreatedCarrier {
            carrier: Some(carrier(created.carrier)),
            webhook_secret: created.webhook_secret,
        }))
    }

    async fn update_carrier(
        &self,
        request: Request<pb::UpdateCarrierRequest>,
    ) -> Result<Response<pb::Carrier>, Status> {
        let method = method_of(&request);
        let ctx = call_ctx(&request);
        let r = request.into_inner();
        let id = convert::uuid(&r.id, "id").map_err(status)?;
        let input = UpdateCarrierInput {
            name: r.name.clone(),
            enabled: r.enabled,
            base_url: r.base_url.clone(),
            api_key: r.api_key.clone(),
            timeout_ms: r.timeout_ms,
            rate_table: r
                .rate_table
                .clone()
                .map(|t| rate_table_in(t, "rate_table"))
                .transpose()
                .map_err(status)?,
        };
        idempotent(&self.app, &ctx, &method, &r, async {
            let updated = self
                .app
                .services
                .shipments
                .update_carrier(&ctx, id, input)
                .await
                .map_err(status)?;
            Ok(carrier(updated))
        })
        .await
    }
}
