//! The test harness: a migrated template database made once per run, a fresh copy of it per
//! test (dropped afterwards), and an [`TestApp`] wired exactly like `stateset serve`.

#![allow(dead_code)]

pub mod grpc_calls;
pub mod grpc_surface;
pub mod receiver;
pub mod reflection;
pub mod replica;
pub mod stripe;

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use stateset::app::{App, AppState};
use stateset::config::Config;
use stateset::db::quote_ident;
use stateset::services::Ctx;
use tokio::sync::{OnceCell, watch};
use tower::ServiceExt as _;

/// The server's PostgreSQL, overridable with `TEST_DATABASE_URL` (any database on it will do).
fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of `database` on the test server.
pub fn url_for(database: &str) -> String {
    url_on(&server_url(), database)
}

/// The URL of `database` on the server of `server` (a URL of any database there).
pub fn url_on(server: &str, database: &str) -> String {
    let (base, _) = server.rsplit_once('/').unwrap_or((server, ""));
    format!("{base}/{database}")
}

/// Every database the tests make is named `stateset_test_<unix seconds>_<unique>`, so a run
/// can tell its own from another run's and sweep only what is old enough to be abandoned.
const PREFIX: &str = "stateset_test_";
/// Databases older than this belong to finished or crashed runs (a whole run takes a few
/// minutes); each run leaves its template behind for the next run to sweep.
const ABANDONED_AFTER_SECS: u64 = 900;

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fresh database name for this run.
pub fn fresh_database_name() -> String {
    format!("{PREFIX}{}_{}", now_secs(), uuid::Uuid::new_v4().simple())
}

/// The migrated template of this process, made once per run.
static TEMPLATE: OnceCell<String> = OnceCell::const_new();

async fn admin() -> AsyncPgConnection {
    admin_on(&server_url()).await
}

async fn admin_on(server: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(&url_on(server, "postgres"))
        .await
        .expect("PostgreSQL must be running for the tests")
}

/// Builds this run's template: sweeps databases abandoned by crashed runs, then migrates.
/// Runs in parallel (another checkout, CI) keep their own template and databases.
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let mut conn = admin().await;
            #[derive(diesel::QueryableByName)]
            struct Name {
                #[diesel(sql_type = diesel::sql_types::Text)]
                datname: String,
            }
            let existing: Vec<Name> = diesel::sql_query(format!(
                "SELECT datname FROM pg_database WHERE datname LIKE '{PREFIX}%'"
            ))
            .load(&mut conn)
            .await
            .expect("list databases");
            for name in existing {
                let created = name.datname[PREFIX.len()..]
                    .split('_')
                    .next()
                    .and_then(|s| s.parse::<u64>().ok());
                if created.is_none_or(|at| now_secs().saturating_sub(at) > ABANDONED_AFTER_SECS) {
                    let _ = diesel::sql_query(format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        quote_ident(&name.datname)
                    ))
                    .execute(&mut conn)
                    .await;
                }
            }
            let template = fresh_database_name();
            diesel::sql_query(format!("CREATE DATABASE {}", quote_ident(&template)))
                .execute(&mut conn)
                .await
                .expect("create template");
            stateset::db::migrate(&url_for(&template))
                .await
                .expect("migrate template");
            template
        })
        .await
}

/// A database of its own for one test, dropped with it.
pub struct TestDb {
    pub name: String,
    pub url: String,
    /// The server it lives on.
    server: String,
}

impl TestDb {
    /// A copy of this run's migrated template on the test server.
    pub async fn new() -> Self {
        let template = template().await;
        let name = fresh_database_name();
        let mut conn = admin().await;
        diesel::sql_query(format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote_ident(&name),
            quote_ident(template)
        ))
        .execute(&mut conn)
        .await
        .expect("create test database");
        let server = server_url();
        let url = url_on(&server, &name);
        Self { name, url, server }
    }

    /// A new database migrated from scratch on another server (`server` is the URL of any
    /// database there).
    pub async fn migrated_on(server: &str) -> Self {
        let name = fresh_database_name();
        diesel::sql_query(format!("CREATE DATABASE {}", quote_ident(&name)))
            .execute(&mut admin_on(server).await)
            .await
            .expect("create test database");
        let url = url_on(server, &name);
        stateset::db::migrate(&url).await.expect("migrate");
        Self {
            name,
            url,
            server: server.to_owned(),
        }
    }
}

/// Drops a database of the test server, disconnecting whoever still uses it.
pub async fn drop_database(name: &str) {
    drop_database_on(&server_url(), name).await;
}

async fn drop_database_on(server: &str, name: &str) {
    let mut conn = admin_on(server).await;
    let _ = diesel::sql_query(format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(name)
    ))
    .execute(&mut conn)
    .await;
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop runs outside async context; a short-lived runtime on its own thread does the work.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(drop_database_on(&server, &name));
        })
        .join();
    }
}

