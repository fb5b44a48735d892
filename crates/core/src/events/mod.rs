//! Domain events: written to the outbox inside the caller's transaction ([`record`]) and
//! fanned out live to subscribers of this instance ([`bus::EventBus`]).

pub mod bus;
pub mod relay;
pub mod webhooks;

use diesel_async::AsyncPgConnection;
use stateset_domain::EventType;
use uuid::Uuid;

pub use bus::EventBus;

/// A change worth telling the world about.
#[derive(Debug, Clone)]
pub struct DomainEvent {
    /// What happened, e.g. `product.created`.
    pub event_type: EventType,
    /// The kind of entity, e.g. `product`.
    pub entity_type: &'static str,
    pub entity_id: Uuid,
    /// The entity after the change.
    pub data: serde_json::Value,
}

impl DomainEvent {
    /// An event about `entity` as it now is, its data the entity with the fields of `extra`
    /// (an object) added.
    pub fn about(
        event_type: EventType,
        entity_type: &'static str,
        entity_id: Uuid,
        entity: &impl serde::Serialize,
        extra: serde_json::Value,
    ) -> Result<Self, serde_json::Error> {
        let mut data = serde_json::to_value(entity)?;
        if let (Some(data), serde_json::Value::Object(extra)) = (data.as_object_mut(), extra) {
            data.extend(extra);
        }
        Ok(Self {
            event_type,
            entity_type,
            entity_id,
            data,
        })
    }
}

/// Writes `event` into the outbox on `conn`, which must be inside the transaction that made the
/// change: the event then exists exactly when the change does.
pub async fn record(conn: &mut AsyncPgConnection, event: DomainEvent) -> diesel::QueryResult<i64> {
    stateset_db::outbox::insert(
        conn,
        stateset_db::outbox::NewOutboxRow {
            id: Uuid::now_v7(),
            event_type: event.event_type.as_str(),
            entity_type: event.entity_type,
            entity_id: event.entity_id,
            data: &event.data,
        },
    )
    .await
}
