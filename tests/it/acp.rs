//! The Agentic Commerce Protocol door (2026-04-17): an agent goes from `POST
//! /checkout_sessions` to a paid order with a delegated token; every response body is
//! validated against the upstream JSON Schema; the digest's §15 checks each have a test; every
//! upstream example request goes through the parser.

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::checkout::{available, shop};
use crate::support::TestApp;

const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/specs/acp/2026-04-17"
);
const VERSION: &str = "2026-04-17";

fn load(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{SPEC}/{path}")).expect("spec file");
    serde_json::from_str(&text).expect("spec JSON")
}

fn checkout_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| load("json-schema/schema.agentic_checkout.json"))
}

fn delegate_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| load("json-schema/schema.delegate_payment.json"))
}

/// Asserts `value` is valid against `$defs/<def>` of `schema`, formats included.
fn assert_valid_in(schema: &Value, def: &str, value: &Value) {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": schema["$defs"],
        "$ref": format!("#/$defs/{def}"),
    });
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not a valid {def}: {errors:#?}\n{value:#}"
    );
}

/// Validates a session response; completed sessions must carry their order.
fn assert_session(value: &Value) {
    let def = if value["status"] == "completed" {
        "CheckoutSessionWithOrder"
    } else {
        "CheckoutSession"
    };
    assert_valid_in(checkout_schema(), def, value);
    assert_money_is_integers(value);
    for message in value["messages"].as_array().unwrap() {
        assert!(
            !message["content"].as_str().unwrap().contains('<'),
            "no raw HTML in messages"
        );
    }
}

fn assert_error(value: &Value) {
    assert_valid_in(checkout_schema(), "Error", value);
}

fn assert_money_is_integers(value: &Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if matches!(key.as_str(), "amount" | "unit_amount" | "max_amount") {
                    assert!(v.is_i64(), "{key} is an integer: {v}");
                }
                assert_money_is_integers(v);
            }
        }
        Value::Array(items) => items.iter().for_each(assert_money_is_integers),
        _ => {}
    }
}

/// An agent: an API key with the ACP scope.
struct Agent {
    key: String,
    key_id: String,
}

async fn agent(t: &TestApp) -> Agent {
    agent_with(t, &["acp:checkout"]).await
}

async fn agent_with(t: &TestApp, scopes: &[&str]) -> Agent {
    let (status, created) = t
        .json(
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "chatgpt", "scopes": scopes})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    Agent {
        key: created["key"].as_str().unwrap().to_owned(),
        key_id: created["api_key"]["id"].as_str().unwrap().to_owned(),
    }
}

/// One ACP request; `idempotency` `None` on a POST sends a fresh key.
struct Call<'a> {
    method: Method,
    path: String,
    body: Option<String>,
    bearer: Option<&'a str>,
    version: Option<&'a str>,
    idempotency: Option<Option<&'a str>>,
    request_id: Option<&'a str>,
}

impl<'a> Call<'a> {
    fn new(agent: &'a Agent, method: Method, path: &str, body: Option<Value>) -> Self {
        Self {
            method,
            path: path.to_owned(),
            body: body.map(|b| b.to_string()),
            bearer: Some(&agent.key),
            version: Some(VERSION),
            idempotency: None,
            request_id: None,
        }
    }

    async fn send(self, t: &TestApp) -> (StatusCode, HeaderMap, Value) {
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(&self.path);
        if let Some(bearer) = self.bearer {
            builder = builder.header("authorization", format!("Bearer {bearer}"));
        }
        if let Some(version) = self.version {
            builder = builder.header("api-version", version);
        }
        if let Some(id) = self.request_id {
            builder = builder.header("request-id", id);
        }
        let fresh = uuid::Uuid::new_v4().to_string();
        match self.idempotency {
            None if self.method == Method::POST => {
                builder = builder.header("idempotency-key", fresh.as_str());
            }
            Some(Some(key)) => builder = builder.header("idempotency-key", key),
            _ => {}
        }
        let request = match self.body {
            Some(body) => builder
                .header("content-type", "application/json")
                .body(Body::from(body)),
            None => builder.body(Body::empty()),
        }
        .unwrap();
        let (status, headers, bytes) = t.request(request).await;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON body")
        };
        (status, headers, value)
    }
}

async fn post(t: &TestApp, a: &Agent, path: &str, body: Value) -> (StatusCode, Value) {
    let (status, _, value) = Call::new(a, Method::POST, path, Some(body)).send(t).await;
    (status, value)
}

async fn get(t: &TestApp, a: &Agent, path: &str) -> (StatusCode, Value) {
    let (status, _, value) = Call::new(a, Method::GET, path, None).send(t).await;
    (status, value)
}

fn capabilities() -> Value {
    json!({"interventions": {"supported": ["3ds", "address_verification", "telepathy"], "future_field": 1}, "extensions": ["discount", "unknown_ext"]})
}

fn address() -> Value {
    json!({"name": "Ada Lovelace", "line_one": "1 Main St", "city": "San Jose", "state": "CA",
        "country": "US", "postal_code": "95113"})
}

fn create_body(quantity: i64) -> Value {
    json!({"line_items": [{"id": "CHK-TEE", "quantity": quantity}], "currency": "usd",
        "capabilities": capabilities()})
}

/// A session for two tees without an address yet.
async fn new_session(t: &TestApp, a: &Agent) -> Value {
    let (status, session) = post(t, a, "/checkout_sessions", create_body(2)).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert_session(&session);
    session
}

