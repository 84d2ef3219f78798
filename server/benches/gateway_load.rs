//! Load test on loopback, in one run: (a) a bare axum hello world, (b) the gateway on a sample
//! route with a valid key and limits too high to deny, embedded (memory) store, (c) the same
//! with the Redis store, (d) the 429 path. Requests/s and p99 latency for each.
//!
//!     cargo bench -p server --bench gateway_load
//!     LOAD_SECONDS=5 LOAD_CONNECTIONS=32 cargo bench -p server --bench gateway_load
//!
//! Client and servers share this machine's cores, as they do in CI; compare the ratios.
//! The database is a fresh SQLite file; (c) needs Redis at 127.0.0.1:6379.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use secrecy::ExposeSecret;
use server::settings::Settings;
use server::startup::Application;
use services::{Backend, testing};

struct Figures {
    name: &'static str,
    requests_per_second: f64,
    p99: Duration,
    statuses: String,
}

fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("LOAD_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let connections: usize =
        std::env::var("LOAD_CONNECTIONS").ok().and_then(|s| s.parse().ok()).unwrap_or(32);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build()?;
    runtime.block_on(async move {
        let duration = Duration::from_secs(seconds);
        let hello = serve_hello().await?;
        let embedded = gateway(None).await?;
        let redis = gateway(Some("redis://127.0.0.1:6379".into())).await?;
        let figures = vec![
            load("a  axum hello world", &format!("{hello}/hello"), None, connections, duration).await,
            load("b  gateway, memory store", &embedded.url, Some(&embedded.open_key), connections, duration)
                .await,
            load("c  gateway, Redis store", &redis.url, Some(&redis.open_key), connections, duration).await,
            load("d  gateway, 429 path", &embedded.url, Some(&embedded.spent_key), connections, duration)
                .await,
        ];
        report(&figures, connections, duration);
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
    Ok(services.keys.create(&user, name, None).await?.secret.expose_secret().to_owned())
}

/// `connections` loops each sending requests one after another for `duration`.
async fn load(
    name: &'static str,
    url: &str,
    key: Option<&str>,
    connections: usize,
    duration: Duration,
) -> Figures {
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().unwrap_or_default();
    // Warm the connections and the key cache.
    for _ in 0..connections {
        let _ = send(&client, url, key).await;
    }
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, url, key) = (client.clone(), url.to_owned(), key.map(str::to_owned));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
            while Instant::now() < deadline {
                let sent = Instant::now();
                let status = send(&client, &url, key.as_deref()).await;
                latencies.push(sent.elapsed());
                *statuses.entry(status).or_default() += 1;
            }
            (latencies, statuses)
        }));
    }
    let mut latencies = Vec::new();
    let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
    for task in tasks {
        if let Ok((task_latencies, task_statuses)) = task.await {
            latencies.extend(task_latencies);
            for (status, count) in task_statuses {
                *statuses.entry(status).or_default() += count;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let p99 = latencies.get(latencies.len() * 99 / 100).copied().unwrap_or_default();
    let statuses =
        statuses.iter().map(|(status, count)| format!("{status}×{count}")).collect::<Vec<_>>().join(" ");
    Figures { name, requests_per_second: latencies.len() as f64 / elapsed, p99, statuses }
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

fn report(figures: &[Figures], connections: usize, duration: Duration) {
    println!("\ngateway load on loopback: {connections} connections, {} s each\n", duration.as_secs());
    println!("{:<28} {:>12} {:>10} {:>9}   statuses", "", "requests/s", "p99", "vs (a)");
    let baseline = figures.first().map_or(1.0, |f| f.requests_per_second);
    for f in figures {
        println!(
            "{:<28} {:>12.0} {:>8.2}ms {:>8.2}x   {}",
            f.name,
            f.requests_per_second,
            f.p99.as_secs_f64() * 1000.0,
            f.requests_per_second / baseline,
            f.statuses
        );
    }
    println!("\ntargets: b/a >= 0.8, c/a >= 0.5");
}
