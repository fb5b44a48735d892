//! Prometheus metrics, rendered at `GET /metrics`: HTTP traffic, rate-limit decisions and the
//! database pool.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::app::AppState;

/// The metrics this server exports.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    database_connections: IntGaugeVec,
    rate_limit_allowed: IntCounterVec,
    rate_limit_denied: IntCounterVec,
    events_published: IntCounterVec,
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
        })
    }

    /// Records one dispatched event.
    pub fn observe_event(&self, event_type: &str) {
        self.events_published.with_label_values(&[event_type]).inc();
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

/// `GET /metrics`: Prometheus text format.
pub async fn render(State(app): State<AppState>) -> impl IntoResponse {
    let (idle, active) = app.db.connection_counts();
    app.metrics
        .database_connections
        .with_label_values(&["idle"])
        .set(i64::from(idle));
    app.metrics
        .database_connections
        .with_label_values(&["active"])
        .set(i64::from(active));
    let mut body = Vec::new();
    if let Err(err) = TextEncoder::new().encode(&app.metrics.registry.gather(), &mut body) {
        tracing::error!(error = %err, "cannot encode metrics");
    }
    (
        [(
            header::CONTENT_TYPE,
            TextEncoder::new().format_type().to_owned(),
        )],
        body,
    )
}
