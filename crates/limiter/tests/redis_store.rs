//! The Redis store against the real Redis at 127.0.0.1:6379: the conformance suite, exactness
//! across three store instances (three nodes), server time, NOSCRIPT, and bounded failures;
//! quota leases in `leases/`.
//!
//! Each store gets a key prefix unique to this run and test, and deletes its keys when dropped.

mod conformance;
mod leases;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use conformance::{Fixture, at, one, spec};
use limiter::{Clock, LimiterStore, ManualClock, RedisConfig, RedisStore, Scope, StoreError, Window};

const URL: &str = "redis://127.0.0.1:6379/";

/// A prefix no other run or test shares.
fn unique_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("keystile-test:{}:{nanos}:{}:", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Deletes every key under its prefix when dropped.
struct DeleteKeys(String);

impl Drop for DeleteKeys {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(URL) else {
            return;
        };
        let Ok(mut connection) = client.get_connection() else {
            return;
        };
        let keys: Vec<String> =
            redis::cmd("KEYS").arg(format!("{}*", self.0)).query(&mut connection).unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<i64, _> = redis::cmd("DEL").arg(&keys).query(&mut connection);
        }
    }
}

async fn store_at(prefix: &str, clock: Option<ManualClock>) -> RedisStore {
    let config = RedisConfig::new(URL).with_prefix(prefix);
    let store = RedisStore::connect(config).await.expect("Redis at 127.0.0.1:6379");
    match clock {
        Some(clock) => store.with_clock(Arc::new(clock)),
        None => store,
    }
}

async fn redis(clock: ManualClock) -> Fixture {
    let prefix = unique_prefix();
    Fixture { store: Arc::new(store_at(&prefix, Some(clock)).await), cleanup: Box::new(DeleteKeys(prefix)) }
}

