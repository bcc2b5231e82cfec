//! The coordination layer: rate limits and short-lived keys shared by every instance.
//!
//! With `REDIS_URL` set, state lives in Redis so limits hold across instances; without it, an
//! in-process map serves a single instance. When Redis is configured but unreachable, every call
//! fails with `dependency_unavailable` (503): a rate limit that silently stops limiting, or an
//! OTP that silently cannot be checked, would be worse than a clear "try again".

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;

use crate::error::{Error, Result};

/// A rate: at most `limit` events per `period`, with bursts up to `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub limit: u32,
    pub period: Duration,
}

impl Rate {
    pub const fn per(limit: u32, period: Duration) -> Rate {
        Rate { limit, period }
    }
    pub const fn per_minute(limit: u32) -> Rate {
        Rate::per(limit, Duration::from_secs(60))
    }
    pub const fn per_day(limit: u32) -> Rate {
        Rate::per(limit, Duration::from_secs(86_400))
    }

    /// GCRA's emission interval T and burst tolerance τ, in milliseconds.
    fn gcra_ms(self) -> (u64, u64) {
        let period = self.period.as_millis() as u64;
        let interval = (period / u64::from(self.limit.max(1))).max(1);
        (interval, period.saturating_sub(interval))
    }
}

#[derive(Clone)]
pub struct Coordinator {
    backend: Arc<Backend>,
    prefix: Arc<str>,
    pubsub: Arc<PubSub>,
}

enum Backend {
    Local(Local),
    Redis(ConnectionManager),
}

impl Coordinator {
    /// The in-process store, for a single instance.
    pub fn local() -> Coordinator {
        Coordinator {
            backend: Arc::new(Backend::Local(Local::default())),
            prefix: "gigunion:".into(),
            pubsub: Arc::new(PubSub::Local(Mutex::default())),
        }
    }

    /// A Redis-backed store. Connects lazily, so a server can start while Redis is down and
    /// recovers by itself when it returns. `prefix` namespaces the keys (tests use one each).
    pub fn redis(url: &str, prefix: &str) -> anyhow::Result<Coordinator> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("REDIS_URL is not a valid Redis URL: {e}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(1000)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Coordinator {
            backend: Arc::new(Backend::Redis(manager)),
            prefix: prefix.into(),
            pubsub: Arc::new(PubSub::Redis(client)),
        })
    }

    pub fn is_redis(&self) -> bool {
        matches!(*self.backend, Backend::Redis(_))
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Counts one event against `rate` for `key` (GCRA). Over the limit: `rate_limited` carrying
    /// the wait until the next event is allowed.
    pub async fn throttle(&self, key: &str, rate: Rate) -> Result<()> {
        let (interval, tolerance) = rate.gcra_ms();
        let key = self.key(&format!("rl:{key}"));
        let wait_ms = match &*self.backend {
            Backend::Local(local) => local.gcra(&key, interval, tolerance),
            Backend::Redis(conn) => {
                let wait: u64 = GCRA
                    .key(&key)
                    .arg(interval)
                    .arg(tolerance)
                    .invoke_async(&mut conn.clone())
                    .await
                    .map_err(Error::unavailable)?;
                wait
            }
        };
        if wait_ms == 0 {
            Ok(())
        } else {
            Err(Error::rate_limited(Duration::from_millis(wait_ms)))
        }
    }

    /// Stores `value` under `key` for `ttl`, replacing what was there.
    pub async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<()> {
        let key = self.key(key);
        match &*self.backend {
            Backend::Local(local) => local.put(key, value.to_owned(), ttl),
            Backend::Redis(conn) => {
                let () = redis::cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .arg("PX")
                    .arg(ttl.as_millis().max(1) as u64)
                    .query_async(&mut conn.clone())
                    .await
                    .map_err(Error::unavailable)?;
            }
        }
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>> {
        let key = self.key(key);
        match &*self.backend {
            Backend::Local(local) => Ok(local.get(&key)),
            Backend::Redis(conn) => redis::cmd("GET")
                .arg(&key)
                .query_async(&mut conn.clone())
                .await
                .map_err(Error::unavailable),
        }
    }

    /// Removes `key`; true when it existed. Only one of several racing callers gets true, which
    /// is what makes single-use secrets single-use.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        let key = self.key(key);
        match &*self.backend {
            Backend::Local(local) => Ok(local.delete(&key)),
            Backend::Redis(conn) => {
                let removed: u64 = redis::cmd("DEL")
                    .arg(&key)
                    .query_async(&mut conn.clone())
                    .await
                    .map_err(Error::unavailable)?;
                Ok(removed > 0)
            }
        }
    }

    /// Adds one to the counter at `key`, creating it with `ttl`; returns the new count.
    pub async fn incr(&self, key: &str, ttl: Duration) -> Result<u64> {
        let key = self.key(key);
        match &*self.backend {
            Backend::Local(local) => Ok(local.incr(key, ttl)),
            Backend::Redis(conn) => INCR_WITH_TTL
                .key(&key)
                .arg(ttl.as_millis().max(1) as u64)
                .invoke_async(&mut conn.clone())
                .await
                .map_err(Error::unavailable),
        }
    }

    /// Whether the store answers; always true in process.
    pub async fn ping(&self) -> Result<()> {
        match &*self.backend {
            Backend::Local(_) => Ok(()),
            Backend::Redis(conn) => {
                let _: String = redis::cmd("PING")
                    .query_async(&mut conn.clone())
                    .await
                    .map_err(Error::unavailable)?;
                Ok(())
            }
        }
    }
}

