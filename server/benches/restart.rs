//! How long a restart on the embedded store takes with many active accounts: the in-memory
//! limiter is refilled from the usage rollups (`server::restore`) before the node serves.
//!
//!     cargo bench -p server --bench restart
//!     RESTART_ACCOUNTS=50000 cargo bench -p server --bench restart
//!
//! A fresh SQLite database gets the accounts (on the default plan: a monthly quota per account
//! and a daily cap per key) and, per account, two keys that called on every day of this month,
//! in every hour of today and every fifth minute of this hour: rows written straight into the
//! rollup tables, in the shape the flusher leaves them. The figure is the time
//! `Application::build` takes on that database, restore included, best of three.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, DurationRound, Timelike, Utc};
use limiter::ManualClock;
use server::settings::Settings;
use server::startup::Application;
use services::{Backend, Database, testing};

const KEYS_PER_ACCOUNT: usize = 2;

fn main() -> anyhow::Result<()> {
    let accounts: usize =
        std::env::var("RESTART_ACCOUNTS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let now = Utc::now().duration_trunc(chrono::Duration::minutes(1))?;
        let settings = Settings {
            listen: "127.0.0.1:0".parse()?,
            database_url: testing::fresh_database_url(Backend::Sqlite).await,
            demo: false,
            ..Settings::default()
        };
        let db = Database::connect(&settings.database_url).await?;
        let rows = fill(&db, accounts, now).await?;
        db.close().await;
        println!("{accounts} accounts with traffic this month ({rows} rollup rows)");
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let started = Instant::now();
            let app = Application::build(&settings, Arc::new(ManualClock::new(now))).await?;
            best = best.min(started.elapsed());
            drop(app);
        }
        println!("restart until ready to serve, best of 3: {:.2} s", best.as_secs_f64());
        anyhow::Ok(())
    })
}

/// Writes the accounts and their rollups; returns how many rollup rows.
async fn fill(db: &Database, accounts: usize, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let today = now.duration_trunc(chrono::Duration::days(1))?;
    let month_start = today - chrono::Duration::days(i64::from(today.day0()));
    let this_hour = now.duration_trunc(chrono::Duration::hours(1))?;
    let ms = |at: DateTime<Utc>| at.timestamp_millis();
    let mut rows = 0;
    let mut tx = db.pool().begin().await?;
    for n in 0..accounts {
        let account = format!("acc_restart{n:07}");
        sqlx::query("INSERT INTO accounts (id, name, plan_id, billing_anchor_day, created_at) VALUES ($1, $2, 'pro', 1, $3)")
            .bind(&account)
            .bind(format!("Account {n}"))
            .bind(ms(month_start))
            .execute(&mut *tx)
            .await?;
        let mut rollup = async |table: &str, at: DateTime<Utc>, key: &str, cost: i64| {
            let sql = format!("INSERT INTO {table} VALUES ($1, $2, $3, 'reads', $4, 0, $4)");
            sqlx::query(&sql).bind(&account).bind(ms(at)).bind(key).bind(cost).execute(&mut *tx).await
        };
        for k in 0..KEYS_PER_ACCOUNT {
            let key = format!("key_restart{n:07}_{k}");
            for day in 0..=i64::from(today.day0()) {
                rollup("usage_days", month_start + chrono::Duration::days(day), &key, 100).await?;
                rows += 1;
            }
            for hour in 0..i64::from(now.hour()) {
                rollup("usage_hours", today + chrono::Duration::hours(hour), &key, 10).await?;
                rows += 1;
            }
            for minute in (0..i64::from(now.minute())).step_by(5) {
                rollup("usage_minutes", this_hour + chrono::Duration::minutes(minute), &key, 1).await?;
                rows += 1;
            }
        }
        sqlx::query("INSERT INTO usage_account_minutes VALUES ($1, $2, 5, 0, 5)")
            .bind(&account)
            .bind(ms(now - chrono::Duration::minutes(2)))
            .execute(&mut *tx)
            .await?;
        rows += 1;
    }
    tx.commit().await?;
    Ok(rows)
}
