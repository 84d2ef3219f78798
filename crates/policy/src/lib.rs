//! keystile's policy: the one TOML file that says what is limited, how, for whom, and at what
//! price — plans, buckets, routes, public per-IP limits, the daily safety cap, pricing tiers,
//! the spend cap, header styles, the 429 body and the login throttle.
//!
//! # How it works
//! A [`Policy`] is plain data (every type is `Serialize` + `Deserialize`, fields public), read
//! from TOML with [`Policy::from_toml_str`] / [`Policy::from_path`] or taken from the files
//! built into the binary ([`Policy::default_policy`], [`Policy::shipped`]), or built and edited
//! in Rust (an admin changing the plan catalogue) and checked with [`Policy::validate`].
//! It knows nothing of HTTP. The gateway asks it:
//! - [`Policy::route`]: which route a method and path match (most specific wins);
//! - [`Policy::charges`]: which `limiter::BucketSpec`s that request consumes for its caller;
//! - [`Policy::header_styles`], [`Policy::refusal`]: how to answer, and how to refuse;
//! - [`Policy::rate_limit_headers`], [`Policy::render_refusal`],
//!   [`Policy::render_spend_cap_refusal`]: that answer as headers and a body, ready to send;
//! - [`Policy::fails_closed`]: which buckets refuse when the limiter store is down.
//!
//! The dashboard reads [`Policy::plans`] and [`Pricing`] (tier for a peak rate, overage cost).
//!
//! # How it fails
//! Loading returns a [`PolicyError`]: a file that cannot be read, TOML that does not parse or
//! has the wrong shape (unknown or missing keys are refused), or a policy that parses but is
//! inconsistent — in which case every problem is listed, each as `file:line:column: field:
//! message`. Nothing panics. Lookups at request time return `Option`s; a policy that passed
//! validation always has what its routes and plans name.
//!
//! # The file
//! The shipped `policies/default.toml` is the reference, with the reasons for each choice in its
//! comments. Sections: `[accounts]`, `[buckets.NAME]`, `[[plans]]`, `[daily_cap]`, `[public]`,
//! `[[routes]]`, `[pricing]` + `[[pricing.tiers]]`, `[spend_cap]`, `[headers]`, `[rejection]`,
//! `[security]` + `[security.login]`.

mod buckets;
mod charges;
mod errors;
mod files;
mod headers;
mod key_quota;
mod limits;
mod locations;
mod plans;
mod pricing;
mod public;
mod rejections;
mod responses;
mod routes;
mod security;
mod validation;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use buckets::Bucket;
pub use charges::{BURST, Caller, DAILY_CAP, KeyRequired, MONTHLY, Overrides};
pub use errors::{Location, PolicyError, Violation};
pub use files::SHIPPED;
pub use headers::{HeaderStyle, Headers, ratelimit_policy_style};
pub use key_quota::{KEY_QUOTA, KeyQuota};
pub use limits::{FixedWindow, Limit, Period, PeriodError, window_label, window_seconds};
pub use plans::{Accounts, DailyCap, Plan};
pub use pricing::{Pricing, SpendCap, Tier};
pub use public::PublicLimits;
pub use rejections::{BodyStyle, Refusal, Rejection, RetryAfter};
pub use responses::{RenderedRefusal, Responder, SpendCapReached, described_bucket, header_value};
pub use routes::{Access, Method, PathPattern, PatternError, Route, RouteMatch};
pub use security::{LOGIN_ACCOUNT, LOGIN_ACCOUNT_IP, LOGIN_IP, LoginSpecs, LoginThrottle, Security};
pub use validation::{FieldPath, PathPart};

/// A whole policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub accounts: Accounts,
    /// Named buckets charged by routes and plans, and the public and key-management buckets.
    #[serde(default)]
    pub buckets: BTreeMap<String, Bucket>,
    /// The catalogue, in display order.
    pub plans: Vec<Plan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_cap: Option<DailyCap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<PublicLimits>,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Pricing>,
    #[serde(default)]
    pub spend_cap: SpendCap,
    pub headers: Headers,
    pub rejection: Rejection,
    pub security: Security,
}

impl Policy {
    /// The `[buckets]` entry `name`.
    pub fn bucket(&self, name: &str) -> Option<&Bucket> {
        self.buckets.get(name)
    }
}
