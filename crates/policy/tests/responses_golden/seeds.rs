//! Each seed's own examples, rendered from its own policy file and a real limiter decision.

use policy::{Caller, HeaderStyle};

use crate::{Meter, charges, minify, pairs, plan_caller, route, shipped};

/// Seed 001's daily-cap body, as the seed prints it.
const SEED_001_DAILY_CAP_BODY: &str = r#"{ "error": "Pre-launch rate limit exceeded", "code": "rate_limited", "details": { "reason": "prelaunch_daily_cap", "current_usage": 10000, "limit": 10000, "reset_at": "2026-04-21T00:00:00.000Z", "suggestion": "Pre-launch keys are capped at 10000 requests/day. Upgrade to a paid plan at https://igregulator.io/pricing for production use." }}"#;

/// Seed 001's public per-IP body, as the seed prints it.
const SEED_001_PUBLIC_BODY: &str = r#"{ "error": "Public rate limit reached (10/hour/IP).", "code": "rate_limited", "details": { "limit": 10, "window_seconds": 3600, "upgrade_url": "https://igregulator.io/pricing" }}"#;

/// Seed 002's 429 body, as the seed prints it (its request id is "req_…").
const SEED_002_BODY: &str = r#"{
  "type": "https://api.regsn.app/problems/rate_limited",
  "title": "Rate limit exceeded",
  "status": 429,
  "code": "rate_limit_exceeded",
  "detail": "Rate limit exceeded for reads bucket. Retry after 60s.",
  "request_id": "req_…"
}"#;

