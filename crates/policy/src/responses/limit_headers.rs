//! The rate-limit header fields of each style (see `crate::headers` for the styles), and the
//! daily cap's own fields.
//!
//! Per style, in the order the route's styles are listed:
//! - `draft7`: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds);
//! - `x-ratelimit`: `X-RateLimit-Limit`, `-Remaining`, `-Reset` (epoch seconds),
//!   `X-RateLimit-Policy: tier=…;limit=…;window=…`, and `RateLimit-Policy: "default";q=…;w=…`
//!   unless `ietf` writes that field;
//! - `ietf`: `RateLimit-Policy` (one item per bucket, in charge order) and `RateLimit` (the
//!   described bucket).
//!
//! Then, when the daily cap was charged and has a `header_prefix`: `{prefix}-Limit`,
//! `{prefix}-Used` and `{prefix}-Reset` (epoch seconds).

use std::time::SystemTime;

use limiter::BucketState;

use super::{Responder, ceil_seconds, is_daily_cap, shown_remaining};
use crate::headers::{HeaderStyle, ratelimit_policy_style};
use crate::limits::{window_label, window_seconds};

type Out = Vec<(String, String)>;

fn push(out: &mut Out, name: &str, value: impl ToString) {
    out.push((name.to_owned(), value.to_string()));
}

impl Responder<'_> {
    pub(super) fn write_styles(
        &self,
        described: &BucketState<'_>,
        buckets: &[BucketState<'_>],
        now: SystemTime,
        out: &mut Out,
    ) {
        let styles = self.policy.header_styles(self.route);
        let policy_writer = ratelimit_policy_style(styles);
        let limit = described.limit;
        let remaining = shown_remaining(described);
        let reset_seconds = ceil_seconds(described.reset_after(now));
        for style in styles {
            match style {
                HeaderStyle::Draft7 => {
                    push(out, "RateLimit-Limit", limit);
                    push(out, "RateLimit-Remaining", remaining);
                    push(out, "RateLimit-Reset", reset_seconds);
                }
                HeaderStyle::XRateLimit => {
                    push(out, "X-RateLimit-Limit", limit);
                    push(out, "X-RateLimit-Remaining", remaining);
                    push(out, "X-RateLimit-Reset", described.reset_epoch_seconds());
                    push(out, "X-RateLimit-Policy", self.human_policy(described));
                    if policy_writer == Some(HeaderStyle::XRateLimit) {
                        let item = policy_item(&self.policy.headers.policy_name, described);
                        push(out, "RateLimit-Policy", item);
                    }
                }
                HeaderStyle::Ietf => {
                    let items: Vec<String> = buckets
                        .iter()
                        .map(|bucket| policy_item(self.policy.bucket_label(bucket.name), bucket))
                        .collect();
                    push(out, "RateLimit-Policy", items.join(", "));
                    let name = sf_string(self.policy.bucket_label(described.name));
                    push(out, "RateLimit", format!("{name};r={remaining};t={reset_seconds}"));
                }
            }
        }
    }

    pub(super) fn write_daily_cap(&self, buckets: &[BucketState<'_>], out: &mut Out) {
        let prefix = self.policy.daily_cap.as_ref().and_then(|cap| cap.header_prefix.as_deref());
        let daily = buckets.iter().find(|bucket| is_daily_cap(self.policy, bucket));
        if let (Some(prefix), Some(daily)) = (prefix, daily) {
            push(out, &format!("{prefix}-Limit"), daily.limit);
            push(out, &format!("{prefix}-Used"), daily.used);
            push(out, &format!("{prefix}-Reset"), daily.reset_epoch_seconds());
        }
    }

    /// `X-RateLimit-Policy`: `tier=public;limit=10;window=hour`, without `tier=` when the
    /// caller is unknown and the bucket is not the public one.
    fn human_policy(&self, bucket: &BucketState<'_>) -> String {
        let rest = format!("limit={};window={}", bucket.limit, window_label(&bucket.window));
        match self.tier_for(bucket) {
            Some(tier) => format!("tier={tier};{rest}"),
            None => rest,
        }
    }
}

/// One `RateLimit-Policy` item: `"name";q=10;w=3600` (no `w` for a month).
fn policy_item(name: &str, bucket: &BucketState<'_>) -> String {
    let mut item = format!("{};q={}", sf_string(name), bucket.limit);
    if let Some(window) = window_seconds(&bucket.window) {
        item.push_str(&format!(";w={window}"));
    }
    item
}

/// A structured-field string (RFC 8941 §3.3.3): quoted, `"` and `\` escaped; characters it
/// cannot hold (outside printable ASCII) become `?`.
fn sf_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            ' '..='~' => quoted.push(c),
            _ => quoted.push('?'),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::sf_string;

    #[test]
    fn structured_field_strings_escape_quotes_and_drop_what_they_cannot_hold() {
        assert_eq!(sf_string("burst"), r#""burst""#);
        assert_eq!(sf_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(sf_string("día\n"), r#""d?a?""#);
    }
}