/// Where published messages go: a broadcast channel per name in process, or Redis PUBLISH and
/// SUBSCRIBE (each subscription on a connection of its own, as Redis requires).
enum PubSub {
    Local(Mutex<HashMap<String, tokio::sync::broadcast::Sender<String>>>),
    Redis(redis::Client),
}

/// What a subscription delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A message published on the channel.
    Message(String),
    /// The subscription is (again) in place; messages published before may have been missed,
    /// so the subscriber should reconcile with the source of truth.
    Subscribed,
}

/// Messages of one channel, from [`Coordinator::subscribe`].
pub struct Subscription {
    inner: SubscriptionInner,
}

enum SubscriptionInner {
    Local(tokio::sync::broadcast::Receiver<String>, bool),
    Redis(tokio::sync::mpsc::Receiver<Notice>),
}

impl Subscription {
    /// The next notice; `None` once the coordinator is gone.
    pub async fn recv(&mut self) -> Option<Notice> {
        use tokio::sync::broadcast::error::RecvError;
        match &mut self.inner {
            SubscriptionInner::Local(_, announce @ true) => {
                *announce = false;
                Some(Notice::Subscribed)
            }
            SubscriptionInner::Local(rx, _) => match rx.recv().await {
                Ok(message) => Some(Notice::Message(message)),
                Err(RecvError::Lagged(_)) => Some(Notice::Subscribed),
                Err(RecvError::Closed) => None,
            },
            SubscriptionInner::Redis(rx) => rx.recv().await,
        }
    }
}

impl Coordinator {
    /// Sends `message` to the subscribers of `channel`: with Redis on every instance sharing it,
    /// in process to this process's own. Delivery is best effort (a subscriber that is
    /// reconnecting misses it), so subscribers also reconcile by themselves now and then.
    pub async fn publish(&self, channel: &str, message: &str) -> Result<()> {
        let channel = self.key(channel);
        match (&*self.pubsub, &*self.backend) {
            (PubSub::Redis(_), Backend::Redis(conn)) => {
                let _receivers: u64 = redis::cmd("PUBLISH")
                    .arg(&channel)
                    .arg(message)
                    .query_async(&mut conn.clone())
                    .await
                    .map_err(Error::unavailable)?;
            }
            (PubSub::Local(channels), _) => {
                let channels = channels.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(tx) = channels.get(&channel) {
                    // No receiver left is not an error: nobody is listening.
                    let _ = tx.send(message.to_owned());
                }
            }
            // Both halves are built from the same URL in `Coordinator::redis`.
            (PubSub::Redis(_), Backend::Local(_)) => unreachable!("Redis pub/sub without Redis"),
        }
        Ok(())
    }

