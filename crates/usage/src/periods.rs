//! UTC minutes, hours and days: the rollups' granularities, the dashboard's chart spans, and how
//! a time range splits into whole days, hours and minutes so it reads the coarsest rollup that
//! covers each part.
//!
//! Instants are epoch milliseconds here, as in the database.

use chrono::{DateTime, Utc};

pub(crate) const MINUTE_MS: i64 = 60_000;
pub(crate) const HOUR_MS: i64 = 60 * MINUTE_MS;
pub(crate) const DAY_MS: i64 = 24 * HOUR_MS;

/// The size of a rollup's buckets, and of a chart's points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Granularity {
    Minute,
    Hour,
    Day,
}

impl Granularity {
    /// The length of one bucket in milliseconds.
    pub fn millis(self) -> i64 {
        match self {
            Granularity::Minute => MINUTE_MS,
            Granularity::Hour => HOUR_MS,
            Granularity::Day => DAY_MS,
        }
    }

    /// The start of the UTC minute, hour or day holding `at`.
    pub fn floor(self, at: DateTime<Utc>) -> DateTime<Utc> {
        from_millis(self.floor_ms(at.timestamp_millis()))
    }

    /// The end of the minute, hour or day holding `at`: "up to now" for a query that counts
    /// whole buckets, this one included.
    pub fn end_of(self, at: DateTime<Utc>) -> DateTime<Utc> {
        from_millis(self.floor_ms(at.timestamp_millis()).saturating_add(self.millis()))
    }

    pub(crate) fn floor_ms(self, millis: i64) -> i64 {
        millis.div_euclid(self.millis()) * self.millis()
    }

    pub(crate) fn ceil_ms(self, millis: i64) -> i64 {
        let floor = self.floor_ms(millis);
        if floor == millis { floor } else { floor.saturating_add(self.millis()) }
    }

    /// The rollup table of this granularity.
    pub(crate) fn table(self) -> &'static str {
        match self {
            Granularity::Minute => "usage_minutes",
            Granularity::Hour => "usage_hours",
            Granularity::Day => "usage_days",
        }
    }

    fn finer(self) -> Option<Granularity> {
        match self {
            Granularity::Minute => None,
            Granularity::Hour => Some(Granularity::Minute),
            Granularity::Day => Some(Granularity::Hour),
        }
    }
}

/// The dashboard's usage charts: requests per minute over the last hour, per hour over the
/// last 48 hours, per day over the last 30 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChartSpan {
    LastHour,
    LastTwoDays,
    LastThirtyDays,
}

impl ChartSpan {
    pub fn granularity(self) -> Granularity {
        match self {
            ChartSpan::LastHour => Granularity::Minute,
            ChartSpan::LastTwoDays => Granularity::Hour,
            ChartSpan::LastThirtyDays => Granularity::Day,
        }
    }

    /// How many points the chart has.
    pub fn points(self) -> i64 {
        match self {
            ChartSpan::LastHour => 60,
            ChartSpan::LastTwoDays => 48,
            ChartSpan::LastThirtyDays => 30,
        }
    }

    /// `[from, to)` of the chart at `now`: its last point is the minute, hour or day holding
    /// `now`, still filling.
    pub fn range(self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let step = self.granularity().millis();
        let to = self.granularity().floor_ms(now.timestamp_millis()).saturating_add(step);
        (from_millis(to - self.points() * step), from_millis(to))
    }
}

/// Part of a time range that one rollup table answers: its buckets starting in `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece {
    pub granularity: Granularity,
    pub from: i64,
    pub to: i64,
}

/// Splits the minutes starting in `[from, to)` into whole days, then whole hours at the edges,
/// then the remaining minutes: at most five pieces. A range ending at "now" reads today's hours
/// and this hour's minutes, which retention keeps; a range whose ragged start is older than the
/// minute (48 h) or hour (90 days) retention undercounts that edge.
pub(crate) fn pieces(from: i64, to: i64) -> Vec<Piece> {
    let mut out = Vec::with_capacity(5);
    split(Granularity::Day, Granularity::Minute.ceil_ms(from), Granularity::Minute.ceil_ms(to), &mut out);
    out
}

fn split(granularity: Granularity, from: i64, to: i64, out: &mut Vec<Piece>) {
    if from >= to {
        return;
    }
    let Some(finer) = granularity.finer() else {
        out.push(Piece { granularity, from, to });
        return;
    };
    let (whole_from, whole_to) = (granularity.ceil_ms(from), granularity.floor_ms(to));
    if whole_from < whole_to {
        split(finer, from, whole_from, out);
        out.push(Piece { granularity, from: whole_from, to: whole_to });
        split(finer, whole_to, to, out);
    } else {
        split(finer, from, to, out);
    }
}

