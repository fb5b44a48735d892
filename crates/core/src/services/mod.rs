//! The service layer: the API of the system. Every door calls these and nothing else.
//!
//! A service method takes a [`Ctx`] first, checks the permission it needs, validates its input,
//! owns its transaction and writes its domain events into the outbox inside that transaction.

pub mod access;
pub mod acp;
pub mod auth;
pub mod carts;
pub mod catalog;
pub mod checkout;
pub mod checks;
pub mod customers;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod inventory;
pub mod invoices;
pub mod order_pages;
pub mod orders;
pub mod page;
pub mod payments;
pub mod pricing;
pub mod shipments;
pub mod webhooks;

pub use access::AccessService;
pub use acp::AcpService;
pub use auth::AuthService;
pub use carts::CartService;
pub use catalog::CatalogService;
pub use checkout::CheckoutService;
pub use customers::CustomerService;
pub use error::{Error, FieldError};
pub use events::EventService;
pub use idempotency::IdempotencyService;
pub use inventory::InventoryService;
pub use invoices::InvoiceService;
pub use order_pages::OrderPageService;
pub use orders::OrderService;
pub use payments::PaymentService;
pub use pricing::PricingService;
pub use shipments::ShipmentService;
pub use webhooks::WebhookService;

use std::sync::Arc;

use crate::auth::password::PasswordHasher;
use crate::auth::tokens::TokenSigner;
use crate::auth::{Access, PermissionSet};
use crate::config::Config;
use auth::RoleCache;
use stateset_db::Db;

pub use crate::auth::Principal;
use crate::events::EventBus;

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

/// What anonymous callers may do: browse the catalog.
const ANONYMOUS_PERMISSIONS: &[&str] = &["products:read", "categories:read"];

impl Ctx {
    /// A context for work the server does on its own behalf.
    pub fn system() -> Self {
        Self::new(Principal::System, uuid::Uuid::now_v7().to_string(), None)
    }

    /// A context for one request.
    pub fn new(principal: Principal, request_id: String, idempotency_key: Option<String>) -> Self {
        Self {
            principal,
            request_id,
            idempotency_key,
        }
    }

    /// How far the caller holds `permission` (`resource:action`), without failing.
    pub fn access(&self, permission: &str) -> Option<Access> {
        match &self.principal {
            Principal::System => Some(Access::All),
            Principal::Anonymous => {
                PermissionSet::new(ANONYMOUS_PERMISSIONS.iter().copied()).access(permission, None)
            }
            Principal::User { permissions, .. } | Principal::ApiKey { permissions, .. } => {
                permissions.access(permission, self.principal.user_id())
            }
        }
    }

    /// Checks that the caller holds `permission`; every service operation calls this first.
    ///
    /// # Returns
    /// `Access::All`, or `Access::Own(user)` when the caller may only touch their own data;
    /// `UNAUTHENTICATED` for an anonymous caller, `FORBIDDEN` for one without the permission.
    pub fn authorize(&self, permission: &'static str) -> Result<Access, Error> {
        match self.access(permission) {
            Some(access) => Ok(access),
            None if matches!(self.principal, Principal::Anonymous) => Err(Error::Unauthenticated),
            None => Err(Error::Forbidden {
                permission: permission.to_owned(),
            }),
        }
    }
}

/// The connection a read of what the storefront shows runs on. Shoppers read the replica when
/// one is configured (`DATABASE_READ_URL`), which may lag by its replay delay; a caller holding
/// `staff_permission` reads the primary, so staff always see their own changes. Nothing that
/// decides (prices charged, stock reserved) or fills a cache reads through this.
pub(crate) async fn shown_conn<'a>(
    db: &'a Db,
    ctx: &Ctx,
    staff_permission: &str,
) -> Result<stateset_db::Conn<'a>, Error> {
    Ok(if ctx.access(staff_permission).is_some() {
        db.conn().await?
    } else {
        db.read_conn().await?
    })
}

/// Every service, as cheap clonable handles sharing one pool.
#[derive(Clone)]
pub struct Services {
    pub auth: AuthService,
    pub access: AccessService,
    pub acp: AcpService,
    pub carts: CartService,
    pub catalog: CatalogService,
    pub checkout: CheckoutService,
    pub payments: PaymentService,
    pub customers: CustomerService,
    pub orders: OrderService,
    pub order_pages: OrderPageService,
    pub inventory: InventoryService,
    pub invoices: InvoiceService,
    pub events: EventService,
    pub idempotency: IdempotencyService,
    pub pricing: PricingService,
    pub shipments: ShipmentService,
    pub webhooks: WebhookService,
}

impl Services {
    /// Builds the services over a database pool, with the security settings of `config`.
    pub fn new(
        db: Db,
        bus: EventBus,
        config: &Config,
        redis: Option<crate::cache::RedisPool>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> anyhow::Result<Self> {
        let signer = Arc::new(TokenSigner::new(
            &config.jwt_secret,
            config.access_token_ttl,
            config.refresh_token_ttl,
        ));
        let hasher = Arc::new(PasswordHasher::new(config.password_hashing)?);
        let roles = Arc::new(RoleCache::default());
        let auth = AuthService::new(db.clone(), signer, hasher, roles.clone());
        let events = EventService::new(db.clone(), bus.clone(), metrics.clone());
        let payments = PaymentService::new(db.clone(), config.payments.clone(), metrics.clone())?;
        let carts = CartService::new(db.clone());
        let webhooks = WebhookService::new(db.clone(), config.webhooks.clone(), metrics.clone())?;
        let checkout = CheckoutService::new(db.clone(), payments.clone(), metrics.clone());
        let orders = OrderService::new(
            db.clone(),
            events.clone(),
            config.invoices.clone(),
            metrics.clone(),
        );
        Ok(Self {
            acp: AcpService::new(
                db.clone(),
                checkout.clone(),
                payments.clone(),
                config.acp.clone(),
            ),
            access: AccessService::new(db.clone(), auth.clone(), roles),
            auth,
            carts: carts.clone(),
            catalog: CatalogService::new(
                db.clone(),
                &bus,
                catalog::CatalogCache::new(
                    &crate::cache::namespace_of(&config.database_url),
                    config.catalog_cache,
                    redis,
                    metrics.clone(),
                ),
            ),
            checkout,
            payments,
            customers: CustomerService::new(db.clone()),
            orders: orders.clone(),
            order_pages: OrderPageService::new(db.clone(), orders, config.acp.clone()),
            invoices: InvoiceService::new(db.clone(), config.invoices.clone()),
            inventory: InventoryService::new(
                db.clone(),
                events.clone(),
                metrics,
                config.storefront,
            ),
            events,
            pricing: PricingService::new(db.clone()),
            shipments: ShipmentService::new(db.clone()),
            idempotency: IdempotencyService::new(db),
            webhooks,
        })
    }
}
