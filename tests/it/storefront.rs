//! Storefronts read stock without signing in: the level always, the units for sale unless the
//! merchant shows levels only; staff keep the numbers and the locations.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Auth, TestApp, product_input};

const STOCK: &str =
    "query($id: UUID!) { product(id: $id) { variants { sku stockLevel available } } }";

/// A product on sale with four variants: 10 for sale, 3 (low), none (all reserved) and one
/// that is not stock-tracked. Returns the product id.
async fn stocked_product(t: &TestApp) -> uuid::Uuid {
    let product = t
        .services()
        .catalog
        .create_product(
            &t.ctx,
            product_input("Socks", &["SOCK-A", "SOCK-B", "SOCK-C", "SOCK-D"], "8"),
        )
        .await
        .unwrap();
    let ids: Vec<_> = product.variants.iter().map(|v| v.id).collect();
    t.stock(ids[0], 10).await;
    t.stock(ids[1], 3).await;
    t.stock(ids[2], 1).await;
    t.services()
        .inventory
        .reserve_variant(
            &t.ctx,
            ids[2],
            serde_json::from_value(json!({"quantity": 1})).unwrap(),
        )
        .await
        .unwrap();
    product.product.id
}

fn by_sku(answer: &Value) -> Vec<(String, Value, Value)> {
    answer["data"]["product"]["variants"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|v| {
            (
                v["sku"].as_str().unwrap().to_owned(),
                v["stockLevel"].clone(),
                v["available"].clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_storefront_reads_units_and_levels_of_products_on_sale() {
    let t = TestApp::new().await;
    let product = stocked_product(&t).await;
    let answer = t
        .graphql_as(&Auth::Anonymous, STOCK, json!({"id": product}))
        .await;
    assert!(answer["errors"].is_null(), "{answer}");
    assert_eq!(
        by_sku(&answer),
        [
            ("SOCK-A".into(), json!("IN_STOCK"), json!(10)),
            ("SOCK-B".into(), json!("LOW_STOCK"), json!(3)),
            ("SOCK-C".into(), json!("OUT_OF_STOCK"), json!(0)),
            ("SOCK-D".into(), json!("IN_STOCK"), json!(0)),
        ]
    );
    // Locations stay staff-only.
    let locations = t
        .graphql_as(
            &Auth::Anonymous,
            "query($id: UUID!) { product(id: $id) { variants { inventory { onHand } } } }",
            json!({"id": product}),
        )
        .await;
    assert_eq!(
        locations["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{locations}"
    );

    let (status, rest) = t
        .json_as(
            &Auth::Anonymous,
            Method::GET,
            &format!("/api/v1/products/{product}/availability"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rest}");
    assert_eq!(rest[1]["sku"], "SOCK-B");
    assert_eq!(rest[1]["stock_level"], "low_stock");
    assert_eq!(rest[1]["available"], 3);
    assert_eq!(
        rest[3]["available"],
        Value::Null,
        "not stock-tracked: {rest}"
    );

    // A product not on sale shows nothing of its stock.
    let draft = t
        .services()
        .catalog
        .create_product(
            &t.ctx,
            serde_json::from_value(json!({"name": "Draft", "status": "draft",
                "variants": [{"sku": "DRAFT-1", "price": {"amount": "1", "currency": "USD"}}]}))
            .unwrap(),
        )
        .await
        .unwrap();
    let (status, _) = t
        .json_as(
            &Auth::Anonymous,
            Method::GET,
            &format!("/api/v1/products/{}/availability", draft.product.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let hidden = t
        .graphql_as(
            &Auth::Anonymous,
            "query($id: UUID!) { product(id: $id) { variants { stockLevel } } }",
            json!({"id": draft.product.id}),
        )
        .await;
    assert_eq!(
        hidden["data"]["product"]["variants"][0]["stockLevel"],
        Value::Null,
        "{hidden}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_can_show_levels_only_and_staff_still_see_the_numbers() {
    let t = TestApp::with_config(|c| {
        c.storefront.stock_display = stateset::config::StockDisplay::Level;
        c.storefront.low_stock_threshold = 2;
    })
    .await;
    let product = stocked_product(&t).await;
    let levels = t
        .graphql_as(
            &Auth::Anonymous,
            "query($id: UUID!) { product(id: $id) { variants { sku stockLevel } } }",
            json!({"id": product}),
        )
        .await;
    let shown: Vec<_> = levels["data"]["product"]["variants"]
        .as_array()
        .unwrap_or_else(|| panic!("{levels}"))
        .iter()
        .map(|v| v["stockLevel"].clone())
        .collect();
    // The threshold is 2: three socks are plenty.
    assert_eq!(
        shown,
        [
            json!("IN_STOCK"),
            json!("IN_STOCK"),
            json!("OUT_OF_STOCK"),
            json!("IN_STOCK")
        ]
    );
    let numbers = t
        .graphql_as(&Auth::Anonymous, STOCK, json!({"id": product}))
        .await;
    let error = &numbers["errors"][0];
    assert_eq!(error["extensions"]["code"], "FORBIDDEN", "{numbers}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("STOREFRONT_STOCK_DISPLAY"),
        "{numbers}"
    );
    let (_, rest) = t
        .json_as(
            &Auth::Anonymous,
            Method::GET,
            &format!("/api/v1/products/{product}/availability"),
            None,
        )
        .await;
    assert_eq!(rest[0]["stock_level"], "in_stock");
    assert_eq!(rest[0]["available"], Value::Null, "{rest}");

    // Staff see the numbers whatever the storefront shows.
    let staff = t.graphql(STOCK, json!({"id": product})).await;
    assert_eq!(by_sku(&staff)[0].2, json!(10), "{staff}");
    let (_, rest) = t
        .json(
            Method::GET,
            &format!("/api/v1/products/{product}/availability"),
            None,
        )
        .await;
    assert_eq!(rest[0]["available"], 10, "{rest}");
}