    /// Subscribes to `channel`. The first notice is always [`Notice::Subscribed`]. With Redis a
    /// background task holds a dedicated connection, pings it, reconnects after a failure
    /// (announcing [`Notice::Subscribed`] again) and ends when the subscription is dropped.
    /// Must be called inside a Tokio runtime.
    pub fn subscribe(&self, channel: &str) -> Subscription {
        let channel = self.key(channel);
        let inner = match &*self.pubsub {
            PubSub::Local(channels) => {
                let mut channels = channels.lock().unwrap_or_else(|p| p.into_inner());
                let tx = channels
                    .entry(channel)
                    .or_insert_with(|| tokio::sync::broadcast::channel(64).0);
                SubscriptionInner::Local(tx.subscribe(), true)
            }
            PubSub::Redis(client) => {
                let (tx, rx) = tokio::sync::mpsc::channel(64);
                tokio::spawn(redis_subscription(client.clone(), channel, tx));
                SubscriptionInner::Redis(rx)
            }
        };
        Subscription { inner }
    }
}

/// Keeps one Redis subscription alive until its receiver is dropped.
async fn redis_subscription(
    client: redis::Client,
    channel: String,
    tx: tokio::sync::mpsc::Sender<Notice>,
) {
    use futures_util::StreamExt;
    // Reconnection waits double from 1 s to 30 s while Redis stays away.
    const FIRST_RETRY: Duration = Duration::from_secs(1);
    const LAST_RETRY: Duration = Duration::from_secs(30);
    const PING_EVERY: Duration = Duration::from_secs(10);
    let mut retry = FIRST_RETRY;
    loop {
        let connected = tokio::time::timeout(Duration::from_secs(2), async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await;
        match connected {
            Ok(Ok(pubsub)) => {
                retry = FIRST_RETRY;
                if tx.send(Notice::Subscribed).await.is_err() {
                    return;
                }
                let (mut sink, mut stream) = pubsub.split();
                let mut ping = tokio::time::interval(PING_EVERY);
                ping.tick().await;
                loop {
                    tokio::select! {
                        message = stream.next() => {
                            let Some(message) = message else { break };
                            if let Ok(payload) = message.get_payload::<String>() {
                                if tx.send(Notice::Message(payload)).await.is_err() {
                                    return;
                                }
                            }
                        }
                        _ = ping.tick() => {
                            let pong = tokio::time::timeout(
                                Duration::from_secs(2),
                                sink.ping::<redis::Value>(),
                            )
                            .await;
                            if !matches!(pong, Ok(Ok(_))) {
                                break;
                            }
                        }
                        () = tx.closed() => return,
                    }
                }
                tracing::warn!(%channel, "Redis subscription lost; reconnecting");
            }
            Ok(Err(e)) => tracing::warn!(%channel, error = %e, "Redis subscription failed"),
            Err(_) => tracing::warn!(%channel, "Redis subscription timed out"),
        }
        tokio::select! {
            () = tokio::time::sleep(retry) => {}
            () = tx.closed() => return,
        }
        retry = (retry * 2).min(LAST_RETRY);
    }
}

/// GCRA in one atomic step on the Redis server's clock (one clock for every instance).
/// Returns 0 when allowed, else the milliseconds to wait.
static GCRA: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then return tat - now - tolerance end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now)
return 0
"#,
    )
});

static INCR_WITH_TTL: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r#"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"#,
    )
});

/// In-process store with expiry. Expired entries are swept every few thousand operations so
/// the map stays bounded by what is live.
#[derive(Default)]
struct Local {
    entries: Mutex<HashMap<String, (String, Instant)>>,
    ops: AtomicU64,
    epoch: std::sync::OnceLock<Instant>,
}

