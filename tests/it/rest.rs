//! The REST door: CRUD, status codes and error bodies.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, rest_error_fields};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_crud_round_trip() {
    let t = TestApp::new().await;
    let (status, category) = t
        .json(
            Method::POST,
            "/api/v1/categories",
            Some(json!({"name": "Bags"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{category}");
    let (status, created) = t
        .json(
            Method::POST,
            "/api/v1/products",
            Some(json!({
                "name": "Tote Bag",
                "status": "active",
                "category_ids": [category["id"]],
                "variants": [{"sku": "TOTE-1", "price": {"amount": "30", "currency": "USD"}}]
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["slug"], "tote-bag");
    assert_eq!(
        created["variants"][0]["price"],
        json!({"amount": "30.00", "currency": "USD"})
    );
    assert_eq!(created["categories"][0]["name"], "Bags");
    let id = created["id"].as_str().unwrap();

    let (status, by_slug) = t.json(Method::GET, "/api/v1/products/tote-bag", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_slug["id"], id);

    let (status, updated) = t
        .json(
            Method::PUT,
            &format!("/api/v1/products/{id}"),
            Some(json!({"description": "Canvas tote"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["description"], "Canvas tote");

    let (status, variant) = t
        .json(
            Method::POST,
            &format!("/api/v1/products/{id}/variants"),
            Some(json!({"sku": "TOTE-2", "price": {"amount": "35", "currency": "USD"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, variant) = t
        .json(
            Method::PUT,
            &format!("/api/v1/variants/{}", variant["id"].as_str().unwrap()),
            Some(json!({"title": "Large"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(variant["title"], "Large");

    let (status, listed) = t
        .json(Method::GET, "/api/v1/products?limit=1&q=tote", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["total_count"], 1);
    assert_eq!(listed["items"][0]["variants"].as_array().unwrap().len(), 2);
    assert_eq!(listed["next_cursor"], serde_json::Value::Null);

    let (status, body) = t
        .json(Method::DELETE, &format!("/api/v1/products/{id}"), None)
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::NO_CONTENT, serde_json::Value::Null)
    );
    let (status, body) = t
        .json(Method::GET, &format!("/api/v1/products/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_follows_next_cursor() {
    let t = TestApp::new().await;
    t.seed_demo().await;
    let mut names = Vec::new();
    let mut path = "/api/v1/products?limit=3&sort=name_asc".to_owned();
    loop {
        let (status, page) = t.json(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/products?limit=3&sort=name_asc&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(names.len(), 8);
    let (status, filtered) = t
        .json(
            Method::GET,
            "/api/v1/products?min_price=60&max_price=100&status=active",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(filtered["total_count"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_4xx_naming_the_field() {
    let t = TestApp::new().await;
    // Well-formed JSON that breaks a rule: 422 with every field.
    let (status, body) = t
        .json(
            Method::POST,
            "/api/v1/products",
            Some(json!({"name": "", "variants": [{"sku": "A 1", "price": {"amount": "1", "currency": "usd"}}]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "VALIDATION");
    assert_eq!(rest_error_fields(&body), ["name", "variants[0].sku"]);
    // JSON of the wrong shape: 400 naming the field.
    let (status, body) = t
        .json(
            Method::POST,
            "/api/v1/products",
            Some(json!({"name": "X", "variants": [{"sku": 5}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "VALIDATION");
    assert_eq!(rest_error_fields(&body), ["variants[0].sku"]);
    let (status, body) = t
        .json(
            Method::POST,
            "/api/v1/products",
            Some(json!({"variants": []})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("name"),
        "{body}"
    );
    // A bad UUID in the path, a bad query parameter.
    let (status, body) = t
        .json(Method::PUT, "/api/v1/products/not-a-uuid", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "VALIDATION");
    let (status, body) = t
        .json(Method::GET, "/api/v1/products?limit=abc", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(rest_error_fields(&body), ["limit"]);
    let (status, body) = t
        .json(Method::GET, "/api/v1/products?limit=500", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(rest_error_fields(&body), ["limit"]);
    // A duplicate SKU is a 409.
    let product = json!({"name": "A", "variants": [{"sku": "SAME", "price": {"amount": "1", "currency": "USD"}}]});
    assert_eq!(
        t.json(Method::POST, "/api/v1/products", Some(product.clone()))
            .await
            .0,
        StatusCode::CREATED
    );
    let (status, body) = t
        .json(Method::POST, "/api/v1/products", Some(product))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["details"]["field"], "variants[0].sku");
    // Unknown routes answer in the same error shape.
    let (status, body) = t.json(Method::GET, "/api/v1/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_the_database_cannot_store_is_refused_not_a_500() {
    let t = TestApp::new().await;
    let (status, body) = t
        .json(
            Method::POST,
            "/api/v1/products",
            Some(json!({
                "name": "Nul\u{0}Name",
                "description": "x\u{0}",
                "attributes": {"k\u{0}": "v", "nested": ["\u{0}"]},
                "images": [{"url": "https://x.example/a.jpg", "alt_text": "\u{0}"}],
                "variants": [{"sku": "NUL-1", "barcode": "\u{0}", "title": "\u{0}",
                              "options": [{"name": "size", "value": "\u{0}"}],
                              "price": {"amount": "1", "currency": "USD"}}]
            })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        rest_error_fields(&body),
        [
            "name",
            "description",
            "attributes",
            "variants[0].options[0].value",
            "variants[0].title",
            "variants[0].barcode",
            "images[0].alt_text"
        ]
    );
    let (status, _) = t
        .json(
            Method::POST,
            "/api/v1/categories",
            Some(json!({"name": "a\u{0}"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = t.json(Method::GET, "/api/v1/products?q=%00tee", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = t.json(Method::GET, "/api/v1/events?types=%00", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}
