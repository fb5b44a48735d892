//! The permission matrix, over real HTTP and gRPC: every operation of every door, with each built-in role and an
//! anonymous caller. Denied is 401 (no credentials) or 403 (missing permission) on REST,
//! `UNAUTHENTICATED`/`FORBIDDEN` on GraphQL, `Unauthenticated`/`PermissionDenied` on gRPC.
//! Allowed means anything else (a 404 or 422 for the placeholder ids and bodies used here
//! still proves the caller got past the permission check, which services make first).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use stateset::adapters::grpc::pb;
use stateset::services::auth::{CUSTOMER_ROLE, MANAGER_ROLE, STAFF_ROLE};
use tonic::Code;

use stateset::adapters::rest::{Needs, Operation};
use stateset::services::Ctx;
use stateset::services::auth::Credentials;

use crate::support::{Auth, Http, TestApp, catalog_client};

/// Who may: admin, manager, staff, customer, anonymous.
type Allowed = [bool; 5];
const EVERYONE: Allowed = [true; 5];
const SIGNED_IN: Allowed = [true, true, true, true, false];
const MANAGERS: Allowed = [true, true, false, false, false];
const ADMINS: Allowed = [true, false, false, false, false];
const WITH_ROLES_READ: Allowed = [true, true, false, false, false];
const OPERATIONS: Allowed = [true, true, true, false, false];
const BUYERS: Allowed = [true, true, false, true, false];
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

