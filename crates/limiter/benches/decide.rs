//! ns per decision of the default policy's 5-bucket request on the memory store, at 1, 1k and
//! 1M distinct keys, on 1 and 2 threads; beside it, the same checks through a chain of five
//! `governor` keyed limiters (not atomic: it charges earlier buckets even if a later one denies).
//!
//! `cargo bench -p limiter --bench decide`

mod seed;

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use limiter::{LimiterStore, MemoryStore};
use seed::{Picker, Subjects};

/// Five keyed limiters in the policy's order: monthly (account), burst, daily, reads (key), public (IP).
struct GovernorChain([DefaultKeyedRateLimiter<String>; 5]);

impl GovernorChain {
    fn new() -> Self {
        let quota = Quota::per_second(NonZeroU32::MAX).allow_burst(NonZeroU32::MAX);
        Self(std::array::from_fn(|_| RateLimiter::keyed(quota)))
    }

    fn check(&self, subjects: &Subjects, i: usize) -> bool {
        let [monthly, burst, daily, reads, public] = &self.0;
        let (key, account, ip) = (&subjects.keys[i], &subjects.accounts[i], &subjects.ips[i]);
        monthly.check_key(account).is_ok()
            && burst.check_key(key).is_ok()
            && daily.check_key(key).is_ok()
            && reads.check_key(key).is_ok()
            && public.check_key(ip).is_ok()
    }
}

/// Poll a future that is ready at once: the memory store never waits.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

/// Run `iters` requests split over `threads` threads; the wall time of the whole.
fn on_threads(threads: usize, iters: u64, work: impl Fn(u64, u64) + Sync) -> Duration {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads as u64 {
            let work = &work;
            scope.spawn(move || work(t, iters / threads as u64));
        }
    });
    started.elapsed()
}

fn decide(c: &mut Criterion) {
    let buckets = seed::buckets();
    let mut group = c.benchmark_group("seed_request");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for keys in [1, 1_000, 1_000_000] {
        let subjects = Subjects::new(keys);
        let store: Arc<dyn LimiterStore> = Arc::new(MemoryStore::new());
        let chain = GovernorChain::new();
        // Every key is known before measuring: steady state, not first sight.
        let mut charges = seed::charges(&buckets);
        for i in 0..keys {
            seed::fill(&mut charges, &subjects, i);
            assert!(ready(store.decide(&charges)).is_ok_and(|d| d.is_allowed()));
            assert!(chain.check(&subjects, i));
        }
        for threads in [1, 2] {
            group.bench_function(BenchmarkId::new(format!("keystile_{threads}t"), keys), |b| {
                b.iter_custom(|iters| {
                    on_threads(threads, iters, |t, n| {
                        let mut picker = Picker::new(0x9e37_79b9 + t);
                        let mut charges = seed::charges(&buckets);
                        for _ in 0..n {
                            seed::fill(&mut charges, &subjects, picker.next(subjects.len()));
                            let decision = ready(store.decide(&charges));
                            black_box(decision.is_ok_and(|d| d.is_allowed()));
                        }
                    })
                })
            });
            group.bench_function(BenchmarkId::new(format!("governor_{threads}t"), keys), |b| {
                b.iter_custom(|iters| {
                    on_threads(threads, iters, |t, n| {
                        let mut picker = Picker::new(0x9e37_79b9 + t);
                        for _ in 0..n {
                            black_box(chain.check(&subjects, picker.next(subjects.len())));
                        }
                    })
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
