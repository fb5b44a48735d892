//! The outbox relay: claims committed events in sequence order with `FOR UPDATE SKIP LOCKED`
//! (so several relays share the work and never handle one event twice), hands them to the
//! sinks that act on them (webhook deliveries), and marks them dispatched. Woken by `LISTEN/NOTIFY` through the
//! event bus, with a slow poll as a safety net for missed notifications.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use tokio::sync::watch;

use crate::app::App;
use crate::domain::Event;

/// Most events claimed in one transaction.
const BATCH: i64 = 200;
/// How often the relay looks for work without being woken.
const POLL: Duration = Duration::from_secs(5);

/// Claims and dispatches one batch; returns the events dispatched (empty when idle).
pub async fn dispatch_batch(app: &App) -> anyhow::Result<Vec<Event>> {
    let retry_window = app.config.webhooks.retry_window;
    let mut conn = app.db.conn().await?;
    let (events, deliveries) = (*conn)
        .transaction(async |conn: &mut AsyncPgConnection| {
            let events = crate::db::outbox::claim_undispatched(conn, BATCH).await?;
            // Webhook deliveries are owed in the same transaction, so an event is marked
            // dispatched exactly when its deliveries are recorded.
            let mut deliveries = super::webhooks::enqueue(conn, &events, retry_window).await?;
            let give_up_at = chrono::Utc::now()
                + chrono::Duration::from_std(retry_window).unwrap_or(chrono::Duration::MAX);
            deliveries += crate::services::acp::enqueue_platform_events(
                conn,
                &app.config.acp,
                &events,
                give_up_at,
            )
            .await?;
            let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.id).collect();
            crate::db::outbox::mark_dispatched(conn, &ids).await?;
            Ok::<_, crate::services::Error>((events, deliveries))
        })
        .await?;
    for event in &events {
        app.metrics.observe_event(&event.event_type);
    }
    if deliveries > 0 {
        app.services.webhooks.wake();
    }
    Ok(events)
}

/// Runs the relay until `shutdown` turns true.
pub async fn run(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let mut woken = app.bus.subscribe();
    loop {
        loop {
            match dispatch_batch(&app).await {
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
