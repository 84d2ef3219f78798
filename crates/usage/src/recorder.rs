//! The in-memory side: counts per (minute, account, key, bucket) not yet written to SQL.
//!
//! Thirty-two shards, each a `Mutex` over a hash table. A thread always records into its own
//! home shard (threads are dealt shards in turn), so the gateway's worker threads do not contend
//! even when they all count the same hot key; a key counted on several threads has a row in
//! each of their shards, summed at flush time. A record hashes once, locks its shard for a
//! lookup and three additions, and allocates only for a key its shard has not seen since the
//! last flush. No lock is held across an `.await` anywhere in this crate, and a poisoned shard
//! is used as is (its counts are plain numbers, always consistent).

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use crate::event::{Outcome, UsageEvent};
use crate::periods::Granularity;
use crate::refusals::{PendingRefusals, Refusal};

const SHARDS: usize = 32;

/// Deals each thread its home shard, in turn.
static NEXT_HOME: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static HOME: usize = NEXT_HOME.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

/// Requests, the limited ones among them, and their cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Counts {
    /// Every request, admitted or limited.
    pub requests: u64,
    /// The requests refused by a limit.
    pub limited: u64,
    pub cost: u64,
}

impl Counts {
    /// The admitted requests: `requests - limited`.
    pub fn allowed(&self) -> u64 {
        self.requests.saturating_sub(self.limited)
    }

    pub(crate) fn add(&mut self, other: Counts) {
        self.requests = self.requests.saturating_add(other.requests);
        self.limited = self.limited.saturating_add(other.limited);
        self.cost = self.cost.saturating_add(other.cost);
    }

    fn of(event: &UsageEvent<'_>) -> Self {
        Counts { requests: 1, limited: u64::from(event.outcome == Outcome::Limited), cost: event.cost }
    }
}

/// The counts of one (minute, account, key, bucket, billed) waiting for the next flush.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pending {
    /// Start of the minute, epoch milliseconds.
    pub minute: i64,
    pub account_id: Box<str>,
    /// `""` for calls without a key.
    pub key_id: Box<str>,
    pub bucket: Box<str>,
    /// Whether billing counts these requests: not when they were admitted and charged nothing
    /// (an exempt route such as `GET /v1/limits`, a replayed idempotent request), which are
    /// served free. The usage charts count them all the same.
    pub billed: bool,
    pub counts: Counts,
}

/// What a pending row is counted under.
type PendingKey<'a> = (i64, &'a str, &'a str, &'a str, bool);

impl Pending {
    fn key(&self) -> PendingKey<'_> {
        (self.minute, &self.account_id, &self.key_id, &self.bucket, self.billed)
    }
}

/// One shard on its own cache lines, so two threads recording into different shards do not
/// contend for the same line.
#[repr(align(128))]
#[derive(Default)]
struct Shard(Mutex<HashTable<Pending>>);

struct Shards {
    hasher: RandomState,
    shards: [Shard; SHARDS],
}

impl Shards {
    fn hash(&self, key: PendingKey<'_>) -> u64 {
        self.hasher.hash_one(key)
    }

    fn add(&self, key: PendingKey<'_>, counts: Counts) {
        let hash = self.hash(key);
        let home = HOME.with(|home| *home);
        let mut table = self.shards[home].0.lock().unwrap_or_else(PoisonError::into_inner);
        match table.find_mut(hash, |pending| pending.key() == key) {
            Some(pending) => pending.counts.add(counts),
            None => {
                let (minute, account_id, key_id, bucket, billed) = key;
                let pending = Pending {
                    minute,
                    account_id: account_id.into(),
                    key_id: key_id.into(),
                    bucket: bucket.into(),
                    billed,
                    counts,
                };
                table.insert_unique(hash, pending, |p| self.hash(p.key()));
            }
        }
    }
}

/// Counts requests in memory until a [`Flusher`](crate::Flusher) writes them. Clones share the
/// counts; `record` never blocks on I/O.
#[derive(Clone)]
pub struct UsageRecorder {
    inner: Arc<Shards>,
    /// The latest refusals of each account, written with the counts ([`crate::refusals`]).
    refusals: Arc<PendingRefusals>,
}

impl Default for UsageRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for UsageRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageRecorder").field("pending_rows", &self.pending_rows()).finish()
    }
}

