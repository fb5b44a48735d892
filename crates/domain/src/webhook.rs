//! Webhooks: endpoints that receive signed event deliveries, and the log of what was sent.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// An endpoint that receives events. The signing secret is never shown here.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct Webhook {
    pub id: Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    pub description: Option<String>,
    /// Event types delivered: exact names (`order.created`) or wildcards (`order.*`, `*`).
    pub event_types: Vec<String>,
    /// Inactive webhooks receive nothing; pending deliveries wait until reactivation.
    pub active: bool,
    /// Why the server disabled this webhook, when it did.
    pub disabled_reason: Option<String>,
    /// Failed attempts since the last successful one.
    pub consecutive_failures: i32,
    /// When the current run of failures began.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A webhook with its signing secret: returned only on creation and on secret rotation.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct CreatedWebhook {
    pub webhook: Webhook,
    /// Verifies `X-StateSet-Signature` (see docs/WEBHOOKS.md). Store it now; it cannot be
    /// shown again.
    pub secret: String,
}

crate::stored_enum! {
    /// Where a delivery stands.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema, async_graphql::Enum,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum DeliveryStatus {
        /// Not yet acknowledged; retried with backoff until it succeeds or gives up.
        Pending = "pending",
        /// The receiver answered 2xx.
        Succeeded = "succeeded",
        /// Retries ran out (about 24 hours); can be re-sent by hand.
        Failed = "failed",
    }
}

/// One event owed to one webhook, with every attempt made to deliver it.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The event's id, also sent as `X-StateSet-Event-Id`: receivers deduplicate on it.
    pub event_id: Uuid,
    /// The event's sequence number in the event log (absent for pings).
    pub event_sequence: Option<i64>,
    pub event_type: String,
    /// The JSON body sent.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempt_count: i32,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Every attempt, first to last.
    pub attempts: Vec<WebhookAttempt>,
}

/// One HTTP request made for a delivery.
#[derive(Debug, Clone, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct WebhookAttempt {
    /// 1 for the first attempt.
    pub attempt: i32,
    /// The receiver's HTTP status; absent when no response came back.
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    /// The start of the response body (at most 1 KiB).
    pub response_excerpt: Option<String>,
    /// Why the attempt failed without a response (timeout, refused address, ...).
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}
