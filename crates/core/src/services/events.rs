//! The event log and live event feeds, read from the outbox.

use std::sync::Arc;

use futures::{Stream, StreamExt as _};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::{Ctx, Error};
use crate::auth::Access;
use crate::events::EventBus;
use stateset_db::Db;
use stateset_db::outbox::EventFilter;
use stateset_domain::{Event, TypePatterns, type_matches};

/// Most events one `list` call returns.
pub const MAX_PAGE: i64 = 500;
/// Most events a subscription replays before going live; beyond that, catch up with `list`.
pub const MAX_REPLAY: usize = 10_000;
/// Longest wait for events already committed to settle before reading the log.
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// What a reader of the event log asks for.
#[derive(Debug, Clone)]
pub struct EventQuery {
    /// Only events after this sequence number (0 or absent: from the start).
    pub after: Option<i64>,
    /// Event types to include; `product.*` matches every product event; empty means all.
    pub types: Vec<String>,
    /// Only events about this entity.
    pub entity_id: Option<Uuid>,
    /// Most events to return (default and maximum 500).
    pub first: Option<i64>,
    /// How the calling door names `first` (`first`, `limit`), so errors name what was sent.
    pub first_field: &'static str,
}

impl Default for EventQuery {
    fn default() -> Self {
        Self {
            after: None,
            types: Vec::new(),
            entity_id: None,
            first: None,
            first_field: "first",
        }
    }
}

impl EventQuery {
    fn filter(&self) -> Result<EventFilter, Error> {
        let after = self.after.unwrap_or(0);
        if after < 0 {
            return Err(Error::invalid("after", "must not be negative"));
        }
        let types = parse_types("types", &self.types)?;
        Ok(EventFilter {
            after,
            entity_id: self.entity_id,
            types: types.exact,
            type_prefixes: types.prefixes,
            until: None,
        })
    }
}

/// Parses event type patterns sent as `field`; an error names the offending element
/// (`types[2]`).
pub fn parse_types(field: &str, patterns: &[String]) -> Result<TypePatterns, Error> {
    TypePatterns::parse(patterns)
        .map_err(|bad| Error::invalid(format!("{field}[{}]", bad.index), bad.reason))
}

/// The permission that lets a caller read events about an entity type.
fn read_permission(entity_type: &str) -> &'static str {
    match entity_type {
        "product" => "products:read",
        "category" => "categories:read",
        "order" => "orders:read",
        "invoice" => "invoices:read",
        "customer" => "customers:read",
        "inventory" => "inventory:read",
        "user" => "users:read",
        "role" => "roles:read",
        "api_key" => "api_keys:manage",
        "webhook" => "webhooks:read",
        _ => "events:read",
    }
}

/// Who is reading events: the call context, and for customers their own customer record.
#[derive(Clone)]
struct Viewer {
    ctx: Ctx,
    own_customer: Option<Uuid>,
}

impl Viewer {
    async fn of(db: &Db, ctx: &Ctx) -> Result<Self, Error> {
        let own_customer = match ctx.principal.user_id() {
            Some(user) if ctx.access("orders:read") != Some(Access::All) => {
                let mut conn = db.conn().await?;
                stateset_db::customers::customer_by_user(&mut conn, user)
                    .await?
                    .map(|c| c.id)
            }
            _ => None,
        };
        Ok(Self {
            ctx: ctx.clone(),
            own_customer,
        })
    }

    /// Whether this viewer may see `event`: with `events:read`, with full read access to the
    /// kind of entity, or (customers) when it is about their own orders, invoices or record.
    fn sees(&self, event: &Event) -> bool {
        let full = |permission: &str| self.ctx.access(permission) == Some(Access::All);
        if full("events:read") || full(read_permission(&event.entity_type)) {
            return true;
        }
        let Some(own) = self.own_customer else {
            return false;
        };
        let owned = match event.entity_type.as_str() {
            "order" | "invoice" => {
                event.data.get("customer_id").and_then(|c| c.as_str())
                    == Some(own.to_string().as_str())
            }
            "customer" => event.entity_id == own,
            _ => false,
        };
        owned
            && self
                .ctx
                .access(read_permission(&event.entity_type))
                .is_some()
    }
}

fn matches(filter: &EventFilter, event: &Event) -> bool {
    event.sequence > filter.after
        && type_matches(&filter.types, &filter.type_prefixes, &event.event_type)
        && filter.entity_id.is_none_or(|id| id == event.entity_id)
}

/// A page of the event log.
#[derive(Debug, Clone)]
pub struct EventPage {
    /// The events the caller may see, oldest first.
    pub events: Vec<Event>,
    /// Send as `after` for the next page: the last sequence read (events the caller may not
    /// see included), or the request's `after` when nothing was read.
    pub next_after: i64,
}

