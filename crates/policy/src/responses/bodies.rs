//! 429 bodies: RFC 9457 problem+json (seed 002) and seed 001's `{error, code, details}`.
//!
//! Each body is a `Serialize` struct whose fields are declared in the order the seeds show
//! them, so the JSON comes out in that order whatever serde_json's features. Bodies are
//! compact JSON; the seeds' spacing is their documentation's layout, not part of the format.
//!
//! seed 001's `details` differ by bucket, as the seed's two examples do. In one fixed order,
//! each member where it applies:
//!
//! | member          | daily cap | public per-IP | any other bucket |
//! |-----------------|-----------|---------------|------------------|
//! | `reason`        | `[daily_cap] reason` | — | the bucket's name |
//! | `current_usage` | yes       | —             | yes              |
//! | `limit`         | yes       | yes           | yes              |
//! | `window_seconds`| —         | yes           | yes (not a month) |
//! | `reset_at`      | yes       | —             | yes              |
//! | `suggestion`    | `[daily_cap] suggestion` | — | —           |
//! | `upgrade_url`   | — (its suggestion has the link) | when configured | when configured |

use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, Utc};
use limiter::BucketState;
use numbers::money;
use serde::Serialize;

use super::{SpendCapReached, is_daily_cap};
use crate::Policy;
use crate::limits::window_seconds;
use crate::rejections::{Refusal, fill_placeholders};

pub(super) const PROBLEM_JSON: &str = "application/problem+json";
pub(super) const JSON: &str = "application/json";

/// What a rate-limit refusal body is made of.
pub(super) struct Refused<'r, 'b, 'c> {
    pub refusal: &'r Refusal<'r>,
    /// The refusing bucket (absent only for a decision without buckets).
    pub bucket: Option<&'b BucketState<'c>>,
    /// The `Retry-After` seconds, repeated in problem+json's `detail`.
    pub retry_after: u64,
    pub request_id: &'r str,
}

/// RFC 9457 members in seed 002's order.
#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: &'a str,
    request_id: &'a str,
}

#[derive(Serialize)]
struct Seed001<'a> {
    error: &'a str,
    code: &'a str,
    details: Details<'a>,
}

#[derive(Serialize, Default)]
struct Details<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_usage: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    window_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reset_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suggestion: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upgrade_url: Option<&'a str>,
}

/// Compact JSON. These bodies hold only strings and integers, which always serialize.
fn to_json(body: &impl Serialize) -> String {
    serde_json::to_string(body).unwrap_or_default()
}

/// seed 002: `detail` is "Rate limit exceeded for reads bucket. Retry after 60s.", followed by
/// the bucket's suggestion when the policy gives one (the daily cap's).
pub(super) fn problem(policy: &Policy, refused: &Refused<'_, '_, '_>) -> String {
    let refusal = refused.refusal;
    let mut detail = match refused.bucket {
        Some(bucket) => format!("Rate limit exceeded for {} bucket.", policy.bucket_label(bucket.name)),
        None => "Rate limit exceeded.".to_owned(),
    };
    detail.push_str(&format!(" Retry after {}s.", refused.retry_after));
    if let Some(suggestion) = refusal.suggestion {
        detail.push(' ');
        detail.push_str(&fill_placeholders(suggestion, refused.bucket));
    }
    to_json(&Problem {
        kind: &refusal.problem_type,
        title: &fill_placeholders(refusal.message, refused.bucket),
        status: 429,
        code: refusal.code,
        detail: &detail,
        request_id: refused.request_id,
    })
}

/// seed 001: `{"error": …, "code": "rate_limited", "details": {…}}`, details per the table in
/// the module docs.
pub(super) fn seed001(policy: &Policy, refused: &Refused<'_, '_, '_>) -> String {
    let refusal = refused.refusal;
    let upgrade_url = refusal.upgrade_url;
    let suggestion = refusal.suggestion.map(|text| fill_placeholders(text, refused.bucket));
    let details = match refused.bucket {
        None => Details { upgrade_url, ..Details::default() },
        Some(bucket) if is_daily_cap(policy, bucket) => Details {
            reason: refusal.reason,
            current_usage: Some(bucket.used),
            limit: Some(bucket.limit),
            reset_at: Some(iso_millis(bucket.reset)),
            suggestion: suggestion.as_deref(),
            ..Details::default()
        },
        Some(bucket) if policy.is_public_bucket(bucket.name) => Details {
            limit: Some(bucket.limit),
            window_seconds: window_seconds(&bucket.window),
            upgrade_url,
            ..Details::default()
        },
        Some(bucket) => Details {
            reason: Some(policy.bucket_label(bucket.name)),
            current_usage: Some(bucket.used),
            limit: Some(bucket.limit),
            window_seconds: window_seconds(&bucket.window),
            reset_at: Some(iso_millis(bucket.reset)),
            suggestion: None,
            upgrade_url,
        },
    };
    let error = fill_placeholders(refusal.message, refused.bucket);
    to_json(&Seed001 { error: &error, code: refusal.code, details })
}

/// The spend-cap problem: type `{problem_type_base}spend_cap_exceeded` (`about:blank` without
/// a base), and a `detail` with the cap, the spend, and who can raise the cap.
pub(super) fn spend_cap(policy: &Policy, spend: &SpendCapReached, request_id: &str) -> String {
    const CODE: &str = "spend_cap_exceeded";
    let kind = match &policy.rejection.problem_type_base {
        Some(base) => format!("{base}{CODE}"),
        None => "about:blank".to_owned(),
    };
    let currency = policy.currency();
    let mut detail = format!(
        "This account has reached its monthly spend cap of {} ({} spent this billing month).",
        money(spend.cap_cents, currency),
        money(spend.spent_cents, currency),
    );
    detail.push_str(if policy.spend_cap.account_may_set {
        " Raise or remove the cap in the dashboard to continue."
    } else {
        " Ask the API operator to raise it to continue."
    });
    if let Some(resets_at) = spend.resets_at {
        let date = DateTime::<Utc>::from(resets_at).to_rfc3339_opts(SecondsFormat::Secs, true);
        detail.push_str(&format!(" Spending counts from zero again at {date}."));
    }
    to_json(&Problem {
        kind: &kind,
        title: "Spend cap reached",
        status: 429,
        code: CODE,
        detail: &detail,
        request_id,
    })
}

/// seed 001's `reset_at`: `2026-04-21T00:00:00.000Z`.
fn iso_millis(at: SystemTime) -> String {
    DateTime::<Utc>::from(at).to_rfc3339_opts(SecondsFormat::Millis, true)
}
