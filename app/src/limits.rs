//! Server functions of the operator console's Limits and pricing page: every bucket of the
//! policy with its limit, the routes that charge them, and the pricing tiers. Admins change a
//! bucket's limit or a tier's fees; support only reads. Each change is audited by the service.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;
#[cfg(feature = "ssr")]
use crate::admin::whole_number;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsAndPricing {
    /// Whether the viewer may change things (admins) or only look (support).
    pub can_change: bool,
    pub buckets: Vec<BucketLimit>,
    pub routes: Vec<RouteRow>,
    pub pricing: Option<PricingView>,
}

/// One bucket of the policy's `[buckets]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketLimit {
    pub name: String,
    pub description: Option<String>,
    /// Whose requests it counts: key, account, user or ip.
    pub scope: String,
    /// The limit in words: "60 per minute", "5 per second, burst 5".
    pub summary: String,
    /// `limit` of a fixed window, `rate` of a GCRA bucket.
    pub count: u64,
    /// A fixed window's name (second … month); `None` for GCRA.
    pub window: Option<String>,
    /// A GCRA bucket's burst.
    pub burst: Option<u32>,
    /// Refuses when the limiter store is unreachable.
    pub fail_closed: bool,
}

/// A route of the policy and what it charges, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRow {
    pub method: String,
    pub path: String,
    pub charges: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricingView {
    pub currency: String,
    pub free_requests_per_minute: u64,
    pub tiers: Vec<TierRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierRow {
    pub name: String,
    /// Its band of peak requests per minute: "0–10", "1,001 and up".
    pub band: String,
    pub monthly_cents: Option<u64>,
    pub extra_request_cents: Option<u64>,
}

/// The fixed windows an admin can choose for a fixed-window bucket, in order.
pub const WINDOWS: [&str; 5] = ["second", "minute", "hour", "day", "month"];

#[server]
pub async fn load_limits() -> Result<LimitsAndPricing, AppError> {
    use crate::auth::ssr::{require_operator, services};
    let operator = require_operator().await?;
    let policy = services()?.policy.get();
    Ok(LimitsAndPricing {
        can_change: operator.role == services::accounts::Role::Admin,
        buckets: policy.buckets.iter().map(|(name, bucket)| ssr::bucket_limit(name, bucket)).collect(),
        routes: policy.routes.iter().map(|route| ssr::route_row(&policy, route)).collect(),
        pricing: policy.pricing.as_ref().map(ssr::pricing_view),
    })
}

/// A bucket's limit as its form posts it: a fixed-window bucket's form has `window`, a GCRA
/// bucket's has `burst`; an absent or empty one keeps what the bucket has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketLimitForm {
    pub count: String,
    #[serde(default)]
    pub window: Option<String>,
    #[serde(default)]
    pub burst: Option<String>,
}

/// Changes one bucket's limit: `count` requests per `window` for a fixed window, or `count`
/// per period with `burst` at once for a GCRA bucket (its period stays).
#[server]
pub async fn edit_bucket_limit(
    bucket: String,
    #[server(flatten)] form: BucketLimitForm,
) -> Result<(), AppError> {
    let BucketLimitForm { count, window, burst } = form;
    use crate::auth::ssr::{require_operator, services};
    let operator = require_operator().await?;
    let services = services()?;
    let current = services.policy.get();
    let found = current
        .bucket(&bucket)
        .ok_or_else(|| AppError::Invalid(format!("There is no bucket named {bucket}.")))?;
    let count = whole_number(&count, "The limit")?
        .ok_or_else(|| AppError::Invalid("Give the limit as a whole number.".into()))?;
    let limit = match found.limit {
        policy::Limit::Fixed { window: current_window, .. } => {
            let window = match window.as_deref().map(str::trim) {
                None | Some("") => current_window,
                Some(name) => ssr::fixed_window(name)?,
            };
            policy::Limit::Fixed { limit: count, window }
        }
        policy::Limit::Gcra { per, burst: current_burst, .. } => {
            let burst = match whole_number(burst.as_deref().unwrap_or(""), "The burst")? {
                Some(burst) => {
                    u32::try_from(burst).map_err(|_| AppError::Invalid("The burst is too large.".into()))?
                }
                None => current_burst,
            };
            policy::Limit::Gcra { rate: count, per, burst }
        }
    };
    services.catalogue.edit_bucket(&operator, &bucket, limit).await.map_err(crate::admin::admin_error)
}

