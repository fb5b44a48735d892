//! The outbox relay: claims committed events in sequence order with `FOR UPDATE SKIP LOCKED`
//! (so several relays share the work and never handle one event twice), hands them to the
//! sinks that owe deliveries for them, and marks them dispatched. Woken by `LISTEN/NOTIFY`
//! through the event bus, with a slow poll as a safety net for missed notifications.
//!
//! The relay knows no sink by name: whoever builds it says which ones it feeds (our own
//! webhooks, the ACP platform's order webhooks).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
/// The connection of the relay's transaction, as handed to each [`DeliverySink`] (named here
/// so sinks outside this crate can implement the trait).
pub use diesel_async::AsyncPgConnection;
use futures::future::BoxFuture;
use tokio::sync::watch;

use crate::events::EventBus;
use crate::metrics::Metrics;
use crate::services::{Error, WebhookService};
use stateset_db::Db;
use stateset_domain::Event;

/// Most events claimed in one transaction.
const BATCH: i64 = 200;
/// How often the relay looks for work without being woken.
const POLL: Duration = Duration::from_secs(5);

/// Something that owes deliveries for events: inside the relay's transaction it records the
/// deliveries `events` call for (to be given up at `give_up_at`) and says how many, so an
/// event is marked dispatched exactly when what it is owed is recorded.
pub trait DeliverySink: Send + Sync {
    fn owe<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        events: &'a [Event],
        give_up_at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<usize, Error>>;
}

/// One relay; clones share nothing but handles.
#[derive(Clone)]
pub struct Relay {
    db: Db,
    bus: EventBus,
    metrics: Arc<Metrics>,
    /// Delivery workers are told when deliveries were owed.
    webhooks: WebhookService,
    retry_window: Duration,
    sinks: Vec<Arc<dyn DeliverySink>>,
}

impl Relay {
    pub fn new(
        db: Db,
        bus: EventBus,
        metrics: Arc<Metrics>,
        webhooks: WebhookService,
        retry_window: Duration,
        sinks: Vec<Arc<dyn DeliverySink>>,
    ) -> Self {
        Self {
            db,
            bus,
            metrics,
            webhooks,
            retry_window,
            sinks,
        }
    }

    /// Claims and dispatches one batch; returns the events dispatched (empty when idle).
    pub async fn dispatch_batch(&self) -> anyhow::Result<Vec<Event>> {
        let give_up_at = Utc::now()
            + chrono::Duration::from_std(self.retry_window).unwrap_or(chrono::Duration::MAX);
        let (events, deliveries) = self
            .db
            .tx("dispatch_batch", async |conn: &mut AsyncPgConnection| {
                let events = stateset_db::outbox::claim_undispatched(conn, BATCH).await?;
                let mut deliveries = 0;
                for sink in &self.sinks {
                    deliveries += sink.owe(conn, &events, give_up_at).await?;
                }
                let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.id).collect();
                stateset_db::outbox::mark_dispatched(conn, &ids).await?;
                Ok::<_, Error>((events, deliveries))
            })
            .await?;
        for event in &events {
            self.metrics.observe_event(&event.event_type);
        }
        if deliveries > 0 {
            self.webhooks.wake();
        }
        Ok(events)
    }

    /// Runs the relay until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut woken = self.bus.subscribe();
        loop {
            loop {
                match self.dispatch_batch().await {
                    Ok(events) if events.len() as i64 == BATCH => continue,
                    Ok(_) => break,
                    Err(err) => {
                        tracing::warn!(error = %format!("{err:#}"), "outbox relay failed; retrying soon");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = woken.recv() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }
}
