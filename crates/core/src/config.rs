//! Typed settings read from the environment, with defaults that run on a fresh machine.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (the default; for log shippers).
    Json,
    /// Human-readable, coloured lines.
    Pretty,
}

/// Argon2id cost parameters for password hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashing {
    /// Memory per hash in KiB (`ARGON2_MEMORY_KIB`, default 19456: OWASP's recommendation).
    pub memory_kib: u32,
    /// Passes over the memory (`ARGON2_ITERATIONS`, default 2).
    pub iterations: u32,
    /// Lanes (`ARGON2_PARALLELISM`, default 1).
    pub parallelism: u32,
}

/// Request rate limits, in requests per minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    /// Per user or API key (`RATE_LIMIT_PER_MINUTE`, default 1200).
    pub authenticated: u32,
    /// Per client IP for anonymous callers (`RATE_LIMIT_ANONYMOUS_PER_MINUTE`, default 600).
    pub anonymous: u32,
    /// Per-route limits that replace the above for one route (`RATE_LIMIT_PATHS`, e.g.
    /// `POST /api/v1/auth/login=10,POST /graphql=300`); keys are `METHOD route`.
    pub per_route: BTreeMap<String, u32>,
}

/// Limits on GraphQL operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphqlLimits {
    /// Deepest selection accepted (`GRAPHQL_MAX_DEPTH`, default 16).
    pub max_depth: usize,
    /// Highest complexity accepted (`GRAPHQL_MAX_COMPLEXITY`, default 2000).
    pub max_complexity: usize,
    /// Whether schema introspection is served (`GRAPHQL_INTROSPECTION`, default true).
    pub introspection: bool,
}

/// How webhooks are delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Limit on one delivery request, connect to last byte (`WEBHOOK_TIMEOUT_MS`, default 10 s).
    pub timeout: Duration,
    /// Deliver to private, loopback and link-local addresses too (`WEBHOOK_ALLOW_PRIVATE_NETWORKS`,
    /// default false: refused after DNS resolution, against SSRF). For tests and local setups.
    pub allow_private_networks: bool,
    /// Delay before the first retry, doubled for each further one (`WEBHOOK_RETRY_INITIAL_MS`,
    /// default 5 s), with ±25% jitter.
    pub retry_initial: Duration,
    /// Longest delay between retries (`WEBHOOK_RETRY_MAX_MS`, default 1 hour).
    pub retry_max: Duration,
    /// How long a delivery is retried before it is marked failed (`WEBHOOK_RETRY_WINDOW_SECS`,
    /// default 24 hours).
    pub retry_window: Duration,
    /// A webhook whose attempts have all failed for this long is disabled
    /// (`WEBHOOK_DISABLE_AFTER_SECS`, default 24 hours) ...
    pub disable_after: Duration,
    /// ... provided it failed at least this many times in a row (`WEBHOOK_DISABLE_MIN_FAILURES`,
    /// default 10).
    pub disable_min_failures: i32,
    /// Deliveries in flight at once per instance (`WEBHOOK_CONCURRENCY`, default 32); at most 4
    /// of them to any one webhook, so a slow receiver cannot hold up the others.
    pub concurrency: usize,
}

/// How invoices are made and chased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceSettings {
    /// The seller printed on every invoice (`SELLER_NAME`, default `StateSet Store`).
    pub seller_name: String,
    /// The seller's postal address (`SELLER_ADDRESS`, lines separated by `\n` or `|`; default
    /// `1 Commerce Way|San Francisco, CA 94105|US`).
    pub seller_address: String,
    /// The seller's tax registration number (`SELLER_TAX_ID`, default none).
    pub seller_tax_id: Option<String>,
    /// Days from issue to due date (`INVOICE_DUE_DAYS`, default 30).
    pub due_days: u32,
    /// Least time between two reminders about one overdue invoice
    /// (`INVOICE_REMINDER_INTERVAL_HOURS`, default 72).
    pub reminder_interval: Duration,
}

