//! Loading the Billing page's figures: the account, its usage from the rollups, the policy's
//! pricing; the words and sums are `pricing`'s.

use chrono::{DateTime, Utc};
use numbers::money;
use policy::Pricing;
use services::Services;
use services::accounts::{Account, Role, User};
use usage::UsageQueries;

use super::pricing::{close_month, period, price_month};
use super::{AppError, Billing, ClosedMonth, PricedMonth, SpendCapView};
use crate::auth::ssr::internal;

pub async fn billing(services: &Services, user: &User) -> Result<Billing, AppError> {
    let account_id = user.account_id.as_deref().ok_or(AppError::Forbidden)?;
    let account =
        services.accounts.account(account_id).await.map_err(internal)?.ok_or(AppError::Forbidden)?;
    let policy = services.policy.get();
    let now = services.clock.now();
    let (start, end) = limiter::billing_month(now, account.billing_anchor_day);
    let (priced, spent_cents) = match priced_month(services, &account).await? {
        Some((priced, spent_cents)) => (Some(priced), spent_cents),
        None => (None, None),
    };
    let last_month = match &policy.pricing {
        Some(pricing) if account.created_at < start => {
            Some(last_month(services, &account, pricing, start).await?)
        }
        _ => None,
    };
    let currency = policy.currency();
    let cap = account.spend_cap_cents;
    Ok(Billing {
        period: period(start, end),
        priced,
        last_month,
        spend_cap: SpendCapView {
            amount: cap.map_or_else(String::new, |cents| format!("{}.{:02}", cents / 100, cents % 100)),
            summary: cap.map_or_else(
                || "No spend cap".to_owned(),
                |cents| format!("{} a month", money(cents, currency)),
            ),
            reached: cap_reached(cap, spent_cents),
            can_change: user.role == Role::Owner && policy.spend_cap.account_may_set,
            spent: spent_cents.filter(|cents| *cents > 0).map(|cents| money(cents, currency)),
        },
    })
}

/// Refuses a new cap (in cents) that this month's fees have already reached, with what it would
/// do: the owner confirms it with `stop_now`.
pub async fn refuse_a_cap_already_reached(
    services: &Services,
    user: &User,
    cap: Option<u64>,
) -> Result<(), AppError> {
    let account_id = user.account_id.as_deref().ok_or(AppError::Forbidden)?;
    let account =
        services.accounts.account(account_id).await.map_err(internal)?.ok_or(AppError::Forbidden)?;
    let spent_cents = priced_month(services, &account).await?.and_then(|(_, spent)| spent);
    if !cap_reached(cap, spent_cents) {
        return Ok(());
    }
    let policy = services.policy.get();
    let currency = policy.currency();
    let dollars = |cents: Option<u64>| money(cents.unwrap_or(0), currency);
    Err(AppError::Invalid(format!(
        "This month's fees are already {}: a cap of {} stops every API call at once, until the \
         month ends or the cap is raised. Tick \"Stop API calls now\" to save it anyway.",
        dollars(spent_cents),
        dollars(cap)
    )))
}

/// The billing month that ended at `this_month_start`, priced.
async fn last_month(
    services: &Services,
    account: &Account,
    pricing: &Pricing,
    this_month_start: DateTime<Utc>,
) -> Result<ClosedMonth, AppError> {
    let last_instant = this_month_start - chrono::Duration::milliseconds(1);
    let (start, end) = limiter::billing_month(last_instant, account.billing_anchor_day);
    let usage = UsageQueries::new(services.db.clone())
        .peak_and_extra(&account.id, start, end, pricing.free_requests_per_minute)
        .await
        .map_err(internal)?;
    Ok(close_month(pricing, usage, (start, end)))
}

/// Whether the month's fees have reached the account's spend cap, as the gateway refuses.
pub(crate) fn cap_reached(cap_cents: Option<u64>, spent_cents: Option<u64>) -> bool {
    matches!((cap_cents, spent_cents), (Some(cap), Some(spent)) if spent >= cap)
}

/// The account's billing month priced from its usage so far (with its fees in cents, when
/// its tier has a price); `None` when the policy prices nothing.
pub(crate) async fn priced_month(
    services: &Services,
    account: &Account,
) -> Result<Option<(PricedMonth, Option<u64>)>, AppError> {
    let policy = services.policy.get();
    let Some(pricing) = &policy.pricing else {
        return Ok(None);
    };
    let now = services.clock.now();
    let (start, end) = limiter::billing_month(now, account.billing_anchor_day);
    let usage = UsageQueries::new(services.db.clone())
        .peak_and_extra(&account.id, start, now, pricing.free_requests_per_minute)
        .await
        .map_err(internal)?;
    let spent_cents = pricing.monthly_cost_cents(usage.peak_rpm, usage.extra_requests);
    // Seed 000: above 150 a minute "Enterprise Plan Required", which a Pro account is not on.
    let missing_plan = pricing
        .tier_for(usage.peak_rpm)
        .and_then(|tier| tier.requires_plan.as_deref())
        .filter(|plan| *plan != account.plan_id)
        .map(|plan| policy.plan(plan).map_or_else(|| plan.to_owned(), |plan| plan.name.clone()));
    let usage = (usage.peak_rpm, usage.extra_requests);
    Ok(Some((
        price_month(pricing, usage, missing_plan.as_deref(), account.spend_cap_cents, (start, end, now)),
        spent_cents,
    )))
}
