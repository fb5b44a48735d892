//! The one integration test binary: real PostgreSQL, one database per test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod acp;
mod carrier_http;
mod carriers;
mod carts;
mod catalog_cache;
mod catalog_service;
mod checkout;
mod contract;
mod demo_shop;
mod events;
mod exactly_once;
mod fuzz;
mod graphql;
mod grpc;
mod grpc_backoffice;
mod grpc_billing;
mod grpc_identity;
mod grpc_inventory;
mod grpc_shipments;
mod grpc_shop;
mod http;
mod inventory;
mod invoices;
mod js_client;
mod orders;
mod paging;
mod payments;
mod performance;
mod permissions;
mod pricing;
mod proto_lint;
mod read_replica;
mod rest;
mod safety;
mod server;

mod sessions;
mod shipments;
mod storefront;
mod trust;
mod webhooks;
