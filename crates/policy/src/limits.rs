//! Limits and buckets: how many requests per which window, and whose requests they count.
//!
//! The file writes a limit in one of two forms, and [`Limit`] is that choice as a type:
//! - a clock-aligned fixed window: `limit = 60, window = "minute"` (`second`, `minute`, `hour`,
//!   `day`, or `month`, which starts on the account's billing anchor day);
//! - GCRA, for bursts: `rate = 5, per = "second", burst = 5` (`burst` defaults to `rate`).
//!
//! A [`crate::Bucket`] adds whose requests it counts and whether it fails closed. Shape errors
//! (both forms at once, neither, a misspelt key) are refused while parsing; values that parse
//! but make no sense (zero limits) are reported by validation with their field path.

use std::fmt;
use std::str::FromStr;

use limiter::{BucketSpec, Scope, Window};
use serde::{Deserialize, Serialize};

use crate::validation::{FieldPath, Violations};

/// The clock-aligned fixed windows a policy can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FixedWindow {
    Second,
    Minute,
    Hour,
    Day,
    /// A calendar month from the account's billing anchor day, 00:00 UTC.
    Month,
}

impl FixedWindow {
    /// The limiter's window; `anchor_day` only matters for [`FixedWindow::Month`].
    pub fn to_window(self, anchor_day: u8) -> Window {
        match self {
            FixedWindow::Second => Window::Second,
            FixedWindow::Minute => Window::Minute,
            FixedWindow::Hour => Window::Hour,
            FixedWindow::Day => Window::Day,
            FixedWindow::Month => Window::Month { anchor_day },
        }
    }

    /// The window's length in seconds; `None` for a month, whose length varies.
    pub fn seconds(self) -> Option<u64> {
        window_seconds(&self.to_window(1))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FixedWindow::Second => "second",
            FixedWindow::Minute => "minute",
            FixedWindow::Hour => "hour",
            FixedWindow::Day => "day",
            FixedWindow::Month => "month",
        }
    }
}

/// A whole number of seconds, written `"second"`, `"minute"`, `"hour"`, `"day"`,
/// `"15 minutes"`, `"90 seconds"` or `"15m"` (units `s`, `m`, `h`, `d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Period {
    seconds: u64,
}

/// A period string that is not one of the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a period: write `second`, `minute`, `hour`, `day`, or a count and a unit such as `15 minutes` or `90s`"
)]
pub struct PeriodError(pub String);

impl Period {
    pub const fn from_seconds(seconds: u64) -> Self {
        Period { seconds }
    }

    pub fn seconds(self) -> u64 {
        self.seconds
    }

    pub fn to_duration(self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.seconds).unwrap_or(i64::MAX))
    }
}

fn unit_seconds(unit: &str) -> Option<u64> {
    match unit {
        "s" | "sec" | "second" | "seconds" => Some(1),
        "m" | "min" | "minute" | "minutes" => Some(60),
        "h" | "hour" | "hours" => Some(3_600),
        "d" | "day" | "days" => Some(86_400),
        _ => None,
    }
}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refuse = || PeriodError(text.to_owned());
        let trimmed = text.trim();
        let digits = trimmed.len() - trimmed.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let (count, unit) = trimmed.split_at(digits);
        let count = if count.is_empty() { 1 } else { count.parse::<u64>().map_err(|_| refuse())? };
        let unit = unit_seconds(unit.trim()).ok_or_else(refuse)?;
        count.checked_mul(unit).map(Period::from_seconds).ok_or_else(refuse)
    }
}

impl TryFrom<String> for Period {
    type Error = PeriodError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [(86_400, "day"), (3_600, "hour"), (60, "minute"), (1, "second")];
        let (size, name) =
            units.into_iter().find(|(size, _)| self.seconds.is_multiple_of(*size)).unwrap_or((1, "second"));
        match self.seconds / size {
            1 => f.write_str(name),
            count => write!(f, "{count} {name}s"),
        }
    }
}

impl From<Period> for String {
    fn from(period: Period) -> Self {
        period.to_string()
    }
}

/// The length of a limiter window in seconds, for `RateLimit-Policy`'s `w=` and seed 001's
/// `window_seconds` (a GCRA window is its period); `None` for a month, whose length varies.
pub fn window_seconds(window: &Window) -> Option<u64> {
    match window {
        Window::Second => Some(1),
        Window::Minute => Some(60),
        Window::Hour => Some(3_600),
        Window::Day => Some(86_400),
        Window::Month { .. } => None,
        Window::Gcra { period, .. } => u64::try_from(period.num_seconds()).ok(),
    }
}

