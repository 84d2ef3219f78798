//! Load test on loopback, in one run: (a) a bare axum hello world, (b) the gateway on a sample
//! route with a valid key and limits too high to deny, embedded (memory) store, (c) the same
//! with the Redis store, (d) the 429 path. Requests/s and p99 latency for each.
//!
//!     cargo bench -p server --bench gateway_load
//!     LOAD_SECONDS=5 LOAD_CONNECTIONS=32 cargo bench -p server --bench gateway_load
//!     LOAD_ONLY=ab cargo bench -p server --bench gateway_load    (some cases only, e.g. to profile)
//!
//! Client and servers share this machine's cores, as they do in CI; compare the ratios. The
//! cases take turns a second at a time (`LOAD_SECONDS` turns each, default 3), so a noisy
//! neighbour on a shared machine slows them all alike instead of whichever ran at the time.
//! The database is a fresh SQLite file; (c) needs Redis at 127.0.0.1:6379.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use secrecy::ExposeSecret;
use server::settings::Settings;
use server::startup::Application;
use services::{Backend, testing};

// The keystile binary's allocator, so the gateway is measured as it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One of the four cases: where it sends, with which key, and what it has measured so far.
struct Case {
    name: &'static str,
    url: String,
    key: Option<String>,
    client: reqwest::Client,
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, u64>,
    busy: Duration,
}

impl Case {
    /// The case's letter, as `LOAD_ONLY` names it.
    fn letter(&self) -> &str {
        &self.name[..1]
    }

    fn new(name: &'static str, url: String, key: Option<&str>, connections: usize) -> Self {
        let client =
            reqwest::Client::builder().pool_max_idle_per_host(connections).build().unwrap_or_default();
        let key = key.map(str::to_owned);
        Self {
            name,
            url,
            key,
            client,
            latencies: Vec::new(),
            statuses: BTreeMap::new(),
            busy: Duration::ZERO,
        }
    }
}

