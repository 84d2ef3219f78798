//! Rejections: what a 429 looks like — its body, `Retry-After`, and the upgrade link.
//!
//! Two bodies: `problem+json` (seed 002, RFC 9457: `type`, `title`, `status`, `code`,
//! `detail`, `request_id`) and `seed001-json` (`{error, code, details{...}}`). The global style
//! is `[rejection] body`; the daily cap and the public per-IP limit may each name their own,
//! because seed 001 gives those two their own bodies. This module chooses; `crate::responses`
//! renders the 429 ([`Policy::render_refusal`]).
//!
//! The words of a 429 (`title`, `message`, `suggestion`) may hold `{limit}` and `{window}`,
//! filled from the refusing bucket at each refusal, so they follow the limit in force, an
//! admin's edit included: "Public rate limit reached ({limit}/{window}/IP)." reads "(10/hour/IP)".

use std::borrow::Cow;

use limiter::BucketState;
use serde::{Deserialize, Serialize};

use crate::Policy;
use crate::charges::DAILY_CAP;
use crate::limits::window_label;
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
    /// The body's `code` for a body of `style`: `code` applies to bodies of `[rejection] body`'s
    /// style; another style (the daily cap's or the public limit's own) keeps its default.
    pub fn code(&self, style: BodyStyle) -> &str {
        match &self.code {
            Some(code) if style == self.body => code,
            _ => style.default_code(),
        }
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

/// Everything the gateway needs to write the 429 for one denying bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal<'a> {
    pub style: BodyStyle,
    /// The body's `code`.
    pub code: &'a str,
    /// problem+json `title`, seed001-json `error`: the daily cap's or the public limit's own
    /// `message` when they set one, else `[rejection] title`.
    pub message: &'a str,
    /// seed001-json `details.reason` (the daily cap's `reason`).
    pub reason: Option<&'a str>,
    /// seed001-json `details.suggestion` (the daily cap's `suggestion`).
    pub suggestion: Option<&'a str>,
    /// problem+json `type`.
    pub problem_type: String,
    /// `X-Upgrade-URL` and seed001-json `details.upgrade_url`.
    pub upgrade_url: Option<&'a str>,
    pub retry_after: RetryAfter,
}

/// `text` with `{limit}` and `{window}` filled from the refusing bucket (see the module docs).
pub(crate) fn fill_placeholders<'t>(text: &'t str, bucket: Option<&BucketState<'_>>) -> Cow<'t, str> {
    match bucket {
        Some(bucket) if text.contains('{') => Cow::Owned(
            text.replace("{limit}", &bucket.limit.to_string())
                .replace("{window}", &window_label(&bucket.window)),
        ),
        _ => Cow::Borrowed(text),
    }
}

/// Refuses braces other than the two placeholders, so a typo such as `{limt}` is not sent.
pub(crate) fn check_placeholders(text: Option<&str>, path: FieldPath, out: &mut Violations) {
    let Some(text) = text else {
        return;
    };
    if text.replace("{limit}", "").replace("{window}", "").contains(['{', '}']) {
        out.push(path, "the only placeholders are `{limit}` and `{window}`");
    }
}

fn check_url(url: &str, path: FieldPath, out: &mut Violations) {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        out.push(path, format!("`{url}` is not an http(s) URL"));
    }
}

impl Policy {
    /// How to refuse a request the limiter bucket named `denied` turned down. The daily cap
    /// and the public per-IP limit use their own body style and words when they set them
    /// (seed 001 gives each its own body); every other bucket uses `[rejection]`.
    pub fn refusal(&self, denied: &str) -> Refusal<'_> {
        let rejection = &self.rejection;
        let (style, message, reason, suggestion) = match (&self.daily_cap, &self.public) {
            (Some(cap), _) if denied == DAILY_CAP => {
                (cap.body, cap.message.as_deref(), cap.reason.as_deref(), cap.suggestion.as_deref())
            }
            (_, Some(public)) if self.is_public_bucket(denied) => {
                (public.body, public.message.as_deref(), None, None)
            }
            _ => (None, None, None, None),
        };
        let style = style.unwrap_or(rejection.body);
        Refusal {
            style,
            code: rejection.code(style),
            message: message.unwrap_or(rejection.title()),
            reason,
            suggestion,
            problem_type: rejection.problem_type(),
            upgrade_url: rejection.upgrade_url.as_deref(),
            retry_after: rejection.retry_after,
        }
    }

    pub(crate) fn check_responses(&self, out: &mut Violations) {
        self.check_headers(out);
        let path = FieldPath::root().key("rejection");
        check_placeholders(self.rejection.title.as_deref(), path.key("title"), out);
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
