//! Fulfilment and shipments: an order's lines are planned per location when it is placed
//! (fulfilment orders, following its stock reservations); shipments take lines from one
//! fulfilment order, in packages, and move through the shipment table in the domain. Shipping
//! commits the reserved stock in the same transaction and moves the order (`partially_shipped`
//! while lines remain, `shipped` when all have left); delivering every shipment delivers it.
//!
//! Reading needs `shipments:read` (customers hold `shipments:read:own`: their own orders');
//! writing needs `shipments:create`, `shipments:update` or `shipments:cancel`.

pub mod carriers;
mod carrying;
pub mod label;
mod plan;
mod tracking_feed;

pub use carrying::{BuyLabelsInput, CreateCarrierInput, UpdateCarrierInput};
pub(crate) use tracking_feed::shipments_with_events;
pub use tracking_feed::{
    CarrierWebhookBody, CarrierWebhookEvent, CarrierWebhookReceipt, TrackingEventInput,
};

pub use plan::{
    HoldFulfillmentOrderInput, MergeFulfillmentOrdersInput, MoveFulfillmentOrderInput,
    SplitFulfillmentOrderInput,
};
pub(crate) use plan::{cancel_order_fulfillment, plan, replan};

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::checks::optional_text;
use super::error::Validator;
use super::inventory;
use super::orders::{self as order_service};
use super::page::{Keyset, Page, PageRequest};
use super::{Ctx, Error};
use crate::auth::Access;
use crate::events::{self, DomainEvent};
use stateset_db::Db;
use stateset_db::carriers as carrier_q;
use stateset_db::fulfillment::{
    self as q, FulfillmentLineRow, FulfillmentOrderChanges, FulfillmentOrderRow, PackageRow,
    ShipmentChanges, ShipmentLineRow, ShipmentRow,
};
use stateset_db::orders::{self as order_q, OrderItemRow, OrderRow};
use stateset_domain::tracking::tracking_url;
use stateset_domain::{
    Address, EventType, FulfillmentOrder, FulfillmentOrderLine, FulfillmentOrderStatus,
    LabelStatus, Money, OrderAction, OrderStatus, Shipment, ShipmentAction, ShipmentFilter,
    ShipmentLine, ShipmentPackage, ShipmentStatus, ShippingLabel, SignatureRequirement,
};

/// Packages per shipment, and the shipments listed per order at most.
const MAX_PACKAGES: usize = 50;
const MAX_SHIPMENTS_PER_ORDER: i64 = 500;
/// A package's largest weight (70 kg, the big carriers' limit) and side (3 m).
const MAX_WEIGHT_GRAMS: i32 = 70_000;
const MAX_SIDE_MM: i32 = 3_000;

/// Units of one fulfilment order line.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
#[graphql(name = "FulfillmentLineQuantityInput")]
pub struct FulfillmentLineQuantity {
    pub fulfillment_order_line_id: Uuid,
    /// At least 1, at most the units of the line no shipment holds yet.
    pub quantity: i32,
}

/// One box of a new shipment.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
#[graphql(name = "PackageInput")]
pub struct PackageInput {
    /// 1 to 70,000 g.
    pub weight_grams: i32,
    /// Each side 1 to 3,000 mm.
    pub length_mm: i32,
    pub width_mm: i32,
    pub height_mm: i32,
    /// The carrier's number, when the label was bought elsewhere.
    pub tracking_number: Option<String>,
}

/// A shipment to make from one fulfilment order.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
#[graphql(name = "CreateShipmentInput")]
pub struct CreateShipmentInput {
    pub fulfillment_order_id: Uuid,
    /// Lines and units to ship; omitted: every unit no shipment holds yet.
    pub lines: Option<Vec<FulfillmentLineQuantity>>,
    /// Its boxes (up to 50); more can follow until it ships.
    pub packages: Option<Vec<PackageInput>>,
    /// The carrier's code: `ups`, `fedex`, `usps`, `dhl_express` or a custom carrier's
    /// (lowercase letters, digits and `_`, up to 50).
    pub carrier: Option<String>,
    /// The service level, e.g. `ground` (up to 100 characters).
    pub service: Option<String>,
    /// Who must sign for it (default `none`).
    pub signature: Option<SignatureRequirement>,
}

/// Why a shipment is cancelled.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
#[graphql(name = "CancelShipmentInput")]
pub struct CancelShipmentInput {
    /// Required, up to 500 characters.
    pub reason: String,
}

/// A delivery confirmation.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
#[graphql(name = "DeliverShipmentInput")]
pub struct DeliverShipmentInput {
    /// Who signed. A shipment that needs a signature and has none becomes an `exception`,
    /// not a delivery.
    pub signed_by: Option<String>,
}

/// The shipment service.
#[derive(Clone)]
pub struct ShipmentService {
    db: Db,
}

pub(super) fn invalid(from: impl std::fmt::Display, action: &str) -> Error {
    Error::InvalidState {
        from: from.to_string(),
        action: action.to_owned(),
    }
}

/// What the caller may read: everything, or (`shipments:read:own`) their own orders'.
fn read_access(ctx: &Ctx) -> Result<Access, Error> {
    ctx.authorize("shipments:read")
}

/// The order, when the caller may see it.
async fn visible_order(
    conn: &mut AsyncPgConnection,
    access: Access,
    order_id: Uuid,
) -> Result<Option<OrderRow>, Error> {
    let Some(order) = order_q::order_by_id(conn, order_id).await? else {
        return Ok(None);
    };
    Ok(order_service::visible(conn, access, &order)
        .await?
        .then_some(order))
}

