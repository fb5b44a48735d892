//! StateSet: a GraphQL-first commerce server.
//!
//! One service layer holds every business rule; GraphQL, REST, gRPC and the Agentic Commerce
//! Protocol (ACP) are thin adapters that parse a request, call a service with a [`services::Ctx`]
//! and map the result or the [`services::Error`] once.
//!
//! # Layout
//! - [`domain`]: pure types (money, SKUs, slugs, catalog entities, events); no I/O.
//! - [`services`]: the API of the system: authorization seam, validation, transactions, events.
//! - [`db`]: the diesel schema, row types and queries, the pool and migrations.
//! - [`events`]: the transactional outbox and the live event bus fed by `LISTEN/NOTIFY`.
//! - [`adapters`]: GraphQL, REST (with OpenAPI), gRPC and ACP doors.
//! - [`auth`]: principals, permissions, password hashing, tokens (no I/O).
//! - [`http`]: the HTTP router, middleware (request id, logs, metrics, authentication, rate
//!   limits, idempotency, security headers) and health routes.
//! - [`limits`]: rate limiting, in-process or shared through Redis.
//! - [`metrics`]: the Prometheus registry.
//! - [`app`]: [`app::App`], built the same way by `serve` and by the tests.

pub mod adapters;
pub mod admission;
pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod events;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod seed;
pub mod server;
pub mod services;
pub mod telemetry;
