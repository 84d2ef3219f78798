//! The shared store: bucket counters in Redis, for many gateway nodes.
//!
//! **How it works.** One request is one `EVALSHA` of `decide.lua` (loaded once, reloaded when
//! the server answers `NOSCRIPT`), which reads every bucket, decides with the same algorithms
//! as `rule.rs`, and writes only if all admit: Redis runs a script alone, so a request is
//! atomic and exact across any number of nodes. "Now" is the Redis server's `TIME`, so nodes
//! with skewed clocks agree; a store built [`RedisStore::with_clock`] passes its clock's instant
//! instead (tests). Each key is `{prefix}{len(name)}:{name}:{kind}:{scope}:{subject}` and
//! expires when its window ends (a GCRA key when its bucket is full again), plus
//! [`RedisConfig::ttl_slack`]; the window start is stored in the value, so a limit change keeps
//! the count and a new window starts from zero.
//!
//! The connection is a [`ConnectionManager`]: one multiplexed connection that pipelines
//! concurrent requests and reconnects in the background after a failure.
//!
//! **How it fails.** Every call is bounded by [`RedisConfig::timeout`] (default 250 ms): a lost
//! connection, a refused one or a slow server comes back as [`StoreError::Timeout`] or
//! [`StoreError::Unavailable`], never a panic or a hang. Cluster mode is not supported (one
//! request's keys would need a common hash tag).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, ErrorKind, RedisError, ServerErrorKind};

use crate::bucket::{BucketSpec, Charge};
use crate::calendar::{self, Micros};
use crate::clock::{Clock, SystemClock};
use crate::decision::{self, BucketState, Decision};
use crate::rule::{self, Report, Rule, Span};
use crate::store::{LimiterStore, StoreError};

/// The script every decision and peek runs.
pub const DECIDE_LUA: &str = include_str!("decide.lua");

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
}

impl RedisConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "keystile:rl:".to_owned(),
            timeout: Duration::from_millis(250),
            ttl_slack: Duration::from_secs(1),
        }
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

/// Whether a script call charges or only reads.
#[derive(Clone, Copy)]
enum Mode {
    Decide,
    Peek,
}

/// What the script answered, before it is matched back to the charges.
struct Answer {
    now: i64,
    /// Per bucket: its report and, if it denied, its wait.
    buckets: Vec<(Report, Option<i64>)>,
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
        Ok(Self { connection, script: Arc::new(redis::Script::new(DECIDE_LUA)), config, clock: None })
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