/// The fulfilment orders with their lines (named from the order's items).
pub(crate) async fn load_fulfillment_orders(
    conn: &mut AsyncPgConnection,
    rows: Vec<FulfillmentOrderRow>,
) -> Result<Vec<FulfillmentOrder>, Error> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut order_ids: Vec<Uuid> = rows.iter().map(|r| r.order_id).collect();
    order_ids.sort();
    order_ids.dedup();
    let lines = q::lines_of(conn, &ids).await?;
    let items: HashMap<Uuid, OrderItemRow> = order_q::items_for(conn, &order_ids)
        .await?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| {
            let own = lines
                .iter()
                .filter(|l| l.fulfillment_order_id == row.id)
                .cloned()
                .collect();
            fulfillment_order(row, own, &items)
        })
        .collect())
}

pub(super) fn fulfillment_order(
    row: FulfillmentOrderRow,
    lines: Vec<FulfillmentLineRow>,
    items: &HashMap<Uuid, OrderItemRow>,
) -> FulfillmentOrder {
    FulfillmentOrder {
        id: row.id,
        order_id: row.order_id,
        location_id: row.location_id,
        status: row.status,
        hold_reason: row.hold_reason(),
        hold_note: row.hold_note.clone(),
        merged_into: row.merged_into,
        lines: lines
            .into_iter()
            .map(|l| {
                let item = items.get(&l.order_item_id);
                FulfillmentOrderLine {
                    id: l.id,
                    order_item_id: l.order_item_id,
                    variant_id: l.variant_id,
                    sku: item.map(|i| i.sku.clone()).unwrap_or_default(),
                    name: item.map(|i| i.name.clone()).unwrap_or_default(),
                    remaining_quantity: l.remaining(),
                    quantity: l.quantity,
                    assigned_quantity: l.assigned_quantity,
                    shipped_quantity: l.shipped_quantity,
                }
            })
            .collect(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Shipments with their lines and packages, in a constant number of queries.
async fn load_shipments(
    conn: &mut AsyncPgConnection,
    rows: Vec<ShipmentRow>,
) -> Result<Vec<Shipment>, Error> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut order_ids: Vec<Uuid> = rows.iter().map(|r| r.order_id).collect();
    order_ids.sort();
    order_ids.dedup();
    let lines = q::shipment_lines_of(conn, &ids).await?;
    let packages = q::packages_of(conn, &ids).await?;
    let line_ids: Vec<Uuid> = lines.iter().map(|l| l.fulfillment_order_line_id).collect();
    let planned: HashMap<Uuid, FulfillmentLineRow> = q::lines_by_ids(conn, &line_ids)
        .await?
        .into_iter()
        .map(|l| (l.id, l))
        .collect();
    let items: HashMap<Uuid, OrderItemRow> = order_q::items_for(conn, &order_ids)
        .await?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    let labels = carrier_q::labels_of(conn, &ids).await?;
    let carriers = if labels.is_empty() && rows.iter().all(|r| r.carrier.is_none()) {
        Vec::new()
    } else {
        carrier_q::list_carriers(conn).await?
    };
    let code_of = |carrier_id: Uuid| {
        carriers
            .iter()
            .find(|c| c.id == carrier_id)
            .map(|c| c.code.clone())
            .unwrap_or_default()
    };
    // A package shows the label in play, else its latest attempt.
    let label_of = |package_id: Uuid| {
        let mut mine = labels.iter().filter(|l| l.package_id == package_id);
        let live = mine
            .clone()
            .find(|l| LabelStatus::parse(&l.status).is_some_and(LabelStatus::is_live));
        live.or_else(|| mine.next_back()).map(|l| ShippingLabel {
            id: l.id,
            package_id: l.package_id,
            carrier: code_of(l.carrier_id),
            service: l.service.clone(),
            status: LabelStatus::parse(&l.status).unwrap_or(LabelStatus::Failed),
            tracking_number: l.tracking_number.clone(),
            price: l
                .price
                .zip(l.currency.as_deref())
                .map(|(amount, currency)| Money::from_stored(amount, currency)),
            error: l.error.clone(),
            created_at: l.created_at,
            purchased_at: l.purchased_at,
            voided_at: l.voided_at,
        })
    };
    Ok(rows
        .into_iter()
        .map(|row| Shipment {
            lines: lines
                .iter()
                .filter(|l| l.shipment_id == row.id)
                .map(|l| {
                    let item_id = planned
                        .get(&l.fulfillment_order_line_id)
                        .map(|p| p.order_item_id)
                        .unwrap_or_default();
                    let item = items.get(&item_id);
                    ShipmentLine {
                        id: l.id,
                        fulfillment_order_line_id: l.fulfillment_order_line_id,
                        order_item_id: item_id,
                        sku: item.map(|i| i.sku.clone()).unwrap_or_default(),
                        name: item.map(|i| i.name.clone()).unwrap_or_default(),
                        quantity: l.quantity,
                    }
                })
                .collect(),
            packages: packages
                .iter()
                .filter(|p| p.shipment_id == row.id)
                .map(|p| ShipmentPackage {
                    id: p.id,
                    position: p.position,
                    weight_grams: p.weight_grams,
                    length_mm: p.length_mm,
                    width_mm: p.width_mm,
                    height_mm: p.height_mm,
                    tracking_url: carrying::kind_of(&carriers, row.carrier.as_deref())
                        .zip(p.tracking_number.as_deref())
                        .map(|(kind, number)| tracking_url(kind, number)),
                    tracking_number: p.tracking_number.clone(),
                    label: label_of(p.id),
                })
                .collect(),
            id: row.id,
            number: row.number,
            order_id: row.order_id,
            fulfillment_order_id: row.fulfillment_order_id,
            location_id: row.location_id,
            status: row.status,
            carrier: row.carrier,
            service: row.service,
            signature: row.signature,
            ship_to: row
                .ship_to
                .and_then(|a| serde_json::from_value::<Address>(a).ok()),
            shipped_at: row.shipped_at,
            delivered_at: row.delivered_at,
            signed_by: row.signed_by,
            cancel_reason: row.cancel_reason,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
        .collect())
}

async fn load_shipment(conn: &mut AsyncPgConnection, row: ShipmentRow) -> Result<Shipment, Error> {
    let id = row.id;
    load_shipments(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("shipment", id))
}

/// Records `event_type` about the shipment as it now is (its data names the order, so the
/// order's `shipmentUpdated` feed sees it), plus `extra` fields.
pub(super) async fn shipment_event(
    conn: &mut AsyncPgConnection,
    event_type: EventType,
    row: ShipmentRow,
    extra: serde_json::Value,
) -> Result<Shipment, Error> {
    let shipment = load_shipment(conn, row).await?;
    let event = DomainEvent::about(event_type, "shipment", shipment.id, &shipment, extra)
        .map_err(anyhow::Error::new)?;
    events::record(conn, event).await?;
    Ok(shipment)
}

/// Records `event_type` about the fulfilment order as it now is, plus `extra` fields.
pub(crate) async fn fulfillment_event(
    conn: &mut AsyncPgConnection,
    event_type: EventType,
    fulfillment_order: &FulfillmentOrder,
    extra: serde_json::Value,
) -> Result<(), Error> {
    let event = DomainEvent::about(
        event_type,
        "fulfillment_order",
        fulfillment_order.id,
        fulfillment_order,
        extra,
    )
    .map_err(anyhow::Error::new)?;
    events::record(conn, event).await?;
    Ok(())
}

/// Sets a fulfilment order's status from its lines (unless held or ended): `closed` when
/// every unit has shipped, `in_progress` while shipments hold some, else `open`.
pub(super) async fn refresh_status(
    conn: &mut AsyncPgConnection,
    row: FulfillmentOrderRow,
    lines: &[FulfillmentLineRow],
) -> Result<FulfillmentOrderRow, Error> {
    if !row.status.is_workable() && row.status != FulfillmentOrderStatus::Closed {
        return Ok(row);
    }
    let status = if lines.iter().all(|l| l.shipped_quantity == l.quantity) {
        FulfillmentOrderStatus::Closed
    } else if lines.iter().any(|l| l.assigned_quantity > 0) {
        FulfillmentOrderStatus::InProgress
    } else {
        FulfillmentOrderStatus::Open
    };
    if status == row.status {
        return Ok(row);
    }
    let changes = FulfillmentOrderChanges {
        status: Some(status.as_str().to_owned()),
        updated_at: Some(Utc::now()),
        ..Default::default()
    };
    let from = row.status;
    let row = q::update_fulfillment_order(conn, row.id, &changes).await?;
    let plan = load_fulfillment_orders(conn, vec![row.clone()])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("fulfillment order", row.id))?;
    let change = serde_json::json!({ "from": from, "to": status });
    fulfillment_event(conn, EventType::FulfillmentOrderUpdated, &plan, change).await?;
    Ok(row)
}

/// The checked parts of a new shipment.
struct NewShipment {
    packages: Vec<PackageInput>,
    carrier: Option<String>,
    service: Option<String>,
    signature: SignatureRequirement,
}

fn check_packages(v: &mut Validator, field: &str, packages: &[PackageInput]) {
    if packages.len() > MAX_PACKAGES {
        v.add(field, format!("at most {MAX_PACKAGES} packages"));
    }
    for (i, p) in packages.iter().enumerate() {
        let at = |name: &str| format!("{field}[{i}].{name}");
        if !(1..=MAX_WEIGHT_GRAMS).contains(&p.weight_grams) {
            v.add(
                at("weight_grams"),
                format!("must be 1 to {MAX_WEIGHT_GRAMS}"),
            );
        }
        for (name, side) in [
            ("length_mm", p.length_mm),
            ("width_mm", p.width_mm),
            ("height_mm", p.height_mm),
        ] {
            if !(1..=MAX_SIDE_MM).contains(&side) {
                v.add(at(name), format!("must be 1 to {MAX_SIDE_MM}"));
            }
        }
        if let Some(number) = &p.tracking_number
            && (number.trim().is_empty()
                || number.len() > 64
                || !number
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b' '))
        {
            v.add(at("tracking_number"), "must be 1 to 64 letters and digits");
        }
    }
}

fn carrier_code(v: &mut Validator, field: &str, carrier: Option<&str>) -> Option<String> {
    let carrier = carrier?.trim();
    let valid = !carrier.is_empty()
        && carrier.len() <= 50
        && carrier
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        v.add(
            field,
            "must be a carrier code: lowercase letters, digits and `_`, up to 50",
        );
    }
    Some(carrier.to_owned())
}

fn package_rows(shipment_id: Uuid, first: i32, packages: &[PackageInput]) -> Vec<PackageRow> {
    packages
        .iter()
        .enumerate()
        .map(|(i, p)| PackageRow {
            id: Uuid::now_v7(),
            shipment_id,
            position: first + i as i32,
            weight_grams: p.weight_grams,
            length_mm: p.length_mm,
            width_mm: p.width_mm,
            height_mm: p.height_mm,
            tracking_number: p
                .tracking_number
                .as_ref()
                .map(|t| t.replace(' ', "").to_ascii_uppercase()),
            created_at: Utc::now(),
        })
        .collect()
}

/// Makes a pending shipment of `take` (lines of the locked, workable fulfilment order and
/// units of each) inside the caller's transaction, assigning the units. Writes
/// `shipment.created`.
async fn make_shipment(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    fulfillment_order: FulfillmentOrderRow,
    mut lines: Vec<FulfillmentLineRow>,
    take: &[(Uuid, i32)],
    new: NewShipment,
) -> Result<ShipmentRow, Error> {
    let now = Utc::now();
    let row = ShipmentRow {
        id: Uuid::now_v7(),
        number: q::next_shipment_number(conn).await?,
        order_id: order.id,
        fulfillment_order_id: fulfillment_order.id,
        location_id: fulfillment_order.location_id,
        status: ShipmentStatus::Pending,
        carrier: new.carrier,
        service: new.service,
        signature: new.signature,
        ship_to: order.shipping_address.clone(),
        shipped_at: None,
        delivered_at: None,
        signed_by: None,
        cancel_reason: None,
        created_at: now,
        updated_at: now,
    };
    let mut shipment_lines = Vec::new();
    for &(line_id, quantity) in take {
        let Some(line) = lines.iter_mut().find(|l| l.id == line_id) else {
            continue;
        };
        line.assigned_quantity += quantity;
        q::set_line(conn, line).await?;
        shipment_lines.push(ShipmentLineRow {
            id: Uuid::now_v7(),
            shipment_id: row.id,
            fulfillment_order_line_id: line_id,
            quantity,
        });
    }
    let packages = package_rows(row.id, 1, &new.packages);
    q::insert_shipment(conn, &row, &shipment_lines, &packages).await?;
    refresh_status(conn, fulfillment_order, &lines).await?;
    shipment_event(
        conn,
        EventType::ShipmentCreated,
        row.clone(),
        serde_json::json!({}),
    )
    .await?;
    Ok(row)
}

/// Ships a locked shipment inside the caller's transaction: its fulfilment order must be
/// workable; the reserved units of its lines leave stock (ledger rows, lot by lot), the lines
/// count them shipped. Writes `shipment.shipped`. The order is moved by the caller.
async fn send(
    conn: &mut AsyncPgConnection,
    ctx: &Ctx,
    row: ShipmentRow,
) -> Result<Shipment, Error> {
    if row.status.apply(ShipmentAction::Ship).is_none() {
        return Err(invalid(row.status, "ship"));
    }
    let fulfillment_order = q::lock_fulfillment_orders(conn, &[row.fulfillment_order_id])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("fulfillment order", row.fulfillment_order_id))?;
    if !fulfillment_order.status.is_workable() {
        return Err(invalid(fulfillment_order.status, "ship"));
    }
    // A label bought or voided with no answer yet must be settled first: the parcel would
    // leave with a label nobody knows the state of.
    if carrier_q::has_label_in_doubt(conn, row.id).await? {
        return Err(Error::Conflict {
            field: None,
            message: format!(
                "a label of {} is being bought or voided; buy labels again to settle it",
                row.number
            ),
        });
    }
    let mut lines = q::lock_lines_of(conn, &[fulfillment_order.id]).await?;
    // Units per variant, taken once per variant (rows taken whole stay active until settled).
    let mut units: Vec<(Uuid, i32)> = Vec::new();
    for shipped in q::shipment_lines_of(conn, &[row.id]).await? {
        let line = lines
            .iter_mut()
            .find(|l| l.id == shipped.fulfillment_order_line_id)
            .ok_or_else(|| {
                Error::Internal(anyhow::anyhow!(
                    "shipment {} names line {} its fulfilment order does not hold",
                    row.number,
                    shipped.fulfillment_order_line_id
                ))
            })?;
        if let Some(variant_id) = line.variant_id {
            match units.iter_mut().find(|(v, _)| *v == variant_id) {
                Some((_, total)) => *total += shipped.quantity,
                None => units.push((variant_id, shipped.quantity)),
            }
        }
        line.shipped_quantity += shipped.quantity;
        q::set_line(conn, line).await?;
    }
    let mut taken = Vec::new();
    for (variant_id, quantity) in units {
        taken.extend(
            inventory::take_order_units(
                conn,
                row.order_id,
                fulfillment_order.location_id,
                variant_id,
                quantity,
            )
            .await?,
        );
    }
    inventory::ship_reservations(conn, &ctx.principal.key(), &taken).await?;
    refresh_status(conn, fulfillment_order, &lines).await?;
    let now = Utc::now();
    let changes = ShipmentChanges {
        status: Some(ShipmentStatus::Shipped.as_str().to_owned()),
        shipped_at: Some(Some(now)),
        updated_at: Some(now),
        ..Default::default()
    };
    let row = q::update_shipment(conn, row.id, &changes).await?;
    shipment_event(conn, EventType::ShipmentShipped, row, serde_json::json!({})).await
}

