//! The Agentic Commerce Protocol (2026-04-17), merchant side, as services: checkout sessions
//! ([`sessions`]), the delegated-payment vault ([`vault`]) and the facts behind the agent
//! platform's order webhooks ([`platform_events`]).
//!
//! A session is a thin layer over one of our checkouts (and its cart): the checkout service
//! prices it, checks stock and places the order; what only ACP knows (buyer, fulfillment
//! details, selected options, agent capabilities, metadata, cancellation) is kept in
//! `acp_sessions` keyed by the checkout id. Session ids are checkout ids.
//!
//! Inputs are plain Rust types and results are typed views ([`Session`], [`DelegatedToken`],
//! [`AcpOrder`]); the wire format (request JSON, rendering, minor units, protocol version) is
//! the ACP adapter's (`adapters::acp::wire` in the `stateset` crate). Errors are ordinary
//! service errors whose field paths are RFC 9535 JSONPaths into the ACP request
//! (`$.line_items[0].id`), so the adapter maps them to the flat ACP error object unchanged.

pub mod platform_events;
pub mod sessions;
pub mod vault;

use uuid::Uuid;

pub use self::platform_events::{AcpOrder, OwedEvent, PlatformDelivery, PlatformEventKind};
pub use self::sessions::{
    AcpAddress, AgentCapabilities, Buyer, CancelSession, CompleteSession, CreateSession,
    FulfillmentDetails, IntentTrace, LineItemRequest, Payment, PlacedOrder, SelectedOption,
    Session, SessionDetails, SessionStatus, UpdateSession,
};
pub use self::vault::{DelegatePayment, DelegatedAllowance, DelegatedCard, DelegatedToken};

use super::{CheckoutService, Ctx, Error, PaymentService};
use crate::config::AcpSettings;
use stateset_db::Db;
use stateset_db::acp::SessionRow;

/// The permission (API key scope) an agent needs.
pub const PERMISSION: &str = "acp:checkout";
/// The one payment handler offered: cards delegated to our vault.
pub const HANDLER_ID: &str = "card_tokenized";
/// Interventions this seller can run; a session agrees on their intersection with the agent's.
pub const SELLER_INTERVENTIONS: &[&str] = &[];
/// The `webhooks` row that carries order events to the agent platform.
pub const PLATFORM_WEBHOOK_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0acb);

/// ACP sessions and the delegated-payment vault.
#[derive(Clone)]
pub struct AcpService {
    db: Db,
    checkout: CheckoutService,
    payments: PaymentService,
    settings: AcpSettings,
}

impl AcpService {
    pub fn new(
        db: Db,
        checkout: CheckoutService,
        payments: PaymentService,
        settings: AcpSettings,
    ) -> Self {
        Self {
            db,
            checkout,
            payments,
            settings,
        }
    }

    /// The settings this door runs with.
    pub fn settings(&self) -> &AcpSettings {
        &self.settings
    }
}

/// Whether the caller may see a session: an API key (an agent) sees the sessions it made;
/// signed-in staff holding the permission see all.
fn visible(ctx: &Ctx, row: &SessionRow) -> bool {
    !matches!(ctx.principal, super::Principal::ApiKey { .. })
        || row.principal == ctx.principal.key()
}

/// Renames a field path prefix in validation errors of the services ACP builds on
/// (`items[0]` → `$.line_items[0]`), so they name the ACP request's fields.
fn rename_fields(err: Error, from: &str, to: &str) -> Error {
    match err {
        Error::Validation(fields) => Error::Validation(
            fields
                .into_iter()
                .map(|mut f| {
                    if let Some(rest) = f.field.strip_prefix(from) {
                        let rest = rest
                            .replace(".variant_id", ".id")
                            .replace(".line1", ".line_one")
                            .replace(".line2", ".line_two")
                            .replace(".region", ".state");
                        f.field = format!("{to}{rest}");
                    }
                    f
                })
                .collect(),
        ),
        other => other,
    }
}
