//! Lists that used to come back whole are paged (order history, users, discount codes, API keys) or
//! bounded (the StablePay reconciliation period), on every door that serves them.

use axum::http::{Method, StatusCode};
use serde_json::json;
use stateset::domain::OrderAction;
use uuid::Uuid;

use crate::support::{TestApp, rest_error_fields};

fn ids(items: &[serde_json::Value]) -> Vec<Uuid> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_history_pages_on_rest_and_graphql() {
    let t = TestApp::new().await;
    let variant = t.variant("HIST-1").await;
    t.stock(variant, 5).await;
    let order = t.order_of(variant, "history@example.com").await;
    let orders = &t.services().orders;
    for action in [
        OrderAction::Hold,
        OrderAction::Release,
        OrderAction::Hold,
        OrderAction::Release,
    ] {
        orders
            .transition(&t.ctx, order, action, Some("check".into()))
            .await
            .unwrap();
    }

    let path = format!("/api/v1/orders/{order}/history");
    let (entries, pages) = t.rest_pages(&path, 2, 5).await;
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        (actions, pages),
        (vec!["created", "hold", "release", "hold", "release"], 3),
        "every entry once, oldest first"
    );
    let (nodes, pages) = t
        .graphql_pages(
            "query($id: UUID!, $after: String) { order(id: $id) { history(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } } }",
            json!({"id": order}),
            "order/history",
            5,
        )
        .await;
    assert_eq!((ids(&nodes), pages), (ids(&entries), 3));
    let (status, body) = t.json(Method::GET, &format!("{path}?limit=0"), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(rest_error_fields(&body), ["limit"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_page_on_rest_and_graphql() {
    let t = TestApp::new().await;
    for n in 0..3 {
        t.user_token(
            &format!("staff{n}@example.com"),
            stateset::services::auth::ADMIN_ROLE,
        )
        .await;
    }
    let (_, first) = t.json(Method::GET, "/api/v1/users?limit=1", None).await;
    let total = first["total_count"].as_u64().unwrap() as usize;
    assert!(total >= 4, "the administrator and three more: {first}");
    let (users, pages) = t.rest_pages("/api/v1/users", 2, total).await;
    let mut distinct = ids(&users);
    assert_eq!(pages, total.div_ceil(2));
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), total, "every user once");
    let (nodes, _) = t
        .graphql_pages(
            "query($after: String) { users(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } }",
            json!({}),
            "users",
            total,
        )
        .await;
    assert_eq!(ids(&nodes), ids(&users), "the same order on both doors");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_period_is_bounded() {
    let t = TestApp::new().await;
    let path = "/api/v1/payments/stablepay/reconciliation";
    let (status, body) = t
        .json(
            Method::GET,
            &format!("{path}?from=2026-01-01T00:00:00Z&to=2026-04-03T00:00:01Z"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "VALIDATION");
    assert_eq!(rest_error_fields(&body), ["from"]);
    let (status, body) = t
        .json(
            Method::GET,
            &format!("{path}?from=2026-01-01T00:00:00Z&to=2026-04-03T00:00:00Z"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "92 days is allowed: {body}");
    let bad = t
        .graphql(
            r#"{ stablecoinReconciliation(from: "2025-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z") { from } }"#,
            json!({}),
        )
        .await;
    let error = &bad["errors"][0]["extensions"];
    assert_eq!(error["code"], "VALIDATION", "{bad}");
    assert!(error.to_string().contains(r#""from""#), "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discount_codes_page_on_every_door() {
    use stateset::adapters::grpc::pb;
    let t = TestApp::new().await;
    for code in ["SPRING", "autumn", "WINTER", "SUMMER", "BLACKFRIDAY"] {
        let (status, body) = t
            .json(
                Method::POST,
                "/api/v1/discounts",
                Some(json!({"code": code, "kind": "percentage", "value": "10"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (codes, pages) = t.rest_pages("/api/v1/discounts", 2, 5).await;
    let names: Vec<&str> = codes.iter().map(|c| c["code"].as_str().unwrap()).collect();
    assert_eq!(
        (names, pages),
        (
            vec!["AUTUMN", "BLACKFRIDAY", "SPRING", "SUMMER", "WINTER"],
            3
        ),
        "every code once, in code order"
    );
    let (nodes, pages) = t
        .graphql_pages(
            "query($after: String) { discountCodes(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } }",
            json!({}),
            "discountCodes",
            5,
        )
        .await;
    assert_eq!((ids(&nodes), pages), (ids(&codes), 3));

    let mut grpc = pb::pricing_service_client::PricingServiceClient::with_interceptor(
        t.serve_grpc().await,
        crate::support::BearerInterceptor(Some(t.admin.clone())),
    );
    let mut seen: Vec<Uuid> = Vec::new();
    let mut token = String::new();
    loop {
        let page = grpc
            .list_discount_codes(pb::ListDiscountCodesRequest {
                page_size: 2,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_count, 5);
        seen.extend(
            page.discount_codes
                .into_iter()
                .map(|c| c.id.parse::<Uuid>().unwrap()),
        );
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen, ids(&codes), "the same order on gRPC");

    let (status, body) = t
        .json(Method::GET, "/api/v1/discounts?cursor=nonsense", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(rest_error_fields(&body), ["cursor"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_page_newest_first_on_every_door() {
    use stateset::adapters::grpc::pb;
    let t = TestApp::new().await;
    let mut made = Vec::new();
    for name in ["first", "second", "third"] {
        let (status, body) = t
            .json(
                Method::POST,
                "/api/v1/api-keys",
                Some(json!({"name": name, "scopes": ["products:read"]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        made.push(
            body["api_key"]["id"]
                .as_str()
                .unwrap()
                .parse::<Uuid>()
                .unwrap(),
        );
    }
    made.reverse();
    let (keys, pages) = t.rest_pages("/api/v1/api-keys", 2, 3).await;
    assert_eq!((ids(&keys), pages), (made.clone(), 2), "newest first");
    let (nodes, pages) = t
        .graphql_pages(
            "query($after: String) { apiKeys(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } }",
            json!({}),
            "apiKeys",
            3,
        )
        .await;
    assert_eq!((ids(&nodes), pages), (made.clone(), 2));

    let channel = t.serve_grpc().await;
    let identity = |token: String| {
        pb::identity_service_client::IdentityServiceClient::with_interceptor(
            channel.clone(),
            crate::support::BearerInterceptor(Some(token)),
        )
    };
    let mut admin = identity(t.admin.clone());
    let mut seen: Vec<Uuid> = Vec::new();
    let mut token = String::new();
    loop {
        let page = admin
            .list_api_keys(pb::ListApiKeysRequest {
                page_size: 2,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_count, 3);
        seen.extend(page.api_keys.iter().map(|k| k.id.parse::<Uuid>().unwrap()));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen, made, "the same order on gRPC");

    // Someone without `api_keys:manage` counts only their own keys.
    let staff = t
        .user_token("keyless@example.com", stateset::services::auth::STAFF_ROLE)
        .await;
    let theirs = identity(staff)
        .list_api_keys(pb::ListApiKeysRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!((theirs.api_keys.len(), theirs.total_count), (0, 0));
}
