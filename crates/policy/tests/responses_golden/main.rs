//! Rendered responses against the seeds: exact header lists and bodies for decisions made by a
//! real `MemoryStore` on a `ManualClock` (`seeds`), and the rules the seeds leave open, on
//! hand-built decisions (`rules`).

mod rules;
mod seeds;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration as StdDuration, SystemTime};

use chrono::{DateTime, Utc};
use limiter::{BucketState, Charge, Decision, LimiterStore, ManualClock, MemoryStore, Scope, Window};
use policy::{Caller, Policy, Route};

pub fn shipped(name: &str) -> Policy {
    Policy::shipped(name).unwrap_or_else(|error| panic!("{name} does not load:\n{error}"))
}

pub fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

pub fn instant(text: &str) -> SystemTime {
    at(text).into()
}

/// A memory store on a manual clock.
pub struct Meter {
    pub clock: ManualClock,
    pub store: MemoryStore,
}

impl Meter {
    pub fn starting_at(text: &str) -> Meter {
        let clock = ManualClock::new(at(text));
        let store = MemoryStore::with_clock(Arc::new(clock.clone()));
        Meter { clock, store }
    }

    /// Decides once. The memory store never waits, so one poll finishes the future.
    pub fn decide<'c>(&self, charges: &'c [Charge]) -> Decision<'c> {
        let mut future = pin!(self.store.decide(charges));
        match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(decision) => decision.unwrap(),
            Poll::Pending => panic!("the memory store decides without waiting"),
        }
    }

    /// Decides `times` requests (at least one) in a row; the last decision.
    pub fn decide_times<'c>(&self, charges: &'c [Charge], times: usize) -> Decision<'c> {
        for _ in 1..times {
            self.decide(charges);
        }
        self.decide(charges)
    }

    pub fn advance_seconds(&self, seconds: i64) {
        self.clock.advance(chrono::Duration::seconds(seconds));
    }
}

pub fn route<'p>(policy: &'p Policy, method: &str, path: &'p str) -> Option<&'p Route> {
    policy.route(method, path).map(|found| found.route)
}

/// The charges of one request, each counted for a fixed subject of its scope.
pub fn charges(policy: &Policy, method: &str, path: &str, caller: &Caller<'_>) -> Vec<Charge> {
    let specs = policy.charges(route(policy, method, path), caller).unwrap();
    let subject = |scope: Scope| match scope {
        Scope::Key => "key_1",
        Scope::Account => "acct_1",
        Scope::User => "user_1",
        Scope::Ip => "203.0.113.9",
    };
    specs.into_iter().map(|spec| Charge::new(spec.clone(), subject(spec.scope))).collect()
}

pub fn plan_caller<'p>(policy: &'p Policy, plan: &str) -> Caller<'p> {
    Caller::Authenticated {
        plan: policy.plan(plan).unwrap(),
        anchor_day: 1,
        overrides: None,
        key_quota: None,
    }
}

/// Headers as `(&str, &str)` pairs, for comparing with a literal list.
pub fn pairs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect()
}

/// A seed's JSON as it would travel: the whitespace between tokens (the documentation's
/// layout) removed, strings untouched.
pub fn minify(json: &str) -> String {
    let mut out = String::new();
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// A bucket as a store would report it, resetting a minute after `now`.
pub fn state<'c>(name: &'c str, window: Window, limit: u64, used: u64, now: SystemTime) -> BucketState<'c> {
    BucketState {
        name,
        scope: Scope::Key,
        subject: "key_1",
        window,
        limit,
        used,
        remaining: limit.saturating_sub(used),
        reset: now + StdDuration::from_secs(60),
        denied: false,
        retry_after: None,
    }
}

/// The same bucket resetting `seconds` after `now`.
pub fn resetting<'c>(mut bucket: BucketState<'c>, now: SystemTime, seconds: u64) -> BucketState<'c> {
    bucket.reset = now + StdDuration::from_secs(seconds);
    bucket
}

/// The same bucket refusing, admitting again at its reset.
pub fn refusing<'c>(mut bucket: BucketState<'c>, now: SystemTime) -> BucketState<'c> {
    bucket.denied = true;
    bucket.retry_after = Some(bucket.reset.duration_since(now).unwrap());
    bucket
}

/// A decision over hand-built buckets: denied when any of them denies.
pub fn decision<'c>(now: SystemTime, buckets: Vec<BucketState<'c>>) -> Decision<'c> {
    let retry_after = buckets.iter().filter_map(|bucket| bucket.retry_after).max();
    Decision { now, buckets, retry_after }
}