/// The Agentic Commerce Protocol door. `Debug` shows whether secrets are set, never them.
#[derive(Clone, PartialEq, Eq)]
pub struct AcpSettings {
    /// Our merchant id in payment handler configs and delegated allowances
    /// (`ACP_MERCHANT_ID`, default `acct_stateset`).
    pub merchant_id: String,
    /// Public base URL of this server, for `api_base_url`, order permalinks and links
    /// (`PUBLIC_BASE_URL`, default `http://localhost:8080`).
    pub public_base_url: String,
    /// Where order events go on the agent platform (`ACP_WEBHOOK_URL`); none: not sent.
    pub webhook_url: Option<String>,
    /// The shared secret signing them in `Merchant-Signature` (`ACP_WEBHOOK_SECRET`).
    pub webhook_secret: Option<String>,
    /// When set, every ACP request must be signed with this shared key
    /// (`ACP_SIGNATURE_KEY`): base64url HMAC-SHA256 over the canonical string of
    /// `adapters::acp::signed_content` (timestamp, method, path and query, body).
    pub signature_key: Option<String>,
    /// Store policies offered as ACP links, absolute http(s) URLs (`TERMS_URL`,
    /// `PRIVACY_URL`, `RETURNS_URL`); one not configured is not offered.
    pub terms_url: Option<String>,
    pub privacy_url: Option<String>,
    pub returns_url: Option<String>,
    /// Derives the token of each order's status page link (`JWT_SECRET`, so links survive
    /// restarts exactly when sign-ins do).
    pub status_link_secret: String,
}

impl std::fmt::Debug for AcpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |s: &Option<String>| if s.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("AcpSettings")
            .field("merchant_id", &self.merchant_id)
            .field("public_base_url", &self.public_base_url)
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &set(&self.webhook_secret))
            .field("signature_key", &set(&self.signature_key))
            .field("terms_url", &self.terms_url)
            .field("privacy_url", &self.privacy_url)
            .field("returns_url", &self.returns_url)
            .field("status_link_secret", &"<set>")
            .finish()
    }
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL URL of the system of record (`DATABASE_URL`).
    pub database_url: String,
    /// Largest number of pooled database connections (`DATABASE_MAX_CONNECTIONS`, default 16).
    pub database_max_connections: u32,
    /// PostgreSQL URL of a streaming replica (`DATABASE_READ_URL`, optional): storefront
    /// catalog and stock reads, which may lag by the replica's replay delay, go there; writes,
    /// cache fills and every read a decision or the caller's own write depends on stay on
    /// `DATABASE_URL`. Its pool has `DATABASE_MAX_CONNECTIONS` connections too.
    pub database_read_url: Option<String>,
    /// Redis URL (`REDIS_URL`); when set, rate limits and the catalog cache are shared by all
    /// instances.
    pub redis_url: Option<String>,
    /// The catalog's entity cache: time to live (`CATALOG_CACHE_TTL_SECS`, default 60; 0 turns
    /// it off) and entries kept in this process (`CATALOG_CACHE_ENTRIES`, default 50000).
    pub catalog_cache: crate::cache::CacheSettings,
    /// Address of the HTTP listener: GraphQL, REST, health, metrics (`HTTP_ADDR`).
    pub http_addr: SocketAddr,
    /// Address of the gRPC listener (`GRPC_ADDR`).
    pub grpc_addr: SocketAddr,
    /// Address where `stateset worker` serves `/metrics` and `/health` (`METRICS_ADDR`, default
    /// `0.0.0.0:9091`); `serve` has them on `HTTP_ADDR`.
    pub metrics_addr: SocketAddr,
    /// Log line format (`LOG_FORMAT`: `json` or `pretty`).
    pub log_format: LogFormat,
    /// Secret that signs JWTs (`JWT_SECRET`); generated per process when absent (dev only:
    /// tokens then die with the process and are not shared between instances).
    pub jwt_secret: String,
    /// Whether `jwt_secret` was generated rather than configured.
    pub jwt_secret_generated: bool,
    /// Access token lifetime (`ACCESS_TOKEN_TTL_SECS`, default 3600).
    pub access_token_ttl: Duration,
    /// Refresh token lifetime (`REFRESH_TOKEN_TTL_SECS`, default 30 days).
    pub refresh_token_ttl: Duration,
    pub password_hashing: PasswordHashing,
    pub rate_limits: RateLimits,
    pub graphql: GraphqlLimits,
    /// Largest request body in bytes (`MAX_BODY_BYTES`, default 1 MiB).
    pub max_body_bytes: usize,
    /// Origins allowed by CORS (`CORS_ALLOWED_ORIGINS`, comma-separated; `*` for any; empty:
    /// no cross-origin access).
    pub cors_allowed_origins: Vec<String>,
    /// Take the client IP from `X-Forwarded-For` (`TRUST_FORWARDED_FOR`, default false): only
    /// behind a proxy that sets it.
    pub trust_forwarded_for: bool,
    /// Which `X-Forwarded-For` hops are our own proxies (`TRUSTED_PROXIES`: how many, default
    /// 1, or their networks, e.g. `10.0.0.0/8,192.168.1.7/32`); the client is the right-most
    /// hop that is not one of them, never the client-controlled first entry.
    pub trusted_proxies: TrustedProxies,
    pub webhooks: WebhookSettings,
    pub payments: PaymentSettings,
    /// What storefronts may read of stock.
    pub storefront: StorefrontSettings,
    pub invoices: InvoiceSettings,
    pub acp: AcpSettings,
}

