//! A billing month in words and sums: seed 000's tier from the busiest minute, the fee, the
//! extra requests' charge, and the projection to the month's end. Pure functions of the
//! pricing and the usage, so the wording is tested without a database.

use chrono::{DateTime, Utc};
use numbers::{money, thousands};
use policy::{Pricing, Tier};
use usage::{BillingUsage, at_this_pace};

use super::{ClosedMonth, PricedMonth};

/// "Nov 1 – Nov 30": a billing month from its first to its last day, as the Billing page and
/// the Overview name it (`end` is the next month's first instant).
pub(crate) fn period(start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let last_day = end - chrono::Duration::days(1);
    format!("{} – {}", start.format("%b %-d"), last_day.format("%b %-d"))
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
        _ if usage.served == 0 => (money(0, currency), "No requests were served: nothing to pay.".to_owned()),
        Some(tier) if tier.total_cents(u64::MAX) == Some(0) => {
            (money(0, currency), format!("{busiest}, in the free {tier_name} tier: nothing to pay."))
        }
        Some(tier) if !tier.is_custom() => {
            let total = money(tier.total_cents(usage.extra_requests).unwrap_or(0), currency);
            let explanation = format!(
                "{busiest}: the {tier_name} tier, {} a month, plus {} extra requests × {} = {total}.",
                money(tier.monthly_cents.unwrap_or(0), currency),
                thousands(usage.extra_requests),
                money(tier.extra_request_cents.unwrap_or(0), currency),
            );
            (total, explanation)
        }
        _ => ("Custom pricing".to_owned(), format!("{busiest}: the {tier_name} tier, priced by contract.")),
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

/// The month priced so far and projected to its end, with the sums in words. `missing_plan`
/// names the plan the month's tier requires when the account is not on it; a spend cap
/// (`cap_cents`) below the projection ends the month there, since calls are refused after.
pub fn price_month(
    pricing: &Pricing,
    (peak_rpm, extra): (u64, u64),
    missing_plan: Option<&str>,
    cap_cents: Option<u64>,
    (start, end, now): (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>),
) -> PricedMonth {
    let currency = pricing.currency.as_str();
    let free = pricing.free_requests_per_minute;
    let projected_extra = at_this_pace(extra, start, end, now);
    let tier = pricing.tier_for(peak_rpm);
    let mut explanation = vec![format!(
        "Your busiest minute this month had {} billed requests (calls served free, like GET /v1/limits, do not count), which puts the month in the {} tier.",
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
            let overage = money(tier.overage_cents(extra).unwrap_or(0), currency);
            let total = |extra: u64| money(tier.total_cents(extra).unwrap_or(0), currency);
            explanation.push(format!(
                "Requests above {} in a minute are extra: {} so far. At {} each that is {overage}.",
                thousands(free),
                thousands(extra),
                money(per_extra, currency),
            ));
            explanation.push(format!(
                "Month to date: {} monthly fee + {overage} overage = {}.",
                money(fee, currency),
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
            let projected_cents = tier.total_cents(projected_extra).unwrap_or(0);
            match cap_cents.filter(|cap| projected_cents > *cap) {
                Some(cap) => {
                    // The request that reaches the cap is still served: the month ends there.
                    let ends_at = money(cap.max(tier.total_cents(extra).unwrap_or(0)), currency);
                    explanation.push(format!(
                        "Your spend cap of {} stops API calls once the month's fees reach it, so the month ends at about {ends_at} instead, with calls refused after that.",
                        money(cap, currency)
                    ));
                    (total(extra), ends_at)
                }
                None => (total(extra), total(projected_extra)),
            }
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
        let month = price_month(&pricing, (23, 100), None, None, (start, end, now));
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

        // A $120 cap ends the month at $120, not $130; a $200 cap changes nothing.
        let capped = price_month(&pricing, (23, 100), None, Some(12_000), (start, end, now));
        assert_eq!((capped.month_to_date.as_str(), capped.projected_total.as_str()), ("$110.00", "$120.00"));
        assert!(capped.explanation.iter().any(|line| line.starts_with("Your spend cap of $120.00 stops")));
        let roomy = price_month(&pricing, (23, 100), None, Some(20_000), (start, end, now));
        assert_eq!(roomy, month);
    }

    #[test]
    fn a_finished_month_is_priced_from_its_busiest_minute_with_the_sum_in_words() {
        let pricing = policy::Policy::default_policy().unwrap().pricing.unwrap();
        let month = (
            Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
        );
        let paid =
            close_month(&pricing, BillingUsage { peak_rpm: 23, extra_requests: 1_250, served: 9_000 }, month);
        assert_eq!((paid.period.as_str(), paid.total.as_str()), ("Oct 1 – Oct 31", "$225.00"));
        assert_eq!(
            paid.explanation,
            "The busiest minute had 23 requests: the 11–30 requests a minute tier, $100.00 a month, plus 1,250 extra requests × $0.10 = $225.00."
        );
        let free = close_month(&pricing, BillingUsage { peak_rpm: 9, extra_requests: 0, served: 40 }, month);
        assert_eq!(free.total, "$0.00");
        assert!(free.explanation.contains("in the free 0–10 requests a minute tier"), "{}", free.explanation);
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
        let on_pro = price_month(&pricing, (168, 5_000), Some("Enterprise"), None, (start, end, now));
        assert_eq!(
            (on_pro.tier.as_str(), on_pro.projected_total.as_str()),
            ("151+ requests a minute", "Custom pricing")
        );
        assert!(
            on_pro.explanation.iter().any(|line| line.starts_with("This tier needs the Enterprise plan"))
        );
        let on_enterprise = price_month(&pricing, (168, 5_000), None, None, (start, end, now));
        assert!(on_enterprise.explanation.iter().any(|line| line.contains("your account manager")));
    }
}
