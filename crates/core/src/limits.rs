//! Rate limiting: per API key, per user, and per client IP for anonymous callers, with
//! optional per-route limits. In-process with governor; shared by every instance through a
//! GCRA in Redis when `REDIS_URL` is set (falling back to in-process if Redis fails).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::Quota;
use governor::clock::{Clock as _, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;

use crate::auth::Principal;
use crate::config::RateLimits;
use crate::metrics::Metrics;

type KeyedLimiter = governor::RateLimiter<
    String,
    DefaultKeyedStateStore<String>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// The state of a caller's allowance after a request was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// Requests per minute.
    pub limit: u32,
    /// Requests left right now.
    pub remaining: u32,
    /// Seconds until the allowance is full again.
    pub reset_secs: u64,
}

/// A request refused: the caller has used up its allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// Seconds until one more request would be let through (at least 1).
    pub retry_after_secs: u64,
    /// Requests per minute.
    pub limit: u32,
    /// Seconds until the allowance is full again.
    pub reset_secs: u64,
}

/// Who a limit applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// `api_key`, `user` or `ip`.
    pub key_type: &'static str,
    pub id: String,
}

impl Subject {
    /// The subject for a principal; anonymous callers are told apart by `client_ip`.
    /// `None` for the server itself, which is never limited.
    pub fn of(principal: &Principal, client_ip: Option<std::net::IpAddr>) -> Option<Self> {
        match principal {
            Principal::ApiKey { key_id, .. } => Some(Self {
                key_type: "api_key",
                id: key_id.to_string(),
            }),
            Principal::User { user_id, .. } => Some(Self {
                key_type: "user",
                id: user_id.to_string(),
            }),
            Principal::Anonymous => Some(Self {
                key_type: "ip",
                id: client_ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
            }),
            Principal::System => None,
        }
    }
}

/// GCRA in Redis: one key per subject and quota holding the theoretical arrival time, in
/// milliseconds of the Redis clock, so all instances agree. Returns
/// `{allowed, remaining, retry_after_ms, reset_ms}`.
const GCRA_SCRIPT: &str = r"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local tolerance = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - tolerance > now then
  return {0, 0, new_tat - tolerance - now, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', tolerance)
return {1, math.floor((now + tolerance - new_tat) / interval), 0, new_tat - now}
";

/// Decides whether a request may go ahead.
pub struct RateLimiter {
    limits: RateLimits,
    local: HashMap<u32, KeyedLimiter>,
    redis: Option<bb8::Pool<bb8_redis::RedisConnectionManager>>,
    script: redis::Script,
    metrics: Arc<Metrics>,
}

fn quota(per_minute: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN))
}

impl RateLimiter {
    /// A limiter with the configured limits; shared through Redis when `redis` is given.
    pub fn new(
        limits: RateLimits,
        redis: Option<crate::cache::RedisPool>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let mut local = HashMap::new();
        for per_minute in [limits.authenticated, limits.anonymous]
            .into_iter()
            .chain(limits.per_route.values().copied())
        {
            local.entry(per_minute).or_insert_with(|| {
                governor::RateLimiter::keyed(quota(per_minute)).with_middleware()
            });
        }
        Ok(Self {
            limits,
            local,
            redis,
            script: redis::Script::new(GCRA_SCRIPT),
            metrics,
        })
    }

    /// Checks one request of `subject` to `route` (`METHOD /path/{template}`, or a gRPC method).
    ///
    /// # Errors
    /// `RATE_LIMITED` with the seconds to wait.
    pub async fn check(&self, subject: &Subject, route: &str) -> Result<Allowance, Limited> {
        let (per_minute, scope) = match self.limits.per_route.get(route) {
            Some(limit) => (*limit, route),
            None if subject.key_type == "ip" => (self.limits.anonymous, "*"),
            None => (self.limits.authenticated, "*"),
        };
        let key = format!("{}:{}:{}", subject.key_type, subject.id, scope);
        let decision = match self.check_redis(&key, per_minute).await {
            Some(decision) => decision,
            None => self.check_local(&key, per_minute),
        };
        let path = route.split_once(' ').map_or(route, |(_, path)| path);
        self.metrics
            .observe_rate_limit(subject.key_type, path, decision.is_ok());
        decision
    }

    fn check_local(&self, key: &str, per_minute: u32) -> Result<Allowance, Limited> {
        let Some(limiter) = self.local.get(&per_minute) else {
            return Ok(Allowance {
                limit: per_minute,
                remaining: per_minute,
                reset_secs: 0,
            });
        };
        let interval_ms = 60_000 / u64::from(per_minute.max(1));
        match limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = u64::from(per_minute.saturating_sub(remaining));
                Ok(Allowance {
                    limit: per_minute,
                    remaining,
                    reset_secs: (used * interval_ms).div_ceil(1000),
                })
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(Limited {
                    retry_after_secs: wait.as_millis().div_ceil(1000).max(1) as u64,
                    limit: per_minute,
                    reset_secs: 60,
                })
            }
        }
    }

    /// `None` when Redis is not configured or not answering (then the local limiter decides).
    async fn check_redis(&self, key: &str, per_minute: u32) -> Option<Result<Allowance, Limited>> {
        let pool = self.redis.as_ref()?;
        let interval_ms = 60_000 / u64::from(per_minute.max(1));
        let result: Result<(i64, i64, i64, i64), anyhow::Error> = async {
            let mut conn = pool.get().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let reply = self
                .script
                .key(format!("stateset:ratelimit:{key}"))
                .arg(interval_ms)
                .arg(per_minute)
                .invoke_async(&mut *conn)
                .await?;
            Ok(reply)
        }
        .await;
        self.metrics.observe_redis("rate_limit", result.is_ok());
        match result {
            Ok((1, remaining, _, reset_ms)) => Some(Ok(Allowance {
                limit: per_minute,
                remaining: u32::try_from(remaining).unwrap_or(0),
                reset_secs: u64::try_from(reset_ms).unwrap_or(0).div_ceil(1000),
            })),
            Ok((_, _, retry_ms, _)) => Some(Err(Limited {
                retry_after_secs: u64::try_from(retry_ms)
                    .unwrap_or(1000)
                    .div_ceil(1000)
                    .max(1),
                limit: per_minute,
                reset_secs: 60,
            })),
            Err(err) => {
                tracing::warn!(error = %err, "Redis rate limiter unavailable; limiting in-process");
                None
            }
        }
    }

    /// Drops in-process state of callers whose allowance is full again (bounded memory).
    pub fn housekeeping(&self) {
        for limiter in self.local.values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}
