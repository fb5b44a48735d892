//! Carts through REST and GraphQL: a guest's cart found by its token, live prices and
//! availability, bad input named by field, expiry, and the merge into a customer's cart at
//! sign-in.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{Auth, PASSWORD, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_fills_a_cart_by_token_at_live_prices_and_availability() {
    let t = TestApp::new().await;
    let tee = t.variant("TEE-1").await;
    let mug = t.variant("MUG-1").await; // not stock-tracked
    t.stock(tee, 5).await;
    let guest = Auth::Anonymous;

    let (status, cart) = t.json_as(&guest, Method::POST, "/api/v1/carts", None).await;
    assert_eq!(status, StatusCode::CREATED, "{cart}");
    let token = cart["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("cart_"));
    assert_eq!(cart["items"], json!([]));
    assert_eq!(cart["purchasable"], false, "an empty cart cannot be bought");

    let items = format!("/api/v1/carts/{token}/items");
    let (status, cart) = t
        .json_as(
            &guest,
            Method::POST,
            &items,
            Some(json!({"variant_id": tee, "quantity": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    let (status, _) = t
        .json_as(
            &guest,
            Method::POST,
            &items,
            Some(json!({"variant_id": mug, "quantity": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, cart) = t
        .json_as(
            &guest,
            Method::POST,
            &items,
            Some(json!({"variant_id": tee, "quantity": 1})),
        )
        .await;
    assert_eq!(
        cart["items"].as_array().unwrap().len(),
        2,
        "same variant, same line"
    );
    assert_eq!(cart["items"][0]["quantity"], 3);
    assert_eq!(cart["items"][0]["unit_price"]["amount"], "3.00");
    assert_eq!(cart["items"][0]["line_total"]["amount"], "9.00");
    assert_eq!(cart["items"][0]["available"], 5);
    assert!(cart["items"][1]["available"].is_null(), "untracked stock");
    assert_eq!(cart["subtotal"]["amount"], "12.00");
    assert_eq!(cart["item_count"], 4);
    assert_eq!(cart["purchasable"], true);

    // More than is available is refused; bad input names the field.
    let line = cart["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, refused) = t
        .json_as(
            &guest,
            Method::PUT,
            &format!("{items}/{line}"),
            Some(json!({"quantity": 6})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "INSUFFICIENT_STOCK");
    let (status, bad) = t
        .json_as(
            &guest,
            Method::PUT,
            &format!("{items}/{line}"),
            Some(json!({"quantity": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(crate::support::rest_error_fields(&bad), ["quantity"]);
    let (status, bad) = t
        .json_as(
            &guest,
            Method::POST,
            &items,
            Some(json!({"variant_id": "00000000-0000-0000-0000-000000000000", "quantity": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        crate::support::rest_error_fields(&bad),
        ["items[0].variant_id"]
    );

    // Prices are live: a price change shows at once.
    let (status, _) = t
        .json(
            Method::PUT,
            &format!("/api/v1/variants/{tee}"),
            Some(json!({"price": {"amount": "4", "currency": "USD"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, cart) = t
        .json_as(&guest, Method::GET, &format!("/api/v1/carts/{token}"), None)
        .await;
    assert_eq!(cart["subtotal"]["amount"], "15.00");

    // Removing a line; the cart id alone is not enough for a guest.
    let (status, cart) = t
        .json_as(&guest, Method::DELETE, &format!("{items}/{line}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cart["items"].as_array().unwrap().len(), 1);
    let id = cart["id"].as_str().unwrap();
    let (status, _) = t
        .json_as(&guest, Method::GET, &format!("/api/v1/carts/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = t
        .json(Method::GET, &format!("/api/v1/carts/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "staff may look at any cart");

    // An expired cart can be read but not changed.
    t.app
        .db
        .conn()
        .await
        .map(|mut conn| async move {
            use diesel_async::RunQueryDsl as _;
            diesel::sql_query("UPDATE carts SET expires_at = now() - interval '1 minute'")
                .execute(&mut conn)
                .await
                .unwrap();
        })
        .unwrap()
        .await;
    let (status, expired) = t
        .json_as(
            &guest,
            Method::POST,
            &items,
            Some(json!({"variant_id": mug, "quantity": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{expired}");
    assert_eq!(expired["error"]["code"], "INVALID_STATE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_cart_merges_into_the_customers_cart_at_sign_in() {
    let t = TestApp::new().await;
    let (tee, cap) = (t.variant("TEE-2").await, t.variant("CAP-2").await);
    let (status, _) = t
        .json_as(
            &Auth::Anonymous,
            Method::POST,
            "/api/v1/auth/register",
            Some(json!({"email": "shopper@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let shopper = t.login("shopper@example.com").await.access_token;
    // The customer already has a cart with a tee in it ...
    let own = t
        .graphql_as(
            &Auth::Bearer(shopper.clone()),
            "mutation($v: UUID!) { createCart(input: {items: [{variantId: $v, quantity: 1}]}) { id customerId token } }",
            json!({"v": tee}),
        )
        .await;
    let own_id = own["data"]["createCart"]["id"].as_str().unwrap().to_owned();
    assert!(own["data"]["createCart"]["customerId"].is_string(), "{own}");
    // ... and, signed out, fills a guest cart.
    let guest = t
        .graphql_as(
            &Auth::Anonymous,
            "mutation($v: UUID!, $w: UUID!) { createCart(input: {items: [{variantId: $v, quantity: 2}, {variantId: $w, quantity: 1}]}) { token customerId } }",
            json!({"v": tee, "w": cap}),
        )
        .await;
    let token = guest["data"]["createCart"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(guest["data"]["createCart"]["customerId"].is_null());

    // Signing in with the guest cart's token merges it.
    let (status, _) = t
        .json_as(
            &Auth::Anonymous,
            Method::POST,
            "/api/v1/auth/login",
            Some(
                json!({"email": "shopper@example.com", "password": PASSWORD, "cart_token": token}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, cart) = t
        .json_as(
            &Auth::Bearer(shopper.clone()),
            Method::GET,
            &format!("/api/v1/carts/{own_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    let quantities: Vec<(String, i64)> = cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["sku"].as_str().unwrap().to_owned(),
                i["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        quantities,
        [("TEE-2".to_owned(), 3), ("CAP-2".to_owned(), 1)]
    );
    let merged = t
        .graphql_as(
            &Auth::Anonymous,
            "query($t: String!) { cart(id: $t) { status } }",
            json!({"t": token}),
        )
        .await;
    assert_eq!(merged["data"]["cart"]["status"], "MERGED", "{merged}");

    // Another customer cannot see it.
    let other = t
        .user_token("other@example.com", stateset::services::auth::CUSTOMER_ROLE)
        .await;
    let (status, _) = t
        .json_as(
            &Auth::Bearer(other),
            Method::GET,
            &format!("/api/v1/carts/{own_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_line_the_customers_cart_refuses_stays_on_the_guest_cart() {
    let t = TestApp::new().await;
    let (tee, cap) = (t.variant("TEE-3").await, t.variant("CAP-3").await);
    t.stock(cap, 1).await;
    let (status, _) = t
        .json_as(
            &Auth::Anonymous,
            Method::POST,
            "/api/v1/auth/register",
            Some(json!({"email": "late@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let shopper = Auth::Bearer(t.login("late@example.com").await.access_token);
    let (status, own) = t
        .json_as(
            &shopper,
            Method::POST,
            "/api/v1/carts",
            Some(json!({"items": [{"variant_id": tee, "quantity": 1}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{own}");
    let own_id = own["id"].as_str().unwrap().to_owned();
    let (status, guest) = t
        .json_as(
            &Auth::Anonymous,
            Method::POST,
            "/api/v1/carts",
            Some(json!({"items": [{"variant_id": tee, "quantity": 1}, {"variant_id": cap, "quantity": 1}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{guest}");
    let token = guest["token"].as_str().unwrap().to_owned();
    // The last cap sells before the guest signs in.
    t.services()
        .inventory
        .reserve_variant(
            &t.ctx,
            cap,
            serde_json::from_value(json!({"quantity": 1})).unwrap(),
        )
        .await
        .unwrap();

    let (status, login) = t
        .json_as(
            &Auth::Anonymous,
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"email": "late@example.com", "password": PASSWORD, "cart_token": token})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let (status, mine) = t
        .json_as(
            &shopper,
            Method::GET,
            &format!("/api/v1/carts/{own_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let lines: Vec<_> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["sku"].clone(), i["quantity"].clone()))
        .collect();
    assert_eq!(lines, [(json!("TEE-3"), json!(2))], "{mine}");
    // The refused cap is not lost: the guest cart, merged, still holds it.
    let (status, left) = t
        .json_as(
            &Auth::Anonymous,
            Method::GET,
            &format!("/api/v1/carts/{token}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{left}");
    assert_eq!(left["status"], "merged", "{left}");
    let skus: Vec<_> = left["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sku"].clone())
        .collect();
    assert_eq!(skus, [json!("CAP-3")], "{left}");
}
