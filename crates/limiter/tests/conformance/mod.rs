//! One behavioural suite for every [`LimiterStore`]: each store's test file expands
//! `conformance_suite!(make)` with an `async fn make(ManualClock) -> Fixture`.
//!
//! Every test sets the clock itself and uses its own store, so tests can run in parallel.

#![allow(dead_code)]

mod charging;
mod windows;

pub use charging::*;
pub use windows::*;

use std::any::Any;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use limiter::{BucketSpec, Charge, LimiterStore, Scope, Window};

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
