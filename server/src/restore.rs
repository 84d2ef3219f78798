//! Refilling the in-memory limiter after a restart. It starts empty, which would hand every
//! account a fresh month's quota and every key a fresh day's cap at each restart. The usage
//! rollups hold the quota units each admitted request charged (`gateway::enforce`), so the
//! plan-wide buckets of a month or a day (the ones every metered request charges) are charged
//! that much again before the first request. Shorter windows start empty: they lose at most an
//! hour. An admin's counter reset is kept: only usage after the last reset is restored.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use anyhow::Context;
use chrono::{DateTime, Duration, DurationRound, Utc};
use limiter::{Charge, Scope, Window};
use policy::Policy;
use services::Services;
use services::gauges::{self, Subject};
use usage::UsageQueries;

/// Restores every account's month and day counters; returns how many it charged.
pub async fn restore_long_windows(services: &Services) -> anyhow::Result<usize> {
    let now = services.clock.now();
    let policy = services.policy.get();
    let queries = UsageQueries::new(services.db.clone());
    // A billing month is at most 31 days long.
    let accounts = queries.active_accounts(now - Duration::days(31), now + Duration::minutes(1)).await?;
    let mut restored = 0;
    for account_id in accounts {
        restored += restore_account(services, &policy, &queries, &account_id, now)
            .await
            .with_context(|| format!("restoring the counters of account {account_id}"))?;
    }
    Ok(restored)
}

async fn restore_account(
    services: &Services,
    policy: &Policy,
    queries: &UsageQueries,
    account_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let charges = plan_wide_charges(services, policy, queries, account_id, now).await?;
    // Costs per key, per range of time read: the month and the day, each from its last reset.
    let mut costs_by_range: HashMap<(DateTime<Utc>, DateTime<Utc>), HashMap<String, u64>> = HashMap::new();
    let mut restored = 0;
    for charge in charges {
        let Some((start, end)) = window_bounds(&charge.spec.window, now) else { continue };
        let reset =
            services::audit::last_at(&services.db, account_id, "bucket.reset", &charge.spec.name).await?;
        let from = reset.map_or(start, |reset| reset.max(start));
        let costs = match costs_by_range.entry((from, end)) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => new.insert(costs_per_key(queries, account_id, from, end).await?),
        };
        let used = match charge.spec.scope {
            Scope::Account => costs.values().sum(),
            _ => costs.get(&charge.subject).copied().unwrap_or(0),
        };
        let units = used.min(charge.spec.limit);
        if units > 0 {
            services.limiter.decide(&[charge.with_cost(units)]).await?;
            restored += 1;
        }
    }
    Ok(restored)
}

/// The account's plan-wide month and day buckets: its own, and each of its keys' that called
/// this billing month.
async fn plan_wide_charges(
    services: &Services,
    policy: &Policy,
    queries: &UsageQueries,
    account_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Charge>> {
    let Some(account) = services.accounts.account(account_id).await? else {
        return Ok(Vec::new());
    };
    let overrides = services.accounts.overrides(account_id).await?;
    let mut subject = Subject {
        account_id,
        plan_id: &account.plan_id,
        anchor_day: account.billing_anchor_day,
        overrides: &overrides,
        key_id: None,
        user_id: None,
    };
    let (month_start, month_end) = limiter::billing_month(now, account.billing_anchor_day);
    let keys = queries.key_totals(account_id, month_start, month_end).await?;
    let mut charges = plan_wide(policy, gauges::charges(policy, &subject), Scope::Account);
    for key_id in keys.iter().filter_map(|key| key.key_id.as_deref()) {
        subject.key_id = Some(key_id);
        charges.extend(plan_wide(policy, gauges::charges(policy, &subject), Scope::Key));
    }
    Ok(charges)
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
fn window_bounds(window: &Window, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    match *window {
        Window::Month { anchor_day } => Some(limiter::billing_month(now, anchor_day)),
        Window::Day => {
            let start = now.duration_trunc(Duration::days(1)).ok()?;
            Some((start, start + Duration::days(1)))
        }
        _ => None,
    }
}
