//! What a decision charges: all or nothing, peeks, resets, limit and cost changes.

use std::time::Duration;

use limiter::{Charge, LimiterStore, ManualClock, Scope, StoreError, Window};

use super::{admitted, at, gcra, one, remaining, spec};

pub async fn denial_by_one_bucket_leaves_every_other_bucket_unchanged(
    store: &dyn LimiterStore,
    clock: &ManualClock,
) {
    clock.set(at("2026-04-20T09:30:00Z"));
    let monthly = spec("monthly", 10_000, Window::Month { anchor_day: 1 }, Scope::Account);
    let daily = spec("daily_cap", 10_000, Window::Day, Scope::Key);
    let burst = gcra("burst", 5, 1_000, 5, Scope::Account);
    let scans = spec("scans", 2, Window::Hour, Scope::Key);
    let charges = vec![
        Charge::new(monthly, "acct_1"),
        Charge::new(daily, "key_1"),
        Charge::new(burst, "acct_1"),
        Charge::new(scans.clone(), "key_1"),
    ];
    assert_eq!(admitted(store, &charges, 2).await, 2);
    let before = store.peek(&charges).await.expect("peek");
    let denied = store.decide(&charges).await.expect("decide");
    assert!(!denied.is_allowed());
    let denied_names: Vec<&str> = denied.denied().map(|bucket| bucket.name).collect();
    assert_eq!(denied_names, ["scans"]);
    let after = store.peek(&charges).await.expect("peek");
    assert_eq!(before, after);
    // The denial reports every bucket as it stands.
    for (reported, peeked) in denied.buckets.iter().zip(&after) {
        assert_eq!(reported.remaining, peeked.remaining);
        assert_eq!(reported.reset, peeked.reset);
    }
    assert_eq!(after[0].remaining, 9_998);
}

pub async fn retry_after_is_the_longest_wait_among_denying_buckets(
    store: &dyn LimiterStore,
    clock: &ManualClock,
) {
    clock.set(at("2026-04-20T09:59:00Z"));
    let minute = spec("reads", 1, Window::Minute, Scope::Key);
    let hour = spec("exports", 1, Window::Hour, Scope::Key);
    let charges = vec![Charge::new(minute, "key_1"), Charge::new(hour, "key_1")];
    assert_eq!(admitted(store, &charges, 1).await, 1);
    clock.set(at("2026-04-20T09:59:30Z"));
    let denied = store.decide(&charges).await.expect("decide");
    assert_eq!(denied.denied().count(), 2);
    assert_eq!(denied.buckets[0].retry_after, Some(Duration::from_secs(30)));
    assert_eq!(denied.buckets[1].retry_after, Some(Duration::from_secs(30)));
    clock.set(at("2026-04-20T10:00:10Z"));
    assert!(store.decide(&charges).await.expect("decide").is_allowed());
    let denied = store.decide(&charges).await.expect("decide");
    assert_eq!(denied.retry_after, Some(Duration::from_secs(3_590)));
}

pub async fn peek_charges_nothing(store: &dyn LimiterStore, clock: &ManualClock) {
    clock.set(at("2026-04-20T09:00:00Z"));
    let reads = spec("reads", 3, Window::Minute, Scope::Key);
    let charges = one(&reads, "key_1");
    for _ in 0..5 {
        assert_eq!(remaining(store, &charges).await, vec![3]);
    }
    assert_eq!(admitted(store, &charges, 1).await, 1);
    assert_eq!(remaining(store, &charges).await, vec![2]);
    assert_eq!(remaining(store, &charges).await, vec![2]);
}

pub async fn reset_clears_one_bucket_for_one_subject(store: &dyn LimiterStore, clock: &ManualClock) {
    clock.set(at("2026-04-20T09:00:00Z"));
    let reads = spec("reads", 5, Window::Minute, Scope::Key);
    let exports = spec("exports", 5, Window::Hour, Scope::Key);
    let charges = vec![
        Charge::new(reads.clone(), "key_1"),
        Charge::new(exports, "key_1"),
        Charge::new(reads.clone(), "key_2"),
    ];
    assert_eq!(admitted(store, &charges, 2).await, 2);
    store.reset(&reads, "key_1").await.expect("reset");
    assert_eq!(remaining(store, &charges).await, vec![5, 3, 3]);
    // Resetting a bucket that was never used is fine.
    store.reset(&reads, "key_never_seen").await.expect("reset");
}

pub async fn limit_change_keeps_the_counter_and_remaining_is_never_negative(
    store: &dyn LimiterStore,
    clock: &ManualClock,
) {
    clock.set(at("2026-04-20T09:00:00Z"));
    let starter = spec("monthly", 10, Window::Month { anchor_day: 1 }, Scope::Account);
    assert_eq!(admitted(store, &one(&starter, "acct_1"), 6).await, 6);
    let pro = spec("monthly", 100, Window::Month { anchor_day: 1 }, Scope::Account);
    assert_eq!(remaining(store, &one(&pro, "acct_1")).await, vec![94]);
    let cut = spec("monthly", 4, Window::Month { anchor_day: 1 }, Scope::Account);
    let charges = one(&cut, "acct_1");
    let denied = store.decide(&charges).await.expect("decide");
    assert!(!denied.is_allowed());
    assert_eq!(denied.buckets[0].remaining, 0);
    assert_eq!(denied.buckets[0].used, 6);
}

