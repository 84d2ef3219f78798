//! The bucket algorithms as pure functions: (rule, stored cell, now, cost) → verdict + report.
//!
//! Both stores call these, and `decide.lua` is a line-for-line transcription of them, so the
//! memory store and Redis decide identically (the conformance suite checks it). A denial is a
//! value ([`Verdict::Deny`] with its wait), never an error.
//!
//! - Fixed windows keep `(window start, count)`; a cell from an earlier window counts as empty,
//!   so a limit change keeps the count and a new window needs no sweeping.
//! - GCRA keeps the theoretical arrival time (TAT). With `T = period / limit` (rounded up, so
//!   the rate is never exceeded) and tolerance `τ = T × burst`, a request of `cost` is admitted
//!   iff `max(TAT, now) + T·cost − now ≤ τ`. The bucket is full again at `TAT`.

use crate::bucket::{BucketSpec, Window};
use crate::calendar::{self, DAY, HOUR, MINUTE, Micros, SECOND};
use crate::store::StoreError;

/// Limits and costs are clamped to this, so every sum stays exact in a Lua double (2^53).
pub const MAX_UNITS: u64 = 1 << 50;
/// GCRA periods are clamped to about a century.
const MAX_PERIOD: Micros = 36_600 * DAY;
/// GCRA tolerances are clamped to 2^52 µs (about 142 years).
const MAX_TOLERANCE: Micros = 1 << 52;

/// What a store keeps per bucket: the window start and count, or the GCRA TAT (count unused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Cell {
    pub at: Micros,
    pub count: u64,
}

/// A bucket's state as a client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Report {
    pub used: u64,
    pub remaining: u64,
    pub reset: Micros,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Admitted; `Some` holds the cell to store and when it becomes equal to an empty one.
    Admit(Option<(Cell, Micros)>),
    /// Denied; the request could pass after this many microseconds.
    Deny(Micros),
}

/// A charge's verdict and the bucket's report: after the charge if admitted, as it was if not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub verdict: Verdict,
    pub report: Report,
}

impl Outcome {
    /// A placeholder before a charge is evaluated.
    pub(crate) const UNDECIDED: Outcome =
        Outcome { verdict: Verdict::Admit(None), report: Report { used: 0, remaining: 0, reset: 0 } };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Span {
    Length(Micros),
    Month(u32),
}

/// A validated, clamped bucket rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    Fixed {
        limit: u64,
        span: Span,
    },
    Gcra {
        /// `T`: the emission interval.
        interval: Micros,
        /// `τ = T × burst`.
        tolerance: Micros,
        /// `τ / T`: the most one request may cost.
        capacity: u64,
        period: Micros,
    },
}

/// A short code for a window's kind: part of every store key, so a window change starts afresh.
pub(crate) fn kind_code(window: &Window) -> &'static str {
    match window {
        Window::Second => "s",
        Window::Minute => "m",
        Window::Hour => "h",
        Window::Day => "d",
        Window::Month { .. } => "M",
        Window::Gcra { .. } => "g",
    }
}

/// A cost clamped so that it is still larger than any (clamped) limit if it was.
pub(crate) fn clamp_cost(cost: u64) -> u64 {
    cost.min(MAX_UNITS + 1)
}

impl Rule {
    pub(crate) fn of(spec: &BucketSpec) -> Result<Rule, StoreError> {
        let invalid = |reason: &'static str| StoreError::InvalidBucket { name: spec.name.clone(), reason };
        let limit = spec.limit.min(MAX_UNITS);
        let fixed = |span| Ok(Rule::Fixed { limit, span });
        match spec.window {
            Window::Second => fixed(Span::Length(SECOND)),
            Window::Minute => fixed(Span::Length(MINUTE)),
            Window::Hour => fixed(Span::Length(HOUR)),
            Window::Day => fixed(Span::Length(DAY)),
            Window::Month { anchor_day } => match anchor_day {
                1..=31 => fixed(Span::Month(u32::from(anchor_day))),
                _ => Err(invalid("a monthly anchor day must be between 1 and 31")),
            },
            Window::Gcra { period, burst } => {
                let period = period.num_microseconds().unwrap_or(MAX_PERIOD).min(MAX_PERIOD);
                if period <= 0 {
                    return Err(invalid("a GCRA period must be positive"));
                }
                if limit == 0 {
                    return Err(invalid("a GCRA bucket needs a limit of at least 1"));
                }
                if burst == 0 {
                    return Err(invalid("a GCRA burst must be at least 1"));
                }
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let interval = (period + limit - 1) / limit;
                let tolerance = interval.saturating_mul(i64::from(burst)).min(MAX_TOLERANCE);
                let capacity = u64::try_from(tolerance / interval).unwrap_or(0);
                Ok(Rule::Gcra { interval, tolerance, capacity, period })
            }
        }
    }

    /// `[start, end)` of a fixed window at `now`.
    pub(crate) fn bounds(span: Span, now: Micros) -> (Micros, Micros) {
        match span {
            Span::Length(length) => calendar::aligned(now, length),
            Span::Month(anchor) => calendar::month(now, anchor),
        }
    }

    /// The bucket as it stands at `now`, charging nothing.
    pub(crate) fn current(&self, cell: Option<Cell>, now: Micros) -> Report {
        match *self {
            Rule::Fixed { limit, span } => {
                let (start, end) = Self::bounds(span, now);
                let count = fixed_count(cell, start);
                fixed_report(limit, count, end)
            }
            Rule::Gcra { interval, tolerance, capacity, .. } => {
                let tat = gcra_tat(cell, now);
                gcra_report(interval, tolerance, capacity, tat, now)
            }
        }
    }

