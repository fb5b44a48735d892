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
    let mut ready = None;
    for _ in 0..300 {
        if let Some(response) = http_get(http_port, "/health/readiness").await {
            ready = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = ready.expect("the server answered within 30 s");
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
