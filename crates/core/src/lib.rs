//! The service layer of StateSet and what it stands on: the API of the system.
//!
//! Every business rule lives here. The doors (GraphQL, REST, gRPC, ACP in the `stateset`
//! crate) parse a request, take it through [`admission`], call a service with a
//! [`services::Ctx`] and map the result or the [`services::Error`] once.
//!
//! # Layout
//! - [`services`]: the API: authorization seam, validation, transactions, events.
//! - [`events`]: the transactional outbox, the live event bus fed by `LISTEN/NOTIFY`, the
//!   relay and webhook transport.
//! - [`auth`]: principals, permissions, password hashing, tokens (no I/O).
//! - [`admission`]: authenticate + rate limit, the step every door takes first.
//! - [`limits`]: rate limiting, in-process or shared through Redis.
//! - [`metrics`]: the Prometheus registry.
//! - [`config`]: settings read from the environment.
//!
//! It depends on `stateset-db` (schema, rows, queries) and `stateset-domain` (pure types),
//! never on the doors.

pub mod admission;
pub mod auth;
pub mod cache;
pub mod config;
pub mod events;
pub mod limits;
pub mod metrics;
pub mod services;
