//! Domain events as read back from the outbox.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Something that happened, recorded in the same transaction as the change itself.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct Event {
    /// Global, increasing number: resume a feed after the last one seen.
    pub sequence: i64,
    pub id: Uuid,
    /// Dotted name such as `product.created`.
    #[graphql(name = "type")]
    #[serde(rename = "type")]
    pub event_type: String,
    /// The kind of entity the event is about, e.g. `product`.
    pub entity_type: String,
    pub entity_id: Uuid,
    /// The entity as it was after the change.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}
