//! Domain events: written to the outbox inside the caller's transaction ([`record`]) and
//! fanned out live to subscribers of this instance ([`bus::EventBus`]).

pub mod bus;
pub mod relay;
pub mod webhooks;

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

pub use bus::EventBus;

/// A change worth telling the world about.
#[derive(Debug, Clone)]
pub struct DomainEvent {
    /// Dotted name, e.g. `product.created`.
    pub event_type: &'static str,
    /// The kind of entity, e.g. `product`.
    pub entity_type: &'static str,
    pub entity_id: Uuid,
    /// The entity after the change.
    pub data: serde_json::Value,
}

/// Writes `event` into the outbox on `conn`, which must be inside the transaction that made the
/// change: the event then exists exactly when the change does.
pub async fn record(conn: &mut AsyncPgConnection, event: DomainEvent) -> diesel::QueryResult<i64> {
    crate::db::outbox::insert(
        conn,
        crate::db::outbox::NewOutboxRow {
            id: Uuid::now_v7(),
            event_type: event.event_type,
            entity_type: event.entity_type,
            entity_id: event.entity_id,
            data: &event.data,
        },
    )
    .await
}
