//! The one interface every limiter store offers, and how a store fails.

use async_trait::async_trait;

use crate::bucket::{BucketSpec, Charge};
use crate::decision::{BucketState, Decision};

/// A place where bucket counters live and are decided atomically.
///
/// Object-safe: the server holds an `Arc<dyn LimiterStore>` chosen at start-up. Limits are not
/// stored: every call passes the [`BucketSpec`]s, so a plan change applies at the next request
/// and keeps the counters (a change of window kind starts a fresh counter).
#[async_trait]
pub trait LimiterStore: Send + Sync + 'static {
    /// Decide one request against all its buckets: either every bucket admits and each is
    /// charged its cost, or none is charged. A denial is an `Ok` decision.
    async fn decide<'c>(&self, charges: &'c [Charge]) -> Result<Decision<'c>, StoreError>;

    /// Read buckets without charging them (costs are ignored).
    async fn peek<'c>(&self, charges: &'c [Charge]) -> Result<Vec<BucketState<'c>>, StoreError>;

    /// Forget one bucket's counter for one subject, as if it had never been used.
    async fn reset(&self, spec: &BucketSpec, subject: &str) -> Result<(), StoreError>;
}

/// Why a store could not decide. Never a denial: that is a [`Decision`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The policy handed the limiter a bucket it cannot enforce (a bug in the policy's checks).
    #[error("bucket `{name}` cannot be enforced: {reason}")]
    InvalidBucket { name: String, reason: &'static str },
    /// The store did not answer in time.
    #[error("limiter store did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The store could not be reached, or refused the command.
    #[error("limiter store unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store answered something this crate does not understand.
    #[error("limiter store answered unexpectedly: {0}")]
    Protocol(String),
}

impl StoreError {
    /// An outage (timeout, connection, protocol) rather than a bad bucket: worth a fallback.
    pub fn is_outage(&self) -> bool {
        !matches!(self, StoreError::InvalidBucket { .. })
    }
}