impl UsageRecorder {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Shards {
                hasher: RandomState::default(),
                shards: std::array::from_fn(|_| Shard::default()),
            }),
            refusals: Arc::default(),
        }
    }

    /// Keeps a refused request for its account's list of latest refusals (the newest
    /// [`crate::refusals::KEPT_PER_ACCOUNT`] until the next flush). Its counts are recorded
    /// separately, with [`Self::record`].
    pub fn refused(&self, refusal: Refusal) {
        self.refusals.push(refusal);
    }

    pub(crate) fn take_refusals(&self) -> HashMap<String, VecDeque<Refusal>> {
        self.refusals.take()
    }

    /// Counts one request in the minute of `event.at`.
    pub fn record(&self, event: &UsageEvent<'_>) {
        let minute = Granularity::Minute.floor_ms(event.at.timestamp_millis());
        let served_free = event.outcome == Outcome::Allowed && event.cost == 0;
        let key = (minute, event.account_id, event.key_id.unwrap_or(""), event.bucket, !served_free);
        self.inner.add(key, Counts::of(event));
    }

    /// How many rows wait for the next flush: one per (minute, account, key, bucket) and
    /// recording thread.
    pub fn pending_rows(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|shard| shard.0.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    /// The sum of everything waiting for the next flush (what a crash now would lose).
    pub fn pending_counts(&self) -> Counts {
        let mut total = Counts::default();
        for shard in &self.inner.shards {
            for pending in shard.0.lock().unwrap_or_else(PoisonError::into_inner).iter() {
                total.add(pending.counts);
            }
        }
        total
    }

    /// Takes every pending row, leaving the recorder empty. Each shard is swapped for an empty
    /// table under its lock; the rows are walked after.
    pub(crate) fn take(&self) -> Vec<Pending> {
        let tables: Vec<HashTable<Pending>> = self
            .inner
            .shards
            .iter()
            .map(|shard| std::mem::take(&mut *shard.0.lock().unwrap_or_else(PoisonError::into_inner)))
            .collect();
        let mut rows = Vec::with_capacity(tables.iter().map(HashTable::len).sum());
        for table in tables {
            rows.extend(table);
        }
        rows
    }

    /// Adds rows back (a failed flush), on top of whatever was recorded since they were taken.
    pub(crate) fn restore(&self, rows: Vec<Pending>) {
        for row in rows {
            self.inner.add(row.key(), row.counts);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn event(key_id: Option<&'static str>, outcome: Outcome, second: u32) -> UsageEvent<'static> {
        UsageEvent {
            account_id: "acct",
            key_id,
            bucket: "reads",
            outcome,
            cost: 2,
            at: Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap()
                + chrono::Duration::seconds(second.into()),
        }
    }

    fn sorted(mut rows: Vec<Pending>) -> Vec<Pending> {
        rows.sort_by(|a, b| a.key().cmp(&b.key()));
        rows
    }

    #[test]
    fn requests_in_one_minute_add_up_in_one_row() {
        let recorder = UsageRecorder::new();
        recorder.record(&event(Some("k1"), Outcome::Allowed, 0));
        recorder.record(&event(Some("k1"), Outcome::Limited, 30));
        recorder.record(&event(Some("k1"), Outcome::Allowed, 59));
        assert_eq!(recorder.pending_rows(), 1);
        assert_eq!(recorder.pending_counts(), Counts { requests: 3, limited: 1, cost: 6 });
    }

    #[test]
    fn minutes_keys_and_anonymous_calls_are_separate_rows() {
        let recorder = UsageRecorder::new();
        recorder.record(&event(Some("k1"), Outcome::Allowed, 0));
        recorder.record(&event(Some("k1"), Outcome::Allowed, 60));
        recorder.record(&event(Some("k2"), Outcome::Allowed, 0));
        recorder.record(&event(None, Outcome::Allowed, 0));
        let rows = sorted(recorder.take());
        let keys: Vec<_> = rows.iter().map(|r| (r.minute % 3_600_000, &*r.key_id)).collect();
        assert_eq!(keys, vec![(0, ""), (0, "k1"), (0, "k2"), (60_000, "k1")]);
        assert_eq!(recorder.pending_rows(), 0);
    }

    #[test]
    fn restored_rows_merge_with_what_came_since() {
        let recorder = UsageRecorder::new();
        recorder.record(&event(Some("k1"), Outcome::Allowed, 0));
        let taken = recorder.take();
        recorder.record(&event(Some("k1"), Outcome::Limited, 1));
        recorder.restore(taken);
        let rows = recorder.take();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].counts, Counts { requests: 2, limited: 1, cost: 4 });
    }

    #[test]
    fn threads_recording_at_once_lose_nothing() {
        let recorder = UsageRecorder::new();
        let keys = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"];
        std::thread::scope(|scope| {
            for t in 0..4 {
                let recorder = recorder.clone();
                scope.spawn(move || {
                    for i in 0..10_000 {
                        recorder.record(&event(Some(keys[(i + t) % keys.len()]), Outcome::Allowed, 0));
                    }
                });
            }
        });
        assert!(recorder.pending_rows() >= keys.len());
        assert_eq!(recorder.pending_counts().requests, 40_000);
        let mut rows = recorder.take();
        rows.sort_by(|a, b| a.key().cmp(&b.key()));
        rows.dedup_by(|a, b| a.key() == b.key());
        assert_eq!(rows.len(), keys.len());
    }
}
