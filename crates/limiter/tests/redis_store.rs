//! The Redis store against the real Redis at 127.0.0.1:6379: the conformance suite, exactness
//! across three store instances (three nodes), server time, NOSCRIPT, and bounded failures.
//!
//! Each store gets a key prefix unique to this run and test, and deletes its keys when dropped.

mod conformance;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use conformance::{Fixture, at, one, spec};
use limiter::redis_store::LeasePolicy;
use limiter::{Charge, Clock, LimiterStore, ManualClock, RedisConfig, RedisStore, Scope, StoreError, Window};

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

/// The `EVALSHA` calls a server has run since its last `CONFIG RESETSTAT`.
fn script_calls(connection: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(connection).expect("INFO");
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|calls| calls.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn roomy_buckets_are_spent_from_leases_and_what_is_left_is_given_back() {
    let server = PrivateRedis::start().await;
    let clock = ManualClock::new(at("2026-04-20T10:15:30Z"));
    let node = || async {
        let store = RedisStore::connect(RedisConfig::new(server.url())).await.expect("private Redis");
        store.with_clock(Arc::new(clock.clone()))
    };
    let (first, second) = (node().await, node().await);
    let monthly = spec("monthly", 1_000_000, Window::Month { anchor_day: 1 }, Scope::Account);
    let reads = spec("reads", 100_000, Window::Minute, Scope::Key);
    let charges = vec![Charge::new(monthly, "acct_1"), Charge::new(reads, "key_1")];
    let mut connection =
        redis::Client::open(server.url()).and_then(|c| c.get_connection()).expect("connection");
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut connection).expect("RESETSTAT");
    for spent in 1..=1_000 {
        let decision = first.decide(&charges).await.expect("decide");
        assert!(decision.is_allowed());
        assert_eq!(decision.buckets[0].used, spent);
        assert_eq!(decision.buckets[1].remaining, 100_000 - spent);
    }
    // Each call charges one request and reserves 64 more of both buckets for the node.
    let calls = script_calls(&mut connection);
    assert!(calls <= 1_000 / 65 + 1, "{calls} script calls for 1,000 decisions");

    let used = |states: Vec<limiter::BucketState>| states.iter().map(|state| state.used).collect::<Vec<_>>();
    // The node that holds the lease reports what was spent; another counts its reservation too.
    assert_eq!(used(first.peek(&charges).await.expect("peek")), [1_000, 1_000]);
    let seen_elsewhere = used(second.peek(&charges).await.expect("peek"));
    assert!(seen_elsewhere.iter().all(|&n| (1_001..=1_064).contains(&n)), "{seen_elsewhere:?}");

    // Past its lifetime, the lease's unspent units go back, and every node agrees again.
    clock.advance(chrono::Duration::seconds(2));
    first.return_expired_leases().await.expect("give back");
    assert_eq!(used(second.peek(&charges).await.expect("peek")), [1_000, 1_000]);

    // A node that stops gives back everything it holds.
    assert!(first.decide(&charges).await.expect("decide").is_allowed());
    assert!(used(second.peek(&charges).await.expect("peek")).iter().all(|&n| n > 1_001));
    first.return_all_leases().await.expect("give back");
    assert_eq!(used(second.peek(&charges).await.expect("peek")), [1_001, 1_001]);
}

/// A store on Redis's clock whose leases last `lease_lifetime`.
async fn node_on_system_clock(prefix: &str, lease_lifetime: Duration) -> RedisStore {
    let leases = LeasePolicy { ttl: lease_lifetime, ..LeasePolicy::DEFAULT };
    let config = RedisConfig::new(URL).with_prefix(prefix).with_leases(leases);
    RedisStore::connect(config).await.expect("Redis at 127.0.0.1:6379")
}

