//! Server functions for the Plan page: the catalogue side by side, and switching plans.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanView {
    pub id: String,
    pub name: String,
    pub description: String,
    /// "$29/month"; "Billed by usage" when the bill follows the pricing tiers (the Billing
    /// page); "Custom pricing" otherwise.
    pub price: String,
    /// The plan has a price of its own (shown large), not a note on how it is billed.
    pub fixed_price: bool,
    /// What the plan allows, one line each ("10,000 calls a month", "5 requests a second").
    pub limits: Vec<String>,
    pub current: bool,
    /// Customers may switch to it here; otherwise it is arranged with the operator.
    pub self_service: bool,
    /// Where to ask for a plan arranged with the operator (the policy's upgrade URL).
    pub contact_url: Option<String>,
    /// How this month's pace compares with the plan's monthly quota, once there is a pace.
    pub pace: Option<String>,
}

#[server]
pub async fn list_plans() -> Result<Vec<PlanView>, AppError> {
    use crate::auth::ssr::{internal, require_user, services};
    let user = require_user().await?;
    let account_id = user.account_id.ok_or(AppError::Forbidden)?;
    let services = services()?;
    let account =
        services.accounts.account(&account_id).await.map_err(internal)?.ok_or(AppError::Forbidden)?;
    let policy = services.policy.get();
    let projected = ssr::projected_quota_units(&services, &account).await?;
    // Limits an operator set for this account replace its plan's, so its card shows those.
    let own = services.accounts.overrides(&account.id).await.map_err(internal)?;
    let view = |plan| ssr::view(&policy, plan, &account.plan_id, projected, &own);
    Ok(policy.plans().iter().map(view).collect())
}

#[server]
pub async fn change_plan(plan_id: String) -> Result<(), AppError> {
    use services::accounts::PlanChangeError;
    let user = crate::auth::ssr::require_user().await?;
    let services = crate::auth::ssr::services()?;
    services.accounts.change_plan(&user, &plan_id).await.map_err(|error| match error {
        PlanChangeError::NotOwner => AppError::Forbidden,
        PlanChangeError::UnknownPlan | PlanChangeError::ArrangedByOperator => {
            AppError::Invalid(error.to_string())
        }
        PlanChangeError::Internal(cause) => crate::auth::ssr::internal(cause),
    })?;
    Ok(())
}

#[cfg(feature = "ssr")]
mod ssr {
    use numbers::thousands;
    use policy::{BURST, DAILY_CAP, Limit, MONTHLY, Overrides, Plan, Policy};

    use super::PlanView;

    /// The quota units the account's month reaches at its pace so far, from the units the usage
    /// rollups counted (what the plan-wide buckets were charged; an admin's counter reset does
    /// not lower it, so a plan is never shown as fitting a pace it would not).
    pub async fn projected_quota_units(
        services: &services::Services,
        account: &services::accounts::Account,
    ) -> Result<u64, crate::AppError> {
        let month = crate::overview::ssr::month_so_far(services, account).await?;
        Ok(usage::at_this_pace(month.counts.cost, month.start, month.end, month.now))
    }

    /// "Fits this month's pace: about 786 of 10,000." or that the pace is above the quota.
    pub(crate) fn pace(projected: u64, quota: Option<u64>) -> Option<String> {
        let quota = quota.filter(|_| projected > 0)?;
        Some(if projected <= quota {
            format!("Fits this month's pace: about {} of {}.", thousands(projected), thousands(quota))
        } else {
            format!("This month's pace, about {}, is more than its quota.", thousands(projected))
        })
    }

