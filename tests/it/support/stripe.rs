//! A stand-in for Stripe's API the tests start: answers the PaymentIntents, PaymentMethods and
//! Refunds calls with the shapes Stripe sends (recorded from its API reference), including its
//! error bodies, and records every request it got.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// One call Stripe got.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub form: HashMap<String, String>,
}

impl Call {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct Inner {
    calls: Mutex<Vec<Call>>,
    intents: Mutex<HashMap<String, Value>>,
    /// Answer every call with this status and Stripe's error body for it.
    failing: Mutex<Option<u16>>,
}

/// A running fake Stripe.
#[derive(Clone)]
pub struct FakeStripe {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

pub const API_KEY: &str = "sk_test_stateset";

impl FakeStripe {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let router = axum::Router::new()
            .route("/v1/payment_methods/{id}", get(payment_method))
            .route("/v1/payment_intents", post(create_intent))
            .route("/v1/payment_intents/{id}/capture", post(capture_intent))
            .route("/v1/payment_intents/{id}/cancel", post(cancel_intent))
            .route("/v1/refunds", post(refund))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.calls.lock().unwrap().clone()
    }

    /// Makes every later call fail with `status` (500: Stripe's `api_error`).
    pub fn fail_with(&self, status: Option<u16>) {
        *self.inner.failing.lock().unwrap() = status;
    }
}

type Answer = (StatusCode, axum::Json<Value>);

fn answer(status: u16, body: Value) -> Answer {
    (StatusCode::from_u16(status).unwrap(), axum::Json(body))
}

/// Records the call; answers for Stripe when it is told to fail or the key is wrong.
fn record(
    inner: &Inner,
    method: Method,
    path: String,
    headers: &HeaderMap,
    form: HashMap<String, String>,
) -> Option<Answer> {
    inner.calls.lock().unwrap().push(Call {
        method,
        path,
        headers: headers.clone(),
        form,
    });
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {API_KEY}"))
    {
        return Some(answer(
            401,
            json!({"error": {
            "message": "Invalid API Key provided: sk_test_****",
            "type": "invalid_request_error"}}),
        ));
    }
    match *inner.failing.lock().unwrap() {
        Some(429) => Some(answer(
            429,
            json!({"error": {
            "message": "Request rate limit exceeded.", "type": "invalid_request_error", "code": "rate_limit"}}),
        )),
        Some(status) => Some(answer(
            status,
            json!({"error": {
            "message": "An unknown error occurred", "type": "api_error"}}),
        )),
        None => None,
    }
}

async fn payment_method(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Answer {
    if let Some(failed) = record(
        &inner,
        Method::GET,
        format!("/v1/payment_methods/{id}"),
        &headers,
        HashMap::new(),
    ) {
        return failed;
    }
    if !id.starts_with("pm_card_") {
        return answer(
            404,
            json!({"error": {
            "code": "resource_missing",
            "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
            "message": format!("No such PaymentMethod: '{id}'"),
            "param": "payment_method",
            "type": "invalid_request_error"}}),
        );
    }
    answer(
        200,
        json!({
        "id": id, "object": "payment_method", "type": "card", "livemode": false, "created": 1_700_000_000,
        "billing_details": {"address": {}, "email": null, "name": null, "phone": null},
        "card": {"brand": "visa", "country": "US", "exp_month": 8, "exp_year": 2030, "funding": "credit",
            "last4": if id.contains("Declined") || id.contains("Insufficient") { "0002" } else { "4242" }},
        "customer": null, "metadata": {}}),
    )
}

fn intent(id: &str, form: &HashMap<String, String>, status: &str) -> Value {
    let amount: i64 = form.get("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
    json!({
        "id": id, "object": "payment_intent", "amount": amount,
        "amount_capturable": if status == "requires_capture" { amount } else { 0 },
        "amount_received": if status == "succeeded" { amount } else { 0 },
        "capture_method": form.get("capture_method").cloned().unwrap_or("automatic".into()),
        "client_secret": format!("{id}_secret_abc"), "confirmation_method": "automatic",
        "created": 1_700_000_000, "currency": form.get("currency").cloned().unwrap_or("usd".into()),
        "latest_charge": format!("ch_{}", &id[3..]), "livemode": false, "metadata": {},
        "payment_method": form.get("payment_method"), "payment_method_types": ["card"],
        "status": status, "last_payment_error": null
    })
}

async fn create_intent(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Answer {
    if let Some(failed) = record(
        &inner,
        Method::POST,
        "/v1/payment_intents".into(),
        &headers,
        form.clone(),
    ) {
        return failed;
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let id = format!("pi_{}", uuid::Uuid::new_v4().simple());
    let method = form.get("payment_method").cloned().unwrap_or_default();
    if method == "pm_card_chargeDeclinedInsufficientFunds" {
        return answer(
            402,
            json!({"error": {
            "charge": "ch_declined", "code": "card_declined", "decline_code": "insufficient_funds",
            "doc_url": "https://stripe.com/docs/error-codes/card-declined",
            "message": "Your card has insufficient funds.",
            "payment_intent": intent(&id, &form, "requires_payment_method"),
            "type": "card_error"}}),
        );
    }
    let status = if method == "pm_card_authenticationRequired" {
        "requires_action"
    } else if form.get("capture_method").map(String::as_str) == Some("manual") {
        "requires_capture"
    } else {
        "succeeded"
    };
    let mut intents = inner.intents.lock().unwrap();
    // Stripe answers a repeated idempotency key with the first answer.
    if let Some(earlier) = intents
        .values()
        .find(|i| i["metadata"]["idempotency_key"] == key.as_str())
    {
        return answer(200, earlier.clone());
    }
    let mut body = intent(&id, &form, status);
    body["metadata"] = json!({"idempotency_key": key});
    intents.insert(id, body.clone());
    answer(200, body)
}

async fn capture_intent(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Answer {
    if let Some(failed) = record(
        &inner,
        Method::POST,
        format!("/v1/payment_intents/{id}/capture"),
        &headers,
        form.clone(),
    ) {
        return failed;
    }
    let mut intents = inner.intents.lock().unwrap();
    let Some(intent) = intents.get_mut(&id) else {
        return answer(
            404,
            json!({"error": {"code": "resource_missing", "message": format!("No such payment_intent: '{id}'"),
            "param": "intent", "type": "invalid_request_error"}}),
        );
    };
    if intent["status"] != "requires_capture" {
        return answer(
            400,
            json!({"error": {"code": "payment_intent_unexpected_state",
            "message": format!("This PaymentIntent could not be captured because it has a status of {}.", intent["status"].as_str().unwrap()),
            "payment_intent": intent.clone(), "type": "invalid_request_error"}}),
        );
    }
    let amount: i64 = form
        .get("amount_to_capture")
        .and_then(|a| a.parse().ok())
        .unwrap_or(intent["amount"].as_i64().unwrap());
    intent["status"] = "succeeded".into();
    intent["amount_received"] = amount.into();
    intent["amount_capturable"] = 0.into();
    answer(200, intent.clone())
}

async fn cancel_intent(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Answer {
    if let Some(failed) = record(
        &inner,
        Method::POST,
        format!("/v1/payment_intents/{id}/cancel"),
        &headers,
        HashMap::new(),
    ) {
        return failed;
    }
    let mut intents = inner.intents.lock().unwrap();
    match intents.get_mut(&id) {
        Some(intent) => {
            intent["status"] = "canceled".into();
            intent["cancellation_reason"] = "requested_by_customer".into();
            answer(200, intent.clone())
        }
        None => answer(
            200,
            json!({"id": id, "object": "payment_intent", "status": "canceled", "last_payment_error": null}),
        ),
    }
}

async fn refund(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Answer {
    if let Some(failed) = record(
        &inner,
        Method::POST,
        "/v1/refunds".into(),
        &headers,
        form.clone(),
    ) {
        return failed;
    }
    let amount: i64 = form.get("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
    answer(
        200,
        json!({
        "id": format!("re_{}", uuid::Uuid::new_v4().simple()), "object": "refund", "amount": amount,
        "charge": "ch_1", "created": 1_700_000_000, "currency": "usd", "metadata": {},
        "payment_intent": form.get("payment_intent"), "reason": null, "status": "succeeded"}),
    )
}
