//! Webhook transport: the signed HTTP request of one delivery attempt, sent through a client
//! that refuses private addresses after DNS resolution (SSRF), and the relay's step that turns
//! dispatched events into deliveries owed.
//!
//! The rules about deliveries (backoff, giving up, disabling a webhook) live in
//! `services::webhooks`; this module only moves bytes and records nothing.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use futures::future::BoxFuture;
use uuid::Uuid;

use crate::config::WebhookSettings;
use crate::events::relay::DeliverySink;
use crate::services::Error;
use stateset_db::webhooks::{self as q, NewDelivery};
use stateset_domain::TypePatterns;
use stateset_domain::{DeliveryStatus, Event};

/// Most bytes of a receiver's answer kept in the delivery log.
const EXCERPT_BYTES: usize = 1024;

/// The JSON body of a webhook delivery.
pub fn payload(event: &Event) -> serde_json::Value {
    serde_json::json!({
        "id": event.id,
        "event": event.event_type,
        "timestamp": event.occurred_at,
        "sequence": event.sequence,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "data": event.data,
    })
}

/// The relay's sink for our own webhooks: owes each active webhook every event it subscribed
/// to.
pub struct Subscriptions;

impl DeliverySink for Subscriptions {
    fn owe<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        events: &'a [Event],
        give_up_at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<usize, Error>> {
        Box::pin(async move { Ok(enqueue(conn, events, give_up_at).await?) })
    }
}

async fn enqueue(
    conn: &mut AsyncPgConnection,
    events: &[Event],
    give_up_at: DateTime<Utc>,
) -> diesel::QueryResult<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    let subscriptions = q::active_subscriptions(conn).await?;
    if subscriptions.is_empty() {
        return Ok(0);
    }
    let now = Utc::now();
    let mut rows = Vec::new();
    for (webhook_id, patterns) in subscriptions {
        // Stored patterns were validated when saved; one that no longer parses matches nothing.
        let Ok(patterns) = TypePatterns::parse(&patterns) else {
            continue;
        };
        for event in events.iter().filter(|e| patterns.matches(&e.event_type)) {
            rows.push(NewDelivery {
                id: Uuid::now_v7(),
                webhook_id,
                event_id: event.id,
                event_sequence: Some(event.sequence),
                event_type: event.event_type.clone(),
                payload: payload(event),
                status: DeliveryStatus::Pending.as_str(),
                next_attempt_at: Some(now),
                give_up_at,
            });
        }
    }
    q::insert_deliveries(conn, &rows).await
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    /// The receiver's status; `None` when no response came back.
    pub status_code: Option<u16>,
    pub duration: Duration,
    pub response_excerpt: Option<String>,
    /// Why no acceptable response came back.
    pub error: Option<String>,
}

impl AttemptOutcome {
    /// Only a 2xx answer acknowledges a delivery.
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

/// One delivery request to make.
pub struct Outgoing<'a> {
    pub url: &'a str,
    pub secret: &'a str,
    pub delivery_id: Uuid,
    pub event_id: Uuid,
    pub event_type: &'a str,
    pub payload: &'a serde_json::Value,
    /// An Agentic Commerce Protocol order event: signed in `Merchant-Signature`.
    pub acp: bool,
}

/// Sends signed deliveries.
pub struct WebhookSender {
    client: reqwest::Client,
    allow_private_networks: bool,
}

