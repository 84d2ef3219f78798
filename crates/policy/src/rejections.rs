//! Rejections: what a 429 looks like — its body, `Retry-After`, and the upgrade link.
//!
//! Two bodies: `problem+json` (seed 002, RFC 9457: `type`, `title`, `status`, `code`,
//! `detail`, `request_id`) and `seed001-json` (`{error, code, details{...}}`). The global style
//! is `[rejection] body`; the daily cap and the public per-IP limit may each name their own,
//! because seed 001 gives those two their own bodies. The policy only chooses; the gateway
//! renders.

use serde::{Deserialize, Serialize};

use crate::Policy;
use crate::charges::DAILY_CAP;
use crate::validation::{FieldPath, Violations};

/// The shape of a 429 body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BodyStyle {
    /// `application/problem+json` (RFC 9457), as seed 002.
    #[serde(rename = "problem+json")]
    ProblemJson,
    /// `application/json` `{error, code, details}`, as seed 001.
    #[serde(rename = "seed001-json")]
    Seed001Json,
}

impl BodyStyle {
    /// The body's `code` unless `[rejection] code` says otherwise.
    pub fn default_code(self) -> &'static str {
        match self {
            BodyStyle::ProblemJson => "rate_limit_exceeded",
            BodyStyle::Seed001Json => "rate_limited",
        }
    }
}

/// What `Retry-After` says on a 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryAfter {
    /// The full length of the denying bucket's window (seed 002: "conservative").
    Window,
    /// The seconds until the denying bucket admits again (seed 001: "waits two minutes, not
    /// sixty").
    Reset,
}

impl RetryAfter {
    /// The `Retry-After` seconds, given the denying bucket's window length (`None` for a month)
    /// and the seconds until it admits again. A month has no fixed length, so it uses the reset.
    pub fn seconds(self, window_seconds: Option<u64>, reset_seconds: u64) -> u64 {
        match (self, window_seconds) {
            (RetryAfter::Window, Some(window)) => window.max(reset_seconds),
            _ => reset_seconds,
        }
    }
}

/// The `[rejection]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    pub body: BodyStyle,
    /// problem+json: `type` is this base followed by `rate_limited`; `about:blank` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem_type_base: Option<String>,
    /// problem+json `title`; "Rate limit exceeded" when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The body's `code`; the style's own ([`BodyStyle::default_code`]) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Sent as `X-Upgrade-URL` on 429s and in seed001-json `details.upgrade_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_url: Option<String>,
    pub retry_after: RetryAfter,
}

impl Rejection {
    /// The body's `code` for a body of `style`.
    pub fn code(&self, style: BodyStyle) -> &str {
        self.code.as_deref().unwrap_or(style.default_code())
    }

    pub fn title(&self) -> &str {
        self.title.as_deref().unwrap_or("Rate limit exceeded")
    }

    /// The problem+json `type` URI.
    pub fn problem_type(&self) -> String {
        match &self.problem_type_base {
            Some(base) => format!("{base}rate_limited"),
            None => "about:blank".to_owned(),
        }
    }
}

fn check_url(url: &str, path: FieldPath, out: &mut Violations) {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        out.push(path, format!("`{url}` is not an http(s) URL"));
    }
}

impl Policy {
    /// The 429 body style when the bucket named `denied` refused the request: the daily cap's
    /// or the public limit's own style when they set one, else `[rejection] body`.
    pub fn rejection_body(&self, denied: &str) -> BodyStyle {
        let own = if denied == DAILY_CAP {
            self.daily_cap.as_ref().and_then(|cap| cap.body)
        } else if self.is_public_bucket(denied) {
            self.public.as_ref().and_then(|public| public.body)
        } else {
            None
        };
        own.unwrap_or(self.rejection.body)
    }

    pub(crate) fn check_responses(&self, out: &mut Violations) {
        self.check_headers(out);
        let path = FieldPath::root().key("rejection");
        if let Some(base) = &self.rejection.problem_type_base {
            check_url(base, path.key("problem_type_base"), out);
            if !base.ends_with('/') {
                out.push(
                    path.key("problem_type_base"),
                    "a type base ends with `/` (the type is the base + `rate_limited`)",
                );
            }
        }
        if let Some(url) = &self.rejection.upgrade_url {
            check_url(url, path.key("upgrade_url"), out);
        }
    }
}
