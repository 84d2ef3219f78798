//! Refilling the in-memory limiter after a restart. It starts empty, which would hand every
//! account a fresh month's quota, every key a fresh day's cap and a fresh hour of scans at each
//! restart. The usage rollups hold the units each admitted request charged, per key and route
//! bucket (`gateway::enforce`), so these are charged that much again before the first request:
//! the plan-wide buckets of a month or a day (the ones every metered request charges, a key's
//! own quota included), and the route buckets (`scans`, `exports`) of an hour or longer.
//! Shorter windows start empty: they lose at most a minute. An admin's counter reset is kept:
//! only usage after the last reset is restored; so is the start of a key's own quota set after
//! the key had called. The rollups count by the minute, so usage in the minute of a reset, a
//! quota's start or the hour's start is not restored.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

use anyhow::Context;
use chrono::{DateTime, Duration, DurationRound, Utc};
use limiter::{Charge, Scope, Window};
use policy::{KEY_QUOTA, Overrides, Policy};
use services::Services;
use services::accounts::Account;
use services::gauges::{self, Subject};
use services::keys::QuotaSince;
use usage::UsageQueries;

/// Restores every account's month and day counters; returns how many it charged.
///
/// A few queries for all accounts together (accounts, overrides, resets, and the usage of each
/// window), not several per account: a restart with many active accounts must not keep the
/// node from serving for long.
pub async fn restore_long_windows(services: &Services) -> anyhow::Result<usize> {
    let now = services.clock.now();
    let policy = services.policy.get();
    let queries = UsageQueries::new(services.db.clone());
    // A reset matters only inside the window it cleared; a billing month is at most 31 days.
    let resets = services::audit::latest_per_account_and_target(
        &services.db,
        "bucket.reset",
        now - Duration::days(32),
    )
    .await?;
    let key_quotas = services.keys.quotas().await?;
    let mut usage = UsageByWindow { queries: &queries, windows: HashMap::new() };
    let mut restored = 0;
    for (account, overrides) in services.accounts.all_with_overrides().await? {
        let restore = Restore { services, policy: &policy, resets: &resets, key_quotas: &key_quotas, now };
        restored += restore
            .account(&account, &overrides, &mut usage)
            .await
            .with_context(|| format!("restoring the counters of account {}", account.id))?;
    }
    Ok(restored)
}

/// What restoring one account needs besides the account.
struct Restore<'a> {
    services: &'a Services,
    policy: &'a Policy,
    /// The latest counter reset per (account, bucket).
    resets: &'a HashMap<(String, String), DateTime<Utc>>,
    /// Each key's own quota, where its owner set one.
    key_quotas: &'a HashMap<String, QuotaSince>,
    now: DateTime<Utc>,
}

impl Restore<'_> {
    async fn account(
        &self,
        account: &Account,
        overrides: &Overrides,
        usage: &mut UsageByWindow<'_>,
    ) -> anyhow::Result<usize> {
        let month = limiter::billing_month(self.now, account.billing_anchor_day);
        let month_costs = usage.costs_of(&account.id, month).await?;
        if month_costs.is_empty() {
            return Ok(0); // no traffic this billing month: nothing to restore
        }
        let keys: BTreeSet<&str> = month_costs
            .keys()
            .map(|(key_id, _)| key_id.as_str())
            .filter(|key_id| !key_id.is_empty())
            .collect();
        let mut restored = 0;
        for charge in restored_charges(self.policy, account, overrides, &keys, self.key_quotas) {
            let Some((start, end)) = window_bounds(&charge.spec.window, self.now) else { continue };
            let since = self.counted_since(&account.id, &charge).filter(|since| *since > start);
            let costs = usage.costs_of(&account.id, (since.unwrap_or(start), end)).await?;
            // A route's bucket counts that route's requests only; a plan-wide one every request.
            let route_bucket = named_by_a_route(self.policy, &charge.spec.name);
            let charged_by = |(key_id, bucket): &(String, String)| match charge.spec.scope {
                Scope::Account => true,
                _ => *key_id == charge.subject && (!route_bucket || *bucket == charge.spec.name),
            };
            let used: u64 = costs.iter().filter(|(key, _)| charged_by(key)).map(|(_, cost)| cost).sum();
            let units = used.min(charge.spec.limit);
            if units > 0 {
                self.services.limiter.decide(&[charge.with_cost(units)]).await?;
                restored += 1;
            }
        }
        Ok(restored)
    }

    /// When the counter of `charge` last started from 0 inside any window: an admin's reset,
    /// or a key's own quota set after the key had called. Only what came after counts.
    fn counted_since(&self, account_id: &str, charge: &Charge) -> Option<DateTime<Utc>> {
        let reset = self.resets.get(&(account_id.to_owned(), charge.spec.name.clone())).copied();
        let quota_set = match charge.spec.name.as_str() {
            KEY_QUOTA => self.key_quotas.get(&charge.subject).and_then(|quota| quota.since),
            _ => None,
        };
        reset.max(quota_set)
    }
}

