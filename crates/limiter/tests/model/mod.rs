//! A small, slow, obviously-correct reference model of the limiter, written independently of
//! the crate's algorithms: windows come from chrono's calendar, GCRA is a leaky-bucket meter
//! (the "debt" drains one microsecond per microsecond). Property tests check the stores
//! against it.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Datelike, DurationRound, NaiveDate, TimeDelta, Utc};
use limiter::{BucketSpec, Charge, Scope, Window};

/// What the model says about one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub used: u64,
    pub remaining: u64,
    pub reset: DateTime<Utc>,
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedDecision {
    pub allowed: bool,
    pub retry_after: Option<Duration>,
    pub buckets: Vec<Expected>,
}

#[derive(Clone, Copy, Debug)]
enum State {
    Counted {
        window: DateTime<Utc>,
        count: u64,
    },
    /// Debt in µs as of `at`.
    Meter {
        debt: i64,
        at: DateTime<Utc>,
    },
}

type Key = (String, Scope, String, std::mem::Discriminant<Window>);

#[derive(Default)]
pub struct Model {
    states: HashMap<Key, State>,
}

fn key(spec: &BucketSpec, subject: &str) -> Key {
    (spec.name.clone(), spec.scope, subject.to_owned(), std::mem::discriminant(&spec.window))
}

fn micros(delta: TimeDelta) -> i64 {
    delta.num_microseconds().expect("small test durations")
}

/// The billing month holding `now`: walk back from this month's anchor until it is not after now.
fn month_window(now: DateTime<Utc>, anchor: u8) -> (DateTime<Utc>, DateTime<Utc>) {
    let anchor_of = |year: i32, month: u32| {
        (1..=u32::from(anchor))
            .rev()
            .find_map(|day| NaiveDate::from_ymd_opt(year, month, day))
            .expect("some day exists")
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
    };
    let shift = |year: i32, month: u32, by: i32| {
        let index = year * 12 + month as i32 - 1 + by;
        (index.div_euclid(12), index.rem_euclid(12) as u32 + 1)
    };
    let (mut year, mut month) = (now.year(), now.month());
    while anchor_of(year, month) > now {
        (year, month) = shift(year, month, -1);
    }
    let (next_year, next_month) = shift(year, month, 1);
    (anchor_of(year, month), anchor_of(next_year, next_month))
}

fn fixed_window(window: Window, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let length = match window {
        Window::Second => TimeDelta::seconds(1),
        Window::Minute => TimeDelta::minutes(1),
        Window::Hour => TimeDelta::hours(1),
        Window::Day => TimeDelta::days(1),
        Window::Month { anchor_day } => return month_window(now, anchor_day),
        Window::Gcra { .. } => unreachable!("not a fixed window"),
    };
    let start = now.duration_trunc(length).expect("truncate");
    (start, start + length)
}

/// GCRA's interval T (rounded up), tolerance τ = T·burst and capacity τ/T.
fn meter(spec: &BucketSpec) -> (i64, i64, u64, i64) {
    let Window::Gcra { period, burst } = spec.window else { unreachable!("not GCRA") };
    let period = micros(period);
    let limit = spec.limit as i64;
    let interval = (period + limit - 1) / limit;
    let tolerance = interval * i64::from(burst);
    (interval, tolerance, (tolerance / interval) as u64, period)
}

fn wait(us: i64) -> Duration {
    Duration::from_micros(us as u64)
}