/// Whether every unit of the order has left in shipments.
async fn all_shipped(conn: &mut AsyncPgConnection, order_id: Uuid) -> Result<bool, Error> {
    let plans: Vec<Uuid> = q::fulfillment_orders_of(conn, &[order_id])
        .await?
        .into_iter()
        .filter(|f| f.status != FulfillmentOrderStatus::Cancelled)
        .map(|f| f.id)
        .collect();
    let mut shipped: HashMap<Uuid, i32> = HashMap::new();
    for line in q::lines_of(conn, &plans).await? {
        *shipped.entry(line.order_item_id).or_default() += line.shipped_quantity;
    }
    Ok(order_q::items_for(conn, &[order_id])
        .await?
        .iter()
        .all(|i| shipped.get(&i.id).copied().unwrap_or(0) >= i.quantity))
}

/// Marks a shipment that has left delivered (signed by `signed_by`). Writes
/// `shipment.delivered`.
async fn mark_delivered(
    conn: &mut AsyncPgConnection,
    row: ShipmentRow,
    signed_by: Option<String>,
) -> Result<Shipment, Error> {
    let now = Utc::now();
    let changes = ShipmentChanges {
        status: Some(ShipmentStatus::Delivered.as_str().to_owned()),
        delivered_at: Some(Some(now)),
        signed_by: Some(signed_by),
        updated_at: Some(now),
        ..Default::default()
    };
    let row = q::update_shipment(conn, row.id, &changes).await?;
    shipment_event(
        conn,
        EventType::ShipmentDelivered,
        row,
        serde_json::json!({}),
    )
    .await
}

