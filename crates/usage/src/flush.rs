//! The SQL side of recording: a batch of pending counts becomes additive upserts into the
//! minute, hour, day and account-minute rollups, in one transaction; old minute and hour rows
//! are pruned at most once a minute.
//!
//! A flush takes everything pending out of the recorder and writes it on a task of its own, so
//! dropping a `flush_now` future mid-write neither loses nor repeats anything: the task commits,
//! or it puts the counts back. If the transaction fails, nothing of it was written and the counts
//! go back to be retried by the next flush. One ambiguity remains, as with any database: a
//! connection lost during COMMIT leaves unknown whether the commit happened; the counts are then
//! put back, and counted twice if it had.
//!
//! Rows are written in primary-key order, so two nodes flushing the same rows at once take their
//! row locks in the same order and cannot deadlock each other.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use limiter::Clock;
use services::Database;
use sqlx::{Any, Transaction};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::error::UsageError;
use crate::periods::Granularity;
use crate::recorder::{Counts, Pending, UsageRecorder};

/// How often the gateway's flusher writes: at most one flush interval is lost in a crash.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Rows per INSERT statement: 7 parameters each, well under SQLite's and PostgreSQL's limits.
const ROWS_PER_STATEMENT: usize = 256;

/// How long rollup rows are kept. Day rows are kept forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub minutes: chrono::Duration,
    pub hours: chrono::Duration,
    /// The per-account minutes billing reads; long enough for the current and the previous
    /// billing month.
    pub account_minutes: chrono::Duration,
    /// The least time between two prunes.
    pub prune_every: chrono::Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            minutes: chrono::Duration::hours(48),
            hours: chrono::Duration::days(90),
            account_minutes: chrono::Duration::days(70),
            prune_every: chrono::Duration::minutes(1),
        }
    }
}

/// What one flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// (minute, account, key, bucket) rows upserted into `usage_minutes`.
    pub rows: usize,
    /// The requests (and limited, cost) those rows carried.
    pub counts: Counts,
    /// Set when this flush also pruned old rows.
    pub pruned: Option<Pruned>,
}

/// Rows deleted by retention.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub minutes: u64,
    pub hours: u64,
    pub account_minutes: u64,
}

/// Writes a recorder's counts to the database; owns the retention schedule.
pub struct Flusher {
    recorder: UsageRecorder,
    db: Database,
    clock: Arc<dyn Clock>,
    retention: Retention,
    last_prune: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Flusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flusher")
            .field("recorder", &self.recorder)
            .field("retention", &self.retention)
            .field("last_prune", &self.last_prune)
            .finish_non_exhaustive()
    }
}

impl Flusher {
    /// `clock` decides when rows are old enough to prune; the counts' own times come from the
    /// events.
    pub fn new(recorder: &UsageRecorder, db: Database, clock: Arc<dyn Clock>) -> Self {
        Flusher { recorder: recorder.clone(), db, clock, retention: Retention::default(), last_prune: None }
    }

    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Writes everything pending, then prunes if the last prune is a minute old. A write error
    /// is returned with the counts back in the recorder; a prune error is only logged (the next
    /// prune deletes the same rows).
    pub async fn flush_now(&mut self) -> Result<FlushReport, UsageError> {
        let (rows, counts) = self.write_pending().await?;
        let now = self.clock.now();
        let due = self.last_prune.is_none_or(|last| now - last >= self.retention.prune_every);
        let mut pruned = None;
        if due {
            self.last_prune = Some(now);
            match prune(&self.db, &self.retention, now).await {
                Ok(done) => pruned = Some(done),
                Err(error) => tracing::warn!(%error, "pruning old usage rows failed; retrying in a minute"),
            }
        }
        Ok(FlushReport { rows, counts, pruned })
    }

    async fn write_pending(&self) -> Result<(usize, Counts), UsageError> {
        let rows = self.recorder.take();
        if rows.is_empty() {
            return Ok((0, Counts::default()));
        }
        let mut batch = InFlight { recorder: self.recorder.clone(), rows: Some(rows) };
        let db = self.db.clone();
        let task = tokio::spawn(async move {
            let rows = batch.rows.as_deref().unwrap_or_default();
            let written = write_batch(&db, rows).await?;
            let mut counts = Counts::default();
            rows.iter().for_each(|row| counts.add(row.counts));
            batch.committed();
            Ok::<_, UsageError>((written, counts))
        });
        task.await.map_err(|_| UsageError::FlusherStopped)?
    }