/// How a test request authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    Anonymous,
    /// `Authorization: Bearer <token>` (a JWT or an API key).
    Bearer(String),
    /// `X-API-Key: <key>`.
    ApiKey(String),
}

/// The settings every test app starts from: cheap password hashing, generous rate limits.
pub fn test_config(database_url: &str) -> Config {
    Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some(database_url.to_owned()),
        "DATABASE_MAX_CONNECTIONS" => Some("6".into()),
        "JWT_SECRET" => Some("test-secret-test-secret-test-secret-0123".into()),
        "ARGON2_MEMORY_KIB" => Some("256".into()),
        "ARGON2_ITERATIONS" => Some("1".into()),
        "RATE_LIMIT_PER_MINUTE" | "RATE_LIMIT_ANONYMOUS_PER_MINUTE" => Some("100000".into()),
        // Off by default in the server; the tests pay with its card test numbers.
        "PAYMENTS_TEST_PROVIDER" => Some("true".into()),
        _ => None,
    })
    .expect("test config")
}

/// The password of every user the harness creates.
pub const PASSWORD: &str = "correct horse battery";

/// The application on its own database, with the live event listener running and an
/// administrator signed in.
pub struct TestApp {
    pub app: AppState,
    pub router: axum::Router,
    pub ctx: Ctx,
    /// An access token of the administrator `admin@example.com`.
    pub admin: String,
    stop: watch::Sender<bool>,
    // Last, so the database is dropped after everything using it.
    pub db: TestDb,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// A test app whose settings `adjust` changes first.
    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::on(TestDb::new().await, adjust).await
    }

    /// A test app on `db`, whose settings `adjust` changes first.
    pub async fn on(db: TestDb, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = test_config(&db.url);
        adjust(&mut config);
        let app = App::new(config).expect("app");
        let (stop, stopped) = watch::channel(false);
        app.bus
            .start_listener(db.url.clone(), stopped)
            .await
            .expect("event listener");
        let router = stateset::http::router(app.clone());
        let mut t = Self {
            app,
            router,
            ctx: Ctx::system(),
            admin: String::new(),
            stop,
            db,
        };
        t.admin = t
            .user_token("admin@example.com", stateset::services::auth::ADMIN_ROLE)
            .await;
        t
    }

    /// Creates a user with `role` and returns an access token of theirs.
    pub async fn user_token(&self, email: &str, role: uuid::Uuid) -> String {
        let input = stateset::services::access::CreateUserInput {
            email: email.into(),
            password: PASSWORD.into(),
            name: None,
            role_id: role,
        };
        self.services()
            .access
            .create_user(&self.ctx, input)
            .await
            .expect("create user");
        self.login(email).await.access_token
    }

    /// Signs in a user the harness created.
    pub async fn login(&self, email: &str) -> stateset::domain::AuthTokens {
        let input = stateset::services::auth::LoginInput {
            email: email.into(),
            password: PASSWORD.into(),
            cart_token: None,
        };
        self.services()
            .auth
            .login(&self.ctx, input)
            .await
            .expect("login")
    }

    /// Dispatches every committed event (as the relay would), then makes one attempt at every
    /// webhook delivery due now; returns how many attempts were made.
    pub async fn relay_and_deliver(&self) -> usize {
        while !self
            .app
            .relay
            .dispatch_batch()
            .await
            .expect("relay")
            .is_empty()
        {}
        self.services()
            .webhooks
            .deliver_due()
            .await
            .expect("deliveries")
    }

    /// The events of `types` (wildcards allowed) in the log, oldest first.
    pub async fn events_of(&self, types: &[&str]) -> Vec<stateset::domain::Event> {
        let query = stateset::services::events::EventQuery {
            types: types.iter().map(|t| (*t).to_owned()).collect(),
            ..Default::default()
        };
        self.services()
            .events
            .list(&self.ctx, query)
            .await
            .expect("events")
            .events
    }

    /// Creates a customer with `email`.
    pub async fn customer(&self, email: &str) -> uuid::Uuid {
        let input = stateset::services::customers::CreateCustomerInput {
            email: email.into(),
            ..Default::default()
        };
        self.services()
            .customers
            .create_customer(&self.ctx, input)
            .await
            .expect("customer")
            .id
    }

    /// Places an order of one unit of `variant` for a new customer with `email`.
    pub async fn order_of(&self, variant: uuid::Uuid, email: &str) -> uuid::Uuid {
        let input = stateset::services::orders::CreateOrderInput {
            customer_id: Some(self.customer(email).await),
            items: vec![stateset::services::orders::OrderLineInput {
                variant_id: variant,
                quantity: 1,
                unit_price: None,
                discount: None,
                tax: None,
            }],
            ..Default::default()
        };
        self.services()
            .orders
            .create_order(&self.ctx, input)
            .await
            .expect("order")
            .order
            .id
    }

    /// A new product with one variant of `sku`; returns the variant's id.
    pub async fn variant(&self, sku: &str) -> uuid::Uuid {
        self.services()
            .catalog
            .create_product(&self.ctx, product_input(sku, &[sku], "3"))
            .await
            .expect("product")
            .variants[0]
            .id
    }

    /// A new warehouse `code` allocated from at `priority` (lower first); returns its id.
    pub async fn warehouse(&self, code: &str, priority: i32) -> uuid::Uuid {
        let input = stateset::services::inventory::CreateLocationInput {
            code: code.into(),
            name: code.into(),
            kind: stateset::domain::LocationKind::Warehouse,
            priority: Some(priority),
            address: None,
        };
        self.services()
            .inventory
            .create_location(&self.ctx, input)
            .await
            .expect("location")
            .id
    }

    /// Receives `quantity` of `variant` at `location`; returns the stock record's id.
    pub async fn receive_at(
        &self,
        variant: uuid::Uuid,
        location: uuid::Uuid,
        quantity: i32,
    ) -> uuid::Uuid {
        let input = stateset::services::inventory::ReceiveInput {
            variant_id: variant,
            location_id: location,
            quantity,
            lot_code: None,
            expires_at: None,
            reason: None,
        };
        self.services()
            .inventory
            .receive(&self.ctx, input)
            .await
            .expect("receive")
            .id
    }

    /// Receives `quantity` of `variant` into a new warehouse.
    pub async fn stock(&self, variant: uuid::Uuid, quantity: i32) {
        let code = format!("WH-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
        let location = self.warehouse(&code, 1).await;
        self.receive_at(variant, location, quantity).await;
    }

    pub fn services(&self) -> &stateset::services::Services {
        &self.app.services
    }

    /// Sends one HTTP request through the router in-process.
    pub async fn request(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        (status, headers, body)
    }

    /// A JSON request as the administrator; returns the status and the JSON body.
    /// This instance's `/metrics` text.
    pub async fn metrics(&self) -> String {
        let request = Request::get("/metrics").body(Body::empty()).unwrap();
        String::from_utf8(self.request(request).await.2).unwrap()
    }

    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.json_as(&Auth::Bearer(self.admin.clone()), method, path, body)
            .await
    }

    /// A JSON request as `auth`; returns the status and the JSON body (`null` when empty).
    pub async fn json_as(
        &self,
        auth: &Auth,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let builder = with_auth(Request::builder().method(method).uri(path), auth);
        let request = match body {
            Some(body) => builder
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .expect("request"),
            None => builder.body(Body::empty()).expect("request"),
        };
        let (status, _, bytes) = self.request(request).await;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON body")
        };
        (status, value)
    }

    /// Runs a GraphQL operation over `POST /graphql` as the administrator.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.graphql_as(&Auth::Bearer(self.admin.clone()), query, variables)
            .await
    }

    /// Runs a GraphQL operation over `POST /graphql` as `auth`.
    pub async fn graphql_as(&self, auth: &Auth, query: &str, variables: Value) -> Value {
        let body = Some(json!({ "query": query, "variables": variables }));
        let (status, body) = self.json_as(auth, Method::POST, "/graphql", body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Every item of a paged REST list (as the administrator), following `next_cursor` with
    /// pages of `limit`; also the number of pages it took. Each page must report `total`.
    pub async fn rest_pages(&self, path: &str, limit: i64, total: usize) -> (Vec<Value>, usize) {
        let join = if path.contains('?') { '&' } else { '?' };
        let mut url = format!("{path}{join}limit={limit}");
        let (mut items, mut pages) = (Vec::new(), 0);
        loop {
            let (status, body) = self.json(Method::GET, &url, None).await;
            assert_eq!(status, StatusCode::OK, "{url}: {body}");
            assert_eq!(body["total_count"], total, "{url}: {body}");
            pages += 1;
            let page = body["items"].as_array().expect("items");
            assert!(page.len() as i64 <= limit, "{url}: {body}");
            items.extend(page.iter().cloned());
            match body["next_cursor"].as_str() {
                Some(cursor) => url = format!("{path}{join}limit={limit}&cursor={cursor}"),
                None => return (items, pages),
            }
        }
    }

    /// Every node of a GraphQL connection at `/data/<field>` (as the administrator): `query`
    /// takes `$after: String` and selects `totalCount pageInfo { hasNextPage endCursor } nodes`;
    /// also the number of pages it took. Each page must report `total`.
    pub async fn graphql_pages(
        &self,
        query: &str,
        mut variables: Value,
        field: &str,
        total: usize,
    ) -> (Vec<Value>, usize) {
        let (mut nodes, mut pages) = (Vec::new(), 0);
        loop {
            let body = self.graphql(query, variables.clone()).await;
            let connection = body
                .pointer(&format!("/data/{field}"))
                .unwrap_or_else(|| panic!("{body}"));
            assert_eq!(connection["totalCount"], total, "{body}");
            pages += 1;
            nodes.extend(
                connection["nodes"]
                    .as_array()
                    .expect("nodes")
                    .iter()
                    .cloned(),
            );
            if connection["pageInfo"]["hasNextPage"] != true {
                return (nodes, pages);
            }
            variables["after"] = connection["pageInfo"]["endCursor"].clone();
        }
    }

    /// Serves HTTP on an ephemeral loopback port; returns its address.
    pub async fn serve_http(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = self
            .router
            .clone()
            .into_make_service_with_connect_info::<SocketAddr>();
        let mut stopped = self.stop.subscribe();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        });
        addr
    }

    /// Serves gRPC on an ephemeral loopback port; returns a channel to it.
    pub async fn serve_grpc(&self) -> tonic::transport::Channel {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut stopped = self.stop.subscribe();
        let app = self.app.clone();
        tokio::spawn(stateset::adapters::grpc::serve_on(
            app,
            listener,
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        ));
        tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect to gRPC")
    }

    /// Loads the demo catalog.
    pub async fn seed_demo(&self) {
        stateset::seed::demo(self.services()).await.expect("seed");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// A real HTTP client of a test app served on a loopback port.
pub struct Http {
    pub base: String,
    pub client: reqwest::Client,
}

impl Http {
    pub async fn new(t: &TestApp) -> Self {
        Self {
            base: format!("http://{}", t.serve_http().await),
            client: reqwest::Client::new(),
        }
    }

    /// Sends a request as `auth`; returns the status and the JSON body (`null` when empty).
    pub async fn send_as(
        &self,
        auth: &Auth,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (reqwest::StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        request = match auth {
            Auth::Anonymous => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::ApiKey(key) => request.header("x-api-key", key),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("HTTP request");
        let status = response.status();
        let text = response.text().await.expect("HTTP body");
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).expect("JSON body")
            },
        )
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (reqwest::StatusCode, Value) {
        let auth = token.map_or(Auth::Anonymous, |t| Auth::Bearer(t.to_owned()));
        self.send_as(&auth, method, path, body).await
    }

    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> (reqwest::StatusCode, Value) {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (reqwest::StatusCode, Value) {
        self.send(reqwest::Method::GET, path, token, None).await
    }
}

/// Adds the credentials of `auth` to a request.
pub fn with_auth(
    builder: axum::http::request::Builder,
    auth: &Auth,
) -> axum::http::request::Builder {
    match auth {
        Auth::Anonymous => builder,
        Auth::Bearer(token) => builder.header("authorization", format!("Bearer {token}")),
        Auth::ApiKey(key) => builder.header("x-api-key", key),
    }
}

/// A gRPC interceptor that sends a bearer token.
#[derive(Clone)]
pub struct BearerInterceptor(pub Option<String>);

impl tonic::service::Interceptor for BearerInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(token) = &self.0 {
            request.metadata_mut().insert(
                "authorization",
                format!("Bearer {token}").parse().expect("ascii"),
            );
        }
        Ok(request)
    }
}

