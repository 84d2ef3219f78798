//! Window edges: clock-aligned fixed windows, billing-month anchors and GCRA.

use std::time::Duration;

use limiter::{LimiterStore, ManualClock, Scope, Window};

use super::{admitted, at, gcra, one, remaining, spec};

pub async fn admits_up_to_the_limit_then_denies_until_the_window_ends(
    store: &dyn LimiterStore,
    clock: &ManualClock,
) {
    clock.set(at("2026-04-20T10:15:30Z"));
    let reads = spec("reads", 60, Window::Minute, Scope::Key);
    let charges = one(&reads, "key_1");
    for left in (0..60).rev() {
        let decision = store.decide(&charges).await.expect("decide");
        assert!(decision.is_allowed());
        assert_eq!(decision.buckets[0].remaining, left);
        assert_eq!(decision.buckets[0].reset_at(), at("2026-04-20T10:16:00Z"));
        assert_eq!(decision.buckets[0].name, "reads");
        assert_eq!(decision.buckets[0].limit, 60);
    }
    let denied = store.decide(&charges).await.expect("decide");
    assert!(!denied.is_allowed());
    assert_eq!(denied.retry_after, Some(Duration::from_secs(30)));
    assert_eq!(denied.buckets[0].remaining, 0);
    assert_eq!(denied.buckets[0].used, 60);
    assert!(denied.buckets[0].denied);
    assert_eq!(denied.now_utc(), at("2026-04-20T10:15:30Z"));
    clock.set(at("2026-04-20T10:16:00Z"));
    assert!(store.decide(&charges).await.expect("decide").is_allowed());
}

pub async fn hour_resets_at_the_top_of_the_hour_not_sixty_minutes_after_first_use(
    store: &dyn LimiterStore,
    clock: &ManualClock,
) {
    let public = spec("public", 10, Window::Hour, Scope::Ip);
    let charges = one(&public, "203.0.113.9");
    clock.set(at("2026-04-20T14:58:00Z"));
    assert_eq!(admitted(store, &charges, 11).await, 10);
    let denied = store.decide(&charges).await.expect("decide");
    assert_eq!(denied.retry_after, Some(Duration::from_secs(120)));
    assert_eq!(denied.buckets[0].reset_at(), at("2026-04-20T15:00:00Z"));
    clock.set(at("2026-04-20T14:59:59.999999Z"));
    assert_eq!(admitted(store, &charges, 1).await, 0);
    clock.set(at("2026-04-20T15:00:00Z"));
    assert_eq!(admitted(store, &charges, 11).await, 10);
}

pub async fn utc_day_resets_at_midnight_utc(store: &dyn LimiterStore, clock: &ManualClock) {
    let daily = spec("daily_cap", 3, Window::Day, Scope::Key);
    let charges = one(&daily, "key_1");
    clock.set(at("2026-04-20T23:59:59Z"));
    assert_eq!(admitted(store, &charges, 4).await, 3);
    let denied = store.decide(&charges).await.expect("decide");
    assert_eq!(denied.buckets[0].reset_at(), at("2026-04-21T00:00:00Z"));
    assert_eq!(denied.retry_after, Some(Duration::from_secs(1)));
    clock.set(at("2026-04-21T00:00:00Z"));
    assert_eq!(admitted(store, &charges, 4).await, 3);
}

