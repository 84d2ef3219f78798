//! Responses: what the gateway sends for a metered request, as plain data — the rate-limit
//! headers of every answer (admitted or refused), the 429 refusal, and the spend-cap refusal.
//!
//! # How it works
//! The gateway decides a request with the limiter, then asks the policy to render the answer:
//! [`Policy::rate_limit_headers`] for an admitted request, [`Policy::render_refusal`] for a
//! denied one (its headers already include the rate-limit headers), and
//! [`Policy::render_spend_cap_refusal`] when the account's spend cap stops a request. It copies
//! the result into its HTTP response; it never needs a header name or a body shape. A
//! [`Responder`] does the same with the caller known, so `X-RateLimit-Policy` can name the
//! caller's tier.
//!
//! Rules the seeds leave open, decided here:
//! - **Which bucket the single-bucket fields describe** ([`described_bucket`]): on an admitted
//!   request, the one with the fewest units remaining, then the one resetting last (the longer
//!   wait), then the first charged. On a refusal, the denying bucket that waits longest before
//!   it admits again (the one that decides `Retry-After`), then the same order.
//! - **Remaining** is the limiter's remaining, which is never negative, capped at the limit: a
//!   GCRA bucket whose burst exceeds its rate could otherwise say `Remaining: 10` under
//!   `Limit: 5`. Seconds are rounded up, so a client that waits them is never early.
//! - **GCRA in the IETF fields**: `q` is the rate and `w` its period (`5 per second` is
//!   `q=5;w=1`), the same numbers as `X-RateLimit-Policy`'s `window=second`; its reset is when
//!   the bucket is full again. A month has no fixed length, so its item has no `w` (the draft
//!   makes `w` optional).
//! - **The daily cap's `-Reset` header** is Unix epoch seconds, like seed 001's
//!   `X-RateLimit-Reset`, the other `-Reset` header of the same document; its 429 body says the
//!   same instant as `reset_at` in ISO 8601 with milliseconds, as the seed shows.
//! - **Names**: the per-route public bucket (`public:GET /v1/check`) is shown by its base name
//!   (`public`), in `RateLimit-Policy` items and in bodies.
//!
//! # How it fails
//! It cannot: every function is total. An empty bucket list gives no rate-limit headers; a
//! refusal for a decision without a denying bucket describes its tightest bucket. Values come
//! from a validated policy; the gateway drops a header whose value HTTP would refuse.

mod bodies;

mod limit_headers;

use std::time::{Duration, SystemTime};

use limiter::{BucketState, Decision};

use crate::Policy;
use crate::charges::{Caller, DAILY_CAP};
use crate::limits::window_seconds;
use crate::rejections::BodyStyle;
use crate::routes::Route;

/// A 429 (or any refusal) ready to send: copy `status`, every header, `Content-Type` and the
/// body. `headers` never holds `Content-Type` and never names a header twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedRefusal {
    pub status: u16,
    /// `(name, value)` pairs, names spelt as the seeds spell them.
    pub headers: Vec<(String, String)>,
    pub content_type: &'static str,
    /// JSON, compact, fields in the order the seeds show them.
    pub body: String,
}

impl RenderedRefusal {
    /// The value of the header `name` (any case), e.g. for tests and logs.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }
}

/// The value of the header `name` (any case) in a rendered header list.
pub fn header_value<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
}

/// An account stopped by its monthly spend cap: what [`Policy::render_spend_cap_refusal`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpendCapReached {
    /// The account's cap, in cents of the pricing currency.
    pub cap_cents: u64,
    /// What the account has spent so far this billing month, in cents.
    pub spent_cents: u64,
    /// When the billing month (and so the spend) starts again, if the gateway knows it; it
    /// becomes `Retry-After`.
    pub resets_at: Option<SystemTime>,
    /// The instant of the request.
    pub now: SystemTime,
}