#[test]
fn seed_001_daily_cap_refusal_is_the_seeds_body_byte_for_byte() {
    let policy = shipped("seed-001");
    // Pro: the daily cap (10,000) bites long before the monthly quota (100,000).
    let pro = plan_caller(&policy, "pro");
    let charges = charges(&policy, "GET", "/v1/operators/acme/licences", &pro);
    let meter = Meter::starting_at("2026-04-20T12:00:00Z");
    for n in 0..10_000 {
        if n > 0 && n % 20 == 0 {
            meter.advance_seconds(1); // stay under the 20/s burst
        }
        assert!(meter.decide(&charges).is_allowed(), "request {n}");
    }
    meter.advance_seconds(1);
    let decision = meter.decide(&charges);
    assert!(!decision.is_allowed());

    let refusal = policy.responder(None).for_caller(&pro).refusal(&decision, "req_1");
    assert_eq!(refusal.status, 429);
    assert_eq!(refusal.content_type, "application/json");
    assert_eq!(refusal.body, minify(SEED_001_DAILY_CAP_BODY));
    assert_eq!(
        pairs(&refusal.headers),
        [
            // 12:08:20 to midnight: the precise reset ("retry_after = reset").
            ("Retry-After", "42700"),
            ("X-RateLimit-Limit", "10000"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "1776729600"),
            ("X-RateLimit-Policy", "tier=pro;limit=10000;window=day"),
            ("RateLimit-Policy", r#""default";q=10000;w=86400"#),
            ("X-Prelaunch-Daily-Limit", "10000"),
            ("X-Prelaunch-Daily-Used", "10000"),
            ("X-Prelaunch-Daily-Reset", "1776729600"),
            ("X-Upgrade-URL", "https://igregulator.io/pricing"),
        ]
    );
}

#[test]
fn seed_001_public_refusal_waits_for_the_top_of_the_hour_with_the_seeds_body() {
    let policy = shipped("seed-001");
    let check = route(&policy, "GET", "/v1/check");
    let charges = charges(&policy, "GET", "/v1/check", &Caller::Anonymous);
    // "A caller that burns 10 requests at 14:58 waits two minutes, not sixty." (The seed's own
    // example reset, 1776604800, is 13:20: not the top of an hour. Ours is 13:00.)
    let meter = Meter::starting_at("2026-04-19T12:58:00Z");
    for _ in 0..10 {
        assert!(meter.decide(&charges).is_allowed());
    }
    let decision = meter.decide(&charges);
    let refusal = policy.render_refusal(check, &decision, "req_1");
    assert_eq!(refusal.content_type, "application/json");
    assert_eq!(refusal.body, minify(SEED_001_PUBLIC_BODY));
    assert_eq!(
        pairs(&refusal.headers),
        [
            ("Retry-After", "120"),
            ("X-RateLimit-Limit", "10"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "1776603600"),
            ("X-RateLimit-Policy", "tier=public;limit=10;window=hour"),
            ("RateLimit-Policy", r#""default";q=10;w=3600"#),
            ("X-Upgrade-URL", "https://igregulator.io/pricing"),
        ]
    );
}

#[test]
fn seed_001_public_answers_carry_x_ratelimit_both_policy_strings_and_the_upgrade_link() {
    for name in ["seed-001", "default"] {
        let policy = shipped(name);
        let check = route(&policy, "GET", "/v1/check");
        let charges = charges(&policy, "GET", "/v1/check", &Caller::Anonymous);
        let meter = Meter::starting_at("2026-04-19T12:58:00Z");
        let decision = meter.decide_times(&charges, 3);
        let headers = policy.rate_limit_headers(check, &decision.buckets, decision.now);
        assert_eq!(
            pairs(&headers),
            [
                ("X-RateLimit-Limit", "10"),
                ("X-RateLimit-Remaining", "7"),
                ("X-RateLimit-Reset", "1776603600"),
                ("X-RateLimit-Policy", "tier=public;limit=10;window=hour"),
                ("RateLimit-Policy", r#""default";q=10;w=3600"#),
                ("X-Upgrade-URL", "https://igregulator.io/pricing"),
            ],
            "{name}"
        );
    }
}

#[test]
fn seed_002_admitted_read_carries_draft7_60_41_38() {
    let policy = shipped("seed-002");
    let usage = route(&policy, "GET", "/v1/usage");
    let charges = charges(&policy, "GET", "/v1/usage", &plan_caller(&policy, "standard"));
    let meter = Meter::starting_at("2026-04-20T09:30:22Z");
    let decision = meter.decide_times(&charges, 19);
    let headers = policy.rate_limit_headers(usage, &decision.buckets, decision.now);
    assert_eq!(
        pairs(&headers),
        [("RateLimit-Limit", "60"), ("RateLimit-Remaining", "41"), ("RateLimit-Reset", "38")]
    );
}

#[test]
fn seed_002_refusal_is_its_problem_json_with_the_full_window_as_retry_after() {
    let policy = shipped("seed-002");
    let usage = route(&policy, "GET", "/v1/usage");
    let charges = charges(&policy, "GET", "/v1/usage", &plan_caller(&policy, "standard"));
    let meter = Meter::starting_at("2026-04-20T09:30:22Z");
    for _ in 0..60 {
        assert!(meter.decide(&charges).is_allowed());
    }
    let decision = meter.decide(&charges);
    let refusal = policy.render_refusal(usage, &decision, "req_…");
    assert_eq!(refusal.status, 429);
    assert_eq!(refusal.content_type, "application/problem+json");
    assert_eq!(refusal.body, minify(SEED_002_BODY));
    // "Retry-After ... is conservative (the full window length)"; no upgrade URL configured.
    assert_eq!(
        pairs(&refusal.headers),
        [
            ("Retry-After", "60"),
            ("RateLimit-Limit", "60"),
            ("RateLimit-Remaining", "0"),
            ("RateLimit-Reset", "38"),
        ]
    );
}

#[test]
fn ietf_fields_list_every_bucket_and_describe_the_tightest() {
    let mut policy = shipped("default");
    policy.headers.styles = vec![HeaderStyle::Ietf];
    let usage = route(&policy, "GET", "/v1/usage");
    let charges = charges(&policy, "GET", "/v1/usage", &plan_caller(&policy, "starter"));
    let meter = Meter::starting_at("2026-04-20T09:30:00Z");
    let decision = meter.decide(&charges);
    let headers = policy.rate_limit_headers(usage, &decision.buckets, decision.now);
    assert_eq!(
        pairs(&headers),
        [
            // A month has no fixed length: no `w`. GCRA: q = rate, w = its period.
            (
                "RateLimit-Policy",
                r#""monthly";q=10000, "burst";q=5;w=1, "daily_cap";q=10000;w=86400, "reads";q=60;w=60"#
            ),
            // The burst has 4 of 5 left and is full again in 0.2 s, rounded up.
            ("RateLimit", r#""burst";r=4;t=1"#),
            ("X-Prelaunch-Daily-Limit", "10000"),
            ("X-Prelaunch-Daily-Used", "1"),
            ("X-Prelaunch-Daily-Reset", "1776729600"),
        ]
    );
}

#[test]
fn several_styles_at_once_write_ratelimit_policy_once() {
    use HeaderStyle::{Draft7, Ietf, XRateLimit};
    let mut policy = shipped("default");
    let starter = policy.plan("starter").unwrap().clone();
    let caller = Caller::Authenticated { plan: &starter, anchor_day: 1, overrides: None, key_quota: None };
    let charges = charges(&policy, "GET", "/v1/usage", &caller);
    let meter = Meter::starting_at("2026-04-20T09:30:00Z");
    let decision = meter.decide(&charges);

    policy.headers.styles = vec![Draft7, XRateLimit, Ietf];
    let usage = route(&policy, "GET", "/v1/usage");
    let headers = policy.responder(usage).for_caller(&caller).headers(&decision.buckets, decision.now);
    let every_bucket =
        r#""monthly";q=10000, "burst";q=5;w=1, "daily_cap";q=10000;w=86400, "reads";q=60;w=60"#;
    assert_eq!(
        pairs(&headers),
        [
            ("RateLimit-Limit", "5"),
            ("RateLimit-Remaining", "4"),
            ("RateLimit-Reset", "1"),
            ("X-RateLimit-Limit", "5"),
            ("X-RateLimit-Remaining", "4"),
            ("X-RateLimit-Reset", "1776677401"),
            ("X-RateLimit-Policy", "tier=starter;limit=5;window=second"),
            ("RateLimit-Policy", every_bucket),
            ("RateLimit", r#""burst";r=4;t=1"#),
            ("X-Prelaunch-Daily-Limit", "10000"),
            ("X-Prelaunch-Daily-Used", "1"),
            ("X-Prelaunch-Daily-Reset", "1776729600"),
        ]
    );

    // Without ietf, x-ratelimit writes RateLimit-Policy: one item named `policy_name`.
    policy.headers.styles = vec![Draft7, XRateLimit];
    let usage = route(&policy, "GET", "/v1/usage");
    let headers = policy.responder(usage).for_caller(&caller).headers(&decision.buckets, decision.now);
    let written: Vec<_> =
        pairs(&headers).into_iter().filter(|(name, _)| *name == "RateLimit-Policy").collect();
    assert_eq!(written, [("RateLimit-Policy", r#""default";q=5;w=1"#)]);
}
