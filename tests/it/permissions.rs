//! The permission matrix, over real HTTP and gRPC: every operation of every door, with each built-in role and an
//! anonymous caller. Denied is 401 (no credentials) or 403 (missing permission) on REST,
//! `UNAUTHENTICATED`/`FORBIDDEN` on GraphQL, `Unauthenticated`/`PermissionDenied` on gRPC.
//! Allowed means anything else (a 404 or 422 for the placeholder ids and bodies used here
//! still proves the caller got past the permission check, which services make first).

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use futures::{SinkExt as _, StreamExt as _};
use prost::Message as _;
use serde_json::{Value, json};
use stateset::adapters::grpc::pb;
use stateset::services::auth::{CUSTOMER_ROLE, MANAGER_ROLE, STAFF_ROLE};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tonic::Code;

use stateset::adapters::rest::{Needs, Operation};
use stateset::services::Ctx;
use stateset::services::auth::Credentials;

use crate::support::reflection::ReflectionClient;
use crate::support::{Auth, Http, PASSWORD, TestApp, catalog_client};

/// Who may: admin, manager, staff, customer, anonymous.
type Allowed = [bool; 5];
const EVERYONE: Allowed = [true; 5];
const SIGNED_IN: Allowed = [true, true, true, true, false];
const MANAGERS: Allowed = [true, true, false, false, false];
const ADMINS: Allowed = [true, false, false, false, false];
const WITH_ROLES_READ: Allowed = [true, true, false, false, false];
const OPERATIONS: Allowed = [true, true, true, false, false];
const BUYERS: Allowed = [true, true, false, true, false];
/// `carts:*`: the administrator, and customers for their own carts; neither managers nor
/// staff hold it.
const CART_OWNERS: Allowed = [true, false, false, true, false];
const ROLE_NAMES: [&str; 5] = ["admin", "manager", "staff", "customer", "anonymous"];

const NOBODY: &str = "00000000-0000-0000-0000-00000000abcd";

/// A request the matrix sends for an operation instead of one built from the OpenAPI document:
/// a concrete path (and query) and a body that gets past the extractors.
struct RestOp {
    method: Method,
    path: &'static str,
    body: Option<Value>,
}

fn rest_fixtures(product: &str) -> Vec<RestOp> {
    let op = |method, path: &str, body| RestOp {
        method,
        path: Box::leak(path.to_owned().into_boxed_str()),
        body,
    };
    let invalid_product = json!({"name": "", "variants": []});
    vec![
        op(Method::GET, "/api/v1/products", None),
        op(Method::GET, &format!("/api/v1/products/{product}"), None),
        op(
            Method::POST,
            "/api/v1/products",
            Some(invalid_product.clone()),
        ),
        op(
            Method::PUT,
            &format!("/api/v1/products/{NOBODY}"),
            Some(json!({"name": "x"})),
        ),
        op(Method::DELETE, &format!("/api/v1/products/{NOBODY}"), None),
        op(
            Method::POST,
            &format!("/api/v1/products/{NOBODY}/variants"),
            Some(json!({"sku": "X-1", "price": {"amount": "1", "currency": "USD"}})),
        ),
        op(
            Method::PUT,
            &format!("/api/v1/variants/{NOBODY}"),
            Some(json!({"title": "x"})),
        ),
        op(Method::DELETE, &format!("/api/v1/variants/{NOBODY}"), None),
        op(
            Method::PUT,
            &format!("/api/v1/products/{NOBODY}/categories"),
            Some(json!({"category_ids": []})),
        ),
        op(Method::GET, "/api/v1/categories", None),
        op(Method::GET, &format!("/api/v1/categories/{NOBODY}"), None),
        op(
            Method::POST,
            "/api/v1/categories",
            Some(json!({"name": ""})),
        ),
        op(
            Method::PUT,
            &format!("/api/v1/categories/{NOBODY}"),
            Some(json!({"name": "x"})),
        ),
        op(
            Method::DELETE,
            &format!("/api/v1/categories/{NOBODY}"),
            None,
        ),
        op(Method::GET, "/api/v1/orders", None),
        op(Method::POST, "/api/v1/orders", Some(json!({"items": []}))),
        op(Method::GET, &format!("/api/v1/orders/{NOBODY}"), None),
        op(Method::GET, &format!("/api/v1/orders/{NOBODY}/items"), None),
        op(
            Method::PUT,
            &format!("/api/v1/orders/{NOBODY}"),
            Some(json!({"notes": "x"})),
        ),
        op(
            Method::PUT,
            &format!("/api/v1/orders/{NOBODY}/status"),
            Some(json!({"status": "processing"})),
        ),
        op(
            Method::POST,
            &format!("/api/v1/orders/{NOBODY}/hold"),
            Some(json!({"reason": "x"})),
        ),
        op(
            Method::POST,
            &format!("/api/v1/orders/{NOBODY}/release"),
            None,
        ),
        op(
            Method::POST,
            &format!("/api/v1/orders/{NOBODY}/cancel"),
            Some(json!({"reason": "x"})),
        ),
        op(
            Method::POST,
            &format!("/api/v1/orders/{NOBODY}/archive"),
            None,
        ),
        op(
            Method::POST,
            "/api/v1/orders/merge",
            Some(json!({"order_ids": []})),
        ),
        op(
            Method::POST,
            &format!("/api/v1/orders/{NOBODY}/split"),
            Some(json!({"items": []})),
        ),
        op(Method::GET, "/api/v1/customers", None),
        op(
            Method::POST,
            "/api/v1/customers",
            Some(json!({"email": "bad"})),
        ),
        op(Method::GET, &format!("/api/v1/customers/{NOBODY}"), None),
        op(
            Method::PUT,
            &format!("/api/v1/customers/{NOBODY}"),
            Some(json!({"notes": "x"})),
        ),
        op(
            Method::GET,
            &format!("/api/v1/orders/{NOBODY}/history"),
            None,
        ),
        op(
            Method::POST,
            &format!("/api/v1/customers/{NOBODY}/addresses"),
            Some(json!({"line1": "1 Main", "city": "X", "country": "US"})),
        ),
        op(
            Method::PUT,
            &format!("/api/v1/customers/{NOBODY}/addresses/{NOBODY}"),
            Some(json!({"line1": "1 Main", "city": "X", "country": "US"})),
        ),
        op(
            Method::DELETE,
            &format!("/api/v1/customers/{NOBODY}/addresses/{NOBODY}"),
            None,
        ),
        op(
            Method::POST,
            &format!("/api/v1/customers/{NOBODY}/wishlist"),
            Some(json!({"variant_id": NOBODY})),
        ),
        op(
            Method::DELETE,
            &format!("/api/v1/customers/{NOBODY}/wishlist/{NOBODY}"),
            None,
        ),
        op(Method::GET, "/api/v1/events", None),
        op(Method::GET, "/api/v1/inventory", None),
        op(Method::GET, "/api/v1/inventory/low-stock", None),
        op(Method::GET, &format!("/api/v1/inventory/{NOBODY}"), None),
        op(
            Method::GET,
            &format!("/api/v1/inventory/atp/{NOBODY}"),
            None,
        ),
        op(
            Method::POST,
            "/api/v1/inventory/receive",
            Some(json!({"variant_id": NOBODY, "location_id": NOBODY, "quantity": 0})),
        ),
        op(
            Method::POST,
            &format!("/api/v1/inventory/{NOBODY}/adjust"),
            Some(json!({"delta": 1, "reason": "x"})),
        ),
        op(
            Method::POST,
            &format!("/api/v1/inventory/{NOBODY}/reserve"),
            Some(json!({"quantity": 1})),
        ),
        op(
            Method::POST,
            &format!("/api/v1/inventory/{NOBODY}/release"),
            Some(json!({"reservation_id": NOBODY})),
        ),
        op(
            Method::PUT,
            &format!("/api/v1/inventory/{NOBODY}"),
            Some(json!({"reorder_point": 1})),
        ),
        op(
            Method::POST,
            "/api/v1/inventory/transfers",
            Some(json!({"from_location_id": NOBODY, "to_location_id": NOBODY, "lines": []})),
        ),
        op(
            Method::POST,
            "/api/v1/inventory/counts",
            Some(json!({"location_id": NOBODY})),
        ),
        op(Method::GET, "/api/v1/locations", None),
        op(
            Method::POST,
            "/api/v1/locations",
            Some(json!({"code": "", "name": "", "kind": "store"})),
        ),
        op(
            Method::POST,
            "/api/v1/purchase-orders",
            Some(json!({"location_id": NOBODY, "supplier": "", "lines": []})),
        ),
        // Sign-up and sign-in are open to all (malformed bodies here: 400/422, never 401/403);
        // logout and refresh are exercised in the session tests, as they end sessions.
        op(
            Method::POST,
            "/api/v1/auth/register",
            Some(json!({"email": "bad", "password": "x"})),
        ),
        op(Method::POST, "/api/v1/auth/login", Some(json!({}))),
        op(Method::POST, "/api/v1/auth/refresh", Some(json!({}))),
        op(Method::GET, "/api/v1/auth/me", None),
        op(Method::GET, "/api/v1/api-keys", None),
        op(
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "", "scopes": []})),
        ),
        op(Method::DELETE, &format!("/api/v1/api-keys/{NOBODY}"), None),
        op(Method::GET, "/api/v1/roles", None),
        op(
            Method::POST,
            "/api/v1/roles",
            Some(json!({"name": "", "permissions": []})),
        ),
        op(
            Method::PUT,
            &format!("/api/v1/roles/{NOBODY}"),
            Some(json!({})),
        ),
        op(Method::DELETE, &format!("/api/v1/roles/{NOBODY}"), None),
        op(Method::GET, "/api/v1/users", None),
        op(
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": "bad", "password": "x", "role_id": NOBODY})),
        ),
        op(
            Method::PUT,
            &format!("/api/v1/users/{NOBODY}/role"),
            Some(json!({"role_id": NOBODY})),
        ),
        op(
            Method::PUT,
            &format!("/api/v1/users/{NOBODY}/active"),
            Some(json!({"active": true})),
        ),
        // Pricing settings and payments: managers; carts, tokens and checkout: anyone.
        op(Method::GET, "/api/v1/shipping-methods", None),
        op(
            Method::POST,
            "/api/v1/shipping-methods",
            Some(
                json!({"name": "", "carrier": "", "service": "", "kind": "flat", "currency": "x",
                "min_days": 0, "max_days": 0}),
            ),
        ),
        op(
            Method::DELETE,
            &format!("/api/v1/shipping-methods/{NOBODY}"),
            None,
        ),
        op(Method::GET, "/api/v1/tax-rates", None),
        op(
            Method::POST,
            "/api/v1/tax-rates",
            Some(json!({"name": "", "country": "", "rate": "0"})),
        ),
        op(Method::DELETE, &format!("/api/v1/tax-rates/{NOBODY}"), None),
        op(Method::GET, "/api/v1/discounts", None),
        op(
            Method::POST,
            "/api/v1/discounts",
            Some(json!({"code": "", "kind": "percentage"})),
        ),
        op(Method::DELETE, &format!("/api/v1/discounts/{NOBODY}"), None),
        op(Method::GET, &format!("/api/v1/payments/{NOBODY}"), None),
        op(
            Method::POST,
            "/api/v1/payments/refund",
            Some(json!({"payment_id": NOBODY})),
        ),
        op(
            Method::POST,
            "/api/v1/payments",
            Some(json!({"order_id": NOBODY, "payment_token": "tok_none"})),
        ),
        op(
            Method::GET,
            &format!("/api/v1/payments?order_id={NOBODY}"),
            None,
        ),
        op(
            Method::POST,
            &format!("/api/v1/payments/{NOBODY}/capture"),
            Some(json!({})),
        ),
        op(
            Method::POST,
            &format!("/api/v1/payments/{NOBODY}/void"),
            None,
        ),
        op(
            Method::GET,
            "/api/v1/payments/stablepay/reconciliation",
            None,
        ),
        op(Method::POST, "/api/v1/carts", None),
        op(Method::GET, "/api/v1/carts/cart_no_such_token", None),
        // A cart is opened by its token (anyone holding it) or by its id (`carts:write`).
        op(
            Method::POST,
            "/api/v1/carts/cart_no_such_token/items",
            Some(json!({"variant_id": NOBODY, "quantity": 1})),
        ),
        op(
            Method::PUT,
            &format!("/api/v1/carts/cart_no_such_token/items/{NOBODY}"),
            Some(json!({"quantity": 1})),
        ),
        op(
            Method::DELETE,
            &format!("/api/v1/carts/cart_no_such_token/items/{NOBODY}"),
            None,
        ),
        op(
            Method::POST,
            "/api/v1/payments/tokens",
            Some(json!({"number": "1", "exp_month": 1, "exp_year": 1, "cvc": "1"})),
        ),
        op(
            Method::POST,
            "/api/v1/checkout",
            Some(json!({"cart_id": "cart_no_such_token"})),
        ),
        // Invoices: staff read all, customers their own; managers make and change them.
        op(Method::GET, "/api/v1/invoices", None),
        op(
            Method::POST,
            "/api/v1/invoices",
            Some(json!({"order_id": NOBODY})),
        ),
        op(Method::GET, &format!("/api/v1/invoices/{NOBODY}"), None),
        op(Method::GET, &format!("/api/v1/invoices/{NOBODY}/pdf"), None),
        op(
            Method::POST,
            &format!("/api/v1/invoices/{NOBODY}/issue"),
            None,
        ),
        op(
            Method::POST,
            &format!("/api/v1/invoices/{NOBODY}/void"),
            None,
        ),
        op(
            Method::POST,
            &format!("/api/v1/invoices/{NOBODY}/payments"),
            Some(json!({"amount": "1.00"})),
        ),
        // Webhooks: `webhooks:*` for managers, nothing for staff or customers.
        op(Method::GET, "/api/v1/webhooks", None),
        op(
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({"url": "ftp://x", "event_types": []})),
        ),
        op(Method::GET, &format!("/api/v1/webhooks/{NOBODY}"), None),
        op(
            Method::PUT,
            &format!("/api/v1/webhooks/{NOBODY}"),
            Some(json!({})),
        ),
        op(Method::DELETE, &format!("/api/v1/webhooks/{NOBODY}"), None),
        op(
            Method::POST,
            &format!("/api/v1/webhooks/{NOBODY}/ping"),
            None,
        ),
        op(
            Method::POST,
            &format!("/api/v1/webhooks/{NOBODY}/rotate-secret"),
            None,
        ),
        op(
            Method::GET,
            &format!("/api/v1/webhooks/{NOBODY}/deliveries"),
            None,
        ),
        op(
            Method::GET,
            &format!("/api/v1/webhook-deliveries/{NOBODY}"),
            None,
        ),
        op(
            Method::POST,
            &format!("/api/v1/webhook-deliveries/{NOBODY}/resend"),
            None,
        ),
        op(
            Method::POST,
            &format!("/api/v1/shipments/{NOBODY}/tracking-events"),
            Some(
                json!({"events": [{"event_id": "e", "code": "D", "occurred_at": "2026-01-01T00:00:00Z"}]}),
            ),
        ),
        op(
            Method::POST,
            "/api/v1/carriers",
            Some(json!({"code": "", "name": "", "adapter": "http"})),
        ),
        op(
            Method::PUT,
            &format!("/api/v1/carriers/{NOBODY}"),
            Some(json!({})),
        ),
        op(
            Method::POST,
            &format!("/api/v1/shipments/{NOBODY}/packages"),
            Some(
                json!({"packages": [{"weight_grams": 1, "length_mm": 1, "width_mm": 1, "height_mm": 1}]}),
            ),
        ),
    ]
}