/// A catalog gRPC client authenticating with `token` (anonymous when `None`).
pub type CatalogClient = stateset::adapters::grpc::pb::catalog_service_client::CatalogServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, BearerInterceptor>,
>;

pub fn catalog_client(channel: tonic::transport::Channel, token: Option<&str>) -> CatalogClient {
    stateset::adapters::grpc::pb::catalog_service_client::CatalogServiceClient::with_interceptor(
        channel,
        BearerInterceptor(token.map(str::to_owned)),
    )
}

/// The field paths of a validation error body (REST shape).
pub fn rest_error_fields(body: &Value) -> Vec<String> {
    body["error"]["details"]["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| f["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A product creation input with one variant per SKU.
pub fn product_input(
    name: &str,
    skus: &[&str],
    price: &str,
) -> stateset::services::catalog::CreateProductInput {
    serde_json::from_value(json!({
        "name": name,
        "status": "active",
        "variants": skus.iter().map(|sku| json!({
            "sku": sku,
            "price": { "amount": price, "currency": "USD" },
        })).collect::<Vec<_>>(),
    }))
    .expect("valid input")
}

/// The first page of a service list, of `size` items.
pub fn first_page(size: i64) -> stateset::services::page::PageRequest {
    stateset::services::page::PageRequest {
        size: Some(size),
        after: None,
        size_field: "first",
        cursor_field: "after",
        with_total: true,
    }
}
