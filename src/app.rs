//! The application: configuration, pool, services, event bus and metrics, built the same way
//! by `stateset serve` and by the tests.

use std::sync::Arc;

use crate::adapters::graphql::{self, GraphqlSchema};
use crate::admission::Admission;
use crate::config::Config;
use crate::db::Db;
use crate::events::EventBus;
use crate::events::relay::Relay;
use crate::limits::RateLimiter;
use crate::metrics::Metrics;
use crate::services::Services;

/// Shared state of every door.
pub struct App {
    pub config: Config,
    pub db: Db,
    pub bus: EventBus,
    pub services: Services,
    pub graphql: GraphqlSchema,
    pub metrics: Arc<Metrics>,
    /// Authentication and rate limits, for every door.
    pub admission: Admission,
    /// The outbox relay, fed to our own webhooks and the ACP platform's order webhooks.
    pub relay: Relay,
}

/// What HTTP handlers receive.
pub type AppState = Arc<App>;

impl App {
    /// Builds the application. Connects lazily: nothing touches the database yet.
    pub fn new(config: Config) -> anyhow::Result<AppState> {
        let mut db = Db::connect_lazy(&config.database_url, config.database_max_connections);
        if let Some(read_url) = &config.database_read_url {
            tracing::info!("storefront reads go to the read replica at DATABASE_READ_URL");
            db = db.with_read_replica(read_url, config.database_max_connections);
        }
        let bus = EventBus::default();
        let metrics = Arc::new(Metrics::new()?);
        let redis = config
            .redis_url
            .as_deref()
            .map(crate::cache::redis_pool)
            .transpose()?;
        let services = Services::new(
            db.clone(),
            bus.clone(),
            &config,
            redis.clone(),
            metrics.clone(),
        )?;
        let graphql = graphql::schema(services.clone(), config.graphql);
        let rate_limiter = RateLimiter::new(config.rate_limits.clone(), redis, metrics.clone())?;
        let admission = Admission::new(services.auth.clone(), rate_limiter);
        let relay = Relay::new(
            db.clone(),
            bus.clone(),
            metrics.clone(),
            services.webhooks.clone(),
            config.webhooks.retry_window,
            vec![
                Arc::new(crate::events::webhooks::Subscriptions),
                Arc::new(crate::adapters::acp::PlatformOrderWebhooks(
                    config.acp.clone(),
                )),
            ],
        );
        Ok(Arc::new(Self {
            relay,
            config,
            db,
            bus,
            services,
            graphql,
            metrics,
            admission,
        }))
    }
}