pub async fn window_kind_change_starts_a_fresh_counter(store: &dyn LimiterStore, clock: &ManualClock) {
    clock.set(at("2026-04-20T09:00:00Z"));
    let hourly = spec("reads", 2, Window::Hour, Scope::Key);
    assert_eq!(admitted(store, &one(&hourly, "key_1"), 3).await, 2);
    let per_minute = spec("reads", 2, Window::Minute, Scope::Key);
    assert_eq!(admitted(store, &one(&per_minute, "key_1"), 3).await, 2);
}

pub async fn cost_above_one_is_charged_in_full(store: &dyn LimiterStore, clock: &ManualClock) {
    clock.set(at("2026-04-20T09:00:00Z"));
    let exports = spec("exports", 30, Window::Hour, Scope::Key);
    let four = vec![Charge::new(exports.clone(), "key_1").with_cost(4)];
    assert_eq!(admitted(store, &four, 8).await, 7);
    assert_eq!(remaining(store, &four).await, vec![2]);
    let two = vec![Charge::new(exports, "key_1").with_cost(2)];
    assert_eq!(admitted(store, &two, 2).await, 1);
    let burst = vec![Charge::new(gcra("burst", 5, 1_000, 5, Scope::Key), "key_1").with_cost(3)];
    assert_eq!(admitted(store, &burst, 2).await, 1);
    let denied = store.decide(&burst).await.expect("decide");
    assert_eq!(denied.buckets[0].remaining, 2);
    assert_eq!(denied.retry_after, Some(Duration::from_millis(200)));
}

pub async fn cost_above_capacity_is_denied_and_charges_nothing(
    store: &dyn LimiterStore,
    clock: &ManualClock,
) {
    clock.set(at("2026-04-20T09:00:00Z"));
    let scans = spec("scans", 6, Window::Hour, Scope::Key);
    let burst = gcra("burst", 5, 1_000, 5, Scope::Key);
    let huge = vec![
        Charge::new(scans.clone(), "key_1").with_cost(7),
        Charge::new(burst.clone(), "key_1").with_cost(u64::MAX),
    ];
    let denied = store.decide(&huge).await.expect("decide");
    assert_eq!(denied.denied().count(), 2);
    assert_eq!(denied.buckets[0].retry_after, Some(Duration::from_secs(3_600)));
    assert_eq!(denied.buckets[1].retry_after, Some(Duration::from_secs(1)));
    let small = vec![Charge::new(scans, "key_1"), Charge::new(burst, "key_1")];
    assert_eq!(remaining(store, &small).await, vec![6, 5]);
}

pub async fn subjects_and_scopes_are_counted_apart(store: &dyn LimiterStore, clock: &ManualClock) {
    clock.set(at("2026-04-20T09:00:00Z"));
    let by_key = spec("reads", 1, Window::Minute, Scope::Key);
    let by_user = spec("reads", 1, Window::Minute, Scope::User);
    let other_name = spec("scans", 1, Window::Minute, Scope::Key);
    for charges in
        [one(&by_key, "same"), one(&by_user, "same"), one(&other_name, "same"), one(&by_key, "other")]
    {
        assert_eq!(admitted(store, &charges, 2).await, 1);
    }
}

pub async fn bucket_charged_twice_in_one_request_counts_both_charges(
    store: &dyn LimiterStore,
    clock: &ManualClock,
) {
    clock.set(at("2026-04-20T09:00:00Z"));
    let reads = spec("reads", 3, Window::Minute, Scope::Key);
    let twice = vec![Charge::new(reads.clone(), "key_1"), Charge::new(reads.clone(), "key_1")];
    let first = store.decide(&twice).await.expect("decide");
    assert!(first.is_allowed());
    assert_eq!(first.buckets[1].remaining, 1);
    let second = store.decide(&twice).await.expect("decide");
    assert!(!second.is_allowed());
    assert_eq!(remaining(store, &one(&reads, "key_1")).await, vec![1]);
    // A free charge in between still sees the first charge (found by the property tests).
    let other = spec("reads", 3, Window::Minute, Scope::Key);
    let chained = vec![
        Charge::new(other.clone(), "key_2"),
        Charge::new(other.clone(), "key_2").with_cost(0),
        Charge::new(other.clone(), "key_2"),
    ];
    let decision = store.decide(&chained).await.expect("decide");
    let left: Vec<u64> = decision.buckets.iter().map(|b| b.remaining).collect();
    assert_eq!(left, [2, 2, 1]);
    assert_eq!(remaining(store, &one(&other, "key_2")).await, vec![1]);
}

pub async fn invalid_bucket_is_an_error_not_a_panic(store: &dyn LimiterStore, clock: &ManualClock) {
    clock.set(at("2026-04-20T09:00:00Z"));
    let zero_rate = gcra("burst", 0, 1_000, 5, Scope::Key);
    let bad_anchor = spec("monthly", 1, Window::Month { anchor_day: 32 }, Scope::Account);
    for bad in [zero_rate, bad_anchor] {
        let error = store.decide(&one(&bad, "x")).await.expect_err("invalid");
        assert!(matches!(error, StoreError::InvalidBucket { .. }), "{error}");
        assert!(!error.is_outage());
        assert!(store.peek(&one(&bad, "x")).await.is_err());
    }
    // A zero limit on a fixed window is valid and denies everything.
    let closed = spec("closed", 0, Window::Hour, Scope::Key);
    assert_eq!(admitted(store, &one(&closed, "x"), 2).await, 0);
}
