//! Tracking: carrier events, from the API or from a carrier's signed webhook, mapped onto the
//! canonical vocabulary (a code the carrier is not known to send is refused and logged, never
//! filed under "unknown"), stored once by event id, and moving the shipment by the latest
//! event in time, whatever order they arrive in. A carrier's scan of a parcel nobody marked
//! shipped ships it. Anyone holding a tracking number sees the
//! parcel's progress without addresses; staff see the whole shipment.

use super::*;
use crate::auth::signature;
use diesel_async::AsyncConnection as _;
use stateset_db::carriers::TrackingEventRow;
use stateset_domain::tracking::{CarrierKind, TrackingStatus, canonical_status};
use stateset_domain::{PublicTracking, PublicTrackingEvent, TrackingAnswer, TrackingEvent};

/// How old a signed webhook may be before it is refused as a replay.
const WEBHOOK_TOLERANCE_SECS: i64 = 300;
/// Events a shipment lists at most, newest first.
const MAX_EVENTS: i64 = 500;
/// Events one request may carry.
const MAX_EVENTS_PER_REQUEST: usize = 100;

/// One tracking event as a carrier reports it.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
#[graphql(name = "TrackingEventInput")]
pub struct TrackingEventInput {
    /// The carrier's id of the event (1 to 200 characters): sending it again changes nothing.
    pub event_id: String,
    /// The carrier's own status code (`D`, `OD`, `01`, ...); a custom carrier sends the
    /// canonical names (`in_transit`, `delivered`, ...).
    pub code: String,
    pub occurred_at: DateTime<Utc>,
    pub location: Option<String>,
    pub description: Option<String>,
    /// Who signed, on a delivery.
    pub signed_by: Option<String>,
}

/// One event of a carrier webhook: which parcel, and what happened.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CarrierWebhookEvent {
    pub tracking_number: String,
    #[serde(flatten)]
    pub event: TrackingEventInput,
}

/// The body a carrier posts to its webhook.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CarrierWebhookBody {
    pub events: Vec<CarrierWebhookEvent>,
}

/// What a carrier webhook did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CarrierWebhookReceipt {
    /// Events stored for the first time.
    pub accepted: usize,
    /// Events already stored (replays, retries): nothing changed for them.
    pub duplicates: usize,
    /// Events for tracking numbers of no shipment here.
    pub unknown: usize,
}

/// Where a shipment that has left stands after its latest event.
fn standing(status: TrackingStatus) -> ShipmentStatus {
    match status {
        TrackingStatus::LabelCreated | TrackingStatus::Accepted => ShipmentStatus::Shipped,
        // A failed attempt is retried by the carrier: the parcel is still on its way.
        TrackingStatus::InTransit | TrackingStatus::AttemptedDelivery => ShipmentStatus::InTransit,
        TrackingStatus::OutForDelivery => ShipmentStatus::OutForDelivery,
        TrackingStatus::Exception => ShipmentStatus::Exception,
        TrackingStatus::ReturnedToSender => ShipmentStatus::ReturnedToSender,
        TrackingStatus::Delivered => ShipmentStatus::Delivered,
    }
}

fn event_view(row: TrackingEventRow) -> TrackingEvent {
    TrackingEvent {
        id: row.id,
        event_id: row.event_id,
        status: TrackingStatus::parse(&row.status).unwrap_or(TrackingStatus::InTransit),
        carrier_code: row.carrier_code,
        occurred_at: row.occurred_at,
        location: row.location,
        description: row.description,
        signed_by: row.signed_by,
        received_at: row.received_at,
    }
}

/// Checks and maps events for a carrier of `kind` (`None`: custom), naming fields under
/// `field`; an unmapped code is logged with the code and refused.
fn checked(
    v: &mut Validator,
    field: &str,
    carrier: &str,
    kind: Option<CarrierKind>,
    events: &[TrackingEventInput],
) -> Vec<(TrackingStatus, TrackingEventInput)> {
    let mut mapped = Vec::new();
    let latest_allowed = Utc::now() + chrono::Duration::days(1);
    for (i, event) in events.iter().enumerate() {
        let at = |name: &str| format!("{field}[{i}].{name}");
        let event_id = event.event_id.trim();
        if event_id.is_empty() || event_id.len() > 200 {
            v.add(at("event_id"), "must be 1 to 200 characters");
        }
        if event.occurred_at > latest_allowed {
            v.add(at("occurred_at"), "is in the future");
        }
        optional_text(v, &at("location"), event.location.as_deref(), 200);
        optional_text(v, &at("description"), event.description.as_deref(), 500);
        optional_text(v, &at("signed_by"), event.signed_by.as_deref(), 200);
        match canonical_status(kind, &event.code) {
            Some(status) => mapped.push((status, event.clone())),
            None => {
                tracing::error!(carrier, code = %event.code, "a carrier sent an event code that maps to no tracking status");
                v.add(at("code"), format!("is not an event code of {carrier}"));
            }
        }
    }
    mapped
}