/// Our own proxies in front of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedProxies {
    /// This many proxies, each appending the address it was reached from.
    Count(usize),
    /// Proxies at these addresses.
    Networks(Vec<ipnet::IpNet>),
}

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if let Ok(count) = value.parse::<usize>() {
            return Ok(Self::Count(count));
        }
        value
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                n.parse::<ipnet::IpNet>()
                    .or_else(|_| n.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        format!("`{n}` is neither a count nor a network such as 10.0.0.0/8")
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self::Networks)
    }
}

/// What anonymous shoppers and customers see of stock (`STOREFRONT_STOCK_DISPLAY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockDisplay {
    /// The exact units for sale, and the level (the default).
    Quantity,
    /// Only `in_stock`, `low_stock` or `out_of_stock`.
    Level,
}

impl FromStr for StockDisplay {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "quantity" => Ok(Self::Quantity),
            "level" => Ok(Self::Level),
            other => Err(format!("`{other}` is not `quantity` or `level`")),
        }
    }
}

/// What storefronts may read of stock; staff (`inventory:read`) always see the numbers.
#[derive(Debug, Clone, Copy)]
pub struct StorefrontSettings {
    pub stock_display: StockDisplay,
    /// At or below this many units for sale a variant is `low_stock`
    /// (`STOREFRONT_LOW_STOCK_THRESHOLD`, default 5).
    pub low_stock_threshold: i64,
}

/// When checkout takes the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureMode {
    /// Authorize and capture at completion (the default).
    Automatic,
    /// Only authorize at completion; capture later (`POST /api/v1/payments/{id}/capture`).
    Manual,
}

impl FromStr for CaptureMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "automatic" => Ok(Self::Automatic),
            "manual" => Ok(Self::Manual),
            other => Err(format!("`{other}` is not `automatic` or `manual`")),
        }
    }
}

