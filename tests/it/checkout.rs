//! Checkout end to end: a guest goes from an empty cart to a paid order through REST and
//! through GraphQL; a declined card leaves no order and no reservation; concurrent duplicate
//! completions make one order and one charge.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Auth, TestApp};

/// A shop with one stocked product (3.00, 5 in stock), flat shipping to the US (5.00) and a
/// 10% California sales tax that applies to shipping too. Returns the variant.
pub(crate) async fn shop(t: &TestApp) -> uuid::Uuid {
    let tee = t.variant("CHK-TEE").await;
    t.stock(tee, 5).await;
    let (status, _) = t
        .json(
            Method::POST,
            "/api/v1/shipping-methods",
            Some(json!({"name": "Standard", "carrier": "USPS", "service": "Ground", "countries": ["US"],
                "kind": "flat", "rate": "5", "currency": "USD", "min_days": 2, "max_days": 5})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = t
        .json(
            Method::POST,
            "/api/v1/tax-rates",
            Some(json!({"name": "CA", "country": "US", "region": "CA", "rate": "10"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    tee
}

pub(crate) fn address() -> Value {
    json!({"first_name": "Ada", "last_name": "Lovelace", "line1": "1 Main St", "city": "San Jose",
        "region": "CA", "postal_code": "95113", "country": "US"})
}

pub(crate) async fn token(t: &TestApp, number: &str) -> String {
    let (status, token) = t
        .json_as(
            &Auth::Anonymous,
            Method::POST,
            "/api/v1/payments/tokens",
            Some(json!({"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    assert!(!token.to_string().contains(&number.replace(' ', "")[..12]));
    token["id"].as_str().unwrap().to_owned()
}

/// A guest's checkout over REST, ready to complete with a card `number`; returns its id.
pub(crate) async fn ready_checkout(t: &TestApp, tee: uuid::Uuid, number: &str) -> String {
    let token = token(t, number).await;
    let (id, checkout) = ready_checkout_paying(t, tee, &token).await;
    assert_eq!(
        checkout["payment_method"]["last4"],
        number.replace(' ', "")[12..]
    );
    id
}

/// A guest's checkout over REST for two tees, shipped to California (12.10 in all), ready to
/// complete with `token`; returns its id and the checkout.
pub(crate) async fn ready_checkout_paying(
    t: &TestApp,
    tee: uuid::Uuid,
    token: &str,
) -> (String, Value) {
    let guest = Auth::Anonymous;
    let (_, cart) = t
        .json_as(
            &guest,
            Method::POST,
            "/api/v1/carts",
            Some(json!({"items": [{"variant_id": tee, "quantity": 2}]})),
        )
        .await;
    let (status, checkout) = t
        .json_as(
            &guest,
            Method::POST,
            "/api/v1/checkout",
            Some(json!({"cart_id": cart["token"], "email": "guest@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{checkout}");
    let id = checkout["id"].as_str().unwrap().to_owned();
    assert_eq!(
        checkout["missing"],
        json!(["shipping_address", "payment_token"]),
        "{checkout}"
    );
    let path = format!("/api/v1/checkout/{id}");
    let (status, checkout) = t
        .json_as(
            &guest,
            Method::PUT,
            &path,
            Some(json!({"shipping_address": address()})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{checkout}");
    assert_eq!(checkout["totals"]["tax_total"]["amount"], "0.60");
    let (status, options) = t
        .json_as(
            &guest,
            Method::GET,
            &format!("{path}/shipping-methods"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    assert_eq!(options["items"][0]["price"]["amount"], "5.00");
    let method = options["items"][0]["method_id"].clone();
    let (_, checkout) = t
        .json_as(
            &guest,
            Method::PUT,
            &path,
            Some(json!({"shipping_method_id": method})),
        )
        .await;
    assert_eq!(checkout["totals"]["shipping_total"]["amount"], "5.00");
    assert_eq!(checkout["totals"]["tax_total"]["amount"], "1.10");
    assert_eq!(checkout["totals"]["total"]["amount"], "12.10");
    let (status, checkout) = t
        .json_as(
            &guest,
            Method::PUT,
            &path,
            Some(json!({"payment_token": token})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{checkout}");
    assert_eq!(checkout["missing"], json!([]));
    (id, checkout)
}

pub(crate) async fn available(t: &TestApp, tee: uuid::Uuid) -> i64 {
    let (_, atp) = t
        .json(Method::GET, &format!("/api/v1/inventory/atp/{tee}"), None)
        .await;
    atp["available"].as_i64().unwrap()
}

/// Completes a checkout as the guest; returns the status and body.
pub(crate) async fn complete(t: &TestApp, id: &str) -> (StatusCode, Value) {
    t.json_as(
        &Auth::Anonymous,
        Method::POST,
        &format!("/api/v1/checkout/{id}/complete"),
        None,
    )
    .await
}

pub(crate) async fn order_count(t: &TestApp) -> i64 {
    let (_, orders) = t.json(Method::GET, "/api/v1/orders", None).await;
    orders["total_count"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_goes_from_an_empty_cart_to_a_paid_order_over_rest() {
    let t = TestApp::new().await;
    let tee = shop(&t).await;
    let id = ready_checkout(&t, tee, "4242 4242 4242 4242").await;
    let (status, done) = complete(&t, &id).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["order"]["total"]["amount"], "12.10");
    assert_eq!(done["order"]["status"], "pending");
    assert_eq!(done["payment"]["status"], "captured");
    assert_eq!(done["payment"]["captured"]["amount"], "12.10");
    assert_eq!(done["payment"]["card_last4"], "4242");
    assert_eq!(done["checkout"]["status"], "completed");
    assert_eq!(
        available(&t, tee).await,
        3,
        "two units reserved for the order"
    );

    // The order is a normal order, for a guest customer made from the email.
    let order_id = done["order"]["id"].as_str().unwrap();
    let (status, order) = t
        .json(Method::GET, &format!("/api/v1/orders/{order_id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order["email"], "guest@example.com");
    let (_, payment) = t
        .json(
            Method::GET,
            &format!(
                "/api/v1/payments/{}",
                done["payment"]["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(payment["order_id"], order_id);
    let types: Vec<String> = t
        .events_of(&["order.created", "payment.*"])
        .await
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(types, ["order.created", "payment.processed"]);

    // Refunds: partial, several times, never above what was captured.
    let payment_id = done["payment"]["id"].clone();
    let refund = |amount: Option<&str>| {
        let t = &t;
        let body = json!({"payment_id": payment_id, "amount": amount, "reason": "damaged"});
        async move {
            t.json(Method::POST, "/api/v1/payments/refund", Some(body))
                .await
        }
    };
    let (status, partial) = refund(Some("5.00")).await;
    assert_eq!(status, StatusCode::OK, "{partial}");
    assert_eq!(partial["status"], "partially_refunded");
    let (status, too_much) = refund(Some("8")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{too_much}");
    assert_eq!(crate::support::rest_error_fields(&too_much), ["amount"]);
    let (status, rest) = refund(None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rest["status"], "refunded");
    assert_eq!(rest["refunded"]["amount"], "12.10");
    let (status, _) = refund(Some("1")).await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing left to refund");
    assert_eq!(t.events_of(&["payment.refunded"]).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_checks_out_over_graphql_with_a_discount_code() {
    let t = TestApp::new().await;
    let tee = shop(&t).await;
    let (status, _) = t
        .json(
            Method::POST,
            "/api/v1/discounts",
            Some(json!({"code": "TENOFF", "kind": "percentage", "value": "10", "per_customer_limit": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let guest = Auth::Anonymous;
    let gql = |query: &'static str, variables: Value| {
        let t = &t;
        let guest = &guest;
        async move {
            let body = t.graphql_as(guest, query, variables).await;
            assert!(body.get("errors").is_none(), "{body}");
            body["data"].clone()
        }
    };
    let cart = gql(
        "mutation($v: UUID!) { createCart(input: {items: [{variantId: $v, quantity: 2}]}) { token } }",
        json!({"v": tee}),
    )
    .await;
    let checkout = gql(
        "mutation($c: String!) { startCheckout(input: {cartId: $c, email: \"gq@example.com\"}) { id } }",
        json!({"c": cart["createCart"]["token"]}),
    )
    .await;
    let id = checkout["startCheckout"]["id"].clone();
    let address =
        json!({"line1": "1 Main St", "city": "San Jose", "region": "CA", "country": "US"});
    gql(
        "mutation($id: UUID!, $a: AddressInput!) { updateCheckout(id: $id, input: {shippingAddress: $a}) { id } }",
        json!({"id": id, "a": address}),
    )
    .await;
    let options = gql(
        "query($id: UUID!) { checkoutShippingOptions(id: $id) { methodId price { amount } } }",
        json!({"id": id}),
    )
    .await;
    let method = options["checkoutShippingOptions"][0]["methodId"].clone();
    let token = gql(
        r#"mutation { createPaymentToken(input: {number: "4242424242424242", expMonth: 1, expYear: 2031, cvc: "999"}) { id last4 } }"#,
        json!({}),
    )
    .await;
    let updated = gql(
        "mutation($id: UUID!, $m: UUID!, $t: String!) { updateCheckout(id: $id, input: {shippingMethodId: $m, paymentToken: $t, discountCode: \"tenoff\"}) {
            missing totals { subtotal { amount } discountTotal { amount } taxTotal { amount } total { amount } } } }",
        json!({"id": id, "m": method, "t": token["createPaymentToken"]["id"]}),
    )
    .await;
    let totals = &updated["updateCheckout"]["totals"];
    assert_eq!(totals["discountTotal"]["amount"], "0.60", "{updated}");
    // (6.00 − 0.60) × 10% = 0.54, plus 0.50 on shipping.
    assert_eq!(totals["taxTotal"]["amount"], "1.04");
    assert_eq!(totals["total"]["amount"], "11.44");
    let done = gql(
        "mutation($id: UUID!) { completeCheckout(id: $id) { order { id number total { amount } } payment { status } } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(
        done["completeCheckout"]["order"]["total"]["amount"],
        "11.44"
    );
    assert_eq!(done["completeCheckout"]["payment"]["status"], "CAPTURED");
    let (_, codes) = t.json(Method::GET, "/api/v1/discounts", None).await;
    assert_eq!(codes["items"][0]["times_used"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_leaves_no_order_and_no_reservation() {
    let t = TestApp::new().await;
    let tee = shop(&t).await;
    for (number, code) in [
        ("4000 0000 0000 0002", "card_declined"),
        ("4000 0000 0000 9995", "insufficient_funds"),
    ] {
        let id = ready_checkout(&t, tee, number).await;
        let (status, declined) = complete(&t, &id).await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{declined}");
        assert_eq!(declined["error"]["code"], "PAYMENT_DECLINED");
        assert_eq!(declined["error"]["details"]["decline_code"], code);
        let (_, checkout) = t
            .json(Method::GET, &format!("/api/v1/checkout/{id}"), None)
            .await;
        assert_eq!(checkout["status"], "open", "the checkout can be retried");
    }
    assert_eq!(order_count(&t).await, 0, "no order");
    assert_eq!(available(&t, tee).await, 5, "nothing reserved");
    assert_eq!(t.events_of(&["order.*"]).await.len(), 0);
    assert_eq!(t.events_of(&["payment.failed"]).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicate_completions_make_one_order_and_one_charge() {
    let t = TestApp::with_config(|c| c.database_max_connections = 12).await;
    let tee = shop(&t).await;
    let id = ready_checkout(&t, tee, "4242424242424242").await;
    let addr = t.serve_http().await;
    let http = reqwest::Client::new();
    let attempts = (0..8).map(|_| {
        let http = http.clone();
        let url = format!("http://{addr}/api/v1/checkout/{id}/complete");
        tokio::spawn(async move {
            let response = http.post(url).send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, body)
        })
    });
    let mut orders = std::collections::BTreeSet::new();
    let mut payments = std::collections::BTreeSet::new();
    for attempt in attempts {
        let (status, body) = attempt.await.unwrap();
        assert_eq!(status, 200, "{body}");
        orders.insert(body["order"]["id"].as_str().unwrap().to_owned());
        payments.insert(body["payment"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(orders.len(), 1, "one order");
    assert_eq!(payments.len(), 1, "one charge");
    assert_eq!(order_count(&t).await, 1);
    assert_eq!(available(&t, tee).await, 3);
    assert_eq!(t.events_of(&["payment.processed"]).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_webhooks_need_a_valid_signature_and_apply_once() {
    const SECRET: &str = "whsec_stripe_test";
    let t = TestApp::with_config(|c| c.payments.stripe_webhook_secret = Some(SECRET.into())).await;
    let tee = shop(&t).await;
    let id = ready_checkout(&t, tee, "4242424242424242").await;
    let (_, done) = complete(&t, &id).await;
    let payment_id = done["payment"]["id"].as_str().unwrap().to_owned();
    // Stand in for a payment made through Stripe (PaymentIntent `pi_123`).
    {
        use diesel_async::RunQueryDsl as _;
        let mut conn = t.app.db.conn().await.unwrap();
        diesel::sql_query(format!(
            "UPDATE payments SET provider = 'stripe', provider_reference = 'pi_123' WHERE id = '{payment_id}'"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let send = |signature: Option<String>, body: String| {
        let t = &t;
        async move {
            let mut request = axum::http::Request::post("/api/v1/payments/webhooks/stripe")
                .header("content-type", "application/json");
            if let Some(signature) = signature {
                request = request.header("stripe-signature", signature);
            }
            let (status, _, body) = t
                .request(request.body(axum::body::Body::from(body)).unwrap())
                .await;
            (status, serde_json::from_slice::<Value>(&body).unwrap())
        }
    };
    let refund = |event: &str, cents: i64| {
        json!({"id": event, "type": "charge.refunded",
            "data": {"object": {"id": "ch_1", "payment_intent": "pi_123", "amount_refunded": cents}}})
        .to_string()
    };
    let sign = |body: &str| {
        stateset::auth::signature::sign(SECRET, chrono::Utc::now().timestamp(), body.as_bytes())
    };

    let body = refund("evt_1", 500);
    let forged = stateset::auth::signature::sign(
        "whsec_other",
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    );
    let (status, refused) = send(Some(forged), body.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(
        crate::support::rest_error_fields(&refused),
        ["Stripe-Signature"]
    );
    let (status, _) = send(None, body.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let stale = stateset::auth::signature::sign(
        SECRET,
        chrono::Utc::now().timestamp() - 3600,
        body.as_bytes(),
    );
    let (status, _) = send(Some(stale), body.clone()).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an old signature is a replay"
    );
    let (_, payment) = t
        .json(Method::GET, &format!("/api/v1/payments/{payment_id}"), None)
        .await;
    assert_eq!(payment["status"], "captured", "nothing applied");

    let (status, ok) = send(Some(sign(&body)), body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{ok}");
    // A redelivery of the same event is acknowledged and not applied again.
    let again = refund("evt_1", 900);
    assert_eq!(send(Some(sign(&again)), again).await.0, StatusCode::OK);
    let (_, payment) = t
        .json(Method::GET, &format!("/api/v1/payments/{payment_id}"), None)
        .await;
    assert_eq!(payment["status"], "partially_refunded");
    assert_eq!(payment["refunded"]["amount"], "5.00");
    let full = refund("evt_2", 1210);
    assert_eq!(send(Some(sign(&full)), full).await.0, StatusCode::OK);
    let (_, payment) = t
        .json(Method::GET, &format!("/api/v1/payments/{payment_id}"), None)
        .await;
    assert_eq!(payment["status"], "refunded");
    assert_eq!(payment["refunded"]["amount"], "12.10");
    assert_eq!(t.events_of(&["payment.refunded"]).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_webhooks_are_refused_until_configured() {
    let t = TestApp::new().await;
    let request = axum::http::Request::post("/api/v1/payments/webhooks/stripe")
        .header("stripe-signature", "t=1,v1=00")
        .body(axum::body::Body::from("{}"))
        .unwrap();
    assert_eq!(t.request(request).await.0, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_products_tax_class_picks_its_rate_and_cart_and_checkout_changes_are_events() {
    let t = TestApp::new().await;
    let tee = shop(&t).await;
    let (status, book) = t
        .json(
            Method::POST,
            "/api/v1/products",
            Some(
                json!({"name": "Book", "status": "active", "tax_class": "Reduced",
                "variants": [{"sku": "CHK-BOOK", "price": {"amount": "3", "currency": "USD"}}]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{book}");
    assert_eq!(book["tax_class"], "reduced", "compared without case");
    let product = book["id"].as_str().unwrap().to_owned();
    let book = book["variants"][0]["id"].clone();
    let (status, _) = t
        .json(
            Method::POST,
            "/api/v1/tax-rates",
            Some(json!({"name": "CA reduced", "country": "US", "region": "CA", "rate": "5", "tax_class": "reduced"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let guest = Auth::Anonymous;
    let (_, cart) = t
        .json_as(
            &guest,
            Method::POST,
            "/api/v1/carts",
            Some(json!({"items": [{"variant_id": tee, "quantity": 1}, {"variant_id": book, "quantity": 1}]})),
        )
        .await;
    let (_, checkout) = t
        .json_as(
            &guest,
            Method::POST,
            "/api/v1/checkout",
            Some(json!({"cart_id": cart["token"], "email": "reader@example.com"})),
        )
        .await;
    let id = checkout["id"].as_str().unwrap();
    let (status, checkout) = t
        .json_as(
            &guest,
            Method::PUT,
            &format!("/api/v1/checkout/{id}"),
            Some(json!({"shipping_address": address()})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{checkout}");
    // The tee at the standard 10% (0.30), the book at its class's 5% (0.15).
    assert_eq!(
        checkout["totals"]["tax_total"]["amount"], "0.45",
        "{checkout}"
    );

    // A product returned to the standard rates is taxed at 10% again.
    let (status, cleared) = t
        .json(
            Method::PUT,
            &format!("/api/v1/products/{product}"),
            Some(json!({"tax_class": ""})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert_eq!(cleared["tax_class"], Value::Null);
    let (_, checkout) = t
        .json_as(&guest, Method::GET, &format!("/api/v1/checkout/{id}"), None)
        .await;
    assert_eq!(checkout["totals"]["tax_total"]["amount"], "0.60");

    t.relay_and_deliver().await;
    let cart_events = t.events_of(&["cart.*"]).await;
    assert_eq!(cart_events[0].event_type, "cart.created");
    assert!(
        cart_events.iter().all(|e| e.data.get("token").is_none()),
        "a guest's cart token never travels in events"
    );
    let checkout_events: Vec<String> = t
        .events_of(&["checkout.*"])
        .await
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(checkout_events, ["checkout.created", "checkout.updated"]);
}