/// Sends everything of an order not yet shipped, for the order's own `ship` action: a
/// shipment of what no shipment holds, per fulfilment order, then every shipment not yet
/// left. False when the order has no fulfilment plan (placed before there was one, or with
/// no location to plan at): the caller ships its reservations directly.
pub(crate) async fn ship_everything_left(
    conn: &mut AsyncPgConnection,
    ctx: &Ctx,
    order_id: Uuid,
) -> Result<bool, Error> {
    let order = order_service::lock_order(conn, order_id).await?;
    let plans = q::lock_fulfillment_orders_of(conn, order_id).await?;
    if plans.is_empty() {
        return Ok(false);
    }
    for plan in plans {
        if matches!(
            plan.status,
            FulfillmentOrderStatus::Cancelled | FulfillmentOrderStatus::Closed
        ) {
            continue;
        }
        let lines = q::lock_lines_of(conn, &[plan.id]).await?;
        let take: Vec<(Uuid, i32)> = lines
            .iter()
            .filter(|l| l.remaining() > 0)
            .map(|l| (l.id, l.remaining()))
            .collect();
        if take.is_empty() {
            continue;
        }
        if !plan.status.is_workable() {
            return Err(invalid(plan.status, "ship"));
        }
        let new = NewShipment {
            packages: Vec::new(),
            carrier: None,
            service: None,
            signature: SignatureRequirement::None,
        };
        make_shipment(conn, &order, plan, lines, &take, new).await?;
    }
    for shipment in q::lock_shipments_of_order(conn, order_id).await? {
        if shipment.status.apply(ShipmentAction::Ship).is_some() {
            send(conn, ctx, shipment).await?;
        }
    }
    Ok(true)
}

