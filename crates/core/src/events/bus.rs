//! The live event bus of one server instance.
//!
//! One dedicated connection per instance runs `LISTEN outbox`; the outbox trigger notifies when
//! a writing transaction commits. The listener then reads the new rows and broadcasts them to
//! every subscriber of this instance, so thousands of subscribers cost one database connection,
//! and events written through any instance reach all.
//!
//! Events go out strictly in sequence order, and only once settled: sequence numbers are drawn
//! before commit, so transactions can commit out of order (22 after 23). A missing number holds
//! the feed back until it commits, or until every transaction that could hold it has ended
//! (the snapshot's `xmin` passes the `xmax` seen when the gap appeared), which means it was
//! rolled back. The highest settled sequence is the *horizon*: a reader that resumes after any
//! number it has seen misses nothing.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::{FutureExt as _, StreamExt as _};
use tokio::sync::{broadcast, watch};

use stateset_db::outbox;
use stateset_domain::Event;

/// How many events a slow subscriber may fall behind before it is cut off.
const BUFFER: usize = 4096;
/// Most events read from the outbox at once.
const PAGE: i64 = 500;
/// How soon a gap in the sequence is looked at again when no notification comes.
const GAP_RECHECK: Duration = Duration::from_millis(100);
/// How often the outbox is read without a notification, as a safety net.
const IDLE_RECHECK: Duration = Duration::from_secs(5);

/// Something told of every committed event as the listener reads it, before subscribers:
/// a cache of this process forgetting what another instance changed. It runs on the
/// listener's task, so it must be quick and must not block.
pub type Observer = Arc<dyn Fn(&Event) + Send + Sync>;

/// Broadcasts committed events to live subscribers, in sequence order.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<Event>>,
    observers: Arc<std::sync::RwLock<Vec<Observer>>>,
    /// The highest settled sequence broadcast so far; -1 until the listener has started.
    horizon: watch::Sender<i64>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(BUFFER).0,
            observers: Arc::default(),
            horizon: watch::channel(-1).0,
        }
    }
}

impl EventBus {
    /// Tells `observer` of every event from now on; unlike a subscriber it never lags.
    pub fn observe(&self, observer: Observer) {
        self.observers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(observer);
    }

    /// A receiver of every event broadcast from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }

    /// The highest settled sequence: every event up to it has been broadcast (or was rolled
    /// back and never will be), and every later one will be. `None` before the listener runs.
    /// It moves before each broadcast, so a subscriber that takes its receiver first and then
    /// reads the horizon finds each event either at or below the horizon or in its receiver.
    pub fn horizon(&self) -> Option<i64> {
        let horizon = *self.horizon.borrow();
        (horizon >= 0).then_some(horizon)
    }

    /// Waits (at most `timeout`) until the horizon reaches `sequence`; returns the horizon.
    pub async fn settled(&self, sequence: i64, timeout: Duration) -> Option<i64> {
        let mut horizon = self.horizon.subscribe();
        let _ = tokio::time::timeout(timeout, horizon.wait_for(|h| *h >= sequence)).await;
        self.horizon()
    }

    /// Starts listening on `database_url`. Returns once `LISTEN` is active and the horizon is
    /// known, so events committed after this returns are delivered; reconnects by itself
    /// until `shutdown` turns true.
    pub async fn start_listener(
        &self,
        database_url: String,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let mut first = listen(&database_url).await?;
        let mut feed = Feed {
            emitted: start_position(&mut first).await?,
            gap_seen_at: None,
        };
        self.horizon.send_replace(feed.emitted);
        let bus = self.clone();
        Ok(tokio::spawn(async move {
            let mut conn = Some(first);
            loop {
                let result = match conn.take() {
                    Some(conn) => bus.follow(conn, &mut feed, &mut shutdown).await,
                    None => match listen(&database_url).await {
                        Ok(conn) => bus.follow(conn, &mut feed, &mut shutdown).await,
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

    /// Broadcasts settled events as they commit, until shutdown (`Ok`) or a connection
    /// failure (`Err`; `feed` keeps the position for the next connection).
    async fn follow(
        &self,
        mut conn: AsyncPgConnection,
        feed: &mut Feed,
        shutdown: &mut watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        loop {
            let gap_pending = self.advance(&mut conn, feed).await?;
            let wait = if gap_pending {
                GAP_RECHECK
            } else {
                IDLE_RECHECK
            };
            let mut notifications = std::pin::pin!(conn.notifications_stream());
            tokio::select! {
                next = notifications.next() => {
                    next.context("notification stream ended")??;
                    // One read covers every notification that has already arrived.
                    while let Some(Some(Ok(_))) = notifications.next().now_or_never() {}
                }
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    /// Broadcasts every settled event after the feed's position; returns whether a gap holds
    /// the feed back.
    async fn advance(&self, conn: &mut AsyncPgConnection, feed: &mut Feed) -> anyhow::Result<bool> {
        loop {
            let (bounds, events) = outbox::read_with_snapshot(conn, feed.emitted, PAGE).await?;
            let full = events.len() as i64 == PAGE;
            for event in events {
                if event.sequence != feed.emitted + 1 {
                    match feed.gap_seen_at {
                        // Every transaction that could hold a missing number has ended since
                        // the gap appeared, and it is still missing: it was rolled back.
                        Some(seen) if bounds.xmin >= seen => {}
                        Some(_) => return Ok(true),
                        None => {
                            feed.gap_seen_at = Some(bounds.xmax);
                            return Ok(true);
                        }
                    }
                }
                feed.emitted = event.sequence;
                feed.gap_seen_at = None;
                for observer in self
                    .observers
                    .read()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .iter()
                {
                    observer(&event);
                }
                self.horizon.send_replace(feed.emitted);
                // An error only means nobody is subscribed right now.
                let _ = self.sender.send(Arc::new(event));
            }
            if !full {
                return Ok(false);
            }
        }
    }
}

/// Where the live feed stands.
struct Feed {
    /// Every sequence up to this has been broadcast or will never exist.
    emitted: i64,
    /// The snapshot `xmax` when the gap after `emitted` was first seen.
    gap_seen_at: Option<i64>,
}

/// The newest sequence once every transaction that might still commit a lower one has ended
/// (waiting at most a few seconds for them).
async fn start_position(conn: &mut AsyncPgConnection) -> anyhow::Result<i64> {
    let (bounds, head) = outbox::head_with_snapshot(conn).await?;
    for _ in 0..100 {
        if outbox::current_snapshot(conn).await?.xmin >= bounds.xmax {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(head)
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
