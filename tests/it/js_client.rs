//! The reference `graphql-ws` client from npm (tests/js), driven as a separate process: it
//! receives an order's changes live, and after a disconnect resumes with `after` without
//! losing or repeating an event.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use stateset::domain::OrderAction;
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::support::TestApp;

const SUBSCRIPTION: &str = "subscription($after: Int) { events(types: [\"order.*\"], after: $after) { sequence type entityId data } }";

/// `tests/js`, with its npm packages installed (once per machine, from the lock file).
async fn js_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    static INSTALL: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    INSTALL
        .get_or_init(|| async {
            if dir.join("node_modules/graphql-ws").exists() {
                return;
            }
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .status()
                .await
                .expect("npm is installed (Node.js 20 or later)");
            assert!(status.success(), "npm ci in tests/js failed");
        })
        .await;
    dir
}

struct Subscriber {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Subscriber {
    async fn start(addr: std::net::SocketAddr, token: &str, after: i64) -> Self {
        let dir = js_dir().await;
        let mut child = Command::new("node")
            .arg(dir.join("subscribe.mjs"))
            .arg(format!("ws://{addr}/graphql/ws"))
            .arg(token)
            .arg(SUBSCRIPTION)
            .arg(json!({ "after": after }).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node is installed");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, lines }
    }

    /// The next event the client printed.
    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(20), self.lines.next_line())
            .await
            .expect("an event in time")
            .unwrap()
            .expect("the client is still subscribed");
        let result: Value = serde_json::from_str(&line).unwrap();
        assert!(result.get("errors").is_none(), "{result}");
        result["data"]["events"].clone()
    }

    /// Drops the connection the hard way: the client process dies.
    async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graphql_ws_client_follows_orders_live_and_resumes_after_a_disconnect() {
    let t = TestApp::new().await;
    let order = t.order_of(t.variant("JS-1").await, "js@example.com").await;
    let orders = &t.services().orders;
    let addr = t.serve_http().await;

    let mut client = Subscriber::start(addr, &t.admin, 0).await;
    // The replayed creation shows the subscription is in place; the hold arrives live.
    let created = client.next().await;
    assert_eq!(created["type"], "order.created");
    assert_eq!(created["entityId"], order.to_string());
    orders
        .transition(&t.ctx, order, OrderAction::Hold, Some("check".into()))
        .await
        .unwrap();
    let mut seen = vec![created];
    while seen.last().unwrap()["type"] != "order.status_changed" {
        seen.push(client.next().await);
    }
    assert_eq!(seen.last().unwrap()["data"]["status"], "on_hold");
    client.kill().await;

    // While nobody listens, the order moves on.
    for action in [
        OrderAction::Release,
        OrderAction::Process,
        OrderAction::Ship,
    ] {
        orders
            .transition(&t.ctx, order, action, None)
            .await
            .unwrap();
    }
    let last_seen = seen.last().unwrap()["sequence"].as_i64().unwrap();
    let missed = t
        .services()
        .events
        .list(
            &t.ctx,
            stateset::services::events::EventQuery {
                after: Some(last_seen),
                types: vec!["order.*".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .events;
    assert!(missed.len() >= 4, "release, process, ship (+ shipped)");

    // Resuming after the last sequence seen replays exactly what was missed, then goes live.
    let mut client = Subscriber::start(addr, &t.admin, last_seen).await;
    let mut resumed = Vec::new();
    for _ in 0..missed.len() {
        resumed.push(client.next().await["sequence"].as_i64().unwrap());
    }
    let expected: Vec<i64> = missed.iter().map(|e| e.sequence).collect();
    assert_eq!(resumed, expected, "no gap and no duplicate");
    orders
        .transition(&t.ctx, order, OrderAction::Deliver, None)
        .await
        .unwrap();
    let live = client.next().await;
    assert!(live["sequence"].as_i64().unwrap() > *expected.last().unwrap());
    assert_eq!(live["data"]["status"], "delivered");
    client.kill().await;
}
