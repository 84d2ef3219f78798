//! The shared store: bucket counters in Redis, for many gateway nodes.
//!
//! **How it works.** One request is at most one `EVALSHA` of `decide.lua` (loaded once, reloaded when
//! the server answers `NOSCRIPT`), which reads every bucket, decides with the same algorithms
//! as `rule.rs`, and writes only if all admit: Redis runs a script alone, so a request is
//! atomic and exact across any number of nodes (a roomy bucket may instead be spent from a
//! lease: see below). "Now" is the Redis server's `TIME`, so nodes
//! with skewed clocks agree; a store built [`RedisStore::with_clock`] passes its clock's instant
//! instead (tests). Each key is `{prefix}{len(name)}:{name}:{kind}:{scope}:{subject}` and
//! expires when its window ends (a GCRA key when its bucket is full again), plus
//! [`RedisConfig::ttl_slack`]; the window start is stored in the value, so a limit change keeps
//! the count and a new window starts from zero.
//!
//! The connection is a [`ConnectionManager`]: one multiplexed connection that pipelines
//! concurrent requests and reconnects in the background after a failure.
//!
//! **Quota leases.** A bucket far from its limit need not be asked about every request. When a
//! request is decided in Redis, the script may also reserve a few units of each bucket for the
//! node that asked ([`LeasePolicy`]: 64 units, never more than 1/256 of the room the bucket
//! has left after the request, kept one second). While every bucket of a request holds a lease
//! with room for its cost, the node decides it alone, with the same pure algorithms, and
//! spends the reservation; otherwise the request goes to Redis as one script call, which also
//! gives back the units of leases that can no longer be spent (expired, another window, a
//! changed limit). A task gives back leases a node stopped using, and a node gives back all of
//! its leases when it shuts down. So:
//! - **Never more than the limit**: a lease's units are taken in Redis before they are spent.
//! - **Tight buckets stay exact**: a bucket with less than 256 units of room is never leased,
//!   so the 60-per-minute bucket of 1,000 concurrent requests across three nodes admits exactly
//!   60, every one decided in Redis. A request with one such bucket always goes to Redis.
//! - **What a lease costs**: while a node holds a reservation, other nodes count it as used
//!   (at most 64 units, and at most 1/256 of what was left, per node and bucket) until the
//!   lease's second is over and the sweeping task (every half second) has given it back; a
//!   node that crashes leaves its reservation counted until the window ends, and so does one
//!   whose give-back fails (the sweeping task logs a warning through `tracing`). A lease's
//!   reports are the bucket as the node last saw it in Redis plus its own spending since.
//! - A counter [reset](LimiterStore::reset) on one node leaves other nodes' leases in place
//!   until they expire.
//!
//! **How it fails.** Every call is bounded by [`RedisConfig::timeout`] (default 250 ms): a lost
//! connection, a refused one or a slow server comes back as [`StoreError::Timeout`] or
//! [`StoreError::Unavailable`], never a panic or a hang. Cluster mode is not supported (one
//! request's keys would need a common hash tag).

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use redis::RedisError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::bucket::{BucketSpec, Charge};
use crate::calendar::Micros;
use crate::clock::{Clock, SystemClock};
use crate::decision::{self, BucketState, Decision};
use crate::rule::{self, Rule};
use crate::store::{LimiterStore, StoreError};

pub use lease::LeasePolicy;
use lease::{Ask, Bucket, Leases};

mod lease;
mod script;

pub use script::DECIDE_LUA;
use script::{Answer, Mode};

/// The most buckets one give-back call carries.
const GIVE_BACK_BATCH: usize = 64;

/// How to reach Redis and how long to wait for it.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// e.g. `redis://127.0.0.1:6379/0`.
    pub url: String,
    /// Prepended to every key, e.g. `keystile:rl:`.
    pub prefix: String,
    /// The most one call may take, connecting included.
    pub timeout: Duration,
    /// Keys live this much longer than their window; harmless, since the window start is stored.
    pub ttl_slack: Duration,
    /// Quota leases for roomy buckets ([`LeasePolicy::DEFAULT`]; [`LeasePolicy::OFF`] makes
    /// every decision one script call).
    pub leases: LeasePolicy,
}