/// Renders responses for one route, and for one caller once [`Responder::for_caller`] is set.
#[derive(Debug, Clone, Copy)]
pub struct Responder<'a> {
    policy: &'a Policy,
    route: Option<&'a Route>,
    /// `X-RateLimit-Policy`'s `tier=`: the caller's plan id, or the public tier.
    tier: Option<&'a str>,
}

impl Policy {
    /// A renderer for responses to `route` (`None`: the path matched no route).
    pub fn responder<'a>(&'a self, route: Option<&'a Route>) -> Responder<'a> {
        Responder { policy: self, route, tier: None }
    }

    /// The rate-limit headers for a response to `route` whose request the limiter reported as
    /// `buckets` at `now`, in every style in force for the route, plus the daily cap's headers.
    /// The caller is unknown here, so `X-RateLimit-Policy` names a tier only for the public
    /// bucket; use [`Responder::for_caller`] to name a plan's.
    pub fn rate_limit_headers(
        &self,
        route: Option<&Route>,
        buckets: &[BucketState<'_>],
        now: SystemTime,
    ) -> Vec<(String, String)> {
        self.responder(route).headers(buckets, now)
    }

    /// The 429 for a request the limiter denied: `Retry-After`, the rate-limit headers,
    /// `X-Upgrade-URL` when configured, and the body the refusing bucket's policy asks for.
    /// `request_id` is the gateway's id for the request (problem+json's `request_id`).
    pub fn render_refusal(
        &self,
        route: Option<&Route>,
        decision: &Decision<'_>,
        request_id: &str,
    ) -> RenderedRefusal {
        self.responder(route).refusal(decision, request_id)
    }

    /// The 429 for a request refused because its account reached its monthly spend cap: a
    /// problem+json body (code `spend_cap_exceeded`) saying the cap, the spend and how to raise
    /// it, and `Retry-After` when the gateway knows when the billing month ends. It carries no
    /// rate-limit headers: no bucket was decided (append [`Policy::rate_limit_headers`] if one was).
    pub fn render_spend_cap_refusal(&self, spend: &SpendCapReached, request_id: &str) -> RenderedRefusal {
        let mut headers = Vec::new();
        if let Some(resets_at) = spend.resets_at {
            let wait = resets_at.duration_since(spend.now).unwrap_or(Duration::ZERO);
            headers.push(("Retry-After".to_owned(), ceil_seconds(wait).max(1).to_string()));
        }
        // Like every other 429: a raised plan (or cap) is the way on.
        if let Some(url) = &self.rejection.upgrade_url {
            headers.push(("X-Upgrade-URL".to_owned(), url.clone()));
        }
        RenderedRefusal {
            status: 429,
            headers,
            content_type: bodies::PROBLEM_JSON,
            body: bodies::spend_cap(self, spend, request_id),
        }
    }

    /// The name a limiter bucket is shown by: the public bucket's base name for its per-route
    /// counters, otherwise the name itself.
    pub(crate) fn bucket_label<'a>(&'a self, name: &'a str) -> &'a str {
        match &self.public {
            Some(public) if self.is_public_bucket(name) => &public.bucket,
            _ => name,
        }
    }
}

impl<'a> Responder<'a> {
    /// The same renderer for `caller`: `X-RateLimit-Policy` then names its plan id as the tier
    /// (`[public] tier` for an anonymous caller).
    pub fn for_caller(mut self, caller: &Caller<'a>) -> Self {
        self.tier = match *caller {
            Caller::Anonymous => self.policy.public.as_ref().map(|public| public.tier.as_str()),
            Caller::Authenticated { plan, .. } => Some(plan.id.as_str()),
        };
        self
    }