impl Local {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if self.ops.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            let now = Instant::now();
            map.retain(|_, (_, expires)| *expires > now);
        }
        map
    }

    fn now_ms(&self) -> u64 {
        self.epoch.get_or_init(Instant::now).elapsed().as_millis() as u64
    }

    fn live(map: &HashMap<String, (String, Instant)>, key: &str) -> Option<String> {
        map.get(key)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(v, _)| v.clone())
    }

    fn gcra(&self, key: &str, interval: u64, tolerance: u64) -> u64 {
        let now = self.now_ms();
        let mut map = self.map();
        let tat = Self::live(&map, key)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(now)
            .max(now);
        if tat - now > tolerance {
            return tat - now - tolerance;
        }
        let new_tat = tat + interval;
        let expires = Instant::now() + Duration::from_millis(new_tat - now);
        map.insert(key.to_owned(), (new_tat.to_string(), expires));
        0
    }

    fn put(&self, key: String, value: String, ttl: Duration) {
        self.map().insert(key, (value, Instant::now() + ttl));
    }

    fn get(&self, key: &str) -> Option<String> {
        Self::live(&self.map(), key)
    }

    fn delete(&self, key: &str) -> bool {
        let mut map = self.map();
        let was_live = Self::live(&map, key).is_some();
        map.remove(key);
        was_live
    }

    fn incr(&self, key: String, ttl: Duration) -> u64 {
        let mut map = self.map();
        let (count, expires) = match map.get(&key).filter(|(_, e)| *e > Instant::now()) {
            Some((v, e)) => (v.parse::<u64>().unwrap_or(0) + 1, *e),
            None => (1, Instant::now() + ttl),
        };
        map.insert(key, (count.to_string(), expires));
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[tokio::test]
    async fn gcra_allows_the_burst_then_says_how_long_to_wait() {
        let c = Coordinator::local();
        let rate = Rate::per_minute(3);
        for _ in 0..3 {
            c.throttle("k", rate).await.unwrap();
        }
        let err = c.throttle("k", rate).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::RateLimited);
        // Another key is independent.
        c.throttle("other", rate).await.unwrap();
    }

    #[tokio::test]
    async fn keys_expire_and_delete_is_single_winner() {
        let c = Coordinator::local();
        c.put("otp", "v", Duration::from_secs(5)).await.unwrap();
        assert_eq!(c.get("otp").await.unwrap().as_deref(), Some("v"));
        assert!(c.delete("otp").await.unwrap());
        assert!(!c.delete("otp").await.unwrap());
        c.put("short", "v", Duration::from_millis(10))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(c.get("short").await.unwrap(), None);
        assert_eq!(c.incr("n", Duration::from_secs(5)).await.unwrap(), 1);
        assert_eq!(c.incr("n", Duration::from_secs(5)).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn unreachable_redis_fails_closed() {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let c = Coordinator::redis("redis://127.0.0.1:1/", "t:").unwrap();
        let err = c.throttle("k", Rate::per_minute(1)).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::DependencyUnavailable);
        assert_eq!(
            c.ping().await.unwrap_err().code(),
            ErrorCode::DependencyUnavailable
        );
    }

    async fn next(sub: &mut Subscription) -> Notice {
        tokio::time::timeout(Duration::from_secs(5), sub.recv())
            .await
            .expect("a notice within 5 s")
            .expect("subscription open")
    }

    #[tokio::test]
    async fn local_pubsub_reaches_this_process_subscribers_of_the_channel() {
        let c = Coordinator::local();
        let mut sub = c.subscribe("stations");
        let mut other = c.subscribe("other");
        assert_eq!(next(&mut sub).await, Notice::Subscribed);
        assert_eq!(next(&mut other).await, Notice::Subscribed);
        c.publish("stations", "7").await.unwrap();
        assert_eq!(next(&mut sub).await, Notice::Message("7".into()));
        c.publish("nobody-listens", "x").await.unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(50), other.recv())
                .await
                .is_err(),
            "another channel hears nothing"
        );
    }

    /// Runs with `TEST_REDIS_URL` (as `make test-services` sets it).
    #[tokio::test]
    async fn redis_pubsub_crosses_coordinators_sharing_a_prefix() {
        let Ok(url) = std::env::var("TEST_REDIS_URL") else {
            return;
        };
        let prefix = format!("gigunion-test:{}:", crate::crypto::random_token(6));
        let (a, b) = (
            Coordinator::redis(&url, &prefix).unwrap(),
            Coordinator::redis(&url, &prefix).unwrap(),
        );
        let stranger = Coordinator::redis(&url, "gigunion-test:stranger:").unwrap();
        let mut sub = b.subscribe("stations");
        let mut strange = stranger.subscribe("stations");
        assert_eq!(next(&mut sub).await, Notice::Subscribed);
        assert_eq!(next(&mut strange).await, Notice::Subscribed);
        a.publish("stations", "42").await.unwrap();
        assert_eq!(next(&mut sub).await, Notice::Message("42".into()));
        // Another prefix (another deployment, another test) hears nothing.
        assert!(
            tokio::time::timeout(Duration::from_millis(200), strange.recv())
                .await
                .is_err()
        );
    }
}
