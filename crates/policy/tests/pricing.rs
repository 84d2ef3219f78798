//! Pricing bands and costs (seed 000).

use policy::{Policy, Pricing};

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
