//! The facts behind the agent platform's order webhooks: which committed events are owed to
//! the platform (an ACP order placed, or changed later by status, shipments or refunds), the
//! data of such an order, and recording the deliveries in the relay's transaction. What a
//! delivery says on the wire is the ACP adapter's to render.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde_json::Value;
use stateset_domain::{Event, EventType, Order, OrderItem, Shipment, TrackingEvent};
use uuid::Uuid;

use super::PLATFORM_WEBHOOK_ID;
use crate::config::AcpSettings;
use crate::services::Error;
use stateset_db::acp as q;

/// What an owed event tells the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformEventKind {
    /// An ACP order was placed.
    OrderCreated,
    /// An ACP order changed (status, shipments, refunds).
    OrderUpdated,
}

/// An order placed through an ACP session.
#[derive(Debug, Clone)]
pub struct AcpOrder {
    pub order: Order,
    /// The session (checkout) that placed it.
    pub checkout_session_id: Uuid,
    /// The order's status page (see `services::order_pages`).
    pub permalink_url: String,
    /// Its lines, in order.
    pub items: Vec<OrderItem>,
    /// Its shipments, oldest first, each with its tracking events (newest first): the
    /// order's `fulfillments[]`.
    pub shipments: Vec<(Shipment, Vec<TrackingEvent>)>,
}

/// An event owed to the platform, with the order as it stands.
#[derive(Debug, Clone)]
pub struct OwedEvent<'a> {
    pub event: &'a Event,
    pub kind: PlatformEventKind,
    pub order: AcpOrder,
}

/// One delivery to record: the event it is for, its type name and payload as the platform
/// receives them.
#[derive(Debug, Clone)]
pub struct PlatformDelivery {
    pub event_id: Uuid,
    pub event_sequence: i64,
    pub event_type: String,
    pub payload: Value,
}

/// Whether the platform's webhook is configured (`ACP_WEBHOOK_URL` and its secret).
fn platform_webhook(settings: &AcpSettings) -> Option<(&str, &str)> {
    match (&settings.webhook_url, &settings.webhook_secret) {
        (Some(url), Some(secret)) => Some((url, secret)),
        _ => None,
    }
}

/// The ACP order with id `order_id`, or `None` for an order not placed through an ACP
/// session (or no order at all).
pub async fn acp_order(
    conn: &mut AsyncPgConnection,
    settings: &AcpSettings,
    order_id: Uuid,
) -> Result<Option<AcpOrder>, Error> {
    let order = match crate::services::orders::order_by_id(conn, order_id).await {
        Ok(order) => order,
        Err(Error::NotFound { .. }) => return Ok(None),
        Err(err) => return Err(err),
    };
    let Some(checkout_id) = order.attributes["checkout_id"]
        .as_str()
        .and_then(|id| Uuid::parse_str(id).ok())
    else {
        return Ok(None);
    };
    if q::session(conn, checkout_id).await?.is_none() {
        return Ok(None);
    }
    let items = stateset_db::orders::items_for(conn, &[order.id])
        .await?
        .into_iter()
        .map(|item| item.into_domain(&order.currency))
        .collect();
    let permalink_url = crate::services::order_pages::status_url(conn, settings, order.id).await?;
    let shipments = crate::services::shipments::shipments_with_events(conn, order.id).await?;
    Ok(Some(AcpOrder {
        order,
        checkout_session_id: checkout_id,
        permalink_url,
        items,
        shipments,
    }))
}

/// Inside the relay's transaction: the events of `events` owed to the agent platform, each
/// with its ACP order: an `order.created` of an ACP order is a creation, any later event
/// about one (the order's own, `shipment.*`, `payment.refund*`) an update. None when the
/// platform's webhook is not configured.
pub async fn owed_events<'a>(
    conn: &mut AsyncPgConnection,
    settings: &AcpSettings,
    events: &'a [Event],
) -> Result<Vec<OwedEvent<'a>>, Error> {
    if platform_webhook(settings).is_none() {
        return Ok(Vec::new());
    }
    let mut owed = Vec::new();
    for event in events {
        let order_id = if event.entity_type == "order" {
            Some(event.entity_id)
        } else if event.event_type.starts_with("shipment.")
            || event.event_type.starts_with("payment.refund")
        {
            event.data["order_id"]
                .as_str()
                .and_then(|id| Uuid::parse_str(id).ok())
        } else {
            None
        };
        let Some(order_id) = order_id else { continue };
        let Some(order) = acp_order(conn, settings, order_id).await? else {
            continue;
        };
        let kind = if event.event_type == EventType::OrderCreated {
            PlatformEventKind::OrderCreated
        } else {
            PlatformEventKind::OrderUpdated
        };
        owed.push(OwedEvent { event, kind, order });
    }
    Ok(owed)
}

/// Inside the relay's transaction: records `deliveries` to the agent platform (due now, given
/// up at `give_up_at`) on its `webhooks` row, which is kept in step with the settings.
/// Returns how many were recorded; none when the platform's webhook is not configured.
pub async fn record_deliveries(
    conn: &mut AsyncPgConnection,
    settings: &AcpSettings,
    deliveries: Vec<PlatformDelivery>,
    give_up_at: DateTime<Utc>,
) -> Result<usize, Error> {
    let Some((url, secret)) = platform_webhook(settings) else {
        return Ok(0);
    };
    if deliveries.is_empty() {
        return Ok(0);
    }
    let rows: Vec<_> = deliveries
        .into_iter()
        .map(|d| stateset_db::webhooks::NewDelivery {
            id: Uuid::now_v7(),
            webhook_id: PLATFORM_WEBHOOK_ID,
            event_id: d.event_id,
            event_sequence: Some(d.event_sequence),
            event_type: d.event_type,
            payload: d.payload,
            status: "pending",
            next_attempt_at: Some(Utc::now()),
            give_up_at,
        })
        .collect();
    q::upsert_platform_webhook(conn, PLATFORM_WEBHOOK_ID, url, secret).await?;
    Ok(stateset_db::webhooks::insert_deliveries(conn, &rows).await?)
}
