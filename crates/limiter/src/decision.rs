//! What a store answers: a [`Decision`] for a request, a [`BucketState`] per bucket.
//!
//! Both borrow names and subjects from the caller's charges, so deciding allocates one `Vec`
//! and no strings. Instants are `SystemTime`s, cheap to make on the hot path; `reset_at` and
//! `now_utc` give them as chrono dates. A denial is a value: [`Decision::retry_after`] is `Some`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

use crate::bucket::{Charge, Scope, Window};
use crate::calendar::Micros;
use crate::rule::Report;

/// One bucket as it stands: after the charge if the request was admitted, as it was if denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketState<'c> {
    pub name: &'c str,
    pub scope: Scope,
    pub subject: &'c str,
    pub window: Window,
    /// The policy's limit (for GCRA: requests per period).
    pub limit: u64,
    /// Units used in the current window; for GCRA, the burst capacity not yet refilled.
    pub used: u64,
    /// Units that could be taken right now. Never negative, even after a limit is lowered.
    pub remaining: u64,
    /// When the window rolls over; for GCRA, when the bucket is full again.
    pub reset: SystemTime,
    /// This bucket refused the request.
    pub denied: bool,
    /// For a denying bucket: how long until it would admit this request.
    pub retry_after: Option<Duration>,
}

impl BucketState<'_> {
    /// Time from `now` (usually [`Decision::now`]) until [`BucketState::reset`], zero if past.
    pub fn reset_after(&self, now: SystemTime) -> Duration {
        self.reset.duration_since(now).unwrap_or(Duration::ZERO)
    }

    /// [`BucketState::reset`] as a UTC date, e.g. for a 429 body's `reset_at`.
    pub fn reset_at(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.reset)
    }

    /// [`BucketState::reset`] in whole seconds since the Unix epoch, rounded up
    /// (`X-RateLimit-Reset`).
    pub fn reset_epoch_seconds(&self) -> u64 {
        let since = self.reset.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        since.as_secs() + u64::from(since.subsec_nanos() > 0)
    }
}

/// The answer for one request: every bucket admitted and was charged, or none was charged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'c> {
    /// The instant decided at (the Redis server's clock for the Redis store).
    pub now: SystemTime,
    /// One state per charge, in the charges' order.
    pub buckets: Vec<BucketState<'c>>,
    /// `None` when admitted; when denied, the time until every denying bucket would admit.
    pub retry_after: Option<Duration>,
}

impl<'c> Decision<'c> {
    /// [`Decision::now`] as a UTC date.
    pub fn now_utc(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.now)
    }

    pub fn is_allowed(&self) -> bool {
        self.retry_after.is_none()
    }

    /// The buckets that refused the request (empty when admitted).
    pub fn denied(&self) -> impl Iterator<Item = &BucketState<'c>> {
        self.buckets.iter().filter(|bucket| bucket.denied)
    }

    /// The bucket with the fewest units left: the one rate-limit headers usually describe.
    pub fn tightest(&self) -> Option<&BucketState<'c>> {
        self.buckets.iter().min_by_key(|bucket| bucket.remaining)
    }
}

pub(crate) fn instant(at: Micros) -> SystemTime {
    let magnitude = Duration::from_micros(at.unsigned_abs());
    let instant = if at >= 0 { UNIX_EPOCH.checked_add(magnitude) } else { UNIX_EPOCH.checked_sub(magnitude) };
    instant.unwrap_or(UNIX_EPOCH)
}

pub(crate) fn wait(micros: Micros) -> Duration {
    Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

/// A bucket's public state from the pure report (and the wait if it denied).
pub(crate) fn bucket_state<'c>(
    charge: &'c Charge,
    report: Report,
    denied_for: Option<Micros>,
) -> BucketState<'c> {
    BucketState {
        name: &charge.spec.name,
        scope: charge.spec.scope,
        subject: &charge.subject,
        window: charge.spec.window,
        limit: charge.spec.limit,
        used: report.used,
        remaining: report.remaining,
        reset: instant(report.reset),
        denied: denied_for.is_some(),
        retry_after: denied_for.map(wait),
    }
}

/// The request's wait: the longest of its denying buckets' waits.
pub(crate) fn overall_wait(buckets: &[BucketState<'_>]) -> Option<Duration> {
    buckets.iter().filter_map(|bucket| bucket.retry_after).max()
}