#[tokio::test]
async fn on_the_system_clock_a_task_gives_back_leases_no_longer_spent() {
    let prefix = unique_prefix();
    let _cleanup = DeleteKeys(prefix.clone());
    let node = node_on_system_clock(&prefix, Duration::from_millis(100)).await;
    let other = store_at(&prefix, None).await;
    let daily = spec("daily_cap", 100_000, Window::Day, Scope::Key);
    let charges = one(&daily, "key_1");
    for _ in 0..10 {
        assert!(node.decide(&charges).await.expect("decide").is_allowed());
    }
    let used_elsewhere = || async { other.peek(&charges).await.expect("peek")[0].used };
    assert!(used_elsewhere().await > 10, "the node holds a reservation");
    let deadline = Instant::now() + Duration::from_secs(5);
    while used_elsewhere().await != 10 {
        assert!(Instant::now() < deadline, "the lease was never given back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_nodes_refusals_are_forgotten_once_they_run_out() {
    let prefix = unique_prefix();
    let _cleanup = DeleteKeys(prefix.clone());
    let node = node_on_system_clock(&prefix, Duration::from_millis(50)).await;
    // Only tight buckets: every one is refused a lease, and the node holds nothing but refusals.
    let tight = spec("reads", 60, Window::Minute, Scope::Key);
    for key in ["key_1", "key_2", "key_3"] {
        assert!(node.decide(&one(&tight, key)).await.expect("decide").is_allowed());
    }
    assert_eq!(node.leased_buckets(), 3);
    let deadline = Instant::now() + Duration::from_secs(5);
    while node.leased_buckets() != 0 {
        assert!(Instant::now() < deadline, "{} refusals still held", node.leased_buckets());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_spending_leases_never_admit_past_the_limit_and_give_back_the_rest() {
    let prefix = unique_prefix();
    let _cleanup = DeleteKeys(prefix.clone());
    let clock = ManualClock::new(at("2026-04-20T10:15:30Z"));
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(Arc::new(store_at(&prefix, Some(clock.clone())).await));
    }
    let daily = spec("daily_cap", 20_000, Window::Day, Scope::Key);
    let charges = Arc::new(one(&daily, "key_1"));
    // 64 clients, each sending its share of the requests one after another to one node.
    let round = |requests: usize| {
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let (node, charges) = (nodes[i % nodes.len()].clone(), charges.clone());
                tokio::spawn(async move {
                    let mut admitted = 0;
                    for _ in 0..requests / 64 {
                        admitted += usize::from(node.decide(&charges).await.expect("decide").is_allowed());
                    }
                    admitted
                })
            })
            .collect();
        async move {
            let mut admitted = 0;
            for task in tasks {
                admitted += task.await.expect("task");
            }
            admitted
        }
    };
    let first = round(24_000).await;
    // Units a node still holds when its requests stop are all that can be missing.
    assert!((20_000 - 3 * 64..=20_000).contains(&first), "{first} admitted");
    clock.advance(chrono::Duration::seconds(2));
    for node in &nodes {
        node.return_expired_leases().await.expect("give back");
    }
    let second = round(3_200).await;
    assert_eq!(first + second, 20_000);
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

/// The model's buckets with limits (and bursts) a thousand times larger: room enough for
/// quota leases, so decisions run through them, while a plan change can still cut a limit to
/// a few units.
fn roomy(buckets: Vec<limiter::BucketSpec>) -> Vec<limiter::BucketSpec> {
    buckets
        .into_iter()
        .map(|mut bucket| {
            bucket.limit *= 1_000;
            if let Window::Gcra { period, burst } = bucket.window {
                bucket.window = Window::Gcra { period, burst: burst * 1_000 };
            }
            bucket
        })
        .collect()
}

#[test]
fn redis_store_decides_like_the_reference_model() {
    decides_like_the_model(model::strategies::buckets());
}

#[test]
fn redis_store_spending_leases_decides_like_the_reference_model() {
    use proptest::prelude::Strategy;
    decides_like_the_model(model::strategies::buckets().prop_map(roomy));
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
