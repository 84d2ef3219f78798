//! The rules the seeds leave open: which bucket is described, remaining never negative, the
//! upgrade link only when configured, bodies for other buckets, the spend cap.

use chrono::Duration;
use limiter::Window;
use policy::{BodyStyle, FixedWindow, Limit, SpendCapReached, described_bucket, header_value};

use crate::{
    Meter, charges, decision, instant, pairs, plan_caller, refusing, resetting, route, shipped, state,
};

#[test]
fn headers_describe_the_fewest_remaining_then_the_one_resetting_last() {
    let now = instant("2026-04-20T09:30:00Z");
    let buckets = [
        resetting(state("reads", Window::Minute, 60, 57, now), now, 30),
        resetting(state("scans", Window::Hour, 6, 3, now), now, 1_800),
        resetting(state("exports", Window::Hour, 30, 27, now), now, 1_800),
    ];
    // reads and scans both have 3 left; scans resets later. exports ties scans: first wins.
    assert_eq!(described_bucket(&buckets).unwrap().name, "scans");
    assert_eq!(described_bucket(&buckets[..1]).unwrap().name, "reads");
    assert!(described_bucket(&[]).is_none());
}

#[test]
fn a_refusal_describes_the_denying_bucket_that_waits_longest() {
    let policy = shipped("seed-001");
    let now = instant("2026-04-20T12:00:00Z");
    let burst = Window::Gcra { period: Duration::seconds(1), burst: 5 };
    // A Starter key at 10,000 calls on the first day: the monthly quota and the daily cap both
    // refuse, the burst has 1 left. The month waits longest.
    let buckets = vec![
        refusing(
            resetting(state("monthly", Window::Month { anchor_day: 1 }, 10_000, 10_000, now), now, 907_200),
            now,
        ),
        resetting(state("burst", burst, 5, 4, now), now, 1),
        refusing(resetting(state("daily_cap", Window::Day, 10_000, 10_000, now), now, 43_200), now),
    ];
    let refusal = policy.render_refusal(None, &decision(now, buckets), "req_1");
    assert_eq!(
        refusal.body,
        r#"{"error":"Rate limit exceeded","code":"rate_limited","details":{"reason":"monthly","current_usage":10000,"limit":10000,"reset_at":"2026-05-01T00:00:00.000Z","upgrade_url":"https://igregulator.io/pricing"}}"#
    );
    assert_eq!(
        pairs(&refusal.headers),
        [
            ("Retry-After", "907200"),
            ("X-RateLimit-Limit", "10000"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "1777593600"),
            // The caller is unknown to the shorthand: no tier. A month has no `w`.
            ("X-RateLimit-Policy", "limit=10000;window=month"),
            ("RateLimit-Policy", r#""default";q=10000"#),
            ("X-Prelaunch-Daily-Limit", "10000"),
            ("X-Prelaunch-Daily-Used", "10000"),
            ("X-Prelaunch-Daily-Reset", "1776729600"),
            ("X-Upgrade-URL", "https://igregulator.io/pricing"),
        ]
    );
}

#[test]
fn remaining_is_never_negative_after_a_limit_is_lowered() {
    let mut policy = shipped("seed-002");
    let standard = plan_caller(&policy, "standard");
    let meter = Meter::starting_at("2026-04-20T09:30:22Z");
    let before = charges(&policy, "GET", "/v1/usage", &standard);
    for _ in 0..50 {
        assert!(meter.decide(&before).is_allowed());
    }
    let reads = policy.buckets.get_mut("reads").unwrap();
    reads.limit = Limit::Fixed { limit: 10, window: FixedWindow::Minute };
    let standard = plan_caller(&policy, "standard");
    let after = charges(&policy, "GET", "/v1/usage", &standard);
    let decision = meter.decide(&after);
    assert!(!decision.is_allowed());
    let refusal = policy.render_refusal(route(&policy, "GET", "/v1/usage"), &decision, "req_1");
    assert_eq!(header_value(&refusal.headers, "ratelimit-limit"), Some("10"));
    assert_eq!(refusal.header("RateLimit-Remaining"), Some("0"));

    // A GCRA burst larger than its rate never shows more remaining than its limit.
    let now = instant("2026-04-20T09:30:00Z");
    let mut roomy = state("burst", Window::Gcra { period: Duration::seconds(1), burst: 10 }, 5, 0, now);
    roomy.remaining = 10;
    let headers = policy.rate_limit_headers(None, &[roomy], now);
    assert_eq!(header_value(&headers, "RateLimit-Remaining"), Some("5"));
}

#[test]
fn the_upgrade_url_is_sent_only_when_configured() {
    let now = instant("2026-04-19T12:58:00Z");
    let public =
        || vec![refusing(resetting(state("public:GET /v1/check", Window::Hour, 10, 10, now), now, 120), now)];

    let mut policy = shipped("seed-001");
    let check = route(&policy, "GET", "/v1/check").cloned();
    let with = policy.render_refusal(check.as_ref(), &decision(now, public()), "req_1");
    assert_eq!(with.header("X-Upgrade-URL"), Some("https://igregulator.io/pricing"));

    policy.rejection.upgrade_url = None;
    let without = policy.render_refusal(check.as_ref(), &decision(now, public()), "req_1");
    assert_eq!(without.header("X-Upgrade-URL"), None);
    assert_eq!(
        without.body,
        r#"{"error":"Public rate limit reached (10/hour/IP).","code":"rate_limited","details":{"limit":10,"window_seconds":3600}}"#
    );

    // Seed 001: every public-endpoint answer carries it, admitted ones too; keyed answers only
    // on their 429.
    let admitted = [resetting(state("public:GET /v1/check", Window::Hour, 10, 3, now), now, 120)];
    let policy = shipped("seed-001");
    let headers = policy.rate_limit_headers(check.as_ref(), &admitted, now);
    assert_eq!(header_value(&headers, "X-Upgrade-URL"), Some("https://igregulator.io/pricing"));
    let keyed = [resetting(state("monthly", Window::Month { anchor_day: 1 }, 10_000, 3, now), now, 120)];
    let headers = policy.rate_limit_headers(None, &keyed, now);
    assert_eq!(header_value(&headers, "X-Upgrade-URL"), None);
}

#[test]
fn the_words_of_a_429_follow_the_limit_in_force() {
    // An admin raised the public limit to 25 a day and the daily cap to 500: the file's
    // "({limit}/{window}/IP)" and "capped at {limit} requests/{window}" say so.
    let policy = shipped("default");
    let now = instant("2026-04-19T12:58:00Z");
    let public =
        vec![refusing(resetting(state("public:GET /v1/check", Window::Day, 25, 25, now), now, 120), now)];
    let check = route(&policy, "GET", "/v1/check").cloned();
    let refusal = policy.render_refusal(check.as_ref(), &decision(now, public), "req_1");
    assert!(
        refusal.body.starts_with(r#"{"error":"Public rate limit reached (25/day/IP).""#),
        "{}",
        refusal.body
    );

    let cap = vec![refusing(resetting(state("daily_cap", Window::Day, 500, 500, now), now, 120), now)];
    let refusal = policy.render_refusal(None, &decision(now, cap), "req_1");
    assert!(refusal.body.contains("Pre-launch keys are capped at 500 requests/day."), "{}", refusal.body);
}

#[test]
fn the_default_policy_refuses_reads_with_problem_json_the_precise_reset_and_the_upgrade_link() {
    let policy = shipped("default");
    let now = instant("2026-04-20T09:30:22Z");
    let reads = vec![refusing(resetting(state("reads", Window::Minute, 60, 60, now), now, 38), now)];
    let refusal = policy.render_refusal(route(&policy, "GET", "/v1/usage"), &decision(now, reads), "req_9");
    assert_eq!(
        refusal.body,
        r#"{"type":"https://api.regsn.app/problems/rate_limited","title":"Rate limit exceeded","status":429,"code":"rate_limit_exceeded","detail":"Rate limit exceeded for reads bucket. Retry after 38s.","request_id":"req_9"}"#
    );
    assert_eq!(refusal.header("Retry-After"), Some("38"));
    assert_eq!(refusal.header("X-Upgrade-URL"), Some("https://igregulator.io/pricing"));
}

#[test]
fn a_daily_cap_problem_carries_its_suggestion_in_the_detail() {
    let mut policy = shipped("default");
    let cap = policy.daily_cap.as_mut().unwrap();
    cap.body = Some(BodyStyle::ProblemJson);
    cap.suggestion = Some("Upgrade at https://example.com/pricing.".to_owned());
    let now = instant("2026-04-20T23:00:00Z");
    let daily =
        vec![refusing(resetting(state("daily_cap", Window::Day, 10_000, 10_000, now), now, 3_600), now)];
    let refusal = policy.render_refusal(None, &decision(now, daily), "req_2");
    assert_eq!(refusal.content_type, "application/problem+json");
    assert_eq!(
        refusal.body,
        r#"{"type":"https://api.regsn.app/problems/rate_limited","title":"Pre-launch rate limit exceeded","status":429,"code":"rate_limit_exceeded","detail":"Rate limit exceeded for daily_cap bucket. Retry after 3600s. Upgrade at https://example.com/pricing.","request_id":"req_2"}"#
    );
}

#[test]
fn daily_cap_headers_follow_the_cap_whatever_the_styles() {
    let mut policy = shipped("default");
    policy.headers.styles = Vec::new();
    let now = instant("2026-04-20T09:30:00Z");
    let buckets = [
        state("reads", Window::Minute, 60, 1, now),
        resetting(state("daily_cap", Window::Day, 10_000, 42, now), now, 52_200),
    ];
    assert_eq!(
        pairs(&policy.rate_limit_headers(None, &buckets, now)),
        [
            ("X-Prelaunch-Daily-Limit", "10000"),
            ("X-Prelaunch-Daily-Used", "42"),
            ("X-Prelaunch-Daily-Reset", "1776729600"),
        ]
    );
    policy.daily_cap.as_mut().unwrap().header_prefix = None;
    assert!(policy.rate_limit_headers(None, &buckets, now).is_empty());
    // Without the daily cap among the buckets, only the styles' fields.
    assert_eq!(shipped("default").rate_limit_headers(None, &buckets[..1], now).len(), 3);
}

#[test]
fn the_spend_cap_refusal_says_the_cap_the_spend_and_how_to_raise_it() {
    let policy = shipped("default");
    let spend = SpendCapReached {
        cap_cents: 5_000,
        spent_cents: 5_012,
        resets_at: Some(instant("2026-05-01T00:00:00Z")),
        now: instant("2026-04-20T12:00:00Z"),
    };
    let refusal = policy.render_spend_cap_refusal(&spend, "req_3");
    assert_eq!(refusal.status, 429);
    assert_eq!(refusal.content_type, "application/problem+json");
    assert_eq!(
        pairs(&refusal.headers),
        [("Retry-After", "907200"), ("X-Upgrade-URL", "https://igregulator.io/pricing")]
    );
    assert_eq!(
        refusal.body,
        r#"{"type":"https://api.regsn.app/problems/spend_cap_exceeded","title":"Spend cap reached","status":429,"code":"spend_cap_exceeded","detail":"This account has reached its monthly spend cap of $50.00 ($50.12 spent this billing month). Raise or remove the cap in the dashboard to continue. Spending counts from zero again at 2026-05-01T00:00:00Z.","request_id":"req_3"}"#
    );

    // seed 001: accounts may not set a cap, and there is no problem type base.
    let policy = shipped("seed-001");
    let refusal = policy.render_spend_cap_refusal(&SpendCapReached { resets_at: None, ..spend }, "req_4");
    // No reset to wait for; the upgrade link as on seed 001's other 429s.
    assert_eq!(pairs(&refusal.headers), [("X-Upgrade-URL", "https://igregulator.io/pricing")]);
    assert_eq!(
        refusal.body,
        r#"{"type":"about:blank","title":"Spend cap reached","status":429,"code":"spend_cap_exceeded","detail":"This account has reached its monthly spend cap of $50.00 ($50.12 spent this billing month). Ask the API operator to raise it to continue.","request_id":"req_4"}"#
    );
}
