//! What a store answers: a [`Decision`] for a request, a [`BucketState`] per bucket.
//!
//! Both borrow names and subjects from the caller's charges, so deciding allocates one `Vec`
//! and no strings. A denial is a value: [`Decision::retry_after`] is `Some`.

use std::time::Duration;

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
    pub reset: DateTime<Utc>,
    /// This bucket refused the request.
    pub denied: bool,
    /// For a denying bucket: how long until it would admit this request.
    pub retry_after: Option<Duration>,
}

impl BucketState<'_> {
    /// Time from `now` until [`BucketState::reset`], zero if already past.
    pub fn reset_after(&self, now: DateTime<Utc>) -> Duration {
        (self.reset - now).to_std().unwrap_or(Duration::ZERO)
    }
}

/// The answer for one request: every bucket admitted and was charged, or none was charged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'c> {
    /// The instant decided at (the Redis server's clock for the Redis store).
    pub now: DateTime<Utc>,
    /// One state per charge, in the charges' order.
    pub buckets: Vec<BucketState<'c>>,
    /// `None` when admitted; when denied, the time until every denying bucket would admit.
    pub retry_after: Option<Duration>,
}

impl<'c> Decision<'c> {
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

pub(crate) fn instant(at: Micros) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at).unwrap_or(DateTime::<Utc>::MAX_UTC)
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
