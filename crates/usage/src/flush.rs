//! The SQL side of recording: every flush interval, a batch of pending counts is written to
//! the rollups (`rollups.rs`); old minute and hour rows are pruned at most once a minute
//! (`retention.rs`).
//!
//! A flush takes everything pending out of the recorder and writes it on a task of its own, so
//! dropping a `flush_now` future mid-write neither loses nor repeats anything: the task commits,
//! or it puts the counts back. If the transaction fails, nothing of it was written and the counts
//! go back to be retried by the next flush. One ambiguity remains, as with any database: a
//! connection lost during COMMIT leaves unknown whether the commit happened; the counts are then
//! put back, and counted twice if it had.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use limiter::Clock;
use services::Database;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::error::UsageError;
use crate::recorder::{Counts, Pending, UsageRecorder};
use crate::refusals;
use crate::retention::{Pruned, Retention, prune};
use crate::rollups::write_batch;

/// How often the gateway's flusher writes: at most one flush interval is lost in a crash.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

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
        self.write_refusals().await;
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

    /// Writes the latest refusals; on failure they are dropped (see [`crate::refusals`]).
    async fn write_refusals(&self) {
        let batch = self.recorder.take_refusals();
        if batch.is_empty() {
            return;
        }
        let db = self.db.clone();
        // On a task of its own, like the counts: a dropped flush future does not cut it short.
        let written = tokio::spawn(async move { refusals::write(&db, batch).await }).await;
        match written {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "writing the latest refusals failed; dropped them"),
            Err(_) => tracing::warn!("the refusals' writer stopped; dropped them"),
        }
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
