//! A stand-in for Stripe's API the tests start: answers the PaymentIntents, PaymentMethods and
//! Refunds calls with the shapes Stripe sends (recorded from its API reference), including its
//! error bodies, and records every request it got.
//!
//! Like Stripe, a POST with an `Idempotency-Key` it has seen is answered with the first answer
//! and does nothing again, so tests can count what was really done (`intents_created`,
//! `refunds`). A gate holds or delays the answer to the next call on a path after the work is
//! done: the test's way to be "between the provider call and the commit".

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::Notify;

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

/// What a gate does to the answer of the call it catches.
#[derive(Clone)]
enum Hold {
    /// Until `release` (or forever).
    UntilReleased,
    /// For this long: past the client's timeout, the answer is lost.
    For(Duration),
}

struct Gate {
    path: String,
    hold: Hold,
}

#[derive(Default)]
struct Inner {
    calls: Mutex<Vec<Call>>,
    intents: Mutex<HashMap<String, Value>>,
    refunds: Mutex<Vec<Value>>,
    /// First answers by idempotency key, replayed for repeats.
    replies: Mutex<HashMap<String, (u16, Value)>>,
    /// Answer every call with this status and Stripe's error body for it.
    failing: Mutex<Option<u16>>,
    gate: Mutex<Option<Gate>>,
    /// Told when a gated call has been done and its answer is being held.
    reached: Notify,
    released: Notify,
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
            .route("/v1/payment_methods", post(create_payment_method))
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

