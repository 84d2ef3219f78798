//! Pricing: monthly fee tiers by peak requests per minute, the per-extra-request fee, and the
//! per-account spend cap. Amounts are integer cents.
//!
//! Seed 000: a minute's requests above `free_requests_per_minute` (10) are "extra". The tier is
//! chosen by the month's peak requests per minute; it sets the monthly fee and the fee per
//! extra request. The last tier has no `max_rpm`; a tier without fees is "custom pricing"
//! (the enterprise band). Tiers are listed in order and must cover 0.. without overlap or gap.

use serde::{Deserialize, Serialize};

use crate::Policy;
use crate::plans::MAX_PRICE_CENTS;
use crate::validation::{FieldPath, Violations};

/// The highest fee for one extra request, in cents ($1,000): with a tier's monthly fee at most
/// [`MAX_PRICE_CENTS`], a month's bill stays a sum people can read.
pub const MAX_EXTRA_REQUEST_CENTS: u64 = 100_000;

/// The `[pricing]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    #[serde(default = "usd")]
    pub currency: String,
    /// Requests in one minute up to this many are free; the rest are extra.
    pub free_requests_per_minute: u64,
    pub tiers: Vec<Tier>,
}

fn usd() -> String {
    "USD".to_owned()
}

/// One band of peak requests per minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub name: String,
    /// The lowest peak rpm in this tier.
    pub min_rpm: u64,
    /// The highest peak rpm in this tier (inclusive); absent for the open-ended last tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rpm: Option<u64>,
    /// Monthly fee; absent (with `extra_request_cents`) for custom pricing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_cents: Option<u64>,
    /// Fee per extra request; absent (with `monthly_cents`) for custom pricing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_request_cents: Option<u64>,
    /// A plan an account needs for this tier, e.g. `enterprise`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_plan: Option<String>,
}

impl Tier {
    /// Whether prices are negotiated (no fees in the file).
    pub fn is_custom(&self) -> bool {
        self.monthly_cents.is_none() || self.extra_request_cents.is_none()
    }

    pub fn contains(&self, rpm: u64) -> bool {
        rpm >= self.min_rpm && self.max_rpm.is_none_or(|max| rpm <= max)
    }

    /// The fee for `extra` extra requests; `None` for custom pricing.
    pub fn overage_cents(&self, extra: u64) -> Option<u64> {
        Some(self.extra_request_cents?.saturating_mul(extra))
    }

    /// Monthly fee plus the fee for `extra` extra requests; `None` for custom pricing.
    pub fn total_cents(&self, extra: u64) -> Option<u64> {
        Some(self.monthly_cents?.saturating_add(self.overage_cents(extra)?))
    }
}

impl Pricing {
    /// The tier for a month whose peak was `peak_rpm` requests in one minute.
    pub fn tier_for(&self, peak_rpm: u64) -> Option<&Tier> {
        self.tiers.iter().find(|tier| tier.contains(peak_rpm))
    }

    /// How many of `requests` made in one minute are extra (above the free allowance).
    pub fn extra_requests(&self, requests: u64) -> u64 {
        requests.saturating_sub(self.free_requests_per_minute)
    }

    /// Monthly fee plus overage for a month with this peak rpm and this many extra requests;
    /// `None` when that peak is in a custom-pricing tier.
    pub fn monthly_cost_cents(&self, peak_rpm: u64, extra: u64) -> Option<u64> {
        self.tier_for(peak_rpm)?.total_cents(extra)
    }
}

/// The `[spend_cap]` section: a monthly ceiling on an account's fees (seed 002: budget is per
/// account). When reached, requests that would add fees are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendCap {
    /// The cap new accounts get; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_cents: Option<u64>,
    /// Whether an account may set (or clear) its own cap in the dashboard.
    #[serde(default = "yes")]
    pub account_may_set: bool,
}

fn yes() -> bool {
    true
}

impl Default for SpendCap {
    fn default() -> Self {
        SpendCap { default_cents: None, account_may_set: true }
    }
}

impl Policy {
    /// The currency amounts are written in: the pricing's, or US dollars without pricing.
    pub fn currency(&self) -> &str {
        self.pricing.as_ref().map_or("USD", |pricing| pricing.currency.as_str())
    }

    pub(crate) fn check_pricing(&self, out: &mut Violations) {
        let Some(pricing) = &self.pricing else {
            return;
        };
        let tiers = FieldPath::root().key("pricing").key("tiers");
        if pricing.tiers.is_empty() {
            out.push(tiers.clone(), "at least one tier is needed");
        }
        let mut next_min = Some(0);
        for (index, tier) in pricing.tiers.iter().enumerate() {
            let path = tiers.index(index);
            let min_path = path.key("min_rpm");
            match next_min {
                Some(expected) if tier.min_rpm < expected => {
                    out.push(min_path, format!("overlaps the tier before: it should start at {expected}"))
                }
                Some(expected) if tier.min_rpm > expected => out.push(
                    min_path,
                    format!("leaves a gap: the rates {expected}..{} have no tier", tier.min_rpm),
                ),
                None => out.push(min_path, "comes after an open-ended tier (one without max_rpm)"),
                _ => {}
            }
            if let Some(max) = tier.max_rpm
                && max < tier.min_rpm
            {
                out.push(path.key("max_rpm"), "is below min_rpm");
            }
            next_min = tier.max_rpm.map(|max| max.saturating_add(1));
            if tier.monthly_cents.is_some() != tier.extra_request_cents.is_some() {
                out.push(
                    path.clone(),
                    "give both monthly_cents and extra_request_cents, or neither (custom pricing)",
                );
            }
            if tier.monthly_cents.is_some_and(|cents| cents > MAX_PRICE_CENTS) {
                let most = numbers::thousands(MAX_PRICE_CENTS / 100);
                out.push(
                    path.key("monthly_cents"),
                    format!("must be at most {MAX_PRICE_CENTS} (${most} a month)"),
                );
            }
            if tier.extra_request_cents.is_some_and(|cents| cents > MAX_EXTRA_REQUEST_CENTS) {
                let most = numbers::thousands(MAX_EXTRA_REQUEST_CENTS / 100);
                let message = format!("must be at most {MAX_EXTRA_REQUEST_CENTS} (${most} a request)");
                out.push(path.key("extra_request_cents"), message);
            }
            if let Some(plan) = &tier.requires_plan
                && self.plan(plan).is_none()
            {
                out.push(path.key("requires_plan"), format!("`{plan}` is not one of [[plans]]"));
            }
        }
        if next_min.is_some() && !pricing.tiers.is_empty() {
            let last = tiers.index(pricing.tiers.len() - 1).key("max_rpm");
            out.push(last, "leaves a gap above it: the last tier has no max_rpm, so every rate has a tier");
        }
    }
}