    /// Runs `flush_now` every `interval` on a task until [`FlushHandle::shutdown`] (or the
    /// handle is dropped), then flushes once more.
    pub fn spawn(self, interval: Duration) -> FlushHandle {
        let (stop, stopped) = oneshot::channel();
        let (status_tx, status) = watch::channel(FlushStatus::default());
        let task = tokio::spawn(run(self, interval.max(Duration::from_millis(1)), stopped, status_tx));
        FlushHandle { stop: Some(stop), task, status }
    }
}

/// A batch being written: dropped unwritten (an error, a cancelled task), it goes back into the
/// recorder.
struct InFlight {
    recorder: UsageRecorder,
    rows: Option<Vec<Pending>>,
}

impl InFlight {
    /// The batch is in the database: nothing to put back.
    fn committed(&mut self) {
        self.rows = None;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(rows) = self.rows.take() {
            self.recorder.restore(rows);
        }
    }
}

/// How the background flusher is doing, for health checks and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushStatus {
    /// Flushes that succeeded (including empty ones).
    pub flushes: u64,
    /// Failed flushes in a row; 0 after a success.
    pub consecutive_failures: u64,
    pub last_error: Option<String>,
}

/// The background flusher started by [`Flusher::spawn`].
#[derive(Debug)]
pub struct FlushHandle {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<FlushReport, UsageError>>,
    status: watch::Receiver<FlushStatus>,
}

impl FlushHandle {
    /// Follows the flusher's status; `changed()` wakes after every flush.
    pub fn status(&self) -> watch::Receiver<FlushStatus> {
        self.status.clone()
    }

    /// Stops the interval, flushes what is left and returns that last flush's report. If it
    /// fails the counts stay in the recorder (see [`UsageRecorder::pending_counts`]).
    pub async fn shutdown(mut self) -> Result<FlushReport, UsageError> {
        if let Some(stop) = self.stop.take() {
            // The task only ends after this signal, or after the handle is dropped.
            let _ = stop.send(());
        }
        (&mut self.task).await.map_err(|_| UsageError::FlusherStopped)?
    }
}

async fn run(
    mut flusher: Flusher,
    interval: Duration,
    mut stop: oneshot::Receiver<()>,
    status: watch::Sender<FlushStatus>,
) -> Result<FlushReport, UsageError> {
    let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            // A stop signal, or the handle dropped: flush one last time either way.
            _ = &mut stop => break,
        }
        let result = flusher.flush_now().await;
        if let Err(error) = &result {
            let pending = flusher.recorder.pending_rows();
            tracing::warn!(%error, pending, "flushing usage failed; the counts are kept for the next flush");
        }
        publish(&status, &result);
    }
    let result = flusher.flush_now().await;
    if let Err(error) = &result {
        let pending = flusher.recorder.pending_counts();
        tracing::error!(%error, requests = pending.requests, "the last usage flush failed; these requests are not recorded");
    }
    publish(&status, &result);
    result
}

fn publish(status: &watch::Sender<FlushStatus>, result: &Result<FlushReport, UsageError>) {
    status.send_modify(|status| match result {
        Ok(_) => {
            status.flushes += 1;
            status.consecutive_failures = 0;
            status.last_error = None;
        }
        Err(error) => {
            status.consecutive_failures += 1;
            status.last_error = Some(error.to_string());
        }
    });
}

/// One rollup row: `key_id` and `bucket` are unused in `usage_account_minutes`.
type RowKey<'a> = (&'a str, i64, &'a str, &'a str);

/// Sums the pending rows into buckets of `granularity`, in primary-key order.
fn roll_up(rows: &[Pending], granularity: Granularity, per_key: bool) -> Vec<(RowKey<'_>, Counts)> {
    let mut sums: BTreeMap<RowKey<'_>, Counts> = BTreeMap::new();
    for row in rows {
        let start = granularity.floor_ms(row.minute);
        let key = if per_key {
            (&*row.account_id, start, &*row.key_id, &*row.bucket)
        } else {
            (&*row.account_id, start, "", "")
        };
        sums.entry(key).or_default().add(row.counts);
    }
    sums.into_iter().collect()
}

/// Writes the batch in one transaction; the number of minute rows it upserted. The same key
/// may come from several shards: the roll-ups merge them (PostgreSQL refuses a statement that
/// upserts one row twice).
async fn write_batch(db: &Database, rows: &[Pending]) -> Result<usize, UsageError> {
    let mut tx = db.pool().begin().await?;
    let mut minute_rows = 0;
    for granularity in [Granularity::Minute, Granularity::Hour, Granularity::Day] {
        let rolled = roll_up(rows, granularity, true);
        if granularity == Granularity::Minute {
            minute_rows = rolled.len();
        }
        upsert(&mut tx, granularity.table(), true, &rolled).await?;
    }
    upsert(&mut tx, "usage_account_minutes", false, &roll_up(rows, Granularity::Minute, false)).await?;
    tx.commit().await?;
    Ok(minute_rows)
}

