//! Webhooks: subscriptions to events, delivered signed and at least once.
//!
//! The relay owes each active webhook the events it subscribed to (inside the relay's
//! transaction, `events::webhooks::enqueue`). Workers here claim due deliveries, send them and
//! record every attempt. A failed attempt is retried with exponential backoff and jitter until
//! the retry window (about a day) ends; the delivery is then `failed` and can be re-sent by
//! hand. A webhook whose attempts keep failing for long enough is disabled, with a
//! `webhook.disabled` event.

use stateset_domain::EventType;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use rand::Rng as _;
use serde::Deserialize;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;
use utoipa::ToSchema;
use uuid::Uuid;

use super::checks::optional_text;
use super::error::Validator;
use super::{Ctx, Error};
use crate::config::WebhookSettings;
use crate::events::webhooks::{AttemptOutcome, Outgoing, WebhookSender, check_url};
use crate::events::{self, DomainEvent};
use crate::metrics::Metrics;
use stateset_db::Db;
use stateset_db::webhooks::{self as q, ClaimedDelivery, DeliveryChanges, WebhookChanges};
use stateset_domain::TypePatterns;
use stateset_domain::{CreatedWebhook, DeliveryStatus, Webhook, WebhookDelivery};

/// Most event type patterns on one webhook.
const MAX_EVENT_TYPES: usize = 50;
/// Most deliveries in flight to one webhook from one instance.
const PER_WEBHOOK_IN_FLIGHT: usize = 4;
/// Most deliveries one `deliveries` call returns.
pub const MAX_DELIVERY_PAGE: i64 = 100;
/// Most webhooks a shop may have (the ACP platform's own included), so that `list`, which
/// returns them all, stays bounded. A receiver takes event type wildcards, so few are needed.
pub const MAX_WEBHOOKS: i64 = 100;
/// How often a worker looks for due deliveries without being woken.
const POLL: Duration = Duration::from_secs(1);
/// The event type of a ping.
pub const PING_EVENT: &str = EventType::WebhookPing.as_str();

/// A new webhook.
#[derive(Debug, Clone, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct CreateWebhookInput {
    /// An `http` or `https` URL that accepts POSTed JSON.
    pub url: String,
    /// Event types to deliver: exact (`order.created`) or wildcards (`order.*`, `*`).
    pub event_types: Vec<String>,
    pub description: Option<String>,
    /// Default true.
    pub active: Option<bool>,
}

/// Changes to a webhook; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, async_graphql::InputObject)]
pub struct UpdateWebhookInput {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// An empty string clears the description.
    pub description: Option<String>,
    /// Reactivating a disabled webhook clears its failure record; its pending deliveries
    /// are sent again.
    pub active: Option<bool>,
}

/// Which deliveries of a webhook to list.
#[derive(Debug, Clone)]
pub struct DeliveryQuery {
    pub status: Option<DeliveryStatus>,
    /// Most deliveries to return, 1 to 100 (default 20).
    pub first: Option<i64>,
    /// How the calling door names `first` (`first`, `limit`), so errors name what was sent.
    pub first_field: &'static str,
    /// Only deliveries older than this one (the last id of the previous page).
    pub after: Option<Uuid>,
}

impl Default for DeliveryQuery {
    fn default() -> Self {
        Self {
            status: None,
            first: None,
            first_field: "first",
            after: None,
        }
    }
}

/// A page of a webhook's deliveries.
#[derive(Debug, Clone)]
pub struct DeliveryPage {
    /// Newest first.
    pub items: Vec<WebhookDelivery>,
    /// Whether older deliveries match the query too: ask again with `after` set to the last
    /// id of `items`.
    pub more: bool,
}

/// Manages webhooks and delivers to them.
#[derive(Clone)]
pub struct WebhookService {
    db: Db,
    sender: Arc<WebhookSender>,
    settings: WebhookSettings,
    metrics: Arc<Metrics>,
    /// Wakes this instance's worker when deliveries were just made due.
    wake: Arc<Notify>,
}

fn new_secret() -> String {
    format!("whsec_{}", crate::auth::random_token(40))
}

fn webhook_event(event_type: EventType, webhook: &Webhook) -> Result<DomainEvent, Error> {
    Ok(DomainEvent {
        event_type,
        entity_type: "webhook",
        entity_id: webhook.id,
        data: serde_json::to_value(webhook).map_err(anyhow::Error::new)?,
    })
}

