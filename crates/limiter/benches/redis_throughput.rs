//! RedisStore decisions per second from 64 concurrent tasks against the local Redis, beside
//! `redis-benchmark` running the very same `EVALSHA` (same script, same five buckets, keys
//! spread over 1,000 subjects) with `-P 16`, in the same run.
//!
//! `cargo bench -p limiter --bench redis_throughput` (needs Redis at 127.0.0.1:6379; the
//! comparison needs `redis-benchmark`, from Debian's `redis-tools`). Set `BENCH_SECONDS` to
//! change the 5-second measurement. Leases are off for the comparison (every decision is one
//! script call); a last line gives the same work with them on, for scale.

mod seed;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use limiter::redis_store::LeasePolicy;
use limiter::{LimiterStore, RedisConfig, RedisStore};
use seed::{Picker, Subjects};

const URL: &str = "redis://127.0.0.1:6379/";
const TASKS: u64 = 64;

fn main() {
    let seconds = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let prefix = format!("keystile-bench:{}:", std::process::id());
    // Leases off: every decision is the one script call that redis-benchmark sends too.
    let config = RedisConfig::new(URL).with_prefix(prefix.as_str()).with_leases(LeasePolicy::OFF);
    let store = match runtime.block_on(RedisStore::connect(config)) {
        Ok(store) => Arc::new(store),
        Err(error) => {
            eprintln!("redis_throughput: skipped, no Redis at {URL}: {error}");
            return;
        }
    };
    let subjects = Arc::new(Subjects::new(1_000));

    runtime.block_on(decide_for(&store, &subjects, Duration::from_secs(1)));
    let (decisions, elapsed) = runtime.block_on(decide_for(&store, &subjects, Duration::from_secs(seconds)));
    let ours = decisions as f64 / elapsed.as_secs_f64();
    println!(
        "redis_throughput/keystile_RedisStore_64_tasks: {ours:.0} decisions/s ({decisions} in {elapsed:.2?})"
    );

    match redis_benchmark(&store, decisions.max(100_000)) {
        Some(theirs) => {
            println!("redis_throughput/redis-benchmark_P16_c64_same_EVALSHA: {theirs:.0} requests/s");
            println!("redis_throughput/ratio_keystile_over_redis-benchmark: {:.2}", ours / theirs);
        }
        None => println!("redis_throughput/redis-benchmark: not run (not on PATH or failed)"),
    }

    // For scale, not the comparison: the same work on a store with quota leases (the default),
    // where these out-of-reach buckets are mostly decided on the node.
    let leased = RedisConfig::new(URL).with_prefix(format!("{prefix}leased:"));
    if let Ok(store) = runtime.block_on(RedisStore::connect(leased)) {
        let store = Arc::new(store);
        runtime.block_on(decide_for(&store, &subjects, Duration::from_secs(1)));
        let (decisions, elapsed) =
            runtime.block_on(decide_for(&store, &subjects, Duration::from_secs(seconds)));
        println!(
            "redis_throughput/keystile_RedisStore_with_leases_64_tasks: {:.0} decisions/s",
            decisions as f64 / elapsed.as_secs_f64()
        );
        runtime.block_on(store.return_all_leases()).ok();
    }
    delete_prefix(&prefix);
}

/// 64 tasks deciding the five-bucket request for random keys until `length` has passed.
async fn decide_for(store: &Arc<RedisStore>, subjects: &Arc<Subjects>, length: Duration) -> (u64, Duration) {
    let started = Instant::now();
    let deadline = started + length;
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (store, subjects) = (store.clone(), subjects.clone());
            tokio::spawn(async move {
                let buckets = seed::buckets();
                let mut charges = seed::charges(&buckets);
                let mut picker = Picker::new(0x5eed + t);
                let mut done = 0u64;
                while Instant::now() < deadline {
                    seed::fill(&mut charges, &subjects, picker.next(subjects.len()));
                    match store.decide(&charges).await {
                        Ok(decision) if decision.is_allowed() => done += 1,
                        Ok(_) => panic!("the bench's limits are unreachable"),
                        Err(error) => panic!("decide failed: {error}"),
                    }
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("task");
    }
    (total, started.elapsed())
}

/// `redis-benchmark` sending the same EVALSHA a decision sends, `requests` times, 16 per
/// pipeline from 64 clients; each `__rand_int__` subject is one of 1,000. Requests/s.
fn redis_benchmark(store: &RedisStore, requests: u64) -> Option<f64> {
    let buckets = seed::buckets();
    let mut charges = seed::charges(&buckets);
    for charge in &mut charges {
        charge.subject = "__rand_int__".to_owned();
    }
    let command = store.decide_command(&charges).ok()?;
    let output = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", "6379", "-c", "64", "-P", "16", "-r", "1000"])
        .args(["-n", &requests.to_string(), "--csv"])
        .args(&command)
        .output()
        .ok()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find(|line| line.starts_with("\"EVALSHA"))?;
    println!(
        "redis_throughput/redis-benchmark command: redis-benchmark -h 127.0.0.1 -p 6379 -c 64 -P 16 -r 1000 -n {requests} --csv {}",
        command
            .iter()
            .map(|a| if a.is_empty() { "''".to_owned() } else { a.clone() })
            .collect::<Vec<_>>()
            .join(" ")
    );
    line.split(',').nth(1)?.trim_matches('"').parse().ok()
}

fn delete_prefix(prefix: &str) {
    let Ok(mut connection) = redis::Client::open(URL).and_then(|c| c.get_connection()) else {
        return;
    };
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{prefix}*")).query(&mut connection).unwrap_or_default();
    for chunk in keys.chunks(1_000) {
        let _: Result<i64, _> = redis::cmd("DEL").arg(chunk).query(&mut connection);
    }
}