    /// Try to take `cost` (already clamped) units at `now`.
    pub(crate) fn charge(&self, cell: Option<Cell>, now: Micros, cost: u64) -> Outcome {
        match *self {
            Rule::Fixed { limit, span } => {
                let (start, end) = Self::bounds(span, now);
                let count = fixed_count(cell, start);
                if cost > limit || count.saturating_add(cost) > limit {
                    return Outcome {
                        verdict: Verdict::Deny(end - now),
                        report: fixed_report(limit, count, end),
                    };
                }
                if cost == 0 {
                    return Outcome {
                        verdict: Verdict::Admit(None),
                        report: fixed_report(limit, count, end),
                    };
                }
                let count = count + cost;
                Outcome {
                    verdict: Verdict::Admit(Some((Cell { at: start, count }, end))),
                    report: fixed_report(limit, count, end),
                }
            }
            Rule::Gcra { interval, tolerance, capacity, period } => {
                let tat = gcra_tat(cell, now);
                let report = |tat| gcra_report(interval, tolerance, capacity, tat, now);
                if cost > capacity {
                    // Never admissible under this rule: wait at least a period, like seed 002.
                    return Outcome { verdict: Verdict::Deny((tat - now).max(period)), report: report(tat) };
                }
                // cost ≤ capacity ≤ 2^52 / interval, so this cannot overflow.
                let next = tat + interval * i64::try_from(cost).unwrap_or(0);
                if next - now > tolerance {
                    return Outcome { verdict: Verdict::Deny(next - tolerance - now), report: report(tat) };
                }
                if cost == 0 {
                    return Outcome { verdict: Verdict::Admit(None), report: report(tat) };
                }
                Outcome {
                    verdict: Verdict::Admit(Some((Cell { at: next, count: 0 }, next))),
                    report: report(next),
                }
            }
        }
    }
}

fn fixed_count(cell: Option<Cell>, start: Micros) -> u64 {
    match cell {
        Some(cell) if cell.at == start => cell.count,
        _ => 0,
    }
}

fn fixed_report(limit: u64, count: u64, end: Micros) -> Report {
    Report { used: count, remaining: limit.saturating_sub(count), reset: end }
}

fn gcra_tat(cell: Option<Cell>, now: Micros) -> Micros {
    cell.map_or(now, |cell| cell.at.max(now))
}

fn gcra_report(interval: Micros, tolerance: Micros, capacity: u64, tat: Micros, now: Micros) -> Report {
    // Negative only if the clock went backwards past a stored TAT.
    let room = (tolerance - (tat - now)).max(0);
    let remaining = u64::try_from(room / interval).unwrap_or(0).min(capacity);
    Report { used: capacity - remaining, remaining, reset: tat }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::Scope;
    use chrono::Duration;

    fn gcra(limit: u64, period_ms: i64, burst: u32) -> Rule {
        let spec = BucketSpec::new(
            "burst",
            limit,
            Window::Gcra { period: Duration::milliseconds(period_ms), burst },
            Scope::Key,
        );
        Rule::of(&spec).unwrap_or(Rule::Fixed { limit: 0, span: Span::Length(SECOND) })
    }

    fn admitted(outcome: &Outcome) -> Option<Cell> {
        match outcome.verdict {
            Verdict::Admit(next) => Some(next.map_or(Cell::default(), |(cell, _)| cell)),
            Verdict::Deny(_) => None,
        }
    }

    #[test]
    fn gcra_admits_the_burst_then_one_per_interval() {
        let rule = gcra(5, 1_000, 5);
        let now = 1_000_000_000;
        let mut cell = None;
        for remaining in (0..5).rev() {
            let outcome = rule.charge(cell, now, 1);
            cell = admitted(&outcome);
            assert!(cell.is_some());
            assert_eq!(outcome.report.remaining, remaining);
        }
        let denied = rule.charge(cell, now, 1);
        assert_eq!(denied.verdict, Verdict::Deny(200_000));
        assert_eq!(denied.report.reset, now + 1_000_000);
        assert!(admitted(&rule.charge(cell, now + 200_000, 1)).is_some());
    }

    #[test]
    fn gcra_cost_above_burst_is_never_admitted_and_waits_a_period() {
        let rule = gcra(5, 1_000, 5);
        let outcome = rule.charge(None, 0, 6);
        assert_eq!(outcome.verdict, Verdict::Deny(1_000_000));
        assert_eq!(outcome.report.remaining, 5);
    }

    #[test]
    fn fixed_window_remaining_is_never_negative_after_a_limit_cut() {
        let rule = Rule::Fixed { limit: 3, span: Span::Length(MINUTE) };
        let cell = Some(Cell { at: 0, count: 10 });
        let outcome = rule.charge(cell, 5, 1);
        assert_eq!(outcome.verdict, Verdict::Deny(MINUTE - 5));
        assert_eq!(outcome.report.remaining, 0);
        assert_eq!(outcome.report.used, 10);
    }

    #[test]
    fn invalid_gcra_rules_are_errors_not_panics() {
        let spec = |limit, burst, ms| {
            BucketSpec::new(
                "b",
                limit,
                Window::Gcra { period: Duration::milliseconds(ms), burst },
                Scope::Key,
            )
        };
        assert!(Rule::of(&spec(0, 1, 1_000)).is_err());
        assert!(Rule::of(&spec(1, 0, 1_000)).is_err());
        assert!(Rule::of(&spec(1, 1, 0)).is_err());
        assert!(Rule::of(&spec(u64::MAX, u32::MAX, i64::MAX / 2)).is_ok());
    }
}
