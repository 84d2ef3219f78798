//! Where a clock-aligned window starts and ends, in microseconds since the Unix epoch (UTC).
//!
//! Integer arithmetic only, so that `decide.lua` can do exactly the same sums in Redis: seconds,
//! minutes, hours and days are multiples of their length; a month runs from one billing anchor
//! day to the next, an anchor past a short month's end meaning that month's last day.
//! Conversions between days and civil dates follow Howard Hinnant's `days_from_civil`.

use std::cell::Cell;

/// Microseconds since 1970-01-01T00:00:00Z: the limiter's one time unit, exact in a Lua double.
pub(crate) type Micros = i64;

pub(crate) const SECOND: Micros = 1_000_000;
pub(crate) const MINUTE: Micros = 60 * SECOND;
pub(crate) const HOUR: Micros = 60 * MINUTE;
pub(crate) const DAY: Micros = 24 * HOUR;

/// `[start, end)` of the window of `length` that holds `now`.
pub(crate) fn aligned(now: Micros, length: Micros) -> (Micros, Micros) {
    let start = now - now.rem_euclid(length);
    (start, start + length)
}

thread_local! {
    /// The last billing month computed on this thread: (anchor day, start, end). Months
    /// partition time, so a hit is exact; it saves the civil-date sums on almost every request.
    static LAST_MONTH: Cell<(u32, Micros, Micros)> = const { Cell::new((0, 0, 0)) };
}

/// `[start, end)` of the billing month that holds `now`, for an anchor day in 1..=31.
pub(crate) fn month(now: Micros, anchor_day: u32) -> (Micros, Micros) {
    let (anchor, start, end) = LAST_MONTH.get();
    if anchor == anchor_day && start <= now && now < end {
        return (start, end);
    }
    let bounds = month_uncached(now, anchor_day);
    LAST_MONTH.set((anchor_day, bounds.0, bounds.1));
    bounds
}

fn month_uncached(now: Micros, anchor_day: u32) -> (Micros, Micros) {
    let today = now.div_euclid(DAY);
    let (year, month, day) = civil_from_days(today);
    let (mut y, mut m) = (year, month);
    if day < anchor_in(year, month, anchor_day) {
        (y, m) = previous_month(year, month);
    }
    let (ny, nm) = next_month(y, m);
    let start = days_from_civil(y, m, anchor_in(y, m, anchor_day));
    let end = days_from_civil(ny, nm, anchor_in(ny, nm, anchor_day));
    (start * DAY, end * DAY)
}

/// The anchor's day in that month: the anchor itself, or the month's last day if it is shorter.
fn anchor_in(year: i64, month: u32, anchor_day: u32) -> u32 {
    anchor_day.min(days_in_month(year, month))
}

fn previous_month(year: i64, month: u32) -> (i64, u32) {
    if month == 1 { (year - 1, 12) } else { (year, month - 1) }
}

fn next_month(year: i64, month: u32) -> (i64, u32) {
    if month == 12 { (year + 1, 1) } else { (year, month + 1) }
}

pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 31,
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01: (year, month 1..=12, day 1..=31).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=31, 1..=12).
    (year, day_or_month(month), day_or_month(day))
}

fn day_or_month(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate, TimeZone, Utc};

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> Micros {
        Utc.with_ymd_and_hms(y, m, d, h, min, s).single().map(|t| t.timestamp_micros()).unwrap_or_default()
    }

    #[test]
    fn civil_conversion_agrees_with_chrono_for_four_centuries() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        for days in -40_000..146_097 + 40_000 {
            let date = epoch + chrono::Duration::days(days);
            let expected = (i64::from(date.year()), date.month(), date.day());
            assert_eq!(civil_from_days(days), expected, "day {days}");
            assert_eq!(days_from_civil(expected.0, expected.1, expected.2), days);
        }
    }

    #[test]
    fn hour_is_aligned_to_the_clock_not_to_first_use() {
        let (start, end) = aligned(at(2026, 4, 20, 14, 58, 0), HOUR);
        assert_eq!(start, at(2026, 4, 20, 14, 0, 0));
        assert_eq!(end, at(2026, 4, 20, 15, 0, 0));
    }

    #[test]
    fn anchor_31_means_the_last_day_of_short_months() {
        assert_eq!(month(at(2025, 2, 10, 0, 0, 0), 31), (at(2025, 1, 31, 0, 0, 0), at(2025, 2, 28, 0, 0, 0)));
        assert_eq!(month(at(2024, 2, 29, 0, 0, 0), 31), (at(2024, 2, 29, 0, 0, 0), at(2024, 3, 31, 0, 0, 0)));
        assert_eq!(
            month(at(2025, 4, 30, 12, 0, 0), 31),
            (at(2025, 4, 30, 0, 0, 0), at(2025, 5, 31, 0, 0, 0))
        );
    }

    #[test]
    fn month_starts_on_the_anchor_at_midnight_utc() {
        assert_eq!(month(at(2026, 3, 1, 0, 0, 0), 1), (at(2026, 3, 1, 0, 0, 0), at(2026, 4, 1, 0, 0, 0)));
        assert_eq!(
            month(at(2026, 1, 14, 23, 59, 59), 15),
            (at(2025, 12, 15, 0, 0, 0), at(2026, 1, 15, 0, 0, 0))
        );
    }
}
