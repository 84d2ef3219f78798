use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
pub use limiter::ManualClock;
pub use services::{Backend, Database, testing};
use sqlx::Row;
pub use usage::{Counts, Flusher, Granularity, Outcome, UsageEvent, UsageRecorder};

/// Runs each test body once per backend, as `<name>::sqlite` and `<name>::postgres`. The
/// argument is a fresh migrated `Database`, or the `Backend` itself for tests that connect on
/// their own.
macro_rules! on_both_backends {
    ($(async fn $name:ident($arg:ident: $ty:ident) $body:block)*) => {$(
        mod $name {
            use super::*;
            async fn run($arg: $ty) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(<$ty as $crate::common::TestInput>::on(services::Backend::Sqlite).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(<$ty as $crate::common::TestInput>::on(services::Backend::Postgres).await).await
            }
        }
    )*};
}
pub(crate) use on_both_backends;

/// What a test body takes: a fresh database, or just the backend.
pub trait TestInput: Sized {
    async fn on(backend: Backend) -> Self;
}

impl TestInput for Database {
    async fn on(backend: Backend) -> Self {
        testing::fresh_database(backend).await
    }
}

impl TestInput for Backend {
    async fn on(backend: Backend) -> Self {
        backend
    }
}

/// 2026-11-24 12:00:00 UTC, a Tuesday; `at(0)` plus `seconds`.
pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
}

pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 3_600;
pub const DAY: i64 = 86_400;

pub fn clock_at(seconds: i64) -> ManualClock {
    ManualClock::new(at(seconds))
}

pub fn flusher(recorder: &UsageRecorder, db: &Database, clock: &ManualClock) -> Flusher {
    Flusher::new(recorder, db.clone(), Arc::new(clock.clone()))
}

pub fn allowed(
    account_id: &'static str,
    key_id: Option<&'static str>,
    bucket: &'static str,
    seconds: i64,
) -> UsageEvent<'static> {
    UsageEvent { account_id, key_id, bucket, outcome: Outcome::Allowed, cost: 0, at: at(seconds) }
}

pub fn limited(
    account_id: &'static str,
    key_id: Option<&'static str>,
    bucket: &'static str,
    seconds: i64,
) -> UsageEvent<'static> {
    UsageEvent { outcome: Outcome::Limited, ..allowed(account_id, key_id, bucket, seconds) }
}

pub fn costing(cost: u64, event: UsageEvent<'static>) -> UsageEvent<'static> {
    UsageEvent { cost, ..event }
}

pub fn record_all(recorder: &UsageRecorder, events: &[UsageEvent<'_>]) {
    for event in events {
        recorder.record(event);
    }
}

/// A rollup row as stored: (account, bucket start in ms, key, bucket) → counts.
pub type Rollup = BTreeMap<(String, i64, String, String), Counts>;

/// What a rollup table must hold after `events` are flushed: the oracle, summed naively.
pub fn expected(events: &[UsageEvent<'_>], granularity: Granularity) -> Rollup {
    let mut rollup = Rollup::new();
    for event in events {
        let step = granularity.millis();
        let start = event.at.timestamp_millis().div_euclid(step) * step;
        let key = (
            event.account_id.to_owned(),
            start,
            event.key_id.unwrap_or("").to_owned(),
            event.bucket.to_owned(),
        );
        let counts = rollup.entry(key).or_default();
        counts.requests += 1;
        counts.limited += u64::from(event.outcome == Outcome::Limited);
        counts.cost += event.cost;
    }
    rollup
}

/// The per-account minutes `events` must produce: billing's, without the requests served free
/// (admitted at no cost).
pub fn expected_account_minutes(events: &[UsageEvent<'_>]) -> Rollup {
    let mut rollup = Rollup::new();
    let billed: Vec<UsageEvent<'_>> =
        events.iter().filter(|event| event.outcome == Outcome::Limited || event.cost > 0).cloned().collect();
    for ((account, start, _, _), counts) in expected(&billed, Granularity::Minute) {
        let total = rollup.entry((account, start, String::new(), String::new())).or_default();
        total.requests += counts.requests;
        total.limited += counts.limited;
        total.cost += counts.cost;
    }
    rollup
}

pub fn table(granularity: Granularity) -> &'static str {
    match granularity {
        Granularity::Minute => "usage_minutes",
        Granularity::Hour => "usage_hours",
        Granularity::Day => "usage_days",
    }
}

/// Everything in a rollup table.
pub async fn stored(db: &Database, granularity: Granularity) -> Rollup {
    let sql = format!(
        "SELECT account_id, bucket_start, key_id, bucket, requests, limited, cost FROM {}",
        table(granularity)
    );
    let rows = sqlx::query(&sql).fetch_all(db.pool()).await.unwrap();
    rows.iter()
        .map(|row| {
            let key = (row.get(0), row.get(1), row.get(2), row.get(3));
            (key, counts(row, 4))
        })
        .collect()
}

pub async fn stored_account_minutes(db: &Database) -> Rollup {
    let rows =
        sqlx::query("SELECT account_id, bucket_start, requests, limited, cost FROM usage_account_minutes")
            .fetch_all(db.pool())
            .await
            .unwrap();
    rows.iter().map(|row| ((row.get(0), row.get(1), String::new(), String::new()), counts(row, 2))).collect()
}

fn counts(row: &sqlx::any::AnyRow, first: usize) -> Counts {
    let get = |i: usize| u64::try_from(row.get::<i64, _>(first + i)).unwrap();
    Counts { requests: get(0), limited: get(1), cost: get(2) }
}

/// Every rollup holds exactly what `events` add up to.
pub async fn assert_rollups_hold(db: &Database, events: &[UsageEvent<'_>]) {
    for granularity in [Granularity::Minute, Granularity::Hour, Granularity::Day] {
        assert_eq!(stored(db, granularity).await, expected(events, granularity), "{}", table(granularity));
    }
    assert_eq!(stored_account_minutes(db).await, expected_account_minutes(events), "usage_account_minutes");
}

pub fn total(events: &[UsageEvent<'_>]) -> Counts {
    let mut total = Counts::default();
    for event in events {
        total.requests += 1;
        total.limited += u64::from(event.outcome == Outcome::Limited);
        total.cost += event.cost;
    }
    total
}
