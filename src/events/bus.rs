//! The live event bus of one server instance.
//!
//! One dedicated connection per instance runs `LISTEN outbox`; the outbox trigger notifies with
//! the sequence number when the writing transaction commits, in commit order. The listener reads
//! those rows and broadcasts them to every subscriber of this instance, so thousands of
//! subscribers cost one database connection, and events written through any instance reach all.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::{FutureExt as _, StreamExt as _};
use tokio::sync::{broadcast, watch};

use crate::domain::Event;

/// How many events a slow subscriber may fall behind before it is cut off.
const BUFFER: usize = 4096;

/// Broadcasts committed events to live subscribers.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(BUFFER).0,
        }
    }
}

impl EventBus {
    /// A receiver of every event committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }

    /// Starts listening on `database_url`. Returns once `LISTEN` is active, so events committed
    /// after this returns are delivered; reconnects by itself until `shutdown` turns true.
    pub async fn start_listener(
        &self,
        database_url: String,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let first = listen(&database_url).await?;
        let sender = self.sender.clone();
        Ok(tokio::spawn(async move {
            let mut conn = Some(first);
            loop {
                let result = match conn.take() {
                    Some(conn) => relay(conn, &sender, &mut shutdown).await,
                    None => match listen(&database_url).await {
                        Ok(conn) => relay(conn, &sender, &mut shutdown).await,
                        Err(err) => Err(err),
                    },
                };
                match result {
                    Ok(()) => return,
                    Err(err) => {
                        tracing::warn!(error = %format!("{err:#}"), "event listener lost its connection; reconnecting");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                            _ = shutdown.changed() => return,
                        }
                    }
                }
            }
        }))
    }
}

async fn listen(database_url: &str) -> anyhow::Result<AsyncPgConnection> {
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .context("event listener cannot connect")?;
    diesel::sql_query("LISTEN outbox")
        .execute(&mut conn)
        .await
        .context("LISTEN outbox failed")?;
    Ok(conn)
}

/// Forwards notified events until shutdown (`Ok`) or a connection failure (`Err`).
async fn relay(
    mut conn: AsyncPgConnection,
    sender: &broadcast::Sender<Arc<Event>>,
    shutdown: &mut watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        let mut sequences = Vec::new();
        {
            let mut notifications = std::pin::pin!(conn.notifications_stream());
            let first = tokio::select! {
                next = notifications.next() => next,
                _ = shutdown.changed() => return Ok(()),
            };
            let first = first.context("notification stream ended")??;
            sequences.extend(first.payload.parse::<i64>().ok());
            // Take whatever else has already arrived, to read the rows in one query.
            while let Some(Some(Ok(more))) = notifications.next().now_or_never() {
                sequences.extend(more.payload.parse::<i64>().ok());
            }
        }
        for event in crate::db::outbox::by_sequences(&mut conn, &sequences).await? {
            // An error only means nobody is subscribed right now.
            let _ = sender.send(Arc::new(event));
        }
    }
}
