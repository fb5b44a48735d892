//! The demo shop (`serve --seed-demo`) is a working shop: seeding twice changes nothing, and
//! a guest buys from it end to end over REST with shipping, tax and the demo discount code.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use stateset::seed::{DEMO_DISCOUNT_CODE, SeedReport};

use crate::support::{Auth, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_twice_loads_the_shop_once() {
    let t = TestApp::new().await;
    let first = stateset::seed::demo(t.services()).await.unwrap();
    assert_eq!(
        first,
        SeedReport {
            categories_created: 7,
            products_created: 8,
            shipping_methods_created: 3,
            tax_rates_created: 3,
            discount_codes_created: 1,
        }
    );
    let second = stateset::seed::demo(t.services()).await.unwrap();
    assert_eq!(second, SeedReport::default(), "nothing is created twice");
    let pricing = &t.services().pricing;
    assert_eq!(pricing.shipping_methods(&t.ctx).await.unwrap().len(), 3);
    assert_eq!(pricing.tax_rates(&t.ctx).await.unwrap().len(), 3);
    let codes = pricing
        .discount_codes(
            &t.ctx,
            stateset::services::page::PageRequest {
                size: None,
                after: None,
                size_field: "limit",
                cursor_field: "cursor",
                with_total: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(codes.total_count, 1);
    assert_eq!(codes.items[0].1.code, DEMO_DISCOUNT_CODE);
}

/// One anonymous REST call; asserts the status and returns the body.
async fn guest(
    t: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    want: StatusCode,
) -> Value {
    let (status, value) = t.json_as(&Auth::Anonymous, method, path, body).await;
    assert_eq!(status, want, "{path}: {value}");
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_buys_from_the_demo_shop_over_rest() {
    let t = TestApp::new().await;
    t.seed_demo().await;
    let product = guest(
        &t,
        Method::GET,
        "/api/v1/products/classic-cotton-tee",
        None,
        StatusCode::OK,
    )
    .await;
    let tee = product["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["sku"] == "TEE-CLASSIC-BLK-M")
        .unwrap()["id"]
        .clone();
    let cart = guest(
        &t,
        Method::POST,
        "/api/v1/carts",
        Some(json!({"items": [{"variant_id": tee, "quantity": 2}]})),
        StatusCode::CREATED,
    )
    .await;
    let checkout = guest(
        &t,
        Method::POST,
        "/api/v1/checkout",
        Some(json!({"cart_id": cart["token"], "email": "demo@example.com"})),
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/api/v1/checkout/{}", checkout["id"].as_str().unwrap());
    let address = json!({"first_name": "Ada", "last_name": "Lovelace", "line1": "1 Main St",
        "city": "San Jose", "region": "CA", "postal_code": "95113", "country": "US"});
    guest(
        &t,
        Method::PUT,
        &path,
        Some(json!({"shipping_address": address})),
        StatusCode::OK,
    )
    .await;
    let options = guest(
        &t,
        Method::GET,
        &format!("{path}/shipping-methods"),
        None,
        StatusCode::OK,
    )
    .await;
    let names: Vec<&str> = options["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Standard", "Express"], "US methods only: {options}");
    let token = guest(
        &t,
        Method::POST,
        "/api/v1/payments/tokens",
        Some(
            json!({"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}),
        ),
        StatusCode::CREATED,
    )
    .await;
    let ready = guest(
        &t,
        Method::PUT,
        &path,
        Some(
            json!({"shipping_method_id": options["items"][0]["method_id"],
            "discount_code": DEMO_DISCOUNT_CODE.to_lowercase(), "payment_token": token["id"]}),
        ),
        StatusCode::OK,
    )
    .await;
    assert_eq!(ready["missing"], json!([]), "{ready}");
    let totals = &ready["totals"];
    // 2 × 25.00 less 10%, Standard shipping 5.00, 7.25% California tax on both, per line.
    assert_eq!(totals["subtotal"]["amount"], "50.00", "{ready}");
    assert_eq!(totals["discount_total"]["amount"], "5.00");
    assert_eq!(totals["shipping_total"]["amount"], "5.00");
    assert_eq!(totals["tax_total"]["amount"], "3.62");
    assert_eq!(totals["total"]["amount"], "53.62");
    let done = guest(
        &t,
        Method::POST,
        &format!("{path}/complete"),
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["checkout"]["status"], "completed");
    assert_eq!(done["payment"]["status"], "captured");
    assert_eq!(done["order"]["total"]["amount"], "53.62");
}
