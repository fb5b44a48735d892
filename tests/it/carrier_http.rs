//! The HTTP carrier against a fake carrier bridge that implements the protocol documented in
//! `services::shipments::carriers::http`: rates, labels (sold once per idempotency key),
//! voids, tracking, and the ways a carrier fails (a lost answer, a hang past the timeout, a
//! refusal naming a field, a wrong key, a label that is not a PDF). No database is involved:
//! the carrier is called directly through the `Carrier` trait.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use stateset::domain::rating::Parcel;
use stateset::domain::{Address, Money, SignatureRequirement};
use stateset::services::Error;
use stateset::services::shipments::carriers::http::HttpCarrier;
use stateset::services::shipments::carriers::{
    BoughtLabel, Carrier, CarrierEvent, LabelRequest, Quote, RateRequest,
};

/// The key the fake accepts.
const API_KEY: &str = "carrier-test-key-3f9a";

/// How the fake misbehaves on one request (taken in order, one per request).
#[derive(Clone)]
enum Fault {
    /// Answer this status and raw body instead of doing anything.
    Answer(u16, &'static str),
    /// Do the work, then answer 503: the answer is lost on its way back.
    LoseAnswer,
    /// Wait this long before doing anything (past the client's timeout, nothing is done).
    Hang(Duration),
    /// Sell the label but answer bytes that are not a PDF.
    NotPdf,
}

/// One request the fake got.
#[derive(Debug, Clone)]
struct Seen {
    /// The path as sent, still percent-encoded.
    raw_path: String,
    authorization: Option<String>,
    idempotency_key: Option<String>,
    body: Value,
}

#[derive(Default)]
struct Inner {
    seen: Mutex<Vec<Seen>>,
    faults: Mutex<VecDeque<Fault>>,
    /// Labels sold, by idempotency key: a repeat of a key is answered from here.
    labels: Mutex<HashMap<String, Value>>,
    /// Label ids voided, as the fake decoded them from the path.
    voided: Mutex<Vec<String>>,
    /// Events per tracking number; an unknown number is a 404.
    events: Mutex<HashMap<String, Value>>,
}

/// A running fake carrier bridge.
#[derive(Clone)]
struct FakeCarrier {
    addr: SocketAddr,
    inner: Arc<Inner>,
}

impl FakeCarrier {
    async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let router = axum::Router::new()
            .route("/bridge/rates", post(rates))
            .route("/bridge/labels", post(labels))
            .route("/bridge/labels/{id}/void", post(void))
            .route("/bridge/tracking/{number}", get(tracking))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { addr, inner }
    }

    /// The base URL, with a path of its own and a trailing slash, as an operator may write it.
    fn url(&self) -> String {
        format!("http://{}/bridge/", self.addr)
    }

    /// A carrier for this fake with the right key and `timeout`.
    fn carrier(&self, timeout: Duration) -> HttpCarrier {
        HttpCarrier::new("fake", &self.url(), Some(API_KEY.to_owned()), timeout).unwrap()
    }

    /// Queues faults for the next requests, in order.
    fn fail(&self, faults: &[Fault]) {
        self.inner
            .faults
            .lock()
            .unwrap()
            .extend(faults.iter().cloned());
    }

    fn seen(&self) -> Vec<Seen> {
        self.inner.seen.lock().unwrap().clone()
    }

    /// Labels really sold (repeats of a key sell none).
    fn sold(&self) -> usize {
        self.inner.labels.lock().unwrap().len()
    }

    fn voided(&self) -> Vec<String> {
        self.inner.voided.lock().unwrap().clone()
    }

    fn add_events(&self, tracking_number: &str, events: Value) {
        self.inner
            .events
            .lock()
            .unwrap()
            .insert(tracking_number.to_owned(), events);
    }
}

/// The fake's answer to a wrong or missing API key.
struct Refused;

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let refusal = json!({ "error": { "message": "unknown API key" } });
        (StatusCode::UNAUTHORIZED, axum::Json(refusal)).into_response()
    }
}

impl Inner {
    /// Records the request and checks its key: `Err` with the 401 for a wrong one, else the
    /// fault queued for it, if any.
    fn admit(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<Option<Fault>, Refused> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let authorization = header("authorization");
        self.seen.lock().unwrap().push(Seen {
            raw_path: uri.path().to_owned(),
            authorization: authorization.clone(),
            idempotency_key: header("idempotency-key"),
            body: serde_json::from_slice(body).unwrap_or(Value::Null),
        });
        if authorization.as_deref() != Some(&format!("Bearer {API_KEY}")) {
            return Err(Refused);
        }
        Ok(self.faults.lock().unwrap().pop_front())
    }
}

