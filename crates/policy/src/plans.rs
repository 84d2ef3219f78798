//! Plans: what an account buys (monthly quota, burst, daily cap, extra buckets, display price),
//! the defaults new accounts get, and the daily safety cap.
//!
//! Plans are listed with `[[plans]]` in display order. A plan without `monthly_quota` or
//! `burst` has no such limit ("fair use", "custom"); an admin override can still set one for an
//! account (see [`crate::Overrides`]).

use serde::{Deserialize, Serialize};

use crate::Policy;
use crate::limits::Limit;
use crate::rejections::{BodyStyle, check_placeholders};
use crate::validation::{FieldPath, Violations, check_unique};

/// The highest price a plan may have, in cents: $10,000,000 a month.
pub const MAX_PRICE_CENTS: u64 = 1_000_000_000;

/// One plan of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Stable id stored on accounts, e.g. `starter`.
    pub id: String,
    /// Display name, e.g. `Starter`.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Display price per month in cents; absent means "custom" (contact sales).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_cents: Option<u64>,
    /// Requests per billing month, counted per account from the billing anchor day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_quota: Option<u64>,
    /// The short-term ceiling, counted per account (see the crate docs for why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<Limit>,
    /// Whether the daily safety cap (`[daily_cap]`) applies to this plan's keys.
    pub daily_cap: bool,
    /// Further buckets charged on every metered request of this plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<String>,
    /// Whether customers may move their account to this plan themselves on the Plan page.
    /// `false` for a plan arranged by contract (Enterprise): only an admin assigns it.
    #[serde(default = "self_service_by_default", skip_serializing_if = "is_self_service")]
    pub self_service: bool,
}

fn self_service_by_default() -> bool {
    true
}

fn is_self_service(self_service: &bool) -> bool {
    *self_service
}

/// Defaults for accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accounts {
    /// The plan a new signup gets.
    pub default_plan: String,
    /// The day of the month (1–31) monthly quotas reset on, at 00:00 UTC, unless an account has
    /// its own. A day past a short month's end means that month's last day.
    #[serde(default = "first_of_month")]
    pub billing_anchor_day: u8,
}

fn first_of_month() -> u8 {
    1
}

/// The per-key daily safety cap (seed 001's pre-launch cap), on plans with `daily_cap = true`.
/// Its window is the UTC day and it counts per key; the file sets only the numbers and words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DailyCap {
    pub limit: u64,
    /// When set, responses carry `{prefix}-Limit`, `{prefix}-Used` and `{prefix}-Reset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_prefix: Option<String>,
    /// The 429 body when this cap denies; the global `[rejection] body` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyStyle>,
    /// The body's `error` text, e.g. "Pre-launch rate limit exceeded".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The body's `details.reason`, e.g. `prelaunch_daily_cap`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The body's `details.suggestion`, e.g. "Pre-launch keys are capped at {limit}
    /// requests/{window}. …" (placeholders: `crate::rejections`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl Policy {
    /// The plan with this id.
    pub fn plan(&self, id: &str) -> Option<&Plan> {
        self.plans.iter().find(|plan| plan.id == id)
    }

    /// Every plan, in display order.
    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }

    /// The plan new signups get (always present in a validated policy).
    pub fn default_plan(&self) -> Option<&Plan> {
        self.plan(&self.accounts.default_plan)
    }

    /// The plan with this id, or the default plan when the id is unknown (a plan an admin
    /// removed while accounts still named it).
    pub fn plan_or_default(&self, id: &str) -> Option<&Plan> {
        self.plan(id).or_else(|| self.default_plan())
    }

    pub(crate) fn check_plans(&self, out: &mut Violations) {
        let plans = FieldPath::root().key("plans");
        if self.plans.is_empty() {
            out.push(plans.clone(), "at least one plan is needed");
        }
        check_unique(
            self.plans.iter().map(|plan| plan.id.as_str()),
            "plan id",
            |index| plans.index(index).key("id"),
            out,
        );
        // Customers choose plans by name: two of one name could not be told apart.
        check_unique(
            self.plans.iter().map(|plan| plan.name.as_str()),
            "plan name",
            |index| plans.index(index).key("name"),
            out,
        );
        for (index, plan) in self.plans.iter().enumerate() {
            let path = plans.index(index);
            if plan.id.trim().is_empty() {
                out.push(path.key("id"), "a plan id cannot be empty");
            }
            match plan.monthly_quota {
                Some(0) => {
                    out.push(path.key("monthly_quota"), "must be at least 1 (leave it out for no quota)")
                }
                Some(quota) if quota > limiter::MAX_UNITS => {
                    out.push(path.key("monthly_quota"), crate::limits::too_many_units());
                }
                _ => {}
            }
            if plan.price_cents.is_some_and(|cents| cents > MAX_PRICE_CENTS) {
                let most = numbers::thousands(MAX_PRICE_CENTS / 100);
                out.push(
                    path.key("price_cents"),
                    format!("must be at most {MAX_PRICE_CENTS} (${most} a month)"),
                );
            }
            if let Some(burst) = &plan.burst {
                burst.check(&path.key("burst"), out);
                if burst.is_monthly() {
                    out.push(path.key("burst").key("window"), "a burst cannot be monthly; use monthly_quota");
                }
            }
            if plan.daily_cap && self.daily_cap.is_none() {
                out.push(
                    path.key("daily_cap"),
                    "this plan takes the daily cap, but there is no [daily_cap] section",
                );
            }
            for (n, name) in plan.buckets.iter().enumerate() {
                self.check_bucket_ref(name, path.key("buckets").index(n), out);
            }
        }
    }

    pub(crate) fn check_daily_cap(&self, out: &mut Violations) {
        let Some(cap) = &self.daily_cap else {
            return;
        };
        let path = FieldPath::root().key("daily_cap");
        if cap.limit == 0 {
            out.push(path.key("limit"), "must be at least 1");
        }
        check_placeholders(cap.message.as_deref(), path.key("message"), out);
        check_placeholders(cap.suggestion.as_deref(), path.key("suggestion"), out);
    }
}