fn main() -> anyhow::Result<()> {
    let seconds: u32 = std::env::var("LOAD_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let connections: usize =
        std::env::var("LOAD_CONNECTIONS").ok().and_then(|s| s.parse().ok()).unwrap_or(32);
    let only = std::env::var("LOAD_ONLY").unwrap_or_else(|_| "abcd".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build()?;
    runtime.block_on(async move {
        let hello = serve_hello().await?;
        let embedded = gateway(None).await?;
        let redis = gateway(Some("redis://127.0.0.1:6379".into())).await?;
        let mut cases = [
            Case::new("a  axum hello world", format!("{hello}/hello"), None, connections),
            Case::new(
                "b  gateway, memory store",
                embedded.url.clone(),
                Some(&embedded.open_key),
                connections,
            ),
            Case::new("c  gateway, Redis store", redis.url.clone(), Some(&redis.open_key), connections),
            Case::new("d  gateway, 429 path", embedded.url.clone(), Some(&embedded.spent_key), connections),
        ];
        for case in &cases {
            // Warm the connections and the key cache.
            for _ in 0..connections {
                send(&case.client, &case.url, case.key.as_deref()).await;
            }
        }
        // The cases take turns, a second each, so a noisy neighbour slows them all alike.
        for _ in 0..seconds {
            for case in cases.iter_mut().filter(|case| only.contains(case.letter())) {
                load_for(case, connections, Duration::from_secs(1)).await;
            }
        }
        report(&mut cases, connections, seconds);
        anyhow::Ok(())
    })
}

async fn serve_hello() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let app = Router::new().route("/hello", get(|| async { "hello" }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}"))
}

struct Gateway {
    url: String,
    /// A Starter key with every bucket (monthly, burst, daily cap, reads) raised out of reach,
    /// so each request is a full four-bucket decision that admits.
    open_key: String,
    /// A key whose reads limit is spent, so every request takes the 429 path.
    spent_key: String,
}

async fn gateway(redis_url: Option<String>) -> anyhow::Result<Gateway> {
    let settings = Settings {
        listen: "127.0.0.1:0".parse()?,
        database_url: testing::fresh_database_url(Backend::Sqlite).await,
        demo: false,
        redis_url,
        ..Settings::default()
    };
    let app = Application::build(&settings, Arc::new(limiter::SystemClock)).await?;
    let url = format!("http://{}/v1/snapshots", app.local_addr());
    let services = app.services().clone();
    tokio::spawn(app.run_until(std::future::pending()));

    let open_key = key_with_reads_limit(&services, "open", 1_000_000_000).await?;
    let spent_key = key_with_reads_limit(&services, "spent", 1).await?;
    reqwest::Client::new().get(&url).bearer_auth(&spent_key).send().await?;
    Ok(Gateway { url, open_key, spent_key })
}

async fn key_with_reads_limit(
    services: &services::Services,
    name: &str,
    reads: i64,
) -> anyhow::Result<String> {
    let email = format!("{name}-{}@bench.example", services::ids::random_base62(6).to_lowercase());
    let user =
        services.accounts.sign_up(&email, secrecy::SecretString::from("benchmark password"), name).await?;
    let account_id = user.account_id.clone().unwrap_or_default();
    for (bucket, limit) in
        [("monthly", 1_000_000_000), ("burst", 1_000_000_000), ("daily_cap", 1_000_000_000), ("reads", reads)]
    {
        sqlx::query("INSERT INTO account_overrides (account_id, bucket, limit_value, updated_at) VALUES ($1, $2, $3, 0)")
            .bind(&account_id)
            .bind(bucket)
            .bind(limit)
            .execute(services.db.pool())
            .await?;
    }
    Ok(services.keys.create(&user, name, None, Default::default()).await?.secret.expose_secret().to_owned())
}

/// `connections` loops each sending requests one after another for `slice`.
async fn load_for(case: &mut Case, connections: usize, slice: Duration) {
    let deadline = Instant::now() + slice;
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (client, url, key) = (case.client.clone(), case.url.clone(), case.key.clone());
            tokio::spawn(async move {
                let mut sent = Vec::new();
                while Instant::now() < deadline {
                    let at = Instant::now();
                    let status = send(&client, &url, key.as_deref()).await;
                    sent.push((at.elapsed(), status));
                }
                sent
            })
        })
        .collect();
    for task in tasks {
        for (latency, status) in task.await.unwrap_or_default() {
            case.latencies.push(latency);
            *case.statuses.entry(status).or_default() += 1;
        }
    }
    case.busy += started.elapsed();
}

async fn send(client: &reqwest::Client, url: &str, key: Option<&str>) -> u16 {
    let mut request = client.get(url);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let _ = response.bytes().await;
            status
        }
        Err(_) => 0,
    }
}

fn report(cases: &mut [Case], connections: usize, seconds: u32) {
    println!("\ngateway load on loopback: {connections} connections, {seconds} one-second turns per case\n");
    println!("{:<28} {:>12} {:>10} {:>9}   statuses", "", "requests/s", "p99", "vs (a)");
    let rate = |case: &Case| case.latencies.len() as f64 / case.busy.as_secs_f64().max(f64::EPSILON);
    let baseline = cases.first().map_or(1.0, rate);
    for case in cases.iter_mut().filter(|case| !case.latencies.is_empty()) {
        case.latencies.sort();
        let p99 = case.latencies.get(case.latencies.len() * 99 / 100).copied().unwrap_or_default();
        let statuses: Vec<String> =
            case.statuses.iter().map(|(status, count)| format!("{status}×{count}")).collect();
        println!(
            "{:<28} {:>12.0} {:>8.2}ms {:>8.2}x   {}",
            case.name,
            rate(case),
            p99.as_secs_f64() * 1000.0,
            rate(case) / baseline,
            statuses.join(" ")
        );
    }
    println!("\ntargets: b/a >= 0.8, c/a >= 0.5");
}
