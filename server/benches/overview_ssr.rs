//! Server-side rendering time of the dashboard's data-heavy pages for an account with 100 keys
//! and 30 days of minute-level usage (every key called in every minute), on SQLite.
//!
//!     cargo bench -p server --bench overview_ssr
//!     OVERVIEW_SAMPLES=300 cargo bench -p server --bench overview_ssr
//!
//! The usage is recorded through the gateway's own recorder and flusher, a day at a time with
//! the clock following, so retention leaves what production would hold: minute rows for the
//! last 48 hours, hour rows, day rows and per-account minutes for the month. Each page is then
//! fetched over loopback by a signed-in browser, one request at a time; the figures are the
//! request's whole time as the client sees it, so they slightly overstate the server's part.
//! Target (issue 5): Overview p50 <= 20 ms.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DurationRound, Utc};
use limiter::ManualClock;
use secrecy::SecretString;
use server::settings::Settings;
use server::startup::Application;
use services::{Backend, Services, testing};
use usage::{Flusher, Outcome, UsageEvent, UsageRecorder};

const KEYS: usize = 100;
const DAYS: i64 = 30;
const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "benchmark password";

fn main() -> anyhow::Result<()> {
    let samples: usize = std::env::var("OVERVIEW_SAMPLES").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build()?;
    runtime.block_on(async move {
        let now = Utc::now().duration_trunc(chrono::Duration::minutes(1))?;
        let clock = ManualClock::new(now - chrono::Duration::days(DAYS));
        let settings = Settings {
            listen: "127.0.0.1:0".parse()?,
            database_url: testing::fresh_database_url(Backend::Sqlite).await,
            demo: false,
            ..Settings::default()
        };
        let app = Application::build(&settings, Arc::new(clock.clone())).await?;
        let base = format!("http://{}", app.local_addr());
        let services = app.services().clone();
        tokio::spawn(app.run_until(std::future::pending()));

        let seeding = Instant::now();
        let key_ids = create_keys(&services, &clock).await?;
        let events = seed_usage(&services, &clock, &key_ids, now).await?;
        clock.set(now);
        println!(
            "seeded {KEYS} keys and {events} requests over {DAYS} days in {:.1} s",
            seeding.elapsed().as_secs_f64()
        );
        print_rows(&services).await?;

        let browser = reqwest::Client::builder().cookie_store(true).build()?;
        let login = browser
            .post(format!("{base}/api/log_in"))
            .header("origin", &base)
            .header("sec-fetch-site", "same-origin")
            .form(&[("email", EMAIL), ("password", PASSWORD), ("next", "/")])
            .send()
            .await?;
        anyhow::ensure!(
            login.status().is_success() || login.status().is_redirection(),
            "log in: {}",
            login.status()
        );

        println!("\n{:<34} {:>9} {:>9} {:>9} {:>9}", "page (SSR, signed in)", "p50", "p90", "p99", "max");
        let busiest = &key_ids[0];
        for (name, path) in [
            ("overview, whole account", "/".to_owned()),
            ("overview, one key", format!("/?key={busiest}")),
            ("usage, one key", format!("/usage?key={busiest}")),
            ("billing", "/billing".to_owned()),
        ] {
            let mut times = Vec::with_capacity(samples);
            for _ in 0..samples {
                let started = Instant::now();
                let response = browser.get(format!("{base}{path}")).send().await?;
                anyhow::ensure!(response.status().is_success(), "{path}: {}", response.status());
                let _ = response.bytes().await?;
                times.push(started.elapsed());
            }
            report(name, &mut times);
        }
        println!("\ntarget: overview p50 <= 20 ms");
        anyhow::Ok(())
    })
}

/// The owner and 100 keys; key management is limited to 10 a minute, so the clock moves on.
async fn create_keys(services: &Services, clock: &ManualClock) -> anyhow::Result<Vec<String>> {
    let user = services.accounts.sign_up(EMAIL, SecretString::from(PASSWORD), "Bench").await?;
    let mut ids = Vec::with_capacity(KEYS);
    for n in 0..KEYS {
        if n % 10 == 0 {
            clock.advance(chrono::Duration::minutes(1));
        }
        ids.push(services.keys.create(&user, &format!("key {n:03}"), None, Default::default()).await?.key.id);
    }
    Ok(ids)
}

/// Every key, every minute of the last 30 days: a few requests, now and then one limited.
async fn seed_usage(
    services: &Services,
    clock: &ManualClock,
    key_ids: &[String],
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<u64> {
    let account_id =
        services.accounts.user_by_email(EMAIL).await?.and_then(|u| u.account_id).unwrap_or_default();
    let recorder = UsageRecorder::new();
    let mut flusher = Flusher::new(&recorder, services.db.clone(), Arc::new(clock.clone()));
    let start = now - chrono::Duration::days(DAYS);
    let mut events = 0;
    for day in 0..DAYS {
        for minute in 0..24 * 60 {
            let at = start + chrono::Duration::minutes(day * 24 * 60 + minute);
            for (n, key_id) in key_ids.iter().enumerate() {
                let requests = 1 + (n + minute as usize) % 3;
                for r in 0..requests {
                    let outcome = if (r + n) % 17 == 0 { Outcome::Limited } else { Outcome::Allowed };
                    let bucket = if n % 5 == 0 { "scans" } else { "reads" };
                    recorder.record(&UsageEvent {
                        account_id: &account_id,
                        key_id: Some(key_id),
                        bucket,
                        outcome,
                        cost: 1,
                        at,
                    });
                    events += 1;
                }
            }
        }
        clock.set(start + chrono::Duration::days(day + 1));
        flusher.flush_now().await?;
    }
    Ok(events)
}

async fn print_rows(services: &Services) -> anyhow::Result<()> {
    for table in ["usage_minutes", "usage_hours", "usage_days", "usage_account_minutes"] {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(services.db.pool())
            .await?;
        println!("  {table}: {rows} rows");
    }
    Ok(())
}

fn report(name: &str, times: &mut [Duration]) {
    times.sort();
    let at = |q: usize| times[(times.len() * q / 100).min(times.len() - 1)].as_secs_f64() * 1000.0;
    let max = times.last().map_or(0.0, |t| t.as_secs_f64() * 1000.0);
    println!("{name:<34} {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>7.2}ms", at(50), at(90), at(99), max);
}
