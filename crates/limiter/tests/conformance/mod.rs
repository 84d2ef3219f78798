//! One behavioural suite for every [`LimiterStore`]: each store's test file expands
//! `conformance_suite!(make)` with an `async fn make(ManualClock) -> Fixture`.
//!
//! Every test sets the clock itself and uses its own store, so tests can run in parallel.

#![allow(dead_code)]

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use limiter::{BucketSpec, Charge, LimiterStore, ManualClock, Scope, StoreError, Window};

/// A store under test and whatever must be dropped after it (Redis keys to delete).
pub struct Fixture {
    pub store: Arc<dyn LimiterStore>,
    pub cleanup: Box<dyn Any + Send>,
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).map(|t| t.with_timezone(&Utc)).expect("a valid test instant")
}

pub fn spec(name: &str, limit: u64, window: Window, scope: Scope) -> BucketSpec {
    BucketSpec::new(name, limit, window, scope)
}

pub fn gcra(name: &str, limit: u64, period_ms: i64, burst: u32, scope: Scope) -> BucketSpec {
    let period = chrono::Duration::milliseconds(period_ms);
    spec(name, limit, Window::Gcra { period, burst }, scope)
}

pub fn one(spec: &BucketSpec, subject: &str) -> Vec<Charge> {
    vec![Charge::new(spec.clone(), subject)]
}

/// Decide `charges` `times` times and count the admissions.
pub async fn admitted(store: &dyn LimiterStore, charges: &[Charge], times: usize) -> usize {
    let mut admitted = 0;
    for _ in 0..times {
        if store.decide(charges).await.expect("decide").is_allowed() {
            admitted += 1;
        }
    }
    admitted
}

pub async fn remaining(store: &dyn LimiterStore, charges: &[Charge]) -> Vec<u64> {
    let states = store.peek(charges).await.expect("peek");
    states.iter().map(|state| state.remaining).collect()
}

#[macro_export]
macro_rules! conformance_suite {
    ($make:path) => {
        $crate::conformance_suite!(@tests $make,
            admits_up_to_the_limit_then_denies_until_the_window_ends,
            hour_resets_at_the_top_of_the_hour_not_sixty_minutes_after_first_use,
            utc_day_resets_at_midnight_utc,
            monthly_anchor_31_resets_on_the_last_day_of_february_and_leap_february,
            monthly_anchors_29_and_30_clamp_to_short_februaries,
            gcra_admits_the_burst_then_one_per_interval,
            denial_by_one_bucket_leaves_every_other_bucket_unchanged,
            retry_after_is_the_longest_wait_among_denying_buckets,
            peek_charges_nothing,
            reset_clears_one_bucket_for_one_subject,
            limit_change_keeps_the_counter_and_remaining_is_never_negative,
            window_kind_change_starts_a_fresh_counter,
            cost_above_one_is_charged_in_full,
            cost_above_capacity_is_denied_and_charges_nothing,
            subjects_and_scopes_are_counted_apart,
            bucket_charged_twice_in_one_request_counts_both_charges,
            invalid_bucket_is_an_error_not_a_panic,
            gcra_reset_is_when_the_bucket_is_full_again,
        );
    };
    (@tests $make:path, $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let clock = limiter::ManualClock::new(conformance::at("2026-01-01T00:00:00Z"));
                let fixture = $make(clock.clone()).await;
                conformance::$name(fixture.store.as_ref(), &clock).await;
                drop(fixture);
            }
        )+
    };
}

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