impl Model {
    /// Evaluate one charge against `state`; return the expectation and the state if admitted.
    fn charge(
        spec: &BucketSpec,
        state: Option<State>,
        now: DateTime<Utc>,
        cost: u64,
    ) -> (Expected, Option<State>) {
        if let Window::Gcra { .. } = spec.window {
            let (interval, tolerance, capacity, period) = meter(spec);
            let debt = match state {
                Some(State::Meter { debt, at }) => (debt - micros(now - at)).max(0),
                _ => 0,
            };
            let report = |debt: i64| {
                let remaining = ((tolerance - debt).max(0) / interval) as u64;
                let remaining = remaining.min(capacity);
                (capacity - remaining, remaining, now + TimeDelta::microseconds(debt))
            };
            let cost_us = interval * cost.min(capacity + 1) as i64;
            let (admit, retry, after) = if cost > capacity {
                (false, Some(wait(debt.max(period))), debt)
            } else if debt + cost_us > tolerance {
                (false, Some(wait(debt + cost_us - tolerance)), debt)
            } else {
                (true, None, debt + cost_us)
            };
            let (used, remaining, reset) = report(after);
            let next = (admit && cost > 0).then_some(State::Meter { debt: after, at: now });
            let expected = Expected { used, remaining, reset, retry_after: retry };
            return (expected, next.or(state));
        }
        let (start, end) = fixed_window(spec.window, now);
        let count = match state {
            Some(State::Counted { window, count }) if window == start => count,
            _ => 0,
        };
        let admit = count + cost <= spec.limit;
        let after = if admit { count + cost } else { count };
        let expected = Expected {
            used: after,
            remaining: spec.limit.saturating_sub(after),
            reset: end,
            retry_after: (!admit).then(|| wait(micros(end - now))),
        };
        let next = (admit && cost > 0).then_some(State::Counted { window: start, count: after });
        (expected, next.or(state))
    }

    pub fn decide(&mut self, charges: &[Charge], now: DateTime<Utc>) -> ExpectedDecision {
        let mut trial = self.states.clone();
        let mut buckets = Vec::new();
        for charge in charges {
            let key = key(&charge.spec, &charge.subject);
            let (expected, next) = Self::charge(&charge.spec, trial.get(&key).copied(), now, charge.cost);
            if let Some(next) = next {
                trial.insert(key, next);
            }
            buckets.push(expected);
        }
        let allowed = buckets.iter().all(|b| b.retry_after.is_none());
        if allowed {
            self.states = trial;
        } else {
            // Nothing charged: every bucket as it stands, with the denials' waits.
            for (charge, bucket) in charges.iter().zip(buckets.iter_mut()) {
                let current = self.peek_one(charge, now);
                *bucket = Expected { retry_after: bucket.retry_after, ..current };
            }
        }
        ExpectedDecision { allowed, retry_after: buckets.iter().filter_map(|b| b.retry_after).max(), buckets }
    }

    fn peek_one(&self, charge: &Charge, now: DateTime<Utc>) -> Expected {
        let state = self.states.get(&key(&charge.spec, &charge.subject)).copied();
        let (expected, _) = Self::charge(&charge.spec, state, now, 0);
        Expected { retry_after: None, ..expected }
    }

    pub fn peek(&self, charges: &[Charge], now: DateTime<Utc>) -> Vec<Expected> {
        charges.iter().map(|charge| self.peek_one(charge, now)).collect()
    }

    pub fn reset(&mut self, spec: &BucketSpec, subject: &str) {
        self.states.remove(&key(spec, subject));
    }
}

/// One step of a property test.
#[derive(Debug, Clone)]
pub enum Op {
    /// Charges as (bucket index, subject index, cost).
    Decide(Vec<(usize, usize, u64)>),
    Peek(Vec<(usize, usize)>),
    /// Move the clock forward by this many microseconds.
    Advance(i64),
    Reset(usize, usize),
    /// A plan change: bucket index, new limit.
    SetLimit(usize, u64),
}

pub const SUBJECTS: [&str; 2] = ["a", "b:2001:db8::1"];

pub mod strategies {
    use chrono::TimeDelta;
    use limiter::{BucketSpec, Scope, Window};
    use proptest::prelude::*;

    use super::Op;

    /// One bucket of each kind, with small limits so denials are common.
    pub fn buckets() -> impl Strategy<Value = Vec<BucketSpec>> {
        (
            (1..4u64, 1..6u64, 1..6u64, 1..8u64),
            (1..6u64, prop::sample::select(vec![1u8, 15, 28, 29, 30, 31])),
            (1..6u64, prop::sample::select(vec![1_000i64, 3_000, 60_000]), 1..4u32),
        )
            .prop_map(|((second, minute, hour, day), (month, anchor_day), (rate, period, burst))| {
                vec![
                    BucketSpec::new("second", second, Window::Second, Scope::Key),
                    BucketSpec::new("reads", minute, Window::Minute, Scope::Key),
                    BucketSpec::new("public", hour, Window::Hour, Scope::Ip),
                    BucketSpec::new("daily_cap", day, Window::Day, Scope::Key),
                    BucketSpec::new("monthly", month, Window::Month { anchor_day }, Scope::Account),
                    BucketSpec::new(
                        "burst",
                        rate,
                        Window::Gcra { period: TimeDelta::milliseconds(period), burst },
                        Scope::Account,
                    ),
                ]
            })
    }

