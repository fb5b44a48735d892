//! Webhooks end to end: a receiver started by the test gets signed deliveries, a 500 is
//! retried, failing webhooks are disabled, private addresses are refused, and a slow receiver
//! holds up no one else.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::receiver::{Receiver, verify_like_the_docs};
use crate::support::{Auth, TestApp, product_input};

/// A test app that may deliver to loopback receivers and retries at once.
async fn app_delivering_locally(
    adjust: impl FnOnce(&mut stateset::config::WebhookSettings),
) -> TestApp {
    TestApp::with_config(|config| {
        config.webhooks.allow_private_networks = true;
        config.webhooks.retry_initial = Duration::ZERO;
        config.webhooks.timeout = Duration::from_secs(5);
        adjust(&mut config.webhooks);
    })
    .await
}

async fn create_webhook(t: &TestApp, url: &str, types: &[&str]) -> (String, String) {
    let (status, created) = t
        .json(
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({"url": url, "event_types": types, "description": "test"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    (
        created["webhook"]["id"].as_str().unwrap().to_owned(),
        secret,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_verifies_signatures_and_sees_a_retry_after_answering_500() {
    let t = app_delivering_locally(|_| {}).await;
    let receiver = Receiver::start(&[500]).await;
    let (webhook_id, secret) = create_webhook(&t, &receiver.url(), &["product.*"]).await;
    let product = t
        .services()
        .catalog
        .create_product(&t.ctx, product_input("Hooked", &["HOOK-1"], "5"))
        .await
        .unwrap();

    assert_eq!(t.relay_and_deliver().await, 1, "the first attempt");
    assert_eq!(t.relay_and_deliver().await, 1, "the retry");
    assert_eq!(
        t.relay_and_deliver().await,
        0,
        "nothing left once acknowledged"
    );
    let received = receiver.wait_for(2).await;
    assert_eq!(received.len(), 2);

    for delivery in &received {
        assert!(
            verify_like_the_docs(
                &secret,
                &delivery.header("x-stateset-signature"),
                &delivery.body
            ),
            "signature verifies: {}",
            delivery.header("x-stateset-signature")
        );
        assert!(!verify_like_the_docs(
            "whsec_wrong",
            &delivery.header("x-stateset-signature"),
            &delivery.body
        ));
        assert_eq!(delivery.header("content-type"), "application/json");
        assert_eq!(delivery.header("x-stateset-event"), "product.created");
    }
    // Both attempts carry the same event id, so the receiver can deduplicate.
    let (first, retry) = (&received[0], &received[1]);
    assert_eq!(
        first.header("x-stateset-event-id"),
        retry.header("x-stateset-event-id")
    );
    let body = retry.json();
    assert_eq!(
        body["id"].as_str().unwrap(),
        first.header("x-stateset-event-id")
    );
    assert_eq!(body["event"], "product.created");
    assert_eq!(body["data"]["id"], product.product.id.to_string());
    assert!(body["timestamp"].as_str().is_some_and(|t| t.contains('T')));
    assert!(body["sequence"].as_i64().unwrap() > 0);
    // The server's own verifier (for Rust receivers) agrees.
    stateset::auth::signature::verify(
        &secret,
        &retry.header("x-stateset-signature"),
        &retry.body,
        chrono::Utc::now().timestamp(),
        300,
    )
    .unwrap();

    // The delivery log shows both attempts.
    let log = t
        .graphql(
            "query($id: UUID!) { webhookDeliveries(webhookId: $id) { eventType status attemptCount lastStatusCode
                attempts { attempt statusCode durationMs responseExcerpt error } } }",
            json!({"id": webhook_id}),
        )
        .await;
    let delivery = &log["data"]["webhookDeliveries"][0];
    assert_eq!(delivery["status"], "SUCCEEDED", "{log}");
    assert_eq!(delivery["attemptCount"], 2);
    assert_eq!(delivery["lastStatusCode"], 200);
    let attempts = delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["statusCode"], 500);
    assert_eq!(attempts[0]["responseExcerpt"], "answered 500");
    assert_eq!(attempts[0]["error"], "the receiver answered 500");
    assert_eq!(attempts[1]["statusCode"], 200);
    assert!(attempts[1]["durationMs"].as_i64().unwrap() >= 0);

    let metrics = t.metrics().await;
    assert!(
        metrics.contains("webhook_deliveries_total{result=\"retry\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("webhook_deliveries_total{result=\"success\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_managed_over_rest_and_graphql_and_never_show_their_secret_again() {
    let t = app_delivering_locally(|_| {}).await;
    let receiver = Receiver::start(&[]).await;

    // Bad input names the field.
    let (status, bad) = t
        .json(
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({"url": "ftp://example.com", "event_types": ["order*", "order.created"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let fields = crate::support::rest_error_fields(&bad);
    assert!(fields.contains(&"url".to_owned()), "{bad}");
    assert!(fields.contains(&"event_types[0]".to_owned()), "{bad}");
    let (status, bad) = t
        .json(
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({"url": receiver.url(), "event_types": []})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(crate::support::rest_error_fields(&bad), ["event_types"]);

    let (id, secret) =
        create_webhook(&t, &receiver.url(), &["order.*", "inventory.reserved"]).await;
    let (status, listed) = t.json(Method::GET, "/api/v1/webhooks", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["items"][0]["id"], id.as_str());
    assert_eq!(
        listed["items"][0]["event_types"],
        json!(["order.*", "inventory.reserved"])
    );
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is never listed"
    );

    let (status, updated) = t
        .json(
            Method::PUT,
            &format!("/api/v1/webhooks/{id}"),
            Some(json!({"event_types": ["*"], "active": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["active"], false);
    assert_eq!(updated["event_types"], json!(["*"]));

    let rotated = t
        .graphql(
            "mutation($id: UUID!) { rotateWebhookSecret(id: $id) { secret webhook { id } } }",
            json!({"id": id}),
        )
        .await;
    let new_secret = rotated["data"]["rotateWebhookSecret"]["secret"]
        .as_str()
        .unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);

    // A ping goes out at once, signed with the new secret, and lands in the log.
    let (status, ping) = t
        .json(Method::POST, &format!("/api/v1/webhooks/{id}/ping"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{ping}");
    assert_eq!(ping["status"], "succeeded");
    assert_eq!(ping["event_type"], "webhook.ping");
    assert_eq!(ping["attempts"][0]["status_code"], 200);
    let pinged = receiver.wait_for(1).await;
    assert!(verify_like_the_docs(
        new_secret,
        &pinged[0].header("x-stateset-signature"),
        &pinged[0].body
    ));
    let (status, log) = t
        .json(
            Method::GET,
            &format!("/api/v1/webhooks/{id}/deliveries?limit=5"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log["items"][0]["id"], ping["id"]);
    let (status, bad) = t
        .json(
            Method::GET,
            &format!("/api/v1/webhooks/{id}/deliveries?limit=0"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(crate::support::rest_error_fields(&bad), ["limit"]);

    // Only those allowed to manage webhooks may.
    let staff = t
        .user_token("staff@example.com", stateset::services::auth::STAFF_ROLE)
        .await;
    let (status, _) = t
        .json_as(&Auth::Bearer(staff), Method::GET, "/api/v1/webhooks", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _) = t
        .json(Method::DELETE, &format!("/api/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t
        .json(Method::GET, &format!("/api/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let types: Vec<String> = t
        .events_of(&["webhook.*"])
        .await
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        types,
        ["webhook.created", "webhook.updated", "webhook.deleted"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_unless_configured() {
    let t = TestApp::new().await; // the default: private networks refused
    let receiver = Receiver::start(&[]).await;
    let (status, refused) = t
        .json(
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({"url": receiver.url(), "event_types": ["*"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(crate::support::rest_error_fields(&refused), ["url"]);
    assert!(refused.to_string().contains("loopback"), "{refused}");

    // A name is checked after resolution: `localhost` resolves to loopback only.
    let url = format!("http://localhost:{}/hooks", receiver.addr.port());
    let (id, _) = create_webhook(&t, &url, &["*"]).await;
    let (status, ping) = t
        .json(Method::POST, &format!("/api/v1/webhooks/{id}/ping"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ping["status"], "failed", "{ping}");
    let error = ping["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("refused"), "{error}");
    assert!(ping["attempts"][0]["status_code"].is_null());
    assert!(
        receiver.received().is_empty(),
        "nothing reached the loopback receiver"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_deliveries_fail_can_be_resent_and_a_failing_webhook_is_disabled() {
    let t = app_delivering_locally(|webhooks| {
        webhooks.retry_window = Duration::ZERO; // give up after the first failure
        webhooks.disable_min_failures = 2;
        webhooks.disable_after = Duration::ZERO;
    })
    .await;
    let receiver = Receiver::start(&[500, 503]).await;
    let (id, _) = create_webhook(&t, &receiver.url(), &["product.created"]).await;
    let catalog = &t.services().catalog;
    catalog
        .create_product(&t.ctx, product_input("One", &["ONE-1"], "1"))
        .await
        .unwrap();
    assert_eq!(t.relay_and_deliver().await, 1);
    let (_, webhook) = t
        .json(Method::GET, &format!("/api/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(webhook["active"], true);
    assert_eq!(webhook["consecutive_failures"], 1);

    catalog
        .create_product(&t.ctx, product_input("Two", &["TWO-1"], "1"))
        .await
        .unwrap();
    assert_eq!(t.relay_and_deliver().await, 1);
    let (_, webhook) = t
        .json(Method::GET, &format!("/api/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(webhook["active"], false, "{webhook}");
    assert!(
        webhook["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("2 failed attempts")
    );
    let disabled = t.events_of(&["webhook.disabled"]).await;
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0].entity_id.to_string(), id);

    let (_, log) = t
        .json(
            Method::GET,
            &format!("/api/v1/webhooks/{id}/deliveries?status=failed"),
            None,
        )
        .await;
    let failed = log["items"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{log}");
    let delivery_id = failed[0]["id"].as_str().unwrap();

    // A disabled webhook takes nothing new, and resending to it is refused until reactivated.
    catalog
        .create_product(&t.ctx, product_input("Three", &["THREE-1"], "1"))
        .await
        .unwrap();
    assert_eq!(t.relay_and_deliver().await, 0);
    let (status, refused) = t
        .json(
            Method::POST,
            &format!("/api/v1/webhook-deliveries/{delivery_id}/resend"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let (_, webhook) = t
        .json(
            Method::PUT,
            &format!("/api/v1/webhooks/{id}"),
            Some(json!({"active": true})),
        )
        .await;
    assert_eq!(webhook["active"], true);
    assert_eq!(webhook["consecutive_failures"], 0);
    assert!(webhook["disabled_reason"].is_null());

    let (status, resent) = t
        .json(
            Method::POST,
            &format!("/api/v1/webhook-deliveries/{delivery_id}/resend"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{resent}");
    assert_eq!(resent["status"], "pending");
    assert_eq!(t.relay_and_deliver().await, 1);
    let (_, delivery) = t
        .json(
            Method::GET,
            &format!("/api/v1/webhook-deliveries/{delivery_id}"),
            None,
        )
        .await;
    assert_eq!(delivery["status"], "succeeded", "{delivery}");
    assert_eq!(delivery["attempt_count"], 2);
    assert_eq!(receiver.received().len(), 3);
    let metrics = t.metrics().await;
    assert!(
        metrics.contains("webhook_deliveries_total{result=\"failed\"} 2"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_receiver_does_not_hold_up_the_others() {
    let t = app_delivering_locally(|webhooks| webhooks.timeout = Duration::from_secs(20)).await;
    let slow = Receiver::start(&[]).await;
    slow.hang_for(Duration::from_secs(60));
    let fast = Receiver::start(&[]).await;
    let (slow_id, _) = create_webhook(&t, &slow.url(), &["product.*"]).await;
    create_webhook(&t, &fast.url(), &["product.*"]).await;

    // The worker as `serve` runs it, plus the relay.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(t.services().webhooks.clone().run(stopped.clone()));
    let relay = tokio::spawn(t.app.relay.clone().run(stopped));
    for i in 0..3 {
        t.services()
            .catalog
            .create_product(
                &t.ctx,
                product_input(&format!("P{i}"), &[&format!("SLOW-{i}")], "1"),
            )
            .await
            .unwrap();
    }
    let delivered = fast.wait_for(3).await;
    assert_eq!(delivered.len(), 3);
    // The slow receiver has its requests but has answered none of them.
    slow.wait_for(1).await;
    let (_, log) = t
        .json(
            Method::GET,
            &format!("/api/v1/webhooks/{slow_id}/deliveries"),
            None,
        )
        .await;
    let attempts: Vec<Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["attempts"].as_array().unwrap().clone())
        .collect();
    assert!(
        attempts.is_empty(),
        "the slow receiver is still answering: {log}"
    );
    let _ = stop.send(true);
    relay.await.unwrap();
    worker.abort();
}