fn graphql_ops(product: &str) -> Vec<(String, Allowed)> {
    let op = |q: &str, allowed| (q.to_owned(), allowed);
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
        op("{ apiKeys { id } }", SIGNED_IN),
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
    let auth = |token: &Option<String>| token.clone().map_or(Auth::Anonymous, Auth::Bearer);
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
    for (query, allowed) in graphql_ops(&product) {
        for (who, token) in callers.iter().enumerate() {
            let (_, body) = http
                .send_as(
                    &auth(token),
                    reqwest::Method::POST,
                    "/graphql",
                    Some(json!({ "query": query })),
                )
                .await;
            let code = body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            let ok = match (allowed[who], token) {
                (true, _) => code != "UNAUTHENTICATED" && code != "FORBIDDEN" && code != "INTERNAL",
                (false, None) => code == "UNAUTHENTICATED",
                (false, Some(_)) => code == "FORBIDDEN",
            };
            if !ok {
                failures.push(format!("GraphQL {query} as {}: {body}", ROLE_NAMES[who]));
            }
        }
    }
    let channel = t.serve_grpc().await;
    for (who, token) in callers.iter().enumerate() {
        let mut client = catalog_client(channel.clone(), token.as_deref());
        let read = client
            .list_products(pb::ListProductsRequest::default())
            .await
            .map(drop);
        let get = client
            .get_product(pb::GetProductRequest {
                lookup: Some(pb::get_product_request::Lookup::Id(product.clone())),
            })
            .await
            .map(drop);
        let create = client
            .create_product(pb::CreateProductRequest {
                name: String::new(),
                ..Default::default()
            })
            .await
            .map(drop);
        let update = client
            .update_product(pb::UpdateProductRequest {
                id: NOBODY.into(),
                name: Some("x".into()),
                ..Default::default()
            })
            .await
            .map(drop);
        let delete = client
            .delete_product(pb::DeleteProductRequest { id: NOBODY.into() })
            .await
            .map(drop);
        let interceptor = crate::support::BearerInterceptor(token.clone());
        let mut orders = pb::order_service_client::OrderServiceClient::with_interceptor(
            channel.clone(),
            interceptor.clone(),
        );
        let mut customers = pb::customer_service_client::CustomerServiceClient::with_interceptor(
            channel.clone(),
            interceptor,
        );
        let by_id = || pb::GetOrderRequest {
            lookup: Some(pb::get_order_request::Lookup::Id(NOBODY.into())),
        };
        let id = || pb::OrderIdRequest { id: NOBODY.into() };
        let reason = || pb::OrderReasonRequest {
            id: NOBODY.into(),
            reason: "x".into(),
        };
        let list_orders = orders
            .list_orders(pb::ListOrdersRequest::default())
            .await
            .map(drop);
        let get_order = orders.get_order(by_id()).await.map(drop);
        let order_items = orders.list_order_items(by_id()).await.map(drop);
        let create_order = orders
            .create_order(pb::CreateOrderRequest::default())
            .await
            .map(drop);
        let status_request = pb::UpdateOrderStatusRequest {
            id: NOBODY.into(),
            status: pb::OrderStatus::Processing as i32,
            reason: None,
        };
        let update_status = orders.update_order_status(status_request).await.map(drop);
        let hold = orders.hold_order(reason()).await.map(drop);
        let release = orders.release_order_hold(id()).await.map(drop);
        let cancel = orders.cancel_order(reason()).await.map(drop);
        let archive = orders.archive_order(id()).await.map(drop);
        let merge = orders
            .merge_orders(pb::MergeOrdersRequest::default())
            .await
            .map(drop);
        let split = orders
            .split_order(pb::SplitOrderRequest {
                id: NOBODY.into(),
                items: vec![],
            })
            .await
            .map(drop);
        let create_customer = customers
            .create_customer(pb::CreateCustomerRequest::default())
            .await
            .map(drop);
        let get_customer = customers
            .get_customer(pb::GetCustomerRequest { id: NOBODY.into() })
            .await
            .map(drop);
        let list_customers = customers
            .list_customers(pb::ListCustomersRequest::default())
            .await
            .map(drop);
        let update_customer = customers
            .update_customer(pb::UpdateCustomerRequest {
                id: NOBODY.into(),
                ..Default::default()
            })
            .await
            .map(drop);
        let address = pb::AddCustomerAddressRequest {
            customer_id: NOBODY.into(),
            address: Some(pb::Address {
                line1: "1".into(),
                city: "X".into(),
                country: "US".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let add_address = customers.add_customer_address(address).await.map(drop);
        let mut stock = pb::inventory_service_client::InventoryServiceClient::with_interceptor(
            channel.clone(),
            crate::support::BearerInterceptor(token.clone()),
        );
        let list_inventory = stock
            .list_inventory(pb::ListInventoryRequest::default())
            .await
            .map(drop);
        let reserve_request = pb::ReserveInventoryRequest {
            target: Some(pb::reserve_inventory_request::Target::VariantId(
                NOBODY.into(),
            )),
            quantity: 1,
            ..Default::default()
        };
        let reserve = stock.reserve_inventory(reserve_request).await.map(drop);
        let mut payments = pb::payment_service_client::PaymentServiceClient::with_interceptor(
            channel.clone(),
            crate::support::BearerInterceptor(token.clone()),
        );
        let get_payment = payments
            .get_payment(pb::GetPaymentRequest { id: NOBODY.into() })
            .await
            .map(drop);
        let capture_payment = payments
            .capture_payment(pb::CapturePaymentRequest {
                id: NOBODY.into(),
                amount: None,
            })
            .await
            .map(drop);
        for (name, result, allowed) in [
            ("GetPayment", get_payment, MANAGERS[who]),
            ("CapturePayment", capture_payment, MANAGERS[who]),
            ("ListProducts", read, EVERYONE[who]),
            ("GetProduct", get, EVERYONE[who]),
            ("CreateProduct", create, MANAGERS[who]),
            ("UpdateProduct", update, MANAGERS[who]),
            ("DeleteProduct", delete, MANAGERS[who]),
            ("ListOrders", list_orders, SIGNED_IN[who]),
            ("GetOrder", get_order, SIGNED_IN[who]),
            ("ListOrderItems", order_items, SIGNED_IN[who]),
            ("CreateOrder", create_order, MANAGERS[who]),
            ("UpdateOrderStatus", update_status, OPERATIONS[who]),
            ("HoldOrder", hold, OPERATIONS[who]),
            ("ReleaseOrderHold", release, OPERATIONS[who]),
            ("CancelOrder", cancel, MANAGERS[who]),
            ("ArchiveOrder", archive, MANAGERS[who]),
            ("MergeOrders", merge, OPERATIONS[who]),
            ("SplitOrder", split, OPERATIONS[who]),
            ("CreateCustomer", create_customer, BUYERS[who]),
            ("GetCustomer", get_customer, SIGNED_IN[who]),
            ("ListCustomers", list_customers, SIGNED_IN[who]),
            ("UpdateCustomer", update_customer, BUYERS[who]),
            ("AddCustomerAddress", add_address, BUYERS[who]),
            ("ListInventory", list_inventory, OPERATIONS[who]),
            ("ReserveInventory", reserve, MANAGERS[who]),
        ] {
            let code = result.err().map(|s| s.code());
            let ok = match (allowed, token) {
                (true, _) => !matches!(
                    code,
                    Some(Code::Unauthenticated | Code::PermissionDenied | Code::Internal)
                ),
                (false, None) => code == Some(Code::Unauthenticated),
                (false, Some(_)) => code == Some(Code::PermissionDenied),
            };
            if !ok {
                failures.push(format!("gRPC {name} as {}: {code:?}", ROLE_NAMES[who]));
            }
        }
    }
    failures.extend(walk.check(&last).await);
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