impl RedisConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "keystile:rl:".to_owned(),
            timeout: Duration::from_millis(250),
            ttl_slack: Duration::from_secs(1),
            leases: LeasePolicy::DEFAULT,
        }
    }

    pub fn with_leases(mut self, leases: LeasePolicy) -> Self {
        self.leases = leases;
        self
    }

    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Bucket counters in Redis; see the [module docs](self).
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    script: Arc<redis::Script>,
    config: RedisConfig,
    clock: Option<Arc<dyn Clock>>,
    /// This node's quota leases, shared by every clone of the store.
    leases: Arc<Leases>,
    /// Set once the task that gives back expired leases runs.
    sweeper: Arc<OnceLock<()>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.config.prefix)
            .field("timeout", &self.config.timeout)
            .field("injected_clock", &self.clock.is_some())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connect and load the script, within the configured timeout: fails if Redis is not there.
    pub async fn connect(config: RedisConfig) -> Result<Self, StoreError> {
        let store = Self::connect_lazy(config).await?;
        store.load_script().await?;
        Ok(store)
    }

    /// A store that connects on first use, so a node can start while Redis is down. Fails only
    /// on a malformed URL. Must run inside a Tokio runtime (the reconnecting task lives there).
    pub async fn connect_lazy(config: RedisConfig) -> Result<Self, StoreError> {
        let client = redis::Client::open(config.url.as_str()).map_err(unavailable)?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let connection = ConnectionManager::new_lazy_with_config(client, manager).map_err(unavailable)?;
        let leases = Arc::new(Leases::new(config.leases));
        Ok(Self {
            connection,
            script: Arc::new(redis::Script::new(DECIDE_LUA)),
            config,
            clock: None,
            leases,
            sweeper: Arc::new(OnceLock::new()),
        })
    }

    /// Take "now" from `clock` instead of the Redis server's `TIME` (tests move a
    /// [`crate::ManualClock`]). Keys then live at least an hour longer than their window, since
    /// the injected instant and the server's expiry clock no longer agree.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self.config.ttl_slack = self.config.ttl_slack.max(Duration::from_secs(3600));
        self
    }

    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// The key of one bucket for one subject.
    pub fn key(&self, spec: &BucketSpec, subject: &str) -> String {
        let mut key = String::with_capacity(self.config.prefix.len() + spec.name.len() + subject.len() + 16);
        key.push_str(&self.config.prefix);
        // Writing to a String cannot fail.
        let _ = write!(
            key,
            "{}:{}:{}:{}:{}",
            spec.name.len(),
            spec.name,
            rule::kind_code(&spec.window),
            spec.scope,
            subject
        );
        key
    }

    async fn bounded<T>(&self, call: impl Future<Output = Result<T, RedisError>>) -> Result<T, StoreError> {
        match tokio::time::timeout(self.config.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) if error.is_timeout() => Err(StoreError::Timeout(self.config.timeout)),
            Ok(Err(error)) => Err(unavailable(error)),
            Err(_) => Err(StoreError::Timeout(self.config.timeout)),
        }
    }

    /// Each charge as a bucket: its key, validated rule and (clamped) cost.
    fn resolve(&self, charges: &[Charge]) -> Result<Vec<Bucket>, StoreError> {
        charges
            .iter()
            .map(|charge| {
                let rule = Rule::of(&charge.spec)?;
                let key = self.key(&charge.spec, &charge.subject);
                Ok(Bucket { key, rule, cost: rule::clamp_cost(charge.cost) })
            })
            .collect()
    }

    /// "Now" on this node: the injected clock's, or the system's.
    fn local_now(&self) -> Micros {
        self.clock.as_ref().map_or_else(|| SystemClock.now_micros(), |clock| clock.now_micros())
    }

    /// Decide in Redis, asking for leases and giving back what can no longer be spent, then
    /// take the answer into this node's leases.
    async fn decide_in_redis(&self, buckets: &[Bucket], local_now: Micros) -> Result<Answer, StoreError> {
        let asks = self.leases.plan(buckets, local_now);
        let mut answer = match self.run(buckets, &asks, Mode::Decide, local_now).await {
            Ok(answer) => answer,
            Err(error) => {
                // Whether the returned units arrived is unknown: they are written off.
                self.leases.abandon(buckets, &asks);
                return Err(error);
            }
        };
        self.leases.settle(buckets, &asks, &mut answer.buckets, answer.allowed, (answer.now, local_now));
        if asks.iter().any(|ask| ask.want > 0) {
            // The table now holds a lease or a refusal: someone must clear it when it runs out.
            self.start_sweeper();
        }
        Ok(answer)
    }

    /// On the system clock, a task gives back the leases this node stopped spending and forgets
    /// refusals past their time, every half lease lifetime, so the table holds only buckets in
    /// recent use. (On an injected clock, tests call [`RedisStore::return_expired_leases`].)
    fn start_sweeper(&self) {
        if self.clock.is_some() {
            return;
        }
        self.sweeper.get_or_init(|| {
            let store = self.clone();
            tokio::spawn(async move {
                let period = (store.leases.ttl() / 2).max(Duration::from_millis(10));
                loop {
                    tokio::time::sleep(period).await;
                    // This task's own clone is the last: every other handle on the store is gone.
                    if Arc::strong_count(&store.leases) == 1 {
                        return;
                    }
                    // A failed give-back writes its units off: other nodes count them as
                    // used until their windows end, which an operator should hear of.
                    if let Err(error) = store.return_expired_leases().await {
                        tracing::warn!(
                            %error,
                            "could not give back expired quota leases to Redis; \
                             their units stay counted as used until their windows end"
                        );
                    }
                }
            });
        });
    }

    /// Buckets this node holds a lease for, or lately asked for one in vain (for monitoring):
    /// a bucket not used for ten lease lifetimes is no longer counted.
    pub fn leased_buckets(&self) -> usize {
        self.leases.len()
    }

    /// Give back the units of this node's leases that have outlived their time.
    pub async fn return_expired_leases(&self) -> Result<(), StoreError> {
        self.give_back(false).await
    }

    /// Give back the units of every lease this node holds (at shutdown), so that other nodes
    /// can spend them.
    pub async fn return_all_leases(&self) -> Result<(), StoreError> {
        self.give_back(true).await
    }

    async fn give_back(&self, all: bool) -> Result<(), StoreError> {
        let local_now = self.local_now();
        let returns = self.leases.take(local_now, all);
        let mut outcome = Ok(());
        for batch in returns.chunks(GIVE_BACK_BATCH) {
            let buckets: Vec<Bucket> =
                batch.iter().map(|back| Bucket { key: back.key.clone(), rule: back.rule, cost: 0 }).collect();
            let asks: Vec<Ask> = batch.iter().map(|back| back.ask).collect();
            if let Err(error) = self.run(&buckets, &asks, Mode::Peek, local_now).await {
                outcome = Err(error);
            }
        }
        self.leases.returned(&returns);
        outcome
    }
}

