//! An entity cache for hot reads: in this process, or in Redis when `REDIS_URL` is set so
//! that every instance shares one copy.
//!
//! Correctness comes first, through one rule: an entry is only stored if nothing was
//! forgotten since the read that produced it began. Every cache keeps an epoch (a counter in
//! this process, or a Redis key) that each `forget` moves on; a lookup hands back the epoch it
//! saw, and `fill` stores nothing when the epoch has moved. So a read that loaded a row just
//! before a write committed cannot put the old row back after the writer forgot it.
//!
//! The writer forgets what it changed right after its commit, so its own next read, and with
//! Redis every instance's, sees the write. Without Redis, other instances forget when the
//! write's outbox event reaches them (see `CatalogService::apply_event`), milliseconds later.
//! Entries also expire after a time to live, a bound on any staleness a lost `forget` (Redis
//! unreachable) could leave.
//!
//! A Redis failure is a miss, never an error: the read goes to PostgreSQL.

use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bb8_redis::RedisConnectionManager;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::metrics::Metrics;

/// A pool of Redis connections.
pub type RedisPool = bb8::Pool<RedisConnectionManager>;

/// A Redis pool that connects lazily, so the server starts while Redis is down.
pub fn redis_pool(url: &str) -> anyhow::Result<RedisPool> {
    let manager = RedisConnectionManager::new(url)?;
    Ok(bb8::Pool::builder()
        .max_size(8)
        .connection_timeout(Duration::from_secs(1))
        .build_unchecked(manager))
}

/// The namespace of the deployment whose system of record is `database_url`: entries of two
/// databases never meet in one Redis (their slugs, for one, would).
pub fn namespace_of(database_url: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(database_url.as_bytes());
    hex::encode(&digest[..8])
}

/// How big and how fresh a cache is.
#[derive(Debug, Clone, Copy)]
pub struct CacheSettings {
    /// Longest time an entry is served (0 turns the cache off).
    pub ttl: Duration,
    /// Most entries kept in this process (Redis keeps as many as its memory policy allows).
    pub capacity: u64,
}

/// Where a cache keeps its entries.
enum Store<V> {
    /// Off: every lookup misses.
    Off,
    Local {
        entries: moka::sync::Cache<String, Arc<V>>,
        /// Moves on at every forget; held while storing so a forget cannot slip between
        /// the epoch check and the insert.
        epoch: Mutex<u64>,
    },
    Redis {
        pool: RedisPool,
        ttl: Duration,
        fill: redis::Script,
    },
}

/// The epoch a lookup saw, to hand back to [`EntityCache::fill`]; unknown when the cache is
/// off or Redis did not answer, and then nothing is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch(Option<u64>);

impl Epoch {
    /// Whether a fill with this epoch can store anything.
    pub fn is_known(&self) -> bool {
        self.0.is_some()
    }
}

/// Values of type `V` by key, under one `name` (a metric label, and with the namespace the
/// Redis key prefix).
pub struct EntityCache<V> {
    name: &'static str,
    /// Tells apart the deployments (databases) that share one Redis.
    namespace: String,
    store: Store<V>,
    metrics: Arc<Metrics>,
}

/// Stores each value `ARGV[i + 2]` at `KEYS[i + 1]` for `ARGV[2]` ms, only if the epoch at
/// `KEYS[1]` is still `ARGV[1]` (an absent epoch reads as 0).
const FILL_SCRIPT: &str = r"
if (tonumber(redis.call('GET', KEYS[1]) or '0')) ~= tonumber(ARGV[1]) then
  return 0
end
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ARGV[2])
end
return 1";

