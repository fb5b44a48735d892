//! The real `stateset` binary as the README runs it: creates its database, loads the demo
//! catalog, serves both ports, logs JSON, and exits 0 after draining on SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::url_for;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.1 GET; `None` while nothing listens yet.
async fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    Some(response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_creates_the_database_serves_both_ports_and_drains_on_sigterm() {
    let database = crate::support::fresh_database_name();
    let (http_port, grpc_port) = (free_port(), free_port());
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stateset"))
        .args(["serve", "--seed-demo"])
        .env("DATABASE_URL", url_for(&database))
        .env("HTTP_ADDR", format!("127.0.0.1:{http_port}"))
        .env("GRPC_ADDR", format!("127.0.0.1:{grpc_port}"))
        .env("LOG_FORMAT", "json")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // Wait (bounded) for the listener; the binary first creates and migrates its database.
    let ready = wait_ready(http_port).await;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(ready.to_ascii_lowercase().contains("x-request-id:"));

    let products = http_get(http_port, "/api/v1/products").await.unwrap();
    assert!(products.starts_with("HTTP/1.1 200"), "{products}");
    assert!(
        products.contains(r#""total_count":8"#),
        "the demo catalog was loaded: {products}"
    );

    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{grpc_port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(output.status.success(), "exit status {:?}", output.status);

    let logs = String::from_utf8_lossy(&output.stdout);
    let request_line = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["route"] == "/api/v1/products")
        .unwrap_or_else(|| panic!("no JSON request log line in:\n{logs}"));
    assert_eq!(request_line["method"], "GET");
    assert_eq!(request_line["status"], 200);
    assert!(request_line["duration_ms"].is_number());
    assert!(
        request_line["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert!(logs.contains("created the database"));

    crate::support::drop_database(&database).await;
}

/// The settings both runs of the binary in [`killing_the_server_mid_stream_loses_no_committed_event`] share.
fn kill_test_env(database: &str, http_port: u16, grpc_port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", url_for(database)),
        ("HTTP_ADDR", format!("127.0.0.1:{http_port}")),
        ("GRPC_ADDR", format!("127.0.0.1:{grpc_port}")),
        (
            "JWT_SECRET",
            "kill-test-secret-kill-test-secret-0123".into(),
        ),
        ("ARGON2_MEMORY_KIB", "256".into()),
        ("ARGON2_ITERATIONS", "1".into()),
        ("RATE_LIMIT_PER_MINUTE", "100000".into()),
        ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true".into()),
        ("WEBHOOK_RETRY_INITIAL_MS", "100".into()),
        ("WEBHOOK_TIMEOUT_MS", "2000".into()),
        ("STATESET_ADMIN_PASSWORD", crate::support::PASSWORD.into()),
    ]
}

async fn start_server(env: &[(&'static str, String)], http_port: u16) -> tokio::process::Child {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stateset"))
        .arg("serve")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let ready = wait_ready(http_port).await;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    child
}

/// Waits (at most 30 s) until the server on `port` answers its readiness probe.
async fn wait_ready(port: u16) -> String {
    for _ in 0..300 {
        if let Some(response) = http_get(port, "/health/readiness").await {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not answer within 30 s");
}

/// Reads `product.created` events from a subscription until the socket ends (or, with
/// `until`, until that many arrived); returns `(sequence, product id)` pairs.
async fn follow_products(
    port: u16,
    token: &str,
    after: i64,
    until: Option<usize>,
) -> Vec<(i64, String)> {
    use futures::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = format!("ws://127.0.0.1:{port}/graphql/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init = serde_json::json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}});
    socket.send(Message::text(init.to_string())).await.unwrap();
    let query = format!(
        r#"subscription {{ events(types: ["product.created"], after: {after}) {{ sequence entityId }} }}"#
    );
    let subscribe =
        serde_json::json!({"id": "1", "type": "subscribe", "payload": {"query": query}});
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    let mut seen = Vec::new();
    while until.is_none_or(|n| seen.len() < n) {
        let message = tokio::time::timeout(Duration::from_secs(60), socket.next())
            .await
            .expect("events keep coming");
        let Some(Ok(Message::Text(text))) = message else {
            break; // the server went away
        };
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        if value["type"] == "next" {
            let event = &value["payload"]["data"]["events"];
            seen.push((
                event["sequence"].as_i64().unwrap(),
                event["entityId"].as_str().unwrap().to_owned(),
            ));
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_server_mid_stream_loses_no_committed_event() {
    use crate::support::receiver::Receiver;
    let database = crate::support::fresh_database_name();
    let (http_port, grpc_port) = (free_port(), free_port());
    let env = kill_test_env(&database, http_port, grpc_port);
    let admin = tokio::process::Command::new(env!("CARGO_BIN_EXE_stateset"))
        .args(["admin", "create", "--email", "admin@example.com"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(admin.success());
    let mut server = start_server(&env, http_port).await;
    let base = format!("http://127.0.0.1:{http_port}/api/v1");
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({"email": "admin@example.com", "password": crate::support::PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    let receiver = Receiver::start(&[]).await;
    let hook = http
        .post(format!("{base}/webhooks"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"url": receiver.url(), "event_types": ["product.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), 201);

    // A subscriber follows products while a writer creates them; the server is killed
    // (SIGKILL, no draining) part-way.
    let subscriber = tokio::spawn({
        let token = token.clone();
        async move { follow_products(http_port, &token, 0, None).await }
    });
    let created = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    // Four writers at once, so the kill lands among transactions in flight.
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let (http, base, token, created) =
                (http.clone(), base.clone(), token.clone(), created.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let body = serde_json::json!({"name": format!("Kill {writer}-{i}"),
                        "variants": [{"sku": format!("KILL-{writer}-{i}"), "price": {"amount": "1", "currency": "USD"}}]});
                    let response = http
                        .post(format!("{base}/products"))
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await;
                    match response {
                        Ok(r) if r.status() == 201 => {
                            let product: serde_json::Value = r.json().await.unwrap();
                            created
                                .lock()
                                .unwrap()
                                .push(product["id"].as_str().unwrap().to_owned());
                        }
                        _ => return,
                    }
                }
            })
        })
        .collect();
    while created.lock().unwrap().len() < 60 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.start_kill().unwrap();
    server.wait().await.unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let before = subscriber.await.unwrap();
    let acknowledged = created.lock().unwrap().clone();

    // Restarted, the server has every committed product's event; the subscriber resumes
    // after the last one it saw and gets exactly the rest.
    let mut server = start_server(&env, http_port).await;
    let log: serde_json::Value = http
        .get(format!("{base}/events?types=product.created"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let log: Vec<(i64, String)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["sequence"].as_i64().unwrap(),
                e["entity_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for id in &acknowledged {
        assert!(
            log.iter().any(|(_, logged)| logged == id),
            "acknowledged product {id} has its event"
        );
    }
    let last_seen = before.last().map_or(0, |(sequence, _)| *sequence);
    let remaining = log.iter().filter(|(s, _)| *s > last_seen).count();
    let after = follow_products(http_port, &token, last_seen, Some(remaining)).await;
    let followed: Vec<(i64, String)> = before.into_iter().chain(after).collect();
    assert_eq!(
        followed, log,
        "the subscriber saw every committed event once, in order"
    );

    // The webhook gets every committed event too, the ones in flight at the kill included.
    let expected: std::collections::BTreeSet<String> =
        log.iter().map(|(_, id)| id.clone()).collect();
    let delivered =
        |received: &[crate::support::receiver::Received]| -> std::collections::BTreeSet<String> {
            received
                .iter()
                .map(|r| r.json()["data"]["id"].as_str().unwrap().to_owned())
                .collect()
        };
    let received = receiver
        .wait_until(|received| delivered(received).is_superset(&expected))
        .await;
    assert_eq!(delivered(&received), expected);

    server.start_kill().unwrap();
    server.wait().await.unwrap();
    crate::support::drop_database(&database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_serves_metrics_and_counts_the_events_it_dispatches() {
    let t = crate::support::TestApp::new().await;
    let port = free_port();
    let mut worker = tokio::process::Command::new(env!("CARGO_BIN_EXE_stateset"))
        .arg("worker")
        .env("DATABASE_URL", &t.db.url)
        .env("METRICS_ADDR", format!("127.0.0.1:{port}"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let ready = wait_ready(port).await;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");

    // This process writes the event; the worker's relay dispatches it and counts it.
    let (status, _) = t
        .json(
            axum::http::Method::POST,
            "/api/v1/products",
            Some(serde_json::json!({"name": "Worker tee", "variants": [{"sku": "WORKER-1", "price": {"amount": "2", "currency": "USD"}}]})),
        )
        .await;
    assert_eq!(status, axum::http::StatusCode::CREATED);
    let counted = r#"events_published_total{type="product.created"} 1"#;
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = http_get(port, "/metrics").await.unwrap_or_default();
        if metrics.contains(counted) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(metrics.contains(counted), "{metrics}");
    assert!(metrics.contains("database_connections"), "{metrics}");

    let pid = worker.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(20), worker.wait())
        .await
        .expect("the worker stops on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}
