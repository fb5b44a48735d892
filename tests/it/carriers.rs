//! Carriers, rates, labels and tracking, end to end: an order paid at checkout (with a
//! delivery promise) whose two units come from two warehouses is planned into two fulfilment
//! orders, rate-shopped across two table-rated carriers, one that cannot be reached and one
//! that never answers; labels are bought once (a retry buys nothing), voided and bought again,
//! printed as PDFs whose barcode reads back as the tracking number; the parcels ship in three
//! packages across two shipments (partial, then the rest), carrier webhooks and API events (one
//! out of order, one duplicated) move them to delivered with a signature; the shipment feed, a
//! webhook subscriber and (in `acp`) the agent platform saw it. Through REST and GraphQL.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::Utc;
use futures::StreamExt as _;
use serde_json::{Value, json};

use crate::checkout::{complete, ready_checkout, shop};
use crate::support::receiver::Receiver;
use crate::support::{Auth, TestApp, rest_error_fields};
use stateset::auth::signature;
use stateset::services::shipments::label::read_barcode;

fn warehouse_address() -> Value {
    json!({"company": "StateSet Fulfilment", "line1": "500 Dock Rd", "city": "Reno", "region": "NV",
        "postal_code": "89502", "country": "US"})
}

/// A table: one zone for the whole US, two services.
fn table(services: Value) -> Value {
    json!({"currency": "USD", "dim_divisor": 5000,
        "zones": [{"origin_country": "US", "destination_country": "US", "zone": 5}],
        "services": services})
}

fn service(code: &str, name: &str, days: i32, price: &str, guaranteed: bool) -> Value {
    json!({"code": code, "name": name, "guaranteed": guaranteed,
        "transit": [{"zone": 5, "business_days": days}],
        "bands": [{"zone": 5, "max_weight_grams": 10000, "price": price}],
        "signature_surcharge": "3.00", "adult_signature_surcharge": "6.00"})
}