/// `[start, end)`.
type Span = (DateTime<Utc>, DateTime<Utc>);
/// Units charged per account id, then per (key id, route bucket).
type CostsByAccount = HashMap<String, HashMap<(String, String), u64>>;

/// Every account's usage per window, each window read once (the accounts' billing months
/// differ only by their anchor day).
struct UsageByWindow<'a> {
    queries: &'a UsageQueries,
    windows: HashMap<Span, CostsByAccount>,
}

impl UsageByWindow<'_> {
    /// The account's units charged per (key id, route bucket) over `window`.
    async fn costs_of(
        &mut self,
        account_id: &str,
        window: Span,
    ) -> anyhow::Result<HashMap<(String, String), u64>> {
        let every_account = match self.windows.entry(window) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => {
                new.insert(self.queries.costs_by_account_key_and_bucket(window.0, window.1).await?)
            }
        };
        Ok(every_account.get(account_id).cloned().unwrap_or_default())
    }
}

/// The account's buckets a restart refills: its own plan-wide ones of a month or a day, and
/// for each of `keys` (the keys that called this billing month) its plan-wide ones of a month
/// or a day and the route buckets of an hour or longer.
fn restored_charges(
    policy: &Policy,
    account: &Account,
    overrides: &Overrides,
    keys: &BTreeSet<&str>,
    key_quotas: &HashMap<String, QuotaSince>,
) -> Vec<Charge> {
    let mut subject = Subject {
        account_id: &account.id,
        plan_id: &account.plan_id,
        anchor_day: account.billing_anchor_day,
        overrides,
        key_id: None,
        key_quota: None,
        user_id: None,
    };
    let restored = |charge: &Charge, scope: Scope| {
        let long = match charge.spec.window {
            Window::Month { .. } | Window::Day => true,
            Window::Hour => named_by_a_route(policy, &charge.spec.name),
            _ => false,
        };
        charge.spec.scope == scope && long
    };
    let mut charges: Vec<Charge> = gauges::charges(policy, &subject)
        .into_iter()
        .filter(|charge| restored(charge, Scope::Account) && !named_by_a_route(policy, &charge.spec.name))
        .collect();
    for key_id in keys {
        subject.key_id = Some(key_id);
        subject.key_quota = key_quotas.get(*key_id).map(|quota| quota.quota);
        charges.extend(
            gauges::charges(policy, &subject).into_iter().filter(|charge| restored(charge, Scope::Key)),
        );
    }
    charges
}

/// Whether a route names the bucket: only that route's requests charge it. Every metered
/// request charges the others (the plan-wide ones).
fn named_by_a_route(policy: &Policy, name: &str) -> bool {
    policy.routes.iter().any(|route| route.buckets.iter().any(|bucket| bucket == name))
}

/// The current window of a month, day or hour bucket.
fn window_bounds(window: &Window, now: DateTime<Utc>) -> Option<Span> {
    let clock_aligned = |length: Duration| {
        let start = now.duration_trunc(length).ok()?;
        Some((start, start + length))
    };
    match *window {
        Window::Month { anchor_day } => Some(limiter::billing_month(now, anchor_day)),
        Window::Day => clock_aligned(Duration::days(1)),
        Window::Hour => clock_aligned(Duration::hours(1)),
        _ => None,
    }
}
