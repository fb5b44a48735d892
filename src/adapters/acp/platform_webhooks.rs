//! The relay's sink for the agent platform's order webhooks: inside the relay's transaction
//! it asks the service layer which events are owed to the platform
//! ([`platform_events::owed_events`]), renders each as ACP's `order_create`/`order_update`
//! with the full ACP `Order`, and has the service record the deliveries.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::json;

use super::wire::render;
use crate::config::AcpSettings;
use crate::domain::Event;
use crate::events::relay::{AsyncPgConnection, DeliverySink};
use crate::services::Error;
use crate::services::acp::{PlatformDelivery, platform_events};

/// Owes the agent platform (when `ACP_WEBHOOK_URL` is set) an `order_create` for each ACP
/// order placed and an `order_update` for each later change to one (status, shipments,
/// refunds), each carrying the full order.
pub struct PlatformOrderWebhooks(pub AcpSettings);

impl DeliverySink for PlatformOrderWebhooks {
    fn owe<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        events: &'a [Event],
        give_up_at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<usize, Error>> {
        Box::pin(async move {
            let owed = platform_events::owed_events(conn, &self.0, events).await?;
            let deliveries = owed
                .into_iter()
                .map(|owed| {
                    let kind = render::platform_event_type(owed.kind);
                    PlatformDelivery {
                        event_id: owed.event.id,
                        event_sequence: owed.event.sequence,
                        event_type: kind.to_owned(),
                        payload: json!({ "type": kind, "data": render::order(&owed.order) }),
                    }
                })
                .collect();
            platform_events::record_deliveries(conn, &self.0, deliveries, give_up_at).await
        })
    }
}
