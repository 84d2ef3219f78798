//! Pricing bands and costs (seed 000), and the response choices priced requests end in.

use policy::{HeaderStyle, Period, Policy, Pricing, RetryAfter, ratelimit_policy_style};

fn pricing() -> Pricing {
    Policy::default_policy().unwrap().pricing.unwrap()
}

fn tier_name(pricing: &Pricing, rpm: u64) -> &str {
    &pricing.tier_for(rpm).unwrap().name
}

#[test]
fn band_edges_fall_in_the_right_tier() {
    let pricing = pricing();
    let expected = [
        (0, "Free"),
        (10, "Free"),
        (11, "11-30 rpm"),
        (30, "11-30 rpm"),
        (31, "31-60 rpm"),
        (60, "31-60 rpm"),
        (61, "61-100 rpm"),
        (100, "61-100 rpm"),
        (101, "101-150 rpm"),
        (150, "101-150 rpm"),
        (151, "Enterprise"),
        (u64::MAX, "Enterprise"),
    ];
    for (rpm, name) in expected {
        assert_eq!(tier_name(&pricing, rpm), name, "{rpm} rpm");
    }
}

#[test]
fn requests_above_ten_in_a_minute_are_extra() {
    let pricing = pricing();
    assert_eq!(pricing.extra_requests(0), 0);
    assert_eq!(pricing.extra_requests(10), 0);
    assert_eq!(pricing.extra_requests(11), 1);
    assert_eq!(pricing.extra_requests(150), 140);
}

#[test]
fn overage_is_the_tier_fee_per_extra_request() {
    let pricing = pricing();
    let cost = |rpm, extra| pricing.tier_for(rpm).unwrap().overage_cents(extra);
    assert_eq!(cost(10, 0), Some(0));
    assert_eq!(cost(11, 5), Some(50));
    assert_eq!(cost(60, 1_000), Some(10_000));
    assert_eq!(cost(61, 100), Some(1_500));
    assert_eq!(cost(150, 3), Some(60));
    assert_eq!(cost(151, 3), None);
}

#[test]
fn the_monthly_cost_adds_the_tier_fee_and_enterprise_is_custom() {
    let pricing = pricing();
    assert_eq!(pricing.monthly_cost_cents(10, 0), Some(0));
    assert_eq!(pricing.monthly_cost_cents(20, 1_000), Some(10_000 + 10_000));
    assert_eq!(pricing.monthly_cost_cents(120, 10), Some(100_000 + 200));
    assert_eq!(pricing.monthly_cost_cents(151, 0), None);
    assert!(pricing.tier_for(151).unwrap().is_custom());
    assert!(!pricing.tier_for(150).unwrap().is_custom());
}

#[test]
fn retry_after_is_the_window_or_the_reset() {
    assert_eq!(RetryAfter::Window.seconds(Some(60), 38), 60);
    assert_eq!(RetryAfter::Reset.seconds(Some(60), 38), 38);
    assert_eq!(RetryAfter::Window.seconds(Some(3_600), 120), 3_600);
    // A month has no fixed length: the reset is the only honest answer.
    assert_eq!(RetryAfter::Window.seconds(None, 86_400), 86_400);
}

#[test]
fn ietf_writes_ratelimit_policy_when_both_styles_are_on() {
    use HeaderStyle::{Draft7, Ietf, XRateLimit};
    assert_eq!(ratelimit_policy_style(&[XRateLimit, Ietf]), Some(Ietf));
    assert_eq!(ratelimit_policy_style(&[Draft7, XRateLimit]), Some(XRateLimit));
    assert_eq!(ratelimit_policy_style(&[Draft7]), None);
}

#[test]
fn periods_read_and_write_in_words() {
    let parse = |text: &str| text.parse::<Period>().map(Period::seconds);
    assert_eq!(parse("second"), Ok(1));
    assert_eq!(parse("minute"), Ok(60));
    assert_eq!(parse("15 minutes"), Ok(900));
    assert_eq!(parse("15m"), Ok(900));
    assert_eq!(parse("2 hours"), Ok(7_200));
    assert_eq!(parse("day"), Ok(86_400));
    assert!(parse("fortnight").is_err() && parse("-5m").is_err() && parse("").is_err());
    assert_eq!(Period::from_seconds(900).to_string(), "15 minutes");
    assert_eq!(Period::from_seconds(3_600).to_string(), "hour");
    assert_eq!(Period::from_seconds(90).to_string(), "90 seconds");
}
