//! Server functions for the Billing page: this billing month priced by seed 000's tiers (from
//! the busiest minute and the requests above the free number in each minute), the projection
//! to month end, and the account's spend cap (seed 002).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Billing {
    /// "Nov 1 – Dec 1".
    pub period: String,
    /// The month priced, with the arithmetic in words; `None` when the policy has no pricing.
    pub priced: Option<PricedMonth>,
    /// The billing month before this one, priced as a statement; `None` when the policy has
    /// no pricing or the account did not exist before this month.
    pub last_month: Option<ClosedMonth>,
    pub spend_cap: SpendCapView,
}

/// A billing month that has ended, priced from its usage at the current prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedMonth {
    /// "Oct 1 – Nov 1".
    pub period: String,
    pub served: u64,
    pub peak_rpm: u64,
    pub extra_requests: u64,
    /// "11–30 requests a minute".
    pub tier: String,
    /// "$110.00", or "Custom pricing".
    pub total: String,
    /// The sum in words.
    pub explanation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedMonth {
    pub peak_rpm: u64,
    pub extra_requests: u64,
    /// "11–30 requests a minute".
    pub tier: String,
    /// "$223.40", or "Custom pricing".
    pub month_to_date: String,
    pub projected_extra: u64,
    pub projected_total: String,
    /// How the figures above were reached, one sentence each.
    pub explanation: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendCapView {
    /// The cap as typed in the form ("50.00"); empty without one.
    pub amount: String,
    /// "$50.00 a month" or "No spend cap".
    pub summary: String,
    /// The month's fees have reached the cap: API calls get 429 until it is raised.
    pub reached: bool,
    /// Owners may change it, when the policy lets accounts set their own.
    pub can_change: bool,
}

#[server]
pub async fn load_billing() -> Result<Billing, AppError> {
    use crate::auth::ssr::{require_user, services};
    let user = require_user().await?;
    ssr::billing(&services()?, &user).await
}

/// Sets the spend cap from a typed amount ("50", "49.99"); an empty amount removes it.
#[server]
pub async fn set_spend_cap(amount: String) -> Result<(), AppError> {
    use services::accounts::SpendCapError;
    let cents = parse_amount(&amount)?;
    let user = crate::auth::ssr::require_user().await?;
    let services = crate::auth::ssr::services()?;
    services.accounts.set_spend_cap(&user, cents).await.map_err(|error| match error {
        SpendCapError::NotOwner => AppError::Forbidden,
        SpendCapError::SetByOperator => AppError::Invalid(error.to_string()),
        SpendCapError::Internal(cause) => crate::auth::ssr::internal(cause),
    })?;
    Ok(())
}

/// "50", "49.9", "49.99", "$1,000" → cents; "" → no cap.
pub fn parse_amount(text: &str) -> Result<Option<u64>, AppError> {
    let invalid =
        || AppError::Invalid("Enter an amount like 50 or 49.99, or leave it empty for no cap.".into());
    let text: String = text.trim().trim_start_matches('$').chars().filter(|c| *c != ',').collect();
    if text.is_empty() {
        return Ok(None);
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let digits =
        |part: &str| !part.is_empty() && part.len() <= 12 && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (!fraction.is_empty() && (!digits(fraction) || fraction.len() > 2)) {
        return Err(invalid());
    }
    let cents = format!("{fraction:0<2}").parse::<u64>().map_err(|_| invalid())?;
    let whole = whole.parse::<u64>().map_err(|_| invalid())?;
    Ok(Some(whole * 100 + cents))
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use chrono::{DateTime, Utc};
    use numbers::{money, thousands};
    use policy::{Pricing, Tier};
    use services::Services;
    use services::accounts::{Account, Role, User};
    use usage::{BillingUsage, UsageQueries, at_this_pace};

    use super::*;
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
        let currency = policy.pricing.as_ref().map_or("USD", |pricing| pricing.currency.as_str());
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
            },
        })
    }

    /// "Nov 1 – Dec 1": a billing month, as the Billing page and the Overview name it.
    pub(crate) fn period(start: DateTime<Utc>, end: DateTime<Utc>) -> String {
        format!("{} – {}", start.format("%b %-d"), end.format("%b %-d"))
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

    /// A finished month's statement: its tier from the busiest minute, and the fee for it.
    pub fn close_month(
        pricing: &Pricing,
        usage: BillingUsage,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
    ) -> ClosedMonth {
        let currency = pricing.currency.as_str();
        let tier = pricing.tier_for(usage.peak_rpm);
        let tier_name = tier.map_or_else(|| "unpriced".to_owned(), tier_range);
        let busiest = format!("The busiest minute had {} requests", thousands(usage.peak_rpm));
        let (total, explanation) = match tier {
            _ if usage.served == 0 => {
                (money(0, currency), "No requests were served: nothing to pay.".to_owned())
            }
            Some(tier) if tier.total_cents(u64::MAX) == Some(0) => {
                (money(0, currency), format!("{busiest}, in the free {tier_name} tier: nothing to pay."))
            }
            Some(tier) if !tier.is_custom() => {
                let fee = tier.monthly_cents.unwrap_or(0);
                let per_extra = tier.extra_request_cents.unwrap_or(0);
                let total =
                    money(fee.saturating_add(per_extra.saturating_mul(usage.extra_requests)), currency);
                let explanation = format!(
                    "{busiest}: the {tier_name} tier, {} a month, plus {} extra requests × {} = {total}.",
                    money(fee, currency),
                    thousands(usage.extra_requests),
                    money(per_extra, currency),
                );
                (total, explanation)
            }
            _ => {
                ("Custom pricing".to_owned(), format!("{busiest}: the {tier_name} tier, priced by contract."))
            }
        };
        ClosedMonth {
            period: period(start, end),
            served: usage.served,
            peak_rpm: usage.peak_rpm,
            extra_requests: usage.extra_requests,
            tier: tier_name,
            total,
            explanation,
        }
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
        Ok(Some((price_month(pricing, usage, missing_plan.as_deref(), (start, end, now)), spent_cents)))
    }

    /// The month priced so far and projected to its end, with the sums in words. `missing_plan`
    /// names the plan the month's tier requires when the account is not on it.
    pub fn price_month(
        pricing: &Pricing,
        (peak_rpm, extra): (u64, u64),
        missing_plan: Option<&str>,
        (start, end, now): (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>),
    ) -> PricedMonth {
        let currency = pricing.currency.as_str();
        let free = pricing.free_requests_per_minute;
        let projected_extra = at_this_pace(extra, start, end, now);
        let tier = pricing.tier_for(peak_rpm);
        let mut explanation = vec![format!(
            "Your busiest minute this month had {} requests, which puts the month in the {} tier.",
            thousands(peak_rpm),
            tier.map_or_else(|| "unpriced".to_owned(), tier_range)
        )];
        let (month_to_date, projected_total) = match tier {
            Some(tier) if tier.total_cents(u64::MAX) == Some(0) => {
                explanation
                    .push("This tier is free: no monthly fee and no charge for extra requests.".to_owned());
                (money(0, currency), money(0, currency))
            }
            Some(tier) if !tier.is_custom() => {
                let fee = tier.monthly_cents.unwrap_or(0);
                let per_extra = tier.extra_request_cents.unwrap_or(0);
                let total = |extra: u64| money(fee.saturating_add(per_extra.saturating_mul(extra)), currency);
                explanation.push(format!(
                    "Requests above {} in a minute are extra: {} so far. At {} each that is {}.",
                    thousands(free),
                    thousands(extra),
                    money(per_extra, currency),
                    money(per_extra.saturating_mul(extra), currency)
                ));
                explanation.push(format!(
                    "Month to date: {} monthly fee + {} overage = {}.",
                    money(fee, currency),
                    money(per_extra.saturating_mul(extra), currency),
                    total(extra)
                ));
                explanation.push(format!(
                    "At this month's pace you reach about {} extra requests by {}: {} + {} × {} = {}, if your busiest minute stays in this tier.",
                    thousands(projected_extra),
                    end.format("%b %-d"),
                    money(fee, currency),
                    thousands(projected_extra),
                    money(per_extra, currency),
                    total(projected_extra)
                ));
                (total(extra), total(projected_extra))
            }
            _ => {
                explanation.push(match missing_plan {
                    Some(plan) => format!(
                        "This tier needs the {plan} plan, priced by contract: contact us to move your account to it, or keep your busiest minute within the tier below."
                    ),
                    None => "This tier is priced by contract; your account manager has the figures.".to_owned(),
                });
                ("Custom pricing".to_owned(), "Custom pricing".to_owned())
            }
        };
        PricedMonth {
            peak_rpm,
            extra_requests: extra,
            tier: tier.map_or_else(|| "unpriced".to_owned(), tier_range),
            month_to_date,
            projected_extra,
            projected_total,
            explanation,
        }
    }

    fn tier_range(tier: &Tier) -> String {
        match tier.max_rpm {
            Some(max) => format!("{}–{max} requests a minute", tier.min_rpm),
            None => format!("{}+ requests a minute", tier.min_rpm),
        }
    }

    #[cfg(test)]
    mod tests {
        use chrono::TimeZone;

        use super::*;

        #[test]
        fn the_month_is_priced_from_its_peak_and_its_extra_requests_and_explained() {
            let pricing = policy::Policy::default_policy().unwrap().pricing.unwrap();
            let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
            let end = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
            let now = Utc.with_ymd_and_hms(2026, 11, 11, 0, 0, 0).unwrap();
            // Peak 23/min: the $100 tier with $0.10 per extra request (seed 000).
            let month = price_month(&pricing, (23, 100), None, (start, end, now));
            assert_eq!(month.tier, "11–30 requests a minute");
            assert_eq!(month.month_to_date, "$110.00");
            assert_eq!(month.projected_extra, 300);
            assert_eq!(month.projected_total, "$130.00");
            assert!(
                month
                    .explanation
                    .iter()
                    .any(|line| line.contains("$100.00 monthly fee + $10.00 overage = $110.00"))
            );
        }

        #[test]
        fn a_finished_month_is_priced_from_its_busiest_minute_with_the_sum_in_words() {
            let pricing = policy::Policy::default_policy().unwrap().pricing.unwrap();
            let month = (
                Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            );
            let paid = close_month(
                &pricing,
                BillingUsage { peak_rpm: 23, extra_requests: 1_250, served: 9_000 },
                month,
            );
            assert_eq!((paid.period.as_str(), paid.total.as_str()), ("Oct 1 – Nov 1", "$225.00"));
            assert_eq!(
                paid.explanation,
                "The busiest minute had 23 requests: the 11–30 requests a minute tier, $100.00 a month, plus 1,250 extra requests × $0.10 = $225.00."
            );
            let free =
                close_month(&pricing, BillingUsage { peak_rpm: 9, extra_requests: 0, served: 40 }, month);
            assert_eq!(free.total, "$0.00");
            assert!(
                free.explanation.contains("in the free 0–10 requests a minute tier"),
                "{}",
                free.explanation
            );
            let idle = close_month(&pricing, BillingUsage::default(), month);
            assert_eq!(idle.explanation, "No requests were served: nothing to pay.");
            let custom =
                close_month(&pricing, BillingUsage { peak_rpm: 170, extra_requests: 9, served: 900 }, month);
            assert_eq!(custom.total, "Custom pricing");
        }

        #[test]
        fn a_month_in_a_tier_for_another_plan_says_which_plan_it_needs() {
            let pricing = policy::Policy::default_policy().unwrap().pricing.unwrap();
            let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
            let (end, now) = (start + chrono::Duration::days(30), start + chrono::Duration::days(10));
            let on_pro = price_month(&pricing, (168, 5_000), Some("Enterprise"), (start, end, now));
            assert_eq!(
                (on_pro.tier.as_str(), on_pro.projected_total.as_str()),
                ("151+ requests a minute", "Custom pricing")
            );
            assert!(
                on_pro.explanation.iter().any(|line| line.starts_with("This tier needs the Enterprise plan"))
            );
            let on_enterprise = price_month(&pricing, (168, 5_000), None, (start, end, now));
            assert!(on_enterprise.explanation.iter().any(|line| line.contains("your account manager")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_as_cents_and_nonsense_is_refused() {
        assert_eq!(parse_amount(""), Ok(None));
        assert_eq!(parse_amount(" 50 "), Ok(Some(5_000)));
        assert_eq!(parse_amount("$1,000.5"), Ok(Some(100_050)));
        assert_eq!(parse_amount("49.99"), Ok(Some(4_999)));
        for bad in ["-5", "5.999", "abc", "1e3", ".5", "99999999999999"] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }
}