/// Walks declared REST operations as every caller, each held to the permission it declares;
/// the request is a fixture where one is kept, else built from the OpenAPI document.
struct RestWalk<'a> {
    http: &'a Http,
    callers: &'a [Option<String>],
    contexts: &'a [Ctx],
    fixtures: &'a [RestOp],
    doc: &'a Value,
}

impl RestWalk<'_> {
    async fn check(&self, operations: &[&Operation]) -> Vec<String> {
        let mut failures = Vec::new();
        for operation in operations {
            let method: Method = operation.method.parse().unwrap();
            let (uri, body) = self.request(operation, &method);
            for (who, token) in self.callers.iter().enumerate() {
                let allowed = match operation.needs {
                    Needs::Anyone => true,
                    Needs::SignedIn => token.is_some(),
                    Needs::Permission(permission) => {
                        self.contexts[who].access(permission).is_some()
                    }
                };
                let auth = token.clone().map_or(Auth::Anonymous, Auth::Bearer);
                let verb = reqwest::Method::from_bytes(operation.method.as_bytes()).unwrap();
                let (status, answer) = self.http.send_as(&auth, verb, &uri, body.clone()).await;
                let status = StatusCode::from_u16(status.as_u16()).unwrap();
                let ok = match (allowed, token) {
                    // Past the permission check; a provider that is not configured here
                    // answers 503, which is not a fault.
                    (true, _) => {
                        status != StatusCode::UNAUTHORIZED
                            && status != StatusCode::FORBIDDEN
                            && status != StatusCode::INTERNAL_SERVER_ERROR
                    }
                    (false, None) => status == StatusCode::UNAUTHORIZED,
                    (false, Some(_)) => status == StatusCode::FORBIDDEN,
                };
                if !ok {
                    failures.push(format!(
                        "REST {} {uri} ({}, needs {:?}) as {}: {status} {answer}",
                        operation.method, operation.handler, operation.needs, ROLE_NAMES[who]
                    ));
                }
            }
        }
        failures
    }

    /// The path (with query) and body sent for `operation`.
    fn request(&self, operation: &Operation, method: &Method) -> (String, Option<Value>) {
        if let Some(fixture) = self
            .fixtures
            .iter()
            .find(|f| f.method == *method && same_route(operation.path, f.path))
        {
            return (fixture.path.to_owned(), fixture.body.clone());
        }
        let described = &self.doc["paths"][operation.path][operation.method.to_lowercase()];
        assert!(
            described.is_object(),
            "{} {} is served but not in the OpenAPI document",
            operation.method,
            operation.path
        );
        let mut generator = crate::fuzz::Generator {
            doc: self.doc,
            rng: rand::SeedableRng::seed_from_u64(7),
        };
        let built = crate::fuzz::build(&mut generator, operation.path, method, described);
        (substitute_ids(operation.path, &built.uri), built.body)
    }
}

/// Whether the concrete `path` (maybe with a query) is a request to the route `template`.
fn same_route(template: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let (template, path): (Vec<&str>, Vec<&str>) =
        (template.split('/').collect(), path.split('/').collect());
    template.len() == path.len()
        && template
            .iter()
            .zip(&path)
            .all(|(t, p)| t == p || t.starts_with('{'))
}

/// A built request's path with every id replaced by one that names nothing, so an allowed
/// caller meets a 404 rather than someone's record.
fn substitute_ids(template: &str, built: &str) -> String {
    let (path, query) = built
        .split_once('?')
        .map_or((built, None), |(p, q)| (p, Some(q)));
    let path: Vec<String> = template
        .split('/')
        .zip(path.split('/'))
        .map(|(t, p)| {
            if t.starts_with('{') {
                NOBODY.to_owned()
            } else {
                p.to_owned()
            }
        })
        .collect();
    match query {
        Some(query) => format!("{}?{query}", path.join("/")),
        None => path.join("/"),
    }
}

/// Each caller as the services see it, to ask what a permission gives them.
async fn caller_contexts(t: &TestApp, callers: &[Option<String>]) -> Vec<Ctx> {
    let mut contexts = Vec::new();
    for token in callers {
        let credentials = token.clone().map_or(Credentials::None, Credentials::Bearer);
        let principal = t.services().auth.authenticate(&credentials).await.unwrap();
        contexts.push(Ctx::new(principal, "matrix".into(), None));
    }
    contexts
}

/// What the callers of a GraphQL operation must meet.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Held to who may: denied is `UNAUTHENTICATED` (anonymous) or `FORBIDDEN`; allowed is an
    /// answer of the field's resolver that is neither of those nor `INTERNAL`.
    Roles(Allowed),
    /// Open to all and sent wrong credentials, which the resolver answers `UNAUTHENTICATED`
    /// to every caller. Signing in and refreshing check nothing before the credentials, so no
    /// input meets `VALIDATION` first. A signed-in caller's `UNAUTHENTICATED` (a denial would
    /// be `FORBIDDEN`) shows the door let them through; an anonymous caller's cannot be told
    /// from a denial (`tests/it/sessions.rs` signs in over REST and refreshes over GraphQL
    /// anonymously, for real).
    WrongCredentials,
}