impl<V: Serialize + DeserializeOwned + Send + Sync + 'static> EntityCache<V> {
    /// A cache in Redis when `redis` is given, else in this process; off when the time to
    /// live is zero. `namespace` tells apart deployments that share one Redis (see
    /// [`namespace_of`]).
    pub fn new(
        name: &'static str,
        namespace: &str,
        settings: CacheSettings,
        redis: Option<RedisPool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let store = match redis {
            _ if settings.ttl.is_zero() => Store::Off,
            Some(pool) => Store::Redis {
                pool,
                ttl: settings.ttl,
                fill: redis::Script::new(FILL_SCRIPT),
            },
            None => Store::Local {
                entries: moka::sync::Cache::builder()
                    .max_capacity(settings.capacity)
                    .time_to_live(settings.ttl)
                    .build(),
                epoch: Mutex::new(0),
            },
        };
        Self {
            name,
            namespace: namespace.to_owned(),
            store,
            metrics,
        }
    }

    fn redis_key(&self, key: &impl Display) -> String {
        format!("stateset:{}:{}:{key}", self.namespace, self.name)
    }

    fn epoch_key(&self) -> String {
        format!("stateset:{}:{}:epoch", self.namespace, self.name)
    }

    /// The entries found for `keys`, and the epoch to fill the misses with.
    pub async fn get_many<K: Display + Clone + Eq + Hash>(
        &self,
        keys: &[K],
    ) -> (HashMap<K, Arc<V>>, Epoch) {
        let (found, epoch) = match &self.store {
            Store::Off => (HashMap::new(), Epoch(None)),
            Store::Local { entries, epoch } => {
                let seen = *lock(epoch);
                let found = keys
                    .iter()
                    .filter_map(|k| entries.get(&k.to_string()).map(|v| (k.clone(), v)))
                    .collect();
                (found, Epoch(Some(seen)))
            }
            Store::Redis { pool, .. } => self.redis_get_many(pool, keys).await,
        };
        if !matches!(self.store, Store::Off) {
            self.metrics
                .observe_cache(self.name, found.len(), keys.len() - found.len());
        }
        (found, epoch)
    }

    /// One entry, and the epoch to fill it with on a miss.
    pub async fn get<K: Display + Clone + Eq + Hash>(&self, key: &K) -> (Option<Arc<V>>, Epoch) {
        let (mut found, epoch) = self.get_many(std::slice::from_ref(key)).await;
        (found.remove(key), epoch)
    }

    async fn redis_get_many<K: Display + Clone + Eq + Hash>(
        &self,
        pool: &RedisPool,
        keys: &[K],
    ) -> (HashMap<K, Arc<V>>, Epoch) {
        let mut names = vec![self.epoch_key()];
        names.extend(keys.iter().map(|k| self.redis_key(k)));
        let answer: Result<Vec<Option<Vec<u8>>>, String> = async {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            redis::cmd("MGET")
                .arg(&names)
                .query_async(&mut *conn)
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        self.metrics.observe_redis("entity_cache", answer.is_ok());
        let values = match answer {
            Ok(values) => values,
            Err(err) => {
                tracing::warn!(cache = self.name, error = %err, "entity cache lookup failed; reading the database");
                return (HashMap::new(), Epoch(None));
            }
        };
        let mut values = values.into_iter();
        let epoch = values
            .next()
            .flatten()
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|text| text.parse().ok())
            .unwrap_or(0);
        let found = keys
            .iter()
            .zip(values)
            .filter_map(|(k, raw)| {
                let value = serde_json::from_slice(&raw?).ok()?;
                Some((k.clone(), Arc::new(value)))
            })
            .collect();
        (found, Epoch(Some(epoch)))
    }

    /// Stores what a read loaded, unless something was forgotten since its lookup.
    pub async fn fill<K: Display>(&self, seen: Epoch, entries: Vec<(K, V)>) {
        let Epoch(Some(seen)) = seen else { return };
        if entries.is_empty() {
            return;
        }
        match &self.store {
            Store::Off => {}
            Store::Local {
                entries: cache,
                epoch,
            } => {
                let current = lock(epoch);
                if *current == seen {
                    for (key, value) in entries {
                        cache.insert(key.to_string(), Arc::new(value));
                    }
                }
            }
            Store::Redis { pool, ttl, fill } => {
                let result: Result<(), String> = async {
                    let mut invocation = fill.prepare_invoke();
                    invocation
                        .key(self.epoch_key())
                        .arg(seen)
                        .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
                    for (key, value) in &entries {
                        let json = serde_json::to_vec(value).map_err(|e| e.to_string())?;
                        invocation.key(self.redis_key(key)).arg(json);
                    }
                    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                    invocation
                        .invoke_async::<i64>(&mut *conn)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                }
                .await;
                self.metrics.observe_redis("entity_cache", result.is_ok());
                if let Err(err) = result {
                    tracing::warn!(cache = self.name, error = %err, "entity cache fill failed");
                }
            }
        }
    }

    /// Forgets `keys` and moves the epoch on, so no read begun before is stored.
    pub async fn forget<K: Display>(&self, keys: &[K]) {
        match &self.store {
            Store::Off => {}
            Store::Local { .. } => self.forget_local(keys),
            Store::Redis { pool, .. } => {
                let result: Result<(), String> = async {
                    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                    let mut pipe = redis::pipe();
                    pipe.atomic().incr(self.epoch_key(), 1).ignore();
                    for key in keys {
                        pipe.del(self.redis_key(key)).ignore();
                    }
                    pipe.query_async::<()>(&mut *conn)
                        .await
                        .map_err(|e| e.to_string())
                }
                .await;
                self.metrics.observe_redis("entity_cache", result.is_ok());
                if let Err(err) = result {
                    // The entries stay until their time to live ends.
                    tracing::error!(cache = self.name, error = %err, "entity cache could not forget changed entries");
                }
            }
        }
    }

    /// Forgets `keys` if entries live in this process, at once (Redis entries are forgotten by
    /// the writer, so there is nothing to do there).
    pub fn forget_local<K: Display>(&self, keys: &[K]) {
        if let Store::Local { entries, epoch } = &self.store {
            let mut current = lock(epoch);
            *current += 1;
            for key in keys {
                entries.invalidate(&key.to_string());
            }
        }
    }

    /// Forgets every entry this process holds (see [`EntityCache::forget_local`]).
    pub fn forget_all_local(&self) {
        if let Store::Local { entries, epoch } = &self.store {
            let mut current = lock(epoch);
            *current += 1;
            entries.invalidate_all();
        }
    }

    /// Whether entries live in this process (and so must hear of other instances' writes).
    pub fn is_local(&self) -> bool {
        matches!(self.store, Store::Local { .. })
    }
}