/// Payment providers and how checkout uses them. `Debug` shows whether secrets are set, never
/// the secrets.
#[derive(Clone)]
pub struct PaymentSettings {
    /// `CHECKOUT_CAPTURE`: `automatic` (default) or `manual`.
    pub checkout_capture: CaptureMode,
    /// Offer the built-in `test` provider, which approves by card test number and so ships
    /// goods for nothing (`PAYMENTS_TEST_PROVIDER`, default false; `serve --seed-demo` turns it
    /// on unless the variable says otherwise).
    pub test_provider: bool,
    /// Whether `PAYMENTS_TEST_PROVIDER` was given at all (an explicit `false` beats the demo).
    pub test_provider_configured: bool,
    /// Stripe's secret API key (`STRIPE_API_KEY`, `sk_...`); Stripe payment methods
    /// (`pm_...`) are accepted only with it.
    pub stripe_api_key: Option<String>,
    /// Stripe's API address (`STRIPE_API_BASE`, default `https://api.stripe.com`).
    pub stripe_api_base: String,
    /// Signing secret of Stripe's webhooks (`STRIPE_WEBHOOK_SECRET`, `whsec_...`); without it
    /// `POST /api/v1/payments/webhooks/stripe` answers 503.
    pub stripe_webhook_secret: Option<String>,
    /// Timeout of each request to a provider (`PAYMENT_PROVIDER_TIMEOUT_MS`, default 15000).
    pub provider_timeout: Duration,
    /// How long a payment attempt whose outcome is unknown (the provider did not answer, or
    /// the process died mid-way) is left for the client's retry before the reconciler settles
    /// it against the provider (`PAYMENT_RECONCILE_AFTER_SECS`, default 60).
    pub reconcile_after: Duration,
    /// How often the reconciler looks (`PAYMENT_RECONCILE_INTERVAL_SECS`, default 30).
    pub reconcile_interval: Duration,
    /// Where the ACP delegated-payment vault keeps cards (`ACP_VAULT_PROVIDER`: `stripe`, as
    /// PaymentMethods, or `test`); by default Stripe when `STRIPE_API_KEY` is set, else the test
    /// provider (refused while it is off).
    pub vault_provider: VaultProvider,
    pub stablepay: StablePaySettings,
}

/// Which provider holds the cards the ACP vault is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaultProvider {
    /// Stripe PaymentMethods, charged with PaymentIntents.
    Stripe,
    /// The built-in test provider (only while `PAYMENTS_TEST_PROVIDER` is on).
    Test,
}

impl FromStr for VaultProvider {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "stripe" => Ok(Self::Stripe),
            "test" => Ok(Self::Test),
            other => Err(format!("`{other}` is not `stripe` or `test`")),
        }
    }
}

/// The stablecoin provider: where customers send USDC/USDT and how its callbacks are trusted.
#[derive(Clone)]
pub struct StablePaySettings {
    /// Receiving address per network (`STABLEPAY_ADDRESSES`, e.g.
    /// `ethereum=0xabc…,base=0xabc…,solana=9xQ…`); none: stablecoin payments are off.
    pub addresses: BTreeMap<String, String>,
    /// Secret that signs StablePay's callbacks (`STABLEPAY_CALLBACK_SECRET`).
    pub callback_secret: Option<String>,
    /// Confirmations before a transfer counts (`STABLEPAY_CONFIRMATIONS`, default 12).
    pub confirmations: i32,
    /// How long a payment request stays payable (`STABLEPAY_REQUEST_TTL_SECS`, default 3600).
    pub request_ttl: Duration,
}

/// The database a fresh machine of this kind can reach with trust authentication.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/stateset";

fn parse<T: FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match lookup(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}=`{raw}` is invalid: {e}")),
    }
}

/// Parses `METHOD route=N,METHOD route=N`.
fn parse_route_limits(raw: &str) -> anyhow::Result<BTreeMap<String, u32>> {
    let mut limits = BTreeMap::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (route, limit) = entry.rsplit_once('=').with_context(|| {
            format!("RATE_LIMIT_PATHS entry `{entry}` must look like `POST /api/v1/auth/login=10`")
        })?;
        let limit: u32 = limit
            .trim()
            .parse()
            .with_context(|| format!("RATE_LIMIT_PATHS: `{limit}` is not a number"))?;
        anyhow::ensure!(limit > 0, "RATE_LIMIT_PATHS: limits must be positive");
        limits.insert(route.trim().to_owned(), limit);
    }
    Ok(limits)
}

