//! Money and trust: buyers cannot set prices or lock up stock, overrides need their own
//! permission and are recorded, and every door is guarded the same way.

use axum::http::{Method, StatusCode};
use serde_json::json;
use stateset::adapters::grpc::pb;
use stateset::services::auth::CUSTOMER_ROLE;
use tonic::Code;

use crate::support::{Auth, BearerInterceptor, TestApp};

/// A stocked variant priced at 3 USD and a customer who is also a signed-in shopper.
async fn shop(t: &TestApp) -> (uuid::Uuid, Auth) {
    let variant = t.variant("TRUST-1").await;
    t.stock(variant, 10).await;
    let shopper = Auth::Bearer(t.user_token("shopper@example.com", CUSTOMER_ROLE).await);
    (variant, shopper)
}

async fn reserved(t: &TestApp, variant: uuid::Uuid) -> i32 {
    let items = t
        .services()
        .inventory
        .items_by_variant(&t.ctx, &[variant])
        .await
        .unwrap();
    items.values().flatten().map(|i| i.reserved).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_place_orders_only_through_checkout_on_every_door() {
    let t = TestApp::new().await;
    let (variant, shopper) = shop(&t).await;
    let free = json!({"items": [{"variant_id": variant, "quantity": 5, "unit_price": "0.00",
        "discount": "0", "tax": "0"}], "shipping_total": "0"});
    let (status, body) = t
        .json_as(&shopper, Method::POST, "/api/v1/orders", Some(free))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let plain = json!({"items": [{"variant_id": variant, "quantity": 5}]});
    let (status, body) = t
        .json_as(&shopper, Method::POST, "/api/v1/orders", Some(plain))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let gql = t
        .graphql_as(
            &shopper,
            "mutation($v: UUID!) { createOrder(input: {items: [{variantId: $v, quantity: 5, unitPrice: \"0\"}]}) { id } }",
            json!({ "v": variant }),
        )
        .await;
    assert_eq!(gql["errors"][0]["extensions"]["code"], "FORBIDDEN", "{gql}");

    let Auth::Bearer(token) = &shopper else {
        unreachable!()
    };
    let channel = t.serve_grpc().await;
    let mut orders = pb::order_service_client::OrderServiceClient::with_interceptor(
        channel,
        BearerInterceptor(Some(token.clone())),
    );
    let refused = orders
        .create_order(pb::CreateOrderRequest {
            items: vec![pb::OrderLine {
                variant_id: variant.to_string(),
                quantity: 5,
                unit_price: Some("0".into()),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    assert_eq!(reserved(&t, variant).await, 0, "no stock is held");
    let (_, all) = t.json(Method::GET, "/api/v1/orders", None).await;
    assert_eq!(all["total_count"], 0, "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_overrides_need_their_own_permission_and_are_recorded() {
    let t = TestApp::new().await;
    let (variant, _) = shop(&t).await;
    let customer = t.customer("buyer@example.com").await;
    // A clerk who may place orders but not set their prices.
    let role = t
        .services()
        .access
        .create_role(
            &t.ctx,
            stateset::services::access::CreateRoleInput {
                name: "order-clerk".into(),
                description: None,
                parent_id: None,
                permissions: vec!["orders:create".into(), "orders:read".into()],
            },
        )
        .await
        .unwrap();
    let clerk_token = t.user_token("clerk@example.com", role.id).await;
    let clerk = Auth::Bearer(clerk_token.clone());
    let cheap = json!({"customer_id": customer, "items": [{"variant_id": variant, "quantity": 2,
        "unit_price": "0.01"}]});
    let (status, body) = t
        .json_as(&clerk, Method::POST, "/api/v1/orders", Some(cheap.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        body["error"]["details"]["permission"],
        "orders:override_price"
    );
    for field in ["discount", "tax"] {
        let mut line = json!({"variant_id": variant, "quantity": 1});
        line[field] = json!("1.00");
        let body = json!({"customer_id": customer, "items": [line]});
        let (status, _) = t
            .json_as(&clerk, Method::POST, "/api/v1/orders", Some(body))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{field}");
    }
    let shipping = json!({"customer_id": customer, "shipping_total": "0.00",
        "items": [{"variant_id": variant, "quantity": 1}]});
    let (status, _) = t
        .json_as(&clerk, Method::POST, "/api/v1/orders", Some(shipping))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let gql = t
        .graphql_as(
            &clerk,
            "mutation($c: UUID!, $v: UUID!) { createOrder(input: {customerId: $c, items: [{variantId: $v, quantity: 1, unitPrice: \"0\"}]}) { id } }",
            json!({ "c": customer, "v": variant }),
        )
        .await;
    assert_eq!(gql["errors"][0]["extensions"]["code"], "FORBIDDEN", "{gql}");
    let channel = t.serve_grpc().await;
    let mut orders = pb::order_service_client::OrderServiceClient::with_interceptor(
        channel,
        BearerInterceptor(Some(clerk_token)),
    );
    let refused = orders
        .create_order(pb::CreateOrderRequest {
            customer_id: Some(customer.to_string()),
            items: vec![pb::OrderLine {
                variant_id: variant.to_string(),
                quantity: 1,
                unit_price: Some("0".into()),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reserved(&t, variant).await, 0);

    // Without amounts the clerk's order is priced from the catalog.
    let plain = json!({"customer_id": customer, "items": [{"variant_id": variant, "quantity": 2}]});
    let (status, order) = t
        .json_as(&clerk, Method::POST, "/api/v1/orders", Some(plain))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(order["total"]["amount"], "6.00");

    // An administrator may override; the history says who, what and the catalog price.
    let (status, order) = t.json(Method::POST, "/api/v1/orders", Some(cheap)).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(order["total"]["amount"], "0.02");
    let id: uuid::Uuid = order["id"].as_str().unwrap().parse().unwrap();
    let history = t
        .services()
        .orders
        .order_history(&t.ctx, id, crate::support::first_page(100))
        .await
        .unwrap();
    let entry = history
        .items
        .iter()
        .map(|(_, h)| h)
        .find(|h| h.action == "price_override")
        .expect("the override is in the history");
    let admin = t.login("admin@example.com").await;
    assert_eq!(entry.actor, format!("user:{}", admin.user.id));
    assert_eq!(entry.details["fields"], json!(["items[0].unit_price"]));
    assert_eq!(entry.details["lines"][0]["catalog_unit_price"], "3");
    assert_eq!(entry.details["lines"][0]["unit_price"], "0.01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_priced_orders_take_their_tax_from_the_rules() {
    let t = TestApp::new().await;
    let (variant, _) = shop(&t).await;
    let customer = t.customer("taxed@example.com").await;
    let (status, rate) = t
        .json(
            Method::POST,
            "/api/v1/tax-rates",
            Some(json!({"name": "CA", "country": "US", "region": "CA", "rate": "10"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rate}");
    let body = json!({"customer_id": customer,
        "shipping_address": {"line1": "1 Main St", "city": "San Jose", "region": "CA", "country": "US"},
        "items": [{"variant_id": variant, "quantity": 2}]});
    let (status, order) = t.json(Method::POST, "/api/v1/orders", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(order["tax_total"]["amount"], "0.60");
    assert_eq!(order["total"]["amount"], "6.60");
}
