//! Rows and queries for webhooks, their deliveries and the attempts made.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::{webhook_attempts, webhook_deliveries, webhooks};
use stateset_domain::{DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery};

/// A `webhooks` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhooks)]
pub struct WebhookRow {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub secret: String,
    pub active: bool,
    pub disabled_reason: Option<String>,
    pub consecutive_failures: i32,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<WebhookRow> for Webhook {
    fn from(row: WebhookRow) -> Self {
        Webhook {
            id: row.id,
            url: row.url,
            description: row.description,
            event_types: row.event_types,
            active: row.active,
            disabled_reason: row.disabled_reason,
            consecutive_failures: row.consecutive_failures,
            failing_since: row.failing_since,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Changes to a webhook; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = webhooks)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub event_types: Option<Vec<String>>,
    pub secret: Option<String>,
    pub active: Option<bool>,
    pub disabled_reason: Option<Option<String>>,
    pub consecutive_failures: Option<i32>,
    pub failing_since: Option<Option<DateTime<Utc>>>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn insert_webhook(conn: &mut AsyncPgConnection, row: &WebhookRow) -> QueryResult<()> {
    diesel::insert_into(webhooks::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

/// The advisory lock that makes webhook creations take turns.
const WEBHOOK_CREATION_LOCK: i64 = 0x5745_4248_4f4f_4b53; // "WEBHOOKS"

/// Takes the lock that serialises webhook creations until the transaction ends, so a count
/// read under it stays true until the new row commits.
pub async fn lock_webhook_creation(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query(format!(
        "SELECT pg_advisory_xact_lock({WEBHOOK_CREATION_LOCK})"
    ))
    .execute(conn)
    .await
    .map(drop)
}

/// How many webhooks there are.
pub async fn count_webhooks(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    webhooks::table.count().get_result(conn).await
}

/// Every webhook, oldest first.
pub async fn list_webhooks(conn: &mut AsyncPgConnection) -> QueryResult<Vec<WebhookRow>> {
    webhooks::table
        .select(WebhookRow::as_select())
        .order(webhooks::id.asc())
        .load(conn)
        .await
}

pub async fn webhook(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<WebhookRow>> {
    webhooks::table
        .find(id)
        .select(WebhookRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The webhook, locked until the transaction ends.
pub async fn lock_webhook(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<WebhookRow>> {
    webhooks::table
        .find(id)
        .select(WebhookRow::as_select())
        .for_no_key_update()
        .first(conn)
        .await
        .optional()
}

pub async fn update_webhook(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &WebhookChanges,
) -> QueryResult<WebhookRow> {
    diesel::update(webhooks::table.find(id))
        .set(changes)
        .returning(WebhookRow::as_returning())
        .get_result(conn)
        .await
}

/// Deletes a webhook with its deliveries; whether it existed.
pub async fn delete_webhook(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    Ok(diesel::delete(webhooks::table.find(id))
        .execute(conn)
        .await?
        > 0)
}

/// Id and event types of every active webhook: what the relay matches events against.
pub async fn active_subscriptions(
    conn: &mut AsyncPgConnection,
) -> QueryResult<Vec<(Uuid, Vec<String>)>> {
    webhooks::table
        .filter(webhooks::active.eq(true))
        .select((webhooks::id, webhooks::event_types))
        .load(conn)
        .await
}

/// A delivery about to be owed.
#[derive(Debug, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct NewDelivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub event_sequence: Option<i64>,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub status: &'static str,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub give_up_at: DateTime<Utc>,
}

/// Inserts deliveries; one already owed for the same webhook and event is left as it is.
pub async fn insert_deliveries(
    conn: &mut AsyncPgConnection,
    rows: &[NewDelivery],
) -> QueryResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    diesel::insert_into(webhook_deliveries::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await
}

/// A `webhook_deliveries` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub event_sequence: Option<i64>,
    pub event_type: String,
    pub payload: serde_json::Value,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub give_up_at: DateTime<Utc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl DeliveryRow {
    pub fn into_domain(self, attempts: Vec<WebhookAttempt>) -> WebhookDelivery {
        WebhookDelivery {
            id: self.id,
            webhook_id: self.webhook_id,
            event_id: self.event_id,
            event_sequence: self.event_sequence,
            event_type: self.event_type,
            payload: self.payload,
            status: self.status,
            attempt_count: self.attempts,
            next_attempt_at: self.next_attempt_at,
            last_status_code: self.last_status_code,
            last_error: self.last_error,
            created_at: self.created_at,
            completed_at: self.completed_at,
            attempts,
        }
    }
}

/// Changes to a delivery after an attempt or a resend.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryChanges {
    pub status: Option<&'static str>,
    pub attempts: Option<i32>,
    pub next_attempt_at: Option<Option<DateTime<Utc>>>,
    pub give_up_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<Option<i32>>,
    pub last_error: Option<Option<String>>,
    pub completed_at: Option<Option<DateTime<Utc>>>,
}

pub async fn delivery(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<DeliveryRow>> {
    webhook_deliveries::table
        .find(id)
        .select(DeliveryRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn lock_delivery(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<DeliveryRow>> {
    webhook_deliveries::table
        .find(id)
        .select(DeliveryRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn update_delivery(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &DeliveryChanges,
) -> QueryResult<DeliveryRow> {
    diesel::update(webhook_deliveries::table.find(id))
        .set(changes)
        .returning(DeliveryRow::as_returning())
        .get_result(conn)
        .await
}

/// A webhook's deliveries, newest first, older than `before` when given.
pub async fn list_deliveries(
    conn: &mut AsyncPgConnection,
    webhook_id: Uuid,
    status: Option<DeliveryStatus>,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<DeliveryRow>> {
    let mut query = webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .select(DeliveryRow::as_select())
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(webhook_deliveries::status.eq(status.as_str()));
    }
    if let Some(before) = before {
        query = query.filter(webhook_deliveries::id.lt(before));
    }
    query.load(conn).await
}

/// A delivery a worker has claimed, with what it needs to send it.
#[derive(Debug, Clone, QueryableByName)]
pub struct ClaimedDelivery {
    #[diesel(sql_type = sql_types::Uuid)]
    pub id: Uuid,
    #[diesel(sql_type = sql_types::Uuid)]
    pub webhook_id: Uuid,
    #[diesel(sql_type = sql_types::Uuid)]
    pub event_id: Uuid,
    #[diesel(sql_type = sql_types::Text)]
    pub event_type: String,
    #[diesel(sql_type = sql_types::Jsonb)]
    pub payload: serde_json::Value,
    #[diesel(sql_type = sql_types::Int4)]
    pub attempts: i32,
    #[diesel(sql_type = sql_types::Timestamptz)]
    pub give_up_at: DateTime<Utc>,
    #[diesel(sql_type = sql_types::Text)]
    pub url: String,
    #[diesel(sql_type = sql_types::Text)]
    pub secret: String,
}

/// Claims up to `limit` due deliveries of active webhooks, at most `per_webhook` of any one
/// and none of the webhooks in `busy`, pushing their due time `lease_secs` ahead: a worker that
/// dies mid-send leaves them to be taken up again once the lease ends. Rows another worker is
/// claiming are skipped.
pub async fn claim_due(
    conn: &mut AsyncPgConnection,
    limit: i64,
    lease_secs: f64,
    busy: &[Uuid],
    per_webhook: i64,
) -> QueryResult<Vec<ClaimedDelivery>> {
    diesel::sql_query(
        "UPDATE webhook_deliveries d \
         SET next_attempt_at = now() + make_interval(secs => $1) \
         FROM webhooks w \
         WHERE w.id = d.webhook_id AND d.id IN ( \
             SELECT locked.id FROM webhook_deliveries locked \
             WHERE locked.id IN ( \
                 SELECT ranked.id FROM ( \
                     SELECT due.id, due.next_attempt_at, row_number() OVER ( \
                         PARTITION BY due.webhook_id ORDER BY due.next_attempt_at) AS place \
                     FROM webhook_deliveries due \
                     JOIN webhooks hook ON hook.id = due.webhook_id \
                     WHERE due.status = 'pending' AND due.next_attempt_at <= now() \
                         AND hook.active AND NOT (due.webhook_id = ANY($3)) \
                 ) ranked \
                 WHERE ranked.place <= $4 \
                 ORDER BY ranked.next_attempt_at \
                 LIMIT $2) \
             AND locked.status = 'pending' AND locked.next_attempt_at <= now() \
             FOR UPDATE SKIP LOCKED) \
         RETURNING d.id, d.webhook_id, d.event_id, d.event_type, d.payload, d.attempts, \
             d.give_up_at, w.url, w.secret",
    )
    .bind::<sql_types::Double, _>(lease_secs)
    .bind::<sql_types::BigInt, _>(limit)
    .bind::<sql_types::Array<sql_types::Uuid>, _>(busy)
    .bind::<sql_types::BigInt, _>(per_webhook)
    .load(conn)
    .await
}

/// An attempt to record.
#[derive(Debug, Insertable)]
#[diesel(table_name = webhook_attempts)]
pub struct NewAttempt {
    pub id: Uuid,
    pub delivery_id: Uuid,
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
}

pub async fn insert_attempt(conn: &mut AsyncPgConnection, row: &NewAttempt) -> QueryResult<()> {
    diesel::insert_into(webhook_attempts::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_attempts)]
struct AttemptRow {
    delivery_id: Uuid,
    attempt: i32,
    status_code: Option<i32>,
    duration_ms: i32,
    response_excerpt: Option<String>,
    error: Option<String>,
    created_at: DateTime<Utc>,
}

/// The attempts of these deliveries, each delivery's in order.
pub async fn attempts_of(
    conn: &mut AsyncPgConnection,
    delivery_ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, WebhookAttempt)>> {
    let rows: Vec<AttemptRow> = webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq_any(delivery_ids))
        .select(AttemptRow::as_select())
        .order((webhook_attempts::delivery_id, webhook_attempts::attempt))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let attempt = WebhookAttempt {
                attempt: row.attempt,
                status_code: row.status_code,
                duration_ms: row.duration_ms,
                response_excerpt: row.response_excerpt,
                error: row.error,
                created_at: row.created_at,
            };
            (row.delivery_id, attempt)
        })
        .collect())
}