/// The delay before retry number `attempt` (1 for the first retry): doubling from the initial
/// delay up to the maximum, spread by ±25% so receivers coming back are not hit all at once.
pub fn backoff(settings: &WebhookSettings, attempt: i32) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    let delay = settings
        .retry_initial
        .saturating_mul(1u32 << doublings)
        .min(settings.retry_max);
    delay.mul_f64(rand::rng().random_range(0.75..1.25))
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

impl WebhookService {
    pub fn new(db: Db, settings: WebhookSettings, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        Ok(Self {
            db,
            sender: Arc::new(WebhookSender::new(&settings)?),
            settings,
            metrics,
            wake: Arc::new(Notify::new()),
        })
    }

    /// Tells this instance's worker that deliveries may be due.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Checks and normalises the fields a create or update sets.
    fn check_fields(
        &self,
        v: &mut Validator,
        url: Option<&str>,
        event_types: Option<&[String]>,
    ) -> Option<Vec<String>> {
        if let Some(url) = url {
            if url.len() > 2048 {
                v.add("url", "must be at most 2048 characters");
            } else {
                v.check("url", check_url(url, self.settings.allow_private_networks));
            }
        }
        let event_types = event_types?;
        if event_types.is_empty() {
            v.add(
                "event_types",
                "must list at least one event type (`*` for every event)",
            );
        } else if event_types.len() > MAX_EVENT_TYPES {
            v.add(
                "event_types",
                format!("must list at most {MAX_EVENT_TYPES} patterns"),
            );
        }
        if let Err(bad) = TypePatterns::parse(event_types) {
            v.add(format!("event_types[{}]", bad.index), bad.reason);
        }
        let mut normalised: Vec<String> = event_types.iter().map(|t| t.trim().to_owned()).collect();
        normalised.dedup();
        Some(normalised)
    }

