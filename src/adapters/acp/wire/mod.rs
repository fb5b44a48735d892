//! ACP's wire format: the protocol version, the request bodies ([`requests`], serde DTOs
//! turned into the service's inputs) and every JSON body the door answers with or sends the
//! agent platform ([`render`]: sessions, orders, the payment handler, policy links, minor
//! units, RFC 3339 times).

pub mod render;
pub mod requests;

/// The protocol version this server speaks.
pub const VERSION: &str = "2026-04-17";
/// Versions accepted in `API-Version`, newest first.
pub const SUPPORTED_VERSIONS: &[&str] = &[VERSION];