conformance_suite!(redis);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_requests_through_three_nodes_admit_exactly_sixty() {
    let prefix = unique_prefix();
    let _cleanup = DeleteKeys(prefix.clone());
    let clock = ManualClock::new(at("2026-04-20T10:15:30Z"));
    let mut nodes: Vec<Arc<dyn LimiterStore>> = Vec::new();
    for _ in 0..3 {
        nodes.push(Arc::new(store_at(&prefix, Some(clock.clone())).await));
    }
    let admitted = admitted_concurrently(&nodes, 1_000).await;
    assert_eq!(admitted.values().sum::<u64>(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_on_server_time_admit_exactly_the_limit_per_window() {
    // No injected clock: every node takes "now" from Redis's TIME. A minute boundary may fall
    // inside the run, so count per window: none may exceed 60, and the busier one is full.
    let prefix = unique_prefix();
    let _cleanup = DeleteKeys(prefix.clone());
    let mut nodes: Vec<Arc<dyn LimiterStore>> = Vec::new();
    for _ in 0..3 {
        nodes.push(Arc::new(store_at(&prefix, None).await));
    }
    let per_window = admitted_concurrently(&nodes, 1_000).await;
    assert!(per_window.values().all(|&n| n <= 60), "{per_window:?}");
    assert_eq!(per_window.values().max(), Some(&60), "{per_window:?}");
}

/// Send `requests` concurrent single-bucket requests round-robin over `nodes`; count the
/// admissions per reported window end.
async fn admitted_concurrently(
    nodes: &[Arc<dyn LimiterStore>],
    requests: usize,
) -> std::collections::BTreeMap<u64, u64> {
    let reads = spec("reads", 60, Window::Minute, Scope::Key);
    let charges = Arc::new(one(&reads, "key_1"));
    let tasks: Vec<_> = (0..requests)
        .map(|i| {
            let (node, charges) = (nodes[i % nodes.len()].clone(), charges.clone());
            tokio::spawn(async move {
                let decision = node.decide(&charges).await.expect("decide");
                decision.is_allowed().then(|| decision.buckets[0].reset_epoch_seconds())
            })
        })
        .collect();
    let mut per_window = std::collections::BTreeMap::new();
    for task in tasks {
        if let Some(window) = task.await.expect("task") {
            *per_window.entry(window).or_insert(0) += 1;
        }
    }
    per_window
}

#[tokio::test]
async fn decisions_use_the_redis_servers_clock_not_the_nodes() {
    let prefix = unique_prefix();
    let _cleanup = DeleteKeys(prefix.clone());
    let store = store_at(&prefix, None).await;
    let reads = spec("reads", 5, Window::Minute, Scope::Key);
    let charges = one(&reads, "key_1");
    let decision = store.decide(&charges).await.expect("decide");
    let mut connection = redis::Client::open(URL).and_then(|c| c.get_connection()).expect("connection");
    let (seconds, _micros): (i64, i64) = redis::cmd("TIME").query(&mut connection).expect("TIME");
    assert!((decision.now_utc().timestamp() - seconds).abs() <= 2);
    // A node whose own clock is a day off still agrees, because it is not asked.
    let skewed = limiter::SystemClock.now() + chrono::Duration::days(1);
    assert!((decision.now_utc() - skewed).num_hours().abs() >= 23);
}

#[tokio::test]
async fn the_script_works_out_the_month_itself_when_the_nodes_guess_is_wrong() {
    let prefix = unique_prefix();
    let _cleanup = DeleteKeys(prefix.clone());
    let store = store_at(&prefix, Some(ManualClock::new(at("2026-03-15T12:00:00Z")))).await;
    let monthly = spec("monthly", 10, Window::Month { anchor_day: 31 }, Scope::Account);
    let mut command = store.decide_command(&one(&monthly, "acct_1")).expect("command");
    let mut connection = redis::Client::open(URL).and_then(|c| c.get_connection()).expect("connection");
    let mut reset_at = |command: &[String]| {
        let reply: Vec<i64> =
            redis::cmd(&command[0]).arg(&command[1..]).query(&mut connection).expect("script");
        reply[4]
    };
    // Anchor 31: the month runs from the last day of February to March 31st.
    let march_31 = at("2026-03-31T00:00:00Z").timestamp_micros();
    assert_eq!(reset_at(&command), march_31, "the node's own guess");
    // The bucket's values end with the node's guess, then want, back and back_at; a node a
    // month behind guesses January.
    let guess = command.len() - 5;
    command[guess] = at("2026-01-31T00:00:00Z").timestamp_micros().to_string();
    command[guess + 1] = at("2026-02-28T00:00:00Z").timestamp_micros().to_string();
    assert_eq!(reset_at(&command), march_31, "worked out by the script");
}

/// A redis-server of this test's own on a free port, stopped when dropped, for tests that
/// flush or stop the server (the shared one at 6379 is left alone).
struct PrivateRedis {
    child: std::process::Child,
    port: u16,
}

impl PrivateRedis {
    async fn start_on(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(5);
        while redis::Client::open(server.url()).and_then(|c| c.get_connection()).is_err() {
            assert!(Instant::now() < deadline, "private redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server
    }

    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        Self::start_on(port).await
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn script_is_reloaded_after_the_server_forgets_it() {
    let server = PrivateRedis::start().await;
    let clock = ManualClock::new(at("2026-04-20T10:00:00Z"));
    let config = RedisConfig::new(server.url());
    let store = RedisStore::connect(config).await.expect("private Redis").with_clock(Arc::new(clock));
    let reads = spec("reads", 5, Window::Minute, Scope::Key);
    let charges = one(&reads, "key_1");
    assert!(store.decide(&charges).await.expect("decide").is_allowed());
    let mut connection =
        redis::Client::open(server.url()).and_then(|c| c.get_connection()).expect("connection");
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut connection).expect("flush");
    let decision = store.decide(&charges).await.expect("decide after NOSCRIPT");
    assert_eq!(decision.buckets[0].remaining, 3);
}

#[tokio::test]
async fn store_reports_errors_while_redis_is_down_and_recovers_when_it_returns() {
    let server = PrivateRedis::start().await;
    let port = server.port;
    let config = RedisConfig::new(server.url()).with_timeout(Duration::from_millis(200));
    let store = RedisStore::connect(config).await.expect("private Redis");
    let reads = spec("reads", 5, Window::Minute, Scope::Key);
    let charges = one(&reads, "key_1");
    assert!(store.decide(&charges).await.expect("decide").is_allowed());
    drop(server);
    let started = Instant::now();
    for _ in 0..3 {
        let error = store.decide(&charges).await.expect_err("Redis is down");
        assert!(error.is_outage(), "{error}");
    }
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let _server = PrivateRedis::start_on(port).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match store.decide(&charges).await {
            Ok(decision) => break assert!(decision.is_allowed()),
            Err(error) => assert!(Instant::now() < deadline, "no recovery: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn keys_expire_with_their_window() {
    let prefix = unique_prefix();
    let _cleanup = DeleteKeys(prefix.clone());
    let store = store_at(&prefix, None).await;
    let minute = spec("reads", 5, Window::Minute, Scope::Key);
    let charges = one(&minute, "key_1");
    let decision = store.decide(&charges).await.expect("decide");
    let mut connection = redis::Client::open(URL).and_then(|c| c.get_connection()).expect("connection");
    let ttl: i64 = redis::cmd("PTTL").arg(store.key(&minute, "key_1")).query(&mut connection).expect("PTTL");
    let until_reset = decision.buckets[0].reset_after(decision.now).as_millis() as i64;
    assert!(ttl > 0 && ttl <= until_reset + 1_000 + 1, "ttl {ttl} ms, reset in {until_reset} ms");
}

#[tokio::test]
async fn unreachable_redis_is_an_error_within_the_timeout() {
    // Nothing listens on port 1; a blackholed address would take as long.
    let config = RedisConfig::new("redis://127.0.0.1:1/").with_timeout(Duration::from_millis(200));
    let started = Instant::now();
    let connect = RedisStore::connect(config.clone()).await;
    assert!(matches!(connect, Err(ref e) if e.is_outage()), "{connect:?}");
    let store = RedisStore::connect_lazy(config).await.expect("lazy store");
    let reads = spec("reads", 5, Window::Minute, Scope::Key);
    for _ in 0..3 {
        let error = store.decide(&one(&reads, "key_1")).await.expect_err("no Redis");
        assert!(matches!(error, StoreError::Unavailable(_) | StoreError::Timeout(_)), "{error}");
    }
    assert!(store.peek(&one(&reads, "key_1")).await.is_err());
    assert!(store.reset(&reads, "key_1").await.is_err());
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // A listener that accepts and then says nothing, like a hung Redis.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let config =
        RedisConfig::new(format!("redis://127.0.0.1:{port}/")).with_timeout(Duration::from_millis(150));
    let store = RedisStore::connect_lazy(config).await.expect("lazy store");
    let reads = spec("reads", 5, Window::Minute, Scope::Key);
    let started = Instant::now();
    let error = store.decide(&one(&reads, "key_1")).await.expect_err("silent server");
    assert!(error.is_outage(), "{error}");
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    silent.abort();
}

mod model;

#[test]
fn redis_store_decides_like_the_reference_model() {
    decides_like_the_model(model::strategies::buckets());
}

/// Random requests, peeks, resets, limit changes and clock moves on buckets drawn from
/// `buckets`, replayed on a Redis store and on the model: every answer must agree.
fn decides_like_the_model(buckets: impl proptest::strategy::Strategy<Value = Vec<limiter::BucketSpec>>) {
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let strategy =
        (buckets, model::strategies::start(), proptest::collection::vec(model::strategies::op(), 1..40));
    let mut runner = TestRunner::new(Config::with_cases(48));
    let result = runner.run(&strategy, |(buckets, start, ops)| {
        runtime.block_on(async {
            let prefix = unique_prefix();
            let _cleanup = DeleteKeys(prefix.clone());
            let clock = ManualClock::new(model::start_instant(start));
            let store = store_at(&prefix, Some(clock.clone())).await;
            model::replay(&store, &clock, buckets, &ops).await.map_err(TestCaseError::fail)
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