/// Stores mapped events for a shipment and moves it (and its order) by the latest one in
/// time, inside the caller's transaction. Returns `(new, duplicate)` counts.
async fn apply(
    conn: &mut AsyncPgConnection,
    ctx: &Ctx,
    shipment_id: Uuid,
    events: &[(TrackingStatus, TrackingEventInput)],
) -> Result<(usize, usize), Error> {
    let found = q::shipment_by_id(conn, shipment_id)
        .await?
        .ok_or_else(|| Error::not_found("shipment", shipment_id))?;
    let order = order_service::lock_order(conn, found.order_id).await?;
    let row = q::lock_shipment(conn, shipment_id)
        .await?
        .ok_or_else(|| Error::not_found("shipment", shipment_id))?;
    let (mut new, mut duplicates) = (0, 0);
    for (status, event) in events {
        let stored = TrackingEventRow {
            id: Uuid::now_v7(),
            shipment_id,
            event_id: event.event_id.trim().to_owned(),
            status: status.as_str().to_owned(),
            carrier_code: event.code.trim().to_owned(),
            occurred_at: event.occurred_at,
            location: event.location.clone(),
            description: event.description.clone(),
            signed_by: event.signed_by.clone(),
            received_at: Utc::now(),
        };
        if carrier_q::insert_tracking_event(conn, &stored).await? {
            new += 1;
        } else {
            duplicates += 1;
        }
    }
    // Arrived (or back with the sender) is where a parcel stays: later news of its journey is
    // kept, not followed.
    if new == 0
        || matches!(
            row.status,
            ShipmentStatus::Cancelled
                | ShipmentStatus::Delivered
                | ShipmentStatus::ReturnedToSender
        )
    {
        return Ok((new, duplicates));
    }
    let Some(latest) = carrier_q::latest_tracking_event(conn, shipment_id).await? else {
        return Ok((new, duplicates));
    };
    let latest_status = TrackingStatus::parse(&latest.status).unwrap_or(TrackingStatus::InTransit);
    let (order, row) = if row.status.has_left() {
        (order, row)
    } else if latest_status == TrackingStatus::LabelCreated {
        return Ok((new, duplicates));
    } else {
        // The carrier has the parcel though nobody marked it shipped: its scan ships it (the
        // stock leaves now). When the order or its plan cannot ship (held), the events are
        // kept and the warehouse decides.
        let plan = q::fulfillment_order_by_id(conn, row.fulfillment_order_id).await?;
        let can_ship = order.status.after_shipment(false).is_some()
            && plan.is_some_and(|p| p.status.is_workable());
        if !can_ship {
            tracing::warn!(shipment = %row.number, "a carrier scanned a parcel whose shipment cannot ship yet");
            return Ok((new, duplicates));
        }
        let order_id = order.id;
        // In a savepoint: a shipment that cannot ship (its stock is short) keeps its events,
        // and the carrier's webhook is not refused for ever.
        let shipped = conn
            .transaction(async |conn: &mut AsyncPgConnection| {
                ship_and_follow(conn, ctx, order, row).await
            })
            .await;
        if let Err(err) = shipped {
            tracing::warn!(shipment = %shipment_id, error = %err, "a carrier scanned a parcel whose shipment could not ship");
            return Ok((new, duplicates));
        }
        let order = order_service::lock_order(conn, order_id).await?;
        let row = q::lock_shipment(conn, shipment_id)
            .await?
            .ok_or_else(|| Error::not_found("shipment", shipment_id))?;
        (order, row)
    };
    let mut target = standing(latest_status);
    let unsigned = target == ShipmentStatus::Delivered
        && row.signature != SignatureRequirement::None
        && latest.signed_by.is_none();
    if unsigned {
        target = ShipmentStatus::Exception;
    }
    if target == row.status {
        return Ok((new, duplicates));
    }
    let delivered = target == ShipmentStatus::Delivered;
    let changes = ShipmentChanges {
        status: Some(target.as_str().to_owned()),
        delivered_at: delivered.then_some(Some(latest.occurred_at)),
        signed_by: delivered.then(|| latest.signed_by.clone()),
        updated_at: Some(Utc::now()),
        ..Default::default()
    };
    let row = q::update_shipment(conn, shipment_id, &changes).await?;
    let event_type = match target {
        ShipmentStatus::InTransit => EventType::ShipmentInTransit,
        ShipmentStatus::Exception => EventType::ShipmentException,
        ShipmentStatus::Delivered => EventType::ShipmentDelivered,
        _ => EventType::ShipmentUpdated,
    };
    let extra = serde_json::json!({
        "tracking_status": latest_status,
        "carrier_code": latest.carrier_code,
        "occurred_at": latest.occurred_at,
        "reason": unsigned.then_some("signature_missing"),
    });
    let shipment = shipment_event(conn, event_type, row, extra).await?;
    if delivered {
        deliver_order_if_done(conn, ctx, order, &shipment).await?;
    }
    Ok((new, duplicates))
}