    /// Calls to `path` so far.
    pub fn calls_to(&self, path: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.path == path)
            .collect()
    }

    /// PaymentIntents really created (repeats of a key create none).
    pub fn intents_created(&self) -> usize {
        self.inner.intents.lock().unwrap().len()
    }

    /// A PaymentIntent as Stripe holds it now.
    pub fn intent(&self, id: &str) -> Option<Value> {
        self.inner.intents.lock().unwrap().get(id).cloned()
    }

    /// Every PaymentIntent, as Stripe holds them now.
    pub fn intents(&self) -> Vec<Value> {
        self.inner
            .intents
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect()
    }

    /// Refunds really made.
    pub fn refunds(&self) -> Vec<Value> {
        self.inner.refunds.lock().unwrap().clone()
    }

    /// Makes every later call fail with `status` (500: Stripe's `api_error`).
    pub fn fail_with(&self, status: Option<u16>) {
        *self.inner.failing.lock().unwrap() = status;
    }

    /// The next call to `path` is done, then its answer is held until [`Self::release`]:
    /// wait for it with [`Self::reached`].
    pub fn hold_next(&self, path: &str) {
        *self.inner.gate.lock().unwrap() = Some(Gate {
            path: path.to_owned(),
            hold: Hold::UntilReleased,
        });
    }

    /// The next call to `path` is done, then answered only after `delay` (past the client's
    /// timeout: the answer is lost).
    pub fn delay_next(&self, path: &str, delay: Duration) {
        *self.inner.gate.lock().unwrap() = Some(Gate {
            path: path.to_owned(),
            hold: Hold::For(delay),
        });
    }

    /// Waits until a gated call has been done.
    pub async fn reached(&self) {
        tokio::time::timeout(Duration::from_secs(20), self.inner.reached.notified())
            .await
            .expect("the gated Stripe call came");
    }

    /// Lets a held answer go.
    pub fn release(&self) {
        self.inner.released.notify_one();
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

/// Runs a POST the way Stripe does: recorded, refused when failing, the first answer replayed
/// for a repeated idempotency key, else `work` done and its answer kept; then the gate.
async fn post_call(
    inner: &Inner,
    path: String,
    headers: &HeaderMap,
    form: HashMap<String, String>,
    work: impl FnOnce(&Inner, &HashMap<String, String>) -> (u16, Value),
) -> Answer {
    if let Some(failed) = record(inner, Method::POST, path.clone(), headers, form.clone()) {
        return failed;
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let kept = key
        .as_ref()
        .and_then(|k| inner.replies.lock().unwrap().get(k).cloned());
    let (status, body) = match kept {
        Some(kept) => kept,
        None => {
            let done = work(inner, &form);
            if let Some(key) = key {
                inner.replies.lock().unwrap().insert(key, done.clone());
            }
            done
        }
    };
    let gate = {
        let mut gate = inner.gate.lock().unwrap();
        match gate.as_ref() {
            Some(g) if g.path == path => gate.take(),
            _ => None,
        }
    };
    if let Some(gate) = gate {
        inner.reached.notify_one();
        match gate.hold {
            Hold::UntilReleased => inner.released.notified().await,
            Hold::For(delay) => tokio::time::sleep(delay).await,
        }
    }
    answer(status, body)
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
    let last4 = if id.contains("Declined") || id.contains("Insufficient") {
        "0002"
    } else {
        "4242"
    };
    answer(200, card_method(&id, "visa", last4, 8, 2030))
}

fn card_method(id: &str, brand: &str, last4: &str, exp_month: i64, exp_year: i64) -> Value {
    json!({
        "id": id, "object": "payment_method", "type": "card", "livemode": false, "created": 1_700_000_000,
        "billing_details": {"address": {}, "email": null, "name": null, "phone": null},
        "card": {"brand": brand, "country": "US", "exp_month": exp_month, "exp_year": exp_year,
            "funding": "credit", "last4": last4},
        "customer": null, "metadata": {}})
}

/// `POST /v1/payment_methods` with raw card details (as a PCI-compliant vault may): the
/// test card numbers map to Stripe's test payment methods, so they charge alike.
async fn create_payment_method(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Answer {
    post_call(
        &inner,
        "/v1/payment_methods".into(),
        &headers,
        form,
        |_, form| {
            let number = form.get("card[number]").cloned().unwrap_or_default();
            if form.get("type").map(String::as_str) != Some("card") || number.len() < 12 {
                return (
                    402,
                    json!({"error": {"code": "incorrect_number", "param": "number",
                        "message": "Your card number is incorrect.", "type": "card_error"}}),
                );
            }
            let id = match number.as_str() {
                "4000000000009995" => "pm_card_chargeDeclinedInsufficientFunds".to_owned(),
                _ => format!("pm_card_{}", uuid::Uuid::new_v4().simple()),
            };
            let field = |name: &str| form.get(name).and_then(|v| v.parse().ok()).unwrap_or(0);
            let brand = if number.starts_with('5') {
                "mastercard"
            } else {
                "visa"
            };
            (
                200,
                card_method(
                    &id,
                    brand,
                    &number[number.len() - 4..],
                    field("card[exp_month]"),
                    field("card[exp_year]"),
                ),
            )
        },
    )
    .await
}

fn intent(id: &str, form: &HashMap<String, String>, status: &str) -> Value {
    let amount: i64 = form.get("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
    json!({
        "id": id, "object": "payment_intent", "amount": amount,
        "amount_capturable": if status == "requires_capture" { amount } else { 0 },
        "amount_received": if status == "succeeded" { amount } else { 0 },
        "amount_refunded": 0,
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
    post_call(
        &inner,
        "/v1/payment_intents".into(),
        &headers,
        form,
        |inner, form| {
            let id = format!("pi_{}", uuid::Uuid::new_v4().simple());
            let method = form.get("payment_method").cloned().unwrap_or_default();
            if method == "pm_card_chargeDeclinedInsufficientFunds" {
                return (
                    402,
                    json!({"error": {
                    "charge": "ch_declined", "code": "card_declined", "decline_code": "insufficient_funds",
                    "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                    "message": "Your card has insufficient funds.",
                    "payment_intent": intent(&id, form, "requires_payment_method"),
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
            let body = intent(&id, form, status);
            inner.intents.lock().unwrap().insert(id, body.clone());
            (200, body)
        },
    )
    .await
}

async fn capture_intent(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Answer {
    let path = format!("/v1/payment_intents/{id}/capture");
    post_call(&inner, path, &headers, form, |inner, form| {
        let mut intents = inner.intents.lock().unwrap();
        let Some(intent) = intents.get_mut(&id) else {
            return (
                404,
                json!({"error": {"code": "resource_missing", "message": format!("No such payment_intent: '{id}'"),
                "param": "intent", "type": "invalid_request_error"}}),
            );
        };
        if intent["status"] != "requires_capture" {
            return (
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
        (200, intent.clone())
    })
    .await
}

async fn cancel_intent(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Answer {
    let path = format!("/v1/payment_intents/{id}/cancel");
    post_call(&inner, path, &headers, HashMap::new(), |inner, _| {
        let mut intents = inner.intents.lock().unwrap();
        match intents.get_mut(&id) {
            Some(intent) if intent["status"] == "succeeded" => (
                400,
                json!({"error": {"code": "payment_intent_unexpected_state",
                "message": "You cannot cancel this PaymentIntent because it has a status of succeeded.",
                "payment_intent": intent.clone(), "type": "invalid_request_error"}}),
            ),
            Some(intent) => {
                intent["status"] = "canceled".into();
                intent["cancellation_reason"] = "requested_by_customer".into();
                (200, intent.clone())
            }
            None => (
                200,
                json!({"id": id, "object": "payment_intent", "status": "canceled", "last_payment_error": null}),
            ),
        }
    })
    .await
}

async fn refund(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Answer {
    post_call(
        &inner,
        "/v1/refunds".into(),
        &headers,
        form,
        |inner, form| {
            let amount: i64 = form.get("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
            let intent_id = form.get("payment_intent").cloned().unwrap_or_default();
            if let Some(intent) = inner.intents.lock().unwrap().get_mut(&intent_id) {
                let refunded = intent["amount_refunded"].as_i64().unwrap_or(0) + amount;
                intent["amount_refunded"] = refunded.into();
            }
            let body = json!({
                "id": format!("re_{}", uuid::Uuid::new_v4().simple()), "object": "refund", "amount": amount,
                "charge": "ch_1", "created": 1_700_000_000, "currency": "usd", "metadata": {},
                "payment_intent": intent_id, "reason": null, "status": "succeeded"});
            inner.refunds.lock().unwrap().push(body.clone());
            (200, body)
        },
    )
    .await
}