/// Changes one pricing tier's fees, in cents; both empty means custom pricing.
#[server]
pub async fn edit_tier_fees(
    tier: String,
    monthly_cents: String,
    extra_request_cents: String,
) -> Result<(), AppError> {
    use crate::auth::ssr::{require_operator, services};
    let operator = require_operator().await?;
    let fees = services::catalogue::TierFees {
        monthly_cents: whole_number(&monthly_cents, "The monthly fee")?,
        extra_request_cents: whole_number(&extra_request_cents, "The fee per extra request")?,
    };
    services()?.catalogue.edit_tier(&operator, &tier, fees).await.map_err(crate::admin::admin_error)
}

/// Changes how many requests in one minute are free before the rest count as extra.
#[server]
pub async fn edit_free_requests(free_requests_per_minute: String) -> Result<(), AppError> {
    use crate::auth::ssr::{require_operator, services};
    let operator = require_operator().await?;
    let free = whole_number(&free_requests_per_minute, "The free requests a minute")?
        .ok_or_else(|| AppError::Invalid("Give the free requests a minute as a whole number.".into()))?;
    services()?.catalogue.edit_free_requests(&operator, free).await.map_err(crate::admin::admin_error)
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use policy::{Bucket, FixedWindow, Limit, Policy, Pricing, Route};

    use super::{BucketLimit, PricingView, RouteRow, TierRow};
    use crate::AppError;

    pub fn fixed_window(name: &str) -> Result<FixedWindow, AppError> {
        match name {
            "second" => Ok(FixedWindow::Second),
            "minute" => Ok(FixedWindow::Minute),
            "hour" => Ok(FixedWindow::Hour),
            "day" => Ok(FixedWindow::Day),
            "month" => Ok(FixedWindow::Month),
            _ => Err(AppError::Invalid("The window is second, minute, hour, day or month.".into())),
        }
    }

    pub fn bucket_limit(name: &str, bucket: &Bucket) -> BucketLimit {
        let (window, burst) = match bucket.limit {
            Limit::Fixed { window, .. } => (Some(window.as_str().to_owned()), None),
            Limit::Gcra { burst, .. } => (None, Some(burst)),
        };
        BucketLimit {
            name: name.to_owned(),
            description: bucket.description.clone(),
            scope: bucket.scope.as_str().to_owned(),
            summary: bucket.limit.describe(),
            count: bucket.limit.count(),
            window,
            burst,
            fail_closed: bucket.fail_closed,
        }
    }

    pub fn route_row(policy: &Policy, route: &Route) -> RouteRow {
        let mut charges = Vec::new();
        if route.exempt {
            charges.push("nothing (exempt)".to_owned());
        } else {
            if route.metered {
                charges.push("the plan's buckets".to_owned());
            }
            charges.extend(route.buckets.iter().cloned());
            if route.cost != 1 {
                charges.push(format!("{} units a call", route.cost));
            }
        }
        let mut charges = charges.join(", ");
        if route.is_public()
            && let Some(public) = &policy.public
        {
            charges = format!("{} per IP without a key; with a key, {charges}", public.bucket);
        }
        RouteRow { method: route.method.as_str().to_owned(), path: route.path.to_string(), charges }
    }

    pub fn pricing_view(pricing: &Pricing) -> PricingView {
        let tiers = pricing
            .tiers
            .iter()
            .map(|tier| TierRow {
                name: tier.name.clone(),
                band: match tier.max_rpm {
                    Some(max) => format!("{}–{}", numbers::thousands(tier.min_rpm), numbers::thousands(max)),
                    None => format!("{} and up", numbers::thousands(tier.min_rpm)),
                },
                monthly_cents: tier.monthly_cents,
                extra_request_cents: tier.extra_request_cents,
            })
            .collect();
        PricingView {
            currency: pricing.currency.clone(),
            free_requests_per_minute: pricing.free_requests_per_minute,
            tiers,
        }
    }
}
