//! Charges: the limiter buckets one request consumes, from its route, its caller's plan and
//! the account's overrides.
//!
//! For an authenticated caller, in this order:
//! 1. `monthly` — the plan's `monthly_quota`, per account, a month from the account's anchor day;
//! 2. `burst` — the plan's burst, per **account**: the plan is bought per account, and a
//!    per-key burst would let a customer multiply it by creating keys;
//! 3. `daily_cap` — the `[daily_cap]` limit, per key, UTC day, on plans with `daily_cap = true`;
//! 4. `key_quota` — the key's own quota, when its owner set one ([`KeyQuota`]);
//! 5. the plan's own `buckets`, then the route's `buckets` (each once), with their own scopes.
//!
//! Steps 1–4 and the plan's own buckets apply only on `metered` routes (in the shipped files,
//! every route but key management); a path that matches no route is metered, with no route
//! buckets. An `exempt` route charges nothing.
//! An anonymous caller is charged only the public per-IP bucket, and only on a public route;
//! anywhere else it gets [`KeyRequired`]. Every bucket costs the route's `cost` per request.
//!
//! [`Overrides`] (set by admins per account, e.g. for an Enterprise contract) replace a bucket's
//! limit by name; for `monthly`, `burst` and `daily_cap` they also add the bucket when the plan
//! has none (a burst added this way is `N per second, burst N`).

use std::collections::BTreeMap;

use limiter::{BucketSpec, Scope};
use serde::{Deserialize, Serialize};

use crate::key_quota::{KEY_QUOTA, KeyQuota};
use crate::limits::{FixedWindow, Limit, Period};
use crate::plans::Plan;
use crate::routes::Route;
use crate::security::{LOGIN_ACCOUNT, LOGIN_ACCOUNT_IP, LOGIN_IP};
use crate::validation::{FieldPath, Violations};
use crate::{Policy, PolicyError};

/// The limiter name of a plan's monthly quota.
pub const MONTHLY: &str = "monthly";
/// The limiter name of a plan's burst ceiling.
pub const BURST: &str = "burst";
/// The limiter name of the daily safety cap.
pub const DAILY_CAP: &str = "daily_cap";

/// Names the policy gives its own buckets; `[buckets]` may not use them.
pub(crate) const RESERVED_NAMES: [&str; 7] =
    [MONTHLY, BURST, DAILY_CAP, KEY_QUOTA, LOGIN_ACCOUNT_IP, LOGIN_IP, LOGIN_ACCOUNT];

/// Per-account limits set by an admin: bucket name → limit (requests per the bucket's window).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Overrides(BTreeMap<String, u64>);

impl Overrides {
    pub fn new() -> Self {
        Self::default()
    }

    /// These overrides with `bucket` limited to `limit`.
    pub fn with(mut self, bucket: impl Into<String>, limit: u64) -> Self {
        self.set(bucket, limit);
        self
    }

    pub fn set(&mut self, bucket: impl Into<String>, limit: u64) {
        self.0.insert(bucket.into(), limit);
    }

    pub fn remove(&mut self, bucket: &str) -> Option<u64> {
        self.0.remove(bucket)
    }

    pub fn get(&self, bucket: &str) -> Option<u64> {
        self.0.get(bucket).copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(name, limit)| (name.as_str(), *limit))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Who is calling.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// No API key.
    Anonymous,
    /// An API key of an account on `plan`, whose billing month starts on `anchor_day`, with
    /// the key's own quota if its owner set one.
    Authenticated {
        plan: &'a Plan,
        anchor_day: u8,
        overrides: Option<&'a Overrides>,
        key_quota: Option<KeyQuota>,
    },
}

/// An anonymous request to a route that is not public (or to no route at all): answer 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this endpoint needs an API key")]
pub struct KeyRequired;

impl Policy {
    /// The buckets a request to `route` (`None`: no route matched) by `caller` consumes; each
    /// costs `route.cost` units (1 when no route matched). See the module docs for the rules.
    pub fn charges(
        &self,
        route: Option<&Route>,
        caller: &Caller<'_>,
    ) -> Result<Vec<BucketSpec>, KeyRequired> {
        let Caller::Authenticated { plan, anchor_day, overrides, key_quota } = *caller else {
            let route = route.filter(|route| route.is_public()).ok_or(KeyRequired)?;
            if route.exempt {
                return Ok(Vec::new());
            }
            return self.public_spec(route).map(|spec| vec![spec]).ok_or(KeyRequired);
        };
        if route.is_some_and(|route| route.exempt) {
            return Ok(Vec::new());
        }
        let empty = Overrides::new();
        let overrides = overrides.unwrap_or(&empty);
        let mut specs = Vec::new();
        if route.is_none_or(|route| route.metered) {
            for (name, base, added, scope) in self.plan_buckets(plan) {
                let limit = match overrides.get(name) {
                    Some(count) => Some(base.unwrap_or(added).with_count(count)),
                    None => base,
                };
                if let Some(limit) = limit {
                    specs.push(limit.spec(name, scope, anchor_day));
                }
            }
            specs.extend(key_quota.map(|quota| quota.spec(anchor_day)));
            self.push_named(&plan.buckets, overrides, anchor_day, &mut specs);
        }
        if let Some(route) = route {
            self.push_named(&route.buckets, overrides, anchor_day, &mut specs);
        }
        Ok(specs)
    }

