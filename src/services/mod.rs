//! The service layer: the API of the system. Every door calls these and nothing else.
//!
//! A service method takes a [`Ctx`] first, checks the permission it needs, validates its input,
//! owns its transaction and writes its domain events into the outbox inside that transaction.

pub mod catalog;
pub mod error;
pub mod events;

pub use catalog::CatalogService;
pub use error::{Error, FieldError};
pub use events::EventService;

use crate::db::Db;
use crate::events::EventBus;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No credentials were presented.
    Anonymous,
    /// The server itself (seeding, background work) or, until identities exist, any caller.
    System,
}

/// The context of one service call: who, which request, and which retry key.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The caller.
    pub principal: Principal,
    /// Correlates logs, responses and events of one request (`x-request-id`).
    pub request_id: String,
    /// The client's `Idempotency-Key`, if it sent one.
    pub idempotency_key: Option<String>,
}

impl Ctx {
    /// A context for work the server does on its own behalf.
    pub fn system() -> Self {
        Self {
            principal: Principal::System,
            request_id: uuid::Uuid::now_v7().to_string(),
            idempotency_key: None,
        }
    }

    /// A context for a request from a door, before identities exist.
    ///
    /// Authentication is not built yet, so every caller acts with full rights (`System`).
    /// This is the one seam where credentials will become a real principal.
    pub fn for_request(request_id: String, idempotency_key: Option<String>) -> Self {
        Self {
            principal: Principal::System,
            request_id,
            idempotency_key,
        }
    }

    /// Checks that the caller holds `permission` (`resource:action`).
    ///
    /// Every service operation calls this before doing anything, so all doors are guarded
    /// alike. Today only `Anonymous` is refused and only for writes; roles come with identities.
    pub fn authorize(&self, permission: &'static str) -> Result<(), Error> {
        match self.principal {
            Principal::System => Ok(()),
            Principal::Anonymous if permission.ends_with(":read") => Ok(()),
            Principal::Anonymous => Err(Error::Unauthenticated),
        }
    }
}

/// Every service, as cheap clonable handles sharing one pool.
#[derive(Clone)]
pub struct Services {
    pub catalog: CatalogService,
    pub events: EventService,
}

impl Services {
    /// Builds the services over a database pool.
    pub fn new(db: Db, bus: EventBus) -> Self {
        Self {
            catalog: CatalogService::new(db.clone()),
            events: EventService::new(db, bus),
        }
    }
}