async fn upsert(
    tx: &mut Transaction<'static, Any>,
    table: &str,
    per_key: bool,
    rows: &[(RowKey<'_>, Counts)],
) -> Result<(), UsageError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = upsert_sql(table, per_key, chunk.len());
        let mut query = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_STATEMENT);
        for ((account_id, start, key_id, bucket), counts) in chunk {
            query = query.bind(*account_id).bind(*start);
            if per_key {
                query = query.bind(*key_id).bind(*bucket);
            }
            query = query
                .bind(to_bigint(counts.requests))
                .bind(to_bigint(counts.limited))
                .bind(to_bigint(counts.cost));
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// `INSERT … VALUES (…), (…) ON CONFLICT (primary key) DO UPDATE SET` each count to the sum.
fn upsert_sql(table: &str, per_key: bool, rows: usize) -> String {
    let keys: &[&str] = if per_key {
        &["account_id", "bucket_start", "key_id", "bucket"]
    } else {
        &["account_id", "bucket_start"]
    };
    let counts = ["requests", "limited", "cost"];
    let columns = keys.len() + counts.len();
    let mut sql = format!("INSERT INTO {table} ({}, {}) VALUES ", keys.join(", "), counts.join(", "));
    for row in 0..rows {
        let params: Vec<String> = (1..=columns).map(|c| format!("${}", row * columns + c)).collect();
        sql.push_str(if row == 0 { "(" } else { ", (" });
        sql.push_str(&params.join(", "));
        sql.push(')');
    }
    let sums: Vec<String> = counts.iter().map(|c| format!("{c} = {table}.{c} + excluded.{c}")).collect();
    sql.push_str(&format!(" ON CONFLICT ({}) DO UPDATE SET {}", keys.join(", "), sums.join(", ")));
    sql
}

fn to_bigint(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Deletes minute, hour and account-minute rows older than their retention at `now`.
pub(crate) async fn prune(
    db: &Database,
    retention: &Retention,
    now: DateTime<Utc>,
) -> Result<Pruned, UsageError> {
    let mut deleted = [0; 3];
    let tables = [
        ("usage_minutes", retention.minutes),
        ("usage_hours", retention.hours),
        ("usage_account_minutes", retention.account_minutes),
    ];
    for (count, (table, keep)) in deleted.iter_mut().zip(tables) {
        let before = (now - keep).timestamp_millis();
        let sql = format!("DELETE FROM {table} WHERE bucket_start < $1");
        *count = sqlx::query(&sql).bind(before).execute(db.pool()).await?.rows_affected();
    }
    let [minutes, hours, account_minutes] = deleted;
    Ok(Pruned { minutes, hours, account_minutes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upserts_number_parameters_in_order_and_add_to_the_stored_counts() {
        assert_eq!(
            upsert_sql("usage_account_minutes", false, 2),
            "INSERT INTO usage_account_minutes (account_id, bucket_start, requests, limited, cost) \
             VALUES ($1, $2, $3, $4, $5), ($6, $7, $8, $9, $10) ON CONFLICT (account_id, bucket_start) \
             DO UPDATE SET requests = usage_account_minutes.requests + excluded.requests, \
             limited = usage_account_minutes.limited + excluded.limited, \
             cost = usage_account_minutes.cost + excluded.cost"
        );
        assert!(
            upsert_sql("usage_minutes", true, 256)
                .contains("($1786, $1787, $1788, $1789, $1790, $1791, $1792)")
        );
    }

    #[test]
    fn rollups_sum_minutes_into_hours_and_days_in_key_order() {
        let row = |minute: i64, key_id: &str, requests| Pending {
            minute,
            account_id: "a".into(),
            key_id: key_id.into(),
            bucket: "reads".into(),
            counts: Counts { requests, limited: 0, cost: 0 },
        };
        let hour = Granularity::Hour.millis();
        let rows = [row(hour + 60_000, "k2", 1), row(hour, "k1", 2), row(0, "k1", 4), row(hour, "k2", 8)];
        let hours: Vec<_> = roll_up(&rows, Granularity::Hour, true)
            .into_iter()
            .map(|(k, c)| (k.1, k.2, c.requests))
            .collect();
        assert_eq!(hours, vec![(0, "k1", 4), (hour, "k1", 2), (hour, "k2", 9)]);
        let accounts: Vec<_> =
            roll_up(&rows, Granularity::Minute, false).into_iter().map(|(k, c)| (k.1, c.requests)).collect();
        assert_eq!(accounts, vec![(0, 4), (hour, 10), (hour + 60_000, 1)]);
    }
}
