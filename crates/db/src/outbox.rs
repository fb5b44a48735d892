//! Rows of the `outbox` table: written inside a service's transaction, read by the event feed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::outbox;
use stateset_domain::Event;

/// An event about to be recorded.
#[derive(Insertable)]
#[diesel(table_name = outbox)]
pub struct NewOutboxRow<'a> {
    pub id: Uuid,
    pub event_type: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Uuid,
    pub data: &'a serde_json::Value,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = outbox)]
struct OutboxRow {
    id: Uuid,
    sequence: i64,
    event_type: String,
    entity_type: String,
    entity_id: Uuid,
    data: serde_json::Value,
    occurred_at: DateTime<Utc>,
}

impl From<OutboxRow> for Event {
    fn from(row: OutboxRow) -> Self {
        Event {
            sequence: row.sequence,
            id: row.id,
            event_type: row.event_type,
            entity_type: row.entity_type,
            entity_id: row.entity_id,
            data: row.data,
            occurred_at: row.occurred_at,
        }
    }
}

/// Inserts one event; returns its sequence number.
pub async fn insert(conn: &mut AsyncPgConnection, row: NewOutboxRow<'_>) -> QueryResult<i64> {
    diesel::insert_into(outbox::table)
        .values(&row)
        .returning(outbox::sequence)
        .get_result(conn)
        .await
}

/// Which events a reader wants.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only events after this sequence number.
    pub after: i64,
    /// Exact event types (`product.created`); empty with no prefixes means every type.
    pub types: Vec<String>,
    /// Type prefixes from wildcards: `product.*` is stored as `product.`.
    pub type_prefixes: Vec<String>,
    /// Only events about this entity.
    pub entity_id: Option<Uuid>,
    /// Only events up to this sequence number (the settled horizon of the live feed).
    pub until: Option<i64>,
}

/// Events matching `filter`, oldest first, at most `limit`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &EventFilter,
    limit: i64,
) -> QueryResult<Vec<Event>> {
    let mut query = outbox::table
        .select(OutboxRow::as_select())
        .filter(outbox::sequence.gt(filter.after))
        .order(outbox::sequence.asc())
        .limit(limit)
        .into_boxed();
    if let Some(entity_id) = filter.entity_id {
        query = query.filter(outbox::entity_id.eq(entity_id));
    }
    if let Some(until) = filter.until {
        query = query.filter(outbox::sequence.le(until));
    }
    if !filter.types.is_empty() || !filter.type_prefixes.is_empty() {
        let mut any_type: Box<
            dyn BoxableExpression<outbox::table, diesel::pg::Pg, SqlType = diesel::sql_types::Bool>,
        > = Box::new(outbox::event_type.eq_any(filter.types.clone()));
        for prefix in &filter.type_prefixes {
            let pattern = format!("{}%", super::like_escape(prefix));
            any_type = Box::new(any_type.or(outbox::event_type.like(pattern)));
        }
        query = query.filter(any_type);
    }
    Ok(query
        .load::<OutboxRow>(conn)
        .await?
        .into_iter()
        .map(Event::from)
        .collect())
}

/// Bounds of a database snapshot: every transaction below `xmin` has ended; `xmax` is the
/// first transaction id not yet assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct SnapshotBounds {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub xmin: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub xmax: i64,
}

async fn snapshot_bounds(conn: &mut AsyncPgConnection) -> QueryResult<SnapshotBounds> {
    diesel::sql_query(
        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin, \
                pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax",
    )
    .get_result(conn)
    .await
}

/// Up to `limit` events after `after`, oldest first, with the bounds of the snapshot they were
/// read in (one repeatable-read transaction, so both describe the same moment).
pub async fn read_with_snapshot(
    conn: &mut AsyncPgConnection,
    after: i64,
    limit: i64,
) -> QueryResult<(SnapshotBounds, Vec<Event>)> {
    conn.build_transaction()
        .repeatable_read()
        .read_only()
        .run(async move |conn: &mut AsyncPgConnection| {
            let bounds = snapshot_bounds(conn).await?;
            let filter = EventFilter {
                after,
                ..EventFilter::default()
            };
            let events = list(conn, &filter, limit).await?;
            Ok((bounds, events))
        })
        .await
}

/// The newest sequence number, with the bounds of the snapshot it was read in.
pub async fn head_with_snapshot(
    conn: &mut AsyncPgConnection,
) -> QueryResult<(SnapshotBounds, i64)> {
    conn.build_transaction()
        .repeatable_read()
        .read_only()
        .run(async move |conn: &mut AsyncPgConnection| {
            let bounds = snapshot_bounds(conn).await?;
            Ok((bounds, head(conn).await?))
        })
        .await
}

/// Bounds of a snapshot taken now.
pub async fn current_snapshot(conn: &mut AsyncPgConnection) -> QueryResult<SnapshotBounds> {
    snapshot_bounds(conn).await
}

/// The oldest undispatched events, locked; rows another relay holds are skipped.
pub async fn claim_undispatched(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> QueryResult<Vec<Event>> {
    let rows = outbox::table
        .select(OutboxRow::as_select())
        .filter(outbox::dispatched_at.is_null())
        .order(outbox::sequence.asc())
        .limit(limit)
        .for_update()
        .skip_locked()
        .load::<OutboxRow>(conn)
        .await?;
    Ok(rows.into_iter().map(Event::from).collect())
}

pub async fn mark_dispatched(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<()> {
    diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
        .set(outbox::dispatched_at.eq(chrono::Utc::now()))
        .execute(conn)
        .await
        .map(drop)
}

/// The newest sequence number (0 when the log is empty).
pub async fn head(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    let max: Option<i64> = outbox::table
        .select(diesel::dsl::max(outbox::sequence))
        .first(conn)
        .await?;
    Ok(max.unwrap_or(0))
}