impl WebhookSender {
    pub fn new(settings: &WebhookSettings) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // A redirect could lead anywhere, including past the address check.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("StateSet-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !settings.allow_private_networks {
            builder = builder.dns_resolver(PublicOnlyResolver);
        }
        Ok(Self {
            client: builder.build()?,
            allow_private_networks: settings.allow_private_networks,
        })
    }

    /// Makes one attempt. Never fails: every problem is part of the outcome.
    pub async fn send(&self, outgoing: &Outgoing<'_>) -> AttemptOutcome {
        let started = Instant::now();
        let failed = |error: String| AttemptOutcome {
            status_code: None,
            duration: started.elapsed(),
            response_excerpt: None,
            error: Some(error),
        };
        if let Err(refusal) = check_url(outgoing.url, self.allow_private_networks) {
            return failed(refusal);
        }
        let body = match serde_json::to_vec(outgoing.payload) {
            Ok(body) => body,
            Err(err) => return failed(format!("cannot encode the payload: {err}")),
        };
        let signature =
            crate::auth::signature::sign(outgoing.secret, Utc::now().timestamp(), &body);
        let request = self
            .client
            .post(outgoing.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        let request = if outgoing.acp {
            request
                .header("Merchant-Signature", signature)
                .header("Request-Id", outgoing.delivery_id.to_string())
        } else {
            request
                .header("X-StateSet-Signature", signature)
                .header("X-StateSet-Event-Id", outgoing.event_id.to_string())
                .header("X-StateSet-Event", outgoing.event_type)
                .header("X-StateSet-Delivery-Id", outgoing.delivery_id.to_string())
        }
        .body(body);
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(err) => return failed(describe(&err)),
        };
        let status = response.status().as_u16();
        let mut excerpt = Vec::new();
        let mut error = None;
        while excerpt.len() < EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(err) => {
                    error = Some(describe(&err));
                    break;
                }
            }
        }
        excerpt.truncate(EXCERPT_BYTES);
        let excerpt = String::from_utf8_lossy(&excerpt).into_owned();
        if error.is_none() && !(200..300).contains(&status) {
            error = Some(format!("the receiver answered {status}"));
        }
        AttemptOutcome {
            status_code: Some(status),
            duration: started.elapsed(),
            response_excerpt: (!excerpt.is_empty()).then_some(excerpt),
            error,
        }
    }
}

/// A readable cause for a failed request, including the address refusal from the resolver.
fn describe(err: &reqwest::Error) -> String {
    let mut message = if err.is_timeout() {
        "timed out".to_owned()
    } else if err.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Checks a webhook URL: http or https with a host; an IP literal must be public unless
/// private networks are allowed (names are checked when resolved). Returns why not.
pub fn check_url(url: &str, allow_private_networks: bool) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("is not a valid URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must use http or https".to_owned());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials".to_owned());
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| "must name a host".to_owned())?;
    // The URL parser has already normalised numeric hosts (`2130706433`, `0x7f.1`) to dotted
    // form; IPv6 literals come in brackets.
    let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    else {
        return Ok(()); // a name: checked when resolved
    };
    if allow_private_networks || is_public(ip) {
        Ok(())
    } else {
        Err(format!(
            "refused: {ip} is a private, loopback or link-local address"
        ))
    }
}

/// Whether `ip` is an ordinary internet address: not private, loopback, link-local, shared,
/// multicast, documentation or otherwise reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240) // reserved
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || first == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
                || first == 0x0064 && v6.segments()[1] == 0xff9b) // NAT64 to anything
        }
    }
}

/// Resolves names with the system resolver and keeps only public addresses, so a name that
/// points inside the network (or is rebound to it) is refused at connection time.
struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if public.is_empty() {
                let refused = format!(
                    "refused: {host} resolves only to private, loopback or link-local addresses"
                );
                return Err(refused.into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() -> Result<(), std::net::AddrParseError> {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(ip.parse()?), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse()?), "{ip}");
        }
        Ok(())
    }

    #[test]
    fn urls_are_checked_before_any_request() {
        assert!(check_url("https://example.com/hook", false).is_ok());
        assert!(check_url("ftp://example.com/hook", false).is_err());
        assert!(check_url("http://127.0.0.1:9000/hook", false).is_err());
        assert!(check_url("http://[::1]/hook", false).is_err());
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_url("https://user:pw@example.com/", false).is_err());
        assert!(check_url("not a url", false).is_err());
    }
}