    /// The buckets every plan has, each as (name, the plan's limit if it has one, the shape an
    /// override takes when it has none, scope).
    fn plan_buckets(&self, plan: &Plan) -> [(&'static str, Option<Limit>, Limit, Scope); 3] {
        let fixed = |limit, window| Limit::Fixed { limit, window };
        let monthly = plan.monthly_quota.map(|quota| fixed(quota, FixedWindow::Month));
        let daily = (self.daily_cap.as_ref())
            .filter(|_| plan.daily_cap)
            .map(|cap| fixed(cap.limit, FixedWindow::Day));
        let per_second = Limit::Gcra { rate: 1, per: Period::from_seconds(1), burst: 1 };
        [
            (MONTHLY, monthly, fixed(1, FixedWindow::Month), Scope::Account),
            (BURST, plan.burst, per_second, Scope::Account),
            (DAILY_CAP, daily, fixed(1, FixedWindow::Day), Scope::Key),
        ]
    }

    /// Every bucket an admin may override for an account on `plan`, with its scope and the limit
    /// it has before any override (`None`: the plan sets none): the plan's monthly quota, burst
    /// and daily cap, then the `[buckets]` counted per key or per account. Per-IP and per-user
    /// buckets are not an account's to raise.
    pub fn account_buckets(&self, plan: &Plan) -> Vec<(String, Scope, Option<Limit>)> {
        let plan_buckets =
            self.plan_buckets(plan).map(|(name, limit, _, scope)| (name.to_owned(), scope, limit));
        let named = self
            .buckets
            .iter()
            .filter(|(_, bucket)| matches!(bucket.scope, Scope::Key | Scope::Account))
            .map(|(name, bucket)| (name.clone(), bucket.scope, Some(bucket.limit)));
        plan_buckets.into_iter().chain(named).collect()
    }

    /// Appends the `[buckets]` entries named in `names` that are not charged already.
    fn push_named(
        &self,
        names: &[String],
        overrides: &Overrides,
        anchor_day: u8,
        specs: &mut Vec<BucketSpec>,
    ) {
        for name in names {
            if specs.iter().any(|spec| &spec.name == name) {
                continue;
            }
            if let Some(bucket) = self.buckets.get(name) {
                let limit = match overrides.get(name) {
                    Some(count) => bucket.limit.with_count(count),
                    None => bucket.limit,
                };
                specs.push(limit.spec(name, bucket.scope, anchor_day));
            }
        }
    }

    /// The limiter spec of the `[buckets]` entry `name` (e.g. `key_mgmt` for the dashboard's
    /// key actions).
    pub fn bucket_spec(&self, name: &str, anchor_day: u8) -> Option<BucketSpec> {
        self.buckets.get(name).map(|bucket| bucket.spec(name, anchor_day))
    }

    /// Whether the limiter bucket `name` must refuse requests when the limiter store is down:
    /// login buckets always, `[buckets]` entries when `fail_closed = true`, the rest never.
    pub fn fails_closed(&self, name: &str) -> bool {
        if [LOGIN_ACCOUNT_IP, LOGIN_IP, LOGIN_ACCOUNT].contains(&name) {
            return true;
        }
        let name = match &self.public {
            Some(public) if self.is_public_bucket(name) => public.bucket.as_str(),
            _ => name,
        };
        self.buckets.get(name).is_some_and(|bucket| bucket.fail_closed)
    }

    /// Checks an admin's overrides: each names `monthly`, `burst`, `daily_cap` or a bucket of
    /// `[buckets]` that counts an account's requests (per key or per account: not one per user
    /// or per IP, such as `key_mgmt` or the public limit, which no account owns), with a limit
    /// of at least 1 and at most what the limiter counts exactly.
    pub fn check_overrides(&self, overrides: &Overrides) -> Result<(), PolicyError> {
        let mut out = Violations::default();
        for (name, limit) in overrides.iter() {
            let path = FieldPath::root().key(name);
            let plan_bucket = [MONTHLY, BURST, DAILY_CAP].contains(&name);
            match self.buckets.get(name).map(|bucket| bucket.scope) {
                _ if plan_bucket => {}
                None => out.push(path.clone(), format!("unknown bucket `{name}`")),
                Some(Scope::Key | Scope::Account) => {}
                Some(scope) => out.push(
                    path.clone(),
                    format!("`{name}` counts per {scope}, not per account: it cannot be overridden for one account"),
                ),
            }
            if limit == 0 {
                out.push(path, "an override must be at least 1");
            } else if limit > limiter::MAX_UNITS {
                out.push(path, format!("an override must be at most {}", limiter::MAX_UNITS));
            }
        }
        out.into_result("overrides")
    }
}
