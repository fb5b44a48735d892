//! `stateset serve`: prepare the database, then run the HTTP and gRPC listeners until a
//! shutdown signal, draining in-flight requests before exiting.

use anyhow::Context as _;
use tokio::sync::watch;

use crate::adapters::grpc;
use crate::app::App;
use crate::config::Config;

/// Creates the database if missing and applies pending migrations.
pub async fn prepare_database(config: &Config) -> anyhow::Result<()> {
    if crate::db::create_database_if_missing(&config.database_url).await? {
        tracing::info!("created the database");
    }
    let applied = crate::db::migrate(&config.database_url).await?;
    tracing::info!(applied, "migrations are up to date");
    Ok(())
}

/// What `serve` does before it listens.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// Create the database if missing and apply pending migrations.
    pub migrate: bool,
    /// Load the demo catalog (what exists already is kept).
    pub seed_demo: bool,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn serve(mut config: Config, options: ServeOptions) -> anyhow::Result<()> {
    if options.migrate {
        prepare_database(&config).await?;
    }
    if config.jwt_secret_generated {
        tracing::warn!(
            "JWT_SECRET is not set: using a random secret; tokens end with this process"
        );
    }
    // The demo is a shop to try out, so its test cards work unless told otherwise.
    if options.seed_demo && !config.payments.test_provider_configured {
        config.payments.test_provider = true;
    }
    warn_about_test_payments(&config);
    let app = App::new(config.clone())?;
    if options.seed_demo {
        let report = crate::seed::demo(&app.services).await?;
        tracing::info!(
            categories = report.categories_created,
            products = report.products_created,
            shipping_methods = report.shipping_methods_created,
            tax_rates = report.tax_rates_created,
            discount_codes = report.discount_codes_created,
            "demo shop loaded"
        );
    }
    let (stop, stopped) = watch::channel(false);
    let listener = app
        .bus
        .start_listener(config.database_url.clone(), stopped.clone())
        .await?;

    let http_listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("cannot listen on HTTP_ADDR {}", config.http_addr))?;
    tracing::info!(addr = %config.http_addr, "HTTP listening (GraphQL /graphql, REST /api/v1)");
    tracing::info!(addr = %config.grpc_addr, "gRPC listening");

    let router = crate::http::router(app.clone());
    let http = axum::serve(
        http_listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(wait_for(stopped.clone()));
    let background = start_background_work(&app, &stopped);
    let grpc = grpc::serve(app.clone(), config.grpc_addr, wait_for(stopped.clone()));
    let signal = async move {
        shutdown_signal().await;
        tracing::info!("shutting down: draining in-flight requests");
        let _ = stop.send(true);
    };
    let (http, grpc, ()) = tokio::join!(
        async { http.await.map_err(anyhow::Error::from) },
        grpc,
        signal
    );
    http?;
    grpc?;
    futures::future::join_all(background).await;
    let _ = listener.await;
    tracing::info!("stopped");
    Ok(())
}

/// `stateset worker`: the outbox relay and upkeep without serving requests, for deployments
/// that run background work apart from the API servers.
pub async fn work(config: Config) -> anyhow::Result<()> {
    prepare_database(&config).await?;
    warn_about_test_payments(&config);
    let app = App::new(config.clone())?;
    let (stop, stopped) = watch::channel(false);
    let listener = app
        .bus
        .start_listener(config.database_url.clone(), stopped.clone())
        .await?;
    let metrics_listener = tokio::net::TcpListener::bind(config.metrics_addr)
        .await
        .with_context(|| format!("cannot listen on METRICS_ADDR {}", config.metrics_addr))?;
    tracing::info!(addr = %config.metrics_addr, "metrics listening (/metrics, /health)");
    let operator = axum::serve(metrics_listener, crate::http::operator_router(app.clone()))
        .with_graceful_shutdown(wait_for(stopped.clone()));
    let background = start_background_work(&app, &stopped);
    tracing::info!("worker running: outbox relay, webhook deliveries and upkeep");
    let signal = async move {
        shutdown_signal().await;
        // Stored even when every receiver has gone, so nothing can miss it.
        stop.send_replace(true);
    };
    let (operator, ()) = tokio::join!(operator, signal);
    operator.context("the metrics listener failed")?;
    futures::future::join_all(background).await;
    let _ = listener.await;
    tracing::info!("stopped");
    Ok(())
}

/// Says loudly that test cards are accepted, so nobody runs a shop that way unawares.
fn warn_about_test_payments(config: &Config) {
    if config.payments.test_provider {
        tracing::warn!(
            "the TEST payment provider is enabled (PAYMENTS_TEST_PROVIDER or --seed-demo): \
             test card numbers are accepted and orders are paid with no money; never in production"
        );
    }
}

/// The work every instance does besides answering requests: the outbox relay, webhook
/// deliveries and upkeep. Each task ends once `stopped` turns true (webhook attempts under
/// way are finished and recorded first).
fn start_background_work(
    app: &std::sync::Arc<App>,
    stopped: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(housekeeping(app.clone(), stopped.clone())),
        tokio::spawn(reconcile_payments(app.clone(), stopped.clone())),
        tokio::spawn(app.relay.clone().run(stopped.clone())),
        tokio::spawn(app.services.webhooks.clone().run(stopped.clone())),
    ]
}

/// Periodic upkeep: forget idle rate-limit state, expired idempotency keys and long-expired
/// carts; close stablecoin payment requests that were not paid in time; remind about overdue
/// invoices.
async fn housekeeping(app: std::sync::Arc<App>, mut stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        app.admission.housekeeping();
        match app.services.carts.sweep_expired().await {
            Ok(0) => {}
            Ok(swept) => tracing::info!(swept, "expired carts deleted"),
            Err(err) => tracing::warn!(error = %err, "cannot sweep expired carts"),
        }
        match app.services.idempotency.sweep().await {
            Ok(0) => {}
            Ok(swept) => tracing::info!(swept, "expired idempotency keys deleted"),
            Err(err) => tracing::warn!(error = %err, "cannot sweep idempotency keys"),
        }
        match app.services.payments.expire_stablecoin_requests().await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "unpaid stablecoin requests expired"),
            Err(err) => tracing::warn!(error = %err, "cannot expire stablecoin requests"),
        }
        let ctx = crate::services::Ctx::system();
        match app.services.invoices.send_overdue_reminders(&ctx).await {
            Ok(0) => {}
            Ok(sent) => tracing::info!(sent, "overdue invoice reminders written"),
            Err(err) => tracing::warn!(error = %err, "cannot write overdue invoice reminders"),
        }
    }
}

/// Settles payment attempts left in doubt (see `payments::attempts`): once at start, for what a
/// crash left behind, then every `PAYMENT_RECONCILE_INTERVAL_SECS`.
async fn reconcile_payments(app: std::sync::Arc<App>, mut stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(app.config.payments.reconcile_interval);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        match app.services.payments.settle_in_doubt().await {
            Ok(0) => {}
            Ok(settled) => tracing::info!(settled, "payment attempts in doubt settled"),
            Err(err) => tracing::warn!(error = %err, "cannot settle payment attempts in doubt"),
        }
    }
}

async fn wait_for(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