/// Applies the faults that come before any work: a canned answer or a hang.
async fn before_work(fault: &Option<Fault>) -> Option<Response> {
    match fault {
        Some(Fault::Answer(status, body)) => Some(
            (
                StatusCode::from_u16(*status).unwrap(),
                [("content-type", "application/json")],
                *body,
            )
                .into_response(),
        ),
        Some(Fault::Hang(duration)) => {
            tokio::time::sleep(*duration).await;
            None
        }
        _ => None,
    }
}

/// The answer after the work: lost (503) when the fault says so.
fn after_work(fault: &Option<Fault>, answer: Value) -> Response {
    match fault {
        Some(Fault::LoseAnswer) => (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response(),
        _ => axum::Json(answer).into_response(),
    }
}

async fn rates(
    State(inner): State<Arc<Inner>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = match inner.admit(&uri, &headers, &body) {
        Ok(fault) => fault,
        Err(refused) => return refused.into_response(),
    };
    if let Some(answer) = before_work(&fault).await {
        return answer;
    }
    after_work(
        &fault,
        json!({ "rates": [
            { "service": "ground", "service_name": "Fake Ground",
              "price": { "amount": "12.30", "currency": "USD" },
              "estimated_delivery": "2026-12-09", "guaranteed": false },
            { "service": "express", "service_name": "Fake Express",
              "price": { "amount": "31.5", "currency": "USD" },
              "estimated_delivery": "2026-12-08", "guaranteed": true },
        ] }),
    )
}

/// The PDF the fake prints for its `n`th label: a real header, then bytes that are not text,
/// so a round trip that mangles binary shows.
fn pdf_for(n: usize) -> Vec<u8> {
    let mut pdf = format!("%PDF-1.7\n% fake label {n}\n").into_bytes();
    pdf.extend_from_slice(&[0x00, 0xff, 0xfe, 0x80, 0x0a]);
    pdf
}

async fn labels(
    State(inner): State<Arc<Inner>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = match inner.admit(&uri, &headers, &body) {
        Ok(fault) => fault,
        Err(refused) => return refused.into_response(),
    };
    if let Some(answer) = before_work(&fault).await {
        return answer;
    }
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        let refusal = json!({ "error": { "message": "Idempotency-Key is required" } });
        return (StatusCode::BAD_REQUEST, axum::Json(refusal)).into_response();
    };
    let answer = {
        let mut labels = inner.labels.lock().unwrap();
        let n = labels.len() + 1;
        let pdf = match fault {
            Some(Fault::NotPdf) => b"<html>label</html>".to_vec(),
            _ => pdf_for(n),
        };
        labels
            .entry(key)
            .or_insert_with(|| {
                json!({
                    "tracking_number": format!("FK{n:010}"),
                    "label_id": format!("lbl_{n}"),
                    "label_pdf_base64": base64::engine::general_purpose::STANDARD.encode(pdf),
                    "price": { "amount": "12.30", "currency": "USD" },
                })
            })
            .clone()
    };
    after_work(&fault, answer)
}

async fn void(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = match inner.admit(&uri, &headers, &body) {
        Ok(fault) => fault,
        Err(refused) => return refused.into_response(),
    };
    if let Some(answer) = before_work(&fault).await {
        return answer;
    }
    inner.voided.lock().unwrap().push(id);
    StatusCode::NO_CONTENT.into_response()
}

async fn tracking(
    State(inner): State<Arc<Inner>>,
    Path(number): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = match inner.admit(&uri, &headers, &body) {
        Ok(fault) => fault,
        Err(refused) => return refused.into_response(),
    };
    if let Some(answer) = before_work(&fault).await {
        return answer;
    }
    let events = inner.events.lock().unwrap().get(&number).cloned();
    match events {
        Some(events) => after_work(&fault, json!({ "events": events })),
        None => (StatusCode::NOT_FOUND, "no such parcel").into_response(),
    }
}

fn address(line1: &str, city: &str, region: &str, postal_code: &str) -> Address {
    Address {
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        company: None,
        line1: line1.into(),
        line2: None,
        city: city.into(),
        region: Some(region.into()),
        postal_code: Some(postal_code.into()),
        country: "US".into(),
        phone: None,
    }
}