    /// See [`Policy::rate_limit_headers`].
    pub fn headers(&self, buckets: &[BucketState<'_>], now: SystemTime) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(described) = described_bucket(buckets) {
            self.write_styles(described, buckets, now, &mut out);
        }
        self.write_daily_cap(buckets, &mut out);
        // Seed 001: every public-endpoint response carries the upgrade link, not only its 429,
        // and whoever calls (a key's call skips the per-address bucket, not the link).
        let public_endpoint = self.route.is_some_and(Route::is_public)
            || buckets.iter().any(|bucket| self.policy.is_public_bucket(bucket.name));
        let public_bucket =
            self.policy.public.as_ref().filter(|_| public_endpoint).map(|public| &public.bucket);
        if let Some(url) = public_bucket.and_then(|bucket| self.policy.refusal(bucket).upgrade_url) {
            out.push(("X-Upgrade-URL".to_owned(), url.to_owned()));
        }
        out
    }

    /// See [`Policy::render_refusal`].
    pub fn refusal(&self, decision: &Decision<'_>, request_id: &str) -> RenderedRefusal {
        let policy = self.policy;
        let refusing = described_bucket(&decision.buckets);
        let refusal = policy.refusal(refusing.map_or("", |bucket| bucket.name));
        let wait = decision
            .retry_after
            .or_else(|| refusing.map(|bucket| bucket.reset_after(decision.now)))
            .unwrap_or(Duration::ZERO);
        let window = refusing.and_then(|bucket| window_seconds(&bucket.window));
        let retry_after = refusal.retry_after.seconds(window, ceil_seconds(wait).max(1));

        let mut headers = vec![("Retry-After".to_owned(), retry_after.to_string())];
        headers.extend(self.headers(&decision.buckets, decision.now));
        if let Some(url) = refusal.upgrade_url
            && header_value(&headers, "X-Upgrade-URL").is_none()
        {
            headers.push(("X-Upgrade-URL".to_owned(), url.to_owned()));
        }
        let refused = bodies::Refused { refusal: &refusal, bucket: refusing, retry_after, request_id };
        let (content_type, body) = match refusal.style {
            BodyStyle::ProblemJson => (bodies::PROBLEM_JSON, bodies::problem(policy, &refused)),
            BodyStyle::Seed001Json => (bodies::JSON, bodies::seed001(policy, &refused)),
        };
        RenderedRefusal { status: 429, headers, content_type, body }
    }

    /// `X-RateLimit-Policy`'s tier: the caller's, else the public tier for the public bucket.
    fn tier_for(&self, bucket: &BucketState<'_>) -> Option<&'a str> {
        self.tier.or_else(|| {
            let public = self.policy.public.as_ref()?;
            self.policy.is_public_bucket(bucket.name).then_some(public.tier.as_str())
        })
    }
}

/// The bucket the single-bucket header fields (and a refusal's body) describe: when some
/// bucket denied, the denying one that waits longest; otherwise the one with the fewest units
/// remaining. Ties go to the bucket resetting last, then to the first charged.
pub fn described_bucket<'s, 'c>(buckets: &'s [BucketState<'c>]) -> Option<&'s BucketState<'c>> {
    let denied = buckets.iter().any(|bucket| bucket.denied);
    buckets.iter().filter(|bucket| bucket.denied == denied).min_by(|a, b| {
        let longest_wait = b.retry_after.cmp(&a.retry_after);
        let fewest = shown_remaining(a).cmp(&shown_remaining(b));
        let resetting_last = b.reset.cmp(&a.reset);
        longest_wait.then(fewest).then(resetting_last)
    })
}

/// The remaining units a header shows: never negative (the limiter's guarantee), never above
/// the limit (a GCRA burst larger than its rate).
pub(crate) fn shown_remaining(bucket: &BucketState<'_>) -> u64 {
    bucket.remaining.min(bucket.limit)
}

/// Whole seconds, rounded up.
pub(crate) fn ceil_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// Whether `bucket` is the daily safety cap of a policy that has one.
pub(crate) fn is_daily_cap(policy: &Policy, bucket: &BucketState<'_>) -> bool {
    policy.daily_cap.is_some() && bucket.name == DAILY_CAP
}
