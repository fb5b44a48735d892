//! Request safety through real HTTP and gRPC: rate limits (in-process and shared through
//! Redis), idempotency keys, GraphQL limits, body limits, CORS and security headers.

use std::time::Duration;

use diesel_async::{
    AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _, SimpleAsyncConnection as _,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use stateset::adapters::grpc::pb;
use stateset::services::auth::CUSTOMER_ROLE;

use crate::support::{TestApp, catalog_client};

fn new_product(sku: &str) -> Value {
    json!({"name": format!("Product {sku}"), "variants": [{"sku": sku, "price": {"amount": "9.5", "currency": "USD"}}]})
}

async fn post(
    base: &str,
    path: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_limit_is_429_with_retry_after_on_every_door() {
    let t = TestApp::with_config(|c| {
        c.rate_limits.authenticated = 3;
        c.rate_limits.anonymous = 2;
        c.rate_limits
            .per_route
            .insert("POST /api/v1/auth/login".into(), 1);
    })
    .await;
    let base = format!("http://{}", t.serve_http().await);
    let client = reqwest::Client::new();
    let get = |path: &str| {
        client
            .get(format!("{base}{path}"))
            .bearer_auth(&t.admin)
            .send()
    };

    for remaining in [2, 1, 0] {
        let response = get("/api/v1/products").await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["ratelimit-limit"], "3");
        assert_eq!(
            response.headers()["ratelimit-remaining"],
            remaining.to_string().as_str()
        );
        assert!(response.headers().contains_key("ratelimit-reset"));
    }
    let refused = get("/api/v1/products").await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(refused.headers()["ratelimit-remaining"], "0");
    assert_eq!(refused.headers()["ratelimit-limit"], "3");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RATE_LIMITED");

    // The same caller on GraphQL gets the GraphQL shape; on gRPC, RESOURCE_EXHAUSTED.
    let graphql = client
        .post(format!("{base}/graphql"))
        .bearer_auth(&t.admin)
        .json(&json!({"query": "{ categories { id } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(graphql.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(graphql.headers().contains_key("retry-after"));
    let body: Value = graphql.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    let mut grpc = catalog_client(t.serve_grpc().await, Some(&t.admin));
    let err = grpc
        .list_products(pb::ListProductsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    assert!(err.metadata().contains_key("retry-after"));

    // Other callers have their own allowance; anonymous callers are counted per address.
    let other = t.user_token("other@example.com", CUSTOMER_ROLE).await;
    assert_eq!(
        client
            .get(format!("{base}/api/v1/products"))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    for _ in 0..2 {
        assert_eq!(
            client
                .get(format!("{base}/api/v1/categories"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        client
            .get(format!("{base}/api/v1/categories"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // A per-route limit applies on its own route: one login attempt a minute here.
    let login = json!({"email": "other@example.com", "password": crate::support::PASSWORD});
    let first = post(&base, "/api/v1/auth/login", Some(&other), None, &login).await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = post(&base, "/api/v1/auth/login", Some(&other), None, &login).await;
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    // Probes are never limited.
    assert_eq!(
        client
            .get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"rate_limit_allowed_total{key_type="user",path="/api/v1/products"} 4"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"rate_limit_denied_total{key_type="user",path="/api/v1/products"} 1"#)
    );
    assert!(
        metrics.contains(r#"rate_limit_denied_total{key_type="ip",path="/api/v1/categories"} 1"#)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_the_limit_is_shared_by_every_instance() {
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let limited = |c: &mut stateset::config::Config| {
        c.rate_limits.authenticated = 2;
        c.redis_url = Some(redis.clone());
    };
    let t = TestApp::with_config(limited).await;
    let mut second_config = crate::support::test_config(&t.db.url);
    limited(&mut second_config);
    let second = stateset::app::App::new(second_config).unwrap();
    let subject = admin_subject(&t).await;

    t.app
        .admission
        .limiter()
        .check(&subject, "GET /api/v1/products")
        .await
        .unwrap();
    second
        .admission
        .limiter()
        .check(&subject, "GET /api/v1/products")
        .await
        .unwrap();
    let err = t
        .app
        .admission
        .limiter()
        .check(&subject, "GET /api/v1/products")
        .await
        .unwrap_err();
    assert_eq!(
        stateset::services::Error::from(err).code(),
        "RATE_LIMITED",
        "the two instances drew from one allowance in Redis"
    );
    let err = second
        .admission
        .limiter()
        .check(&subject, "GET /api/v1/products")
        .await
        .unwrap_err();
    assert_eq!(stateset::services::Error::from(err).code(), "RATE_LIMITED");
    let metrics = t.metrics().await;
    assert!(
        metrics.contains(r#"redis_operations_total{operation="rate_limit",result="ok"} 2"#),
        "each decision of this instance was one Redis call: {metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_does_not_answer_is_counted_as_failed_operations() {
    // Nothing listens on port 1: the limiter falls back to in-process and counts the failure.
    let t = TestApp::with_config(|c| c.redis_url = Some("redis://127.0.0.1:1".into())).await;
    let subject = admin_subject(&t).await;
    t.app
        .admission
        .limiter()
        .check(&subject, "GET /api/v1/products")
        .await
        .unwrap();
    let metrics = t.metrics().await;
    assert!(
        metrics.contains(r#"redis_operations_total{operation="rate_limit",result="error"} 1"#),
        "{metrics}"
    );
}

/// The rate-limit subject of the test administrator.
async fn admin_subject(t: &TestApp) -> stateset::limits::Subject {
    let principal = t
        .services()
        .auth
        .authenticate(&stateset::services::auth::Credentials::Bearer(
            t.admin.clone(),
        ))
        .await
        .unwrap();
    stateset::limits::Subject::of(&principal, None).unwrap()
}

async fn count_rows(url: &str, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_replay_refuse_a_different_body_and_report_in_flight() {
    let t = TestApp::new().await;
    let base = format!("http://{}", t.serve_http().await);
    let body = new_product("IDEM-1");

    // Hold the products table so the first request stays in flight.
    let mut blocker = AsyncPgConnection::establish(&t.db.url).await.unwrap();
    blocker
        .batch_execute("BEGIN; LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let first = tokio::spawn({
        let (base, token, body) = (base.clone(), t.admin.clone(), body.clone());
        async move {
            post(
                &base,
                "/api/v1/products",
                Some(&token),
                Some("key-1"),
                &body,
            )
            .await
        }
    });
    let mut claimed = false;
    for _ in 0..400 {
        if count_rows(&t.db.url, "SELECT count(*) AS n FROM idempotency_keys").await == 1 {
            claimed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(claimed, "the first request claimed its key");
    let in_flight = post(
        &base,
        "/api/v1/products",
        Some(&t.admin),
        Some("key-1"),
        &body,
    )
    .await;
    assert_eq!(in_flight.status(), StatusCode::CONFLICT);
    assert!(in_flight.headers().contains_key("retry-after"));
    let in_flight: Value = in_flight.json().await.unwrap();
    assert_eq!(in_flight["error"]["code"], "IDEMPOTENCY_IN_FLIGHT");
    blocker.batch_execute("ROLLBACK").await.unwrap();

    let first = first.await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(!first.headers().contains_key("idempotent-replayed"));
    let created: Value = first.json().await.unwrap();

    let replay = post(
        &base,
        "/api/v1/products",
        Some(&t.admin),
        Some("key-1"),
        &body,
    )
    .await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(
        replay.json::<Value>().await.unwrap(),
        created,
        "the same body, not a second product"
    );

    let different = post(
        &base,
        "/api/v1/products",
        Some(&t.admin),
        Some("key-1"),
        &new_product("IDEM-2"),
    )
    .await;
    assert_eq!(different.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        different.json::<Value>().await.unwrap()["error"]["code"],
        "IDEMPOTENCY_KEY_REUSED"
    );
    assert_eq!(
        count_rows(&t.db.url, "SELECT count(*) AS n FROM products").await,
        1
    );

    // Keys belong to their caller: another user with the same key runs their own request.
    let other = t
        .user_token("other@example.com", stateset::services::auth::MANAGER_ROLE)
        .await;
    let theirs = post(
        &base,
        "/api/v1/products",
        Some(&other),
        Some("key-1"),
        &new_product("IDEM-3"),
    )
    .await;
    assert_eq!(theirs.status(), StatusCode::CREATED);
    assert!(!theirs.headers().contains_key("idempotent-replayed"));

    // Client errors are kept and replayed too; a bad key is refused.
    let invalid = json!({"name": ""});
    let once = post(
        &base,
        "/api/v1/products",
        Some(&t.admin),
        Some("key-2"),
        &invalid,
    )
    .await;
    assert_eq!(once.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let again = post(
        &base,
        "/api/v1/products",
        Some(&t.admin),
        Some("key-2"),
        &invalid,
    )
    .await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let bad_key = post(
        &base,
        "/api/v1/products",
        Some(&t.admin),
        Some(&"k".repeat(300)),
        &body,
    )
    .await;
    assert_eq!(bad_key.status(), StatusCode::BAD_REQUEST);

    // GraphQL mutations take the header too.
    let mutation = json!({"query": r#"mutation { createCategory(input: {name: "Once"}) { id } }"#});
    let first = post(&base, "/graphql", Some(&t.admin), Some("gql-1"), &mutation).await;
    let first_body: Value = first.json().await.unwrap();
    let second = post(&base, "/graphql", Some(&t.admin), Some("gql-1"), &mutation).await;
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.json::<Value>().await.unwrap(), first_body);
    assert_eq!(
        count_rows(&t.db.url, "SELECT count(*) AS n FROM categories").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_mutations_honour_idempotency_keys() {
    let t = TestApp::new().await;
    let mut client = catalog_client(t.serve_grpc().await, Some(&t.admin));
    let request = |sku: &str| {
        let mut request = tonic::Request::new(pb::CreateProductRequest {
            name: format!("Product {sku}"),
            variants: vec![pb::VariantInput {
                sku: sku.into(),
                price: Some(pb::Money {
                    amount: "3".into(),
                    currency: "USD".into(),
                }),
                ..Default::default()
            }],
            ..Default::default()
        });
        request
            .metadata_mut()
            .insert("idempotency-key", "grpc-1".parse().unwrap());
        request
    };
    let first = client.create_product(request("G-1")).await.unwrap();
    assert!(first.metadata().get("idempotent-replayed").is_none());
    let second = client.create_product(request("G-1")).await.unwrap();
    assert_eq!(
        second.metadata().get("idempotent-replayed").unwrap(),
        "true"
    );
    assert_eq!(second.get_ref().id, first.get_ref().id);
    let err = client.create_product(request("G-2")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        count_rows(&t.db.url, "SELECT count(*) AS n FROM products").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_not_kept_so_a_retry_runs_again() {
    // A GraphQL mutation that really fails on the server's side (the payment provider is
    // down) answers HTTP 200 with an UNAVAILABLE error; it must not be replayed.
    let stripe = crate::support::stripe::FakeStripe::start().await;
    let t = TestApp::with_config(crate::payments::with_stripe(&stripe)).await;
    let variant = t.variant("IDEM-SERVER").await;
    let order = t.order_of(variant, "idem@example.com").await;
    let base = format!("http://{}", t.serve_http().await);
    let mutation = json!({
        "query": "mutation($o: UUID!) { createPayment(input: {orderId: $o, paymentToken: \"pm_card_visa\"}) { id status } }",
        "variables": {"o": order},
    });
    stripe.fail_with(Some(500));
    let failed = post(&base, "/graphql", Some(&t.admin), Some("pay-1"), &mutation).await;
    assert_eq!(failed.status(), StatusCode::OK);
    let body: Value = failed.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAVAILABLE",
        "{body}"
    );

    stripe.fail_with(None);
    let retried = post(&base, "/graphql", Some(&t.admin), Some("pay-1"), &mutation).await;
    assert!(retried.headers().get("idempotent-replayed").is_none());
    let body: Value = retried.json().await.unwrap();
    assert!(body.get("errors").is_none(), "the retry ran: {body}");
    assert_eq!(body["data"]["createPayment"]["status"], "CAPTURED");

    // What succeeded is kept: the same key now replays it.
    let replayed = post(&base, "/graphql", Some(&t.admin), Some("pay-1"), &mutation).await;
    assert_eq!(
        replayed.headers().get("idempotent-replayed").unwrap(),
        "true"
    );
    assert_eq!(stripe.intents_created(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_holding_secrets_are_never_kept_by_the_idempotency_store() {
    let t = TestApp::new().await;
    let base = format!("http://{}", t.serve_http().await);
    let stored = |needle: String| {
        let url = t.db.url.clone();
        async move {
            count_rows(
                &url,
                &format!(
                    "SELECT count(*) AS n FROM idempotency_keys WHERE position('{needle}' in convert_from(response_body, 'UTF8')) > 0"
                ),
            )
            .await
        }
    };
    let login = json!({"email": "admin@example.com", "password": crate::support::PASSWORD});
    let graphql_login = json!({
        "query": "mutation($i: LoginInput!) { login(input: $i) { refreshToken } }",
        "variables": {"i": login},
    });
    let api_key = json!({"name": "kept?", "scopes": ["products:read"]});
    let graphql_key = json!({
        "query": "mutation { createApiKey(input: {name: \"kept?\", scopes: [\"products:read\"]}) { key } }",
    });
    for (path, token, body, secret) in [
        ("/api/v1/auth/login", None, &login, "/refresh_token"),
        ("/graphql", None, &graphql_login, "/data/login/refreshToken"),
        ("/api/v1/api-keys", Some(t.admin.as_str()), &api_key, "/key"),
        (
            "/graphql",
            Some(t.admin.as_str()),
            &graphql_key,
            "/data/createApiKey/key",
        ),
    ] {
        let mut secrets = Vec::new();
        for _ in 0..2 {
            let response = post(&base, path, token, Some(&format!("secret-{secret}")), body).await;
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
            assert!(
                response.headers().get("idempotent-replayed").is_none(),
                "{path}: a retry runs again rather than replaying a stored secret"
            );
            let body: Value = response.json().await.unwrap();
            let value = body
                .pointer(secret)
                .and_then(Value::as_str)
                .unwrap()
                .to_owned();
            assert_eq!(
                stored(value.clone()).await,
                0,
                "{path}: no copy of the secret is kept"
            );
            secrets.push(value);
        }
        assert_ne!(
            secrets[0], secrets[1],
            "{path}: each run hands out its own secret"
        );
    }
    assert_eq!(
        count_rows(&t.db.url, "SELECT count(*) AS n FROM idempotency_keys").await,
        0,
        "nor are their keys held"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_callers_are_told_apart_by_the_address_the_rate_limiter_uses() {
    let t = TestApp::with_config(|c| {
        c.trust_forwarded_for = true;
        c.trusted_proxies = stateset::config::TrustedProxies::Count(1);
        c.rate_limits.anonymous = 2;
    })
    .await;
    let base = format!("http://{}", t.serve_http().await);
    let client = reqwest::Client::new();
    let cart = |forwarded: &'static str| {
        client
            .post(format!("{base}/api/v1/carts"))
            .header("x-forwarded-for", forwarded)
            .header("idempotency-key", "same-key")
            .json(&json!({}))
            .send()
    };
    let first = cart("203.0.113.1").await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    // Another shopper behind the same proxy, same key: their own cart, not a replay of the
    // first shopper's (which would hand over its token).
    let other = cart("203.0.113.2").await.unwrap();
    assert!(other.headers().get("idempotent-replayed").is_none());
    let other: Value = other.json().await.unwrap();
    assert_ne!(other["token"], first["token"]);
    // The first shopper again, with a forged first entry: still the first shopper.
    let again = cart("6.6.6.6, 203.0.113.1").await.unwrap();
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["token"], first["token"]);
    // And the rate limiter counts them the same way: the forged entry does not buy a fresh
    // allowance (two per minute, both used by 203.0.113.1).
    let limited = cart("7.7.7.7, 203.0.113.1").await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_limits_body_limit_cors_and_security_headers() {
    let t = TestApp::with_config(|c| {
        c.graphql.max_depth = 3;
        c.graphql.introspection = false;
        c.max_body_bytes = 4096;
        c.cors_allowed_origins = vec!["https://shop.example".into()];
    })
    .await;
    let base = format!("http://{}", t.serve_http().await);
    let client = reqwest::Client::new();
    let graphql = |query: &str| {
        client
            .post(format!("{base}/graphql"))
            .json(&json!({"query": query}))
            .send()
    };

    let deep: Value = graphql("{ products { edges { node { variants { price { amount } } } } } }")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        deep["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{deep}"
    );
    assert_eq!(deep["errors"][0]["extensions"]["code"], "VALIDATION");
    let introspection: Value = graphql("{ __schema { types { name } } }")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        introspection["data"]["__schema"].is_null(),
        "introspection is off: {introspection}"
    );

    let big = json!({"name": "x".repeat(10_000)});
    let response = post(&base, "/api/v1/products", Some(&t.admin), None, &big).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let preflight = client
        .request(reqwest::Method::OPTIONS, format!("{base}/api/v1/products"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,idempotency-key",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let stranger = client
        .get(format!("{base}/api/v1/products"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        !stranger
            .headers()
            .contains_key("access-control-allow-origin")
    );

    let headers = stranger.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let graphiql = client
        .get(format!("{base}/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(
        !graphiql.headers().contains_key("content-security-policy"),
        "GraphiQL needs its scripts"
    );
}
