//! Refilling the in-memory limiter after a restart. It starts empty, which would hand every
//! account a fresh month's quota and every key a fresh day's cap at each restart. The usage
//! rollups hold the quota units each admitted request charged (`gateway::enforce`), so the
//! plan-wide buckets of a month or a day (the ones every metered request charges, a key's own
//! quota included) are charged
//! that much again before the first request. Shorter windows start empty: they lose at most an
//! hour. An admin's counter reset is kept: only usage after the last reset is restored; so is
//! the start of a key's own quota set after the key had called.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

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
        let keys = month_costs.keys().filter(|key_id| !key_id.is_empty()).map(String::as_str);
        let mut restored = 0;
        for charge in plan_wide_charges(self.policy, account, overrides, keys, self.key_quotas) {
            let Some((start, end)) = window_bounds(&charge.spec.window, self.now) else { continue };
            let costs = match self.counted_since(&account.id, &charge) {
                Some(since) if since > start => costs_per_key(usage.queries, &account.id, since, end).await?,
                _ => usage.costs_of(&account.id, (start, end)).await?,
            };
            let used = match charge.spec.scope {
                Scope::Account => costs.values().sum(),
                _ => costs.get(&charge.subject).copied().unwrap_or(0),
            };
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
/// Quota units per account id, then per key id.
type CostsByAccount = HashMap<String, HashMap<String, u64>>;

/// Every account's usage per window, each window read once (the accounts' billing months
/// differ only by their anchor day).
struct UsageByWindow<'a> {
    queries: &'a UsageQueries,
    windows: HashMap<Span, CostsByAccount>,
}

impl UsageByWindow<'_> {
    /// The account's quota units per key id over `window`.
    async fn costs_of(&mut self, account_id: &str, window: Span) -> anyhow::Result<HashMap<String, u64>> {
        let every_account = match self.windows.entry(window) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => {
                new.insert(self.queries.costs_by_account_and_key(window.0, window.1).await?)
            }
        };
        Ok(every_account.get(account_id).cloned().unwrap_or_default())
    }
}

/// The account's plan-wide month and day buckets: its own, and each of `keys`' (the keys that
/// called this billing month).
fn plan_wide_charges<'k>(
    policy: &Policy,
    account: &Account,
    overrides: &Overrides,
    keys: impl Iterator<Item = &'k str>,
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
    let mut charges = plan_wide(policy, gauges::charges(policy, &subject), Scope::Account);
    for key_id in keys {
        subject.key_id = Some(key_id);
        subject.key_quota = key_quotas.get(key_id).map(|quota| quota.quota);
        charges.extend(plan_wide(policy, gauges::charges(policy, &subject), Scope::Key));
    }
    charges
}

/// The quota units each key of the account used in `[from, to)`.
async fn costs_per_key(
    queries: &UsageQueries,
    account_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<HashMap<String, u64>> {
    let per_key = queries.key_totals(account_id, from, to).await?;
    Ok(per_key.into_iter().map(|key| (key.key_id.unwrap_or_default(), key.counts.cost)).collect())
}

/// The buckets of `scope` that every metered request charges (no route names them) and that
/// are counted per month or per day.
fn plan_wide(policy: &Policy, charges: Vec<Charge>, scope: Scope) -> Vec<Charge> {
    let named_by_a_route =
        |name: &str| policy.routes.iter().any(|route| route.buckets.iter().any(|b| b == name));
    charges
        .into_iter()
        .filter(|charge| charge.spec.scope == scope && !named_by_a_route(&charge.spec.name))
        .filter(|charge| matches!(charge.spec.window, Window::Month { .. } | Window::Day))
        .collect()
}

/// The current window of a month or day bucket.
fn window_bounds(window: &Window, now: DateTime<Utc>) -> Option<Span> {
    match *window {
        Window::Month { anchor_day } => Some(limiter::billing_month(now, anchor_day)),
        Window::Day => {
            let start = now.duration_trunc(Duration::days(1)).ok()?;
            Some((start, start + Duration::days(1)))
        }
        _ => None,
    }
}