fn parcel() -> Parcel {
    Parcel {
        weight_grams: 1200,
        length_mm: 300,
        width_mm: 200,
        height_mm: 100,
    }
}

fn rate_request() -> RateRequest {
    RateRequest {
        origin: address("1 Warehouse Way", "Reno", "NV", "89501"),
        destination: address("350 5th Ave", "New York", "NY", "10001"),
        parcels: vec![
            parcel(),
            Parcel {
                weight_grams: 500,
                ..parcel()
            },
        ],
        signature: SignatureRequirement::Signature,
        ship_date: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
    }
}

fn label_request(key: &str) -> LabelRequest {
    LabelRequest {
        idempotency_key: key.to_owned(),
        sequence: 7,
        reference: "SH-1001".to_owned(),
        package: (1, 2),
        origin: address("1 Warehouse Way", "Reno", "NV", "89501"),
        destination: address("350 5th Ave", "New York", "NY", "10001"),
        parcel: parcel(),
        service: "ground".to_owned(),
        signature: SignatureRequirement::None,
    }
}

fn usd(amount: &str) -> Money {
    Money::from_stored(amount.parse::<Decimal>().unwrap(), "USD")
}

/// The fields a validation error names.
fn fields(err: &Error) -> Vec<(String, String)> {
    match err {
        Error::Validation(fields) => fields
            .iter()
            .map(|f| (f.field.clone(), f.message.clone()))
            .collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

/// The whole chain of an UNAVAILABLE error, for asserting on its cause.
fn unavailable(err: &Error) -> String {
    match err {
        Error::Unavailable(source) => format!("{source:#}"),
        other => panic!("expected UNAVAILABLE, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rates_come_back_as_quotes_and_the_request_carries_parcels_addresses_and_the_token() {
    let fake = FakeCarrier::start().await;
    let carrier = fake.carrier(Duration::from_secs(5));

    let quotes = carrier.rate(&rate_request()).await.unwrap();

    assert_eq!(
        quotes,
        vec![
            Quote {
                service: "ground".into(),
                service_name: "Fake Ground".into(),
                price: usd("12.30"),
                estimated_delivery: NaiveDate::from_ymd_opt(2026, 12, 9).unwrap(),
                guaranteed: false,
            },
            Quote {
                service: "express".into(),
                service_name: "Fake Express".into(),
                price: usd("31.50"),
                estimated_delivery: NaiveDate::from_ymd_opt(2026, 12, 8).unwrap(),
                guaranteed: true,
            },
        ]
    );
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.raw_path, "/bridge/rates");
    assert_eq!(
        request.authorization.as_deref(),
        Some(&*format!("Bearer {API_KEY}"))
    );
    assert_eq!(request.idempotency_key, None, "rating buys nothing");
    let body = &request.body;
    assert_eq!(
        body["parcels"],
        json!([
            { "weight_grams": 1200, "length_mm": 300, "width_mm": 200, "height_mm": 100 },
            { "weight_grams": 500, "length_mm": 300, "width_mm": 200, "height_mm": 100 },
        ])
    );
    assert_eq!(body["origin"]["postal_code"], "89501");
    assert_eq!(body["destination"]["line1"], "350 5th Ave");
    assert_eq!(body["destination"]["postal_code"], "10001");
    assert_eq!(body["destination"]["country"], "US");
    assert_eq!(body["signature"], "signature");
    assert_eq!(body["ship_date"], "2026-12-07");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_bought_twice_with_one_key_is_sold_once_and_its_pdf_round_trips() {
    let fake = FakeCarrier::start().await;
    let carrier = fake.carrier(Duration::from_secs(5));
    let request = label_request("shipment-1-package-1");

    let first = carrier.buy_label(&request).await.unwrap();
    let second = carrier.buy_label(&request).await.unwrap();

    assert_eq!(fake.sold(), 1, "the same key sells one label");
    assert_eq!(first, second);
    assert_eq!(
        first,
        BoughtLabel {
            tracking_number: "FK0000000001".into(),
            carrier_label_id: "lbl_1".into(),
            pdf: pdf_for(1),
            price: Some(usd("12.30")),
        }
    );
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    for call in &seen {
        assert_eq!(call.raw_path, "/bridge/labels");
        assert_eq!(
            call.idempotency_key.as_deref(),
            Some("shipment-1-package-1")
        );
        assert_eq!(call.body["idempotency_key"], "shipment-1-package-1");
        assert_eq!(call.body["reference"], "SH-1001");
        assert_eq!(call.body["service"], "ground");
        assert_eq!(call.body["parcel"]["weight_grams"], 1200);
    }

    // Another key is another purchase.
    let other = carrier
        .buy_label(&label_request("shipment-1-package-2"))
        .await
        .unwrap();
    assert_eq!(fake.sold(), 2);
    assert_eq!(other.tracking_number, "FK0000000002");
    assert_eq!(other.pdf, pdf_for(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_retried_with_the_same_key_and_sells_one_label() {
    let fake = FakeCarrier::start().await;
    let carrier = fake.carrier(Duration::from_secs(5));
    // The carrier sells the label, then answers 503: only the retry hears of the sale.
    fake.fail(&[Fault::LoseAnswer]);

    let label = carrier
        .buy_label(&label_request("shipment-2-package-1"))
        .await
        .unwrap();

    assert_eq!(label.tracking_number, "FK0000000001");
    assert_eq!(label.pdf, pdf_for(1));
    let keys: Vec<_> = fake.seen().into_iter().map(|s| s.idempotency_key).collect();
    assert_eq!(
        keys,
        vec![Some("shipment-2-package-1".to_owned()); 2],
        "one retry, with the same key"
    );
    assert_eq!(fake.sold(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carrier_failing_twice_is_unavailable_after_one_retry() {
    let fake = FakeCarrier::start().await;
    let carrier = fake.carrier(Duration::from_secs(5));
    fake.fail(&[
        Fault::Answer(503, "{}"),
        Fault::Answer(503, "{}"),
        Fault::Answer(503, "{}"),
    ]);

    let err = carrier.rate(&rate_request()).await.unwrap_err();

    assert_eq!(err.code(), "UNAVAILABLE");
    assert_eq!(
        unavailable(&err),
        "carrier fake answered 503 Service Unavailable"
    );
    assert_eq!(fake.seen().len(), 2, "tried once more, not more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carrier_hanging_past_the_timeout_is_unavailable_within_a_second() {
    let fake = FakeCarrier::start().await;
    let carrier = fake.carrier(Duration::from_millis(300));
    let hang = Fault::Hang(Duration::from_secs(2));
    fake.fail(&[hang.clone(), hang]);

    let started = Instant::now();
    let err = carrier.rate(&rate_request()).await.unwrap_err();
    let took = started.elapsed();

    assert_eq!(err.code(), "UNAVAILABLE");
    assert_eq!(unavailable(&err), "carrier fake is unreachable");
    // Two attempts of 300 ms and the 200 ms pause between them.
    assert!(
        took >= Duration::from_millis(750) && took < Duration::from_millis(1500),
        "gave up after {took:?}"
    );
    assert_eq!(fake.seen().len(), 2, "the timeout is retried once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_names_the_field_the_carrier_blames_and_is_not_retried() {
    let fake = FakeCarrier::start().await;
    let carrier = fake.carrier(Duration::from_secs(5));
    fake.fail(&[
        Fault::Answer(
            422,
            r#"{"error":{"field":"destination.postal_code","message":"unknown ZIP"}}"#,
        ),
        Fault::Answer(400, "<html>Bad Request</html>"),
        Fault::Answer(422, r#"{"error":{"message":"no such service"}}"#),
    ]);
    let request = label_request("shipment-3-package-1");

    let err = carrier.buy_label(&request).await.unwrap_err();
    assert_eq!(err.code(), "VALIDATION");
    assert_eq!(
        fields(&err),
        vec![("destination.postal_code".into(), "unknown ZIP".into())]
    );
    assert_eq!(fake.seen().len(), 1, "a refusal is final");

    let err = carrier.buy_label(&request).await.unwrap_err();
    assert_eq!(
        fields(&err),
        vec![(
            "carrier".into(),
            "fake refused the request (400 Bad Request)".into()
        )],
        "a body that says nothing readable"
    );

    let err = carrier.buy_label(&request).await.unwrap_err();
    assert_eq!(
        fields(&err),
        vec![("carrier".into(), "no such service".into())],
        "a refusal naming no field"
    );
    assert_eq!(fake.sold(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_that_is_not_a_pdf_is_unavailable() {
    let fake = FakeCarrier::start().await;
    let carrier = fake.carrier(Duration::from_secs(5));
    fake.fail(&[Fault::NotPdf]);

    let err = carrier
        .buy_label(&label_request("shipment-4-package-1"))
        .await
        .unwrap_err();

    assert_eq!(err.code(), "UNAVAILABLE");
    assert_eq!(
        unavailable(&err),
        "carrier fake answered with something that is not a PDF"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn void_names_the_label_as_one_path_segment_and_tracking_reads_events_or_nothing() {
    let fake = FakeCarrier::start().await;
    let carrier = fake.carrier(Duration::from_secs(5));

    carrier.void_label("lbl/7 ü?x").await.unwrap();
    assert_eq!(fake.voided(), vec!["lbl/7 ü?x".to_owned()]);
    assert_eq!(
        fake.seen()[0].raw_path,
        "/bridge/labels/lbl%2F7%20%C3%BC%3Fx/void"
    );
    let err = carrier.void_label("..").await.unwrap_err();
    assert_eq!(err.code(), "VALIDATION", "`..` cannot be one path segment");

    let events = json!([
        { "event_id": "ev_1", "code": "picked_up", "occurred_at": "2026-12-07T16:05:00Z",
          "location": "Reno, NV", "description": "Picked up", "signed_by": null },
        { "event_id": "ev_2", "code": "delivered", "occurred_at": "2026-12-09T18:30:00Z",
          "location": "New York, NY", "description": "Delivered", "signed_by": "A. LOVELACE" },
    ]);
    fake.add_events("FK0000000001", events);
    let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();

    let tracked = carrier.track("FK0000000001").await.unwrap();
    assert_eq!(
        tracked,
        vec![
            CarrierEvent {
                event_id: "ev_1".into(),
                code: "picked_up".into(),
                occurred_at: at("2026-12-07T16:05:00Z"),
                location: Some("Reno, NV".into()),
                description: Some("Picked up".into()),
                signed_by: None,
            },
            CarrierEvent {
                event_id: "ev_2".into(),
                code: "delivered".into(),
                occurred_at: at("2026-12-09T18:30:00Z"),
                location: Some("New York, NY".into()),
                description: Some("Delivered".into()),
                signed_by: Some("A. LOVELACE".into()),
            },
        ]
    );
    assert_eq!(
        carrier.track("FK9999999999").await.unwrap(),
        vec![],
        "a number the carrier does not know has no events yet"
    );
    let paths: Vec<_> = fake.seen().into_iter().map(|s| s.raw_path).collect();
    assert_eq!(
        paths[1..],
        [
            "/bridge/tracking/FK0000000001".to_owned(),
            "/bridge/tracking/FK9999999999".to_owned()
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_key_is_unavailable_and_the_key_is_never_shown() {
    let fake = FakeCarrier::start().await;
    let secret = "sk_wrong_carrier_key_81c2";
    let carrier = HttpCarrier::new(
        "fake",
        &fake.url(),
        Some(secret.to_owned()),
        Duration::from_secs(5),
    )
    .unwrap();

    let err = carrier.rate(&rate_request()).await.unwrap_err();

    assert_eq!(
        err.code(),
        "UNAVAILABLE",
        "the caller cannot fix our credentials"
    );
    let chain = unavailable(&err);
    assert_eq!(
        chain,
        "carrier fake refused our credentials (401 Unauthorized)"
    );
    assert_eq!(fake.seen().len(), 1, "a refused key is not retried");
    assert_eq!(
        fake.seen()[0].authorization.as_deref(),
        Some(&*format!("Bearer {secret}"))
    );
    for shown in [format!("{err:?}"), chain, format!("{carrier:?}")] {
        assert!(!shown.contains(secret), "the key leaked: {shown}");
    }

    // Without a key nothing is sent, and the fake refuses the same way.
    let keyless = HttpCarrier::new("fake", &fake.url(), None, Duration::from_secs(5)).unwrap();
    let err = keyless.track("FK0000000001").await.unwrap_err();
    assert_eq!(err.code(), "UNAVAILABLE");
    assert_eq!(fake.seen()[1].authorization, None);

    for bad in ["not a url", "ftp://example.com/", "http://example.com/?x=1"] {
        assert!(
            HttpCarrier::new("fake", bad, None, Duration::from_secs(1)).is_err(),
            "{bad} is not a base URL"
        );
    }
}
