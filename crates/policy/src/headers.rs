//! Headers: which rate-limit header styles responses carry. Several may be on at once.
//!
//! - `draft7` (seed 002): `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds
//!   until the window resets). Seed 002 calls them draft-7; in the IETF drafts these three
//!   fields are -00 to -06.
//! - `x-ratelimit` (seed 001): `X-RateLimit-Limit`, `-Remaining`, `-Reset` (Unix epoch seconds),
//!   `X-RateLimit-Policy: tier=public;limit=10;window=hour` and
//!   `RateLimit-Policy: "default";q=10;w=3600` (named by `[headers] policy_name`).
//! - `ietf` (drafts -08 to -11): `RateLimit-Policy: "burst";q=100;w=60, "daily";q=1000;w=86400`
//!   (one item per bucket, named by the bucket) and `RateLimit: "burst";r=50;t=30`.
//!
//! `x-ratelimit` and `ietf` both define `RateLimit-Policy`. Their syntax is the same structured
//! list; `x-ratelimit` writes one item named `policy_name`, `ietf` one per bucket. A response
//! must not carry the field twice, so when both are on, `ietf` writes it (its list says more)
//! and `x-ratelimit` writes only its `X-` fields: see [`ratelimit_policy_style`]. This is not a
//! validation error because enabling both is a reasonable way to serve old and new clients.
//!
//! Remaining is never negative (the limiter's reports guarantee it). The fields themselves are
//! written by `crate::responses` ([`Policy::rate_limit_headers`]).

use serde::{Deserialize, Serialize};

use crate::Policy;
use crate::routes::Route;
use crate::validation::{FieldPath, Violations};

/// One family of rate-limit headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HeaderStyle {
    #[serde(rename = "draft7")]
    Draft7,
    #[serde(rename = "x-ratelimit")]
    XRateLimit,
    #[serde(rename = "ietf")]
    Ietf,
}

/// The `[headers]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Headers {
    /// Styles on every response, unless a route names its own.
    pub styles: Vec<HeaderStyle>,
    /// The item name `x-ratelimit` writes in `RateLimit-Policy` (seed 001: `default`).
    #[serde(default = "default_policy_name")]
    pub policy_name: String,
}

fn default_policy_name() -> String {
    "default".to_owned()
}

/// Which enabled style writes the `RateLimit-Policy` field: `ietf` when on, else
/// `x-ratelimit` when on, else none.
pub fn ratelimit_policy_style(styles: &[HeaderStyle]) -> Option<HeaderStyle> {
    [HeaderStyle::Ietf, HeaderStyle::XRateLimit].into_iter().find(|style| styles.contains(style))
}

fn check_styles(styles: &[HeaderStyle], path: FieldPath, out: &mut Violations) {
    for (index, style) in styles.iter().enumerate() {
        if styles[..index].contains(style) {
            out.push(path.index(index), "this header style is listed twice");
        }
    }
}

impl Policy {
    /// The header styles for a response to `route` (or to an unmatched path).
    pub fn header_styles<'a>(&'a self, route: Option<&'a Route>) -> &'a [HeaderStyle] {
        route.and_then(|route| route.headers.as_deref()).unwrap_or(&self.headers.styles)
    }

    pub(crate) fn check_headers(&self, out: &mut Violations) {
        let path = FieldPath::root().key("headers");
        check_styles(&self.headers.styles, path.key("styles"), out);
        if self.headers.policy_name.is_empty() {
            out.push(path.key("policy_name"), "cannot be empty");
        }
        for (index, route) in self.routes.iter().enumerate() {
            if let Some(styles) = &route.headers {
                let path = FieldPath::root().key("routes").index(index).key("headers");
                check_styles(styles, path, out);
            }
        }
    }
}