/// The operation type (`query`, `mutation` or `subscription`) and the first root field of a
/// document: `mutation { createProduct(input: {...}) { id } }` → (`mutation`, `createProduct`).
fn root_field(document: &str) -> (&'static str, &str) {
    let trimmed = document.trim_start();
    let kind = if trimmed.starts_with("mutation") {
        "mutation"
    } else if trimmed.starts_with("subscription") {
        "subscription"
    } else {
        "query"
    };
    let (_, selection) = document.split_once('{').expect("a selection set");
    let field = selection.trim_start();
    let end = field
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(field.len());
    (kind, &field[..end])
}

/// Whether a GraphQL answer `body` to an operation on `field` meets `expect` for caller `who`
/// (`anonymous` when they sent no credentials).
fn graphql_answer_ok(
    expect: Expect,
    who: usize,
    anonymous: bool,
    field: &str,
    body: &Value,
) -> bool {
    let error = &body["errors"][0];
    let code = error["extensions"]["code"].as_str().unwrap_or("");
    // GraphQL's own errors (an unknown field, a bad argument) carry a code too but no path:
    // an answer counts only if the field's resolver ran.
    let resolved = error.is_null() || error["path"][0] == field;
    match expect {
        Expect::Roles(allowed) => match (allowed[who], anonymous) {
            (true, _) => {
                resolved && code != "UNAUTHENTICATED" && code != "FORBIDDEN" && code != "INTERNAL"
            }
            (false, true) => code == "UNAUTHENTICATED",
            (false, false) => code == "FORBIDDEN",
        },
        Expect::WrongCredentials => resolved && code == "UNAUTHENTICATED",
    }
}

/// Sends each GraphQL operation as every caller (`None` is anonymous) over HTTP.
async fn check_graphql(
    http: &Http,
    callers: &[Option<String>],
    ops: &[(String, Expect)],
) -> Vec<String> {
    let mut failures = Vec::new();
    for (query, expect) in ops {
        let (_, field) = root_field(query);
        for (who, token) in callers.iter().enumerate() {
            let auth = token.clone().map_or(Auth::Anonymous, Auth::Bearer);
            let (_, body) = http
                .send_as(
                    &auth,
                    reqwest::Method::POST,
                    "/graphql",
                    Some(json!({ "query": query })),
                )
                .await;
            if !graphql_answer_ok(*expect, who, token.is_none(), field, &body) {
                failures.push(format!(
                    "GraphQL {query} ({expect:?}) as {}: {body}",
                    ROLE_NAMES[who]
                ));
            }
        }
    }
    failures
}

