//! A shared store with a local fallback: Redis when it answers, this node's memory when not.
//!
//! **How it works.** Every call goes to the primary (normally a [`crate::RedisStore`]). When it
//! fails with an outage ([`StoreError::is_outage`]: timeout, lost connection, bad reply), the
//! store is *degraded* for a cool-down (default 1 s, on the injected clock), during which the
//! primary is not asked at all, so a dead Redis costs one timeout per cool-down rather than one
//! per request. While degraded:
//!
//! - requests whose buckets are all traffic buckets are decided by a local [`MemoryStore`] with
//!   the same specs. That is the **local bound**: each node enforces the policy's limits on its
//!   own, so N nodes admit at most N × limit per window until Redis returns (and the local
//!   counters start from zero);
//! - requests that charge a security-critical bucket (login throttles, `key_mgmt`: whatever the
//!   predicate given at construction says, asked at each outage, so it can follow a policy
//!   that changes while the node runs) **fail closed**: the call returns the error and the caller refuses the request.
//!
//! Peeks follow the same rule; resets go to both stores. Denials and invalid buckets are never
//! outages: they pass through unchanged.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::bucket::{BucketSpec, Charge};
use crate::clock::Clock;
use crate::decision::{BucketState, Decision};
use crate::memory::MemoryStore;
use crate::store::{LimiterStore, StoreError};

/// A primary store with a local fallback for traffic buckets; see the [module docs](self).
pub struct FailoverStore {
    primary: Arc<dyn LimiterStore>,
    local: MemoryStore,
    critical: Box<dyn Fn(&str) -> bool + Send + Sync>,
    clock: Arc<dyn Clock>,
    cool_down: Duration,
    /// Until when (µs since the epoch) the primary is not asked; `i64::MIN` when healthy.
    degraded_until: AtomicI64,
}

impl FailoverStore {
    /// `critical`: whether the bucket of this name fails closed (logins, key management).
    pub fn new(
        primary: Arc<dyn LimiterStore>,
        clock: Arc<dyn Clock>,
        critical: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Self {
        Self {
            primary,
            local: MemoryStore::with_clock(clock.clone()),
            critical: Box::new(critical),
            clock,
            cool_down: Duration::from_secs(1),
            degraded_until: AtomicI64::new(i64::MIN),
        }
    }

    /// How long to stay on the local store after the primary failed (default 1 s).
    pub fn with_cool_down(mut self, cool_down: Duration) -> Self {
        self.cool_down = cool_down;
        self
    }

    /// The primary failed recently and is not being asked.
    pub fn is_degraded(&self) -> bool {
        self.clock.now_micros() < self.degraded_until.load(Ordering::Relaxed)
    }

    fn is_critical(&self, charges: &[Charge]) -> bool {
        charges.iter().any(|charge| (self.critical)(&charge.spec.name))
    }

    fn mark_degraded(&self) {
        let cool_down = i64::try_from(self.cool_down.as_micros()).unwrap_or(i64::MAX);
        let until = self.clock.now_micros().saturating_add(cool_down);
        self.degraded_until.fetch_max(until, Ordering::Relaxed);
    }

    /// Ask the primary unless degraded; `Ok(None)` means "use the local store".
    async fn through_primary<T>(
        &self,
        charges: &[Charge],
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<Option<T>, StoreError> {
        if !self.is_degraded() {
            match call.await {
                Err(error) if error.is_outage() => self.mark_degraded(),
                answer => return answer.map(Some),
            }
        }
        if self.is_critical(charges) {
            return Err(StoreError::Unavailable(
                "the shared limiter store is down and this bucket fails closed".into(),
            ));
        }
        Ok(None)
    }
}

impl std::fmt::Debug for FailoverStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailoverStore")
            .field("cool_down", &self.cool_down)
            .field("degraded", &self.is_degraded())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl LimiterStore for FailoverStore {
    async fn decide<'c>(&self, charges: &'c [Charge]) -> Result<Decision<'c>, StoreError> {
        match self.through_primary(charges, self.primary.decide(charges)).await? {
            Some(decision) => Ok(decision),
            None => self.local.decide(charges).await,
        }
    }

    async fn peek<'c>(&self, charges: &'c [Charge]) -> Result<Vec<BucketState<'c>>, StoreError> {
        match self.through_primary(charges, self.primary.peek(charges)).await? {
            Some(states) => Ok(states),
            None => self.local.peek(charges).await,
        }
    }

    async fn reset(&self, spec: &BucketSpec, subject: &str) -> Result<(), StoreError> {
        self.local.reset(spec, subject).await?;
        let reset = self.primary.reset(spec, subject).await;
        if matches!(&reset, Err(error) if error.is_outage()) {
            self.mark_degraded();
        }
        reset
    }
}