    /// Every webhook, oldest first: at most [`MAX_WEBHOOKS`] (and the ACP platform's), as
    /// `create` refuses more.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn list(&self, ctx: &Ctx) -> Result<Vec<Webhook>, Error> {
        ctx.authorize("webhooks:read")?;
        let mut conn = self.db.conn().await?;
        let rows = q::list_webhooks(&mut conn).await?;
        Ok(rows.into_iter().map(Webhook::from).collect())
    }

    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, webhook.id = %id))]
    pub async fn get(&self, ctx: &Ctx, id: Uuid) -> Result<Webhook, Error> {
        ctx.authorize("webhooks:read")?;
        let mut conn = self.db.conn().await?;
        q::webhook(&mut conn, id)
            .await?
            .map(Webhook::from)
            .ok_or_else(|| Error::not_found("webhook", id))
    }

    /// Creates a webhook with a new signing secret, returned this once. `INVALID_STATE` when
    /// [`MAX_WEBHOOKS`] exist already.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id))]
    pub async fn create(
        &self,
        ctx: &Ctx,
        input: CreateWebhookInput,
    ) -> Result<CreatedWebhook, Error> {
        ctx.authorize("webhooks:manage")?;
        let mut v = Validator::default();
        let event_types = self
            .check_fields(&mut v, Some(&input.url), Some(&input.event_types))
            .unwrap_or_default();
        let description = optional_text(&mut v, "description", input.description.as_deref(), 500);
        v.finish()?;
        let now = Utc::now();
        let row = q::WebhookRow {
            id: Uuid::now_v7(),
            url: input.url.trim().to_owned(),
            description,
            event_types,
            secret: new_secret(),
            active: input.active.unwrap_or(true),
            disabled_reason: None,
            consecutive_failures: 0,
            failing_since: None,
            created_by: ctx.principal.user_id(),
            created_at: now,
            updated_at: now,
        };
        let secret = row.secret.clone();
        let webhook = self
            .db
            .tx("create", async move |conn: &mut AsyncPgConnection| {
                // Creations take turns, so two at once cannot both see room for one more.
                q::lock_webhook_creation(conn).await?;
                let count = q::count_webhooks(conn).await?;
                if count >= MAX_WEBHOOKS {
                    return Err(Error::InvalidState {
                        from: format!("{count} webhooks exist (the most allowed)"),
                        action: "create a webhook".into(),
                    });
                }
                q::insert_webhook(conn, &row).await?;
                let webhook = Webhook::from(row);
                events::record(conn, webhook_event(EventType::WebhookCreated, &webhook)?).await?;
                Ok::<_, Error>(webhook)
            })
            .await?;
        Ok(CreatedWebhook { webhook, secret })
    }

    /// Changes a webhook's URL, event types, description or active flag.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, webhook.id = %id))]
    pub async fn update(
        &self,
        ctx: &Ctx,
        id: Uuid,
        input: UpdateWebhookInput,
    ) -> Result<Webhook, Error> {
        ctx.authorize("webhooks:manage")?;
        let mut v = Validator::default();
        let event_types =
            self.check_fields(&mut v, input.url.as_deref(), input.event_types.as_deref());
        let description = input
            .description
            .as_deref()
            .map(|d| optional_text(&mut v, "description", Some(d), 500));
        v.finish()?;
        let webhook = self
            .db
            .tx("update", async move |conn: &mut AsyncPgConnection| {
                let Some(current) = q::lock_webhook(conn, id).await? else {
                    return Err(Error::not_found("webhook", id));
                };
                let reactivated = input.active == Some(true) && !current.active;
                let changes = WebhookChanges {
                    url: input.url.map(|u| u.trim().to_owned()),
                    description,
                    event_types,
                    active: input.active,
                    disabled_reason: input.active.map(|_| None),
                    consecutive_failures: reactivated.then_some(0),
                    failing_since: reactivated.then_some(None),
                    updated_at: Some(Utc::now()),
                    ..Default::default()
                };
                let webhook = Webhook::from(q::update_webhook(conn, id, &changes).await?);
                events::record(conn, webhook_event(EventType::WebhookUpdated, &webhook)?).await?;
                Ok::<_, Error>(webhook)
            })
            .await?;
        self.wake();
        Ok(webhook)
    }

    /// Deletes a webhook and its delivery log; returns it as it was.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, webhook.id = %id))]
    pub async fn delete(&self, ctx: &Ctx, id: Uuid) -> Result<Webhook, Error> {
        ctx.authorize("webhooks:manage")?;
        self.db
            .tx("delete", async move |conn: &mut AsyncPgConnection| {
                let Some(current) = q::lock_webhook(conn, id).await? else {
                    return Err(Error::not_found("webhook", id));
                };
                q::delete_webhook(conn, id).await?;
                let webhook = Webhook::from(current);
                events::record(conn, webhook_event(EventType::WebhookDeleted, &webhook)?).await?;
                Ok(webhook)
            })
            .await
    }

    /// Replaces the signing secret; the new one is returned this once.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, webhook.id = %id))]
    pub async fn rotate_secret(&self, ctx: &Ctx, id: Uuid) -> Result<CreatedWebhook, Error> {
        ctx.authorize("webhooks:manage")?;
        let secret = new_secret();
        let changes = WebhookChanges {
            secret: Some(secret.clone()),
            updated_at: Some(Utc::now()),
            ..Default::default()
        };
        let mut conn = self.db.conn().await?;
        if q::webhook(&mut conn, id).await?.is_none() {
            return Err(Error::not_found("webhook", id));
        }
        let webhook = Webhook::from(q::update_webhook(&mut conn, id, &changes).await?);
        Ok(CreatedWebhook { webhook, secret })
    }

    /// Sends a `webhook.ping` now and waits for the answer. The ping is not retried; it shows
    /// in the delivery log like any delivery.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, webhook.id = %id))]
    pub async fn ping(&self, ctx: &Ctx, id: Uuid) -> Result<WebhookDelivery, Error> {
        ctx.authorize("webhooks:manage")?;
        let mut conn = self.db.conn().await?;
        let Some(webhook) = q::webhook(&mut conn, id).await? else {
            return Err(Error::not_found("webhook", id));
        };
        let now = Utc::now();
        let event_id = Uuid::now_v7();
        let payload = serde_json::json!({
            "id": event_id,
            "event": PING_EVENT,
            "timestamp": now,
            "data": { "webhook_id": id, "message": "ping from StateSet" },
        });
        let delivery = q::NewDelivery {
            id: Uuid::now_v7(),
            webhook_id: id,
            event_id,
            event_sequence: None,
            event_type: PING_EVENT.to_owned(),
            payload: payload.clone(),
            status: DeliveryStatus::Pending.as_str(),
            // Never due for the workers, and given up at once: a ping is tried once.
            next_attempt_at: None,
            give_up_at: now,
        };
        let delivery_id = delivery.id;
        q::insert_deliveries(&mut conn, &[delivery]).await?;
        drop(conn);
        let claimed = ClaimedDelivery {
            id: delivery_id,
            webhook_id: id,
            event_id,
            event_type: PING_EVENT.to_owned(),
            payload,
            attempts: 0,
            give_up_at: now,
            url: webhook.url,
            secret: webhook.secret,
        };
        self.attempt(claimed).await?;
        self.load_delivery(delivery_id).await
    }

    /// A page of a webhook's deliveries, newest first, each with its attempts.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, webhook.id = %webhook_id))]
    pub async fn deliveries(
        &self,
        ctx: &Ctx,
        webhook_id: Uuid,
        query: DeliveryQuery,
    ) -> Result<DeliveryPage, Error> {
        ctx.authorize("webhooks:read")?;
        let limit = query.first.unwrap_or(20);
        if !(1..=MAX_DELIVERY_PAGE).contains(&limit) {
            return Err(Error::invalid(
                query.first_field,
                format!("must be between 1 and {MAX_DELIVERY_PAGE}"),
            ));
        }
        let mut conn = self.db.conn().await?;
        if q::webhook(&mut conn, webhook_id).await?.is_none() {
            return Err(Error::not_found("webhook", webhook_id));
        }
        // One more than asked for tells whether another page follows.
        let mut rows =
            q::list_deliveries(&mut conn, webhook_id, query.status, query.after, limit + 1).await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut attempts: HashMap<Uuid, Vec<_>> = HashMap::new();
        for (delivery_id, attempt) in q::attempts_of(&mut conn, &ids).await? {
            attempts.entry(delivery_id).or_default().push(attempt);
        }
        let items = rows
            .into_iter()
            .map(|row| {
                let log = attempts.remove(&row.id).unwrap_or_default();
                row.into_domain(log)
            })
            .collect();
        Ok(DeliveryPage { items, more })
    }

    /// One delivery with its attempts.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, delivery.id = %id))]
    pub async fn delivery(&self, ctx: &Ctx, id: Uuid) -> Result<WebhookDelivery, Error> {
        ctx.authorize("webhooks:read")?;
        self.load_delivery(id).await
    }

    async fn load_delivery(&self, id: Uuid) -> Result<WebhookDelivery, Error> {
        let mut conn = self.db.conn().await?;
        let row = q::delivery(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found("webhook delivery", id))?;
        let attempts = q::attempts_of(&mut conn, &[id])
            .await?
            .into_iter()
            .map(|(_, attempt)| attempt)
            .collect();
        Ok(row.into_domain(attempts))
    }

    /// Sends a finished (usually failed) delivery again, with a fresh retry window.
    #[tracing::instrument(skip_all, fields(request.id = %ctx.request_id, delivery.id = %id))]
    pub async fn resend(&self, ctx: &Ctx, id: Uuid) -> Result<WebhookDelivery, Error> {
        ctx.authorize("webhooks:manage")?;
        let window = to_chrono(self.settings.retry_window);
        self.db
            .tx("resend", async move |conn: &mut AsyncPgConnection| {
                let Some(delivery) = q::lock_delivery(conn, id).await? else {
                    return Err(Error::not_found("webhook delivery", id));
                };
                let webhook = q::webhook(conn, delivery.webhook_id).await?;
                if !webhook.is_some_and(|w| w.active) {
                    return Err(Error::InvalidState {
                        from: "its webhook is inactive".into(),
                        action: "resend a delivery".into(),
                    });
                }
                let now = Utc::now();
                let changes = DeliveryChanges {
                    status: Some(DeliveryStatus::Pending.as_str()),
                    next_attempt_at: Some(Some(now)),
                    give_up_at: Some(now + window),
                    completed_at: Some(None),
                    ..Default::default()
                };
                q::update_delivery(conn, id, &changes).await?;
                Ok(())
            })
            .await?;
        self.wake();
        self.load_delivery(id).await
    }

    /// Claims up to `limit` due deliveries, leaving out webhooks in `busy`.
    async fn claim(&self, limit: usize, busy: &[Uuid]) -> Result<Vec<ClaimedDelivery>, Error> {
        // The lease outlasts the longest possible attempt, so only a crashed worker's
        // deliveries come due again before they are recorded.
        let lease = self.settings.timeout.as_secs_f64() + 10.0;
        let mut conn = self.db.conn().await?;
        Ok(q::claim_due(
            &mut conn,
            i64::try_from(limit).unwrap_or(i64::MAX),
            lease,
            busy,
            PER_WEBHOOK_IN_FLIGHT as i64,
        )
        .await?)
    }

    /// Sends every delivery due now (up to the concurrency limit) and waits for them all;
    /// returns how many were attempted. The worker does this continuously; tests call it to
    /// drain deliveries without waiting.
    pub async fn deliver_due(&self) -> Result<usize, Error> {
        let batch = self.claim(self.settings.concurrency, &[]).await?;
        let count = batch.len();
        let results =
            futures::future::join_all(batch.into_iter().map(|claimed| self.attempt(claimed))).await;
        results.into_iter().collect::<Result<Vec<()>, Error>>()?;
        Ok(count)
    }

    /// Delivers until `shutdown` turns true: at most `concurrency` requests at once and
    /// [`PER_WEBHOOK_IN_FLIGHT`] per webhook, each on its own task, so a slow receiver only
    /// ever holds up its own deliveries.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let permits = Arc::new(Semaphore::new(self.settings.concurrency));
        let in_flight: Arc<Mutex<HashMap<Uuid, usize>>> = Arc::default();
        let mut tasks = JoinSet::new();
        loop {
            while tasks.try_join_next().is_some() {}
            let free = permits.available_permits();
            let mut more_due = false;
            if free > 0 {
                let busy: Vec<Uuid> = in_flight
                    .lock()
                    .map(|m| {
                        m.iter()
                            .filter(|(_, n)| **n >= PER_WEBHOOK_IN_FLIGHT)
                            .map(|(id, _)| *id)
                            .collect()
                    })
                    .unwrap_or_default();
                match self.claim(free, &busy).await {
                    Ok(batch) => {
                        more_due = batch.len() == free;
                        for claimed in batch {
                            let Ok(permit) = permits.clone().try_acquire_owned() else {
                                break;
                            };
                            let webhook_id = claimed.webhook_id;
                            if let Ok(mut m) = in_flight.lock() {
                                *m.entry(webhook_id).or_default() += 1;
                            }
                            let service = self.clone();
                            let in_flight = in_flight.clone();
                            tasks.spawn(async move {
                                if let Err(err) = service.attempt(claimed).await {
                                    tracing::warn!(error = %err, "cannot record a webhook attempt");
                                }
                                if let Ok(mut m) = in_flight.lock()
                                    && let Some(n) = m.get_mut(&webhook_id)
                                {
                                    *n -= 1;
                                    if *n == 0 {
                                        m.remove(&webhook_id);
                                    }
                                }
                                drop(permit);
                            });
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "cannot claim webhook deliveries"),
                }
            }
            if more_due {
                continue;
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
        }
        // Attempts under way finish (each is bounded by the timeout) and are recorded.
        while tasks.join_next().await.is_some() {}
    }

    /// Makes one attempt at a claimed delivery and records it.
    async fn attempt(&self, claimed: ClaimedDelivery) -> Result<(), Error> {
        let outcome = self
            .sender
            .send(&Outgoing {
                url: &claimed.url,
                secret: &claimed.secret,
                delivery_id: claimed.id,
                event_id: claimed.event_id,
                event_type: &claimed.event_type,
                payload: &claimed.payload,
                acp: claimed.webhook_id == super::acp::PLATFORM_WEBHOOK_ID,
            })
            .await;
        let result = self.record(&claimed, &outcome).await;
        self.metrics
            .observe_webhook_delivery(result.as_ref().map_or("error", |r| *r));
        result.map(drop)
    }

    /// Records an attempt, schedules the retry or gives up, and disables a webhook that has
    /// failed for too long. Returns the result label for metrics.
    async fn record(
        &self,
        claimed: &ClaimedDelivery,
        outcome: &AttemptOutcome,
    ) -> Result<&'static str, Error> {
        let settings = self.settings.clone();
        let claimed = claimed.clone();
        let outcome = outcome.clone();
        self.db
            .tx("record", async move |conn: &mut AsyncPgConnection| {
                let now = Utc::now();
                let attempt = claimed.attempts + 1;
                q::insert_attempt(
                    conn,
                    &q::NewAttempt {
                        id: Uuid::now_v7(),
                        delivery_id: claimed.id,
                        attempt,
                        status_code: outcome.status_code.map(i32::from),
                        duration_ms: i32::try_from(outcome.duration.as_millis())
                            .unwrap_or(i32::MAX),
                        response_excerpt: outcome.response_excerpt.clone(),
                        error: outcome.error.clone(),
                    },
                )
                .await?;
                let succeeded = outcome.succeeded();
                let give_up = !succeeded && now >= claimed.give_up_at;
                let (status, next_attempt_at, label) = if succeeded {
                    (DeliveryStatus::Succeeded, None, "success")
                } else if give_up {
                    (DeliveryStatus::Failed, None, "failed")
                } else {
                    let retry_at = now + to_chrono(backoff(&settings, attempt));
                    (DeliveryStatus::Pending, Some(retry_at), "retry")
                };
                let changes = DeliveryChanges {
                    status: Some(status.as_str()),
                    attempts: Some(attempt),
                    next_attempt_at: Some(next_attempt_at),
                    last_status_code: Some(outcome.status_code.map(i32::from)),
                    last_error: Some(outcome.error.clone()),
                    completed_at: Some((status != DeliveryStatus::Pending).then_some(now)),
                    ..Default::default()
                };
                q::update_delivery(conn, claimed.id, &changes).await?;
                record_health(
                    conn,
                    &settings,
                    claimed.webhook_id,
                    succeeded,
                    &outcome,
                    now,
                )
                .await?;
                Ok::<_, Error>(label)
            })
            .await
    }
}