    fn charge() -> impl Strategy<Value = (usize, usize, u64)> {
        (0..6usize, 0..super::SUBJECTS.len(), prop::sample::select(vec![0u64, 1, 1, 1, 2, 3, 7]))
    }

    pub fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => prop::collection::vec(charge(), 1..5).prop_map(Op::Decide),
            1 => prop::collection::vec((0..6usize, 0..super::SUBJECTS.len()), 1..4).prop_map(Op::Peek),
            2 => (0..1_500_000i64).prop_map(Op::Advance),
            2 => (0..90_000_000i64).prop_map(Op::Advance),
            1 => (0..7_200_000_000i64).prop_map(Op::Advance),
            1 => (0..3 * 86_400_000_000i64).prop_map(Op::Advance),
            1 => (0..6usize, 0..super::SUBJECTS.len()).prop_map(|(b, s)| Op::Reset(b, s)),
            1 => (0..6usize, 1..8u64).prop_map(|(b, l)| Op::SetLimit(b, l)),
        ]
    }

    /// A start between late December 2023 and March 2025: leap and plain Februaries.
    pub fn start() -> impl Strategy<Value = i64> {
        0..450 * 86_400_000_000i64
    }
}

pub fn start_instant(offset_micros: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2023-12-20T00:00:00Z").expect("start").with_timezone(&Utc)
        + TimeDelta::microseconds(offset_micros)
}

/// Replay `ops` on `store` and on the model; the first disagreement is the error.
pub async fn replay(
    store: &dyn limiter::LimiterStore,
    clock: &limiter::ManualClock,
    mut buckets: Vec<BucketSpec>,
    ops: &[Op],
) -> Result<(), String> {
    use limiter::Clock;
    let mut model = Model::default();
    let charge = |buckets: &[BucketSpec], b: usize, s: usize, cost: u64| {
        Charge::new(buckets[b].clone(), SUBJECTS[s]).with_cost(cost)
    };
    for (step, op) in ops.iter().enumerate() {
        let now = clock.now();
        match op {
            Op::Decide(list) => {
                let charges: Vec<Charge> = list.iter().map(|&(b, s, c)| charge(&buckets, b, s, c)).collect();
                let got = store.decide(&charges).await.map_err(|e| e.to_string())?;
                let got = ExpectedDecision {
                    allowed: got.is_allowed(),
                    retry_after: got.retry_after,
                    buckets: got.buckets.iter().map(observed).collect(),
                };
                let want = model.decide(&charges, now);
                if got != want {
                    return Err(format!("step {step} at {now}: {op:?}\n got {got:?}\nwant {want:?}"));
                }
            }
            Op::Peek(list) => {
                let charges: Vec<Charge> = list.iter().map(|&(b, s)| charge(&buckets, b, s, 1)).collect();
                let got: Vec<Expected> =
                    store.peek(&charges).await.map_err(|e| e.to_string())?.iter().map(observed).collect();
                let want = model.peek(&charges, now);
                if got != want {
                    return Err(format!("step {step} at {now}: {op:?}\n got {got:?}\nwant {want:?}"));
                }
            }
            Op::Advance(us) => clock.advance(TimeDelta::microseconds(*us)),
            Op::Reset(b, s) => {
                store.reset(&buckets[*b], SUBJECTS[*s]).await.map_err(|e| e.to_string())?;
                model.reset(&buckets[*b], SUBJECTS[*s]);
            }
            Op::SetLimit(b, limit) => buckets[*b].limit = *limit,
        }
    }
    Ok(())
}

fn observed(state: &limiter::BucketState<'_>) -> Expected {
    Expected {
        used: state.used,
        remaining: state.remaining,
        reset: state.reset_at(),
        retry_after: state.retry_after,
    }
}