fn unavailable(error: RedisError) -> StoreError {
    StoreError::Unavailable(Box::new(error))
}

#[async_trait]
impl LimiterStore for RedisStore {
    async fn decide<'c>(&self, charges: &'c [Charge]) -> Result<Decision<'c>, StoreError> {
        let buckets = self.resolve(charges)?;
        let local_now = self.local_now();
        if let Some((now, reports)) = self.leases.spend(&buckets, local_now) {
            let buckets = charges
                .iter()
                .zip(reports)
                .map(|(charge, report)| decision::bucket_state(charge, report, None));
            return Ok(Decision {
                now: decision::instant(now),
                buckets: buckets.collect(),
                retry_after: None,
            });
        }
        let answer = self.decide_in_redis(&buckets, local_now).await?;
        let buckets: Vec<BucketState<'c>> = charges
            .iter()
            .zip(answer.buckets)
            .map(|(charge, bucket)| decision::bucket_state(charge, bucket.report, bucket.wait))
            .collect();
        Ok(Decision {
            now: decision::instant(answer.now),
            retry_after: decision::overall_wait(&buckets),
            buckets,
        })
    }

    async fn peek<'c>(&self, charges: &'c [Charge]) -> Result<Vec<BucketState<'c>>, StoreError> {
        let buckets = self.resolve(charges)?;
        let asks = vec![Ask::default(); buckets.len()];
        let local_now = self.local_now();
        let mut answer = self.run(&buckets, &asks, Mode::Peek, local_now).await?;
        self.leases.settle(&buckets, &asks, &mut answer.buckets, false, (answer.now, local_now));
        Ok(charges
            .iter()
            .zip(answer.buckets)
            .map(|(charge, bucket)| decision::bucket_state(charge, bucket.report, None))
            .collect())
    }

    async fn reset(&self, spec: &BucketSpec, subject: &str) -> Result<(), StoreError> {
        Rule::of(spec)?;
        let mut connection = self.connection.clone();
        let key = self.key(spec, subject);
        // What this node held reserved went with the counter.
        self.leases.forget(&key);
        let mut delete = redis::cmd("DEL");
        delete.arg(&key);
        self.bounded(delete.query_async::<i64>(&mut connection)).await.map(|_| ())
    }
}
