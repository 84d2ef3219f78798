//! Quota leases on the Redis store, against the real Redis: spent on the node, counted by
//! other nodes until given back, never past a limit, given back on expiry, by the sweeping
//! task and at shutdown; and the reference model's answers through leases.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use limiter::redis_store::LeasePolicy;
use limiter::{Charge, LimiterStore, ManualClock, RedisConfig, RedisStore, Scope, Window};

use super::conformance::{at, one, spec};
use super::{DeleteKeys, PrivateRedis, URL, decides_like_the_model, model, store_at, unique_prefix};

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

/// What the test's tracing subscriber writes, to read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

// One thread, so the sweeping task logs to this test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn a_give_back_that_fails_is_logged() {
    use tracing_subscriber::util::SubscriberInitExt;
    let logs = Captured::default();
    let writer = logs.clone();
    let _subscriber =
        tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish().set_default();
    let server = PrivateRedis::start().await;
    let leases = LeasePolicy { ttl: Duration::from_millis(50), ..LeasePolicy::DEFAULT };
    let config = RedisConfig::new(server.url()).with_leases(leases);
    let node = RedisStore::connect(config).await.expect("private Redis");
    let daily = spec("daily_cap", 100_000, Window::Day, Scope::Key);
    assert!(node.decide(&one(&daily, "key_1")).await.expect("decide").is_allowed());
    assert_eq!(node.leased_buckets(), 1);

    // Redis goes away while the node holds a lease; the sweeping task cannot give it back.
    drop(server);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !logs.text().contains("could not give back expired quota leases") {
        assert!(Instant::now() < deadline, "no warning; logged: {:?}", logs.text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(logs.text().contains("WARN"), "{}", logs.text());
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
fn redis_store_spending_leases_decides_like_the_reference_model() {
    use proptest::prelude::Strategy;
    decides_like_the_model(model::strategies::buckets().prop_map(roomy));
}
