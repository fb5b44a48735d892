//! The catalog's entity cache across instances: with Redis a write is visible on the very
//! next read on another instance; without it, each instance's cache hears of the write from
//! the outbox events.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use stateset::app::{App, AppState};
use stateset::config::Config;
use stateset::services::Ctx;
use stateset::services::catalog::{ProductRef, UpdateCategoryInput, UpdateProductInput};
use tower::ServiceExt as _;

use crate::support::{TestApp, product_input, test_config};

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A second instance on `a`'s database, with its own pool, caches and event listener.
async fn second_instance(
    a: &TestApp,
    adjust: impl FnOnce(&mut Config),
) -> (AppState, tokio::sync::watch::Sender<bool>) {
    let mut config = test_config(&a.db.url);
    adjust(&mut config);
    let b = App::new(config).unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    b.bus
        .start_listener(a.db.url.clone(), stopped)
        .await
        .unwrap();
    (b, stop)
}

/// A product as instance `app` shows it to an anonymous shopper over GraphQL.
async fn shown_by(app: &AppState, slug: &str) -> Value {
    let query = r#"query($slug: String!) { product(slug: $slug) {
        name categories { name } variants { sku price { amount } } } }"#;
    let body = json!({ "query": query, "variables": { "slug": slug } }).to_string();
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = stateset::http::router(app.clone())
        .oneshot(request)
        .await
        .unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

/// Creates a product of one variant in a category on `a`; returns the product, category and
/// variant ids.
async fn product_in_category(
    a: &TestApp,
    name: &str,
    sku: &str,
) -> (uuid::Uuid, uuid::Uuid, uuid::Uuid) {
    let category = a
        .services()
        .catalog
        .create_category(
            &a.ctx,
            serde_json::from_value(json!({ "name": format!("{name} shelf") })).unwrap(),
        )
        .await
        .unwrap();
    let mut input = product_input(name, &[sku], "10");
    input.category_ids = vec![category.id];
    let detail = a
        .services()
        .catalog
        .create_product(&a.ctx, input)
        .await
        .unwrap();
    (detail.product.id, category.id, detail.variants[0].id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_redis_a_write_on_one_instance_is_seen_by_the_next_read_on_another() {
    let a = TestApp::with_config(|c| c.redis_url = Some(redis_url())).await;
    let (b, _stop) = second_instance(&a, |c| c.redis_url = Some(redis_url())).await;
    let (id, category, variant) = product_in_category(&a, "Cached Kettle", "KETTLE-1").await;
    let slug = "cached-kettle";

    // B reads twice: the second read is served from Redis, not PostgreSQL.
    assert_eq!(
        shown_by(&b, slug).await["data"]["product"]["name"],
        "Cached Kettle"
    );
    let before = b.db.statements_executed();
    let cached = b
        .services
        .catalog
        .get_product(&Ctx::system(), ProductRef::Slug(slug.into()))
        .await
        .unwrap();
    assert_eq!(cached.name, "Cached Kettle");
    assert_eq!(
        b.db.statements_executed(),
        before,
        "the second read went to PostgreSQL"
    );

    // Each write through A is visible on B's very next read, with no wait.
    let rename: UpdateProductInput =
        serde_json::from_value(json!({ "name": "Renamed Kettle" })).unwrap();
    a.services()
        .catalog
        .update_product(&a.ctx, id, rename)
        .await
        .unwrap();
    let shown = shown_by(&b, slug).await;
    assert_eq!(
        shown["data"]["product"]["name"], "Renamed Kettle",
        "{shown}"
    );

    let reprice =
        serde_json::from_value(json!({ "price": { "amount": "12.5", "currency": "USD" } }))
            .unwrap();
    a.services()
        .catalog
        .update_variant(&a.ctx, variant, reprice)
        .await
        .unwrap();
    let shown = shown_by(&b, slug).await;
    assert_eq!(
        shown["data"]["product"]["variants"][0]["price"]["amount"], "12.50",
        "{shown}"
    );

    let relabel: UpdateCategoryInput =
        serde_json::from_value(json!({ "name": "Tea things" })).unwrap();
    a.services()
        .catalog
        .update_category(&a.ctx, category, relabel)
        .await
        .unwrap();
    let shown = shown_by(&b, slug).await;
    assert_eq!(
        shown["data"]["product"]["categories"][0]["name"], "Tea things",
        "{shown}"
    );

    let moved: UpdateProductInput =
        serde_json::from_value(json!({ "slug": "moved-kettle" })).unwrap();
    a.services()
        .catalog
        .update_product(&a.ctx, id, moved)
        .await
        .unwrap();
    let gone = shown_by(&b, slug).await;
    assert_eq!(
        gone["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{gone}"
    );
    assert_eq!(
        shown_by(&b, "moved-kettle").await["data"]["product"]["name"],
        "Renamed Kettle"
    );

    a.services()
        .catalog
        .delete_product(&a.ctx, id)
        .await
        .unwrap();
    let gone = shown_by(&b, "moved-kettle").await;
    assert_eq!(
        gone["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{gone}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_redis_each_instance_forgets_what_the_outbox_events_say_changed() {
    let a = TestApp::new().await;
    let (b, _stop) = second_instance(&a, |_| {}).await;
    let (id, _, _) = product_in_category(&a, "Local Teapot", "TEAPOT-1").await;
    let slug = "local-teapot";
    assert_eq!(
        shown_by(&b, slug).await["data"]["product"]["name"],
        "Local Teapot"
    );
    let before = b.db.statements_executed();
    assert_eq!(
        shown_by(&b, slug).await["data"]["product"]["name"],
        "Local Teapot"
    );
    // Only the stock was read again: the product and its variants came from B's memory.
    assert_eq!(
        b.db.statements_executed() - before,
        0,
        "variants and product are cached; price is not stock"
    );

    let rename: UpdateProductInput =
        serde_json::from_value(json!({ "name": "Renamed Teapot" })).unwrap();
    a.services()
        .catalog
        .update_product(&a.ctx, id, rename)
        .await
        .unwrap();
    // The writer's own instance sees it at once.
    assert_eq!(
        shown_by(&a.app, slug).await["data"]["product"]["name"],
        "Renamed Teapot"
    );
    // B sees it once the event has reached it: milliseconds, bounded here at five seconds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let shown = shown_by(&b, slug).await;
        if shown["data"]["product"]["name"] == "Renamed Teapot" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B still shows {shown}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_to_live_of_zero_turns_the_cache_off() {
    let t = TestApp::with_config(|c| c.catalog_cache.ttl = Duration::ZERO).await;
    product_in_category(&t, "Uncached Cup", "CUP-1").await;
    for _ in 0..2 {
        let before = t.app.db.statements_executed();
        t.services()
            .catalog
            .get_product(&t.ctx, ProductRef::Slug("uncached-cup".into()))
            .await
            .unwrap();
        assert!(t.app.db.statements_executed() > before);
    }
}
