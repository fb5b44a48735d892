//! Payments beyond a captured card: authorize then capture (all or part) or void; payments of
//! an existing order; Stripe through a fake that answers like Stripe, errors included; and
//! StablePay stablecoin requests with under- and over-payment and reconciliation.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use stateset::adapters::grpc::pb;

use crate::checkout::{complete, ready_checkout_paying, shop, token};
use crate::support::stripe::{API_KEY, FakeStripe};
use crate::support::{BearerInterceptor, TestApp, rest_error_fields};

async fn pay(t: &TestApp, body: Value) -> (StatusCode, Value) {
    t.json(Method::POST, "/api/v1/payments", Some(body)).await
}

async fn payment(t: &TestApp, id: &Value) -> Value {
    let (status, payment) = t
        .json(
            Method::GET,
            &format!("/api/v1/payments/{}", id.as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{payment}");
    payment
}

async fn payment_count(t: &TestApp) -> i64 {
    use diesel_async::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = t.app.db.conn().await.unwrap();
    diesel::sql_query("SELECT count(*) AS n FROM payments")
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n
}

/// An order of one 3.00 item for a new customer (nothing paid yet).
async fn unpaid_order(t: &TestApp, sku: &str) -> String {
    let variant = t.variant(sku).await;
    t.order_of(variant, &format!("{}@example.com", sku.to_lowercase()))
        .await
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorization_is_captured_in_part_then_refunded_never_above_the_capture() {
    let t = TestApp::new().await;
    let order = unpaid_order(&t, "PAY-AUTH").await;
    let card = token(&t, "4242424242424242").await;
    let (status, authorized) = pay(
        &t,
        json!({"order_id": order, "payment_token": card, "capture": false}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{authorized}");
    assert_eq!(authorized["status"], "authorized");
    assert_eq!(authorized["amount"]["amount"], "3.00");
    assert_eq!(authorized["captured"]["amount"], "0.00");
    let id = authorized["id"].clone();
    let path = format!("/api/v1/payments/{}", id.as_str().unwrap());

    // Nothing can be refunded before it is captured, nor captured above the authorization.
    let (status, _) = t
        .json(
            Method::POST,
            "/api/v1/payments/refund",
            Some(json!({"payment_id": id})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, refused) = t
        .json(
            Method::POST,
            &format!("{path}/capture"),
            Some(json!({"amount": "3.01"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(rest_error_fields(&refused), ["amount"]);

    let (status, captured) = t
        .json(
            Method::POST,
            &format!("{path}/capture"),
            Some(json!({"amount": "2.00"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{captured}");
    assert_eq!(captured["status"], "captured");
    assert_eq!(captured["captured"]["amount"], "2.00");
    let (status, again) = t
        .json(Method::POST, &format!("{path}/capture"), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "captured once: {again}");
    assert_eq!(again["error"]["code"], "INVALID_STATE");
    let (status, _) = t.json(Method::POST, &format!("{path}/void"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "a capture cannot be voided");

    let refund = |amount: &str| json!({"payment_id": id, "amount": amount});
    let (status, _) = t
        .json(
            Method::POST,
            "/api/v1/payments/refund",
            Some(refund("2.50")),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "only 2.00 was captured"
    );
    let (_, refunded) = t
        .json(
            Method::POST,
            "/api/v1/payments/refund",
            Some(refund("2.00")),
        )
        .await;
    assert_eq!(refunded["status"], "refunded");
    t.relay_and_deliver().await;
    let captured = t.events_of(&["payment.captured"]).await;
    assert_eq!(captured.len(), 1);
    assert_eq!(captured[0].data["released"]["amount"], "1.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voided_authorization_frees_the_order_for_another_payment() {
    let t = TestApp::new().await;
    let order = unpaid_order(&t, "PAY-VOID").await;
    let first = token(&t, "4242424242424242").await;
    let (_, authorized) = pay(
        &t,
        json!({"order_id": order, "payment_token": first, "capture": false}),
    )
    .await;
    // The authorization holds the whole total: no second payment fits beside it.
    let second = token(&t, "4242424242424242").await;
    let (status, refused) = pay(&t, json!({"order_id": order, "payment_token": second})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(rest_error_fields(&refused), ["order_id"]);

    let id = authorized["id"].as_str().unwrap();
    let (status, voided) = t
        .json(Method::POST, &format!("/api/v1/payments/{id}/void"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{voided}");
    assert_eq!(voided["status"], "voided");
    let (status, _) = t
        .json(
            Method::POST,
            &format!("/api/v1/payments/{id}/capture"),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a voided payment cannot be captured"
    );

    // Two partial payments, then nothing is left to pay.
    let (status, part) = pay(
        &t,
        json!({"order_id": order, "payment_token": second, "amount": "1.25"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{part}");
    let (status, too_much) = pay(
        &t,
        json!({"order_id": order, "payment_token": token(&t, "4242424242424242").await, "amount": "1.76"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{too_much}");
    assert_eq!(rest_error_fields(&too_much), ["amount"]);
    let (status, rest) = pay(
        &t,
        json!({"order_id": order, "payment_token": token(&t, "4242424242424242").await}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(rest["amount"]["amount"], "1.75", "the rest of the order");
    let (_, list) = t
        .json(
            Method::GET,
            &format!("/api/v1/payments?order_id={order}"),
            None,
        )
        .await;
    let statuses: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["voided", "captured", "captured"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_payment_stores_nothing_and_says_why() {
    let t = TestApp::new().await;
    let order = unpaid_order(&t, "PAY-DECLINE").await;
    let card = token(&t, "4000 0000 0000 9995").await;
    let (status, declined) = pay(&t, json!({"order_id": order, "payment_token": card})).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{declined}");
    assert_eq!(declined["error"]["code"], "PAYMENT_DECLINED");
    assert_eq!(
        declined["error"]["details"]["decline_code"],
        "insufficient_funds"
    );
    assert_eq!(payment_count(&t).await, 0);
    t.relay_and_deliver().await;
    let failed = t.events_of(&["payment.failed"]).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].data["order_id"], order.as_str());
    // Field errors name the field.
    let (status, both) = pay(
        &t,
        json!({"order_id": order, "payment_token": "tok_x", "stablecoin": {"asset": "USDC", "network": "base"}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(rest_error_fields(&both), ["stablecoin"]);
    let (status, unknown) = pay(&t, json!({"order_id": order, "payment_token": "tok_nope"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(rest_error_fields(&unknown), ["payment_token"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_capture_checkouts_only_authorize() {
    let t = TestApp::with_config(|c| {
        c.payments.checkout_capture = stateset::config::CaptureMode::Manual;
    })
    .await;
    let tee = shop(&t).await;
    let card = token(&t, "4242424242424242").await;
    let (id, _) = ready_checkout_paying(&t, tee, &card).await;
    let (status, done) = complete(&t, &id).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["payment"]["status"], "authorized");
    let payment_id = done["payment"]["id"].as_str().unwrap();
    let (_, captured) = t
        .json(
            Method::POST,
            &format!("/api/v1/payments/{payment_id}/capture"),
            Some(json!({})),
        )
        .await;
    assert_eq!(captured["status"], "captured");
    assert_eq!(captured["captured"]["amount"], "12.10");
}

pub(crate) fn with_stripe(
    stripe: &FakeStripe,
) -> impl FnOnce(&mut stateset::config::Config) + use<> {
    let url = stripe.url();
    move |c| {
        c.payments.stripe_api_key = Some(API_KEY.into());
        c.payments.stripe_api_base = url;
        c.payments.stripe_webhook_secret = Some("whsec_fake".into());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_pays_through_stripe_payment_intents() {
    let stripe = FakeStripe::start().await;
    let t = TestApp::with_config(with_stripe(&stripe)).await;
    let tee = shop(&t).await;
    let (id, checkout) = ready_checkout_paying(&t, tee, "pm_card_visa").await;
    assert_eq!(checkout["payment_method"]["brand"], "visa");
    assert_eq!(checkout["payment_method"]["last4"], "4242");
    let (status, done) = complete(&t, &id).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let paid = &done["payment"];
    assert_eq!(paid["provider"], "stripe");
    assert_eq!(paid["status"], "captured");
    let reference = paid["provider_reference"].as_str().unwrap().to_owned();
    assert!(reference.starts_with("pi_"));

    let calls = stripe.calls();
    let create = calls
        .iter()
        .find(|c| c.path == "/v1/payment_intents")
        .expect("a PaymentIntent was created");
    assert_eq!(create.header("authorization"), format!("Bearer {API_KEY}"));
    assert!(
        create
            .header("idempotency-key")
            .starts_with("stateset_checkout_")
    );
    assert_eq!(create.form["amount"], "1210", "in cents");
    assert_eq!(create.form["currency"], "usd");
    assert_eq!(create.form["payment_method"], "pm_card_visa");
    assert_eq!(create.form["capture_method"], "automatic");
    assert_eq!(create.form["confirm"], "true");

    // A partial refund goes to Stripe's Refunds API in cents.
    let (status, refunded) = t
        .json(
            Method::POST,
            "/api/v1/payments/refund",
            Some(json!({"payment_id": paid["id"], "amount": "2.10"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refunded}");
    let refund = stripe
        .calls()
        .into_iter()
        .find(|c| c.path == "/v1/refunds")
        .unwrap();
    assert_eq!(refund.form["payment_intent"], reference);
    assert_eq!(refund.form["amount"], "210");

    // Stripe's own report of that refund changes nothing and writes no second event.
    let body = json!({"id": "evt_r1", "type": "charge.refunded",
        "data": {"object": {"id": "ch_1", "payment_intent": reference, "amount_refunded": 210, "currency": "usd"}}})
    .to_string();
    let signature = stateset::auth::signature::sign(
        "whsec_fake",
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    );
    let request = axum::http::Request::post("/api/v1/payments/webhooks/stripe")
        .header("stripe-signature", signature)
        .body(axum::body::Body::from(body))
        .unwrap();
    assert_eq!(t.request(request).await.0, StatusCode::OK);
    t.relay_and_deliver().await;
    assert_eq!(t.events_of(&["payment.refunded"]).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_authorizations_capture_and_void_at_stripe() {
    let stripe = FakeStripe::start().await;
    let t = TestApp::with_config(with_stripe(&stripe)).await;
    let order = unpaid_order(&t, "STRIPE-AUTH").await;
    let (status, authorized) = pay(
        &t,
        json!({"order_id": order, "payment_token": "pm_card_visa", "capture": false, "amount": "2.00"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{authorized}");
    assert_eq!(authorized["status"], "authorized");
    let create = stripe
        .calls()
        .into_iter()
        .find(|c| c.path == "/v1/payment_intents")
        .unwrap();
    assert_eq!(create.form["capture_method"], "manual");
    let id = authorized["id"].as_str().unwrap();
    let reference = authorized["provider_reference"].as_str().unwrap();
    let (status, captured) = t
        .json(
            Method::POST,
            &format!("/api/v1/payments/{id}/capture"),
            Some(json!({"amount": "1.50"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{captured}");
    let capture = stripe
        .calls()
        .into_iter()
        .find(|c| c.path.ends_with("/capture"))
        .unwrap();
    assert_eq!(
        capture.path,
        format!("/v1/payment_intents/{reference}/capture")
    );
    assert_eq!(capture.form["amount_to_capture"], "150");

    // A payment method pays once; a second authorization with another is voided: Stripe
    // cancels the intent.
    let (status, reused) = pay(
        &t,
        json!({"order_id": order, "payment_token": "pm_card_visa"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reused}");
    let (_, second) = pay(
        &t,
        json!({"order_id": order, "payment_token": "pm_card_mastercard", "capture": false, "amount": "0.50"}),
    )
    .await;
    let (status, voided) = t
        .json(
            Method::POST,
            &format!("/api/v1/payments/{}/void", second["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{voided}");
    assert!(stripe.calls().iter().any(|c| c.path.ends_with("/cancel")));
    assert_eq!(payment(&t, &second["id"]).await["status"], "voided");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_errors_become_clear_answers_and_store_nothing() {
    let stripe = FakeStripe::start().await;
    let t = TestApp::with_config(with_stripe(&stripe)).await;
    let order = unpaid_order(&t, "STRIPE-ERR").await;

    // A card error is a decline with Stripe's decline code.
    let (status, declined) = pay(
        &t,
        json!({"order_id": order, "payment_token": "pm_card_chargeDeclinedInsufficientFunds"}),
    )
    .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{declined}");
    assert_eq!(
        declined["error"]["details"]["decline_code"],
        "insufficient_funds"
    );
    // 3-D Secure cannot be done by a server: the intent is cancelled and the answer says so.
    let (status, action) = pay(
        &t,
        json!({"order_id": order, "payment_token": "pm_card_authenticationRequired"}),
    )
    .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{action}");
    assert_eq!(
        action["error"]["details"]["decline_code"],
        "authentication_required"
    );
    assert!(stripe.calls().iter().any(|c| c.path.ends_with("/cancel")));
    // A payment method Stripe does not know is a field error.
    let (status, unknown) = pay(
        &t,
        json!({"order_id": order, "payment_token": "pm_nonexistent"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{unknown}");
    assert_eq!(rest_error_fields(&unknown), ["payment_token"]);

    // Stripe failing (500, twice: the call is retried once with the same key) is a 503.
    stripe.fail_with(Some(500));
    let before = stripe.calls().len();
    let (status, down) = pay(
        &t,
        json!({"order_id": order, "payment_token": "pm_card_visa"}),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{down}");
    let retried: Vec<_> = stripe.calls()[before..].to_vec();
    assert!(retried.len() >= 2, "{retried:?}");
    stripe.fail_with(None);
    assert_eq!(payment_count(&t).await, 0, "nothing stored for any failure");

    // A wrong API key is the server's problem, never shown as the customer's.
    let wrong_key = TestApp::with_config(|c| {
        with_stripe(&stripe)(c);
        c.payments.stripe_api_key = Some("sk_test_wrong".into());
    })
    .await;
    let order = unpaid_order(&wrong_key, "STRIPE-KEY").await;
    let (status, body) = wrong_key
        .json(
            Method::POST,
            "/api/v1/payments",
            Some(json!({"order_id": order, "payment_token": "pm_card_visa"})),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        !body.to_string().contains("sk_test"),
        "no secret in responses"
    );
}

const STABLEPAY_SECRET: &str = "stablepay_secret";
const BASE_ADDRESS: &str = "0x1111111111111111111111111111111111111111";

async fn stablepay_app() -> TestApp {
    TestApp::with_config(|c| {
        c.payments.stablepay.addresses = [("base".to_owned(), BASE_ADDRESS.to_owned())].into();
        c.payments.stablepay.callback_secret = Some(STABLEPAY_SECRET.into());
        c.payments.stablepay.confirmations = 3;
    })
    .await
}

async fn callback(t: &TestApp, body: Value, secret: &str) -> (StatusCode, Value) {
    let body = body.to_string();
    let signature =
        stateset::auth::signature::sign(secret, chrono::Utc::now().timestamp(), body.as_bytes());
    let request = axum::http::Request::post("/api/v1/payments/webhooks/stablepay")
        .header("content-type", "application/json")
        .header("stablepay-signature", signature)
        .body(axum::body::Body::from(body))
        .unwrap();
    let (status, _, bytes) = t.request(request).await;
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn transfer(payment: &Value, tx: &str, amount: &str, confirmations: i32) -> Value {
    json!({"payment_id": payment["id"], "asset": "USDC", "network": "base", "to_address": BASE_ADDRESS,
        "tx_hash": tx, "amount": amount, "confirmations": confirmations})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stablecoin_requests_handle_under_and_over_payment_and_reconcile() {
    let t = stablepay_app().await;
    let order = unpaid_order(&t, "USDC-1").await;
    let (status, requested) = pay(
        &t,
        json!({"order_id": order, "stablecoin": {"asset": "USDC", "network": "base"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{requested}");
    assert_eq!(requested["status"], "pending");
    let request = &requested["stablecoin"];
    assert_eq!(request["asset"], "USDC");
    assert_eq!(request["address"], BASE_ADDRESS);
    assert_eq!(request["amount"], "3");
    assert_eq!(request["state"], "awaiting");
    assert!(request["expires_at"].is_string());

    // Unsigned, forged or mismatched callbacks change nothing.
    let (status, forged) =
        callback(&t, transfer(&requested, "0xaa", "3", 5), "not_the_secret").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{forged}");
    assert_eq!(rest_error_fields(&forged), ["StablePay-Signature"]);
    let mut elsewhere = transfer(&requested, "0xaa", "3", 5);
    elsewhere["to_address"] = json!("0x2222222222222222222222222222222222222222");
    let (status, wrong) = callback(&t, elsewhere, STABLEPAY_SECRET).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(rest_error_fields(&wrong), ["to_address"]);

    // Underpaid: 1 of 3 confirmed; the payment stays pending.
    let (status, under) =
        callback(&t, transfer(&requested, "0xaa", "1", 3), STABLEPAY_SECRET).await;
    assert_eq!(status, StatusCode::OK, "{under}");
    assert_eq!(under["status"], "pending");
    assert_eq!(under["stablecoin"]["state"], "underpaid");
    assert_eq!(under["stablecoin"]["received"], "1");
    // The same transaction reported again counts once.
    let (_, again) = callback(&t, transfer(&requested, "0xaa", "1", 9), STABLEPAY_SECRET).await;
    assert_eq!(again["stablecoin"]["received"], "1");
    // A second transfer is seen but not counted until it has 3 confirmations.
    let (_, seen) = callback(&t, transfer(&requested, "0xbb", "2.5", 1), STABLEPAY_SECRET).await;
    assert_eq!(seen["stablecoin"]["state"], "underpaid");
    assert_eq!(seen["stablecoin"]["transfers"][1]["counted"], false);
    let (status, clash) =
        callback(&t, transfer(&requested, "0xbb", "9", 3), STABLEPAY_SECRET).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "same hash, another amount: {clash}"
    );
    let (_, paid) = callback(&t, transfer(&requested, "0xbb", "2.5", 3), STABLEPAY_SECRET).await;
    assert_eq!(paid["status"], "captured");
    assert_eq!(paid["captured"]["amount"], "3.00");
    assert_eq!(paid["stablecoin"]["state"], "overpaid");
    assert_eq!(paid["stablecoin"]["received"], "3.5");

    t.relay_and_deliver().await;
    assert_eq!(t.events_of(&["payment.underpaid"]).await.len(), 1);
    assert_eq!(t.events_of(&["payment.processed"]).await.len(), 1);
    let over = t.events_of(&["payment.overpaid"]).await;
    assert_eq!(over.len(), 1);
    assert_eq!(over[0].data["refund_due"], "0.5");

    // A second request that nobody pays expires.
    let second_order = unpaid_order(&t, "USDC-2").await;
    let (_, unpaid) = pay(
        &t,
        json!({"order_id": second_order, "stablecoin": {"asset": "USDC", "network": "base"}}),
    )
    .await;
    {
        use diesel_async::RunQueryDsl as _;
        let mut conn = t.app.db.conn().await.unwrap();
        diesel::sql_query("UPDATE stablecoin_requests SET expires_at = now() - interval '1 minute' WHERE state = 'awaiting'")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    assert_eq!(
        t.services()
            .payments
            .expire_stablecoin_requests()
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        t.services()
            .payments
            .expire_stablecoin_requests()
            .await
            .unwrap(),
        0
    );
    let expired = payment(&t, &unpaid["id"]).await;
    assert_eq!(expired["status"], "expired");
    assert_eq!(expired["failure_code"], "expired");
    // Money arriving after expiry is owed back in full.
    let (_, late) = callback(&t, transfer(&unpaid, "0xcc", "3", 3), STABLEPAY_SECRET).await;
    assert_eq!(late["status"], "expired");

    let (status, report) = t
        .json(
            Method::GET,
            "/api/v1/payments/stablepay/reconciliation",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let lines = report["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["state"], "overpaid");
    assert_eq!(lines[0]["refund_due"], "0.5");
    assert_eq!(lines[1]["state"], "expired");
    assert_eq!(lines[1]["refund_due"], "3");
    assert_eq!(
        report["totals"],
        json!([{"asset": "USDC", "requested": "6", "received": "6.5", "outstanding": "0", "refund_due": "3.5"}])
    );

    // The same report over gRPC, and a period that ends before it starts names `from`.
    let mut grpc = pb::payment_service_client::PaymentServiceClient::with_interceptor(
        t.serve_grpc().await,
        BearerInterceptor(Some(t.admin.clone())),
    );
    let over_grpc = grpc
        .get_stablecoin_reconciliation(pb::GetStablecoinReconciliationRequest::default())
        .await
        .unwrap()
        .into_inner();
    let lines: Vec<_> = over_grpc
        .lines
        .iter()
        .map(|l| {
            let request = l.request.as_ref().unwrap();
            (
                l.payment_id.as_str(),
                request.state.as_str(),
                request.received.as_str(),
                l.outstanding.as_str(),
                l.refund_due.as_str(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (
                report["lines"][0]["payment_id"].as_str().unwrap(),
                "overpaid",
                "3.5",
                "0",
                "0.5"
            ),
            (
                report["lines"][1]["payment_id"].as_str().unwrap(),
                "expired",
                "3",
                "0",
                "3"
            ),
        ]
    );
    assert_eq!(
        over_grpc.lines[1].payment_status,
        pb::PaymentStatus::Expired as i32
    );
    assert_eq!(
        over_grpc.totals,
        [pb::StablecoinTotals {
            asset: "USDC".into(),
            requested: "6".into(),
            received: "6.5".into(),
            outstanding: "0".into(),
            refund_due: "3.5".into(),
        }]
    );
    let now = prost_types::Timestamp::from(std::time::SystemTime::now());
    let backwards = grpc
        .get_stablecoin_reconciliation(pb::GetStablecoinReconciliationRequest {
            from: Some(now),
            to: Some(prost_types::Timestamp {
                seconds: now.seconds - 60,
                nanos: 0,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(backwards.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        tonic_types::StatusExt::get_details_bad_request(&backwards)
            .unwrap()
            .field_violations[0]
            .field,
        "from"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_over_graphql() {
    let t = TestApp::new().await;
    let order = unpaid_order(&t, "GQL-PAY").await;
    let card = token(&t, "4242424242424242").await;
    let authorized = t
        .graphql(
            "mutation($input: CreatePaymentInput!) { createPayment(input: $input) { id status amount { amount } } }",
            json!({"input": {"orderId": order, "paymentToken": card, "capture": false}}),
        )
        .await;
    assert_eq!(
        authorized["data"]["createPayment"]["status"], "AUTHORIZED",
        "{authorized}"
    );
    let id = authorized["data"]["createPayment"]["id"].clone();
    let captured = t
        .graphql(
            "mutation($id: UUID!) { capturePayment(id: $id, input: {amount: \"1.00\"}) { status captured { amount } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        captured["data"]["capturePayment"]["captured"]["amount"], "1.00",
        "{captured}"
    );
    let listed = t
        .graphql(
            "query($order: UUID!) { payments(orderId: $order) { id status } }",
            json!({"order": order}),
        )
        .await;
    assert_eq!(
        listed["data"]["payments"][0]["status"], "CAPTURED",
        "{listed}"
    );
    let through_order = t
        .graphql(
            "query($order: UUID!) { order(id: $order) { payments { id captured { amount } } } }",
            json!({"order": order}),
        )
        .await;
    assert_eq!(
        through_order["data"]["order"]["payments"][0]["captured"]["amount"], "1.00",
        "{through_order}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_over_grpc() {
    use stateset::adapters::grpc::pb;
    let t = TestApp::new().await;
    let order = unpaid_order(&t, "GRPC-PAY").await;
    let channel = t.serve_grpc().await;
    let auth = crate::support::BearerInterceptor(Some(t.admin.clone()));
    let mut payments =
        pb::payment_service_client::PaymentServiceClient::with_interceptor(channel, auth);
    let authorized = payments
        .create_payment(pb::CreatePaymentRequest {
            order_id: order.clone(),
            payment_token: Some(token(&t, "4242424242424242").await),
            capture: Some(false),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(authorized.status(), pb::PaymentStatus::Authorized);
    assert_eq!(authorized.amount.as_ref().unwrap().amount, "3.00");
    let captured = payments
        .capture_payment(pb::CapturePaymentRequest {
            id: authorized.id.clone(),
            amount: Some("2.50".into()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(captured.status(), pb::PaymentStatus::Captured);
    assert_eq!(captured.captured.unwrap().amount, "2.50");
    let refunded = payments
        .refund_payment(pb::RefundPaymentRequest {
            payment_id: authorized.id.clone(),
            amount: Some("0.50".into()),
            reason: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(refunded.status(), pb::PaymentStatus::PartiallyRefunded);
    let declined = payments
        .create_payment(pb::CreatePaymentRequest {
            order_id: order.clone(),
            payment_token: Some(token(&t, "4000000000000002").await),
            amount: Some("0.50".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(declined.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        declined.metadata().get("x-error-code").unwrap(),
        "PAYMENT_DECLINED"
    );
    let bad = payments
        .capture_payment(pb::CapturePaymentRequest {
            id: authorized.id.clone(),
            amount: Some("lots".into()),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let listed = payments
        .list_payments(pb::ListPaymentsRequest { order_id: order })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.payments.len(), 1);
}