/// How a secret setting shows in `Debug` output.
fn redacted(secret: &Option<String>) -> &'static str {
    if secret.is_some() { "<set>" } else { "<unset>" }
}

impl std::fmt::Debug for PaymentSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentSettings")
            .field("checkout_capture", &self.checkout_capture)
            .field("test_provider", &self.test_provider)
            .field("test_provider_configured", &self.test_provider_configured)
            .field("stripe_api_key", &redacted(&self.stripe_api_key))
            .field("stripe_api_base", &self.stripe_api_base)
            .field(
                "stripe_webhook_secret",
                &redacted(&self.stripe_webhook_secret),
            )
            .field("provider_timeout", &self.provider_timeout)
            .field("reconcile_after", &self.reconcile_after)
            .field("reconcile_interval", &self.reconcile_interval)
            .field("vault_provider", &self.vault_provider)
            .field("stablepay", &self.stablepay)
            .finish()
    }
}

impl std::fmt::Debug for StablePaySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StablePaySettings")
            .field("addresses", &self.addresses)
            .field("callback_secret", &redacted(&self.callback_secret))
            .field("confirmations", &self.confirmations)
            .field("request_ttl", &self.request_ttl)
            .finish()
    }
}

/// `key=value` pairs separated by commas, as in `STABLEPAY_ADDRESSES`.
fn parse_pairs(name: &str, raw: &str) -> anyhow::Result<BTreeMap<String, String>> {
    raw.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (key, value) = entry
                .split_once('=')
                .with_context(|| format!("{name} entry `{entry}` must look like `key=value`"))?;
            Ok((key.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// An optional URL setting that, when given, must be an absolute http(s) URL with a host:
/// a link handed to buyers must lead somewhere.
fn policy_url(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> anyhow::Result<Option<String>> {
    let Some(raw) = lookup(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    let url = reqwest::Url::parse(&raw)
        .with_context(|| format!("{name} must be an absolute http(s) URL, not `{raw}`"))?;
    anyhow::ensure!(
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()),
        "{name} must be an absolute http(s) URL, not `{raw}`"
    );
    Ok(Some(raw))
}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads the settings through `lookup`, so tests can supply their own environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let var = |name: &str, default: &str| lookup(name).unwrap_or_else(|| default.to_owned());
        let log_format = match var("LOG_FORMAT", "json").as_str() {
            "json" => LogFormat::Json,
            "pretty" => LogFormat::Pretty,
            other => anyhow::bail!("LOG_FORMAT must be `json` or `pretty`, not `{other}`"),
        };
        let (jwt_secret, jwt_secret_generated) = match lookup("JWT_SECRET") {
            Some(secret) => {
                anyhow::ensure!(
                    secret.len() >= 32,
                    "JWT_SECRET must be at least 32 characters"
                );
                (secret, false)
            }
            None => (crate::auth::random_token(48), true),
        };
        let password_hashing = PasswordHashing {
            memory_kib: parse(&lookup, "ARGON2_MEMORY_KIB", 19 * 1024)?,
            iterations: parse(&lookup, "ARGON2_ITERATIONS", 2)?,
            parallelism: parse(&lookup, "ARGON2_PARALLELISM", 1)?,
        };
        let rate_limits = RateLimits {
            authenticated: parse(&lookup, "RATE_LIMIT_PER_MINUTE", 1200)?,
            anonymous: parse(&lookup, "RATE_LIMIT_ANONYMOUS_PER_MINUTE", 600)?,
            per_route: parse_route_limits(&var("RATE_LIMIT_PATHS", ""))?,
        };
        anyhow::ensure!(
            rate_limits.authenticated > 0 && rate_limits.anonymous > 0,
            "rate limits must be positive"
        );
        Ok(Self {
            database_url: var("DATABASE_URL", DEFAULT_DATABASE_URL),
            database_max_connections: parse(&lookup, "DATABASE_MAX_CONNECTIONS", 16)?,
            database_read_url: lookup("DATABASE_READ_URL").filter(|url| !url.is_empty()),
            redis_url: lookup("REDIS_URL"),
            catalog_cache: crate::cache::CacheSettings {
                ttl: std::time::Duration::from_secs(parse(&lookup, "CATALOG_CACHE_TTL_SECS", 60)?),
                capacity: parse(&lookup, "CATALOG_CACHE_ENTRIES", 50_000)?,
            },
            http_addr: parse(&lookup, "HTTP_ADDR", SocketAddr::from(([0, 0, 0, 0], 8080)))?,
            grpc_addr: parse(
                &lookup,
                "GRPC_ADDR",
                SocketAddr::from(([0, 0, 0, 0], 50051)),
            )?,
            metrics_addr: parse(
                &lookup,
                "METRICS_ADDR",
                SocketAddr::from(([0, 0, 0, 0], 9091)),
            )?,
            log_format,
            jwt_secret: jwt_secret.clone(),
            jwt_secret_generated,
            access_token_ttl: Duration::from_secs(parse(&lookup, "ACCESS_TOKEN_TTL_SECS", 3600)?),
            refresh_token_ttl: Duration::from_secs(parse(
                &lookup,
                "REFRESH_TOKEN_TTL_SECS",
                30 * 24 * 3600,
            )?),
            password_hashing,
            rate_limits,
            graphql: GraphqlLimits {
                max_depth: parse(&lookup, "GRAPHQL_MAX_DEPTH", 16)?,
                max_complexity: parse(&lookup, "GRAPHQL_MAX_COMPLEXITY", 2000)?,
                introspection: parse(&lookup, "GRAPHQL_INTROSPECTION", true)?,
            },
            max_body_bytes: parse(&lookup, "MAX_BODY_BYTES", 1024 * 1024)?,
            cors_allowed_origins: var("CORS_ALLOWED_ORIGINS", "")
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect(),
            trust_forwarded_for: parse(&lookup, "TRUST_FORWARDED_FOR", false)?,
            trusted_proxies: parse(&lookup, "TRUSTED_PROXIES", TrustedProxies::Count(1))?,
            webhooks: WebhookSettings {
                timeout: Duration::from_millis(parse(&lookup, "WEBHOOK_TIMEOUT_MS", 10_000)?),
                allow_private_networks: parse(&lookup, "WEBHOOK_ALLOW_PRIVATE_NETWORKS", false)?,
                retry_initial: Duration::from_millis(parse(
                    &lookup,
                    "WEBHOOK_RETRY_INITIAL_MS",
                    5_000,
                )?),
                retry_max: Duration::from_millis(parse(
                    &lookup,
                    "WEBHOOK_RETRY_MAX_MS",
                    3_600_000,
                )?),
                retry_window: Duration::from_secs(parse(
                    &lookup,
                    "WEBHOOK_RETRY_WINDOW_SECS",
                    24 * 3600,
                )?),
                disable_after: Duration::from_secs(parse(
                    &lookup,
                    "WEBHOOK_DISABLE_AFTER_SECS",
                    24 * 3600,
                )?),
                disable_min_failures: parse(&lookup, "WEBHOOK_DISABLE_MIN_FAILURES", 10)?,
                concurrency: parse::<usize>(&lookup, "WEBHOOK_CONCURRENCY", 32)?.max(1),
            },
            storefront: StorefrontSettings {
                stock_display: parse(&lookup, "STOREFRONT_STOCK_DISPLAY", StockDisplay::Quantity)?,
                low_stock_threshold: parse::<u32>(&lookup, "STOREFRONT_LOW_STOCK_THRESHOLD", 5)?
                    .into(),
            },
            payments: PaymentSettings {
                checkout_capture: parse(&lookup, "CHECKOUT_CAPTURE", CaptureMode::Automatic)?,
                test_provider: parse(&lookup, "PAYMENTS_TEST_PROVIDER", false)?,
                test_provider_configured: lookup("PAYMENTS_TEST_PROVIDER").is_some(),
                stripe_api_key: lookup("STRIPE_API_KEY").filter(|k| !k.is_empty()),
                stripe_api_base: var("STRIPE_API_BASE", "https://api.stripe.com")
                    .trim_end_matches('/')
                    .to_owned(),
                stripe_webhook_secret: lookup("STRIPE_WEBHOOK_SECRET").filter(|k| !k.is_empty()),
                provider_timeout: Duration::from_millis(parse(
                    &lookup,
                    "PAYMENT_PROVIDER_TIMEOUT_MS",
                    15_000,
                )?),
                reconcile_after: Duration::from_secs(parse(
                    &lookup,
                    "PAYMENT_RECONCILE_AFTER_SECS",
                    60,
                )?),
                reconcile_interval: Duration::from_secs(
                    parse::<u64>(&lookup, "PAYMENT_RECONCILE_INTERVAL_SECS", 30)?.max(1),
                ),
                vault_provider: parse(
                    &lookup,
                    "ACP_VAULT_PROVIDER",
                    if lookup("STRIPE_API_KEY").is_some_and(|k| !k.is_empty()) {
                        VaultProvider::Stripe
                    } else {
                        VaultProvider::Test
                    },
                )?,
                stablepay: StablePaySettings {
                    addresses: parse_pairs("STABLEPAY_ADDRESSES", &var("STABLEPAY_ADDRESSES", ""))?,
                    callback_secret: lookup("STABLEPAY_CALLBACK_SECRET").filter(|k| !k.is_empty()),
                    confirmations: parse(&lookup, "STABLEPAY_CONFIRMATIONS", 12)?,
                    request_ttl: Duration::from_secs(parse(
                        &lookup,
                        "STABLEPAY_REQUEST_TTL_SECS",
                        3600,
                    )?),
                },
            },
            invoices: InvoiceSettings {
                seller_name: var("SELLER_NAME", "StateSet Store"),
                seller_address: var(
                    "SELLER_ADDRESS",
                    "1 Commerce Way|San Francisco, CA 94105|US",
                )
                .replace("\\n", "\n")
                .split(['|', '\n'])
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .collect::<Vec<_>>()
                .join("\n"),
                seller_tax_id: lookup("SELLER_TAX_ID"),
                due_days: parse(&lookup, "INVOICE_DUE_DAYS", 30)?,
                reminder_interval: Duration::from_secs(
                    3600 * parse::<u64>(&lookup, "INVOICE_REMINDER_INTERVAL_HOURS", 72)?,
                ),
            },
            acp: AcpSettings {
                merchant_id: var("ACP_MERCHANT_ID", "acct_stateset"),
                public_base_url: var("PUBLIC_BASE_URL", "http://localhost:8080")
                    .trim_end_matches('/')
                    .to_owned(),
                webhook_url: lookup("ACP_WEBHOOK_URL").filter(|v| !v.trim().is_empty()),
                webhook_secret: lookup("ACP_WEBHOOK_SECRET").filter(|v| !v.is_empty()),
                signature_key: lookup("ACP_SIGNATURE_KEY").filter(|v| !v.is_empty()),
                terms_url: policy_url(&lookup, "TERMS_URL")?,
                privacy_url: policy_url(&lookup, "PRIVACY_URL")?,
                returns_url: policy_url(&lookup, "RETURNS_URL")?,
                status_link_secret: jwt_secret.clone(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_without_any_environment() -> anyhow::Result<()> {
        let config = Config::from_lookup(|_| None)?;
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(
            config.database_read_url, None,
            "no replica unless one is named"
        );
        assert_eq!(config.http_addr.port(), 8080);
        assert_eq!(config.grpc_addr.port(), 50051);
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(config.jwt_secret_generated && config.jwt_secret.len() >= 32);
        assert_eq!(config.access_token_ttl, Duration::from_secs(3600));
        assert_eq!(config.rate_limits.authenticated, 1200);
        assert_eq!(config.invoices.due_days, 30);
        assert!(
            !config.payments.test_provider,
            "the test payment provider is off unless asked for"
        );
        assert_eq!(
            config.invoices.reminder_interval,
            Duration::from_secs(72 * 3600)
        );
        assert_eq!(
            config.invoices.seller_address,
            "1 Commerce Way\nSan Francisco, CA 94105\nUS"
        );
        Ok(())
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        let err = Config::from_lookup(|name| (name == "HTTP_ADDR").then(|| "nope".to_owned()));
        assert!(
            err.err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("HTTP_ADDR")
        );
    }

    #[test]
    fn payment_secrets_never_show_in_debug_output() -> anyhow::Result<()> {
        let config = Config::from_lookup(|name| match name {
            "STRIPE_API_KEY" => Some("sk_live_very_secret".into()),
            "STRIPE_WEBHOOK_SECRET" => Some("whsec_very_secret".into()),
            "STABLEPAY_CALLBACK_SECRET" => Some("stablepay_very_secret".into()),
            "STABLEPAY_ADDRESSES" => Some("base=0xabc, solana=9xQ".into()),
            _ => None,
        })?;
        let shown = format!("{:?}", config.payments);
        assert!(!shown.contains("very_secret"), "{shown}");
        assert!(shown.contains("<set>"));
        assert_eq!(config.payments.stablepay.addresses["solana"], "9xQ");
        Ok(())
    }

    #[test]
    fn acp_secrets_never_show_in_debug_output() -> anyhow::Result<()> {
        let config = Config::from_lookup(|name| match name {
            "ACP_WEBHOOK_URL" => Some("https://agent.example/agentic_checkout/webhooks".into()),
            "ACP_WEBHOOK_SECRET" => Some("whsec_very_secret".into()),
            "ACP_SIGNATURE_KEY" => Some("sig_very_secret".into()),
            "PUBLIC_BASE_URL" => Some("https://shop.example/".into()),
            _ => None,
        })?;
        let shown = format!("{:?}", config.acp);
        assert!(!shown.contains("very_secret"), "{shown}");
        assert!(shown.contains("<set>"));
        assert_eq!(config.acp.public_base_url, "https://shop.example");
        assert_eq!(config.acp.merchant_id, "acct_stateset");
        Ok(())
    }

    #[test]
    fn policy_urls_must_be_absolute_http_urls() -> anyhow::Result<()> {
        let config = Config::from_lookup(|name| {
            (name == "TERMS_URL").then(|| "https://shop.example/terms".to_owned())
        })?;
        assert_eq!(
            config.acp.terms_url.as_deref(),
            Some("https://shop.example/terms")
        );
        assert_eq!(config.acp.privacy_url, None);
        for bad in [
            "/legal/privacy",
            "ftp://shop.example/p",
            "javascript:alert(1)",
            "https://",
        ] {
            let err = Config::from_lookup(|name| (name == "PRIVACY_URL").then(|| bad.to_owned()));
            let message = err.err().map(|e| format!("{e:#}")).unwrap_or_default();
            assert!(message.contains("PRIVACY_URL"), "{bad}: {message}");
        }
        Ok(())
    }

    #[test]
    fn trusted_proxies_are_a_count_or_networks() -> anyhow::Result<()> {
        assert_eq!("2".parse(), Ok(TrustedProxies::Count(2)));
        let TrustedProxies::Networks(nets) = "10.0.0.0/8, 192.168.1.7"
            .parse()
            .map_err(anyhow::Error::msg)?
        else {
            anyhow::bail!("networks expected");
        };
        assert_eq!(nets.len(), 2);
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        Ok(())
    }

    #[test]
    fn route_limits_parse() -> anyhow::Result<()> {
        let limits = parse_route_limits("POST /api/v1/auth/login=10, GET /api/v1/products=50")?;
        assert_eq!(limits.get("POST /api/v1/auth/login"), Some(&10));
        assert_eq!(limits.get("GET /api/v1/products"), Some(&50));
        assert!(parse_route_limits("nonsense").is_err());
        Ok(())
    }
}