/// Reads the event log and follows it live.
#[derive(Clone)]
pub struct EventService {
    db: Db,
    bus: EventBus,
    metrics: Arc<crate::metrics::Metrics>,
}

impl EventService {
    pub fn new(db: Db, bus: EventBus, metrics: Arc<crate::metrics::Metrics>) -> Self {
        Self { db, bus, metrics }
    }

    /// Events after `query.after`, oldest first, with where the next page starts.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn list(&self, ctx: &Ctx, query: EventQuery) -> Result<EventPage, Error> {
        let limit = query.first.unwrap_or(MAX_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(Error::invalid(
                query.first_field,
                format!("must be between 1 and {MAX_PAGE}"),
            ));
        }
        let mut filter = query.filter()?;
        let viewer = Viewer::of(&self.db, ctx).await?;
        let mut conn = self.db.conn().await?;
        filter.until = self.settled_horizon(&mut conn).await?;
        let read = stateset_db::outbox::list(&mut conn, &filter, limit).await?;
        // The next page starts after the last event read, seen or not: a page of events the
        // caller may not see must still move the cursor on.
        let next_after = read.last().map_or(filter.after, |last| last.sequence);
        Ok(EventPage {
            events: read
                .into_iter()
                .filter(|event| viewer.sees(event))
                .collect(),
            next_after,
        })
    }

    /// The log is read only up to the live feed's horizon, so a reader paging with `after`
    /// never skips an event that commits later with a lower number. Events committed before
    /// the call are waited for (briefly) to settle. `None` (no cap) where no listener runs.
    async fn settled_horizon(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
    ) -> Result<Option<i64>, Error> {
        if self.bus.horizon().is_none() {
            return Ok(None);
        }
        let head = stateset_db::outbox::head(conn).await?;
        Ok(self.bus.settled(head, SETTLE_WAIT).await)
    }

    /// The newest settled sequence number: subscribe with `after` set to it to follow only
    /// what comes next.
    pub async fn head(&self) -> Result<i64, Error> {
        let mut conn = self.db.conn().await?;
        match self.settled_horizon(&mut conn).await? {
            Some(horizon) => Ok(horizon),
            None => Ok(stateset_db::outbox::head(&mut conn).await?),
        }
    }

    /// A feed of matching events: first those after `query.after` from the log (when given),
    /// then live ones as they commit, with no gap and no duplicate at the seam.
    pub async fn subscribe(
        &self,
        ctx: &Ctx,
        query: EventQuery,
    ) -> Result<impl Stream<Item = Result<Event, Error>> + Send + use<>, Error> {
        let filter = query.filter()?;
        let viewer = Viewer::of(&self.db, ctx).await?;
        // Take the receiver before reading the horizon: every event is then at or below the
        // horizon (replayed from the log) or above it (in the receiver), never neither.
        let receiver = self.bus.subscribe();
        let horizon = self.bus.horizon().ok_or_else(|| {
            Error::Unavailable(anyhow::anyhow!("the live event feed is not running"))
        })?;
        let mut replay = Vec::new();
        if query.after.is_some() {
            let mut page_filter = EventFilter {
                until: Some(horizon),
                ..filter.clone()
            };
            loop {
                let mut conn = self.db.conn().await?;
                let page = stateset_db::outbox::list(&mut conn, &page_filter, MAX_PAGE).await?;
                let done = page.len() < MAX_PAGE as usize;
                page_filter.after = page.last().map_or(page_filter.after, |e| e.sequence);
                replay.extend(page.into_iter().filter(|event| viewer.sees(event)));
                if replay.len() > MAX_REPLAY {
                    return Err(Error::invalid(
                        "after",
                        format!(
                            "more than {MAX_REPLAY} events to replay; catch up with the events query first"
                        ),
                    ));
                }
                if done {
                    break;
                }
            }
        }
        // Live events come in sequence order; those up to the horizon were replayed (or, without
        // `after`, happened before the subscription).
        let live_filter = EventFilter {
            after: filter.after.max(horizon),
            ..filter
        };
        let state = Some((receiver, live_filter, viewer));
        let live = futures::stream::unfold(state, |state| async move {
            let (mut receiver, filter, viewer) = state?;
            loop {
                match receiver.recv().await {
                    Ok(event) if matches(&filter, &event) && viewer.sees(&event) => {
                        let event = Arc::unwrap_or_clone(event);
                        return Some((Ok(event), Some((receiver, filter, viewer))));
                    }
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        return Some((Err(Error::Lagged { missed }), None));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        let counted = self.metrics.subscription_started();
        Ok(futures::stream::iter(replay.into_iter().map(Ok))
            .chain(live)
            .map(move |item| {
                // Keeps the subscription counted while the feed is alive.
                let _ = &counted;
                item
            }))
    }
}
