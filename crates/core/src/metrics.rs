//! Prometheus metrics, rendered at `GET /metrics` (by `stateset worker` on `METRICS_ADDR`): HTTP
//! traffic, rate-limit decisions, Redis operations, the database pool, events, webhook
//! deliveries, live subscriptions and business counters.
//!
//! Each metric is counted by the process where its thing happens, once the change is committed:
//! business counters by the service that made the change, events by the relay that dispatched
//! them. Prometheus sums the instances.

use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

/// The metrics this server exports.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    database_connections: IntGaugeVec,
    rate_limit_allowed: IntCounterVec,
    rate_limit_denied: IntCounterVec,
    events_published: IntCounterVec,
    webhook_deliveries: IntCounterVec,
    subscriptions_active: IntGauge,
    redis_operations: IntCounterVec,
    cache_lookups: IntCounterVec,
    orders_created: IntCounter,
    orders_completed: IntCounter,
    inventory_reservations: IntCounter,
    payments_processed: IntCounter,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let labels = ["method", "route", "status"];
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered"),
            &labels,
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_ms",
                "Time to answer an HTTP request, in milliseconds",
            )
            .buckets(vec![
                1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0,
            ]),
            &labels,
        )?;
        let database_connections = IntGaugeVec::new(
            Opts::new(
                "database_connections",
                "Pooled database connections by state (idle, active)",
            ),
            &["state"],
        )?;
        let rate_limit_allowed = IntCounterVec::new(
            Opts::new(
                "rate_limit_allowed_total",
                "Requests let through by the rate limiter",
            ),
            &["key_type", "path"],
        )?;
        let rate_limit_denied = IntCounterVec::new(
            Opts::new(
                "rate_limit_denied_total",
                "Requests refused by the rate limiter",
            ),
            &["key_type", "path"],
        )?;
        let events_published = IntCounterVec::new(
            Opts::new(
                "events_published_total",
                "Events dispatched by the outbox relay",
            ),
            &["type"],
        )?;
        let webhook_deliveries = IntCounterVec::new(
            Opts::new(
                "webhook_deliveries_total",
                "Webhook delivery attempts by result: success, retry (failed, will be retried), \
                 failed (failed, retries exhausted) or error (could not be recorded)",
            ),
            &["result"],
        )?;
        let cache_lookups = IntCounterVec::new(
            Opts::new(
                "cache_lookups_total",
                "Entity cache lookups by cache and result (hit, miss)",
            ),
            &["cache", "result"],
        )?;
        let redis_operations = IntCounterVec::new(
            Opts::new(
                "redis_operations_total",
                "Redis operations by operation and result (ok, error)",
            ),
            &["operation", "result"],
        )?;
        let subscriptions_active = IntGauge::new(
            "graphql_subscriptions_active",
            "Live GraphQL subscriptions on this instance",
        )?;
        let counter = |name: &str, help: &str| -> anyhow::Result<IntCounter> {
            let counter = IntCounter::new(name, help)?;
            registry.register(Box::new(counter.clone()))?;
            Ok(counter)
        };
        let orders_created = counter("orders_created_total", "Orders placed")?;
        let orders_completed = counter("orders_completed_total", "Orders completed")?;
        let inventory_reservations = counter(
            "inventory_reservations_total",
            "Stock reservations made (one per reserved line)",
        )?;
        let payments_processed = counter(
            "payments_processed_total",
            "Payments made: authorized or captured by a provider, or received in stablecoin",
        )?;
        registry.register(Box::new(redis_operations.clone()))?;
        registry.register(Box::new(cache_lookups.clone()))?;
        registry.register(Box::new(webhook_deliveries.clone()))?;
        registry.register(Box::new(subscriptions_active.clone()))?;
        registry.register(Box::new(events_published.clone()))?;
        registry.register(Box::new(rate_limit_allowed.clone()))?;
        registry.register(Box::new(rate_limit_denied.clone()))?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(database_connections.clone()))?;
        Ok(Self {
            registry,
            http_requests,
            http_duration,
            database_connections,
            rate_limit_allowed,
            rate_limit_denied,
            events_published,
            webhook_deliveries,
            subscriptions_active,
            redis_operations,
            cache_lookups,
            orders_created,
            orders_completed,
            inventory_reservations,
            payments_processed,
        })
    }

    /// Records one event dispatched by this instance's relay.
    pub fn observe_event(&self, event_type: &str) {
        self.events_published.with_label_values(&[event_type]).inc();
    }

    /// Counts committed business changes; called by the service that committed them.
    pub fn observe_business(&self, change: Business, count: u64) {
        let counter = match change {
            Business::OrderCreated => &self.orders_created,
            Business::OrderCompleted => &self.orders_completed,
            Business::StockReserved => &self.inventory_reservations,
            Business::PaymentProcessed => &self.payments_processed,
        };
        counter.inc_by(count);
    }

    /// Records one Redis operation (`operation` names what it was for).
    pub fn observe_redis(&self, operation: &str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.redis_operations
            .with_label_values(&[operation, result])
            .inc();
    }

    /// Counts the hits and misses of one entity cache lookup.
    pub fn observe_cache(&self, cache: &str, hits: usize, misses: usize) {
        for (result, n) in [("hit", hits), ("miss", misses)] {
            if n > 0 {
                self.cache_lookups
                    .with_label_values(&[cache, result])
                    .inc_by(n as u64);
            }
        }
    }

    /// Records one webhook delivery attempt.
    pub fn observe_webhook_delivery(&self, result: &str) {
        self.webhook_deliveries.with_label_values(&[result]).inc();
    }

    /// Counts a live subscription until the returned guard is dropped.
    pub fn subscription_started(&self) -> SubscriptionGuard {
        self.subscriptions_active.inc();
        SubscriptionGuard(self.subscriptions_active.clone())
    }

    /// Records one rate-limit decision.
    pub fn observe_rate_limit(&self, key_type: &str, path: &str, allowed: bool) {
        let counter = if allowed {
            &self.rate_limit_allowed
        } else {
            &self.rate_limit_denied
        };
        counter.with_label_values(&[key_type, path]).inc();
    }

    /// Records one answered HTTP request.
    pub fn observe_http(&self, method: &str, route: &str, status: u16, duration_ms: f64) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.http_requests.with_label_values(&labels).inc();
        self.http_duration
            .with_label_values(&labels)
            .observe(duration_ms);
    }
}

/// The business changes counted by the services that commit them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Business {
    /// `orders_created_total`: an order was placed (staff, checkout, ACP, split).
    OrderCreated,
    /// `orders_completed_total`: an order reached `completed`.
    OrderCompleted,
    /// `inventory_reservations_total`: a line's stock was reserved.
    StockReserved,
    /// `payments_processed_total`: a payment was made (authorized or captured by a provider,
    /// or a stablecoin transfer received).
    PaymentProcessed,
}

/// Holds one count in `graphql_subscriptions_active` while alive.
pub struct SubscriptionGuard(IntGauge);

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The exposition's content type.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

impl Metrics {
    /// Every metric in Prometheus text format, with the pool's `idle` and `active`
    /// connections as they are now.
    pub fn encode(&self, idle: u32, active: u32) -> Vec<u8> {
        self.database_connections
            .with_label_values(&["idle"])
            .set(i64::from(idle));
        self.database_connections
            .with_label_values(&["active"])
            .set(i64::from(active));
        let mut body = Vec::new();
        if let Err(err) = TextEncoder::new().encode(&self.registry.gather(), &mut body) {
            tracing::error!(error = %err, "cannot encode metrics");
        }
        body
    }
}
