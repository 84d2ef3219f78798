//! The per-account monthly spend cap (seed 002: budget is per account). An account with a cap
//! whose fees this billing month (seed 000's tier fee plus extra requests, from the usage
//! rollups) have reached it gets a 429 that says so, until the month turns or the cap is raised.
//!
//! Fees are read at most once a second per account and node, so a node may admit up to a
//! second's requests (plus the rollups' one-second flush delay) past the cap: a cap bounds
//! spending, it is not a rate limit.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use policy::{Pricing, SpendCapReached};
use usage::{UsageError, UsageQueries};

use super::callers::ResolvedKey;

/// How long one reading of an account's fees is used.
const FRESH_FOR: Duration = Duration::seconds(1);

pub struct SpendCaps {
    queries: UsageQueries,
    readings: Mutex<Readings>,
}

#[derive(Default)]
struct Readings {
    by_account: HashMap<String, Reading>,
    pruned_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy)]
struct Reading {
    spent_cents: u64,
    month_end: DateTime<Utc>,
    read_at: DateTime<Utc>,
}

impl SpendCaps {
    pub fn new(queries: UsageQueries) -> Self {
        Self { queries, readings: Mutex::default() }
    }

    /// `Some` when the key's account has a cap and its fees this billing month have reached it.
    pub async fn reached(
        &self,
        key: &ResolvedKey,
        pricing: Option<&Pricing>,
        now: DateTime<Utc>,
    ) -> Result<Option<SpendCapReached>, UsageError> {
        let (Some(cap_cents), Some(pricing)) = (key.spend_cap_cents, pricing) else {
            return Ok(None);
        };
        let reading = match self.fresh(&key.account_id, now) {
            Some(reading) => reading,
            None => self.read(key, pricing, now).await?,
        };
        Ok((reading.spent_cents >= cap_cents).then(|| SpendCapReached {
            cap_cents,
            spent_cents: reading.spent_cents,
            resets_at: Some(reading.month_end.into()),
            now: now.into(),
        }))
    }

    fn fresh(&self, account_id: &str, now: DateTime<Utc>) -> Option<Reading> {
        let readings = self.readings.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        readings.by_account.get(account_id).copied().filter(|reading| now - reading.read_at < FRESH_FOR)
    }

    async fn read(
        &self,
        key: &ResolvedKey,
        pricing: &Pricing,
        now: DateTime<Utc>,
    ) -> Result<Reading, UsageError> {
        let (month_start, month_end) = limiter::billing_month(now, key.anchor_day);
        let billing = (self.queries)
            .peak_and_extra(&key.account_id, month_start, now, pricing.free_requests_per_minute)
            .await?;
        // A custom-pricing tier has no fees to cap.
        let spent_cents = pricing.monthly_cost_cents(billing.peak_rpm, billing.extra_requests).unwrap_or(0);
        let reading = Reading { spent_cents, month_end, read_at: now };
        let mut readings = self.readings.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Once a minute, readings of accounts no longer calling are dropped, so the map stays
        // as small as the set of capped accounts in use.
        if readings.pruned_at.is_none_or(|at| now - at >= Duration::minutes(1)) {
            readings.by_account.retain(|_, old| now - old.read_at < Duration::minutes(1));
            readings.pruned_at = Some(now);
        }
        readings.by_account.insert(key.account_id.clone(), reading);
        Ok(reading)
    }
}
