//! ns per `UsageRecorder::record` on the gateway's request path, on 1 and 2 threads, for 1 and
//! 1,000 distinct keys already counted this minute (the steady state: no allocation).
//!
//! `cargo bench -p usage --bench record`

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use usage::{Outcome, UsageEvent, UsageRecorder};

/// Run `iters` records split over `threads` threads; the wall time of the whole.
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

fn record(c: &mut Criterion) {
    let at = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).single().unwrap_or_default();
    let mut group = c.benchmark_group("record");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for keys in [1_usize, 1_000] {
        let key_ids: Vec<String> = (0..keys).map(|i| format!("key_{i:08}")).collect();
        let recorder = UsageRecorder::new();
        let event = |i: usize| UsageEvent {
            account_id: "acct_0123456789abcdef",
            key_id: Some(&key_ids[i % keys]),
            bucket: "reads",
            outcome: if i.is_multiple_of(10) { Outcome::Limited } else { Outcome::Allowed },
            cost: 1,
            at,
        };
        for i in 0..keys {
            recorder.record(&event(i));
        }
        for threads in [1, 2] {
            group.bench_function(BenchmarkId::new(format!("{threads}t"), keys), |b| {
                b.iter_custom(|iters| {
                    on_threads(threads, iters, |t, n| {
                        // Each thread picks keys at random from its own seed.
                        let mut state =
                            0x9e37_79b9_7f4a_7c15_u64 ^ (t + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                        for _ in 0..n {
                            state ^= state << 13;
                            state ^= state >> 7;
                            state ^= state << 17;
                            recorder.record(black_box(&event(state as usize)));
                        }
                    })
                })
            });
        }
        let own: Vec<UsageRecorder> = (0..2).map(|_| UsageRecorder::new()).collect();
        for r in &own {
            for i in 0..keys {
                r.record(&event(i));
            }
        }
        group.bench_function(BenchmarkId::new("2t_separate", keys), |b| {
            b.iter_custom(|iters| {
                on_threads(2, iters, |t, n| {
                    let recorder = &own[t as usize];
                    let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ (t + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                    for _ in 0..n {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        recorder.record(black_box(&event(state as usize)));
                    }
                })
            })
        });
        black_box(recorder.pending_rows());
    }
    group.finish();
}

criterion_group!(benches, record);
criterion_main!(benches);
