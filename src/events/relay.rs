//! The outbox relay: claims committed events in sequence order with `FOR UPDATE SKIP LOCKED`
//! (so several relays share the work and never handle one event twice), hands them to the
//! sinks that act on them, and marks them dispatched. Woken by `LISTEN/NOTIFY` through the
//! event bus, with a slow poll as a safety net for missed notifications.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use tokio::sync::watch;

use crate::db::Db;
use crate::domain::Event;
use crate::events::EventBus;
use crate::metrics::Metrics;

/// Most events claimed in one transaction.
const BATCH: i64 = 200;
/// How often the relay looks for work without being woken.
const POLL: Duration = Duration::from_secs(5);

/// Claims and dispatches one batch; returns the events dispatched (empty when idle).
pub async fn dispatch_batch(db: &Db, metrics: &Metrics) -> anyhow::Result<Vec<Event>> {
    let mut conn = db.conn().await?;
    let events = (*conn)
        .transaction(async |conn: &mut AsyncPgConnection| {
            let events = crate::db::outbox::claim_undispatched(conn, BATCH).await?;
            // Sinks (webhook deliveries) are enqueued here, in the same transaction, so an
            // event is marked dispatched exactly when its work is recorded.
            let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.id).collect();
            crate::db::outbox::mark_dispatched(conn, &ids).await?;
            Ok::<_, diesel::result::Error>(events)
        })
        .await?;
    for event in &events {
        metrics.observe_event(&event.event_type);
    }
    Ok(events)
}

/// Runs the relay until `shutdown` turns true.
pub async fn run(
    db: Db,
    bus: EventBus,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut woken = bus.subscribe();
    loop {
        loop {
            match dispatch_batch(&db, &metrics).await {
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