/// Epoch milliseconds to an instant; out-of-range values (never stored) become the epoch.
pub(crate) fn from_millis(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

/// `so_far`, counted over `[start, now)`, per second. At least a minute counts as elapsed, so a
/// period's first seconds do not project wildly.
pub fn pace_per_second(so_far: u64, start: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    so_far as f64 / (now - start).num_seconds().max(60) as f64
}

/// `so_far`, counted over `[start, now)`, extended to the whole period `[start, end)` at the
/// same pace: the dashboard's month-end projections.
pub fn at_this_pace(so_far: u64, start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    (pace_per_second(so_far, start, now) * (end - start).num_seconds() as f64).round() as u64
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn ten_days_into_a_thirty_day_month_projects_three_times_as_much() {
        let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let ten_days_in = Utc.with_ymd_and_hms(2026, 11, 11, 0, 0, 0).unwrap();
        assert_eq!(at_this_pace(4_000, start, end, ten_days_in), 12_000);
        // The first seconds count as a minute: 10 requests in 5 s are not 5 million a month.
        assert_eq!(at_this_pace(10, start, end, start + chrono::Duration::seconds(5)), 432_000);
    }

    #[test]
    fn a_bucket_ends_where_the_next_begins_even_at_its_first_instant() {
        let at = |h, m, s| Utc.with_ymd_and_hms(2026, 11, 24, h, m, s).unwrap();
        assert_eq!(Granularity::Minute.end_of(at(12, 34, 56)), at(12, 35, 0));
        assert_eq!(Granularity::Minute.end_of(at(12, 35, 0)), at(12, 36, 0));
        assert_eq!(Granularity::Hour.end_of(at(12, 0, 0)), at(13, 0, 0));
    }

    fn at(d: u32, h: u32, m: u32, s: u32) -> i64 {
        Utc.with_ymd_and_hms(2026, 11, d, h, m, s).unwrap().timestamp_millis()
    }

    fn piece(granularity: Granularity, from: i64, to: i64) -> Piece {
        Piece { granularity, from, to }
    }

    #[test]
    fn month_to_date_reads_days_then_todays_hours_then_this_hours_minutes() {
        assert_eq!(
            pieces(at(1, 0, 0, 0), at(24, 12, 34, 56)),
            vec![
                piece(Granularity::Day, at(1, 0, 0, 0), at(24, 0, 0, 0)),
                piece(Granularity::Hour, at(24, 0, 0, 0), at(24, 12, 0, 0)),
                piece(Granularity::Minute, at(24, 12, 0, 0), at(24, 12, 35, 0)),
            ]
        );
    }

    #[test]
    fn ragged_start_reads_minutes_and_hours_before_the_first_whole_day() {
        assert_eq!(
            pieces(at(2, 22, 30, 0), at(4, 1, 0, 0)),
            vec![
                piece(Granularity::Minute, at(2, 22, 30, 0), at(2, 23, 0, 0)),
                piece(Granularity::Hour, at(2, 23, 0, 0), at(3, 0, 0, 0)),
                piece(Granularity::Day, at(3, 0, 0, 0), at(4, 0, 0, 0)),
                piece(Granularity::Hour, at(4, 0, 0, 0), at(4, 1, 0, 0)),
            ]
        );
    }

    #[test]
    fn a_minute_counts_when_it_starts_inside_the_range() {
        // 12:00:30 to 12:02:10 holds the minutes starting 12:01 and 12:02.
        assert_eq!(
            pieces(at(5, 12, 0, 30), at(5, 12, 2, 10)),
            vec![piece(Granularity::Minute, at(5, 12, 1, 0), at(5, 12, 3, 0))]
        );
        assert_eq!(pieces(at(5, 12, 0, 30), at(5, 12, 0, 50)), vec![]);
        assert_eq!(pieces(at(5, 13, 0, 0), at(5, 12, 0, 0)), vec![]);
    }

    #[test]
    fn pieces_cover_the_range_without_gaps_or_overlaps() {
        let starts = [at(1, 0, 0, 0), at(1, 0, 0, 1), at(3, 17, 59, 59), at(9, 23, 0, 0)];
        let ends = [at(9, 23, 0, 0), at(10, 0, 0, 0), at(12, 4, 5, 6), at(30, 23, 59, 59)];
        for from in starts {
            for to in ends {
                let pieces = pieces(from, to);
                let mut cursor = Granularity::Minute.ceil_ms(from);
                for p in &pieces {
                    assert_eq!(p.from, cursor);
                    assert!(p.from < p.to);
                    assert_eq!(p.granularity.floor_ms(p.from), p.from);
                    assert_eq!(p.granularity.floor_ms(p.to), p.to);
                    cursor = p.to;
                }
                assert_eq!(cursor, Granularity::Minute.ceil_ms(to));
            }
        }
    }

    #[test]
    fn chart_spans_end_with_the_current_bucket() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 12, 34, 56).unwrap();
        let (from, to) = ChartSpan::LastHour.range(now);
        assert_eq!((from.timestamp_millis(), to.timestamp_millis()), (at(24, 11, 35, 0), at(24, 12, 35, 0)));
        let (from, to) = ChartSpan::LastTwoDays.range(now);
        assert_eq!((from.timestamp_millis(), to.timestamp_millis()), (at(22, 13, 0, 0), at(24, 13, 0, 0)));
        let (from, to) = ChartSpan::LastThirtyDays.range(now);
        assert_eq!(
            (from.timestamp_millis(), to.timestamp_millis()),
            (at(25, 0, 0, 0) - 30 * DAY_MS, at(25, 0, 0, 0))
        );
    }

    #[test]
    fn floors_before_the_epoch_round_down() {
        assert_eq!(Granularity::Minute.floor_ms(-1), -MINUTE_MS);
        assert_eq!(Granularity::Hour.ceil_ms(1), HOUR_MS);
        assert_eq!(Granularity::Hour.ceil_ms(0), 0);
    }
}
