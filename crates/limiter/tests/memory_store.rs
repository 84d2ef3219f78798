//! The memory store: the conformance suite, exactness under threads, and bounded memory.

mod conformance;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use conformance::{Fixture, at, gcra, one, spec};
use limiter::{Charge, LimiterStore, ManualClock, MemoryStore, Scope, Window};

async fn memory(clock: ManualClock) -> Fixture {
    Fixture { store: Arc::new(MemoryStore::with_clock(Arc::new(clock))), cleanup: Box::new(()) }
}

conformance_suite!(memory);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_requests_admit_exactly_sixty_per_minute() {
    let clock = ManualClock::new(at("2026-04-20T10:15:30Z"));
    let store: Arc<dyn LimiterStore> = Arc::new(MemoryStore::with_clock(Arc::new(clock)));
    let reads = spec("reads", 60, Window::Minute, Scope::Key);
    let charges = Arc::new(one(&reads, "key_1"));
    let admitted = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..1_000)
        .map(|_| {
            let (store, charges, admitted) = (store.clone(), charges.clone(), admitted.clone());
            tokio::spawn(async move {
                if store.decide(&charges).await.expect("decide").is_allowed() {
                    admitted.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    assert_eq!(admitted.load(Ordering::Relaxed), 60);
}

#[test]
fn threads_racing_on_shared_and_private_buckets_never_overshoot() {
    // Each request charges a shared account bucket and a per-thread key bucket; lock order
    // must keep this deadlock-free and the shared count exact.
    let clock = ManualClock::new(at("2026-04-20T10:15:30Z"));
    let store = MemoryStore::with_clock_and_shards(Arc::new(clock), 4);
    let monthly = spec("monthly", 500, Window::Month { anchor_day: 1 }, Scope::Account);
    let reads = spec("reads", 1_000, Window::Minute, Scope::Key);
    let admitted = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let charges = vec![
                Charge::new(reads.clone(), format!("key_{thread}")),
                Charge::new(monthly.clone(), "acct_1"),
            ];
            let (store, admitted) = (&store, &admitted);
            scope.spawn(move || {
                for _ in 0..250 {
                    let decision = futures_ready(store.decide(&charges)).expect("decide");
                    if decision.is_allowed() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(admitted.load(Ordering::Relaxed), 500);
}

#[tokio::test]
async fn idle_subjects_expire_so_memory_stays_bounded() {
    let clock = ManualClock::new(at("2026-04-20T10:00:00Z"));
    let store = MemoryStore::with_clock_and_shards(Arc::new(clock.clone()), 2);
    let public = spec("public", 10, Window::Hour, Scope::Ip);
    let burst = gcra("burst", 5, 1_000, 5, Scope::Ip);
    // A scanner walks 100,000 addresses, one request each, a second apart.
    for n in 0..100_000u32 {
        let ip = std::net::Ipv4Addr::from(0x0a00_0000 + n).to_string();
        let charges = vec![Charge::new(public.clone(), &ip), Charge::new(burst.clone(), ip)];
        assert!(store.decide(&charges).await.expect("decide").is_allowed());
        clock.advance(chrono::Duration::seconds(1));
    }
    // At most an hour's worth of addresses are live; sweeps keep the rest out.
    assert!(store.len() <= 2 * 3_600 + 2 * 1_024, "{} entries", store.len());
    clock.advance(chrono::Duration::hours(2));
    store.purge_expired();
    assert!(store.is_empty());
}

/// Poll a future that is ready at once (the memory store never waits).
fn futures_ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

mod model;

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(256))]

    #[test]
    fn memory_store_decides_like_the_reference_model(
        buckets in model::strategies::buckets(),
        start in model::strategies::start(),
        ops in proptest::collection::vec(model::strategies::op(), 1..60),
    ) {
        let clock = ManualClock::new(model::start_instant(start));
        let store = MemoryStore::with_clock(Arc::new(clock.clone()));
        let outcome = futures_ready(model::replay(&store, &clock, buckets, &ops));
        proptest::prop_assert!(outcome.is_ok(), "{}", outcome.err().unwrap_or_default());
    }
}
