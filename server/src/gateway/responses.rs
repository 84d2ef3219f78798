//! Turning the limiter's decision into the response the policy asks for: rate-limit headers
//! on admitted requests, and the 429 refusal.
//!
//! Interim: the seed 002 (`RateLimit-*`) headers and a problem+json 429 only; the full
//! rendering of every header style and body lives with the policy once it lands.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use limiter::Decision;
use policy::{Policy, Route};

use super::problems::problem;

/// Adds the rate-limit headers for the bucket closest to exhaustion.
pub fn add_limit_headers(
    _policy: &Policy,
    _route: Option<&Route>,
    decision: &Decision<'_>,
    response: &mut Response,
) {
    let Some(tightest) = decision.tightest() else {
        return;
    };
    let headers = response.headers_mut();
    let reset = tightest.reset_after(decision.now).as_secs();
    for (name, value) in [
        ("ratelimit-limit", tightest.limit),
        ("ratelimit-remaining", tightest.remaining),
        ("ratelimit-reset", reset),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
            headers.insert(name, value);
        }
    }
}

/// The 429 for a refused request.
pub fn refusal(
    policy: &Policy,
    _route: Option<&Route>,
    decision: &Decision<'_>,
    request_id: &str,
) -> Response {
    let Some(denied) = decision.denied().next() else {
        return problem(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            "rate_limit_exceeded",
            "Rate limit exceeded",
            "",
            request_id,
        );
    };
    let refusal = policy.refusal(denied.name);
    let reset = denied.retry_after.unwrap_or_default().as_secs().max(1);
    let retry_after = refusal.retry_after.seconds(policy::window_seconds(&denied.window), reset);
    let detail = format!("Rate limit exceeded for {} bucket. Retry after {retry_after}s.", denied.name);
    let mut response =
        problem(StatusCode::TOO_MANY_REQUESTS, None, refusal.code, refusal.message, &detail, request_id);
    if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
