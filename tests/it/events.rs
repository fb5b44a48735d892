//! The event log and live subscriptions, in-process and over a real WebSocket.

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use stateset::services::events::EventQuery;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::support::{TestApp, product_input};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_replays_from_after_then_continues_live() {
    let t = TestApp::new().await;
    let catalog = &t.services().catalog;
    let a = catalog
        .create_product(&t.ctx, product_input("A", &["A-1"], "1"))
        .await
        .unwrap();
    let b = catalog
        .create_product(&t.ctx, product_input("B", &["B-1"], "1"))
        .await
        .unwrap();
    let log = t
        .services()
        .events
        .list(&t.ctx, EventQuery::default())
        .await
        .unwrap()
        .events;
    let after_a = log
        .iter()
        .find(|e| e.entity_id == a.product.id)
        .unwrap()
        .sequence;

    let query = EventQuery {
        after: Some(after_a),
        types: vec!["product.*".into()],
        ..Default::default()
    };
    let mut feed = Box::pin(t.services().events.subscribe(&t.ctx, query).await.unwrap());
    let replayed = tokio::time::timeout(WAIT, feed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(replayed.entity_id, b.product.id);
    let c = catalog
        .create_product(&t.ctx, product_input("C", &["C-1"], "1"))
        .await
        .unwrap();
    let live = tokio::time::timeout(WAIT, feed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        live.entity_id, c.product.id,
        "live continues right after the replay, with nothing repeated"
    );
    assert!(live.sequence > replayed.sequence);
    // Events of other types are filtered out of this feed.
    catalog
        .create_category(
            &t.ctx,
            stateset::services::catalog::CreateCategoryInput {
                name: "X".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let d = catalog
        .create_product(&t.ctx, product_input("D", &["D-1"], "1"))
        .await
        .unwrap();
    let next = tokio::time::timeout(WAIT, feed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(next.entity_id, d.product.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_log_is_queryable_over_graphql_and_rest() {
    let t = TestApp::new().await;
    t.seed_demo().await;
    let body = t
        .graphql(
            r#"{ events(types: ["category.*"], first: 3) { sequence type entityId } }"#,
            json!({}),
        )
        .await;
    let events = body["data"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e["type"] == "category.created"));
    let after = events[2]["sequence"].as_i64().unwrap();
    let (status, rest) = t
        .json(
            axum::http::Method::GET,
            &format!("/api/v1/events?after={after}&types=product.created&limit=2"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let items = rest["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|e| e["type"] == "product.created" && e["sequence"].as_i64().unwrap() > after)
    );
    let (status, bad) = t
        .json(axum::http::Method::GET, "/api/v1/events?limit=0", None)
        .await;
    assert_eq!(status, 422);
    assert_eq!(bad["error"]["details"]["fields"][0]["field"], "limit");
}

async fn connect(
    addr: std::net::SocketAddr,
    protocol: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
    socket
}

async fn next_json<S>(socket: &mut S) -> Value
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message in time")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] != "ka" && value["type"] != "ping" {
                return value;
            }
        }
    }
}

const SUBSCRIPTION: &str = r#"subscription { events(types: ["product.created"], after: 0) { sequence type entityId data } }"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_transport_ws_delivers_replayed_and_live_events() {
    let t = TestApp::new().await;
    let first = t
        .services()
        .catalog
        .create_product(&t.ctx, product_input("First", &["F-1"], "1"))
        .await
        .unwrap();
    let addr = t.serve_http().await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    socket
        .send(Message::text(
            json!({"type": "connection_init", "payload": {}}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}});
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    let replayed = next_json(&mut socket).await;
    assert_eq!(replayed["type"], "next", "{replayed}");
    assert_eq!(
        replayed["payload"]["data"]["events"]["entityId"],
        first.product.id.to_string()
    );

    // A product created through another door reaches the subscriber live.
    let (status, created) = t
        .json(
            axum::http::Method::POST,
            "/api/v1/products",
            Some(json!({"name": "Second", "variants": [{"sku": "S-1", "price": {"amount": "2", "currency": "USD"}}]})),
        )
        .await;
    assert_eq!(status, 201);
    let live = next_json(&mut socket).await;
    assert_eq!(live["payload"]["data"]["events"]["type"], "product.created");
    assert_eq!(live["payload"]["data"]["events"]["entityId"], created["id"]);
    assert_eq!(
        live["payload"]["data"]["events"]["data"]["variants"][0]["sku"],
        "S-1"
    );
    socket
        .send(Message::text(
            json!({"id": "1", "type": "complete"}).to_string(),
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_graphql_ws_protocol_is_served_too() {
    let t = TestApp::new().await;
    let first = t
        .services()
        .catalog
        .create_product(&t.ctx, product_input("First", &["F-1"], "1"))
        .await
        .unwrap();
    let addr = t.serve_http().await;
    let mut socket = connect(addr, "graphql-ws").await;
    socket
        .send(Message::text(
            json!({"type": "connection_init", "payload": {}}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    let start = json!({"id": "7", "type": "start", "payload": {"query": SUBSCRIPTION}});
    socket.send(Message::text(start.to_string())).await.unwrap();
    let data = next_json(&mut socket).await;
    assert_eq!(data["type"], "data", "{data}");
    assert_eq!(data["id"], "7");
    assert_eq!(
        data["payload"]["data"]["events"]["entityId"],
        first.product.id.to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_authenticate_in_connection_init_and_see_only_what_they_may() {
    let t = TestApp::new().await;
    let addr = t.serve_http().await;
    let query = r#"subscription { events(types: ["user.*"], after: 0) { type } }"#;
    let subscribe = |token: Option<&str>| {
        let init = match token {
            Some(token) => {
                json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}})
            }
            None => json!({"type": "connection_init", "payload": {}}),
        };
        (
            init,
            json!({"id": "1", "type": "subscribe", "payload": {"query": query}}),
        )
    };

    // The administrator sees user events (their own account's creation, replayed).
    let mut socket = connect(addr, "graphql-transport-ws").await;
    let (init, start) = subscribe(Some(&t.admin));
    socket.send(Message::text(init.to_string())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    socket.send(Message::text(start.to_string())).await.unwrap();
    let event = next_json(&mut socket).await;
    assert_eq!(
        event["payload"]["data"]["events"]["type"], "user.created",
        "{event}"
    );

    // An anonymous subscriber to the same feed gets nothing of it, even live.
    let mut anonymous = connect(addr, "graphql-transport-ws").await;
    let (init, start) = subscribe(None);
    anonymous
        .send(Message::text(init.to_string()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut anonymous).await["type"], "connection_ack");
    anonymous
        .send(Message::text(start.to_string()))
        .await
        .unwrap();
    t.user_token("new@example.com", stateset::services::auth::CUSTOMER_ROLE)
        .await;
    let live = next_json(&mut socket).await;
    assert_eq!(live["payload"]["data"]["events"]["type"], "user.created");
    let nothing = tokio::time::timeout(Duration::from_millis(300), anonymous.next()).await;
    assert!(
        nothing.is_err(),
        "no user event reached the anonymous subscriber"
    );

    // Bad credentials in connection_init are refused.
    let mut bad = connect(addr, "graphql-transport-ws").await;
    let (init, _) = subscribe(Some("not-a-token"));
    bad.send(Message::text(init.to_string())).await.unwrap();
    let refused = tokio::time::timeout(WAIT, bad.next()).await.unwrap();
    assert!(
        matches!(refused, Some(Ok(Message::Close(_))) | None | Some(Err(_))),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_feeds_follow_orders_and_stock_and_customers_see_only_theirs() {
    use stateset::domain::{LocationKind, OrderAction, OrderStatus};
    use stateset::services::customers::CreateCustomerInput;
    use stateset::services::inventory::{CreateLocationInput, ReceiveInput};
    use stateset::services::orders::{CreateOrderInput, OrderLineInput};

    let t = TestApp::new().await;
    let variant = t
        .services()
        .catalog
        .create_product(&t.ctx, product_input("Feed", &["FEED-1"], "3"))
        .await
        .unwrap()
        .variants[0]
        .id;
    let shopper_token = t
        .user_token(
            "shopper@example.com",
            stateset::services::auth::CUSTOMER_ROLE,
        )
        .await;
    let shopper_ctx = stateset::services::Ctx::new(
        t.services()
            .auth
            .authenticate(&stateset::services::auth::Credentials::Bearer(
                shopper_token,
            ))
            .await
            .unwrap(),
        "test".into(),
        None,
    );
    let shopper = t
        .services()
        .customers
        .my_customer(&shopper_ctx)
        .await
        .unwrap()
        .id;
    let other = t
        .services()
        .customers
        .create_customer(
            &t.ctx,
            CreateCustomerInput {
                email: "o@example.com".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    let order_for = |customer| CreateOrderInput {
        customer_id: Some(customer),
        items: vec![OrderLineInput {
            variant_id: variant,
            quantity: 1,
            unit_price: None,
            discount: None,
            tax: None,
        }],
        ..Default::default()
    };

    let mut mine = Box::pin(
        t.services()
            .orders
            .watch(&shopper_ctx, None, false)
            .await
            .unwrap(),
    );
    let theirs = t
        .services()
        .orders
        .create_order(&t.ctx, order_for(other))
        .await
        .unwrap()
        .order
        .id;
    let own = t
        .services()
        .orders
        .create_order(&t.ctx, order_for(shopper))
        .await
        .unwrap()
        .order
        .id;
    let first = tokio::time::timeout(WAIT, mine.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        first.id, own,
        "another customer's order {theirs} never reaches this feed"
    );
    t.services()
        .orders
        .transition(&t.ctx, own, OrderAction::Hold, Some("check".into()))
        .await
        .unwrap();
    let held = tokio::time::timeout(WAIT, mine.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!((held.id, held.status), (own, OrderStatus::OnHold));
    // The raw event feed agrees: the shopper sees their order's events only.
    let visible = t
        .services()
        .events
        .list(
            &shopper_ctx,
            EventQuery {
                types: vec!["order.*".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .events;
    assert!(!visible.is_empty() && visible.iter().all(|e| e.entity_id == own));

    // Stock: the current level first, then each change.
    let location = t
        .services()
        .inventory
        .create_location(
            &t.ctx,
            CreateLocationInput {
                code: "WH".into(),
                name: "WH".into(),
                kind: LocationKind::Warehouse,
                priority: None,
                address: None,
            },
        )
        .await
        .unwrap()
        .id;
    let mut stock = Box::pin(
        t.services()
            .inventory
            .watch(&t.ctx, "FEED-1")
            .await
            .unwrap(),
    );
    let now = tokio::time::timeout(WAIT, stock.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(now.available, 0);
    let receipt = ReceiveInput {
        variant_id: variant,
        location_id: location,
        quantity: 7,
        lot_code: None,
        expires_at: None,
        reason: None,
    };
    t.services()
        .inventory
        .receive(&t.ctx, receipt)
        .await
        .unwrap();
    let after = tokio::time::timeout(WAIT, stock.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(after.available, 7);
    assert_eq!(
        t.services()
            .inventory
            .watch(&t.ctx, "NOPE")
            .await
            .err()
            .unwrap()
            .code(),
        "VALIDATION"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_updated_over_graphql_transport_ws() {
    use stateset::domain::OrderAction;
    let t = TestApp::new().await;
    let order = t.order_of(t.variant("WS-1").await, "ws@example.com").await;
    let addr = t.serve_http().await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    let init = json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", t.admin)}});
    socket.send(Message::text(init.to_string())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    let query =
        format!(r#"subscription {{ orderUpdated(id: "{order}") {{ number status holdReason }} }}"#);
    socket
        .send(Message::text(
            json!({"id": "1", "type": "subscribe", "payload": {"query": query}}).to_string(),
        ))
        .await
        .unwrap();
    // Following one order starts with where it stands; after that, every change.
    let current = next_json(&mut socket).await;
    assert_eq!(
        current["payload"]["data"]["orderUpdated"]["status"], "PENDING",
        "{current}"
    );
    t.services()
        .orders
        .transition(&t.ctx, order, OrderAction::Hold, Some("address".into()))
        .await
        .unwrap();
    let update = next_json(&mut socket).await;
    assert_eq!(
        update["payload"]["data"]["orderUpdated"]["status"], "ON_HOLD",
        "{update}"
    );
    assert_eq!(
        update["payload"]["data"]["orderUpdated"]["holdReason"],
        "address"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relays_dispatch_every_event_exactly_once_in_order() {
    let t = TestApp::new().await;
    t.seed_demo().await;
    let total = t
        .services()
        .events
        .list(&t.ctx, EventQuery::default())
        .await
        .unwrap()
        .events
        .len();
    let second = stateset::app::App::new(crate::support::test_config(&t.db.url)).unwrap();
    let relay = |app: stateset::app::AppState| {
        tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let batch = app.relay.dispatch_batch().await.unwrap();
                if batch.is_empty() {
                    return seen;
                }
                seen.extend(batch.into_iter().map(|e| e.sequence));
            }
        })
    };
    let (a, b) = (relay(t.app.clone()), relay(second.clone()));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert!(
        a.windows(2).all(|w| w[0] < w[1]) && b.windows(2).all(|w| w[0] < w[1]),
        "each relay goes in sequence order"
    );
    let mut all: Vec<i64> = a.iter().chain(&b).copied().collect();
    all.sort();
    all.dedup();
    assert_eq!(
        all.len(),
        a.len() + b.len(),
        "no event was dispatched twice"
    );
    assert!(all.len() >= total, "every event was dispatched");
    assert!(t.app.relay.dispatch_batch().await.unwrap().is_empty());
    // Whichever relay dispatched them counted them.
    let mut counted = String::new();
    for app in [t.app.clone(), second] {
        let router = stateset::http::router(app);
        let request = axum::http::Request::get("/metrics")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        counted.push_str(&String::from_utf8_lossy(&body));
    }
    assert!(
        counted.contains("events_published_total{type=\"product.created\"}"),
        "{counted}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipment_updates_follow_one_order_through_shipping_and_delivery() {
    use stateset::domain::OrderAction;
    let t = TestApp::new().await;
    let variant = t.variant("SHIP-1").await;
    t.stock(variant, 10).await;
    let order = t.order_of(variant, "a@example.com").await;
    let other = t.order_of(variant, "b@example.com").await;
    let mut shipments = Box::pin(
        t.services()
            .orders
            .watch_shipments(&t.ctx, order)
            .await
            .unwrap(),
    );
    let orders = &t.services().orders;
    for action in [OrderAction::Process, OrderAction::Ship] {
        orders
            .transition(&t.ctx, other, action, None)
            .await
            .unwrap();
        orders
            .transition(&t.ctx, order, action, None)
            .await
            .unwrap();
    }
    orders
        .transition(&t.ctx, order, OrderAction::Deliver, None)
        .await
        .unwrap();
    // The order's own milestones and its shipments' events, nothing of the other order.
    let mut seen = Vec::new();
    for _ in 0..5 {
        let event = tokio::time::timeout(WAIT, shipments.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let about = if event.event_type.starts_with("shipment.") {
            event.data["order_id"].as_str().unwrap().parse().unwrap()
        } else {
            event.entity_id
        };
        assert_eq!(about, order, "only the followed order's shipments");
        seen.push(event.event_type);
    }
    assert_eq!(
        seen,
        [
            "shipment.created",
            "shipment.shipped",
            "order.shipped",
            "shipment.delivered",
            "order.delivered"
        ]
    );

    // Business counters are counted by the instance that committed the change, relay or not.
    orders
        .transition(&t.ctx, order, OrderAction::Complete, None)
        .await
        .unwrap();
    let metrics = t.metrics().await;
    assert!(metrics.contains("orders_created_total 2"), "{metrics}");
    assert!(metrics.contains("orders_completed_total 1"), "{metrics}");
    assert!(
        metrics.contains("inventory_reservations_total 2"),
        "{metrics}"
    );
    // Events are counted by the relay that dispatched them.
    t.relay_and_deliver().await;
    let metrics = t.metrics().await;
    assert!(
        metrics.contains("events_published_total{type=\"order.shipped\"} 2"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("returns_processed_total"),
        "no counter for a domain that does not exist yet"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_checkout_is_counted_as_an_order_a_reservation_and_a_payment() {
    let t = TestApp::new().await;
    let tee = crate::checkout::shop(&t).await;
    let id = crate::checkout::ready_checkout(&t, tee, "4242 4242 4242 4242").await;
    let before = t.metrics().await;
    assert!(before.contains("payments_processed_total 0"), "{before}");
    let (status, body) = t
        .json_as(
            &crate::support::Auth::Anonymous,
            axum::http::Method::POST,
            &format!("/api/v1/checkout/{id}/complete"),
            None,
        )
        .await;
    assert_eq!(status, axum::http::StatusCode::OK, "{body}");
    let metrics = t.metrics().await;
    assert!(metrics.contains("orders_created_total 1"), "{metrics}");
    assert!(metrics.contains("payments_processed_total 1"), "{metrics}");
    assert!(
        metrics.contains("inventory_reservations_total 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_committed_through_one_instance_reaches_a_subscriber_of_another() {
    let a = TestApp::new().await;
    // Instance B: its own application, listener and HTTP server on the same database.
    let b = stateset::app::App::new(crate::support::test_config(&a.db.url)).unwrap();
    let (stop_b, stopped_b) = tokio::sync::watch::channel(false);
    b.bus
        .start_listener(a.db.url.clone(), stopped_b)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr_b = listener.local_addr().unwrap();
    let router = stateset::http::router(b.clone())
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await });

    let first = a
        .json(
            axum::http::Method::POST,
            "/api/v1/products",
            Some(json!({"name": "Via A", "variants": [{"sku": "A-1", "price": {"amount": "2", "currency": "USD"}}]})),
        )
        .await
        .1;
    let mut socket = connect(addr_b, "graphql-transport-ws").await;
    let init = json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", a.admin)}});
    socket.send(Message::text(init.to_string())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    socket
        .send(Message::text(
            json!({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}).to_string(),
        ))
        .await
        .unwrap();
    // The replayed event shows B's subscription is registered ...
    let replayed = next_json(&mut socket).await;
    assert_eq!(
        replayed["payload"]["data"]["events"]["entityId"],
        first["id"]
    );
    // ... and what A commits next reaches it live, through PostgreSQL LISTEN/NOTIFY.
    let second = a
        .json(
            axum::http::Method::POST,
            "/api/v1/products",
            Some(json!({"name": "Also via A", "variants": [{"sku": "A-2", "price": {"amount": "2", "currency": "USD"}}]})),
        )
        .await
        .1;
    let live = next_json(&mut socket).await;
    assert_eq!(
        live["payload"]["data"]["events"]["entityId"], second["id"],
        "{live}"
    );
    let metrics = reqwest::get(format!("http://{addr_b}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("graphql_subscriptions_active 1"),
        "{metrics}"
    );
    let _ = stop_b.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_that_cannot_keep_up_is_closed_with_code_4008() {
    use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
    let t = TestApp::new().await;
    let addr = t.serve_http().await;
    let mut conn = diesel_async::AsyncPgConnection::establish(&t.db.url)
        .await
        .unwrap();
    let flood = |count: i32| {
        diesel::sql_query(format!(
            "INSERT INTO outbox (id, event_type, entity_type, entity_id, data) \
             SELECT gen_random_uuid(), 'flood.test', 'flood', gen_random_uuid(), \
                 jsonb_build_object('pad', repeat('x', 8000)) \
             FROM generate_series(1, {count})"
        ))
    };
    flood(1).execute(&mut conn).await.unwrap();

    let mut socket = connect(addr, "graphql-transport-ws").await;
    let init = json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", t.admin)}});
    socket.send(Message::text(init.to_string())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    let query = r#"subscription { events(types: ["flood.*"], after: 0) { sequence data } }"#;
    socket
        .send(Message::text(
            json!({"id": "1", "type": "subscribe", "payload": {"query": query}}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "next");

    // 6000 events of 8 KB while the client reads nothing: the socket buffers hold a few MB,
    // so the subscription falls more than the bus's 4096 events behind.
    flood(6000).execute(&mut conn).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut received = 0;
    let close = loop {
        let message = tokio::time::timeout(Duration::from_secs(60), socket.next())
            .await
            .unwrap_or_else(|_| panic!("the server closes the socket (after {received} frames)"))
            .expect("a close frame before the stream ends")
            .unwrap();
        match message {
            Message::Close(frame) => break frame.expect("a close code"),
            Message::Text(_) => received += 1,
            _ => {}
        }
    };
    assert_eq!(u16::from(close.code), 4008, "{close:?}");
    assert!(close.reason.contains("too slow"), "{close:?}");
    assert!(
        received < 6000,
        "the subscriber did not get everything buffered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_go_out_in_sequence_order_even_when_commits_do_not() {
    use diesel_async::{AsyncConnection as _, SimpleAsyncConnection as _};
    let t = TestApp::new().await;
    let mut feed = Box::pin(
        t.services()
            .events
            .subscribe(
                &t.ctx,
                EventQuery {
                    after: Some(t.services().events.head().await.unwrap()),
                    types: vec!["race.*".into()],
                    ..Default::default()
                },
            )
            .await
            .unwrap(),
    );
    let connect = || diesel_async::AsyncPgConnection::establish(&t.db.url);
    let (mut first, mut second) = (connect().await.unwrap(), connect().await.unwrap());
    let insert = |name: &str| {
        format!(
            "INSERT INTO outbox (id, event_type, entity_type, entity_id, data) \
             VALUES (gen_random_uuid(), 'race.{name}', 'race', gen_random_uuid(), '{{}}')"
        )
    };
    // `first` draws the lower number but commits last.
    first
        .batch_execute(&format!("BEGIN; {}", insert("first")))
        .await
        .unwrap();
    second
        .batch_execute(&format!("BEGIN; {}; COMMIT", insert("second")))
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(500), feed.next())
            .await
            .is_err(),
        "nothing goes out while a lower number may still commit"
    );
    first.batch_execute("COMMIT").await.unwrap();
    let a = tokio::time::timeout(WAIT, feed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let b = tokio::time::timeout(WAIT, feed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (a.event_type.as_str(), b.event_type.as_str()),
        ("race.first", "race.second")
    );
    assert_eq!(a.sequence + 1, b.sequence);

    // A number whose transaction rolls back holds the feed only until that transaction ends.
    first
        .batch_execute(&format!("BEGIN; {}", insert("rolled_back")))
        .await
        .unwrap();
    second
        .batch_execute(&format!("BEGIN; {}; COMMIT", insert("after")))
        .await
        .unwrap();
    first.batch_execute("ROLLBACK").await.unwrap();
    let c = tokio::time::timeout(WAIT, feed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(c.event_type, "race.after");
    assert_eq!(
        c.sequence,
        b.sequence + 2,
        "the rolled-back number was skipped"
    );
}
