//! What the gateway reports for each request it answers: who, which bucket, admitted or not,
//! what it cost, and when.

use chrono::{DateTime, Utc};

/// The bucket a request refused by its account's spend cap is counted under (the cap is not a
/// limiter bucket).
pub const SPEND_CAP: &str = "spend_cap";

/// The bucket a request refused by its key's restrictions (read only, allowed addresses) is
/// counted under, so that a key used where it should not be shows in the usage charts.
pub const RESTRICTED: &str = "restricted";

/// Whether the gateway admitted the request or refused it with a limit (429, spend cap, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Allowed,
    Limited,
}

/// One request, as the gateway saw it. Borrowed, so recording allocates nothing for a
/// (minute, account, key, bucket) that is already being counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageEvent<'a> {
    /// The account the request counts for; `""` for anonymous public calls, if the gateway
    /// counts those at all.
    pub account_id: &'a str,
    /// The API key that made the request; `None` for calls without one.
    pub key_id: Option<&'a str>,
    /// Admitted: the route's category bucket (`"reads"`, `"scans"`, …; `""` for a route
    /// without one). Limited: the bucket that refused it (`"reads"`, `"monthly"`, `"burst"`,
    /// …, [`SPEND_CAP`] or [`RESTRICTED`]), so a chart of a bucket shows its own refusals.
    pub bucket: &'a str,
    pub outcome: Outcome,
    /// What the request charged its buckets: the route's cost (1 unless the policy weighs the
    /// route more), so a chart or the per-key table shows the budget it used.
    pub cost: u64,
    /// When the gateway answered: the minute it is counted in.
    pub at: DateTime<Utc>,
}