/// UPS and USPS rated from tables, DHL behind an API nobody answers. Returns UPS's webhook
/// secret.
async fn carriers(t: &TestApp) -> String {
    let (status, ups) = t
        .json(
            Method::POST,
            "/api/v1/carriers",
            Some(json!({"code": "ups", "name": "UPS", "kind": "ups",
            "adapter": "table", "rate_table": table(json!([
                service("ground", "UPS Ground", 4, "8.00", false),
                service("next_day_air", "UPS Next Day Air", 1, "30.00", true)]))})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ups}");
    assert!(ups.get("api_key").is_none() && ups["has_api_key"] == false);
    let (status, usps) = t
        .json(
            Method::POST,
            "/api/v1/carriers",
            Some(json!({"code": "usps", "name": "USPS", "kind": "usps",
            "adapter": "table", "rate_table": table(json!([
                service("priority", "Priority Mail", 3, "9.50", false),
                service("ground_advantage", "Ground Advantage", 7, "6.00", false)]))})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{usps}");
    // Port 9 (discard) on loopback: nothing listens, the connection is refused.
    let (status, dhl) = t
        .json(Method::POST, "/api/v1/carriers", Some(json!({"code": "dhl_express", "name": "DHL Express",
            "kind": "dhl_express", "adapter": "http", "base_url": "http://127.0.0.1:9", "timeout_ms": 500,
            "api_key": "sk_dhl_secret"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{dhl}");
    assert_eq!(dhl["has_api_key"], true);
    // FedEx's bridge takes the connection and never answers: slow, not down.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let (status, fedex) = t
        .json(
            Method::POST,
            "/api/v1/carriers",
            Some(json!({"code": "fedex", "name": "FedEx", "kind": "fedex",
            "adapter": "http", "base_url": silent_url, "timeout_ms": 300})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{fedex}");
    // A table carrier needs its table; a bad table names the field.
    let (status, bad) = t
        .json(
            Method::POST,
            "/api/v1/carriers",
            Some(json!({"code": "fedex", "name": "FedEx", "adapter": "table",
            "rate_table": table(json!([service("Ground!", "x", 1, "1", false)]))})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert_eq!(rest_error_fields(&bad), ["rate_table.services[0].code"]);
    ups["webhook_secret"].as_str().unwrap().to_owned()
}

async fn post(t: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    t.json(Method::POST, path, Some(body)).await
}

/// Sends a carrier webhook signed with `secret` (or not at all).
async fn carrier_webhook(
    t: &TestApp,
    code: &str,
    secret: Option<&str>,
    body: &Value,
) -> (StatusCode, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/carriers/{code}/webhook"))
        .header("content-type", "application/json");
    if let Some(secret) = secret {
        request = request.header(
            "x-carrier-signature",
            signature::sign(secret, Utc::now().timestamp(), &bytes),
        );
    }
    let (status, _, body) = t.request(request.body(Body::from(bytes)).unwrap()).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn ups_event(number: &str, id: &str, code: &str, hours: i64, signed_by: Option<&str>) -> Value {
    let at = Utc::now() - chrono::Duration::hours(48) + chrono::Duration::hours(hours);
    json!({"tracking_number": number, "event_id": id, "code": code, "occurred_at": at.to_rfc3339(),
        "location": "Louisville, KY", "signed_by": signed_by})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_shop_buy_labels_ship_in_three_packages_and_track_to_a_signed_delivery() {
    let t = TestApp::with_config(|config| {
        config.webhooks.allow_private_networks = true;
        config.webhooks.retry_initial = Duration::ZERO;
    })
    .await;
    let (order_id, west) = two_warehouse_order(&t).await;
    let ups_secret = carriers(&t).await;
    let receiver = Receiver::start(&[]).await;
    let (status, _) = post(
        &t,
        "/api/v1/webhooks",
        json!({"url": receiver.url(), "event_types": ["shipment.*"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut feed = Box::pin(
        t.services()
            .orders
            .watch_shipments(&t.ctx, order_id.parse().unwrap())
            .await
            .unwrap(),
    );

    // Two fulfilment orders, one per warehouse; the first warehouse needs an address to ship
    // from before anything can be rated.
    let (_, plans) = t
        .json(
            Method::GET,
            &format!("/api/v1/orders/{order_id}/fulfillment-orders"),
            None,
        )
        .await;
    assert_eq!(plans["items"].as_array().unwrap().len(), 2, "{plans}");
    let plan = plans["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["location_id"] != json!(west))
        .unwrap()
        .clone();
    let west_plan = plans["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["location_id"] == json!(west))
        .unwrap()
        .clone();
    assert_eq!(plan["lines"][0]["quantity"], 1);
    assert_eq!(west_plan["lines"][0]["quantity"], 1);
    let plan = &plan;
    let line = plan["lines"][0]["id"].clone();
    let (status, first) = post(
        &t,
        "/api/v1/shipments",
        json!({"fulfillment_order_id": plan["id"],
        "lines": [{"fulfillment_order_line_id": line, "quantity": 1}], "signature": "signature",
        "packages": [{"weight_grams": 400, "length_mm": 250, "width_mm": 200, "height_mm": 50},
                     {"weight_grams": 300, "length_mm": 200, "width_mm": 150, "height_mm": 50}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let first_id = first["id"].as_str().unwrap().to_owned();
    let (status, err) = t
        .json(
            Method::GET,
            &format!("/api/v1/shipments/{first_id}/rates"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(rest_error_fields(&err), ["location.address"]);
    let location = plan["location_id"].as_str().unwrap();
    let (status, body) = t
        .json(
            Method::PUT,
            &format!("/api/v1/locations/{location}"),
            Some(json!({"address": warehouse_address()})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Every carrier at once: the unreachable one is listed as failed, the others priced.
    let (status, rates) = t
        .json(
            Method::GET,
            &format!("/api/v1/shipments/{first_id}/rates"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rates}");
    let offered: Vec<(String, String, String)> = rates["rates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["carrier"].as_str().unwrap().into(),
                r["service"].as_str().unwrap().into(),
                r["price"]["amount"].as_str().unwrap().into(),
            )
        })
        .collect();
    // Two packages each, plus the signature surcharge once.
    assert_eq!(
        offered,
        [
            ("usps", "ground_advantage", "15.00"),
            ("ups", "ground", "19.00"),
            ("usps", "priority", "22.00"),
            ("ups", "next_day_air", "63.00")
        ]
        .map(|(c, s, p)| (c.to_owned(), s.to_owned(), p.to_owned()))
    );
    let failed: Vec<&str> = rates["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["carrier"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["dhl_express", "fedex"], "{rates}");
    assert!(!rates.to_string().contains("sk_dhl_secret"));
    // Standard shipping promised 5 business days from the checkout: ground advantage (7)
    // is cheapest but late, UPS Ground (4) is the best value.
    let promised = rates["promised_by"].as_str().unwrap();
    assert!(
        rates["rates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["estimated_delivery"].as_str().unwrap() > promised)
    );
    assert_eq!(rates["cheapest"]["service"], "ground_advantage");
    assert_eq!(rates["fastest"]["service"], "next_day_air");
    assert_eq!(rates["fastest"]["guaranteed"], true);
    assert_eq!(rates["best_value"]["service"], "ground");

    // Labels for the best value; buying again buys nothing new.
    let (status, labelled) = post(
        &t,
        &format!("/api/v1/shipments/{first_id}/labels"),
        json!({"choice": "best_value"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{labelled}");
    assert_eq!(labelled["carrier"], "ups");
    let numbers: Vec<String> = labelled["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["tracking_number"].as_str().unwrap().to_owned())
        .collect();
    for (package, number) in labelled["packages"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&numbers)
    {
        assert!(number.starts_with("1Z") && number.len() == 18, "{number}");
        assert!(
            stateset::domain::tracking::validate_tracking_number(
                stateset::domain::CarrierKind::Ups,
                number
            )
            .is_ok()
        );
        assert_eq!(package["label"]["status"], "purchased");
        // The signature is charged once, on the first package: 11.00 + 8.00 = the 19.00 rated.
        let price = if package["position"] == 1 {
            "11.00"
        } else {
            "8.00"
        };
        assert_eq!(package["label"]["price"]["amount"], price);
        assert_eq!(
            package["tracking_url"],
            format!("https://www.ups.com/track?tracknum={number}")
        );
    }
    assert_ne!(numbers[0], numbers[1]);
    let (_, again) = post(
        &t,
        &format!("/api/v1/shipments/{first_id}/labels"),
        json!({"carrier": "ups", "service": "ground"}),
    )
    .await;
    assert_eq!(
        again["packages"][0]["label"]["id"], labelled["packages"][0]["label"]["id"],
        "not bought twice"
    );
    assert_eq!(again["packages"][1]["tracking_number"], numbers[1].as_str());

    // Each label is a PDF whose barcode reads back as its tracking number.
    let pdf = |position: i32| {
        let t = &t;
        let first_id = first_id.clone();
        async move {
            let request = Request::get(format!(
                "/api/v1/shipments/{first_id}/label?package={position}"
            ))
            .header("authorization", format!("Bearer {}", t.admin))
            .body(Body::empty())
            .unwrap();
            let (status, headers, body) = t.request(request).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(headers["content-type"], "application/pdf");
            body
        }
    };
    for (position, number) in [(1, &numbers[0]), (2, &numbers[1])] {
        let bytes = pdf(position).await;
        assert_eq!(read_barcode(&bytes).as_deref(), Ok(number.as_str()));
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("500 Dock Rd") && text.contains("San Jose"),
            "both addresses"
        );
        assert!(text.contains(&format!("Package {position} of 2")));
    }

    // Void the first package's label and buy it again: a new number, the other untouched.
    let package_one = labelled["packages"][0]["id"].clone();
    let (status, voided) = post(
        &t,
        &format!("/api/v1/shipments/{first_id}/labels/void"),
        json!({"package_id": package_one}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{voided}");
    assert_eq!(voided["packages"][0]["tracking_number"], Value::Null);
    assert_eq!(voided["packages"][0]["label"]["status"], "voided");
    let (_, rebought) = post(
        &t,
        &format!("/api/v1/shipments/{first_id}/labels"),
        json!({"carrier": "ups", "service": "ground"}),
    )
    .await;
    let renewed = rebought["packages"][0]["tracking_number"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(renewed, numbers[0]);
    assert_eq!(
        rebought["packages"][1]["tracking_number"],
        numbers[1].as_str()
    );

    // First shipment leaves: the order is partly shipped; then the rest, one USPS package.
    let (status, shipped) =
        post(&t, &format!("/api/v1/shipments/{first_id}/ship"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    let (status, err) = post(
        &t,
        &format!("/api/v1/shipments/{first_id}/labels/void"),
        json!({}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "no voiding once shipped: {err}"
    );
    let (_, order) = t
        .json(Method::GET, &format!("/api/v1/orders/{order_id}"), None)
        .await;
    assert_eq!(order["status"], "partially_shipped");
    let (_, second) = post(
        &t,
        "/api/v1/shipments",
        json!({"fulfillment_order_id": west_plan["id"],
        "packages": [{"weight_grams": 350, "length_mm": 200, "width_mm": 150, "height_mm": 50}]}),
    )
    .await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    let (_, second) = post(
        &t,
        &format!("/api/v1/shipments/{second_id}/labels"),
        json!({"carrier": "usps", "service": "priority"}),
    )
    .await;
    let (status, err) = post(
        &t,
        &format!("/api/v1/shipments/{second_id}/cancel"),
        json!({"reason": "x"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a bought label is voided before the shipment goes: {err}"
    );
    let usps_number = second["packages"][0]["tracking_number"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        usps_number.starts_with("9400") && usps_number.len() == 22,
        "{usps_number}"
    );
    post(
        &t,
        &format!("/api/v1/shipments/{second_id}/ship"),
        json!({}),
    )
    .await;
    let (_, order) = t
        .json(Method::GET, &format!("/api/v1/orders/{order_id}"), None)
        .await;
    assert_eq!(order["status"], "shipped");

    // UPS reports by webhook: accepted, in transit at +5h, then an earlier scan (+3h) late
    // and the +5h event again. The shipment follows the latest in time.
    let events = json!({"events": [ups_event(&renewed, "ev-1", "P", 1, None), ups_event(&renewed, "ev-3", "I", 5, None)]});
    let (status, receipt) = carrier_webhook(&t, "ups", Some(&ups_secret), &events).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(
        receipt,
        json!({"accepted": 2, "duplicates": 0, "unknown": 0})
    );
    let late = json!({"events": [ups_event(&renewed, "ev-2", "I", 3, None), ups_event(&renewed, "ev-3", "I", 5, None),
        ups_event("1Z0000000000000000", "ev-x", "I", 4, None)]});
    let (_, receipt) = carrier_webhook(&t, "ups", Some(&ups_secret), &late).await;
    assert_eq!(
        receipt,
        json!({"accepted": 1, "duplicates": 1, "unknown": 1})
    );
    let (_, now) = t
        .json(Method::GET, &format!("/api/v1/shipments/{first_id}"), None)
        .await;
    assert_eq!(now["status"], "in_transit");
    // Refused: no signature, a wrong one, a code UPS does not send.
    let (status, err) = carrier_webhook(&t, "ups", None, &events).await;
    assert_eq!(
        (status, rest_error_fields(&err)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["X-Carrier-Signature".to_owned()]
        )
    );
    let (status, _) = carrier_webhook(&t, "ups", Some("cwhsec_wrong"), &events).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let bogus = json!({"events": [ups_event(&renewed, "ev-9", "ZZ", 6, None)]});
    let (status, err) = carrier_webhook(&t, "ups", Some(&ups_secret), &bogus).await;
    assert_eq!(
        (status, rest_error_fields(&err)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["events[0].code".to_owned()]
        )
    );

    // Delivered without the signature it needs: an exception. Then signed for.
    let unsigned = json!({"events": [ups_event(&renewed, "ev-4", "D", 8, None)]});
    carrier_webhook(&t, "ups", Some(&ups_secret), &unsigned).await;
    let (_, now) = t
        .json(Method::GET, &format!("/api/v1/shipments/{first_id}"), None)
        .await;
    assert_eq!(now["status"], "exception");
    let signed = json!({"events": [ups_event(&renewed, "ev-5", "D", 9, Some("A. Lovelace"))]});
    carrier_webhook(&t, "ups", Some(&ups_secret), &signed).await;
    let (_, now) = t
        .json(Method::GET, &format!("/api/v1/shipments/{first_id}"), None)
        .await;
    assert_eq!(now["status"], "delivered");
    assert_eq!(now["signed_by"], "A. Lovelace");
    // Later news of its journey is kept, not followed: delivered stays delivered.
    let after = json!({"events": [ups_event(&renewed, "ev-6", "I", 10, None)]});
    carrier_webhook(&t, "ups", Some(&ups_secret), &after).await;
    let (_, now) = t
        .json(Method::GET, &format!("/api/v1/shipments/{first_id}"), None)
        .await;
    assert_eq!(now["status"], "delivered");

    // USPS through the API: delivered; the order is delivered with its last shipment.
    let at = Utc::now().to_rfc3339();
    let (status, body) = post(
        &t,
        &format!("/api/v1/shipments/{second_id}/tracking-events"),
        json!({"events": [{"event_id": "u-1", "code": "01", "occurred_at": at}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "delivered");
    let (_, order) = t
        .json(Method::GET, &format!("/api/v1/orders/{order_id}"), None)
        .await;
    assert_eq!(order["status"], "delivered");

    // Anyone may follow a parcel by its number, without seeing where it went.
    let (status, public) = t
        .json_as(
            &Auth::Anonymous,
            Method::GET,
            &format!("/api/v1/shipments/track/{renewed}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{public}");
    assert_eq!(public["status"], "delivered");
    assert_eq!(public["events"].as_array().unwrap().len(), 6, "{public}");
    assert_eq!(public["events"][0]["status"], "in_transit", "newest first");
    assert_eq!(public["shipment"], Value::Null);
    let text = public.to_string();
    assert!(
        !text.contains("San Jose") && !text.contains("Lovelace"),
        "{text}"
    );
    let (_, full) = t
        .json(
            Method::GET,
            &format!("/api/v1/shipments/track/{renewed}"),
            None,
        )
        .await;
    assert_eq!(full["shipment"]["id"], first_id.as_str());
    let signed = full["tracking_events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_id"] == "ev-5")
        .unwrap();
    assert_eq!(signed["signed_by"], "A. Lovelace");

    // The ledger balances; the feed and a webhook subscriber saw the shipments move.
    assert!(
        t.services()
            .inventory
            .unreconciled(&t.ctx)
            .await
            .unwrap()
            .is_empty()
    );
    let mut seen = Vec::new();
    while let Ok(Some(Ok(event))) =
        tokio::time::timeout(Duration::from_millis(500), feed.next()).await
    {
        seen.push(event.event_type);
    }
    for kind in [
        "shipment.created",
        "shipment.shipped",
        "shipment.in_transit",
        "shipment.exception",
        "shipment.delivered",
        "order.shipped",
        "order.delivered",
    ] {
        assert!(seen.iter().any(|s| s == kind), "{kind} not in {seen:?}");
    }
    while t.relay_and_deliver().await > 0 {}
    let delivered = receiver
        .wait_until(|r| r.iter().any(|d| d.json()["event"] == "shipment.delivered"))
        .await;
    let kinds: Vec<Value> = delivered
        .iter()
        .map(|d| d.json()["event"].clone())
        .collect();
    assert!(kinds.contains(&json!("shipment.in_transit")), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_rates_buys_tracks_and_keeps_secrets() {
    let t = TestApp::new().await;
    let tee = shop(&t).await;
    let checkout = ready_checkout(&t, tee, "4242 4242 4242 4242").await;
    let (_, done) = complete(&t, &checkout).await;
    let order_id = done["order"]["id"].as_str().unwrap().to_owned();
    let create = "mutation($input: CreateCarrierInput!) { createCarrier(input: $input) { code webhookSecret rateTable { services { code } } } }";
    let body = t
        .graphql(
            create,
            json!({"input": {"code": "ups", "name": "UPS", "kind": "UPS", "adapter": "TABLE",
            "rateTable": {"currency": "USD", "dimDivisor": 5000,
                "zones": [{"originCountry": "US", "destinationCountry": "US", "zone": 5}],
                "services": [{"code": "ground", "name": "UPS Ground", "guaranteed": false,
                    "transit": [{"zone": 5, "businessDays": 4}],
                    "bands": [{"zone": 5, "maxWeightGrams": 10000, "price": "8.00"}],
                    "signatureSurcharge": "3.00", "adultSignatureSurcharge": "6.00"}]}}}),
        )
        .await;
    assert!(
        body["data"]["createCarrier"]["webhookSecret"]
            .as_str()
            .unwrap()
            .starts_with("cwhsec_"),
        "{body}"
    );
    let listed = t
        .graphql("{ carriers { code rateTable { currency } } }", json!({}))
        .await;
    assert_eq!(listed["data"]["carriers"][0]["code"], "ups");
    assert!(
        !listed.to_string().contains("cwhsec_"),
        "the secret is shown once"
    );

    let plans = t
        .graphql(
            "query($id: UUID!) { order(id: $id) { fulfillmentOrders { id locationId } } }",
            json!({"id": order_id}),
        )
        .await;
    let plan = &plans["data"]["order"]["fulfillmentOrders"][0];
    t.json(
        Method::PUT,
        &format!("/api/v1/locations/{}", plan["locationId"].as_str().unwrap()),
        Some(json!({"address": warehouse_address()})),
    )
    .await;
    let made = t
        .graphql("mutation($input: CreateShipmentInput!) { createShipment(input: $input) { id } }",
            json!({"input": {"fulfillmentOrderId": plan["id"],
                "packages": [{"weightGrams": 500, "lengthMm": 100, "widthMm": 100, "heightMm": 100}]}}))
        .await;
    let shipment = made["data"]["createShipment"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{made}"))
        .to_owned();
    let rates = t
        .graphql("query($id: UUID!) { shipmentRates(shipmentId: $id) { cheapest { carrier service price { amount } } failures { carrier } } }",
            json!({"id": shipment}))
        .await;
    assert_eq!(
        rates["data"]["shipmentRates"]["cheapest"]["price"]["amount"], "8.00",
        "{rates}"
    );
    let bought = t
        .graphql("mutation($id: UUID!) { buyShipmentLabels(id: $id, input: {choice: CHEAPEST}) { packages { trackingNumber label { status } } } }",
            json!({"id": shipment}))
        .await;
    let number = bought["data"]["buyShipmentLabels"]["packages"][0]["trackingNumber"]
        .as_str()
        .unwrap_or_else(|| panic!("{bought}"))
        .to_owned();
    // Nobody marked it shipped: the carrier's scans do, and the stock leaves with them.
    let tracked = t
        .graphql("mutation($id: UUID!, $events: [TrackingEventInput!]!) { recordTrackingEvents(id: $id, events: $events) { status shippedAt } }",
            json!({"id": shipment, "events": [
                {"eventId": "g-0", "code": "P", "occurredAt": (Utc::now() - chrono::Duration::hours(2)).to_rfc3339()},
                {"eventId": "g-1", "code": "O", "occurredAt": Utc::now().to_rfc3339()}]}))
        .await;
    assert_eq!(
        tracked["data"]["recordTrackingEvents"]["status"], "OUT_FOR_DELIVERY",
        "{tracked}"
    );
    assert!(tracked["data"]["recordTrackingEvents"]["shippedAt"].is_string());
    let order = t
        .graphql(
            "query($id: UUID!) { order(id: $id) { status } }",
            json!({"id": order_id}),
        )
        .await;
    assert_eq!(order["data"]["order"]["status"], "SHIPPED", "{order}");
    assert!(
        t.services()
            .inventory
            .unreconciled(&t.ctx)
            .await
            .unwrap()
            .is_empty()
    );
    let public = t
        .graphql_as(&Auth::Anonymous, "query($n: String!) { trackShipment(trackingNumber: $n) { status events { status } shipment { id } } }",
            json!({"n": number}))
        .await;
    assert_eq!(
        public["data"]["trackShipment"]["status"], "OUT_FOR_DELIVERY",
        "{public}"
    );
    assert_eq!(public["data"]["trackShipment"]["shipment"], Value::Null);
    let events = t
        .graphql(
            "query($id: UUID!) { trackingEvents(shipmentId: $id) { status carrierCode } }",
            json!({"id": shipment}),
        )
        .await;
    assert_eq!(events["data"]["trackingEvents"][0]["carrierCode"], "O");
}

/// A paid checkout order of two tees, one from the shop's warehouse (left with one) and one
/// from a second warehouse further down the priority list, which has an address. Returns the
/// order's id and the second warehouse's.
async fn two_warehouse_order(t: &TestApp) -> (String, String) {
    let tee = shop(t).await;
    let (_, stock) = t
        .json(Method::GET, "/api/v1/inventory?limit=10", None)
        .await;
    let first_item = stock["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = post(
        t,
        &format!("/api/v1/inventory/{first_item}/adjust"),
        json!({"delta": -4, "reason": "damaged"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, second_warehouse) = post(t, "/api/v1/locations", json!({"code": "WH-WEST", "name": "West",
        "kind": "warehouse", "priority": 50, "address": {"company": "West Dock", "line1": "9 Bay St",
        "city": "Oakland", "region": "CA", "postal_code": "94607", "country": "US"}})).await;
    assert_eq!(status, StatusCode::CREATED, "{second_warehouse}");
    let west = second_warehouse["id"].as_str().unwrap().to_owned();
    t.receive_at(tee, west.parse().unwrap(), 5).await;
    let checkout = ready_checkout(t, tee, "4242 4242 4242 4242").await;
    let (status, done) = complete(t, &checkout).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    (done["order"]["id"].as_str().unwrap().to_owned(), west)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_runs_the_whole_fulfilment_of_a_two_warehouse_order() {
    let t = TestApp::new().await;
    let (order_id, west) = two_warehouse_order(&t).await;
    carriers(&t).await;
    let mut feed = Box::pin(
        t.services()
            .orders
            .watch_shipments(&t.ctx, order_id.parse().unwrap())
            .await
            .unwrap(),
    );
    let status_of = |body: &Value| {
        body["data"]["order"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let order_query = "query($id: UUID!) { order(id: $id) { status fulfillmentOrders { id locationId lines { id quantity } }
        shipments { id status signedBy packages { trackingNumber label { status } } } } }";
    let order = t.graphql(order_query, json!({"id": order_id})).await;
    let plans = order["data"]["order"]["fulfillmentOrders"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(plans.len(), 2, "{order}");
    let (east, west_plan): (Vec<&Value>, Vec<&Value>) =
        plans.iter().partition(|p| p["locationId"] != json!(west));
    t.json(
        Method::PUT,
        &format!(
            "/api/v1/locations/{}",
            east[0]["locationId"].as_str().unwrap()
        ),
        Some(json!({"address": warehouse_address()})),
    )
    .await;
    let create = "mutation($input: CreateShipmentInput!) { createShipment(input: $input) { id } }";
    let package =
        |grams: i32| json!({"weightGrams": grams, "lengthMm": 200, "widthMm": 150, "heightMm": 50});
    let first = t
        .graphql(
            create,
            json!({"input": {"fulfillmentOrderId": east[0]["id"], "signature": "SIGNATURE",
        "packages": [package(400), package(300)]}}),
        )
        .await;
    let first = first["data"]["createShipment"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    let second = t.graphql(create, json!({"input": {"fulfillmentOrderId": west_plan[0]["id"], "packages": [package(350)]}})).await;
    let second = second["data"]["createShipment"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{second}"))
        .to_owned();

    // Rate shop each, buy the labels (best value, then the cheapest), ship the first by hand.
    let rates = t.graphql("query($id: UUID!) { shipmentRates(shipmentId: $id) { bestValue { carrier service } failures { carrier } } }",
        json!({"id": first})).await;
    assert_eq!(
        rates["data"]["shipmentRates"]["bestValue"]["service"], "ground",
        "{rates}"
    );
    let buy = "mutation($id: UUID!, $choice: RateChoice!) { buyShipmentLabels(id: $id, input: {choice: $choice}) { packages { trackingNumber } } }";
    let bought = t
        .graphql(buy, json!({"id": first, "choice": "BEST_VALUE"}))
        .await;
    let numbers: Vec<String> = bought["data"]["buyShipmentLabels"]["packages"]
        .as_array()
        .unwrap_or_else(|| panic!("{bought}"))
        .iter()
        .map(|p| p["trackingNumber"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(numbers.len(), 2);
    let again = t
        .graphql(buy, json!({"id": first, "choice": "BEST_VALUE"}))
        .await;
    assert_eq!(
        again["data"]["buyShipmentLabels"]["packages"][0]["trackingNumber"],
        numbers[0].as_str(),
        "not bought twice"
    );
    t.graphql(buy, json!({"id": second, "choice": "CHEAPEST"}))
        .await;
    let shipped = t
        .graphql(
            "mutation($id: UUID!) { shipShipment(id: $id) { status } }",
            json!({"id": first}),
        )
        .await;
    assert_eq!(
        shipped["data"]["shipShipment"]["status"], "SHIPPED",
        "{shipped}"
    );
    assert_eq!(
        status_of(&t.graphql(order_query, json!({"id": order_id})).await),
        "PARTIALLY_SHIPPED"
    );

    // The rest leaves when the carrier scans it; then tracking, out of order and repeated.
    let record = "mutation($id: UUID!, $events: [TrackingEventInput!]!) { recordTrackingEvents(id: $id, events: $events) { status signedBy } }";
    let at = |hours: i64| {
        (Utc::now() - chrono::Duration::hours(24) + chrono::Duration::hours(hours)).to_rfc3339()
    };
    let scanned = t.graphql(record, json!({"id": second, "events": [{"eventId": "s-1", "code": "03", "occurredAt": at(1)}]})).await;
    assert_eq!(
        scanned["data"]["recordTrackingEvents"]["status"], "SHIPPED",
        "{scanned}"
    );
    assert_eq!(
        status_of(&t.graphql(order_query, json!({"id": order_id})).await),
        "SHIPPED"
    );
    let moving = t.graphql(record, json!({"id": first, "events": [
        {"eventId": "f-3", "code": "I", "occurredAt": at(5)}, {"eventId": "f-2", "code": "P", "occurredAt": at(2)},
        {"eventId": "f-3", "code": "I", "occurredAt": at(5)}]})).await;
    assert_eq!(
        moving["data"]["recordTrackingEvents"]["status"], "IN_TRANSIT",
        "{moving}"
    );
    let unsigned = t
        .graphql(
            record,
            json!({"id": first, "events": [{"eventId": "f-4", "code": "D", "occurredAt": at(8)}]}),
        )
        .await;
    assert_eq!(
        unsigned["data"]["recordTrackingEvents"]["status"], "EXCEPTION",
        "{unsigned}"
    );
    let signed = t.graphql(record, json!({"id": first, "events": [{"eventId": "f-5", "code": "D", "occurredAt": at(9), "signedBy": "G. Hopper"}]})).await;
    assert_eq!(
        signed["data"]["recordTrackingEvents"]["signedBy"], "G. Hopper",
        "{signed}"
    );
    assert_eq!(
        status_of(&t.graphql(order_query, json!({"id": order_id})).await),
        "SHIPPED"
    );
    t.graphql(
        record,
        json!({"id": second, "events": [{"eventId": "s-2", "code": "01", "occurredAt": at(10)}]}),
    )
    .await;
    let done = t.graphql(order_query, json!({"id": order_id})).await;
    assert_eq!(status_of(&done), "DELIVERED", "{done}");
    let events = t
        .graphql(
            "query($id: UUID!) { trackingEvents(shipmentId: $id) { eventId } }",
            json!({"id": first}),
        )
        .await;
    assert_eq!(
        events["data"]["trackingEvents"].as_array().unwrap().len(),
        4,
        "the repeat is kept once: {events}"
    );
    assert!(
        t.services()
            .inventory
            .unreconciled(&t.ctx)
            .await
            .unwrap()
            .is_empty()
    );
    let mut seen = Vec::new();
    while let Ok(Some(Ok(event))) =
        tokio::time::timeout(Duration::from_millis(500), feed.next()).await
    {
        seen.push(event.event_type);
    }
    for kind in [
        "shipment.shipped",
        "shipment.in_transit",
        "shipment.exception",
        "shipment.delivered",
        "order.delivered",
    ] {
        assert!(seen.iter().any(|s| s == kind), "{kind} not in {seen:?}");
    }
}
