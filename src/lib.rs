//! StateSet: a GraphQL-first commerce server. This crate holds the four doors and the binaries.
//!
//! One service layer (`stateset-core`) holds every business rule; GraphQL, REST, gRPC and the
//! Agentic Commerce Protocol (ACP) are thin adapters here that parse a request, call a service
//! with a [`services::Ctx`] and map the result or the [`services::Error`] once.
//!
//! # Layers (each a crate; a lower one cannot name a higher one)
//! - `stateset-domain` ([`domain`]): pure types (money, SKUs, emails, catalog entities,
//!   events); no I/O.
//! - `stateset-db` ([`db`]): the diesel schema, row types and queries, the pool and migrations.
//! - `stateset-core` ([`services`], [`events`], [`auth`], [`admission`], [`limits`],
//!   [`metrics`], [`config`]): the API of the system.
//! - this crate: [`adapters`] (GraphQL, REST with OpenAPI, gRPC, ACP, the order status page),
//!   [`http`] (router, middleware, health), [`app`] ([`app::App`], built the same way by
//!   `serve` and by the tests), [`server`], [`seed`], [`telemetry`].

pub use stateset_core::{admission, auth, cache, config, events, limits, metrics, services};
pub use stateset_db as db;
pub use stateset_domain as domain;

pub mod adapters;
pub mod app;
pub mod http;
pub mod seed;
pub mod server;
pub mod telemetry;
