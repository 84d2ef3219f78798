//! Server function for the Overview page: the plan and every bucket of the account (or of one
//! of its keys), read from the limiter store the gateway enforces against.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub plan_name: String,
    /// (id, label) of the account's keys that are not revoked or expired, for the selector; a
    /// disabled key says so.
    pub keys: Vec<(String, String)>,
    pub selected_key: Option<String>,
    /// (name, expiry) of usable keys expiring within [`crate::keys::EXPIRES_SOON_DAYS`].
    pub expiring_keys: Vec<(String, String)>,
    /// Said of each key in use that has used up its own quota: its calls get 429.
    pub spent_key_quotas: Vec<String>,
    pub gauges: Vec<GaugeView>,
    pub month: MonthView,
}

/// The account's billing month so far and where it is heading at the current rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthView {
    /// "Nov 1 – Nov 30".
    pub period: String,
    /// Admitted requests this billing month, all keys.
    pub requests_to_date: u64,
    /// Requests refused this billing month, by a limit (429) or a key's restriction (403); not
    /// in `requests_to_date`.
    pub limited_to_date: u64,
    /// Where the month ends at the pace so far: the quota's units when there is a quota (a
    /// request may cost more than one, and exempt calls cost none), else admitted requests.
    pub projected: u64,
    /// The plan's monthly quota, if it has one.
    pub quota: Option<u64>,
    /// When the quota runs out at the current rate ("Nov 27, at this rate"), if before the
    /// month ends; "Used up" once it has.
    pub runs_out_on: Option<String>,
    /// Said above the page once the quota is 80 % used, and when it is used up.
    pub quota_warning: Option<String>,
    /// The month's fees have reached the account's spend cap: API calls get 429.
    pub spend_cap_reached: bool,
    /// The month's projected bill and pricing tier, when the policy prices usage.
    pub bill: Option<BillView>,
}

/// Where the month's bill is heading, as the Billing page works it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillView {
    /// "11–30 requests a minute".
    pub tier: String,
    /// "$223.40", or "Custom pricing".
    pub projected_total: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GaugeView {
    pub name: String,
    pub window: String,
    pub limit: u64,
    pub used: u64,
    pub remaining: u64,
    pub reset_seconds: u64,
}

