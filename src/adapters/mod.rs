//! The doors: each parses its protocol, calls a service with a [`crate::services::Ctx`] and maps
//! the result. No SQL and no business rules here.

pub mod acp;
pub mod graphql;
pub mod grpc;
pub mod pages;
pub mod rest;