impl ShipmentService {
    /// Records tracking events for a shipment (idempotent by event id, in any order).
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, shipment.id = %id))]
    pub async fn record_tracking_events(
        &self,
        ctx: &Ctx,
        id: Uuid,
        events: Vec<TrackingEventInput>,
    ) -> Result<Shipment, Error> {
        ctx.authorize("shipments:update")?;
        if events.is_empty() || events.len() > MAX_EVENTS_PER_REQUEST {
            return Err(Error::invalid(
                "events",
                format!("must hold 1 to {MAX_EVENTS_PER_REQUEST} events"),
            ));
        }
        let mut conn = self.db.conn().await?;
        let shipment = q::shipment_by_id(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found("shipment", id))?;
        let carriers = carrier_q::list_carriers(&mut conn).await?;
        drop(conn);
        let kind = carrying::kind_of(&carriers, shipment.carrier.as_deref());
        let name = shipment
            .carrier
            .clone()
            .unwrap_or_else(|| "this carrier".into());
        let mut v = Validator::default();
        let mapped = checked(&mut v, "events", &name, kind, &events);
        v.finish()?;
        let ctx = ctx.clone();
        self.db
            .tx_retrying(
                "record_tracking_events",
                move |conn: &mut AsyncPgConnection| {
                    let (ctx, mapped) = (ctx.clone(), mapped.clone());
                    Box::pin(async move {
                        apply(conn, &ctx, id, &mapped).await?;
                        let row = q::shipment_by_id(conn, id)
                            .await?
                            .ok_or_else(|| Error::not_found("shipment", id))?;
                        load_shipment(conn, row).await
                    })
                },
            )
            .await
    }

    /// A carrier's webhook: `signature` is its `X-Carrier-Signature` header (`t=..,v1=..`,
    /// HMAC-SHA256 of `t.body` with the carrier's webhook secret, at most five minutes old).
    /// Events are stored once by id; events of unknown tracking numbers are counted, not kept.
    #[tracing::instrument(skip_all, fields(carrier = %code))]
    pub async fn carrier_webhook(
        &self,
        code: &str,
        signature_header: Option<&str>,
        body: &[u8],
    ) -> Result<CarrierWebhookReceipt, Error> {
        let mut conn = self.db.conn().await?;
        let carrier = carrier_q::carrier_by_code(&mut conn, code)
            .await?
            .ok_or_else(|| Error::not_found("carrier", code))?;
        drop(conn);
        // A bad signature is bad input from the carrier, not a caller to sign in.
        let header =
            signature_header.ok_or_else(|| Error::invalid("X-Carrier-Signature", "is required"))?;
        signature::verify(
            &carrier.webhook_secret,
            header,
            body,
            Utc::now().timestamp(),
            WEBHOOK_TOLERANCE_SECS,
        )
        .map_err(|err| {
            tracing::warn!(carrier = %code, %err, "a carrier webhook failed its signature check");
            Error::invalid("X-Carrier-Signature", err.to_string())
        })?;
        let parsed: CarrierWebhookBody = serde_json::from_slice(body)
            .map_err(|err| Error::invalid("body", format!("is not a tracking webhook: {err}")))?;
        if parsed.events.len() > MAX_EVENTS_PER_REQUEST {
            return Err(Error::invalid(
                "events",
                format!("must hold at most {MAX_EVENTS_PER_REQUEST} events"),
            ));
        }
        let kind = carrier.kind.as_deref().and_then(CarrierKind::parse);
        let inputs: Vec<TrackingEventInput> =
            parsed.events.iter().map(|e| e.event.clone()).collect();
        let mut v = Validator::default();
        let mapped = checked(&mut v, "events", &carrier.name, kind, &inputs);
        v.finish()?;
        let mut receipt = CarrierWebhookReceipt {
            accepted: 0,
            duplicates: 0,
            unknown: 0,
        };
        // Grouped per shipment, each group in one transaction.
        let mut groups: Vec<(Uuid, Vec<(TrackingStatus, TrackingEventInput)>)> = Vec::new();
        let mut conn = self.db.conn().await?;
        for (event, mapped) in parsed.events.iter().zip(mapped) {
            let number = event.tracking_number.replace(' ', "").to_ascii_uppercase();
            // Only this carrier's parcels: one carrier's webhook never moves another's.
            match carrier_q::shipment_of_tracking_number(&mut conn, &number, Some(code)).await? {
                None => receipt.unknown += 1,
                Some(shipment) => match groups.iter_mut().find(|(s, _)| *s == shipment) {
                    Some((_, events)) => events.push(mapped),
                    None => groups.push((shipment, vec![mapped])),
                },
            }
        }
        drop(conn);
        let ctx = Ctx::system();
        for (shipment, events) in groups {
            let ctx = ctx.clone();
            let (new, duplicates) = self
                .db
                .tx_retrying("carrier_webhook", move |conn: &mut AsyncPgConnection| {
                    let (ctx, events) = (ctx.clone(), events.clone());
                    Box::pin(async move { apply(conn, &ctx, shipment, &events).await })
                })
                .await?;
            receipt.accepted += new;
            receipt.duplicates += duplicates;
        }
        Ok(receipt)
    }

    /// A parcel's progress by its tracking number: the public view for anyone, and the
    /// shipment with its events for a caller who may read it.
    pub async fn track(&self, ctx: &Ctx, tracking_number: &str) -> Result<TrackingAnswer, Error> {
        let number = tracking_number.replace(' ', "").to_ascii_uppercase();
        let mut conn = self.db.conn().await?;
        let id = carrier_q::shipment_of_tracking_number(&mut conn, &number, None)
            .await?
            .ok_or_else(|| Error::not_found("tracking number", &number))?;
        let row = q::shipment_by_id(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found("tracking number", &number))?;
        let events: Vec<TrackingEvent> = carrier_q::tracking_events_of(&mut conn, id, MAX_EVENTS)
            .await?
            .into_iter()
            .map(event_view)
            .collect();
        let readable = match ctx.access("shipments:read") {
            Some(access) => visible_order(&mut conn, access, row.order_id)
                .await?
                .is_some(),
            None => false,
        };
        let shipment = load_shipment(&mut conn, row).await?;
        let url = shipment
            .packages
            .iter()
            .find(|p| p.tracking_number.as_deref() == Some(number.as_str()))
            .and_then(|p| p.tracking_url.clone());
        let tracking = PublicTracking {
            tracking_number: number,
            carrier: shipment.carrier.clone(),
            tracking_url: url,
            status: shipment.status,
            shipped_at: shipment.shipped_at,
            delivered_at: shipment.delivered_at,
            events: events
                .iter()
                .map(|e| PublicTrackingEvent {
                    status: e.status,
                    occurred_at: e.occurred_at,
                    location: e.location.clone(),
                    description: e.description.clone(),
                })
                .collect(),
        };
        Ok(TrackingAnswer {
            tracking,
            shipment: readable.then_some(shipment),
            tracking_events: readable.then_some(events),
        })
    }

    /// A shipment's tracking events, newest first (at most 500).
    pub async fn tracking_events(&self, ctx: &Ctx, id: Uuid) -> Result<Vec<TrackingEvent>, Error> {
        self.get_shipment(ctx, id).await?;
        let mut conn = self.db.conn().await?;
        Ok(carrier_q::tracking_events_of(&mut conn, id, MAX_EVENTS)
            .await?
            .into_iter()
            .map(event_view)
            .collect())
    }
}

/// An order's shipments, oldest first, each with its tracking events, newest first (what
/// the agent platform's order webhooks report as fulfilments).
pub(crate) async fn shipments_with_events(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
) -> Result<Vec<(Shipment, Vec<TrackingEvent>)>, Error> {
    let rows = q::shipments_of_orders(conn, &[order_id], MAX_SHIPMENTS_PER_ORDER).await?;
    let mut out = Vec::new();
    for shipment in load_shipments(conn, rows).await? {
        let events = carrier_q::tracking_events_of(conn, shipment.id, MAX_EVENTS)
            .await?
            .into_iter()
            .map(event_view)
            .collect();
        out.push((shipment, events));
    }
    Ok(out)
}