    /// `plan` as its card shows it; the account's own limits (`own`) replace the plan's on the
    /// card of the plan it is on.
    pub fn view(policy: &Policy, plan: &Plan, current: &str, projected: u64, own: &Overrides) -> PlanView {
        let is_current = plan.id == current;
        let own_limit = |bucket: &str| own.get(bucket).filter(|_| is_current);
        let monthly_quota = own_limit(MONTHLY).or(plan.monthly_quota);
        let burst = plan.burst.map(|burst| own_limit(BURST).map_or(burst, |count| burst.with_count(count)));
        // With pricing tiers the tiers make the bill, whatever the plan: a plan's own price,
        // never billed then, is not shown, so the Plan page and Billing never disagree.
        let price = match (plan.price_cents, &policy.pricing) {
            (_, Some(_)) => "Billed by usage".to_owned(),
            (Some(0), None) => "Free".to_owned(),
            (Some(cents), None) => format!("{}/month", monthly_price(cents)),
            (None, None) => "Custom pricing".to_owned(),
        };
        // A plan arranged by contract has its numbers set per account, not none at all.
        let (no_quota, no_burst) = if plan.self_service {
            ("No fixed monthly quota", "No burst ceiling")
        } else {
            ("Monthly quota set by contract", "Burst set by contract")
        };
        let mut limits = Vec::new();
        match monthly_quota {
            Some(quota) => limits.push(format!("{} calls a month", thousands(quota))),
            None => limits.push(no_quota.to_owned()),
        }
        match &burst {
            Some(burst) => limits.push(format!("Bursts of {} {}", burst.count(), rate(burst))),
            None => limits.push(no_burst.to_owned()),
        }
        if let (true, Some(cap)) = (plan.daily_cap, &policy.daily_cap) {
            let daily = own_limit(DAILY_CAP).unwrap_or(cap.limit);
            limits.push(format!("At most {} calls a day per key", thousands(daily)));
        }
        let others =
            own.iter().filter(|(bucket, _)| is_current && ![MONTHLY, BURST, DAILY_CAP].contains(bucket));
        for (bucket, count) in others {
            if let Some(limit) = policy.bucket(bucket).map(|defined| defined.limit.with_count(count)) {
                limits.push(format!("{bucket}: {} (set for your account)", limit.describe()));
            }
        }
        PlanView {
            id: plan.id.clone(),
            name: plan.name.clone(),
            description: plan.description.clone(),
            price,
            limits,
            current: is_current,
            fixed_price: plan.price_cents.is_some() && policy.pricing.is_none(),
            self_service: plan.self_service,
            contact_url: policy.rejection.upgrade_url.clone(),
            pace: pace(projected, monthly_quota),
        }
    }

    /// A plan's price in US dollars, its cents shown only when there are some: "$49", "$49.99".
    fn monthly_price(cents: u64) -> String {
        let amount = numbers::money(cents, "USD");
        amount.strip_suffix(".00").map_or_else(|| amount.clone(), str::to_owned)
    }

    fn rate(limit: &Limit) -> String {
        format!("per {}", limit.window_label())
    }

    #[cfg(test)]
    mod tests {
        use super::{monthly_price, pace};

        #[test]
        fn a_price_keeps_its_cents() {
            assert_eq!(monthly_price(4_900), "$49");
            assert_eq!(monthly_price(4_999), "$49.99");
            assert_eq!(monthly_price(50), "$0.50");
            assert_eq!(monthly_price(1_000_000), "$10,000");
        }

        #[test]
        fn the_pace_is_compared_with_a_quota_once_there_is_one() {
            assert_eq!(
                pace(786, Some(10_000)).as_deref(),
                Some("Fits this month's pace: about 786 of 10,000.")
            );
            assert_eq!(
                pace(10_000, Some(10_000)).as_deref(),
                Some("Fits this month's pace: about 10,000 of 10,000.")
            );
            assert_eq!(
                pace(12_400, Some(10_000)).as_deref(),
                Some("This month's pace, about 12,400, is more than its quota.")
            );
            assert_eq!(pace(0, Some(10_000)), None, "no pace yet");
            assert_eq!(pace(786, None), None, "no quota to compare with");
        }
    }
}