/// A limiter window in words, as `X-RateLimit-Policy: ...;window=hour` writes it: `second`,
/// `minute`, `hour`, `day`, `month`, or a GCRA period such as `15 minutes`.
pub fn window_label(window: &Window) -> String {
    let fixed = match window {
        Window::Second => FixedWindow::Second,
        Window::Minute => FixedWindow::Minute,
        Window::Hour => FixedWindow::Hour,
        Window::Day => FixedWindow::Day,
        Window::Month { .. } => FixedWindow::Month,
        Window::Gcra { .. } => {
            let seconds = window_seconds(window).unwrap_or(0);
            return Period::from_seconds(seconds).to_string();
        }
    };
    fixed.as_str().to_owned()
}

/// How many requests per which window: one of the file's two forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "crate::buckets::LimitFields", into = "crate::buckets::LimitFields")]
pub enum Limit {
    /// `limit` requests per clock-aligned `window`.
    Fixed { limit: u64, window: FixedWindow },
    /// GCRA: `rate` requests per `per`, smoothly, with up to `burst` at once.
    Gcra { rate: u64, per: Period, burst: u32 },
}

impl Limit {
    /// How many requests the limit allows: `limit` or `rate`.
    pub fn count(&self) -> u64 {
        match *self {
            Limit::Fixed { limit, .. } => limit,
            Limit::Gcra { rate, .. } => rate,
        }
    }

    /// The same limit allowing `count` requests. A GCRA burst scales with its rate (rounded,
    /// at least 1), so `5 per second, burst 5` overridden to 50 becomes `50 per second, burst 50`.
    pub fn with_count(self, count: u64) -> Limit {
        match self {
            Limit::Fixed { window, .. } => Limit::Fixed { limit: count, window },
            Limit::Gcra { rate, per, burst } => {
                let scaled = u128::from(burst) * u128::from(count) / u128::from(rate.max(1));
                let burst = u32::try_from(scaled.max(1)).unwrap_or(u32::MAX);
                Limit::Gcra { rate: count, per, burst }
            }
        }
    }

    /// The limiter's window for this limit; `anchor_day` is used by a month window only.
    pub fn window(&self, anchor_day: u8) -> Window {
        match *self {
            Limit::Fixed { window, .. } => window.to_window(anchor_day),
            Limit::Gcra { per, burst, .. } => Window::Gcra { period: per.to_duration(), burst },
        }
    }

    /// The limiter bucket `name` with this limit, counted per `scope`.
    pub fn spec(&self, name: &str, scope: Scope, anchor_day: u8) -> BucketSpec {
        BucketSpec::new(name, self.count(), self.window(anchor_day), scope)
    }

    /// Window length in seconds for headers (`w=` and `window_seconds`); `None` for a month.
    pub fn window_seconds(&self) -> Option<u64> {
        window_seconds(&self.window(1))
    }

    /// The window in words, as `X-RateLimit-Policy` writes it: `hour`, `minute`, `15 minutes`.
    pub fn window_label(&self) -> String {
        window_label(&self.window(1))
    }

    /// The limit in words, for people: `100,000 per month`, `60 per minute`, `20 per second, burst 20`.
    pub fn describe(&self) -> String {
        match *self {
            Limit::Fixed { limit, window } => {
                format!("{} per {}", numbers::thousands(limit), window.as_str())
            }
            Limit::Gcra { rate, per, burst } => {
                format!("{} per {per}, burst {burst}", numbers::thousands(rate))
            }
        }
    }

    /// Whether this limit needs the account's billing anchor day.
    pub fn is_monthly(&self) -> bool {
        matches!(self, Limit::Fixed { window: FixedWindow::Month, .. })
    }

    pub(crate) fn check(&self, path: &FieldPath, out: &mut Violations) {
        match *self {
            Limit::Fixed { limit: 0, .. } => out.push(path.key("limit"), "must be at least 1"),
            Limit::Fixed { limit, .. } if limit > limiter::MAX_UNITS => {
                out.push(path.key("limit"), too_many_units());
            }
            Limit::Fixed { .. } => {}
            Limit::Gcra { rate, per, burst } => {
                if rate == 0 {
                    out.push(path.key("rate"), "a GCRA rate must be at least 1");
                } else if rate > limiter::MAX_UNITS {
                    out.push(path.key("rate"), too_many_units());
                }
                if per.seconds() == 0 {
                    out.push(path.key("per"), "a GCRA period must be longer than zero");
                }
                if burst == 0 {
                    out.push(path.key("burst"), "a GCRA burst must be at least 1");
                }
            }
        }
    }
}

/// The message for a count above what the limiter counts exactly.
pub(crate) fn too_many_units() -> String {
    format!("must be at most {} (what the limiter counts exactly)", limiter::MAX_UNITS)
}