/// Keeps a webhook's failure record, and disables it once it has failed at least
/// `disable_min_failures` times in a row for at least `disable_after`.
async fn record_health(
    conn: &mut AsyncPgConnection,
    settings: &WebhookSettings,
    webhook_id: Uuid,
    succeeded: bool,
    outcome: &AttemptOutcome,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let Some(webhook) = q::lock_webhook(conn, webhook_id).await? else {
        return Ok(()); // deleted meanwhile
    };
    if succeeded {
        if webhook.consecutive_failures > 0 {
            let changes = WebhookChanges {
                consecutive_failures: Some(0),
                failing_since: Some(None),
                ..Default::default()
            };
            q::update_webhook(conn, webhook_id, &changes).await?;
        }
        return Ok(());
    }
    let failures = webhook.consecutive_failures.saturating_add(1);
    let failing_since = webhook.failing_since.unwrap_or(now);
    let disable = webhook.active
        && failures >= settings.disable_min_failures
        && now - failing_since >= to_chrono(settings.disable_after);
    let reason = disable.then(|| {
        format!(
            "disabled after {failures} failed attempts in a row since {}; last: {}",
            failing_since.to_rfc3339(),
            outcome.error.as_deref().unwrap_or("no answer")
        )
    });
    let changes = WebhookChanges {
        consecutive_failures: Some(failures),
        failing_since: Some(Some(failing_since)),
        active: disable.then_some(false),
        disabled_reason: reason.clone().map(Some),
        updated_at: disable.then_some(now),
        ..Default::default()
    };
    let row = q::update_webhook(conn, webhook_id, &changes).await?;
    if disable {
        tracing::warn!(webhook.id = %webhook_id, reason = reason.as_deref().unwrap_or_default(), "webhook disabled");
        events::record(
            conn,
            webhook_event(EventType::WebhookDisabled, &Webhook::from(row))?,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_the_maximum() -> anyhow::Result<()> {
        let settings = crate::config::Config::from_lookup(|_| None)?.webhooks;
        let within = |attempt: i32, nominal: f64| {
            let delay = backoff(&settings, attempt).as_secs_f64();
            (nominal * 0.75..=nominal * 1.25).contains(&delay)
        };
        assert!(within(1, 5.0));
        assert!(within(2, 10.0));
        assert!(within(5, 80.0));
        assert!(within(12, 3600.0), "capped at the maximum");
        assert!(within(40, 3600.0), "no overflow for late attempts");
        // About a day of retries takes a few dozen attempts.
        let mut elapsed = 0.0;
        let mut attempts = 0;
        while elapsed < settings.retry_window.as_secs_f64() {
            attempts += 1;
            elapsed += backoff(&settings, attempts).as_secs_f64();
        }
        assert!((20..=45).contains(&attempts), "{attempts} attempts");
        Ok(())
    }
}
