//! A webhook receiver the tests start: records every request and answers with the statuses
//! it is told to, in order (200 once the list runs out), optionally hanging first.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use tokio::sync::Notify;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Inner {
    received: Mutex<Vec<Received>>,
    statuses: Mutex<VecDeque<u16>>,
    hang: Mutex<Option<Duration>>,
    arrived: Notify,
}

/// A running receiver.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl Receiver {
    /// Starts a receiver answering `statuses` in turn, then 200.
    pub async fn start(statuses: &[u16]) -> Self {
        let inner = Arc::new(Inner::default());
        inner
            .statuses
            .lock()
            .unwrap()
            .extend(statuses.iter().copied());
        let router = axum::Router::new()
            .fallback(receive)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { addr, inner }
    }

    /// Makes every later request wait this long before it is answered.
    pub fn hang_for(&self, duration: Duration) {
        *self.inner.hang.lock().unwrap() = Some(duration);
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// Waits (up to 60 s) until at least `count` requests arrived; returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        self.wait_until(|received| received.len() >= count).await
    }

    /// Waits (up to 60 s) until what arrived satisfies `done`; returns it all.
    pub async fn wait_until(&self, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let arrived = self.inner.arrived.notified();
            let received = self.received();
            if done(&received) {
                return received;
            }
            assert!(
                tokio::time::timeout_at(deadline, arrived).await.is_ok(),
                "still waiting after {} deliveries",
                received.len()
            );
        }
    }
}

async fn receive(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    inner
        .received
        .lock()
        .unwrap()
        .push(Received { headers, body });
    inner.arrived.notify_waiters();
    let hang = *inner.hang.lock().unwrap();
    if let Some(hang) = hang {
        tokio::time::sleep(hang).await;
    }
    let status = inner.statuses.lock().unwrap().pop_front().unwrap_or(200);
    let status = StatusCode::from_u16(status).unwrap();
    (status, format!("answered {}", status.as_u16()))
}

/// The receiving side's check, exactly as docs/WEBHOOKS.md tells integrators to write it:
/// split `X-StateSet-Signature` into `t` and `v1`, compute HMAC-SHA256 over `"{t}.{raw body}"`
/// with the webhook's secret, compare in constant time, and refuse timestamps older than five
/// minutes. Written here independently of the server's own signing code.
pub fn verify_like_the_docs(secret: &str, header: &str, body: &[u8]) -> bool {
    use hmac::{Hmac, KeyInit as _, Mac as _};
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1.push(value.to_owned()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (chrono::Utc::now().timestamp() - t).abs() > 300 {
        return false;
    }
    v1.iter().any(|candidate| {
        let Ok(expected) = hex::decode(candidate) else {
            return false;
        };
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    })
}