#[server]
pub async fn load_overview(key_id: Option<String>) -> Result<Overview, AppError> {
    use crate::auth::ssr::{internal, require_user, services};
    let user = require_user().await?;
    let account_id = user.account_id.clone().ok_or(AppError::Forbidden)?;
    let services = services()?;
    let account =
        services.accounts.account(&account_id).await.map_err(internal)?.ok_or(AppError::Forbidden)?;
    ssr::overview_for(&services, &account, key_id, Some(&user.id)).await
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use chrono::{DateTime, Utc};
    use services::Services;
    use services::accounts::Account;
    use services::gauges::{self, Subject};
    use usage::{Counts, Granularity, UsageQueries, at_this_pace, pace_per_second};

    use super::{BillView, GaugeView, MonthView, Overview};
    use crate::AppError;
    use crate::auth::ssr::internal;

    /// The account's (or one of its keys') gauges and month, as its owner sees them; `user_id`
    /// adds that user's key-management bucket. A key id not of this account shows the account.
    pub async fn overview_for(
        services: &Services,
        account: &Account,
        key_id: Option<String>,
        user_id: Option<&str>,
    ) -> Result<Overview, AppError> {
        let overrides = services.accounts.overrides(&account.id).await.map_err(internal)?;
        let now = services.clock.now();
        let usable: Vec<_> = services
            .keys
            .list(&account.id)
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|key| key.revoked_at.is_none() && key.expires_at.is_none_or(|at| at > now))
            .collect();
        let soon = now + chrono::Duration::days(crate::keys::EXPIRES_SOON_DAYS);
        // As the Keys page flags them: keys in use, so not a disabled one.
        let expiring_keys = usable
            .iter()
            .filter(|key| key.disabled_at.is_none())
            .filter_map(|key| Some((key.name.clone(), key.expires_at.filter(|at| *at <= soon)?)))
            .map(|(name, at)| (name, at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
            .collect();
        let key_quota =
            usable.iter().find(|key| key_id.as_ref() == Some(&key.id)).and_then(|key| key.restrictions.quota);
        let spent_key_quotas = spent_key_quotas(services, &usable, account.billing_anchor_day).await;
        let keys: Vec<(String, String)> = usable
            .into_iter()
            .map(|key| match key.disabled_at {
                Some(_) => (key.id, format!("{} (disabled)", key.name)),
                None => (key.id, key.name),
            })
            .collect();
        let selected_key = key_id.filter(|id| keys.iter().any(|(key, _)| key == id));
        let subject = Subject {
            account_id: &account.id,
            plan_id: &account.plan_id,
            anchor_day: account.billing_anchor_day,
            overrides: &overrides,
            key_id: selected_key.as_deref(),
            key_quota,
            user_id,
        };
        let gauges = gauges::read(services, &subject).await.map_err(internal)?;
        let monthly =
            gauges.iter().find(|gauge| gauge.name == policy::MONTHLY).map(|gauge| (gauge.used, gauge.limit));
        let month = month_view(services, account, monthly).await?;
        let policy = services.policy.get();
        let plan_name = policy
            .plan_or_default(&account.plan_id)
            .map_or(account.plan_id.clone(), |plan| plan.name.clone());
        Ok(Overview {
            plan_name,
            keys,
            selected_key,
            expiring_keys,
            spent_key_quotas,
            gauges: gauges
                .into_iter()
                .map(|g| GaugeView {
                    name: g.name,
                    window: g.window,
                    limit: g.limit,
                    used: g.used,
                    remaining: g.remaining,
                    reset_seconds: g.reset_seconds,
                })
                .collect(),
            month,
        })
    }

    /// The account's billing month so far: its bounds, now, and the usage rollups' totals up to
    /// the end of the current minute.
    pub(crate) struct MonthSoFar {
        pub start: DateTime<Utc>,
        pub end: DateTime<Utc>,
        pub now: DateTime<Utc>,
        pub counts: Counts,
    }

    pub(crate) async fn month_so_far(services: &Services, account: &Account) -> Result<MonthSoFar, AppError> {
        let now = services.clock.now();
        let (start, end) = limiter::billing_month(now, account.billing_anchor_day);
        let this_minute_end = Granularity::Minute.end_of(now);
        let counts = UsageQueries::new(services.db.clone())
            .account_totals(&account.id, start, this_minute_end)
            .await
            .map_err(internal)?;
        Ok(MonthSoFar { start, end, now, counts })
    }

    /// Month to date from the usage rollups; the quota and its use from the monthly bucket's
    /// peek (`monthly`: used, limit), the same figures the gateway enforces.
    pub async fn month_view(
        services: &Services,
        account: &Account,
        monthly: Option<(u64, u64)>,
    ) -> Result<MonthView, AppError> {
        let MonthSoFar { start, end, now, counts } = month_so_far(services, account).await?;
        let requests_to_date = counts.allowed();
        let quota_used = monthly.map(|(used, _)| used);
        let priced = crate::billing::ssr::priced_month(services, account).await?;
        let spent_cents = priced.as_ref().and_then(|(_, spent_cents)| *spent_cents);
        let bill =
            priced.map(|(priced, _)| BillView { tier: priced.tier, projected_total: priced.projected_total });
        Ok(MonthView {
            period: crate::billing::pricing::period(start, end),
            requests_to_date,
            limited_to_date: counts.limited,
            projected: at_this_pace(quota_used.unwrap_or(requests_to_date), start, end, now),
            quota: monthly.map(|(_, limit)| limit),
            runs_out_on: monthly.and_then(|(used, limit)| runs_out(used, limit, start, end, now)),
            quota_warning: monthly.and_then(|(used, limit)| quota_warning(used, limit, end)),
            spend_cap_reached: crate::billing::ssr::cap_reached(account.spend_cap_cents, spent_cents),
            bill,
        })
    }

    /// "Key “Nightly batch” has used its own quota of 5,000 requests a day: …", for each key in
    /// use whose own quota is spent. Nothing when the limiter store cannot be read: the gauges
    /// say so.
    async fn spent_key_quotas(
        services: &Services,
        usable: &[services::keys::ApiKey],
        anchor_day: u8,
    ) -> Vec<String> {
        let in_use = || usable.iter().filter(|key| key.disabled_at.is_none());
        let used = services.keys.quota_used(in_use(), anchor_day).await.unwrap_or_default();
        in_use()
            .filter_map(|key| {
                let quota = key.restrictions.quota?;
                let until = match quota.window() {
                    policy::FixedWindow::Month => "the billing month ends",
                    _ => "the day ends (00:00 UTC)",
                };
                (*used.get(&key.id)? >= quota.limit()).then(|| {
                    format!(
                        "Key “{}” has used its own quota of {}: its calls get 429 until {until}, or until you raise it.",
                        key.name,
                        quota.describe()
                    )
                })
            })
            .collect()
    }

    /// From 80 % of the quota on, how much is used and when it renews; used up, that calls are
    /// refused until then. Quota units, like the gauge.
    fn quota_warning(used: u64, limit: u64, renews: DateTime<Utc>) -> Option<String> {
        let renews = renews.format("%b %-d");
        if used >= limit {
            return Some(format!(
                "This month's quota of {} is used up: API calls get 429 until it renews on {renews}.",
                numbers::thousands(limit)
            ));
        }
        let percent = used.saturating_mul(100) / limit;
        (percent >= 80).then(|| {
            format!(
                "{percent} % of this month's quota is used ({} of {}); it renews on {renews}.",
                numbers::thousands(used),
                numbers::thousands(limit)
            )
        })
    }

    /// The day the quota's remainder is used up at this month's pace, if that is before the
    /// month ends ("Nov 26, at this rate"), or that it is ("Used up"); `None` without use or
    /// when it lasts the month.
    fn runs_out(
        used: u64,
        limit: u64,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<String> {
        if used == 0 {
            return None;
        }
        if used >= limit {
            return Some("Used up".to_owned());
        }
        let per_second = pace_per_second(used, start, now);
        let seconds_left = limit.saturating_sub(used) as f64 / per_second;
        let at = now + chrono::Duration::seconds(seconds_left.min(1e10) as i64);
        (at < end).then(|| format!("{}, at this rate", at.format("%b %-d")))
    }

    #[cfg(test)]
    mod tests {
        use chrono::TimeZone;

        use super::*;

        #[test]
        fn ten_days_into_a_thirty_day_month_finds_the_run_out_day() {
            let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
            let end = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
            let now = Utc.with_ymd_and_hms(2026, 11, 11, 0, 0, 0).unwrap();
            // 400 a day, 6,000 left: 15 more days.
            assert_eq!(runs_out(4_000, 10_000, start, end, now).as_deref(), Some("Nov 26, at this rate"));
            assert_eq!(runs_out(10_000, 10_000, start, end, now).as_deref(), Some("Used up"));
            assert_eq!(runs_out(4_000, 100_000, start, end, now), None);
            assert_eq!(runs_out(0, 10_000, start, end, now), None);
        }

        #[test]
        fn the_quota_warning_starts_at_80_percent_and_says_when_it_is_used_up() {
            let renews = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
            assert_eq!(quota_warning(7_999, 10_000, renews), None);
            assert_eq!(
                quota_warning(8_000, 10_000, renews).as_deref(),
                Some("80 % of this month's quota is used (8,000 of 10,000); it renews on Jan 1.")
            );
            let used_up =
                "This month's quota of 10,000 is used up: API calls get 429 until it renews on Jan 1.";
            assert_eq!(quota_warning(10_000, 10_000, renews).as_deref(), Some(used_up));
            assert_eq!(
                quota_warning(12_000, 10_000, renews).as_deref(),
                Some(used_up),
                "after a lower limit"
            );
            assert!(quota_warning(0, 0, renews).is_some_and(|warning| warning.contains("used up")));
        }
    }
}