fn graphql_ops(product: &str) -> Vec<(String, Expect)> {
    let op = |q: &str, allowed| (q.to_owned(), Expect::Roles(allowed));
    let wrong_credentials = |q: &str| (q.to_owned(), Expect::WrongCredentials);
    vec![
        op("{ products(first: 1) { totalCount } }", EVERYONE),
        op(
            &format!(r#"{{ product(id: "{product}") {{ id variants {{ sku }} }} }}"#),
            EVERYONE,
        ),
        op("{ categories { id } }", EVERYONE),
        op(
            r#"mutation { createProduct(input: {name: ""}) { id } }"#,
            MANAGERS,
        ),
        op(
            &format!(
                r#"mutation {{ updateProduct(id: "{NOBODY}", input: {{name: "x"}}) {{ id }} }}"#
            ),
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ deleteProduct(id: "{NOBODY}") {{ deletedId }} }}"#),
            MANAGERS,
        ),
        op(
            &format!(
                r#"mutation {{ createProductVariant(productId: "{NOBODY}", input: {{sku: "X-1", price: {{amount: "1", currency: "USD"}}}}) {{ id }} }}"#
            ),
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ deleteProductVariant(id: "{NOBODY}") {{ deletedId }} }}"#),
            MANAGERS,
        ),
        op(
            r#"mutation { createCategory(input: {name: ""}) { id } }"#,
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ deleteCategory(id: "{NOBODY}") {{ deletedId }} }}"#),
            MANAGERS,
        ),
        op("{ orders(first: 1) { totalCount } }", SIGNED_IN),
        op(
            &format!(r#"{{ order(id: "{NOBODY}") {{ id }} }}"#),
            SIGNED_IN,
        ),
        op(
            r#"mutation { createOrder(input: {items: []}) { id } }"#,
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ holdOrder(id: "{NOBODY}", reason: "x") {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(r#"mutation {{ cancelOrder(id: "{NOBODY}", reason: "x") {{ id }} }}"#),
            MANAGERS,
        ),
        op(
            r#"mutation { mergeOrders(orderIds: []) { id } }"#,
            OPERATIONS,
        ),
        op("{ customers(first: 1) { totalCount } }", SIGNED_IN),
        op(
            r#"mutation { createCustomer(input: {email: "bad"}) { id } }"#,
            BUYERS,
        ),
        op(
            &format!(r#"{{ category(id: "{NOBODY}") {{ id }} }}"#),
            EVERYONE,
        ),
        op("{ events(first: 5) { sequence } }", EVERYONE),
        op(
            &format!(
                r#"mutation {{ updateProductVariant(id: "{NOBODY}", input: {{title: "x"}}) {{ id }} }}"#
            ),
            MANAGERS,
        ),
        op(
            &format!(
                r#"mutation {{ updateCategory(id: "{NOBODY}", input: {{name: "x"}}) {{ id }} }}"#
            ),
            MANAGERS,
        ),
        op(
            &format!(
                r#"mutation {{ assignProductCategories(productId: "{NOBODY}", categoryIds: []) {{ id }} }}"#
            ),
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ releaseOrderHold(id: "{NOBODY}") {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(
                r#"mutation {{ updateOrderStatus(id: "{NOBODY}", status: PROCESSING) {{ id }} }}"#
            ),
            OPERATIONS,
        ),
        op(
            &format!(
                r#"mutation {{ updateOrder(id: "{NOBODY}", input: {{notes: "x"}}) {{ id }} }}"#
            ),
            OPERATIONS,
        ),
        op(
            &format!(
                r#"mutation {{ splitOrder(id: "{NOBODY}", items: []) {{ order {{ id }} }} }}"#
            ),
            OPERATIONS,
        ),
        op(
            &format!(r#"mutation {{ archiveOrder(id: "{NOBODY}") {{ id }} }}"#),
            MANAGERS,
        ),
        op(
            &format!(r#"{{ customer(id: "{NOBODY}") {{ id }} }}"#),
            SIGNED_IN,
        ),
        op("{ myCustomer { id } }", SIGNED_IN),
        op(
            &format!(
                r#"mutation {{ updateCustomer(id: "{NOBODY}", input: {{notes: "x"}}) {{ id }} }}"#
            ),
            BUYERS,
        ),
        op(
            &format!(
                r#"mutation {{ addCustomerAddress(customerId: "{NOBODY}", input: {{line1: "1", city: "X", country: "US"}}) {{ id }} }}"#
            ),
            BUYERS,
        ),
        op(
            &format!(
                r#"mutation {{ deleteCustomerAddress(customerId: "{NOBODY}", addressId: "{NOBODY}") {{ deletedId }} }}"#
            ),
            BUYERS,
        ),
        op(
            &format!(
                r#"mutation {{ addToWishlist(customerId: "{NOBODY}", variantId: "{NOBODY}") {{ id }} }}"#
            ),
            BUYERS,
        ),
        op(
            &format!(
                r#"mutation {{ removeFromWishlist(customerId: "{NOBODY}", variantId: "{NOBODY}") {{ id }} }}"#
            ),
            BUYERS,
        ),
        op(
            &format!(r#"mutation {{ updateRole(id: "{NOBODY}", input: {{}}) {{ id }} }}"#),
            ADMINS,
        ),
        op(
            &format!(r#"mutation {{ setUserActive(userId: "{NOBODY}", active: true) {{ id }} }}"#),
            ADMINS,
        ),
        op(
            r#"mutation { register(input: {email: "bad", password: "x"}) { accessToken } }"#,
            EVERYONE,
        ),
        op("{ locations { id } }", OPERATIONS),
        op("{ inventoryItems(first: 1) { totalCount } }", OPERATIONS),
        op(
            &format!(
                r#"mutation {{ reserveInventory(variantId: "{NOBODY}", input: {{quantity: 1}}) {{ id }} }}"#
            ),
            MANAGERS,
        ),
        op(
            &format!(
                r#"mutation {{ adjustInventory(itemId: "{NOBODY}", input: {{delta: 1, reason: "x"}}) {{ id }} }}"#
            ),
            OPERATIONS,
        ),
        op("{ me { id } }", SIGNED_IN),
        op("{ apiKeys(first: 1) { nodes { id } } }", SIGNED_IN),
        op(
            r#"mutation { createApiKey(input: {name: "", scopes: []}) { key } }"#,
            SIGNED_IN,
        ),
        op(
            &format!(r#"mutation {{ revokeApiKey(id: "{NOBODY}") {{ id }} }}"#),
            SIGNED_IN,
        ),
        op("{ roles { id } }", WITH_ROLES_READ),
        op(
            r#"mutation { createRole(input: {name: ""}) { id } }"#,
            ADMINS,
        ),
        op(
            &format!(r#"mutation {{ deleteRole(id: "{NOBODY}") }}"#),
            ADMINS,
        ),
        op("{ users { nodes { id } } }", MANAGERS),
        op(
            &format!(
                r#"mutation {{ createUser(input: {{email: "bad", password: "x", roleId: "{NOBODY}"}}) {{ id }} }}"#
            ),
            ADMINS,
        ),
        op(
            &format!(
                r#"mutation {{ setUserRole(userId: "{NOBODY}", roleId: "{NOBODY}") {{ id }} }}"#
            ),
            ADMINS,
        ),
        op("{ invoices(first: 1) { totalCount } }", SIGNED_IN),
        op(
            &format!(r#"{{ invoice(id: "{NOBODY}") {{ id }} }}"#),
            SIGNED_IN,
        ),
        op(
            &format!(r#"mutation {{ createInvoice(orderId: "{NOBODY}") {{ id }} }}"#),
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ issueInvoice(id: "{NOBODY}") {{ id }} }}"#),
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ voidInvoice(id: "{NOBODY}") {{ id }} }}"#),
            MANAGERS,
        ),
        op(
            &format!(
                r#"mutation {{ recordInvoicePayment(id: "{NOBODY}", input: {{amount: "1"}}) {{ id }} }}"#
            ),
            MANAGERS,
        ),
        op("{ shipments(first: 1) { totalCount } }", SIGNED_IN),
        op(
            &format!(r#"{{ shipment(id: "{NOBODY}") {{ id }} }}"#),
            SIGNED_IN,
        ),
        op(
            &format!(r#"{{ fulfillmentOrder(id: "{NOBODY}") {{ id }} }}"#),
            SIGNED_IN,
        ),
        op(
            &format!(
                r#"mutation {{ createShipment(input: {{fulfillmentOrderId: "{NOBODY}"}}) {{ id }} }}"#
            ),
            OPERATIONS,
        ),
        op(
            &format!(
                r#"mutation {{ addShipmentPackages(id: "{NOBODY}", packages: [{{weightGrams: 1, lengthMm: 1, widthMm: 1, heightMm: 1}}]) {{ id }} }}"#
            ),
            OPERATIONS,
        ),
        op(
            &format!(r#"mutation {{ pickShipment(id: "{NOBODY}") {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(r#"mutation {{ packShipment(id: "{NOBODY}") {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(r#"mutation {{ shipShipment(id: "{NOBODY}") {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(r#"mutation {{ deliverShipment(id: "{NOBODY}") {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(r#"mutation {{ cancelShipment(id: "{NOBODY}", reason: "x") {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(
                r#"mutation {{ holdFulfillmentOrder(id: "{NOBODY}", input: {{reason: OTHER}}) {{ id }} }}"#
            ),
            OPERATIONS,
        ),
        op(
            &format!(r#"mutation {{ releaseFulfillmentOrder(id: "{NOBODY}") {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(
                r#"mutation {{ moveFulfillmentOrder(id: "{NOBODY}", locationId: "{NOBODY}") {{ id }} }}"#
            ),
            OPERATIONS,
        ),
        op(
            &format!(
                r#"mutation {{ splitFulfillmentOrder(id: "{NOBODY}", lines: [{{fulfillmentOrderLineId: "{NOBODY}", quantity: 1}}]) {{ newFulfillmentOrder {{ id }} }} }}"#
            ),
            OPERATIONS,
        ),
        op(
            &format!(
                r#"mutation {{ mergeFulfillmentOrders(fulfillmentOrderIds: ["{NOBODY}", "{NOBODY}"]) {{ id }} }}"#
            ),
            OPERATIONS,
        ),
        op("{ carriers { id } }", OPERATIONS),
        op(
            &format!(r#"{{ carrier(id: "{NOBODY}") {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(r#"{{ shipmentRates(shipmentId: "{NOBODY}") {{ shipmentId }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(r#"{{ trackingEvents(shipmentId: "{NOBODY}") {{ id }} }}"#),
            SIGNED_IN,
        ),
        op(
            r#"{ trackShipment(trackingNumber: "1Z0000000000000000") { status } }"#,
            EVERYONE,
        ),
        op(
            r#"mutation { createCarrier(input: {code: "", name: "", adapter: HTTP}) { id } }"#,
            OPERATIONS,
        ),
        op(
            &format!(r#"mutation {{ updateCarrier(id: "{NOBODY}", input: {{}}) {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(
                r#"mutation {{ buyShipmentLabels(id: "{NOBODY}", input: {{choice: CHEAPEST}}) {{ id }} }}"#
            ),
            OPERATIONS,
        ),
        op(
            &format!(r#"mutation {{ voidShipmentLabels(id: "{NOBODY}") {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(
                r#"mutation {{ recordTrackingEvents(id: "{NOBODY}", events: [{{eventId: "e", code: "D", occurredAt: "2026-01-01T00:00:00Z"}}]) {{ id }} }}"#
            ),
            OPERATIONS,
        ),
        op("{ webhooks { id } }", MANAGERS),
        op(
            &format!(r#"{{ webhook(id: "{NOBODY}") {{ id }} }}"#),
            MANAGERS,
        ),
        op(
            &format!(r#"{{ webhookDeliveries(webhookId: "{NOBODY}") {{ id }} }}"#),
            MANAGERS,
        ),
        op(
            &format!(r#"{{ webhookDelivery(id: "{NOBODY}") {{ id }} }}"#),
            MANAGERS,
        ),
        op(
            r#"mutation { createWebhook(input: {url: "ftp://x", eventTypes: []}) { secret } }"#,
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ updateWebhook(id: "{NOBODY}", input: {{}}) {{ id }} }}"#),
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ deleteWebhook(id: "{NOBODY}") {{ id }} }}"#),
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ rotateWebhookSecret(id: "{NOBODY}") {{ secret }} }}"#),
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ pingWebhook(id: "{NOBODY}") {{ id }} }}"#),
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ resendWebhookDelivery(id: "{NOBODY}") {{ id }} }}"#),
            MANAGERS,
        ),
        op(
            &format!(r#"{{ payment(id: "{NOBODY}") {{ id }} }}"#),
            MANAGERS,
        ),
        op(
            &format!(r#"{{ payments(orderId: "{NOBODY}") {{ id }} }}"#),
            MANAGERS,
        ),
        op("{ stablecoinReconciliation { from } }", MANAGERS),
        op(
            &format!(
                r#"mutation {{ createPayment(input: {{orderId: "{NOBODY}", paymentToken: "tok_none"}}) {{ id }} }}"#
            ),
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ capturePayment(id: "{NOBODY}") {{ id }} }}"#),
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ voidPayment(id: "{NOBODY}") {{ id }} }}"#),
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ refundPayment(input: {{paymentId: "{NOBODY}"}}) {{ id }} }}"#),
            MANAGERS,
        ),
        op(
            &format!(
                r#"mutation {{ updateCustomerAddress(customerId: "{NOBODY}", addressId: "{NOBODY}", input: {{line1: "1", city: "X", country: "US"}}) {{ id }} }}"#
            ),
            BUYERS,
        ),
        // Inventory: `inventory:read` and `inventory:adjust` (staff too) for reading, counting,
        // receiving and moving stock; `inventory:manage` and `inventory:reserve` for managers.
        op(
            &format!(r#"{{ inventoryItem(id: "{NOBODY}") {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(r#"{{ inventoryLots(itemId: "{NOBODY}") {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(r#"{{ inventoryMovements(itemId: "{NOBODY}", first: 1) {{ totalCount }} }}"#),
            OPERATIONS,
        ),
        op("{ lowStock(first: 1) { totalCount } }", OPERATIONS),
        op(
            &format!(r#"{{ availableToPromise(variantId: "{NOBODY}") {{ availableToPromise }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(r#"{{ cycleCount(id: "{NOBODY}") {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(r#"{{ purchaseOrder(id: "{NOBODY}") {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            r#"mutation { createLocation(input: {code: "", name: "", kind: STORE}) { id } }"#,
            MANAGERS,
        ),
        op(
            &format!(
                r#"mutation {{ updateLocation(id: "{NOBODY}", input: {{name: "x"}}) {{ id }} }}"#
            ),
            MANAGERS,
        ),
        op(
            &format!(
                r#"mutation {{ receiveInventory(input: {{variantId: "{NOBODY}", locationId: "{NOBODY}", quantity: 0}}) {{ id }} }}"#
            ),
            OPERATIONS,
        ),
        op(
            &format!(
                r#"mutation {{ updateInventoryItem(id: "{NOBODY}", input: {{reorderPoint: 1}}) {{ id }} }}"#
            ),
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ releaseReservation(id: "{NOBODY}") {{ id }} }}"#),
            MANAGERS,
        ),
        op(
            &format!(
                r#"mutation {{ createTransfer(input: {{fromLocationId: "{NOBODY}", toLocationId: "{NOBODY}", lines: []}}) {{ id }} }}"#
            ),
            OPERATIONS,
        ),
        op(
            &format!(r#"mutation {{ receiveTransfer(id: "{NOBODY}") {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(r#"mutation {{ openCycleCount(locationId: "{NOBODY}") {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(
                r#"mutation {{ recordCycleCount(id: "{NOBODY}", input: {{variantId: "{NOBODY}", counted: 1}}) {{ id }} }}"#
            ),
            OPERATIONS,
        ),
        op(
            &format!(r#"mutation {{ postCycleCount(id: "{NOBODY}") {{ id }} }}"#),
            OPERATIONS,
        ),
        op(
            &format!(
                r#"mutation {{ createPurchaseOrder(input: {{locationId: "{NOBODY}", supplier: "", lines: []}}) {{ id }} }}"#
            ),
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ receivePurchaseOrder(id: "{NOBODY}", lines: []) {{ id }} }}"#),
            OPERATIONS,
        ),
        // Signing in and refreshing are open to all; the credentials sent are wrong, so no
        // session starts. Signing out is below, run last.
        wrong_credentials(
            r#"mutation { login(input: {email: "nobody@example.com", password: "not the password"}) { accessToken } }"#,
        ),
        wrong_credentials(
            r#"mutation { refreshToken(refreshToken: "not-a-refresh-token") { accessToken } }"#,
        ),
        // Ends the caller's session: the walk runs it after everything else, with sessions
        // of its own.
        op("mutation { logout }", SIGNED_IN),
        // Carts: by token, anyone holding it (this one opens nothing); by id, `carts:read` or
        // `carts:write`. A new cart is anyone's to make; its unknown line undoes it.
        op(r#"{ cart(id: "cart_no_such_token") { id } }"#, EVERYONE),
        op(
            &format!(r#"{{ cart(id: "{NOBODY}") {{ id }} }}"#),
            CART_OWNERS,
        ),
        op(
            &format!(
                r#"mutation {{ createCart(input: {{items: [{{variantId: "{NOBODY}", quantity: 1}}]}}) {{ id }} }}"#
            ),
            EVERYONE,
        ),
        op(
            &format!(
                r#"mutation {{ addCartItem(cartId: "cart_no_such_token", input: {{variantId: "{NOBODY}", quantity: 1}}) {{ id }} }}"#
            ),
            EVERYONE,
        ),
        op(
            &format!(
                r#"mutation {{ addCartItem(cartId: "{NOBODY}", input: {{variantId: "{NOBODY}", quantity: 1}}) {{ id }} }}"#
            ),
            CART_OWNERS,
        ),
        op(
            &format!(
                r#"mutation {{ updateCartItem(cartId: "cart_no_such_token", itemId: "{NOBODY}", input: {{quantity: 1}}) {{ id }} }}"#
            ),
            EVERYONE,
        ),
        op(
            &format!(
                r#"mutation {{ removeCartItem(cartId: "cart_no_such_token", itemId: "{NOBODY}") {{ id }} }}"#
            ),
            EVERYONE,
        ),
        // Taking a guest cart over is `carts:write`, whatever the token.
        op(
            r#"mutation { mergeCart(token: "cart_no_such_token") { id } }"#,
            CART_OWNERS,
        ),
        // Pricing settings: `pricing:*`, which managers hold and staff do not.
        op("{ shippingMethods { id } }", MANAGERS),
        op("{ taxRates { id } }", MANAGERS),
        op("{ discountCodes(first: 1) { nodes { id } } }", MANAGERS),
        op(
            r#"mutation { createShippingMethod(input: {name: "", carrier: "", service: "", kind: FLAT, currency: "x", minDays: 0, maxDays: 0}) { id } }"#,
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ deleteShippingMethod(id: "{NOBODY}") }}"#),
            MANAGERS,
        ),
        op(
            r#"mutation { createTaxRate(input: {name: "", country: "", rate: "0"}) { id } }"#,
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ deleteTaxRate(id: "{NOBODY}") }}"#),
            MANAGERS,
        ),
        op(
            r#"mutation { createDiscountCode(input: {code: "", kind: PERCENTAGE}) { id } }"#,
            MANAGERS,
        ),
        op(
            &format!(r#"mutation {{ deleteDiscountCode(id: "{NOBODY}") }}"#),
            MANAGERS,
        ),
        // Checkout: started from a cart's token by anyone holding it; after that its id is
        // all it takes. Card tokens are anyone's to make (this card is refused).
        op(
            r#"mutation { startCheckout(input: {cartId: "cart_no_such_token"}) { id } }"#,
            EVERYONE,
        ),
        op(
            &format!(r#"{{ checkout(id: "{NOBODY}") {{ id }} }}"#),
            EVERYONE,
        ),
        op(
            &format!(r#"{{ checkoutShippingOptions(id: "{NOBODY}") {{ methodId }} }}"#),
            EVERYONE,
        ),
        op(
            &format!(
                r#"mutation {{ updateCheckout(id: "{NOBODY}", input: {{email: "x@example.com"}}) {{ id }} }}"#
            ),
            EVERYONE,
        ),
        op(
            &format!(r#"mutation {{ completeCheckout(id: "{NOBODY}") {{ order {{ id }} }} }}"#),
            EVERYONE,
        ),
        op(
            r#"mutation { createPaymentToken(input: {number: "1", expMonth: 1, expYear: 1, cvc: "1"}) { id } }"#,
            EVERYONE,
        ),
    ]
}

/// Each subscription with who may open it. Every allowed caller gets an answer at once (a
/// replay, or `NOT_FOUND`/`VALIDATION` for the placeholders) except on `orderCreated`, which
/// speaks when an order is placed.
fn graphql_subscriptions() -> Vec<(String, Allowed)> {
    let op = |q: &str, allowed| (q.to_owned(), allowed);
    vec![
        // The demo catalog's events, replayed; anyone may read the catalog.
        op(
            r#"subscription { events(types: ["product.*"], after: 0) { type } }"#,
            EVERYONE,
        ),
        op("subscription { orderCreated { id } }", SIGNED_IN),
        op(
            &format!(r#"subscription {{ orderUpdated(id: "{NOBODY}") {{ id }} }}"#),
            SIGNED_IN,
        ),
        op(
            &format!(r#"subscription {{ shipmentUpdated(orderId: "{NOBODY}") {{ type }} }}"#),
            SIGNED_IN,
        ),
        op(
            r#"subscription { inventoryChanged(sku: "NO-SUCH-SKU") { available } }"#,
            OPERATIONS,
        ),
    ]
}

/// The root fields the server serves, by introspection, as (`query`, `products`), ...
async fn served_graphql_fields(http: &Http, admin: &str) -> Vec<(&'static str, String)> {
    let introspection = "{ __schema { queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } } }";
    let (_, body) = http
        .send_as(
            &Auth::Bearer(admin.to_owned()),
            reqwest::Method::POST,
            "/graphql",
            Some(json!({ "query": introspection })),
        )
        .await;
    let mut served = Vec::new();
    for (kind, root) in [
        ("query", "queryType"),
        ("mutation", "mutationType"),
        ("subscription", "subscriptionType"),
    ] {
        let fields = body["data"]["__schema"][root]["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("no {root} fields by introspection: {body}"));
        for field in fields {
            served.push((kind, field["name"].as_str().unwrap().to_owned()));
        }
    }
    served
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a subscriber waits for the server's acknowledgement.
const WAIT: Duration = Duration::from_secs(10);

/// Opens a `graphql-transport-ws` connection as `token` (anonymous when `None`), which the
/// server acknowledges, and starts `subscription` on it.
async fn subscribe(http: &Http, token: Option<&str>, subscription: &str) -> Socket {
    let url = format!("{}/graphql/ws", http.base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let payload = token.map_or(
        json!({}),
        |token| json!({"authorization": format!("Bearer {token}")}),
    );
    let init = json!({"type": "connection_init", "payload": payload});
    socket.send(Message::text(init.to_string())).await.unwrap();
    let ack = next_frame(&mut socket, WAIT).await;
    assert_eq!(
        ack.as_ref().map(|a| &a["type"]),
        Some(&json!("connection_ack")),
        "{ack:?}"
    );
    let start = json!({"id": "1", "type": "subscribe", "payload": {"query": subscription}});
    socket.send(Message::text(start.to_string())).await.unwrap();
    socket
}

/// The next protocol message on `socket` (keep-alives and pings skipped), or `None` when none
/// comes within `wait`; a closed socket is a message `{"type": "closed"}`.
async fn next_frame(socket: &mut Socket, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return None,
            Ok(Some(Ok(Message::Text(text)))) => {
                let message: Value = serde_json::from_str(&text).unwrap();
                if message["type"] != "ka" && message["type"] != "ping" {
                    return Some(message);
                }
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Ok(other) => return Some(json!({"type": "closed", "detail": format!("{other:?}")})),
        }
    }
}

/// Subscribes as every caller to every subscription, each held to who may, by the first
/// answer: denied is an error `UNAUTHENTICATED`/`FORBIDDEN`, allowed anything else the
/// field's resolver says. A feed still silent gets an order of `customer` (whose orders
/// every signed-in caller may see) placed, until it speaks.
async fn check_subscriptions(
    t: &TestApp,
    http: &Http,
    callers: &[Option<String>],
    customer: uuid::Uuid,
) -> Vec<String> {
    use stateset::services::orders::{CreateOrderInput, OrderLineInput};
    let variant = t.variant("MATRIX-FEED-1").await;
    let place_order = || async {
        let input = CreateOrderInput {
            customer_id: Some(customer),
            items: vec![OrderLineInput {
                variant_id: variant,
                quantity: 1,
                unit_price: None,
                discount: None,
                tax: None,
            }],
            ..Default::default()
        };
        t.services()
            .orders
            .create_order(&t.ctx, input)
            .await
            .expect("order");
    };
    let mut failures = Vec::new();
    for (subscription, allowed) in graphql_subscriptions() {
        let (_, field) = root_field(&subscription);
        for (who, token) in callers.iter().enumerate() {
            let mut socket = subscribe(http, token.as_deref(), &subscription).await;
            let mut first = None;
            for _ in 0..20 {
                first = next_frame(&mut socket, Duration::from_millis(500)).await;
                if first.is_some() {
                    break;
                }
                place_order().await;
            }
            // An answer is a result (`next`) or a refused request (`error`), nothing else.
            let answer = match first.as_ref().map(|m| m["type"].as_str()) {
                Some(Some("next")) => first.as_ref().map(|m| m["payload"].clone()),
                Some(Some("error")) => first.as_ref().map(|m| json!({"errors": m["payload"]})),
                _ => None,
            };
            let ok = answer.as_ref().is_some_and(|body| {
                graphql_answer_ok(Expect::Roles(allowed), who, token.is_none(), field, body)
            });
            if !ok {
                failures.push(format!(
                    "GraphQL {subscription} as {}: {first:?}",
                    ROLE_NAMES[who]
                ));
            }
        }
    }
    failures
}

/// Every method of our gRPC services (package `stateset.v1`), as `Service/Method`, from the
/// descriptors the server serves by reflection.
fn served_grpc_methods() -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET)
        .expect("the served descriptor set");
    set.file
        .iter()
        .filter(|file| file.package() == "stateset.v1")
        .flat_map(|file| &file.service)
        .flat_map(|service| {
            service
                .method
                .iter()
                .map(move |method| format!("{}/{}", service.name(), method.name()))
        })
        .collect()
}

/// Whether a gRPC call went as the matrix says: let through (any answer but a refusal or a
/// fault), or refused as unauthenticated (no credentials) or forbidden.
fn grpc_verdict(
    name: &str,
    who: usize,
    signed_in: bool,
    allowed: bool,
    result: Result<(), tonic::Status>,
) -> Option<String> {
    let code = result.err().map(|s| s.code());
    let ok = match (allowed, signed_in) {
        (true, _) => !matches!(
            code,
            Some(Code::Unauthenticated | Code::PermissionDenied | Code::Internal)
        ),
        (false, false) => code == Some(Code::Unauthenticated),
        (false, true) => code == Some(Code::PermissionDenied),
    };
    (!ok).then(|| format!("gRPC {name} as {}: {code:?}", ROLE_NAMES[who]))
}

/// Ends the caller's session, so it is called after everything else.
const GRPC_LOGOUT: &str = "IdentityService/Logout";

/// Signs the callers in again (all but the anonymous one), in `ROLE_NAMES` order.
async fn fresh_sessions(t: &TestApp) -> Vec<Option<String>> {
    let mut fresh = Vec::new();
    for email in [
        "admin@example.com",
        "manager@example.com",
        "staff@example.com",
        "customer@example.com",
    ] {
        fresh.push(Some(t.login(email).await.access_token));
    }
    fresh.push(None);
    fresh
}

/// gRPC methods as rows: `Service/Method`, a request in the proto3 JSON mapping, who may.
/// Ids name nothing, so a call let through ends in NOT_FOUND or INVALID_ARGUMENT.
/// `refresh_token` is a fresh one of the customer's, spent by the Refresh row.
fn grpc_table(product: &str, refresh_token: &str) -> Vec<(&'static str, Value, Allowed)> {
    let no_cart = "cart_no_such_token";
    let an_address = json!({"line1": "1", "city": "X", "country": "US"});
    vec![
        // The catalog: anyone reads it, managers change it.
        ("CatalogService/ListProducts", json!({}), EVERYONE),
        (
            "CatalogService/GetProduct",
            json!({"id": product}),
            EVERYONE,
        ),
        (
            "CatalogService/CreateProduct",
            json!({"name": ""}),
            MANAGERS,
        ),
        (
            "CatalogService/UpdateProduct",
            json!({"id": NOBODY, "name": "x"}),
            MANAGERS,
        ),
        (
            "CatalogService/DeleteProduct",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        // Orders: read by everyone signed in (customers their own), handled by staff,
        // placed, cancelled and archived by managers.
        ("OrderService/ListOrders", json!({}), SIGNED_IN),
        ("OrderService/GetOrder", json!({"id": NOBODY}), SIGNED_IN),
        (
            "OrderService/ListOrderItems",
            json!({"id": NOBODY}),
            SIGNED_IN,
        ),
        ("OrderService/CreateOrder", json!({}), MANAGERS),
        (
            "OrderService/UpdateOrderStatus",
            json!({"id": NOBODY, "status": "ORDER_STATUS_PROCESSING"}),
            OPERATIONS,
        ),
        (
            "OrderService/HoldOrder",
            json!({"id": NOBODY, "reason": "x"}),
            OPERATIONS,
        ),
        (
            "OrderService/ReleaseOrderHold",
            json!({"id": NOBODY}),
            OPERATIONS,
        ),
        (
            "OrderService/CancelOrder",
            json!({"id": NOBODY, "reason": "x"}),
            MANAGERS,
        ),
        ("OrderService/ArchiveOrder", json!({"id": NOBODY}), MANAGERS),
        ("OrderService/MergeOrders", json!({}), OPERATIONS),
        ("OrderService/SplitOrder", json!({"id": NOBODY}), OPERATIONS),
        // Customers: customers write their own record.
        ("CustomerService/CreateCustomer", json!({}), BUYERS),
        (
            "CustomerService/GetCustomer",
            json!({"id": NOBODY}),
            SIGNED_IN,
        ),
        ("CustomerService/GetMyCustomer", json!({}), SIGNED_IN),
        ("CustomerService/ListCustomers", json!({}), SIGNED_IN),
        (
            "CustomerService/UpdateCustomer",
            json!({"id": NOBODY}),
            BUYERS,
        ),
        (
            "CustomerService/AddCustomerAddress",
            json!({"customer_id": NOBODY, "address": an_address}),
            BUYERS,
        ),
        // Stock: reading, receiving, adjusting and moving it is `inventory:read` and
        // `inventory:adjust` (staff too); holding and releasing it, `inventory:reserve`.
        ("InventoryService/ListInventory", json!({}), OPERATIONS),
        (
            "InventoryService/GetInventoryItem",
            json!({"id": NOBODY}),
            OPERATIONS,
        ),
        // No units: refused once past the permission check, so no stock arrives.
        (
            "InventoryService/ReceiveInventory",
            json!({"variant_id": NOBODY, "location_id": NOBODY, "quantity": 0}),
            OPERATIONS,
        ),
        (
            "InventoryService/AdjustInventory",
            json!({"item_id": NOBODY, "delta": 1, "reason": "x"}),
            OPERATIONS,
        ),
        (
            "InventoryService/GetAvailableToPromise",
            json!({"variant_id": NOBODY}),
            OPERATIONS,
        ),
        (
            "InventoryService/CreateTransfer",
            json!({"from_location_id": NOBODY, "to_location_id": NOBODY}),
            OPERATIONS,
        ),
        (
            "InventoryService/ReceiveTransfer",
            json!({"id": NOBODY}),
            OPERATIONS,
        ),
        (
            "InventoryService/ReserveInventory",
            json!({"variant_id": NOBODY, "quantity": 1}),
            MANAGERS,
        ),
        (
            "InventoryService/ReleaseReservation",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        // Item settings, locations and placing purchase orders are `inventory:manage`
        // (managers); counts and receiving purchase orders `inventory:adjust` (staff too).
        ("InventoryService/ListLowStock", json!({}), OPERATIONS),
        (
            "InventoryService/UpdateInventoryItem",
            json!({"id": NOBODY, "reorder_point": 1}),
            MANAGERS,
        ),
        (
            "InventoryService/ListLots",
            json!({"item_id": NOBODY}),
            OPERATIONS,
        ),
        (
            "InventoryService/ListMovements",
            json!({"item_id": NOBODY}),
            OPERATIONS,
        ),
        (
            "InventoryService/ListReservations",
            json!({"item_id": NOBODY}),
            OPERATIONS,
        ),
        // An unknown location: refused once past the permission check, so no count opens.
        (
            "InventoryService/OpenCount",
            json!({"location_id": NOBODY}),
            OPERATIONS,
        ),
        (
            "InventoryService/GetCount",
            json!({"id": NOBODY}),
            OPERATIONS,
        ),
        (
            "InventoryService/RecordCount",
            json!({"count_id": NOBODY, "variant_id": NOBODY, "counted": 0}),
            OPERATIONS,
        ),
        (
            "InventoryService/PostCount",
            json!({"id": NOBODY}),
            OPERATIONS,
        ),
        ("InventoryService/ListLocations", json!({}), OPERATIONS),
        (
            "InventoryService/CreateLocation",
            json!({"code": "", "name": "", "kind": "LOCATION_KIND_STORE"}),
            MANAGERS,
        ),
        (
            "InventoryService/UpdateLocation",
            json!({"id": NOBODY, "name": "x"}),
            MANAGERS,
        ),
        (
            "InventoryService/CreatePurchaseOrder",
            json!({"location_id": NOBODY, "supplier": ""}),
            MANAGERS,
        ),
        (
            "InventoryService/GetPurchaseOrder",
            json!({"id": NOBODY}),
            OPERATIONS,
        ),
        (
            "InventoryService/ReceivePurchaseOrder",
            json!({"id": NOBODY}),
            OPERATIONS,
        ),
        // Anyone may follow the log; each caller sees only the events it may see.
        ("EventService/ListEvents", json!({"page_size": 1}), EVERYONE),
        ("EventService/Subscribe", json!({}), EVERYONE),
        // Payments: managers.
        ("PaymentService/GetPayment", json!({"id": NOBODY}), MANAGERS),
        (
            "PaymentService/CapturePayment",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        (
            "PaymentService/CreatePayment",
            json!({"order_id": NOBODY, "payment_token": "tok_none"}),
            MANAGERS,
        ),
        (
            "PaymentService/ListPayments",
            json!({"order_id": NOBODY}),
            MANAGERS,
        ),
        (
            "PaymentService/VoidPayment",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        (
            "PaymentService/RefundPayment",
            json!({"payment_id": NOBODY}),
            MANAGERS,
        ),
        (
            "PaymentService/GetStablecoinReconciliation",
            json!({}),
            MANAGERS,
        ),
        // Identity: anyone signs up and in; each user keeps API keys; administrators manage
        // roles and users, which managers may read. Logout is served last (it ends sessions).
        (
            "IdentityService/Register",
            json!({"email": "bad", "password": "x"}),
            EVERYONE,
        ),
        (
            "IdentityService/Login",
            json!({"email": "customer@example.com", "password": PASSWORD}),
            EVERYONE,
        ),
        (
            "IdentityService/Refresh",
            json!({"refresh_token": refresh_token}),
            EVERYONE,
        ),
        ("IdentityService/Logout", json!({}), SIGNED_IN),
        ("IdentityService/GetCurrentUser", json!({}), SIGNED_IN),
        ("IdentityService/ListApiKeys", json!({}), SIGNED_IN),
        (
            "IdentityService/CreateApiKey",
            json!({"name": "", "scopes": []}),
            SIGNED_IN,
        ),
        (
            "IdentityService/RevokeApiKey",
            json!({"id": NOBODY}),
            SIGNED_IN,
        ),
        ("IdentityService/ListRoles", json!({}), WITH_ROLES_READ),
        (
            "IdentityService/CreateRole",
            json!({"name": "", "permissions": []}),
            ADMINS,
        ),
        ("IdentityService/UpdateRole", json!({"id": NOBODY}), ADMINS),
        ("IdentityService/DeleteRole", json!({"id": NOBODY}), ADMINS),
        ("IdentityService/ListUsers", json!({}), MANAGERS),
        (
            "IdentityService/CreateUser",
            json!({"email": "bad", "password": "x", "role_id": NOBODY}),
            ADMINS,
        ),
        (
            "IdentityService/SetUserRole",
            json!({"id": NOBODY, "role_id": NOBODY}),
            ADMINS,
        ),
        (
            "IdentityService/SetUserActive",
            json!({"id": NOBODY, "active": true}),
            ADMINS,
        ),
        (
            "CartService/CreateCart",
            json!({"items": [{"variant_id": NOBODY, "quantity": 1}]}),
            EVERYONE,
        ),
        ("CartService/GetCart", json!({"cart": no_cart}), EVERYONE),
        (
            "CartService/AddCartItem",
            json!({"cart": no_cart, "item": {"variant_id": NOBODY, "quantity": 1}}),
            EVERYONE,
        ),
        (
            "CartService/UpdateCartItem",
            json!({"cart": no_cart, "item_id": NOBODY, "quantity": 1}),
            EVERYONE,
        ),
        (
            "CartService/RemoveCartItem",
            json!({"cart": no_cart, "item_id": NOBODY}),
            EVERYONE,
        ),
        (
            "CartService/MergeCart",
            json!({"token": no_cart}),
            CART_OWNERS,
        ),
        (
            "CheckoutService/StartCheckout",
            json!({"cart_id": no_cart}),
            EVERYONE,
        ),
        (
            "CheckoutService/GetCheckout",
            json!({"id": NOBODY}),
            EVERYONE,
        ),
        (
            "CheckoutService/UpdateCheckout",
            json!({"id": NOBODY, "email": "x@example.com"}),
            EVERYONE,
        ),
        (
            "CheckoutService/ListShippingOptions",
            json!({"id": NOBODY}),
            EVERYONE,
        ),
        (
            "CheckoutService/CompleteCheckout",
            json!({"id": NOBODY}),
            EVERYONE,
        ),
        (
            "PaymentService/CreatePaymentToken",
            json!({"number": "1", "exp_month": 1, "exp_year": 1, "cvc": "1"}),
            EVERYONE,
        ),
        ("PricingService/ListShippingMethods", json!({}), MANAGERS),
        ("PricingService/ListTaxRates", json!({}), MANAGERS),
        ("PricingService/ListDiscountCodes", json!({}), MANAGERS),
        (
            "PricingService/CreateShippingMethod",
            json!({"name": "", "carrier": "", "service": "", "kind": "RATE_KIND_FLAT", "currency": "USD"}),
            MANAGERS,
        ),
        (
            "PricingService/CreateTaxRate",
            json!({"name": "", "country": "", "rate": "0"}),
            MANAGERS,
        ),
        (
            "PricingService/CreateDiscountCode",
            json!({"code": "", "kind": "DISCOUNT_KIND_PERCENTAGE"}),
            MANAGERS,
        ),
        (
            "PricingService/DeleteShippingMethod",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        (
            "PricingService/DeleteTaxRate",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        (
            "PricingService/DeleteDiscountCode",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        // Invoices: read by everyone signed in (customers their own), changed by managers.
        ("InvoiceService/ListInvoices", json!({}), SIGNED_IN),
        (
            "InvoiceService/GetInvoice",
            json!({"id": NOBODY}),
            SIGNED_IN,
        ),
        (
            "InvoiceService/GetInvoicePdf",
            json!({"id": NOBODY}),
            SIGNED_IN,
        ),
        (
            "InvoiceService/CreateInvoice",
            json!({"order_id": NOBODY}),
            MANAGERS,
        ),
        (
            "InvoiceService/IssueInvoice",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        (
            "InvoiceService/VoidInvoice",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        (
            "InvoiceService/RecordInvoicePayment",
            json!({"id": NOBODY, "amount": "1"}),
            MANAGERS,
        ),
        // Webhooks: `webhooks:*` for managers, nothing for staff or customers.
        ("WebhookService/ListWebhooks", json!({}), MANAGERS),
        ("WebhookService/GetWebhook", json!({"id": NOBODY}), MANAGERS),
        // Refused once past the permission check, so no webhook is made.
        (
            "WebhookService/CreateWebhook",
            json!({"url": "ftp://x"}),
            MANAGERS,
        ),
        (
            "WebhookService/UpdateWebhook",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        (
            "WebhookService/DeleteWebhook",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        (
            "WebhookService/RotateWebhookSecret",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        (
            "WebhookService/PingWebhook",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        (
            "WebhookService/ListWebhookDeliveries",
            json!({"webhook_id": NOBODY}),
            MANAGERS,
        ),
        (
            "WebhookService/GetWebhookDelivery",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        (
            "WebhookService/ResendWebhookDelivery",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        // The catalog: products and variants `products:*`, categories `categories:*`.
        (
            "CatalogService/GetProductAvailability",
            json!({"id": NOBODY}),
            EVERYONE,
        ),
        (
            "CatalogService/CreateVariant",
            json!({"product_id": NOBODY, "variant": {"sku": "", "price": {"amount": "1", "currency": "USD"}}}),
            MANAGERS,
        ),
        (
            "CatalogService/UpdateVariant",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        (
            "CatalogService/DeleteVariant",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        (
            "CatalogService/SetProductCategories",
            json!({"product_id": NOBODY}),
            MANAGERS,
        ),
        ("CatalogService/ListCategories", json!({}), EVERYONE),
        (
            "CatalogService/GetCategory",
            json!({"id": NOBODY}),
            EVERYONE,
        ),
        (
            "CatalogService/CreateCategory",
            json!({"name": ""}),
            MANAGERS,
        ),
        (
            "CatalogService/UpdateCategory",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        (
            "CatalogService/DeleteCategory",
            json!({"id": NOBODY}),
            MANAGERS,
        ),
        // Orders: read by everyone signed in (customers their own), changed by staff.
        (
            "OrderService/UpdateOrder",
            json!({"id": NOBODY}),
            OPERATIONS,
        ),
        (
            "OrderService/ListOrderHistory",
            json!({"id": NOBODY}),
            SIGNED_IN,
        ),
        (
            "OrderService/ListOrderEvents",
            json!({"id": NOBODY}),
            SIGNED_IN,
        ),
        // Address books and wishlists: `customers:write` (customers their own).
        (
            "CustomerService/UpdateCustomerAddress",
            json!({"customer_id": NOBODY, "address_id": NOBODY, "address": {"line1": "1 Main St", "city": "X", "country": "US"}}),
            BUYERS,
        ),
        (
            "CustomerService/DeleteCustomerAddress",
            json!({"customer_id": NOBODY, "address_id": NOBODY}),
            BUYERS,
        ),
        (
            "CustomerService/AddToWishlist",
            json!({"customer_id": NOBODY, "variant_id": NOBODY}),
            BUYERS,
        ),
        (
            "CustomerService/RemoveFromWishlist",
            json!({"customer_id": NOBODY, "variant_id": NOBODY}),
            BUYERS,
        ),
        // Shipments: read by everyone signed in (customers their own orders'), made, moved,
        // labelled and tracked by staff (`shipments:*`); carriers are staff's too; anyone
        // follows a tracking number.
        ("ShipmentService/ListShipments", json!({}), SIGNED_IN),
        (
            "ShipmentService/GetShipment",
            json!({"id": NOBODY}),
            SIGNED_IN,
        ),
        (
            "ShipmentService/CreateShipment",
            json!({"fulfillment_order_id": NOBODY}),
            OPERATIONS,
        ),
        (
            "ShipmentService/AddShipmentPackages",
            json!({"id": NOBODY, "packages": [{"weight_grams": 1, "length_mm": 1, "width_mm": 1, "height_mm": 1}]}),
            OPERATIONS,
        ),
        (
            "ShipmentService/PickShipment",
            json!({"id": NOBODY}),
            OPERATIONS,
        ),
        (
            "ShipmentService/PackShipment",
            json!({"id": NOBODY}),
            OPERATIONS,
        ),
        (
            "ShipmentService/ShipShipment",
            json!({"id": NOBODY}),
            OPERATIONS,
        ),
        (
            "ShipmentService/DeliverShipment",
            json!({"id": NOBODY}),
            OPERATIONS,
        ),
        (
            "ShipmentService/CancelShipment",
            json!({"id": NOBODY, "reason": "x"}),
            OPERATIONS,
        ),
        (
            "ShipmentService/GetShipmentRates",
            json!({"id": NOBODY}),
            OPERATIONS,
        ),
        (
            "ShipmentService/BuyShipmentLabels",
            json!({"id": NOBODY, "choice": "RATE_CHOICE_CHEAPEST"}),
            OPERATIONS,
        ),
        (
            "ShipmentService/VoidShipmentLabels",
            json!({"id": NOBODY}),
            OPERATIONS,
        ),
        (
            "ShipmentService/GetShipmentLabel",
            json!({"id": NOBODY, "package": 1}),
            SIGNED_IN,
        ),
        (
            "ShipmentService/RecordTrackingEvents",
            json!({"id": NOBODY, "events": [{"event_id": "e", "code": "D", "occurred_at": "2026-01-01T00:00:00Z"}]}),
            OPERATIONS,
        ),
        (
            "ShipmentService/ListTrackingEvents",
            json!({"id": NOBODY}),
            SIGNED_IN,
        ),
        (
            "ShipmentService/TrackShipment",
            json!({"tracking_number": "1Z0000000000000000"}),
            EVERYONE,
        ),
        (
            "ShipmentService/ListOrderFulfillmentOrders",
            json!({"order_id": NOBODY}),
            SIGNED_IN,
        ),
        (
            "ShipmentService/GetFulfillmentOrder",
            json!({"id": NOBODY}),
            SIGNED_IN,
        ),
        (
            "ShipmentService/HoldFulfillmentOrder",
            json!({"id": NOBODY, "reason": "FULFILLMENT_HOLD_REASON_OTHER"}),
            OPERATIONS,
        ),
        (
            "ShipmentService/ReleaseFulfillmentOrder",
            json!({"id": NOBODY}),
            OPERATIONS,
        ),
        (
            "ShipmentService/MoveFulfillmentOrder",
            json!({"id": NOBODY, "location_id": NOBODY}),
            OPERATIONS,
        ),
        (
            "ShipmentService/SplitFulfillmentOrder",
            json!({"id": NOBODY, "lines": [{"fulfillment_order_line_id": NOBODY, "quantity": 1}]}),
            OPERATIONS,
        ),
        (
            "ShipmentService/MergeFulfillmentOrders",
            json!({"fulfillment_order_ids": [NOBODY, NOBODY]}),
            OPERATIONS,
        ),
        ("ShipmentService/ListCarriers", json!({}), OPERATIONS),
        (
            "ShipmentService/GetCarrier",
            json!({"id": NOBODY}),
            OPERATIONS,
        ),
        // No base URL: refused once past the permission check, so no carrier is made.
        (
            "ShipmentService/CreateCarrier",
            json!({"code": "", "name": "", "adapter": "CARRIER_ADAPTER_HTTP"}),
            OPERATIONS,
        ),
        (
            "ShipmentService/UpdateCarrier",
            json!({"id": NOBODY}),
            OPERATIONS,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_of_every_door_is_guarded_by_role() {
    let t = TestApp::new().await;
    t.seed_demo().await;
    let product = t
        .json(Method::GET, "/api/v1/products/wool-beanie", None)
        .await
        .1["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let callers = [
        Some(t.admin.clone()),
        Some(t.user_token("manager@example.com", MANAGER_ROLE).await),
        Some(t.user_token("staff@example.com", STAFF_ROLE).await),
        Some(t.user_token("customer@example.com", CUSTOMER_ROLE).await),
        None,
    ];
    let http = Http::new(&t).await;

    // REST: every operation the server declares, each caller held to the permission it
    // declares; the request is a fixture where one is kept, else built from the OpenAPI document.
    let contexts = caller_contexts(&t, &callers).await;
    let (_, doc) = t.json(Method::GET, "/api-docs/openapi.json", None).await;
    let fixtures = rest_fixtures(&product);
    // Signing out ends the callers' sessions, so it goes last.
    let (last, first): (Vec<&Operation>, Vec<&Operation>) =
        stateset::adapters::rest::operations().partition(|op| op.handler == "logout");
    let walk = RestWalk {
        http: &http,
        callers: &callers,
        contexts: &contexts,
        fixtures: &fixtures,
        doc: &doc,
    };
    let mut failures = walk.check(&first).await;
    assert!(
        first.len() > 120,
        "only {} REST operations are declared",
        first.len()
    );

    // GraphQL: every root field the server serves is exercised by an entry of the matrix.
    let ops = graphql_ops(&product);
    let subscriptions = graphql_subscriptions();
    let exercised: BTreeSet<(&str, &str)> = ops
        .iter()
        .map(|(query, _)| root_field(query))
        .chain(subscriptions.iter().map(|(query, _)| root_field(query)))
        .collect();
    let served = served_graphql_fields(&http, &t.admin).await;
    for kind in ["query", "mutation", "subscription"] {
        assert!(
            served.iter().any(|(k, _)| *k == kind),
            "no {kind} field is served: {served:?}"
        );
    }
    for (kind, field) in &served {
        if !exercised.contains(&(*kind, field.as_str())) {
            failures.push(format!(
                "GraphQL {kind} field {field} is served but the matrix does not exercise it"
            ));
        }
    }
    // Signing out ends the callers' sessions, so it goes last.
    let (graphql_last, graphql_first): (Vec<_>, Vec<_>) = ops
        .into_iter()
        .partition(|(query, _)| root_field(query) == ("mutation", "logout"));
    assert_eq!(graphql_last.len(), 1, "one GraphQL logout");
    failures.extend(check_graphql(&http, &callers, &graphql_first).await);

    let channel = t.serve_grpc().await;
    let reflected = ReflectionClient::discover(channel.clone()).await;
    let mut grpc_checked = BTreeSet::new();
    let mut grpc_last = Vec::new();
    for (who, token) in callers.iter().enumerate() {
        // Every method from the table, called by a client that knows only reflection.
        let refresh_token = t.login("customer@example.com").await.refresh_token;
        for (name, request, allowed) in grpc_table(&product, &refresh_token) {
            if name == GRPC_LOGOUT {
                grpc_last.push((who, request, allowed));
                continue;
            }
            let result = reflected.reach(name, request, token.as_deref()).await;
            grpc_checked.insert(name.to_owned());
            failures.extend(grpc_verdict(
                name,
                who,
                token.is_some(),
                allowed[who],
                result,
            ));
        }
    }
    // Subscriptions place orders for the signed-in customer, so they come after the rest.
    let customer = t
        .services()
        .customers
        .my_customer(&contexts[3]) // ROLE_NAMES[3], the customer
        .await
        .expect("the signed-in customer's record")
        .id;
    failures.extend(check_subscriptions(&t, &http, &callers, customer).await);

    failures.extend(walk.check(&last).await);
    // REST's logout has ended the callers' sessions by now, so GraphQL's and gRPC's sign out
    // sessions of their own (the same users, signed in again).
    failures.extend(check_graphql(&http, &fresh_sessions(&t).await, &graphql_last).await);
    let fresh = fresh_sessions(&t).await;
    for (who, request, allowed) in grpc_last {
        let result = reflected
            .reach(GRPC_LOGOUT, request, fresh[who].as_deref())
            .await;
        grpc_checked.insert(GRPC_LOGOUT.to_owned());
        failures.extend(grpc_verdict(
            GRPC_LOGOUT,
            who,
            fresh[who].is_some(),
            allowed[who],
            result,
        ));
    }
    // gRPC: every method the server serves is among those checked.
    let served = served_grpc_methods();
    assert!(!served.is_empty(), "no gRPC method is described");
    for method in &served {
        if !grpc_checked.contains(method.as_str()) {
            failures.push(format!(
                "gRPC {method} is served but the matrix does not check it"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} wrong answers:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_401_on_every_door_never_anonymous() {
    let t = TestApp::new().await;
    for auth in [
        Auth::Bearer("not-a-token".into()),
        Auth::Bearer("sk_live_nope".into()),
        Auth::ApiKey("sk_live_nope".into()),
    ] {
        let (status, body) = t
            .json_as(&auth, Method::GET, "/api/v1/products", None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(body["error"]["code"], "UNAUTHENTICATED");
        let (status, body) = t
            .json_as(
                &auth,
                Method::POST,
                "/graphql",
                Some(json!({"query": "{ categories { id } }"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
    let mut client = catalog_client(t.serve_grpc().await, Some("not-a-token"));
    let err = client
        .list_products(pb::ListProductsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_see_only_their_own_data() {
    let t = TestApp::new().await;
    let alice = Auth::Bearer(t.user_token("alice@example.com", CUSTOMER_ROLE).await);
    let bob = Auth::Bearer(t.user_token("bob@example.com", CUSTOMER_ROLE).await);
    let (status, created) = t
        .json_as(
            &alice,
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "alice's", "scopes": ["products:read"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let alice_key = created["api_key"]["id"].as_str().unwrap().to_owned();

    let (_, me) = t.json_as(&bob, Method::GET, "/api/v1/auth/me", None).await;
    assert_eq!(me["email"], "bob@example.com");
    let (_, keys) = t.json_as(&bob, Method::GET, "/api/v1/api-keys", None).await;
    assert_eq!(keys["items"], json!([]), "bob sees none of alice's keys");
    let (status, _) = t
        .json_as(
            &bob,
            Method::DELETE,
            &format!("/api/v1/api-keys/{alice_key}"),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another customer's key does not even exist for bob"
    );
    let (_, keys) = t
        .json_as(&alice, Method::GET, "/api/v1/api-keys", None)
        .await;
    assert_eq!(keys["items"][0]["id"], alice_key.as_str());
    assert!(
        keys["items"][0].get("key").is_none(),
        "a listed key never shows its secret"
    );

    // The event log shows a customer only what they may read: the catalog and their own
    // record, no user or key events, nothing about alice.
    let (_, own) = t
        .json_as(&bob, Method::GET, "/api/v1/customers", None)
        .await;
    let bob_customer = own["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, events) = t.json_as(&bob, Method::GET, "/api/v1/events", None).await;
    for event in events["items"].as_array().unwrap() {
        let kind = event["type"].as_str().unwrap();
        let catalog = kind.starts_with("product.") || kind.starts_with("category.");
        let own_record =
            kind.starts_with("customer.") && event["entity_id"] == bob_customer.as_str();
        assert!(catalog || own_record, "{event}");
    }
    let (_, everything) = t.json(Method::GET, "/api/v1/events", None).await;
    assert!(
        everything["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "user.created")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_roles_inherit_and_built_in_roles_are_fixed() {
    let t = TestApp::new().await;
    let staff_role = STAFF_ROLE.to_string();
    let (status, role) = t
        .json(
            Method::POST,
            "/api/v1/roles",
            Some(json!({"name": "catalog_editor", "parent_id": staff_role, "permissions": ["products:write", "categories:*"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{role}");
    let effective: Vec<&str> = role["effective_permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert!(
        effective.contains(&"products:write") && effective.contains(&"orders:read"),
        "{effective:?}"
    );
    let role_id = role["id"].as_str().unwrap().to_owned();

    let editor = Auth::Bearer(t.user_token("editor@example.com", CUSTOMER_ROLE).await);
    let (_, me) = t
        .json_as(&editor, Method::GET, "/api/v1/auth/me", None)
        .await;
    let (status, _) = t
        .json(
            Method::PUT,
            &format!("/api/v1/users/{}/role", me["id"].as_str().unwrap()),
            Some(json!({"role_id": role_id})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let product = json!({"name": "Edited", "variants": [{"sku": "ED-1", "price": {"amount": "1", "currency": "USD"}}]});
    assert_eq!(
        t.json_as(&editor, Method::POST, "/api/v1/products", Some(product))
            .await
            .0,
        StatusCode::CREATED,
        "own permission"
    );
    assert_eq!(
        t.json_as(&editor, Method::GET, "/api/v1/orders", None)
            .await
            .0,
        StatusCode::OK,
        "inherited from staff"
    );
    assert_eq!(
        t.json_as(&editor, Method::GET, "/api/v1/users", None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // Changing the role applies at once; inheritance cannot loop; built-in roles do not change.
    let (status, _) = t
        .json(
            Method::PUT,
            &format!("/api/v1/roles/{role_id}"),
            Some(json!({"permissions": []})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let product = json!({"name": "Again", "variants": [{"sku": "ED-2", "price": {"amount": "1", "currency": "USD"}}]});
    assert_eq!(
        t.json_as(&editor, Method::POST, "/api/v1/products", Some(product))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (_, child) = t
        .json(
            Method::POST,
            "/api/v1/roles",
            Some(json!({"name": "child", "parent_id": role_id})),
        )
        .await;
    let (status, body) = t
        .json(
            Method::PUT,
            &format!("/api/v1/roles/{role_id}"),
            Some(json!({"parent_id": child["id"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "parent_id");
    let (status, body) = t
        .json(
            Method::PUT,
            &format!("/api/v1/roles/{staff_role}"),
            Some(json!({"permissions": ["*"]})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("INVALID_STATE"))
    );
    let (status, _) = t
        .json(Method::DELETE, &format!("/api/v1/roles/{role_id}"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "still in use");
    let (status, body) = t
        .json(
            Method::POST,
            "/api/v1/roles",
            Some(json!({"name": "bad", "permissions": ["Orders:Read"]})),
        )
        .await;
    assert_eq!(
        (
            status,
            body["error"]["details"]["fields"][0]["field"].as_str()
        ),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("permissions[0]"))
    );
}
