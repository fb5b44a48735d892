//! A charge happens exactly once, and only for an order that exists: the provider call runs
//! outside every transaction with a key derived from what is paid; an order that cannot be
//! committed gives the money back; retries, duplicates and crashes never charge twice.

use std::process::Stdio;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use serde_json::{Value, json};

use crate::checkout::{available, complete, order_count, ready_checkout_paying, shop};
use crate::payments::with_stripe;
use crate::support::stripe::{API_KEY, FakeStripe};
use crate::support::{Auth, TestApp};

/// The attempts of a checkout as `(status, idempotency key)`.
async fn attempts_of(t: &TestApp, checkout: &str) -> Vec<(String, String)> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        status: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        idempotency_key: String,
    }
    let mut conn = t.app.db.conn().await.unwrap();
    diesel::sql_query(
        "SELECT status, idempotency_key FROM payment_attempts WHERE checkout_id = $1::uuid ORDER BY created_at",
    )
    .bind::<diesel::sql_types::Text, _>(checkout)
    .load::<Row>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.status, r.idempotency_key))
    .collect()
}

async fn sql(url: &str, statement: &str) {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    diesel::sql_query(statement)
        .execute(&mut conn)
        .await
        .unwrap();
}

/// Makes every order insert fail, as a fault between the provider call and the commit.
async fn break_order_inserts(t: &TestApp) {
    sql(
        &t.db.url,
        "CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$",
    )
    .await;
    sql(
        &t.db.url,
        "CREATE TRIGGER injected_fault BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION injected_fault()",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_after_the_provider_call_leaves_no_order_and_a_voided_authorization() {
    let stripe = FakeStripe::start().await;
    let t = TestApp::with_config(|c| {
        with_stripe(&stripe)(c);
        c.payments.checkout_capture = stateset::config::CaptureMode::Manual;
    })
    .await;
    let tee = shop(&t).await;
    let (id, _) = ready_checkout_paying(&t, tee, "pm_card_visa").await;
    break_order_inserts(&t).await;

    let (status, body) = complete(&t, &id).await;
    assert!(status.is_server_error(), "{status} {body}");
    assert_eq!(order_count(&t).await, 0, "no order");
    assert_eq!(available(&t, tee).await, 5, "no stock held");
    let intents = stripe.intents();
    assert_eq!(intents.len(), 1, "one authorization was made");
    assert_eq!(intents[0]["status"], "canceled", "and it was voided");
    let attempts = attempts_of(&t, &id).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].0, "voided");
    assert!(t.events_of(&["payment.processed"]).await.is_empty());

    // Fixed, the checkout completes with a new authorization under a new key.
    sql(&t.db.url, "DROP TRIGGER injected_fault ON orders").await;
    let (status, done) = complete(&t, &id).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["payment"]["status"], "authorized");
    assert_eq!(order_count(&t).await, 1);
    let attempts = attempts_of(&t, &id).await;
    assert_eq!(attempts[1].0, "applied");
    assert_ne!(attempts[0].1, attempts[1].1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_whose_order_cannot_be_placed_is_refunded() {
    let stripe = FakeStripe::start().await;
    let t = TestApp::with_config(with_stripe(&stripe)).await;
    let tee = shop(&t).await;
    let (id, _) = ready_checkout_paying(&t, tee, "pm_card_visa").await;
    // While Stripe answers, the last units are sold to someone else.
    stripe.hold_next("/v1/payment_intents");
    let completing = {
        let router = t.router.clone();
        let id = id.clone();
        tokio::spawn(async move {
            use tower::ServiceExt as _;
            let request = axum::http::Request::post(format!("/api/v1/checkout/{id}/complete"))
                .body(axum::body::Body::empty())
                .unwrap();
            router.oneshot(request).await.unwrap().status()
        })
    };
    stripe.reached().await;
    // While it is being paid, the checkout cannot be changed.
    let (status, body) = t
        .json_as(
            &Auth::Anonymous,
            Method::PUT,
            &format!("/api/v1/checkout/{id}"),
            Some(json!({"email": "someone@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let customer = t.customer("rival@example.com").await;
    let (status, _) = t
        .json(
            Method::POST,
            "/api/v1/orders",
            Some(json!({"customer_id": customer, "items": [{"variant_id": tee, "quantity": 4}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    stripe.release();
    assert_eq!(
        completing.await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "no stock left"
    );
    assert_eq!(order_count(&t).await, 1, "only the rival's order");
    let refunds = stripe.refunds();
    assert_eq!(refunds.len(), 1, "the capture was given back");
    assert_eq!(refunds[0]["amount"], 1210);
    assert_eq!(attempts_of(&t, &id).await[0].0, "voided");
    assert!(t.events_of(&["payment.processed"]).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_and_retried_completions_make_one_order_and_one_charge() {
    let stripe = FakeStripe::start().await;
    let t = TestApp::with_config(|c| {
        with_stripe(&stripe)(c);
        c.database_max_connections = 12;
        c.payments.provider_timeout = Duration::from_millis(300);
    })
    .await;
    let tee = shop(&t).await;

    // Eight completions at once.
    let (id, _) = ready_checkout_paying(&t, tee, "pm_card_visa").await;
    let addr = t.serve_http().await;
    let http = reqwest::Client::new();
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let (http, url) = (
                http.clone(),
                format!("http://{addr}/api/v1/checkout/{id}/complete"),
            );
            tokio::spawn(async move {
                let response = http.post(url).send().await.unwrap();
                (response.status(), response.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut orders = std::collections::BTreeSet::new();
    for run in runs {
        let (status, body) = run.await.unwrap();
        assert_eq!(status, 200, "{body}");
        orders.insert(body["order"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(orders.len(), 1, "one order");
    assert_eq!(stripe.intents_created(), 1, "one charge");
    assert_eq!(stripe.calls_to("/v1/payment_intents").len(), 1);

    // A completion whose answer from Stripe is lost (Stripe charged, we never heard), then
    // retried by the client: the retry resumes the same attempt with the same key.
    let (second, _) = ready_checkout_paying(&t, tee, "pm_card_mastercard").await;
    stripe.delay_next("/v1/payment_intents", Duration::from_secs(2));
    let lost = tokio::spawn({
        let (http, url) = (
            http.clone(),
            format!("http://{addr}/api/v1/checkout/{second}/complete"),
        );
        async move { http.post(url).send().await.unwrap().status() }
    });
    stripe.reached().await;
    stripe.fail_with(Some(500)); // the client's own retry of the call fails too
    assert_eq!(lost.await.unwrap(), StatusCode::SERVICE_UNAVAILABLE);
    stripe.fail_with(None);
    assert_eq!(attempts_of(&t, &second).await[0].0, "pending", "in doubt");
    let (status, done) = complete(&t, &second).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(stripe.intents_created(), 2, "one charge per checkout");
    let keys: std::collections::BTreeSet<String> = stripe
        .calls_to("/v1/payment_intents")
        .iter()
        .skip(1)
        .map(|c| c.header("idempotency-key").to_owned())
        .collect();
    assert_eq!(
        keys.len(),
        1,
        "every call for the second checkout used one key"
    );
    let (status, again) = complete(&t, &second).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["order"]["id"], done["order"]["id"]);
    assert_eq!(order_count(&t).await, 2);
    assert_eq!(stripe.intents_created(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_retried_after_a_lost_response_refunds_once() {
    let stripe = FakeStripe::start().await;
    let t = TestApp::with_config(|c| {
        with_stripe(&stripe)(c);
        c.payments.provider_timeout = Duration::from_millis(300);
    })
    .await;
    let tee = shop(&t).await;
    let (id, _) = ready_checkout_paying(&t, tee, "pm_card_visa").await;
    let (_, done) = complete(&t, &id).await;
    let payment = done["payment"]["id"].as_str().unwrap().to_owned();
    let refund = |key: &'static str| {
        let t = &t;
        let payment = payment.clone();
        async move {
            let request = crate::support::with_auth(
                axum::http::Request::post("/api/v1/payments/refund"),
                &Auth::Bearer(t.admin.clone()),
            )
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(axum::body::Body::from(
                json!({"payment_id": payment, "amount": "2.10"}).to_string(),
            ))
            .unwrap();
            let (status, _, body) = t.request(request).await;
            (status, serde_json::from_slice::<Value>(&body).unwrap())
        }
    };
    stripe.delay_next("/v1/refunds", Duration::from_secs(2));
    let lost = tokio::spawn({
        let stripe = stripe.clone();
        async move {
            stripe.reached().await;
            stripe.fail_with(Some(500));
        }
    });
    let (status, body) = refund("refund-1").await;
    lost.await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    stripe.fail_with(None);
    assert_eq!(stripe.refunds().len(), 1, "Stripe refunded");
    let (status, refunded) = refund("refund-1").await;
    assert_eq!(status, StatusCode::OK, "{refunded}");
    assert_eq!(refunded["refunded"]["amount"], "2.10");
    assert_eq!(stripe.refunds().len(), 1, "once");
    // The same key once more is a replay, not a third call.
    let (status, replayed) = refund("refund-1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replayed["refunded"]["amount"], "2.10");
    assert_eq!(stripe.refunds().len(), 1);
    assert_eq!(t.events_of(&["payment.refunded"]).await.len(), 1);
    // A new refund is a new refund.
    let (status, more) = refund("refund-2").await;
    assert_eq!(status, StatusCode::OK, "{more}");
    assert_eq!(more["refunded"]["amount"], "4.20");
    assert_eq!(stripe.refunds().len(), 2);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the server binary on the test's database with Stripe, a short provider timeout and
/// an eager reconciler; returns it once it answers.
async fn start_server(t: &TestApp, stripe: &FakeStripe, port: u16) -> tokio::process::Child {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stateset"))
        .args(["serve", "--no-migrate"])
        .env("DATABASE_URL", &t.db.url)
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("GRPC_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("JWT_SECRET", "test-secret-test-secret-test-secret-0123")
        .env("STRIPE_API_KEY", API_KEY)
        .env("STRIPE_API_BASE", stripe.url())
        .env("PAYMENT_PROVIDER_TIMEOUT_MS", "500")
        .env("PAYMENT_RECONCILE_AFTER_SECS", "0")
        .env("PAYMENT_RECONCILE_INTERVAL_SECS", "1")
        .env("RATE_LIMIT_ANONYMOUS_PER_MINUTE", "100000")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if http
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_between_the_provider_call_and_the_commit_is_reconciled_on_restart() {
    let stripe = FakeStripe::start().await;
    let t = TestApp::with_config(with_stripe(&stripe)).await;
    let tee = shop(&t).await;
    let (id, _) = ready_checkout_paying(&t, tee, "pm_card_visa").await;
    let port = free_port();
    let mut server = start_server(&t, &stripe, port).await;

    // Stripe charges; the server dies before it hears back.
    stripe.hold_next("/v1/payment_intents");
    let url = format!("http://127.0.0.1:{port}/api/v1/checkout/{id}/complete");
    let completing = tokio::spawn(async move { reqwest::Client::new().post(url).send().await });
    stripe.reached().await;
    server.kill().await.unwrap(); // SIGKILL: no chance to clean up
    assert!(
        completing.await.unwrap().is_err(),
        "the client lost its answer"
    );
    assert_eq!(attempts_of(&t, &id).await[0].0, "pending");
    assert_eq!(stripe.intents_created(), 1);

    // Restarted, the server settles what it left in doubt: order and charge, or neither.
    let mut server = start_server(&t, &stripe, port).await;
    let mut settled = None;
    for _ in 0..200 {
        let attempts = attempts_of(&t, &id).await;
        if attempts[0].0 != "pending" && attempts[0].0 != "succeeded" {
            settled = Some(attempts[0].0.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill().await.unwrap();
    let intent = stripe.intents().pop().unwrap();
    match settled.as_deref() {
        Some("voided") => {
            assert_eq!(order_count(&t).await, 0, "neither an order ...");
            assert_eq!(
                intent["amount_refunded"], intent["amount_received"],
                "... nor a charge"
            );
            assert_eq!(available(&t, tee).await, 5);
        }
        Some("applied") => {
            assert_eq!(order_count(&t).await, 1, "an order ...");
            assert_eq!(intent["amount_refunded"], 0, "... and its charge");
        }
        other => panic!("the attempt was not settled: {other:?}"),
    }
    assert_eq!(stripe.intents_created(), 1, "never a second charge");
    // The checkout can still be completed (or is, with its order).
    let (status, body) = complete(&t, &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(order_count(&t).await, 1);
}
