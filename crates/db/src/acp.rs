//! Rows and queries for ACP sessions (what ACP keeps beside a checkout) and the allowances of
//! delegated payment tokens.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::{acp_allowances, acp_sessions};
use stateset_domain::AgentSessionStatus;

/// An `acp_sessions` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = acp_sessions)]
pub struct SessionRow {
    pub checkout_id: Uuid,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: AgentSessionStatus,
    pub state: serde_json::Value,
    pub principal: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn insert_session(conn: &mut AsyncPgConnection, row: &SessionRow) -> QueryResult<()> {
    diesel::insert_into(acp_sessions::table)
        .values(row.clone())
        .execute(conn)
        .await
        .map(drop)
}

/// The session, locked for the rest of the transaction.
pub async fn lock_session(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<SessionRow>> {
    acp_sessions::table
        .find(id)
        .select(SessionRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn session(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<SessionRow>> {
    acp_sessions::table
        .find(id)
        .select(SessionRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn update_session(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: AgentSessionStatus,
    state: &serde_json::Value,
) -> QueryResult<()> {
    diesel::update(acp_sessions::table.find(id))
        .set((
            acp_sessions::status.eq(status.as_str()),
            acp_sessions::state.eq(state),
            acp_sessions::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// An `acp_allowances` row: what a delegated token may pay for.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = acp_allowances)]
pub struct AllowanceRow {
    pub token_id: String,
    pub checkout_session_id: String,
    pub merchant_id: String,
    pub max_amount: i64,
    pub currency: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_allowance(conn: &mut AsyncPgConnection, row: &AllowanceRow) -> QueryResult<()> {
    diesel::insert_into(acp_allowances::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn allowance(
    conn: &mut AsyncPgConnection,
    token: &str,
) -> QueryResult<Option<AllowanceRow>> {
    acp_allowances::table
        .find(token)
        .select(AllowanceRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Points the agent platform's webhook row (fixed `id`) at `url` with `secret`, creating it
/// the first time; it subscribes to no ordinary event type, so only ACP order events reach it.
pub async fn upsert_platform_webhook(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    url: &str,
    secret: &str,
) -> QueryResult<()> {
    use super::schema::webhooks;
    let now = Utc::now();
    diesel::insert_into(webhooks::table)
        .values((
            webhooks::id.eq(id),
            webhooks::url.eq(url),
            webhooks::description
                .eq("Agentic Commerce Protocol: order events for the agent platform"),
            webhooks::event_types.eq(vec!["acp.order_events".to_owned()]),
            webhooks::secret.eq(secret),
            webhooks::active.eq(true),
            webhooks::created_at.eq(now),
            webhooks::updated_at.eq(now),
        ))
        .on_conflict(webhooks::id)
        .do_update()
        .set((
            webhooks::url.eq(url),
            webhooks::secret.eq(secret),
            webhooks::updated_at.eq(now),
        ))
        .execute(conn)
        .await
        .map(drop)
}