/// Delivers every shipment of an order that has left and not arrived, for the order's own
/// `deliver` action (staff confirming the delivery by hand).
pub(crate) async fn deliver_everything_left(
    conn: &mut AsyncPgConnection,
    _ctx: &Ctx,
    order_id: Uuid,
) -> Result<(), Error> {
    let shipments = q::lock_shipments_of_order(conn, order_id).await?;
    if let Some(back) = shipments
        .iter()
        .find(|s| s.status == ShipmentStatus::ReturnedToSender)
    {
        return Err(Error::Conflict {
            field: None,
            message: format!("shipment {} was returned to the sender", back.number),
        });
    }
    for shipment in shipments {
        if shipment.status.apply(ShipmentAction::Deliver).is_some() {
            mark_delivered(conn, shipment, None).await?;
        }
    }
    Ok(())
}

impl ShipmentService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Makes a pending shipment from one fulfilment order: the lines and units given (never
    /// more than no shipment holds yet), or all of them. Writes `shipment.created`.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, fulfillment_order.id = %input.fulfillment_order_id))]
    pub async fn create_shipment(
        &self,
        ctx: &Ctx,
        input: CreateShipmentInput,
    ) -> Result<Shipment, Error> {
        ctx.authorize("shipments:create")?;
        let mut v = Validator::default();
        let requested = input.lines.clone();
        if let Some(lines) = &requested {
            if lines.is_empty() {
                v.add("lines", "must name at least one line, or be left out");
            }
            for (i, line) in lines.iter().enumerate() {
                if line.quantity < 1 {
                    v.add(format!("lines[{i}].quantity"), "must be at least 1");
                }
            }
        }
        let mut packages = input.packages.clone().unwrap_or_default();
        check_packages(&mut v, "packages", &packages);
        let carrier = carrier_code(&mut v, "carrier", input.carrier.as_deref());
        let service = optional_text(&mut v, "service", input.service.as_deref(), 100);
        if carrier.is_some() && packages.iter().any(|p| p.tracking_number.is_some()) {
            let mut conn = self.db.conn().await?;
            let carriers = carrier_q::list_carriers(&mut conn).await?;
            let kind = carrying::kind_of(&carriers, carrier.as_deref());
            carrying::check_tracking_numbers(&mut v, "packages", kind, &mut packages);
        }
        v.finish()?;
        let new = NewShipment {
            packages,
            carrier,
            service,
            signature: input.signature.unwrap_or_default(),
        };
        let fulfillment_order_id = input.fulfillment_order_id;
        self.db
            .tx(
                "create_shipment",
                async move |conn: &mut AsyncPgConnection| {
                    let plan = q::fulfillment_order_by_id(conn, fulfillment_order_id)
                        .await?
                        .ok_or_else(|| {
                            Error::not_found("fulfillment order", fulfillment_order_id)
                        })?;
                    // Locks in the one order every writer takes them: order, plan, shipment.
                    let order = order_service::lock_order(conn, plan.order_id).await?;
                    let plan = q::lock_fulfillment_orders(conn, &[plan.id])
                        .await?
                        .pop()
                        .ok_or_else(|| {
                            Error::not_found("fulfillment order", fulfillment_order_id)
                        })?;
                    if matches!(
                        order.status,
                        OrderStatus::OnHold | OrderStatus::Cancelled | OrderStatus::Archived
                    ) {
                        return Err(invalid(order.status, "create a shipment"));
                    }
                    if !plan.status.is_workable() {
                        return Err(invalid(plan.status, "create a shipment"));
                    }
                    let lines = q::lock_lines_of(conn, &[plan.id]).await?;
                    let take: Vec<(Uuid, i32)> = match &requested {
                        None => lines
                            .iter()
                            .filter(|l| l.remaining() > 0)
                            .map(|l| (l.id, l.remaining()))
                            .collect(),
                        Some(requested) => {
                            let mut v = Validator::default();
                            let mut asked: HashMap<Uuid, i32> = HashMap::new();
                            for (i, want) in requested.iter().enumerate() {
                                let Some(line) = lines
                                    .iter()
                                    .find(|l| l.id == want.fulfillment_order_line_id)
                                else {
                                    v.add(
                                        format!("lines[{i}].fulfillment_order_line_id"),
                                        "is not a line of this fulfillment order",
                                    );
                                    continue;
                                };
                                let total = asked.entry(line.id).or_default();
                                *total += want.quantity;
                                if *total > line.remaining() {
                                    v.add(
                                        format!("lines[{i}].quantity"),
                                        format!(
                                            "at most {} of this line remain to ship",
                                            line.remaining()
                                        ),
                                    );
                                }
                            }
                            v.finish()?;
                            requested
                                .iter()
                                .map(|w| (w.fulfillment_order_line_id, w.quantity))
                                .collect()
                        }
                    };
                    if take.is_empty() {
                        return Err(Error::invalid(
                            "lines",
                            "nothing of this fulfillment order remains to ship",
                        ));
                    }
                    let row = make_shipment(conn, &order, plan, lines, &take, new).await?;
                    load_shipment(conn, row).await
                },
            )
            .await
    }

    /// One shipment, if the caller may see it.
    pub async fn get_shipment(&self, ctx: &Ctx, id: Uuid) -> Result<Shipment, Error> {
        let access = read_access(ctx)?;
        let mut conn = self.db.conn().await?;
        let row = q::shipment_by_id(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found("shipment", id))?;
        if visible_order(&mut conn, access, row.order_id)
            .await?
            .is_none()
        {
            return Err(Error::not_found("shipment", id));
        }
        load_shipment(&mut conn, row).await
    }

    /// A page of shipments, newest first.
    pub async fn list_shipments(
        &self,
        ctx: &Ctx,
        filter: ShipmentFilter,
        page: PageRequest,
    ) -> Result<Page<Shipment>, Error> {
        const SORT: &str = "CreatedAtDesc";
        let access = read_access(ctx)?;
        let limit = page.limit()?;
        let after = page.keyset(SORT)?;
        let owner = match access {
            Access::All => None,
            Access::Own(user) => Some(user),
        };
        let mut conn = self.db.conn().await?;
        let rows = q::list_shipments(&mut conn, &filter, owner, after, limit + 1).await?;
        let total = page
            .total(q::count_shipments(&mut conn, &filter, owner))
            .await?;
        let shipments = load_shipments(&mut conn, rows).await?;
        let position = |s: &Shipment| Keyset::created(s.created_at, s.id);
        Ok(page.page(SORT, limit, shipments, total, position, |s| s))
    }

    /// The shipments of each order the caller may see, oldest first (the batch behind
    /// GraphQL's `Order.shipments`).
    pub async fn shipments_by_order(
        &self,
        ctx: &Ctx,
        order_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<Shipment>>, Error> {
        let access = read_access(ctx)?;
        let mut conn = self.db.conn().await?;
        let visible = self.visible_orders(&mut conn, access, order_ids).await?;
        let rows = q::shipments_of_orders(
            &mut conn,
            &visible,
            MAX_SHIPMENTS_PER_ORDER * visible.len() as i64,
        )
        .await?;
        let mut by_order: HashMap<Uuid, Vec<Shipment>> = HashMap::new();
        for shipment in load_shipments(&mut conn, rows).await? {
            by_order
                .entry(shipment.order_id)
                .or_default()
                .push(shipment);
        }
        Ok(by_order)
    }

    /// The fulfilment orders of each order the caller may see, oldest first (cancelled ones
    /// too, which say what was merged or replanned).
    pub async fn fulfillment_orders_by_order(
        &self,
        ctx: &Ctx,
        order_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<FulfillmentOrder>>, Error> {
        let access = read_access(ctx)?;
        let mut conn = self.db.conn().await?;
        let visible = self.visible_orders(&mut conn, access, order_ids).await?;
        let rows = q::fulfillment_orders_of(&mut conn, &visible).await?;
        let mut by_order: HashMap<Uuid, Vec<FulfillmentOrder>> = HashMap::new();
        for plan in load_fulfillment_orders(&mut conn, rows).await? {
            by_order.entry(plan.order_id).or_default().push(plan);
        }
        Ok(by_order)
    }

    /// The fulfilment orders of one order (`NOT_FOUND` when the caller may not see it).
    pub async fn fulfillment_orders_of_order(
        &self,
        ctx: &Ctx,
        order_id: Uuid,
    ) -> Result<Vec<FulfillmentOrder>, Error> {
        let mut by_order = self.fulfillment_orders_by_order(ctx, &[order_id]).await?;
        let mut conn = self.db.conn().await?;
        if visible_order(&mut conn, read_access(ctx)?, order_id)
            .await?
            .is_none()
        {
            return Err(Error::not_found("order", order_id));
        }
        Ok(by_order.remove(&order_id).unwrap_or_default())
    }

    /// One fulfilment order, if the caller may see it.
    pub async fn get_fulfillment_order(
        &self,
        ctx: &Ctx,
        id: Uuid,
    ) -> Result<FulfillmentOrder, Error> {
        let access = read_access(ctx)?;
        let mut conn = self.db.conn().await?;
        let row = q::fulfillment_order_by_id(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found("fulfillment order", id))?;
        if visible_order(&mut conn, access, row.order_id)
            .await?
            .is_none()
        {
            return Err(Error::not_found("fulfillment order", id));
        }
        load_fulfillment_orders(&mut conn, vec![row])
            .await?
            .pop()
            .ok_or_else(|| Error::not_found("fulfillment order", id))
    }

    async fn visible_orders(
        &self,
        conn: &mut AsyncPgConnection,
        access: Access,
        order_ids: &[Uuid],
    ) -> Result<Vec<Uuid>, Error> {
        let mut visible = Vec::new();
        for order in order_q::orders_by_ids(conn, order_ids).await? {
            if order_service::visible(conn, access, &order).await? {
                visible.push(order.id);
            }
        }
        Ok(visible)
    }

    /// Adds boxes to a shipment that has not shipped yet. Writes `shipment.updated`.
    pub async fn add_packages(
        &self,
        ctx: &Ctx,
        id: Uuid,
        mut packages: Vec<PackageInput>,
    ) -> Result<Shipment, Error> {
        ctx.authorize("shipments:update")?;
        let mut v = Validator::default();
        if packages.is_empty() {
            v.add("packages", "must hold at least one package");
        }
        check_packages(&mut v, "packages", &packages);
        if packages.iter().any(|p| p.tracking_number.is_some()) {
            let mut conn = self.db.conn().await?;
            let carrier = q::shipment_by_id(&mut conn, id)
                .await?
                .and_then(|s| s.carrier);
            let carriers = carrier_q::list_carriers(&mut conn).await?;
            let kind = carrying::kind_of(&carriers, carrier.as_deref());
            carrying::check_tracking_numbers(&mut v, "packages", kind, &mut packages);
        }
        v.finish()?;
        self.db
            .tx("add_packages", async move |conn: &mut AsyncPgConnection| {
                let row = q::lock_shipment(conn, id)
                    .await?
                    .ok_or_else(|| Error::not_found("shipment", id))?;
                if row.status.has_left() || row.status == ShipmentStatus::Cancelled {
                    return Err(invalid(row.status, "add packages"));
                }
                let existing = q::packages_of(conn, &[id]).await?;
                if existing.len() + packages.len() > MAX_PACKAGES {
                    return Err(Error::invalid(
                        "packages",
                        format!("a shipment holds at most {MAX_PACKAGES} packages"),
                    ));
                }
                let rows = package_rows(id, existing.len() as i32 + 1, &packages);
                q::insert_packages(conn, &rows).await?;
                let row = q::update_shipment(
                    conn,
                    id,
                    &ShipmentChanges {
                        updated_at: Some(Utc::now()),
                        ..Default::default()
                    },
                )
                .await?;
                shipment_event(
                    conn,
                    EventType::ShipmentUpdated,
                    row,
                    serde_json::json!({ "action": "add_packages" }),
                )
                .await
            })
            .await
    }

    /// Moves a shipment along its table: `pick`, `pack`, `ship`, `deliver` or `cancel`.
    ///
    /// Shipping commits its reserved stock and moves the order (a pending order is processed
    /// first); delivering the last shipment of a shipped order delivers the order; a delivery
    /// without a required signature is an `exception` instead. Cancelling (before it ships)
    /// gives its units back to the fulfilment order.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, shipment.id = %id, shipment.action = action.as_str()))]
    pub async fn transition_shipment(
        &self,
        ctx: &Ctx,
        id: Uuid,
        action: ShipmentAction,
        reason: Option<String>,
        signed_by: Option<String>,
    ) -> Result<Shipment, Error> {
        ctx.authorize(match action {
            ShipmentAction::Cancel => "shipments:cancel",
            _ => "shipments:update",
        })?;
        let mut v = Validator::default();
        let reason = optional_text(&mut v, "reason", reason.as_deref(), 500);
        if action == ShipmentAction::Cancel && reason.is_none() && v.is_empty() {
            v.add("reason", "is required to cancel");
        }
        let signed_by = optional_text(&mut v, "signed_by", signed_by.as_deref(), 200);
        v.finish()?;
        let ctx = ctx.clone();
        self.db
            .tx_retrying("transition_shipment", move |conn: &mut AsyncPgConnection| {
                let (ctx, reason, signed_by) = (ctx.clone(), reason.clone(), signed_by.clone());
                Box::pin(async move {
                let found = q::shipment_by_id(conn, id)
                    .await?
                    .ok_or_else(|| Error::not_found("shipment", id))?;
                let order = order_service::lock_order(conn, found.order_id).await?;
                let row = q::lock_shipment(conn, id)
                    .await?
                    .ok_or_else(|| Error::not_found("shipment", id))?;
                let Some(to) = row.status.apply(action) else {
                    return Err(invalid(row.status, action.as_str()));
                };
                let change = serde_json::json!({ "action": action, "from": row.status, "to": to });
                match action {
                    ShipmentAction::Pick | ShipmentAction::Pack => {
                        let changes = ShipmentChanges { status: Some(to.as_str().to_owned()), updated_at: Some(Utc::now()), ..Default::default() };
                        let row = q::update_shipment(conn, id, &changes).await?;
                        shipment_event(conn, EventType::ShipmentUpdated, row, change).await
                    }
                    ShipmentAction::Ship => ship_and_follow(conn, &ctx, order, row).await,
                    ShipmentAction::Deliver => {
                        if row.signature != SignatureRequirement::None && signed_by.is_none() {
                            let changes = ShipmentChanges { status: Some(ShipmentStatus::Exception.as_str().to_owned()), updated_at: Some(Utc::now()), ..Default::default() };
                            let row = q::update_shipment(conn, id, &changes).await?;
                            let extra = serde_json::json!({ "reason": "signature_missing", "signature": row.signature });
                            return shipment_event(conn, EventType::ShipmentException, row, extra).await;
                        }
                        let shipment = mark_delivered(conn, row, signed_by.clone()).await?;
                        deliver_order_if_done(conn, &ctx, order, &shipment).await?;
                        Ok(shipment)
                    }
                    ShipmentAction::Cancel => {
                        let row = cancel_shipment_row(conn, row, reason.clone()).await?;
                        shipment_event(conn, EventType::ShipmentCancelled, row, change).await
                    }
                }
                })
            })
            .await
    }
}

/// Ships a locked shipment of a locked order and moves the order after it (a pending order
/// is processed first; `partially_shipped` while lines remain, else `shipped`).
async fn ship_and_follow(
    conn: &mut AsyncPgConnection,
    ctx: &Ctx,
    order: OrderRow,
    row: ShipmentRow,
) -> Result<Shipment, Error> {
    // The order must be able to ship before any stock leaves.
    if order.status.after_shipment(false).is_none() {
        return Err(invalid(order.status, "ship"));
    }
    let shipment = send(conn, ctx, row).await?;
    let done = all_shipped(conn, order.id).await?;
    let steps = order.status.after_shipment(done).unwrap_or_default();
    let details = serde_json::json!({ "shipment": shipment.number, "shipment_id": shipment.id });
    order_service::advance(conn, ctx, order, &steps, details).await?;
    Ok(shipment)
}

/// Delivers a shipped (locked) order once `shipment` arrived and so did every other
/// shipment of it that was not cancelled.
async fn deliver_order_if_done(
    conn: &mut AsyncPgConnection,
    ctx: &Ctx,
    order: OrderRow,
    shipment: &Shipment,
) -> Result<(), Error> {
    let others = q::lock_shipments_of_order(conn, order.id).await?;
    let every_one_arrived = others.iter().all(|s| {
        matches!(
            s.status,
            ShipmentStatus::Delivered | ShipmentStatus::Cancelled
        )
    });
    if order.status == OrderStatus::Shipped && every_one_arrived {
        let details =
            serde_json::json!({ "shipment": shipment.number, "shipment_id": shipment.id });
        let steps = [(OrderAction::Deliver, OrderStatus::Delivered)];
        order_service::advance(conn, ctx, order, &steps, details).await?;
    }
    Ok(())
}

/// Cancels a locked shipment that has not left: its units go back to its fulfilment order.
pub(super) async fn cancel_shipment_row(
    conn: &mut AsyncPgConnection,
    row: ShipmentRow,
    reason: Option<String>,
) -> Result<ShipmentRow, Error> {
    // A bought label is money spent: it is voided (which asks the carrier) before the
    // shipment goes.
    if carrier_q::has_live_label(conn, row.id).await? {
        return Err(Error::Conflict {
            field: None,
            message: format!("void the labels of {} before cancelling it", row.number),
        });
    }
    let plan = q::lock_fulfillment_orders(conn, &[row.fulfillment_order_id])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("fulfillment order", row.fulfillment_order_id))?;
    let mut lines = q::lock_lines_of(conn, &[plan.id]).await?;
    for part in q::shipment_lines_of(conn, &[row.id]).await? {
        if let Some(line) = lines
            .iter_mut()
            .find(|l| l.id == part.fulfillment_order_line_id)
        {
            line.assigned_quantity -= part.quantity;
            q::set_line(conn, line).await?;
        }
    }
    refresh_status(conn, plan, &lines).await?;
    let changes = ShipmentChanges {
        status: Some(ShipmentStatus::Cancelled.as_str().to_owned()),
        cancel_reason: Some(reason),
        updated_at: Some(Utc::now()),
        ..Default::default()
    };
    Ok(q::update_shipment(conn, row.id, &changes).await?)
}
