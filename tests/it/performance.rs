//! What the hot reads cost the database: statements per request of the benchmark's queries,
//! a pool that checks connections without a round trip yet never hands out a dead one, the
//! storefront's stock query kept prepared, and indexes under every hot request.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use serde_json::{Value, json};

use stateset::domain::SellableOf;

use crate::support::{Auth, TestApp, product_input};

/// Benchmark scenario (a): a page of products with each variant's price and stock.
const PRODUCT_PAGE: &str = "{ products(first: 20) { nodes { id name variants { id title price { amount currency } available } } } }";

/// Benchmark scenario (b): one product by slug.
const PRODUCT_BY_SLUG: &str = r#"query($slug: String!) {
  product(slug: $slug) { id name slug description variants { id title price { amount currency } available } }
}"#;

/// A catalog of `products` products of three stocked variants each (50 each); returns each
/// product's id with its variants' ids.
async fn stocked_catalog(t: &TestApp, products: usize) -> Vec<(uuid::Uuid, Vec<uuid::Uuid>)> {
    let mut made = Vec::new();
    for i in 0..products {
        let skus = [format!("S{i}-S"), format!("S{i}-M"), format!("S{i}-L")];
        let skus: Vec<&str> = skus.iter().map(String::as_str).collect();
        let detail = t
            .services()
            .catalog
            .create_product(
                &t.ctx,
                product_input(&format!("Stocked {i:02}"), &skus, "7"),
            )
            .await
            .unwrap();
        for variant in &detail.variants {
            t.stock(variant.id, 50).await;
        }
        made.push((
            detail.product.id,
            detail.variants.iter().map(|v| v.id).collect(),
        ));
    }
    made
}

/// The fewest statements of five runs of `query` (under load a DataLoader batch can split in
/// two, which is not what this measures), with the last answer.
async fn fewest_statements(t: &TestApp, query: &str, variables: Value) -> (u64, Value) {
    let mut fewest = u64::MAX;
    let mut answer = Value::Null;
    for _ in 0..5 {
        let before = t.app.db.statements_executed();
        answer = t
            .graphql_as(&Auth::Anonymous, query, variables.clone())
            .await;
        assert!(answer.get("errors").is_none(), "{answer}");
        fewest = fewest.min(t.app.db.statements_executed() - before);
    }
    (fewest, answer)
}

