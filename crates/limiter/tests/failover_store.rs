//! The failover store: the conformance suite with a healthy primary, then outages.

mod conformance;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use conformance::{Fixture, at, one, spec};
use limiter::{
    BucketSpec, BucketState, Charge, Decision, FailoverStore, LimiterStore, ManualClock, MemoryStore, Scope,
    StoreError, Window,
};

async fn failover(clock: ManualClock) -> Fixture {
    let clock = Arc::new(clock);
    let primary = Arc::new(MemoryStore::with_clock(clock.clone()));
    Fixture {
        store: Arc::new(FailoverStore::new(primary, clock, |name: &str| name == "key_mgmt")),
        cleanup: Box::new(()),
    }
}

conformance_suite!(failover);

/// A primary that can be switched off, counting the calls it receives.
struct Switchable {
    inner: MemoryStore,
    down: AtomicBool,
    calls: AtomicUsize,
}

impl Switchable {
    fn check(&self) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if self.down.load(Ordering::Relaxed) {
            Err(StoreError::Timeout(Duration::from_millis(250)))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl LimiterStore for Switchable {
    async fn decide<'c>(&self, charges: &'c [Charge]) -> Result<Decision<'c>, StoreError> {
        self.check()?;
        self.inner.decide(charges).await
    }

    async fn peek<'c>(&self, charges: &'c [Charge]) -> Result<Vec<BucketState<'c>>, StoreError> {
        self.check()?;
        self.inner.peek(charges).await
    }

    async fn reset(&self, spec: &BucketSpec, subject: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.reset(spec, subject).await
    }
}

fn setup() -> (ManualClock, Arc<Switchable>, FailoverStore) {
    let clock = ManualClock::new(at("2026-04-20T10:00:00Z"));
    let primary = Arc::new(Switchable {
        inner: MemoryStore::with_clock(Arc::new(clock.clone())),
        down: AtomicBool::new(false),
        calls: AtomicUsize::new(0),
    });
    let store = FailoverStore::new(primary.clone(), Arc::new(clock.clone()), |name: &str| name == "key_mgmt");
    (clock, primary, store)
}

#[tokio::test]
async fn traffic_buckets_fall_back_to_the_local_bound_while_the_primary_is_down() {
    let (_clock, primary, store) = setup();
    let reads = spec("reads", 3, Window::Minute, Scope::Key);
    let charges = one(&reads, "key_1");
    assert!(store.decide(&charges).await.expect("decide").is_allowed());
    primary.down.store(true, Ordering::Relaxed);
    // The local bound is the same limit, counted on this node from zero.
    assert_eq!(conformance::admitted(&store, &charges, 5).await, 3);
    assert!(store.is_degraded());
    assert_eq!(conformance::remaining(&store, &charges).await, vec![0]);
}

#[tokio::test]
async fn security_buckets_fail_closed_while_the_primary_is_down() {
    let (_clock, primary, store) = setup();
    let key_mgmt = spec("key_mgmt", 10, Window::Minute, Scope::User);
    let reads = spec("reads", 60, Window::Minute, Scope::Key);
    primary.down.store(true, Ordering::Relaxed);
    let mixed = vec![Charge::new(reads, "key_1"), Charge::new(key_mgmt.clone(), "user_1")];
    for charges in [one(&key_mgmt, "user_1"), mixed] {
        let error = store.decide(&charges).await.expect_err("fails closed");
        assert!(error.is_outage(), "{error}");
        assert!(store.peek(&charges).await.is_err());
    }
}

#[tokio::test]
async fn a_dead_primary_is_asked_once_per_cool_down_then_again() {
    let (clock, primary, store) = setup();
    let store = store.with_cool_down(Duration::from_secs(2));
    let reads = spec("reads", 100, Window::Minute, Scope::Key);
    let charges = one(&reads, "key_1");
    primary.down.store(true, Ordering::Relaxed);
    assert_eq!(conformance::admitted(&store, &charges, 10).await, 10);
    assert_eq!(primary.calls.load(Ordering::Relaxed), 1);
    clock.advance(chrono::Duration::seconds(2));
    primary.down.store(false, Ordering::Relaxed);
    let decision = store.decide(&charges).await.expect("decide");
    assert!(!store.is_degraded());
    // Back on the primary, which never saw the local requests.
    assert_eq!(decision.buckets[0].remaining, 99);
    assert_eq!(primary.calls.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn denials_and_invalid_buckets_are_not_outages() {
    let (_clock, primary, store) = setup();
    let scans = spec("scans", 1, Window::Hour, Scope::Key);
    let charges = one(&scans, "key_1");
    assert_eq!(conformance::admitted(&store, &charges, 3).await, 1);
    let zero_rate = conformance::gcra("burst", 0, 1_000, 5, Scope::Key);
    let error = store.decide(&one(&zero_rate, "key_1")).await.expect_err("invalid");
    assert!(!error.is_outage());
    assert!(!store.is_degraded());
    assert_eq!(primary.calls.load(Ordering::Relaxed), 4);
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_real_unreachable_redis_falls_back_within_its_timeout() {
    let config = limiter::RedisConfig::new("redis://127.0.0.1:1/").with_timeout(Duration::from_millis(100));
    let redis = limiter::RedisStore::connect_lazy(config).await.expect("lazy store");
    let clock = Arc::new(limiter::SystemClock);
    let store = FailoverStore::new(Arc::new(redis), clock, |name: &str| name == "key_mgmt");
    let reads = spec("reads", 60, Window::Minute, Scope::Key);
    let started = std::time::Instant::now();
    assert_eq!(conformance::admitted(&store, &one(&reads, "key_1"), 20).await, 20);
    assert!(started.elapsed() < Duration::from_millis(600), "{:?}", started.elapsed());
}