pub async fn monthly_anchor_31_resets_on_the_last_day_of_february_and_leap_february(
    store: &dyn LimiterStore,
    clock: &ManualClock,
) {
    let monthly = spec("monthly", 2, Window::Month { anchor_day: 31 }, Scope::Account);
    let charges = one(&monthly, "acct_1");
    for (used_at, last_moment, resets_at) in [
        ("2025-02-10T08:00:00Z", "2025-02-27T23:59:59Z", "2025-02-28T00:00:00Z"),
        ("2024-02-10T08:00:00Z", "2024-02-28T23:59:59Z", "2024-02-29T00:00:00Z"),
        ("2025-04-01T08:00:00Z", "2025-04-29T23:59:59Z", "2025-04-30T00:00:00Z"),
    ] {
        clock.set(at(used_at));
        assert_eq!(admitted(store, &charges, 3).await, 2, "{used_at}");
        clock.set(at(last_moment));
        let denied = store.decide(&charges).await.expect("decide");
        assert_eq!(denied.buckets[0].reset_at(), at(resets_at), "{used_at}");
        assert_eq!(denied.retry_after, Some(Duration::from_secs(1)));
        clock.set(at(resets_at));
        assert_eq!(admitted(store, &charges, 3).await, 2, "{resets_at}");
    }
    // From the leap day, the next period runs to 31 March.
    clock.set(at("2024-03-15T00:00:00Z"));
    let state = store.peek(&charges).await.expect("peek");
    assert_eq!(state[0].reset_at(), at("2024-03-31T00:00:00Z"));
}

pub async fn monthly_anchors_29_and_30_clamp_to_short_februaries(
    store: &dyn LimiterStore,
    clock: &ManualClock,
) {
    let cases = [
        (29, "2025-02-15T00:00:00Z", "2025-02-28T00:00:00Z"),
        (29, "2024-02-15T00:00:00Z", "2024-02-29T00:00:00Z"),
        (30, "2025-02-15T00:00:00Z", "2025-02-28T00:00:00Z"),
        (30, "2024-02-15T00:00:00Z", "2024-02-29T00:00:00Z"),
        (30, "2025-02-28T00:00:00Z", "2025-03-30T00:00:00Z"),
        (29, "2025-03-29T00:00:00Z", "2025-04-29T00:00:00Z"),
        (29, "2025-01-28T23:59:59Z", "2025-01-29T00:00:00Z"),
    ];
    for (anchor_day, now, reset) in cases {
        let monthly = spec("monthly", 5, Window::Month { anchor_day }, Scope::Account);
        let charges = one(&monthly, &format!("acct_{anchor_day}_{now}"));
        clock.set(at(now));
        let decision = store.decide(&charges).await.expect("decide");
        assert_eq!(decision.buckets[0].reset_at(), at(reset), "anchor {anchor_day} at {now}");
        clock.set(at(reset));
        let next = store.peek(&charges).await.expect("peek");
        assert_eq!(next[0].remaining, 5, "anchor {anchor_day}: fresh at {reset}");
    }
}

pub async fn gcra_admits_the_burst_then_one_per_interval(store: &dyn LimiterStore, clock: &ManualClock) {
    let burst = gcra("burst", 5, 1_000, 5, Scope::Account);
    let charges = one(&burst, "acct_1");
    clock.set(at("2026-04-20T12:00:00Z"));
    assert_eq!(admitted(store, &charges, 8).await, 5);
    let denied = store.decide(&charges).await.expect("decide");
    assert_eq!(denied.retry_after, Some(Duration::from_millis(200)));
    assert_eq!(denied.buckets[0].remaining, 0);
    clock.advance(chrono::Duration::milliseconds(199));
    assert_eq!(admitted(store, &charges, 1).await, 0);
    clock.advance(chrono::Duration::milliseconds(1));
    assert_eq!(admitted(store, &charges, 2).await, 1);
    clock.advance(chrono::Duration::seconds(10));
    assert_eq!(remaining(store, &charges).await, vec![5]);
}

pub async fn gcra_reset_is_when_the_bucket_is_full_again(store: &dyn LimiterStore, clock: &ManualClock) {
    let burst = gcra("burst", 20, 1_000, 20, Scope::Key);
    let charges = one(&burst, "key_1");
    clock.set(at("2026-04-20T12:00:00Z"));
    assert_eq!(admitted(store, &charges, 4).await, 4);
    let state = store.peek(&charges).await.expect("peek");
    assert_eq!(state[0].remaining, 16);
    assert_eq!(state[0].used, 4);
    assert_eq!(state[0].reset_at(), at("2026-04-20T12:00:00.200Z"));
}