fn lock(epoch: &Mutex<u64>) -> std::sync::MutexGuard<'_, u64> {
    epoch
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn in_process() -> EntityCache<String> {
        let settings = CacheSettings {
            ttl: Duration::from_secs(60),
            capacity: 100,
        };
        EntityCache::new(
            "test",
            "ns",
            settings,
            None,
            Arc::new(Metrics::new().unwrap()),
        )
    }

    #[tokio::test]
    async fn a_read_begun_before_a_forget_never_stores_what_it_read() {
        let cache = in_process();
        // A read looks up, misses, and loads the old row from the database...
        let (found, seen) = cache.get(&"k").await;
        assert!(found.is_none());
        // ...while a writer commits and forgets the key...
        cache.forget(&["k"]).await;
        // ...so the old row it then offers is not kept.
        cache.fill(seen, vec![("k", "old".to_owned())]).await;
        assert!(cache.get(&"k").await.0.is_none());

        let (_, seen) = cache.get(&"k").await;
        cache.fill(seen, vec![("k", "new".to_owned())]).await;
        assert_eq!(
            cache.get(&"k").await.0.as_deref().map(String::as_str),
            Some("new")
        );
        cache.forget_local(&["k"]);
        assert!(cache.get(&"k").await.0.is_none());
    }

    #[tokio::test]
    async fn a_zero_time_to_live_stores_nothing() {
        let settings = CacheSettings {
            ttl: Duration::ZERO,
            capacity: 100,
        };
        let cache: EntityCache<String> = EntityCache::new(
            "test",
            "ns",
            settings,
            None,
            Arc::new(Metrics::new().unwrap()),
        );
        let (_, seen) = cache.get(&"k").await;
        assert!(!seen.is_known());
        cache.fill(seen, vec![("k", "v".to_owned())]).await;
        assert!(cache.get(&"k").await.0.is_none());
    }
}
