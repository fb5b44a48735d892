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
        .unwrap();
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