/// The statements of (a) a page of 20 products and (b) one product by slug, with prices and
/// stock.
async fn catalog_read_statements(t: &TestApp) -> (u64, u64) {
    stocked_catalog(t, 20).await;
    let (page, answer) = fewest_statements(t, PRODUCT_PAGE, json!({})).await;
    let nodes = answer["data"]["products"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 20);
    assert!(nodes.iter().all(|n| {
        let variants = n["variants"].as_array().unwrap();
        variants.len() == 3 && variants.iter().all(|v| v["available"] == 50)
    }));
    let (one, answer) =
        fewest_statements(t, PRODUCT_BY_SLUG, json!({ "slug": "stocked-07" })).await;
    assert_eq!(answer["data"]["product"]["name"], "Stocked 07", "{answer}");
    (page, one)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_reads_send_only_the_page_and_the_stock_to_postgresql() {
    // With the catalog cache (the default), products and variants come from memory: what
    // is left is the page itself and the stock, which is never cached.
    let t = TestApp::new().await;
    assert_eq!(catalog_read_statements(&t).await, (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_cache_a_catalog_read_is_three_statements() {
    // The page (or product), its variants, their stock: no connection check, no count
    // nobody asked for, no images or categories nobody selected.
    let t = TestApp::with_config(|c| c.catalog_cache.ttl = std::time::Duration::ZERO).await;
    assert_eq!(catalog_read_statements(&t).await, (3, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selected_totals_images_and_categories_are_still_loaded_through_fragments() {
    let t = TestApp::new().await;
    let category = t
        .graphql(
            r#"mutation { createCategory(input: { name: "Mugs" }) { id } }"#,
            json!({}),
        )
        .await;
    let category_id = category["data"]["createCategory"]["id"].clone();
    let created = t
        .graphql(
            r#"mutation($c: [UUID!]!) { createProduct(input: {
                 name: "Blue Mug", status: ACTIVE, categoryIds: $c,
                 images: [{ url: "https://img.example/blue.png", altText: "blue" }],
                 variants: [{ sku: "MUG-B", price: { amount: "12", currency: "USD" } }]
               }) { id } }"#,
            json!({ "c": [category_id] }),
        )
        .await;
    assert!(created.get("errors").is_none(), "{created}");
    stocked_catalog(&t, 2).await;

    let listed = t
        .graphql_as(
            &Auth::Anonymous,
            r#"fragment Shown on Product { images { url } categories { name } }
               query { products(first: 10, sort: NAME_ASC) {
                 ...Totals
                 edges { node { name ...Shown } }
               } }
               fragment Totals on ProductConnection { totalCount }"#,
            json!({}),
        )
        .await;
    assert!(listed.get("errors").is_none(), "{listed}");
    let products = &listed["data"]["products"];
    assert_eq!(products["totalCount"], 3);
    let mug = &products["edges"][0]["node"];
    assert_eq!(mug["name"], "Blue Mug");
    assert_eq!(mug["images"][0]["url"], "https://img.example/blue.png");
    assert_eq!(mug["categories"][0]["name"], "Mugs");

    let one = t
        .graphql_as(
            &Auth::Anonymous,
            r#"{ product(slug: "blue-mug") { ... on Product { images { altText } categories { name } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        one["data"]["product"]["images"][0]["altText"], "blue",
        "{one}"
    );
    assert_eq!(one["data"]["product"]["categories"][0]["name"], "Mugs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_replaces_connections_postgresql_closed_without_failing_a_request() {
    let t = TestApp::new().await;
    stocked_catalog(&t, 3).await;
    // Several pooled connections, all idle afterwards.
    let requests: Vec<_> = (0..6)
        .map(|_| t.graphql_as(&Auth::Anonymous, PRODUCT_PAGE, json!({})))
        .collect();
    for answer in futures::future::join_all(requests).await {
        assert!(answer.get("errors").is_none(), "{answer}");
    }
    let (idle, _) = t.app.db.connection_counts();
    assert!(idle >= 2, "the requests left {idle} idle connections");

    // An administrator (or a PostgreSQL restart) ends every backend of this database.
    let mut admin = AsyncPgConnection::establish(&t.db.url).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Ended {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        ended: i64,
    }
    let ended = diesel::sql_query(
        "SELECT count(pg_terminate_backend(pid)) AS ended FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .get_result::<Ended>(&mut admin)
    .await
    .unwrap()
    .ended;
    assert!(ended >= i64::from(idle), "ended {ended} backends");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Every closed connection is noticed at checkout and replaced: no request fails.
    for _ in 0..10 {
        let answer = t
            .graphql_as(&Auth::Anonymous, PRODUCT_PAGE, json!({}))
            .await;
        assert!(answer.get("errors").is_none(), "{answer}");
        assert_eq!(
            answer["data"]["products"]["nodes"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }
    let concurrent: Vec<_> = (0..6)
        .map(|_| t.graphql_as(&Auth::Anonymous, PRODUCT_PAGE, json!({})))
        .collect();
    for answer in futures::future::join_all(concurrent).await {
        assert!(answer.get("errors").is_none(), "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storefront_stock_query_stays_prepared_on_its_connection() {
    // The stock of a page (by variant ids) and of one product (by product id), as the catalog
    // reads ask for it: each form is parsed and planned once per connection, then reused.
    let t = TestApp::new().await;
    let catalog = stocked_catalog(&t, 2).await;
    let product = catalog[0].0;
    let variants: Vec<uuid::Uuid> = catalog.iter().flat_map(|(_, v)| v.clone()).collect();
    #[derive(diesel::QueryableByName)]
    struct Prepared {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        of_page: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        of_product: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        total: i64,
    }
    let mut conn = t.app.db.conn().await.unwrap();
    let mut read_stock = async || {
        let of_page = SellableOf::Variants(&variants);
        let rows = stateset_db::inventory::sellable(&mut conn, of_page)
            .await
            .unwrap();
        assert_eq!(rows.len(), 6);
        assert!(rows.iter().all(|r| r.sellable == Some(50)));
        let rows = stateset_db::inventory::sellable(&mut conn, SellableOf::Product(product))
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
        diesel::sql_query(
            // (Leaving out this statement, which is prepared while it runs and names the others.)
            "SELECT \
             count(*) FILTER (WHERE statement LIKE '%AS sellable%WHERE v.id = ANY($1)%') AS of_page, \
             count(*) FILTER (WHERE statement LIKE '%AS sellable%WHERE v.product_id = $1%') \
             AS of_product, count(*) AS total FROM pg_prepared_statements \
             WHERE statement NOT LIKE '%pg_prepared_statements%'",
        )
        .get_result::<Prepared>(&mut *conn)
        .await
        .unwrap()
    };
    let first = read_stock().await;
    assert_eq!(
        (first.of_page, first.of_product),
        (1, 1),
        "one prepared statement for each form"
    );
    let again = read_stock().await;
    assert_eq!(
        again.total, first.total,
        "reading again prepares nothing new"
    );
}

/// Tables that stay small whatever the business does, which a hot request may read whole.
const SMALL_TABLES: &[&str] = &[
    "roles",
    "locations",
    "shipping_methods",
    "tax_rates",
    "webhooks",
    "invoice_counters",
];

/// Sequential scans per table so far. The database's other sessions (the app's pool, its
/// background tasks) are ended first: a session reports its statistics when it ends, and the
/// pool replaces them on the next checkout.
async fn sequential_scans(url: &str) -> std::collections::BTreeMap<String, i64> {
    #[derive(diesel::QueryableByName)]
    struct Ended {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    #[derive(diesel::QueryableByName)]
    struct Scans {
        #[diesel(sql_type = diesel::sql_types::Text)]
        relname: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        seq_scan: i64,
    }
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let ended: Vec<i32> = diesel::sql_query(
        // (OFFSET 0 keeps the filter on this session ahead of the call that ends the others.)
        "SELECT pid FROM (SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid() OFFSET 0) others WHERE pg_terminate_backend(pid)",
    )
    .load::<Ended>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|e| e.pid)
    .collect();
    let mut left = Vec::new();
    for attempt in 0..100 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        left = diesel::sql_query("SELECT pid FROM pg_stat_activity WHERE pid = ANY($1)")
            .bind::<diesel::sql_types::Array<diesel::sql_types::Integer>, _>(&ended)
            .load::<Ended>(&mut conn)
            .await
            .unwrap();
        if left.is_empty() {
            break;
        }
    }
    assert!(
        left.is_empty(),
        "sessions still open after 5 s, their scans unreported"
    );
    diesel::sql_query("SELECT pg_stat_clear_snapshot()")
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query("SELECT relname::text AS relname, seq_scan FROM pg_stat_user_tables")
        .load::<Scans>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.relname, s.seq_scan))
        .collect()
}

/// Tells the planner that every table not in [`SMALL_TABLES`] (and each of its indexes) holds a
/// million rows, as it will in production: it then picks for each query the plan it would
/// pick there, scanning a table whole only when no index serves the query. Sessions read this
/// when they open, so the ones already open are ended by [`sequential_scans`].
async fn plan_as_if_large(url: &str) {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    // Autovacuum's ANALYZE would put the real counts back; turning it off waits out a run.
    diesel::sql_query(
        "DO $$ DECLARE t text; BEGIN \
         FOR t IN SELECT relname FROM pg_class WHERE relkind = 'r' \
         AND relnamespace = 'public'::regnamespace LOOP \
         EXECUTE format('ALTER TABLE %I SET (autovacuum_enabled = false)', t); \
         END LOOP; END $$",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(
        // An empty table has no page to scale the count by: it is marked never measured
        // (reltuples -1), which the planner takes for ten pages of rows.
        "UPDATE pg_class c \
         SET reltuples = CASE WHEN pg_relation_size(c.oid) > 0 THEN 1000000 ELSE -1 END, \
         relpages = CASE WHEN pg_relation_size(c.oid) > 0 THEN 1 ELSE 0 END \
         WHERE c.relnamespace = 'public'::regnamespace AND c.relname <> ALL($1) \
         AND (c.relkind = 'r' OR (c.relkind = 'i' AND EXISTS (SELECT 1 FROM pg_index i \
         JOIN pg_class t ON t.oid = i.indrelid WHERE i.indexrelid = c.oid AND t.relname <> ALL($1))))",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(SMALL_TABLES)
    .execute(&mut conn)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_requests_find_their_rows_through_indexes() {
    // Each sequential scan of a growing table during the benchmark's requests (and whatever
    // the background tasks ran meanwhile) is a missing index.
    let t = TestApp::with_config(|c| c.catalog_cache.ttl = Duration::ZERO).await;
    stocked_catalog(&t, 22).await;
    let tee = crate::checkout::shop(&t).await;
    let checkout = crate::checkout::ready_checkout(&t, tee, "4242 4242 4242 4242").await;
    let variant = t.variant("PLAN-ORDERED").await;
    t.stock(variant, 100).await;
    let buyer = t.customer("plans@example.com").await;
    let (_, cart) = t
        .json_as(
            &Auth::Anonymous,
            Method::POST,
            "/api/v1/carts",
            Some(json!({})),
        )
        .await;
    let cart = cart["token"].as_str().unwrap().to_owned();
    let order = json!({
        "customer_id": buyer,
        "items": [{"variant_id": variant, "quantity": 1}],
        "shipping_address": crate::checkout::address(),
    });
    t.json(Method::POST, "/api/v1/orders", Some(order.clone()))
        .await;
    plan_as_if_large(&t.db.url).await;
    let before = sequential_scans(&t.db.url).await;

    let page = t
        .graphql_as(&Auth::Anonymous, PRODUCT_PAGE, json!({}))
        .await;
    assert_eq!(
        page["data"]["products"]["nodes"].as_array().map(Vec::len),
        Some(20),
        "{page}"
    );
    let one = t
        .graphql_as(
            &Auth::Anonymous,
            PRODUCT_BY_SLUG,
            json!({ "slug": "stocked-07" }),
        )
        .await;
    assert_eq!(one["data"]["product"]["name"], "Stocked 07", "{one}");
    let added = t
        .graphql_as(
            &Auth::Anonymous,
            "mutation($cart: String!, $variant: UUID!) { addCartItem(cartId: $cart, input: { variantId: $variant, quantity: 1 }) { id itemCount } }",
            json!({ "cart": cart, "variant": variant }),
        )
        .await;
    assert_eq!(added["data"]["addCartItem"]["itemCount"], 1, "{added}");
    let (status, placed) = t.json(Method::POST, "/api/v1/orders", Some(order)).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let (status, done) = crate::checkout::complete(&t, &checkout).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    // (f) as GraphQL: REST always answers `total_count`, an exact count that reads every order
    // however they are indexed; the page itself is the same query.
    let orders = t
        .graphql("{ orders(first: 20) { nodes { id } } }", json!({}))
        .await;
    assert_eq!(
        orders["data"]["orders"]["nodes"].as_array().map(Vec::len),
        Some(3),
        "{orders}"
    );

    let after = sequential_scans(&t.db.url).await;
    let scanned: Vec<String> = after
        .iter()
        .filter(|(table, _)| !SMALL_TABLES.contains(&table.as_str()))
        .filter_map(|(table, &scans)| {
            let new = scans - before.get(table).copied().unwrap_or(0);
            (new > 0).then(|| format!("{table} ({new})"))
        })
        .collect();
    assert!(
        scanned.is_empty(),
        "tables read whole by the hot requests: {}",
        scanned.join(", ")
    );
}

/// Benchmark scenario (d): what placing a one-line order sends to PostgreSQL, the fulfilment
/// plan included (its reservation's location, the fulfilment order, its line and its
/// `fulfillment_order.created` event: four statements of the total).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placing_an_order_sends_a_bounded_number_of_statements() {
    let t = TestApp::new().await;
    let variant = t.variant("PLACE-1").await;
    t.stock(variant, 100).await;
    let mut fewest = u64::MAX;
    for i in 0..5 {
        let customer = t.customer(&format!("placer{i}@example.com")).await;
        let body =
            json!({"customer_id": customer, "items": [{"variant_id": variant, "quantity": 1}]});
        let before = t.app.db.statements_executed();
        let (status, order) = t.json(Method::POST, "/api/v1/orders", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{order}");
        fewest = fewest.min(t.app.db.statements_executed() - before);
    }
    // 25 on 2026-12-06, four of them the fulfilment plan.
    assert!(fewest <= 25, "{fewest} statements to place an order");
}
