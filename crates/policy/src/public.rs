//! Public limits: the per-IP ceiling for anonymous callers of `access = "public"` routes
//! (seed 001: 10 requests per IP per clock-aligned UTC hour). Callers with a key skip it.
//!
//! Seed 001 lists the limit once per endpoint and says `X-RateLimit-Limit` is the ceiling "on
//! this endpoint", so by default (`per_route = true`) each public route counts separately:
//! the limiter bucket is named `{bucket}:{METHOD} {pattern}`. With `per_route = false` all
//! public routes share one counter per IP, named `{bucket}`.

use limiter::{BucketSpec, Scope};
use serde::{Deserialize, Serialize};

use crate::Policy;
use crate::rejections::{BodyStyle, check_placeholders};
use crate::routes::Route;
use crate::validation::{FieldPath, Violations};

/// The `[public]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicLimits {
    /// The bucket in `[buckets]` anonymous calls are charged; its scope must be `ip`.
    pub bucket: String,
    /// Whether each public route counts separately (see the module docs).
    #[serde(default = "yes")]
    pub per_route: bool,
    /// The `tier=` of `X-RateLimit-Policy` for anonymous callers (a caller with a key is in
    /// the tier of its plan id).
    #[serde(default = "public_tier")]
    pub tier: String,
    /// The 429 body when this limit denies; `[rejection] body` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyStyle>,
    /// The 429 body's `error` text, e.g. "Public rate limit reached ({limit}/{window}/IP)."
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn yes() -> bool {
    true
}

fn public_tier() -> String {
    "public".to_owned()
}

impl Policy {
    /// The per-IP bucket an anonymous call to `route` is charged.
    pub fn public_spec(&self, route: &Route) -> Option<BucketSpec> {
        let public = self.public.as_ref()?;
        let bucket = self.buckets.get(&public.bucket)?;
        let name =
            if public.per_route { format!("{}:{route}", public.bucket) } else { public.bucket.clone() };
        Some(bucket.spec(&name, self.accounts.billing_anchor_day))
    }

    /// Whether a limiter bucket name is the public per-IP bucket (shared or per route).
    pub fn is_public_bucket(&self, name: &str) -> bool {
        self.public.as_ref().is_some_and(|public| {
            name.strip_prefix(public.bucket.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(':'))
        })
    }

    pub(crate) fn check_public(&self, out: &mut Violations) {
        let Some(public) = &self.public else {
            return;
        };
        check_placeholders(public.message.as_deref(), FieldPath::root().key("public").key("message"), out);
        let path = FieldPath::root().key("public").key("bucket");
        self.check_bucket_ref(&public.bucket, path.clone(), out);
        if let Some(bucket) = self.buckets.get(&public.bucket)
            && bucket.scope != Scope::Ip
        {
            out.push(
                path,
                format!(
                    "the public bucket `{}` must count per IP (scope = \"ip\"), not per {}",
                    public.bucket, bucket.scope
                ),
            );
        }
    }
}