    /// Load the script into Redis's script cache (also done on demand after `NOSCRIPT`).
    pub async fn load_script(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let mut load = redis::cmd("SCRIPT");
        load.arg("LOAD").arg(DECIDE_LUA);
        let hash = self.bounded(load.query_async::<String>(&mut connection)).await?;
        if hash != self.script.get_hash() {
            return Err(StoreError::Protocol(format!(
                "script hash {hash} differs from the expected {}",
                self.script.get_hash()
            )));
        }
        Ok(())
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

    /// The `EVALSHA` command line a decision sends, for `redis-cli`, `redis-benchmark` and
    /// debugging: `EVALSHA <sha> <n> <keys…> <now> d <slack> <six values per bucket…>`.
    pub fn decide_command(&self, charges: &[Charge]) -> Result<Vec<String>, StoreError> {
        let cmd = self.command(charges, Mode::Decide)?;
        Ok(cmd
            .args_iter()
            .filter_map(|arg| match arg {
                redis::Arg::Simple(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
                _ => None,
            })
            .collect())
    }

    fn command(&self, charges: &[Charge], mode: Mode) -> Result<Cmd, StoreError> {
        let mut rules = Vec::with_capacity(charges.len());
        for charge in charges {
            rules.push(Rule::of(&charge.spec)?);
        }
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(self.script.get_hash()).arg(charges.len());
        for charge in charges {
            cmd.arg(self.key(&charge.spec, &charge.subject));
        }
        match &self.clock {
            Some(clock) => cmd.arg(clock.now_micros()),
            None => cmd.arg(""),
        };
        cmd.arg(match mode {
            Mode::Decide => "d",
            Mode::Peek => "p",
        });
        cmd.arg(u64::try_from(self.config.ttl_slack.as_millis()).unwrap_or(u64::MAX));
        let local_now =
            self.clock.as_ref().map_or_else(|| SystemClock.now_micros(), |clock| clock.now_micros());
        for (charge, rule) in charges.iter().zip(&rules) {
            push_rule(&mut cmd, rule, rule::clamp_cost(charge.cost), local_now);
        }
        Ok(cmd)
    }

    /// Run the script once for these charges (loading it if the server has forgotten it).
    async fn run(&self, charges: &[Charge], mode: Mode) -> Result<Answer, StoreError> {
        let cmd = self.command(charges, mode)?;
        let reply = self.bounded(self.evaluate(&cmd)).await?;
        parse_answer(&reply, charges.len())
    }

    async fn evaluate(&self, cmd: &Cmd) -> Result<Vec<i64>, RedisError> {
        let mut connection = self.connection.clone();
        match cmd.query_async(&mut connection).await {
            Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                redis::cmd("SCRIPT")
                    .arg("LOAD")
                    .arg(DECIDE_LUA)
                    .query_async::<String>(&mut connection)
                    .await?;
                cmd.query_async(&mut connection).await
            }
            other => other,
        }
    }
}

/// A bucket's six script arguments. A billing month also carries the month this node's clock is
/// in: the script uses it when it holds the server's "now" (nearly always), which spares it the
/// calendar sums, a seventh of its work.
fn push_rule(cmd: &mut Cmd, rule: &Rule, cost: u64, local_now: Micros) {
    match *rule {
        Rule::Fixed { limit, span: Span::Length(length) } => {
            cmd.arg("f").arg(cost).arg(limit).arg(length).arg(0).arg(0);
        }
        Rule::Fixed { limit, span: Span::Month(anchor) } => {
            let (start, end) = calendar::month(local_now, anchor);
            cmd.arg("M").arg(cost).arg(limit).arg(anchor).arg(start).arg(end);
        }
        Rule::Gcra { interval, tolerance, capacity, period } => {
            cmd.arg("g").arg(cost).arg(interval).arg(tolerance).arg(capacity).arg(period);
        }
    }
}

fn parse_answer(reply: &[i64], buckets: usize) -> Result<Answer, StoreError> {
    if reply.len() != 2 + 4 * buckets {
        return Err(StoreError::Protocol(format!(
            "expected {} integers from the script, got {}",
            2 + 4 * buckets,
            reply.len()
        )));
    }
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(Answer {
        now: reply[0],
        buckets: reply[2..]
            .chunks_exact(4)
            .map(|b| {
                let report = Report { used: count(b[0]), remaining: count(b[1]), reset: b[2] };
                (report, (b[3] >= 0).then_some(b[3]))
            })
            .collect(),
    })
}

fn unavailable(error: RedisError) -> StoreError {
    StoreError::Unavailable(Box::new(error))
}

#[async_trait]
impl LimiterStore for RedisStore {
    async fn decide<'c>(&self, charges: &'c [Charge]) -> Result<Decision<'c>, StoreError> {
        let answer = self.run(charges, Mode::Decide).await?;
        let buckets: Vec<BucketState<'c>> = charges
            .iter()
            .zip(answer.buckets)
            .map(|(charge, (report, wait))| decision::bucket_state(charge, report, wait))
            .collect();
        Ok(Decision {
            now: decision::instant(answer.now),
            retry_after: decision::overall_wait(&buckets),
            buckets,
        })
    }

    async fn peek<'c>(&self, charges: &'c [Charge]) -> Result<Vec<BucketState<'c>>, StoreError> {
        let answer = self.run(charges, Mode::Peek).await?;
        Ok(charges
            .iter()
            .zip(answer.buckets)
            .map(|(charge, (report, _))| decision::bucket_state(charge, report, None))
            .collect())
    }

    async fn reset(&self, spec: &BucketSpec, subject: &str) -> Result<(), StoreError> {
        Rule::of(spec)?;
        let mut connection = self.connection.clone();
        let key = self.key(spec, subject);
        let mut delete = redis::cmd("DEL");
        delete.arg(&key);
        self.bounded(delete.query_async::<i64>(&mut connection)).await.map(|_| ())
    }
}
