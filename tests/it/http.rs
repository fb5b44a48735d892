//! Operator-facing HTTP: request ids, health, metrics, docs, and one catalog through every door.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use stateset::adapters::grpc::pb;
use stateset::app::App;
use stateset::config::Config;

use crate::support::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_a_request_id() {
    let t = TestApp::new().await;
    let (_, headers, _) = t
        .request(Request::get("/health").body(Body::empty()).unwrap())
        .await;
    let generated = headers["x-request-id"].to_str().unwrap();
    assert_eq!(
        uuid::Uuid::parse_str(generated).unwrap().get_version_num(),
        4
    );
    let request = Request::get("/api/v1/products/missing")
        .header("x-request-id", "req-123")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = t.request(request).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["x-request-id"], "req-123");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_version() {
    let t = TestApp::new().await;
    assert_eq!(
        t.json(Method::GET, "/health", None).await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    assert_eq!(
        t.json(Method::GET, "/health/readiness", None).await,
        (StatusCode::OK, json!({"status": "ready"}))
    );
    let (status, version) = t.json(Method::GET, "/health/version", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        version["git_commit"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    assert!(chrono::DateTime::parse_from_rfc3339(version["build_time"].as_str().unwrap()).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_503_with_a_reason_when_the_database_is_unreachable() {
    let config = Config {
        // Nothing listens on port 1.
        database_url: "postgres://postgres@127.0.0.1:1/stateset".into(),
        ..Config::from_lookup(|_| None).unwrap()
    };
    let app = App::new(config).unwrap();
    let router = stateset::http::router(app);
    let response = tower::ServiceExt::oneshot(
        router,
        Request::get("/health/readiness")
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["status"], "unavailable");
    assert!(
        body["reason"].as_str().unwrap().starts_with("database"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_method_route_and_status() {
    let t = TestApp::new().await;
    t.json(Method::GET, "/api/v1/products", None).await;
    t.json(Method::GET, "/api/v1/products", None).await;
    t.json(
        Method::GET,
        "/api/v1/products/00000000-0000-0000-0000-000000000000",
        None,
    )
    .await;
    let (status, _, body) = t
        .request(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains(
            r#"http_requests_total{method="GET",route="/api/v1/products",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(text.contains(
        r#"http_requests_total{method="GET",route="/api/v1/products/{id}",status="404"} 1"#
    ));
    assert!(text.contains(
        r#"http_request_duration_ms_bucket{method="GET",route="/api/v1/products",status="200",le="#
    ));
    assert!(text.contains(r#"database_connections{state="idle"}"#));
    assert!(text.contains(r#"database_connections{state="active"}"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_and_swagger_ui_are_served_offline() {
    let t = TestApp::new().await;
    let (status, doc) = t.json(Method::GET, "/api-docs/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["paths"]["/api/v1/products"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/products/{id}/variants"]["post"].is_object());
    let (status, _, page) = t
        .request(Request::get("/swagger-ui/").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&page).contains("swagger"));
    let (status, _, bundle) = t
        .request(
            Request::get("/swagger-ui/swagger-ui-bundle.js")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        bundle.len() > 100_000,
        "the Swagger UI bundle is vendored into the binary"
    );
}

/// What must agree across doors: id, slug and each variant's SKU and price.
type Summary = (String, String, Vec<(String, String)>);

/// Summarises a product from GraphQL or REST JSON, which share these field names.
fn summarise(product: &serde_json::Value) -> Summary {
    let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
    let variants = product["variants"].as_array().unwrap();
    (
        text(&product["id"]),
        text(&product["slug"]),
        variants
            .iter()
            .map(|v| (text(&v["sku"]), text(&v["price"]["amount"])))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_catalog_is_identical_through_graphql_rest_and_grpc() {
    let t = TestApp::new().await;
    t.seed_demo().await;
    let graphql = t
        .graphql(
            r#"{ products(first: 20, sort: NAME_ASC) { edges { node { id slug variants { sku price { amount } } } } } }"#,
            json!({}),
        )
        .await;
    let edges = graphql["data"]["products"]["edges"].as_array().unwrap();
    let from_graphql: Vec<Summary> = edges.iter().map(|e| summarise(&e["node"])).collect();

    let (_, rest) = t
        .json(Method::GET, "/api/v1/products?limit=20&sort=name_asc", None)
        .await;
    let from_rest: Vec<Summary> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(summarise)
        .collect();

    let mut client = crate::support::catalog_client(t.serve_grpc().await, None);
    let request = pb::ListProductsRequest {
        page_size: 20,
        sort: pb::ProductSort::NameAsc as i32,
        ..Default::default()
    };
    let grpc = client.list_products(request).await.unwrap().into_inner();
    let from_grpc: Vec<Summary> = grpc
        .products
        .into_iter()
        .map(|p| {
            (
                p.id,
                p.slug,
                p.variants
                    .into_iter()
                    .map(|v| (v.sku, v.price.unwrap().amount))
                    .collect(),
            )
        })
        .collect();

    assert_eq!(from_graphql.len(), 8);
    assert_eq!(from_graphql, from_rest);
    assert_eq!(from_rest, from_grpc);
}

/// One parse per domain value: a malformed SKU and currency are refused with the same field
/// errors and messages on REST, GraphQL and gRPC, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_sku_and_currency_are_refused_alike_on_every_door() {
    let t = TestApp::new().await;
    let sku_message = "must be 1 to 64 letters, digits, `-`, `_` or `.`";
    let currency_message = "`US` is not a three-letter ISO 4217 currency code";
    let expected = json!([
        {"field": "variants[0].sku", "message": sku_message},
        {"field": "variants[0].price.currency", "message": currency_message},
    ]);

    let (status, body) = t
        .json(
            Method::POST,
            "/api/v1/products",
            Some(json!({"name": "Bad", "variants": [
                {"sku": "BAD SKU", "price": {"amount": "1", "currency": "US"}}
            ]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields = body["error"]["details"]["fields"].clone();
    assert_eq!(fields, expected, "{body}");

    let answer = t
        .graphql(
            r#"mutation { createProduct(input: {name: "Bad", variants: [{sku: "BAD SKU", price: {amount: "1", currency: "US"}}]}) { id } }"#,
            json!({}),
        )
        .await;
    let fields = answer["errors"][0]["extensions"]["fields"].clone();
    assert_eq!(fields, expected, "{answer}");

    let channel = t.serve_grpc().await;
    let auth = crate::support::BearerInterceptor(Some(t.admin.clone()));
    let mut catalog =
        pb::catalog_service_client::CatalogServiceClient::with_interceptor(channel, auth);
    let err = catalog
        .create_product(pb::CreateProductRequest {
            name: "Bad".into(),
            variants: vec![pb::VariantInput {
                sku: "BAD SKU".into(),
                price: Some(pb::Money {
                    amount: "1".into(),
                    currency: "US".into(),
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    let details = String::from_utf8_lossy(err.details()).into_owned();
    for expected in [
        "variants[0].sku",
        sku_message,
        "variants[0].price.currency",
        currency_message,
    ] {
        assert!(details.contains(expected), "{expected} in {details}");
    }

    let (_, list) = t.json(Method::GET, "/api/v1/products", None).await;
    assert_eq!(list["total_count"], 0, "{list}");
}

/// A GET through the router with the administrator's token and the given extra headers.
async fn get_with(
    t: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut request = Request::get(path).header("authorization", format!("Bearer {}", t.admin));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    t.request(request.body(Body::empty()).unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_carry_an_etag_that_answers_304_until_a_write_changes_them() {
    let t = TestApp::new().await;
    let (status, created) = t
        .json(
            Method::POST,
            "/api/v1/products",
            Some(json!({"name": "Tagged", "variants": [{"sku": "TAG-1", "price": {"amount": "4", "currency": "USD"}}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let path = format!("/api/v1/products/{}", created["id"].as_str().unwrap());

    let (status, headers, body) = get_with(&t, &path, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let tag = headers["etag"].to_str().unwrap().to_owned();
    assert!(tag.starts_with("W/\""), "{tag}");
    assert!(!body.is_empty());

    // The client already holds this answer: no body is sent again.
    let (status, headers, body) = get_with(&t, &path, &[("if-none-match", &tag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(headers["etag"], tag.as_str());
    assert!(body.is_empty());
    let (status, _, _) = get_with(&t, &path, &[("if-none-match", "W/\"stale\", *")]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    // A write changes the answer, so the old tag no longer matches.
    let (status, _) = t
        .json(Method::PUT, &path, Some(json!({"name": "Retagged"})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, body) = get_with(&t, &path, &[("if-none-match", &tag)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(headers["etag"], tag.as_str());
    let shown: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(shown["name"], "Retagged");

    // GraphQL queries sent as GET are tagged the same way; a POST is not.
    let query = "/graphql?query=%7Bproducts(first%3A5)%7Bnodes%7Bname%7D%7D%7D";
    let (status, headers, _) = get_with(&t, query, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let tag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _, body) = get_with(&t, query, &[("if-none-match", &tag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    let post = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("if-none-match", &tag)
        .body(Body::from(
            r#"{"query":"{products(first:5){nodes{name}}}"}"#,
        ))
        .unwrap();
    let (status, headers, _) = t.request(post).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!headers.contains_key("etag"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_answers_are_compressed_as_the_client_asks_and_small_ones_are_not() {
    use std::io::Read as _;

    let t = TestApp::new().await;
    for i in 0..30 {
        let sku = format!("ZIP-{i}");
        t.services()
            .catalog
            .create_product(
                &t.ctx,
                crate::support::product_input(&format!("Zipped {i:02}"), &[&sku], "3"),
            )
            .await
            .unwrap();
    }
    let path = "/api/v1/products?limit=30";
    let (_, plain_headers, plain) = get_with(&t, path, &[]).await;
    assert!(!plain_headers.contains_key("content-encoding"));
    assert!(plain.len() > 1024, "{} bytes", plain.len());

    let (status, headers, zipped) = get_with(&t, path, &[("accept-encoding", "gzip")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-encoding"], "gzip");
    assert!(
        zipped.len() < plain.len() / 2,
        "{} of {} bytes",
        zipped.len(),
        plain.len()
    );
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(zipped.as_slice())
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain);

    let (_, headers, _) = get_with(&t, path, &[("accept-encoding", "br;q=1.0, gzip;q=0.5")]).await;
    assert_eq!(headers["content-encoding"], "br");

    let (_, headers, _) = get_with(&t, "/health", &[("accept-encoding", "gzip")]).await;
    assert!(
        !headers.contains_key("content-encoding"),
        "a tiny answer is sent as it is"
    );
}
