//! The shop's pricing settings over REST and GraphQL: shipping methods, tax rates, discount
//! codes, with bad input named by field and managers (not staff) in charge.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{Auth, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_set_up_shipping_taxes_and_discounts() {
    let t = TestApp::new().await;
    let manager = Auth::Bearer(
        t.user_token("m@example.com", stateset::services::auth::MANAGER_ROLE)
            .await,
    );
    let staff = Auth::Bearer(
        t.user_token("s@example.com", stateset::services::auth::STAFF_ROLE)
            .await,
    );

    let ground = json!({"name": "Ground", "carrier": "UPS", "service": "Ground", "countries": ["US"],
        "kind": "weight", "bands": [{"up_to": "1000", "rate": "5.00"}, {"up_to": "5000", "rate": "9.50"}],
        "free_over": "100", "currency": "usd", "min_days": 3, "max_days": 5});
    let (status, method) = t
        .json_as(
            &manager,
            Method::POST,
            "/api/v1/shipping-methods",
            Some(ground),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{method}");
    assert_eq!(method["currency"], "USD");
    assert_eq!(method["bands"][1]["rate"], "9.50");
    let (status, bad) = t
        .json_as(
            &manager,
            Method::POST,
            "/api/v1/shipping-methods",
            Some(json!({"name": "", "carrier": "UPS", "service": "x", "countries": ["USA"], "kind": "value",
                "bands": [{"up_to": "50", "rate": "5"}, {"up_to": "10", "rate": "1"}], "currency": "dollars",
                "min_days": 5, "max_days": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields = crate::support::rest_error_fields(&bad);
    fields.sort();
    assert_eq!(
        fields,
        [
            "bands[1].up_to",
            "countries[0]",
            "currency",
            "max_days",
            "name"
        ]
    );

    let (status, rate) = t
        .json_as(
            &manager,
            Method::POST,
            "/api/v1/tax-rates",
            Some(json!({"name": "CA sales tax", "country": "us", "region": "ca", "rate": "8.25"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rate}");
    assert_eq!(
        (rate["country"].as_str(), rate["region"].as_str()),
        (Some("US"), Some("CA"))
    );
    let (status, _) = t
        .json_as(
            &manager,
            Method::POST,
            "/api/v1/tax-rates",
            Some(json!({"name": "again", "country": "US", "region": "CA", "rate": "9"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let created = t
        .graphql_as(
            &manager,
            r#"mutation { createDiscountCode(input: {code: "welcome10", kind: PERCENTAGE, value: "10",
                usageLimit: 100, perCustomerLimit: 1}) { code kind timesUsed } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        created["data"]["createDiscountCode"]["code"], "WELCOME10",
        "{created}"
    );
    let (status, bad) = t
        .json_as(
            &manager,
            Method::POST,
            "/api/v1/discounts",
            Some(json!({"code": "x", "kind": "percentage", "value": "150"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields = crate::support::rest_error_fields(&bad);
    fields.sort();
    assert_eq!(fields, ["code", "value"]);

    let (status, _) = t
        .json_as(&staff, Method::GET, "/api/v1/shipping-methods", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, listed) = t
        .json_as(&manager, Method::GET, "/api/v1/discounts", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["items"][0]["code"], "WELCOME10");
    let id = method["id"].as_str().unwrap();
    let (status, _) = t
        .json_as(
            &manager,
            Method::DELETE,
            &format!("/api/v1/shipping-methods/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