/// A session with buyer, address and shipping selected: ready for payment.
async fn ready_session(t: &TestApp, a: &Agent) -> Value {
    let session = new_session(t, a).await;
    let id = session["id"].as_str().unwrap();
    let path = format!("/checkout_sessions/{id}");
    let (status, session) = post(
        t,
        a,
        &path,
        json!({"buyer": {"email": "ada@example.com", "first_name": "Ada"},
            "fulfillment_details": {"name": "Ada Lovelace", "address": address()}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_session(&session);
    let option = session["fulfillment_options"][0]["id"].clone();
    let item = session["line_items"][0]["id"].clone();
    let (status, session) = post(
        t,
        a,
        &path,
        json!({"selected_fulfillment_options": [{"type": "shipping", "option_id": option, "item_ids": [item]}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_session(&session);
    assert_eq!(session["status"], "ready_for_payment", "{session}");
    session
}

/// Delegates a card for `session` and returns the vault token.
async fn delegate(t: &TestApp, a: &Agent, session: &str, number: &str, max_amount: i64) -> String {
    let (status, body) = post(
        t,
        a,
        "/agentic_commerce/delegate_payment",
        delegate_body(session, number, max_amount),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_valid_in(delegate_schema(), "DelegatePaymentResponse", &body);
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("vt_"));
    id
}

fn delegate_body(session: &str, number: &str, max_amount: i64) -> Value {
    json!({
        "payment_method": {"type": "card", "card_number_type": "fpan", "number": number,
            "exp_month": "12", "exp_year": "2030", "cvc": "123",
            "display_card_funding_type": "credit", "metadata": {}},
        "allowance": {"reason": "one_time", "max_amount": max_amount, "currency": "usd",
            "checkout_session_id": session, "merchant_id": "acct_stateset",
            "expires_at": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339()},
        "risk_signals": [],
        "metadata": {"source": "test"},
    })
}

fn complete_body(token: &str) -> Value {
    json!({"payment_data": {"handler_id": "card_tokenized",
        "instrument": {"type": "card", "credential": {"type": "spt", "token": token}}}})
}

fn total_of(session: &Value, kind: &str) -> Option<i64> {
    session["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == kind)
        .map(|t| t["amount"].as_i64().unwrap())
}

async fn order_count(t: &TestApp) -> usize {
    let (_, orders) = t.json(Method::GET, "/api/v1/orders", None).await;
    orders["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_goes_from_a_session_to_a_paid_order_with_a_delegated_token() {
    let t = TestApp::new().await;
    let tee = shop(&t).await;
    let a = agent(&t).await;
    let session = ready_session(&t, &a).await;
    let id = session["id"].as_str().unwrap();
    // Two tees at 3.00, shipping 5.00, 10% CA tax on both: 12.10.
    assert_eq!(total_of(&session, "subtotal"), Some(600));
    assert_eq!(total_of(&session, "fulfillment"), Some(500));
    assert_eq!(total_of(&session, "tax"), Some(110));
    assert_eq!(total_of(&session, "total"), Some(1210));
    let token = delegate(&t, &a, id, "4242424242424242", 1210).await;

    let (status, done) = post(
        &t,
        &a,
        &format!("/checkout_sessions/{id}/complete"),
        complete_body(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_session(&done);
    assert_eq!(done["status"], "completed");
    assert_eq!(done["order"]["checkout_session_id"], id);
    let order_id = done["order"]["id"].as_str().unwrap();
    assert!(
        done["order"]["permalink_url"]
            .as_str()
            .unwrap()
            .contains(&format!("/orders/{order_id}?token="))
    );

    // A normal order: visible over REST, stock reserved, order.created written.
    let (status, order) = t
        .json(Method::GET, &format!("/api/v1/orders/{order_id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order["total"]["amount"], "12.10");
    assert_eq!(
        available(&t, tee).await,
        3,
        "two units reserved for the order"
    );
    assert!(!t.events_of(&["order.created"]).await.is_empty());

    // The token is spent and the session is terminal.
    let (status, again) = post(
        &t,
        &a,
        &format!("/checkout_sessions/{id}/complete"),
        complete_body(&token),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{again}");
    assert_error(&again);
    let (_, shown) = get(&t, &a, &format!("/checkout_sessions/{id}")).await;
    assert_session(&shown);
    assert_eq!(shown, done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_post_needs_an_idempotency_key_and_get_does_not() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let session = new_session(&t, &a).await;
    let id = session["id"].as_str().unwrap();
    for (path, body) in [
        ("/checkout_sessions".to_owned(), create_body(1)),
        (format!("/checkout_sessions/{id}"), json!({})),
        (
            format!("/checkout_sessions/{id}/complete"),
            complete_body("vt_x"),
        ),
        (format!("/checkout_sessions/{id}/cancel"), json!({})),
        (
            "/agentic_commerce/delegate_payment".to_owned(),
            delegate_body(id, "4242424242424242", 1),
        ),
    ] {
        let mut call = Call::new(&a, Method::POST, &path, Some(body));
        call.idempotency = Some(None);
        let (status, _, error) = call.send(&t).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(error["type"], "invalid_request");
        assert_eq!(error["code"], "idempotency_key_required");
        assert_error(&error);
        if path.starts_with("/agentic") {
            assert_valid_in(delegate_schema(), "Error", &error);
        }
    }
    let (status, shown) = get(&t, &a, &format!("/checkout_sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["status"], "not_ready_for_payment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_version_is_required_and_must_be_supported() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    for version in [None, Some("2025-09-29"), Some("nonsense")] {
        let mut call = Call::new(&a, Method::POST, "/checkout_sessions", Some(create_body(1)));
        call.version = version;
        let (status, _, error) = call.send(&t).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{version:?}");
        assert_error(&error);
        let code = if version.is_none() {
            "missing_api_version"
        } else {
            "unsupported_api_version"
        };
        assert_eq!(error["code"], code);
        assert_eq!(error["supported_versions"], json!([VERSION]));
    }
    assert_eq!(order_count(&t).await, 0);
    new_session(&t, &a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_bad_bearer_or_scope_is_refused_and_leaks_nothing() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let session = new_session(&t, &a).await;
    let path = format!("/checkout_sessions/{}", session["id"].as_str().unwrap());
    let stranger = Agent {
        key: "sk_nonsense".into(),
        key_id: String::new(),
    };
    for bearer in [None, Some("sk_nonsense")] {
        let mut call = Call::new(&stranger, Method::GET, &path, None);
        call.bearer = bearer;
        let (status, _, error) = call.send(&t).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
        assert_error(&error);
        assert!(!error.to_string().contains("line_items"));
    }
    // A key without the ACP scope is forbidden.
    let reader = agent_with(&t, &["products:read"]).await;
    let (status, error) = get(&t, &reader, &path).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_returns_201_with_payment_handlers_and_intersected_interventions() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let session = new_session(&t, &a).await;
    let handlers = session["capabilities"]["payment"]["handlers"]
        .as_array()
        .unwrap();
    assert_eq!(handlers[0]["id"], "card_tokenized");
    assert_eq!(handlers[0]["requires_delegate_payment"], true);
    assert_eq!(handlers[0]["config"]["merchant_id"], "acct_stateset");
    // Unknown capability values were ignored; we support no interventions, so none intersect.
    assert_eq!(
        session["capabilities"]["interventions"]["supported"],
        json!([])
    );
    assert_eq!(session["currency"], "usd");
    assert_eq!(session["status"], "not_ready_for_payment");
    assert_eq!(session["line_items"][0]["item"]["id"], "CHK-TEE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_item_is_a_flat_error_with_a_jsonpath() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let (status, error) = post(
        &t,
        &a,
        "/checkout_sessions",
        json!({"line_items": [{"id": "CHK-TEE"}, {"id": "nope"}], "currency": "usd", "capabilities": {}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&error);
    assert_eq!(error["param"], "$.line_items[1].id");
    assert!(error.get("error").is_none(), "flat, no envelope");
    // A missing required field names it too.
    let (status, error) = post(
        &t,
        &a,
        "/checkout_sessions",
        json!({"line_items": [{"id": "CHK-TEE"}], "capabilities": {}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&error);
    assert_eq!(error["param"], "$.currency");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totals_add_up_and_line_totals_are_quantity_times_unit_amount() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let session = ready_session(&t, &a).await;
    for line in session["line_items"].as_array().unwrap() {
        let quantity = line["quantity"].as_i64().unwrap();
        let unit = line["unit_amount"].as_i64().unwrap();
        let base = line["totals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "items_base_amount")
            .unwrap();
        assert_eq!(base["amount"].as_i64().unwrap(), quantity * unit);
    }
    let part = |kind| total_of(&session, kind).unwrap_or(0);
    assert_eq!(
        part("total"),
        part("subtotal") - part("discount") + part("fulfillment") + part("tax") + part("fee")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_moves_to_ready_once_address_and_fulfillment_are_chosen() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let session = new_session(&t, &a).await;
    assert_eq!(session["status"], "not_ready_for_payment");
    assert!(
        session["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["param"] == "$.fulfillment_details.address")
    );
    assert_eq!(total_of(&session, "total"), Some(600));
    let ready = ready_session(&t, &a).await;
    assert_eq!(
        total_of(&ready, "total"),
        Some(1210),
        "recomputed with shipping and tax"
    );
    assert_eq!(ready["messages"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_option_that_is_not_offered_is_rejected() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let session = new_session(&t, &a).await;
    let path = format!("/checkout_sessions/{}", session["id"].as_str().unwrap());
    let (status, _) = post(
        &t,
        &a,
        &path,
        json!({"fulfillment_details": {"address": address()}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = post(
        &t,
        &a,
        &path,
        json!({"selected_fulfillment_options": [{"type": "shipping", "option_id": "fulfillment_option_456", "item_ids": []}]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&error);
    assert_eq!(
        error["param"],
        "$.selected_fulfillment_options[0].option_id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absent_field_is_kept_and_null_clears_it() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let session = ready_session(&t, &a).await;
    let path = format!("/checkout_sessions/{}", session["id"].as_str().unwrap());
    let (_, same) = post(&t, &a, &path, json!({"order_notes": "ring twice"})).await;
    assert_session(&same);
    assert_eq!(same["buyer"], session["buyer"]);
    assert_eq!(same["fulfillment_details"], session["fulfillment_details"]);
    assert_eq!(same["status"], "ready_for_payment");
    let (status, cleared) = post(&t, &a, &path, json!({"fulfillment_details": null})).await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert_session(&cleared);
    assert!(cleared.get("fulfillment_details").is_none());
    assert!(cleared.get("selected_fulfillment_options").is_none());
    assert_eq!(cleared["status"], "not_ready_for_payment");
    assert_eq!(cleared["fulfillment_options"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_shows_the_last_mutation_and_unknown_ids_are_404() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let session = ready_session(&t, &a).await;
    let (status, shown) = get(
        &t,
        &a,
        &format!("/checkout_sessions/{}", session["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, session);
    for id in [uuid::Uuid::new_v4().to_string(), "cs_nope".to_owned()] {
        let (status, error) = get(&t, &a, &format!("/checkout_sessions/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_error(&error);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_handlers_declines_and_allowance_breaches_create_no_order() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let session = ready_session(&t, &a).await;
    let id = session["id"].as_str().unwrap();
    let complete = format!("/checkout_sessions/{id}/complete");

    let token = delegate(&t, &a, id, "4242424242424242", 1210).await;
    let mut body = complete_body(&token);
    body["payment_data"]["handler_id"] = json!("seller_pm_123");
    let (status, error) = post(&t, &a, &complete, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&error);
    assert_eq!(error["param"], "$.payment_data.handler_id");

    let small = delegate(&t, &a, id, "4242424242424242", 1209).await;
    let (status, error) = post(&t, &a, &complete, complete_body(&small)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_error(&error);
    assert_eq!(error["param"], "$.payment_data.instrument.credential.token");

    let (status, error) = post(&t, &a, &complete, complete_body("spt_123")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&error);

    let declined = delegate(&t, &a, id, "4000000000000002", 5000).await;
    let (status, error) = post(&t, &a, &complete, complete_body(&declined)).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{error}");
    assert_error(&error);
    assert_eq!(error["code"], "payment_declined");
    assert_eq!(order_count(&t).await, 0);

    // The session can still be paid with a good card.
    let (status, done) = post(&t, &a, &complete, complete_body(&token)).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(order_count(&t).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vault_binds_tokens_to_this_merchant_and_a_live_session() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let session = new_session(&t, &a).await;
    let id = session["id"].as_str().unwrap();
    let mut body = delegate_body(id, "4242424242424241", 100);
    let (status, error) = post(&t, &a, "/agentic_commerce/delegate_payment", body.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_valid_in(delegate_schema(), "Error", &error);
    assert_eq!(error["code"], "invalid_card");
    assert_eq!(error["param"], "$.payment_method.number");
    assert!(!error.to_string().contains("4242424242424241"));
    body["payment_method"]["number"] = json!("4242424242424242");
    body["allowance"]["merchant_id"] = json!("acct_other");
    let (status, error) = post(&t, &a, "/agentic_commerce/delegate_payment", body.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_valid_in(delegate_schema(), "Error", &error);
    assert_eq!(error["param"], "$.allowance.merchant_id");
    let other = new_session(&t, &a).await;
    let token = delegate(
        &t,
        &a,
        other["id"].as_str().unwrap(),
        "4242424242424242",
        100_000,
    )
    .await;
    let ready = ready_session(&t, &a).await;
    let (status, error) = post(
        &t,
        &a,
        &format!(
            "/checkout_sessions/{}/complete",
            ready["id"].as_str().unwrap()
        ),
        complete_body(&token),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a token for another session"
    );
    assert_error(&error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_d_secure_is_never_required_by_the_test_handler() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let session = ready_session(&t, &a).await;
    assert_ne!(session["status"], "authentication_required");
    // An agent's authentication_result is accepted by the parser and ignored.
    let id = session["id"].as_str().unwrap();
    let token = delegate(&t, &a, id, "4242424242424242", 1210).await;
    let mut body = complete_body(&token);
    body["authentication_result"] = json!({"outcome": "authenticated", "outcome_details": {
        "three_ds_cryptogram": "AAIBBYNoEwAAACcKhAJkdQAAAAA=", "electronic_commerce_indicator": "05",
        "transaction_id": "f38e6948-5388-41a6-bca4-b49723c19437", "version": "2.2.0"}});
    let (status, done) = post(&t, &a, &format!("/checkout_sessions/{id}/complete"), body).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_session(&done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_returns_the_same_response_and_charges_once() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    // Create.
    let mut call = Call::new(&a, Method::POST, "/checkout_sessions", Some(create_body(2)));
    call.idempotency = Some(Some("create-1"));
    let (status, _, first) = call.send(&t).await;
    assert_eq!(status, StatusCode::CREATED);
    let mut call = Call::new(
        &a,
        Method::POST,
        "/checkout_sessions",
        Some(
            json!({"currency": "usd", "capabilities": capabilities(), "line_items": [{"quantity": 2.0, "id": "CHK-TEE"}]}),
        ),
    );
    call.idempotency = Some(Some("create-1"));
    let (status, headers, second) = call.send(&t).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "key order and 2.0 == 2 do not matter"
    );
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(first, second);
    // Update, complete and cancel replay too.
    let ready = ready_session(&t, &a).await;
    let id = ready["id"].as_str().unwrap();
    let token = delegate(&t, &a, id, "4242424242424242", 1210).await;
    let path = format!("/checkout_sessions/{id}/complete");
    let mut replies = Vec::new();
    for _ in 0..2 {
        let mut call = Call::new(&a, Method::POST, &path, Some(complete_body(&token)));
        call.idempotency = Some(Some("complete-1"));
        replies.push(call.send(&t).await);
    }
    assert_eq!(replies[0].0, StatusCode::OK);
    assert_eq!(replies[1].0, StatusCode::OK);
    assert_eq!(replies[0].2, replies[1].2);
    assert!(replies[0].1.get("idempotent-replayed").is_none());
    assert_eq!(replies[1].1["idempotent-replayed"], "true");
    assert_eq!(order_count(&t).await, 1);
    let (_, payments) = t
        .json(
            Method::GET,
            &format!(
                "/api/v1/payments?order_id={}",
                replies[0].2["order"]["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(payments["items"].as_array().unwrap().len(), 1, "{payments}");
    let other = new_session(&t, &a).await;
    let cancel = format!(
        "/checkout_sessions/{}/cancel",
        other["id"].as_str().unwrap()
    );
    let mut answers = Vec::new();
    for _ in 0..2 {
        let mut call = Call::new(&a, Method::POST, &cancel, None);
        call.idempotency = Some(Some("cancel-1"));
        answers.push(call.send(&t).await);
    }
    assert_eq!(answers[0].0, StatusCode::OK);
    assert_eq!(answers[1].0, StatusCode::OK, "replayed, not 405");
    assert_eq!(answers[0].2, answers[1].2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reused_with_another_body_is_422_and_in_flight_is_409() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let mut call = Call::new(&a, Method::POST, "/checkout_sessions", Some(create_body(1)));
    call.idempotency = Some(Some("k-1"));
    assert_eq!(call.send(&t).await.0, StatusCode::CREATED);
    let mut call = Call::new(&a, Method::POST, "/checkout_sessions", Some(create_body(2)));
    call.idempotency = Some(Some("k-1"));
    let (status, _, error) = call.send(&t).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&error);
    assert_eq!(error["code"], "idempotency_conflict");
    assert_eq!(error["type"], "invalid_request");

    // A first request still running holds the key.
    let body = create_body(3).to_string();
    let scope = format!("acp|api_key:{}|POST /checkout_sessions", a.key_id);
    let hash =
        stateset::services::idempotency::request_hash(&[stateset::adapters::acp::canonical_body(
            body.as_bytes(),
        )
        .as_bytes()]);
    let (_, claim) = t
        .services()
        .idempotency
        .begin(&scope, "k-2", &hash)
        .await
        .unwrap();
    let mut call = Call::new(&a, Method::POST, "/checkout_sessions", Some(create_body(3)));
    call.idempotency = Some(Some("k-2"));
    let (status, headers, error) = call.send(&t).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    assert_error(&error);
    assert_eq!(error["code"], "idempotency_in_flight");
    assert!(headers.get("retry-after").is_some());
    // A released key (as after a 5xx) runs fresh.
    t.services().idempotency.release(&claim).await.unwrap();
    let mut call = Call::new(&a, Method::POST, "/checkout_sessions", Some(create_body(3)));
    call.idempotency = Some(Some("k-2"));
    let (status, headers, _) = call.send(&t).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(headers.get("idempotent-replayed").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_scoped_per_path_and_per_credential() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let b = agent(&t).await;
    let mut ids = Vec::new();
    for agent in [&a, &b] {
        let mut call = Call::new(
            agent,
            Method::POST,
            "/checkout_sessions",
            Some(create_body(1)),
        );
        call.idempotency = Some(Some("shared"));
        let (status, headers, session) = call.send(&t).await;
        assert_eq!(status, StatusCode::CREATED);
        assert!(headers.get("idempotent-replayed").is_none());
        ids.push(session["id"].clone());
    }
    assert_ne!(ids[0], ids[1]);
    let mut call = Call::new(
        &a,
        Method::POST,
        &format!("/checkout_sessions/{}", ids[0].as_str().unwrap()),
        Some(create_body(1)),
    );
    call.idempotency = Some(Some("shared"));
    let (status, headers, _) = call.send(&t).await;
    assert_ne!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another path, another scope"
    );
    assert!(headers.get("idempotent-replayed").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_accepts_any_reason_and_terminal_sessions_answer_405() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let session = new_session(&t, &a).await;
    let id = session["id"].as_str().unwrap();
    let (status, canceled) = post(
        &t,
        &a,
        &format!("/checkout_sessions/{id}/cancel"),
        json!({"intent_trace": {"reason_code": "moon_phase", "trace_summary": "later"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{canceled}");
    assert_session(&canceled);
    assert_eq!(canceled["status"], "canceled");
    let (status, error) = post(
        &t,
        &a,
        &format!("/checkout_sessions/{id}/cancel"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&error);
    let token = delegate(&t, &a, id, "4242424242424242", 10_000).await;
    let (status, _) = post(
        &t,
        &a,
        &format!("/checkout_sessions/{id}/complete"),
        complete_body(&token),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _) = post(
        &t,
        &a,
        &format!("/checkout_sessions/{id}"),
        json!({"order_notes": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    // An empty body cancels too.
    let other = new_session(&t, &a).await;
    let mut call = Call::new(
        &a,
        Method::POST,
        &format!(
            "/checkout_sessions/{}/cancel",
            other["id"].as_str().unwrap()
        ),
        None,
    );
    call.body = None;
    let (status, _, canceled) = call.send(&t).await;
    assert_eq!(status, StatusCode::OK, "{canceled}");
    assert_eq!(canceled["status"], "canceled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_echo_idempotency_key_and_request_id() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let mut call = Call::new(&a, Method::POST, "/checkout_sessions", Some(create_body(1)));
    call.idempotency = Some(Some("echo-me"));
    call.request_id = Some("req_123");
    let (status, headers, _) = call.send(&t).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers["idempotency-key"], "echo-me");
    assert_eq!(headers["request-id"], "req_123");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_shortages_are_out_of_stock_messages_not_failures() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let (status, session) = post(&t, &a, "/checkout_sessions", create_body(9)).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert_session(&session);
    assert_eq!(session["status"], "not_ready_for_payment");
    let message = session["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == "out_of_stock")
        .expect("out_of_stock");
    assert_eq!(message["type"], "error");
    assert_eq!(message["param"], "$.line_items[0]");
    // Lowering the quantity fixes it.
    let path = format!("/checkout_sessions/{}", session["id"].as_str().unwrap());
    let (status, fixed) = post(
        &t,
        &a,
        &path,
        json!({"line_items": [{"id": "CHK-TEE", "quantity": 2}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{fixed}");
    assert_session(&fixed);
    assert!(
        fixed["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["code"] != "out_of_stock")
    );
    assert_eq!(fixed["line_items"][0]["quantity"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_is_public_and_valid() {
    let t = TestApp::new().await;
    let request = Request::builder()
        .uri("/.well-known/acp.json")
        .body(Body::empty())
        .unwrap();
    let (status, headers, bytes) = t.request(request).await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_valid_in(checkout_schema(), "DiscoveryResponse", &body);
    assert_eq!(body["protocol"]["name"], "acp");
    assert!(
        body["transports"]
            .as_array()
            .unwrap()
            .contains(&json!("rest"))
    );
    assert_eq!(headers["cache-control"], "public, max-age=3600");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_upstream_example_request_is_accepted() {
    let t = TestApp::new().await;
    shop(&t).await;
    // The examples' item id, mapped to a product of ours.
    let item = t.variant("item_123").await;
    t.stock(item, 100).await;
    let a = agent(&t).await;
    let examples = load("examples/examples.agentic_checkout.json");
    let mut session_id = String::new();
    // The last one carries an address; its session goes on.
    for name in [
        "create_checkout_session_request_with_first_touch_attribution",
        "create_checkout_session_request",
    ] {
        let (status, session) = post(&t, &a, "/checkout_sessions", examples[name].clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {session}");
        assert_session(&session);
        session_id = session["id"].as_str().unwrap().to_owned();
    }
    let path = format!("/checkout_sessions/{session_id}");
    // The example's option id is not ours: the parser takes it, the rules reject it.
    let (status, error) = post(
        &t,
        &a,
        &path,
        examples["update_checkout_session_request"].clone(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error["param"],
        "$.selected_fulfillment_options[0].option_id"
    );
    let (_, session) = get(&t, &a, &path).await;
    let mut update = examples["update_checkout_session_request"].clone();
    update["selected_fulfillment_options"][0]["option_id"] =
        session["fulfillment_options"][0]["id"].clone();
    let (status, session) = post(&t, &a, &path, update).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_session(&session);
    assert_eq!(session["status"], "ready_for_payment");
    // Completion examples carry tokens of another vault: parsed, then refused by the rules.
    for name in [
        "complete_checkout_session_request",
        "complete_checkout_session_request_seller_backed",
        "complete_checkout_session_request_with_last_touch_attribution",
        "complete_session_with_authentication_result_request",
        "complete_session_with_denied_authentication_request",
    ] {
        let (status, error) =
            post(&t, &a, &format!("{path}/complete"), examples[name].clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {error}");
        assert_error(&error);
        assert!(
            error["param"]
                .as_str()
                .unwrap()
                .starts_with("$.payment_data"),
            "{name}: {error}"
        );
    }
    let total = total_of(&session, "total").unwrap();
    let delegate_examples = load("examples/examples.delegate_payment.json");
    let mut request = delegate_examples["delegate_payment_request"].clone();
    request["allowance"]["checkout_session_id"] = json!(session_id);
    request["allowance"]["merchant_id"] = json!("acct_stateset");
    request["allowance"]["max_amount"] = json!(total);
    request["allowance"]["expires_at"] =
        json!((chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339());
    let (status, vaulted) = post(&t, &a, "/agentic_commerce/delegate_payment", request).await;
    assert_eq!(status, StatusCode::CREATED, "{vaulted}");
    assert_valid_in(delegate_schema(), "DelegatePaymentResponse", &vaulted);
    let mut complete = examples["complete_checkout_session_request"].clone();
    complete["payment_data"]["instrument"]["credential"]["token"] = vaulted["id"].clone();
    let (status, done) = post(&t, &a, &format!("{path}/complete"), complete).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_session(&done);
    // Cancel examples, on fresh sessions.
    for name in [
        "cancel_checkout_session_request",
        "cancel_checkout_session_request_timing_deferred",
    ] {
        let (_, session) = post(
            &t,
            &a,
            "/checkout_sessions",
            examples["create_checkout_session_request"].clone(),
        )
        .await;
        let (status, canceled) = post(
            &t,
            &a,
            &format!(
                "/checkout_sessions/{}/cancel",
                session["id"].as_str().unwrap()
            ),
            examples[name].clone(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}: {canceled}");
        assert_session(&canceled);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_platform_gets_signed_order_create_and_order_update_webhooks() {
    let receiver = crate::support::receiver::Receiver::start(&[]).await;
    let url = receiver.url();
    let t = TestApp::with_config(|config| {
        config.webhooks.allow_private_networks = true;
        config.webhooks.retry_initial = std::time::Duration::ZERO;
        config.acp.webhook_url = Some(url);
        config.acp.webhook_secret = Some("whsec_platform".into());
    })
    .await;
    shop(&t).await;
    let a = agent(&t).await;
    let session = ready_session(&t, &a).await;
    let id = session["id"].as_str().unwrap();
    let token = delegate(&t, &a, id, "4242424242424242", 1210).await;
    let (status, done) = post(
        &t,
        &a,
        &format!("/checkout_sessions/{id}/complete"),
        complete_body(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let order_id = done["order"]["id"].as_str().unwrap();
    let (status, _) = t
        .json(
            Method::POST,
            &format!("/api/v1/orders/{order_id}/hold"),
            Some(json!({"reason": "fraud check"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    t.relay_and_deliver().await;
    let received = receiver
        .wait_until(|r| r.iter().any(|r| r.json()["type"] == "order_update"))
        .await;
    let create = received
        .iter()
        .find(|r| r.json()["type"] == "order_create")
        .expect("order_create");
    let update = received
        .iter()
        .find(|r| r.json()["type"] == "order_update")
        .expect("order_update");
    for delivery in [create, update] {
        let body = delivery.json();
        assert_valid_in(checkout_schema(), "Order", &body["data"]);
        assert_eq!(body["data"]["type"], "order");
        assert_eq!(body["data"]["id"], order_id);
        assert_eq!(body["data"]["checkout_session_id"], id);
        // Merchant-Signature: t=<unix>,v1=hex(HMAC-SHA256(secret, "t.body")).
        let header = delivery.header("merchant-signature");
        assert!(
            header.starts_with("t=") && header.contains(",v1="),
            "{header}"
        );
        let (t_part, v1) = header.split_once(",v1=").unwrap();
        assert_eq!(v1.len(), 64);
        let timestamp: i64 = t_part.trim_start_matches("t=").parse().unwrap();
        assert_eq!(
            stateset::auth::signature::sign("whsec_platform", timestamp, &delivery.body),
            header
        );
        assert!(delivery.header("x-stateset-signature").is_empty());
    }
    assert_eq!(update.json()["data"]["status"], "manual_review");
    let line = &create.json()["data"]["line_items"][0];
    assert_eq!(
        line["quantity"],
        json!({"ordered": 2, "current": 2, "fulfilled": 0})
    );
    assert_eq!(line["unit_price"], 300);

    // Shipped in a UPS parcel and delivered: the updates carry the fulfilment, its
    // tracking and its events, and the line counts as fulfilled.
    t.json(
        Method::POST,
        &format!("/api/v1/orders/{order_id}/release"),
        None,
    )
    .await;
    let (_, plans) = t
        .json(
            Method::GET,
            &format!("/api/v1/orders/{order_id}/fulfillment-orders"),
            None,
        )
        .await;
    let (status, shipment) = t
        .json(
            Method::POST,
            "/api/v1/shipments",
            Some(json!({"fulfillment_order_id": plans["items"][0]["id"], "carrier": "ups",
                "packages": [{"weight_grams": 500, "length_mm": 100, "width_mm": 100, "height_mm": 100,
                    "tracking_number": "1Z999AA10123456784"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{shipment}");
    let shipment_id = shipment["id"].as_str().unwrap();
    for step in ["ship", "deliver"] {
        let (status, body) = t
            .json(
                Method::POST,
                &format!("/api/v1/shipments/{shipment_id}/{step}"),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{step}: {body}");
    }
    t.relay_and_deliver().await;
    let received = receiver
        .wait_until(|r| {
            r.iter()
                .any(|r| r.json()["data"]["fulfillments"][0]["status"] == "delivered")
        })
        .await;
    let last = received
        .iter()
        .rev()
        .find(|r| r.json()["data"]["fulfillments"][0]["status"] == "delivered")
        .unwrap()
        .json();
    assert_valid_in(checkout_schema(), "Order", &last["data"]);
    let fulfillment = &last["data"]["fulfillments"][0];
    assert_eq!(fulfillment["carrier"], "UPS");
    assert_eq!(fulfillment["tracking_number"], "1Z999AA10123456784");
    assert_eq!(
        fulfillment["tracking_url"],
        "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    );
    let kinds: Vec<&str> = fulfillment["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["shipped", "delivered"]);
    assert_eq!(
        last["data"]["line_items"][0]["quantity"],
        json!({"ordered": 2, "current": 2, "fulfilled": 2})
    );
    assert_eq!(last["data"]["line_items"][0]["status"], "fulfilled");
}

/// `Signature` with the shared key over the canonical string the README documents:
/// `{timestamp}\n{METHOD}\n{path and query}\n{body}`.
fn sign_request(key: &str, timestamp: &str, method: &Method, path: &str, body: &str) -> String {
    use base64::Engine as _;
    use hmac::{KeyInit as _, Mac as _};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{timestamp}\n{method}\n{path}\n{body}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Sends an ACP request with the given `Signature`/`Timestamp` headers (none when `None`).
async fn send_signed(
    t: &TestApp,
    a: &Agent,
    method: Method,
    path: &str,
    body: &str,
    signed: Option<(String, String)>,
) -> (StatusCode, Value) {
    let mut builder = Request::builder()
        .method(method.clone())
        .uri(path)
        .header("authorization", format!("Bearer {}", a.key))
        .header("api-version", VERSION);
    if method == Method::POST {
        builder = builder
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .header("content-type", "application/json");
    }
    if let Some((signature, timestamp)) = signed {
        builder = builder
            .header("signature", signature)
            .header("timestamp", timestamp);
    }
    let (status, _, bytes) = t
        .request(builder.body(Body::from(body.to_owned())).unwrap())
        .await;
    (status, serde_json::from_slice::<Value>(&bytes).unwrap())
}

fn assert_invalid_signature((status, error): &(StatusCode, Value)) {
    assert_eq!(*status, StatusCode::UNAUTHORIZED, "{error}");
    assert_error(error);
    assert_eq!(error["type"], "invalid_request");
    assert_eq!(error["code"], "invalid_signature");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_signature_key_every_request_is_signed_for_its_method_and_path() {
    let t =
        TestApp::with_config(|config| config.acp.signature_key = Some("shared-key".into())).await;
    shop(&t).await;
    let a = agent(&t).await;
    let body = create_body(1).to_string();
    let now = chrono::Utc::now().to_rfc3339();
    let sign = |method: &Method, path: &str, body: &str| {
        Some((
            sign_request("shared-key", &now, method, path, body),
            now.clone(),
        ))
    };

    // Valid signatures are accepted, on POST and GET alike.
    let (status, session) = send_signed(
        &t,
        &a,
        Method::POST,
        "/checkout_sessions",
        &body,
        sign(&Method::POST, "/checkout_sessions", &body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let path = format!("/checkout_sessions/{}", session["id"].as_str().unwrap());
    let (status, shown) = send_signed(
        &t,
        &a,
        Method::GET,
        &path,
        "",
        sign(&Method::GET, &path, ""),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shown}");

    // Unsigned requests are refused once a key is set, GET included.
    assert_invalid_signature(
        &send_signed(&t, &a, Method::POST, "/checkout_sessions", &body, None).await,
    );
    assert_invalid_signature(&send_signed(&t, &a, Method::GET, &path, "", None).await);
    // A signature made for another route, method or query does not carry over.
    let other = format!("/checkout_sessions/{}", uuid::Uuid::now_v7());
    assert_invalid_signature(
        &send_signed(
            &t,
            &a,
            Method::POST,
            &path,
            "{}",
            sign(&Method::POST, &other, "{}"),
        )
        .await,
    );
    assert_invalid_signature(
        &send_signed(
            &t,
            &a,
            Method::POST,
            &path,
            "",
            sign(&Method::GET, &path, ""),
        )
        .await,
    );
    assert_invalid_signature(
        &send_signed(
            &t,
            &a,
            Method::GET,
            &format!("{path}?expand=all"),
            "",
            sign(&Method::GET, &path, ""),
        )
        .await,
    );
    // The wrong key, and a body other than the one signed.
    let wrong_key = sign_request(
        "other-key",
        &now,
        &Method::POST,
        "/checkout_sessions",
        &body,
    );
    assert_invalid_signature(
        &send_signed(
            &t,
            &a,
            Method::POST,
            "/checkout_sessions",
            &body,
            Some((wrong_key, now.clone())),
        )
        .await,
    );
    assert_invalid_signature(
        &send_signed(
            &t,
            &a,
            Method::POST,
            "/checkout_sessions",
            &create_body(2).to_string(),
            sign(&Method::POST, "/checkout_sessions", &body),
        )
        .await,
    );
    // A stale timestamp, even correctly signed.
    let stale = (chrono::Utc::now() - chrono::Duration::minutes(10)).to_rfc3339();
    let signature = sign_request(
        "shared-key",
        &stale,
        &Method::POST,
        "/checkout_sessions",
        &body,
    );
    assert_invalid_signature(
        &send_signed(
            &t,
            &a,
            Method::POST,
            "/checkout_sessions",
            &body,
            Some((signature, stale)),
        )
        .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_signature_key_unsigned_requests_are_served() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let (status, session) = send_signed(
        &t,
        &a,
        Method::POST,
        "/checkout_sessions",
        &create_body(1).to_string(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_and_managers_hold_the_acp_permission_and_others_do_not() {
    use stateset::services::auth::{CUSTOMER_ROLE, MANAGER_ROLE, STAFF_ROLE};
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let session = new_session(&t, &a).await;
    let path = format!("/checkout_sessions/{}", session["id"].as_str().unwrap());
    let manager = t.user_token("m@example.com", MANAGER_ROLE).await;
    let staff = t.user_token("s@example.com", STAFF_ROLE).await;
    let customer = t.user_token("c@example.com", CUSTOMER_ROLE).await;
    for (token, expected) in [
        (t.admin.clone(), StatusCode::OK),
        (manager, StatusCode::OK),
        (staff, StatusCode::FORBIDDEN),
        (customer, StatusCode::FORBIDDEN),
    ] {
        let caller = Agent {
            key: token,
            key_id: String::new(),
        };
        let (status, body) = get(&t, &caller, &path).await;
        assert_eq!(status, expected, "{body}");
        if status == StatusCode::OK {
            assert_session(&body);
        } else {
            assert_error(&body);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cannot_see_or_pay_for_another_agents_session() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    let b = agent(&t).await;
    let session = ready_session(&t, &a).await;
    let id = session["id"].as_str().unwrap();
    let (status, error) = get(&t, &b, &format!("/checkout_sessions/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&error);
    let (status, _) = post(
        &t,
        &b,
        &format!("/checkout_sessions/{id}/cancel"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, error) = post(
        &t,
        &b,
        "/agentic_commerce/delegate_payment",
        delegate_body(id, "4242424242424242", 5000),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["param"], "$.allowance.checkout_session_id");
    let (status, shown) = get(&t, &a, &format!("/checkout_sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["status"], "ready_for_payment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_are_rate_limited_like_every_other_caller() {
    let t = TestApp::with_config(|c| {
        c.rate_limits
            .per_route
            .insert("GET /checkout_sessions/{id}".into(), 2);
    })
    .await;
    let a = agent(&t).await;
    let path = format!("/checkout_sessions/{}", uuid::Uuid::new_v4());
    for _ in 0..2 {
        let (status, _) = get(&t, &a, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, headers, body) = Call::new(&a, Method::GET, &path, None).send(&t).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(headers.contains_key("retry-after"));
    assert_error(&body);
    assert_eq!(body["code"], "rate_limited");
}

/// Rows of `table` in the test database.
async fn rows_in(t: &TestApp, table: &str) -> i64 {
    use diesel_async::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = t.app.db.conn().await.unwrap();
    diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_partway_leaves_no_cart_checkout_or_session_behind() {
    let t = TestApp::new().await;
    shop(&t).await;
    let a = agent(&t).await;
    // Refused after the cart could have been made: another currency.
    let mut body = create_body(1);
    body["currency"] = json!("eur");
    let (status, error) = post(&t, &a, "/checkout_sessions", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["param"], "$.currency");
    // Email and address follow the rules of every other door, named by their ACP paths.
    let mut body = create_body(1);
    body["buyer"] = json!({"email": "ada@example."});
    let (status, error) = post(&t, &a, "/checkout_sessions", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["param"], "$.buyer.email");
    let mut body = create_body(1);
    let mut long = address();
    long["line_one"] = json!("x".repeat(300));
    body["fulfillment_details"] = json!({"name": "Ada Lovelace", "address": long});
    let (status, error) = post(&t, &a, "/checkout_sessions", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["param"], "$.fulfillment_details.address.line_one");
    for table in ["carts", "checkouts", "acp_sessions"] {
        assert_eq!(rows_in(&t, table).await, 0, "no {table} left behind");
    }

    // An update that fails at its last step changes nothing.
    let session = new_session(&t, &a).await;
    let id = session["id"].as_str().unwrap();
    let (status, error) = post(
        &t,
        &a,
        &format!("/checkout_sessions/{id}"),
        json!({"line_items": [{"id": "CHK-TEE", "quantity": 1}],
            "fulfillment_details": {"name": "Ada Lovelace", "address": address()},
            "selected_fulfillment_options": [{"type": "shipping", "option_id": "nope"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(
        error["param"],
        "$.selected_fulfillment_options[0].option_id"
    );
    let (_, now) = get(&t, &a, &format!("/checkout_sessions/{id}")).await;
    assert_eq!(now["line_items"][0]["quantity"], 2, "{now}");
    assert!(now.get("fulfillment_details").is_none(), "{now}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegated_token_pays_only_within_its_allowance_on_every_door() {
    let t = TestApp::new().await;
    let tee = shop(&t).await;
    let a = agent(&t).await;
    let session = new_session(&t, &a).await;
    let token = delegate(
        &t,
        &a,
        session["id"].as_str().unwrap(),
        "4242424242424242",
        100_000,
    )
    .await;
    // A guest's REST checkout tries to spend the agent's token.
    let (id, _) = crate::checkout::ready_checkout_paying(&t, tee, &token).await;
    let (status, error) = crate::checkout::complete(&t, &id).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(crate::support::rest_error_fields(&error), ["payment_token"]);
    assert_eq!(order_count(&t).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vault_keeps_cards_at_stripe_when_stripe_is_configured() {
    let stripe = crate::support::stripe::FakeStripe::start().await;
    let t = TestApp::with_config(|c| {
        crate::payments::with_stripe(&stripe)(c);
        c.payments.test_provider = false;
        c.payments.vault_provider = stateset::config::VaultProvider::Stripe;
    })
    .await;
    shop(&t).await;
    let a = agent(&t).await;
    let session = ready_session(&t, &a).await;
    let id = session["id"].as_str().unwrap();
    let token = delegate(&t, &a, id, "4242424242424242", 1210).await;
    let vaulted = stripe.calls_to("/v1/payment_methods");
    assert_eq!(vaulted.len(), 1);
    assert_eq!(vaulted[0].form["type"], "card");
    assert_eq!(vaulted[0].form["card[number]"], "4242424242424242");
    assert_eq!(vaulted[0].form["card[exp_month]"], "12");
    let (status, done) = post(
        &t,
        &a,
        &format!("/checkout_sessions/{id}/complete"),
        complete_body(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_session(&done);
    assert_eq!(done["status"], "completed");
    let charge = stripe.calls_to("/v1/payment_intents");
    assert_eq!(charge.len(), 1);
    assert!(charge[0].form["payment_method"].starts_with("pm_card_"));
    assert_eq!(charge[0].form["amount"], "1210");
    assert_eq!(order_count(&t).await, 1);
    // A card Stripe refuses is a field error naming the card number.
    let declined = post(
        &t,
        &a,
        "/agentic_commerce/delegate_payment",
        delegate_body(id, "4242 42", 1210),
    )
    .await;
    assert_eq!(
        declined.0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        declined.1
    );
    assert_eq!(declined.1["param"], "$.payment_method.number");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_buys_from_the_demo_shop() {
    let t = TestApp::new().await;
    t.seed_demo().await;
    let a = agent(&t).await;
    let (status, session) = post(
        &t,
        &a,
        "/checkout_sessions",
        json!({"line_items": [{"id": "MUG-STONE-SAND", "quantity": 1}], "currency": "usd",
            "capabilities": capabilities()}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let id = session["id"].as_str().unwrap().to_owned();
    let path = format!("/checkout_sessions/{id}");
    let (status, session) = post(
        &t,
        &a,
        &path,
        json!({"buyer": {"email": "agent-buyer@example.com", "first_name": "Ada"},
            "fulfillment_details": {"name": "Ada Lovelace", "address": address()}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_session(&session);
    let options = session["fulfillment_options"].as_array().unwrap();
    assert_eq!(
        options.len(),
        2,
        "Standard and Express ship to the US: {session}"
    );
    let (status, session) = post(
        &t,
        &a,
        &path,
        json!({"selected_fulfillment_options": [{"type": "shipping", "option_id": options[0]["id"],
            "item_ids": [session["line_items"][0]["id"]]}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_session(&session);
    assert_eq!(session["status"], "ready_for_payment", "{session}");
    // A mug at 18.00, Standard shipping 5.00, 7.25% California tax on both: 1.31 + 0.36.
    assert_eq!(total_of(&session, "subtotal"), Some(1800));
    assert_eq!(total_of(&session, "fulfillment"), Some(500));
    assert_eq!(total_of(&session, "tax"), Some(167));
    assert_eq!(total_of(&session, "total"), Some(2467));
    let token = delegate(&t, &a, &id, "4242424242424242", 2467).await;
    let (status, done) = post(&t, &a, &format!("{path}/complete"), complete_body(&token)).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_session(&done);
    assert_eq!(done["status"], "completed");
    assert_eq!(order_count(&t).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_permalink_opens_the_order_page_for_its_holder_only() {
    let t = TestApp::with_config(|config| {
        config.acp.terms_url = Some("https://shop.example/terms".into());
    })
    .await;
    shop(&t).await;
    let a = agent(&t).await;
    let session = ready_session(&t, &a).await;
    // Only the configured policy is offered, at its configured URL.
    assert_eq!(
        session["links"],
        json!([{"type": "terms_of_use", "url": "https://shop.example/terms", "title": "Terms of use"}])
    );
    let id = session["id"].as_str().unwrap();
    let token = delegate(&t, &a, id, "4242424242424242", 1210).await;
    let (status, done) = post(
        &t,
        &a,
        &format!("/checkout_sessions/{id}/complete"),
        complete_body(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let permalink = done["order"]["permalink_url"].as_str().unwrap();
    let base = &t.services().acp.settings().public_base_url;
    let path = permalink.strip_prefix(base.as_str()).unwrap().to_owned();
    let order_path = path.split('?').next().unwrap().to_owned();
    assert!(path.contains("?token="), "{permalink}");

    let addr = t.serve_http().await;
    let client = reqwest::Client::new();
    let response = client
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    let html = response.text().await.unwrap();
    assert!(
        html.contains(done["order"]["order_number"].as_str().unwrap()),
        "{html}"
    );
    assert!(html.contains("12.10 USD"), "{html}");
    assert!(html.contains("Not shipped yet"), "{html}");
    assert!(!html.contains("<script"), "{html}");

    // No token, a wrong token, and another order's id with this token: all plain 404s.
    for wrong in [
        order_path.clone(),
        format!("{order_path}?token=not-the-token"),
        format!(
            "/orders/{}{}",
            uuid::Uuid::now_v7(),
            &path[order_path.len()..]
        ),
    ] {
        let response = client
            .get(format!("http://{addr}{wrong}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::NOT_FOUND, "{wrong}");
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
    // The link shown again on a read is the same link.
    let (_, shown) = get(&t, &a, &format!("/checkout_sessions/{id}")).await;
    assert_eq!(shown["order"]["permalink_url"], permalink);
}
