//! The charts, the per-key table, month-to-date totals and billing figures, read back from
//! flushed rollups.

use usage::{
    AccountUsage, BillingUsage, ChartSpan, KeyUsage, SeriesPoint, SeriesQuery, UsageError, UsageQueries,
};

use crate::common::*;

/// 12:30:15 on 2026-11-24, when the charts are drawn.
const NOW: i64 = 30 * MINUTE + 15;

async fn flushed(db: &Database, events: &[UsageEvent<'_>]) -> UsageQueries {
    let recorder = UsageRecorder::new();
    record_all(&recorder, events);
    flusher(&recorder, db, &clock_at(NOW)).flush_now().await.unwrap();
    UsageQueries::new(db.clone())
}

fn repeat(n: usize, event: UsageEvent<'static>) -> Vec<UsageEvent<'static>> {
    vec![event; n]
}

/// The non-zero points, as (index, allowed, limited).
fn busy(points: &[SeriesPoint]) -> Vec<(usize, u64, u64)> {
    points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.allowed + p.limited > 0)
        .map(|(i, p)| (i, p.allowed, p.limited))
        .collect()
}

fn key(key_id: Option<&str>, requests: u64, limited: u64, cost: u64) -> KeyUsage {
    KeyUsage { key_id: key_id.map(str::to_owned), counts: Counts { requests, limited, cost } }
}

on_both_backends! {
    async fn charts_have_a_point_per_minute_hour_and_day_zero_filled(db: Database) {
        let queries = flushed(&db, &[
            allowed("acct_a", Some("key_1"), "reads", -29 * MINUTE),
            limited("acct_a", Some("key_1"), "reads", -29 * MINUTE + 5),
            allowed("acct_a", Some("key_1"), "scans", 0),
            allowed("acct_a", Some("key_1"), "reads", 30 * MINUTE + 10),
            allowed("acct_a", Some("key_1"), "reads", -30 * MINUTE + 59),
            allowed("acct_a", Some("key_1"), "reads", -47 * HOUR),
            allowed("acct_a", Some("key_1"), "reads", -29 * DAY),
        ]).await;

        let hour = queries.series(&SeriesQuery::chart("acct_a", Some("key_1"), ChartSpan::LastHour, at(NOW))).await.unwrap();
        assert_eq!(hour.len(), 60);
        assert_eq!(hour[0].start, at(-29 * MINUTE));
        assert_eq!(hour[59].start, at(30 * MINUTE));
        assert!(hour.windows(2).all(|w| w[1].start - w[0].start == chrono::Duration::minutes(1)));
        assert_eq!(busy(&hour), vec![(0, 1, 1), (29, 1, 0), (59, 1, 0)]);

        let two_days = queries.series(&SeriesQuery::chart("acct_a", Some("key_1"), ChartSpan::LastTwoDays, at(NOW))).await.unwrap();
        assert_eq!(two_days.len(), 48);
        assert_eq!(two_days[0].start, at(-47 * HOUR));
        assert_eq!(busy(&two_days), vec![(0, 1, 0), (46, 2, 1), (47, 2, 0)]);

        let month = queries.series(&SeriesQuery::chart("acct_a", Some("key_1"), ChartSpan::LastThirtyDays, at(NOW))).await.unwrap();
        assert_eq!(month.len(), 30);
        assert_eq!(month[0].start, at(-29 * DAY - 12 * HOUR));
        assert_eq!(busy(&month), vec![(0, 1, 0), (27, 1, 0), (29, 4, 1)]);
    }

    async fn charts_filter_by_bucket(db: Database) {
        let queries = flushed(&db, &[
            allowed("acct_a", Some("key_1"), "reads", 0),
            limited("acct_a", Some("key_1"), "reads", 1),
            allowed("acct_a", Some("key_1"), "scans", 2),
            allowed("acct_a", Some("key_1"), "scans", MINUTE),
        ]).await;
        let chart = SeriesQuery::chart("acct_a", Some("key_1"), ChartSpan::LastHour, at(NOW));
        assert_eq!(busy(&queries.series(&chart).await.unwrap()), vec![(29, 2, 1), (30, 1, 0)]);
        assert_eq!(busy(&queries.series(&chart.in_bucket("reads")).await.unwrap()), vec![(29, 1, 1)]);
        assert_eq!(busy(&queries.series(&chart.in_bucket("scans")).await.unwrap()), vec![(29, 1, 0), (30, 1, 0)]);
        let exports = queries.series(&chart.in_bucket("exports")).await.unwrap();
        assert_eq!((exports.len(), busy(&exports)), (60, vec![]));
    }

    async fn a_chart_shows_one_key_or_the_whole_account_of_one_account(db: Database) {
        let queries = flushed(&db, &[
            allowed("acct_a", Some("key_1"), "reads", 0),
            allowed("acct_a", Some("key_2"), "reads", 0),
            allowed("acct_a", None, "", 0),
            allowed("acct_a", None, "", 1),
            allowed("acct_b", Some("key_1"), "reads", 0),
        ]).await;
        let chart = |account, key| SeriesQuery::chart(account, key, ChartSpan::LastHour, at(NOW));
        assert_eq!(busy(&queries.series(&chart("acct_a", Some("key_1"))).await.unwrap()), vec![(29, 1, 0)]);
        let whole_account = chart("acct_a", None);
        assert_eq!(busy(&queries.series(&whole_account).await.unwrap()), vec![(29, 4, 0)], "every row of the account");
        assert_eq!(busy(&queries.series(&whole_account.in_bucket("reads")).await.unwrap()), vec![(29, 2, 0)]);
        assert_eq!(busy(&queries.series(&chart("acct_c", Some("key_1"))).await.unwrap()), vec![]);
    }

    async fn a_chart_refuses_a_backwards_or_huge_range(db: Database) {
        let queries = UsageQueries::new(db);
        let backwards = SeriesQuery { from: at(NOW), to: at(0), ..SeriesQuery::chart("a", None, ChartSpan::LastHour, at(NOW)) };
        assert!(matches!(queries.series(&backwards).await, Err(UsageError::InvalidRange)));
        let huge = SeriesQuery { from: at(-365 * DAY), ..backwards };
        assert!(matches!(queries.series(&huge).await, Err(UsageError::TooManyPoints { .. })));
        let empty = SeriesQuery { from: at(0), to: at(0), ..backwards };
        assert_eq!(queries.series(&empty).await.unwrap(), vec![]);
    }

    async fn per_key_totals_and_month_to_date_cover_the_range(db: Database) {
        let november = at(-23 * DAY - 12 * HOUR);
        let queries = flushed(&db, &[
            repeat(3, allowed("acct_a", Some("key_1"), "reads", -23 * DAY - 12 * HOUR + 30)),
            vec![costing(5, limited("acct_a", Some("key_1"), "exports", 10 * MINUTE))],
            vec![costing(2, allowed("acct_a", Some("key_2"), "reads", 29 * MINUTE))],
            vec![costing(4, allowed("acct_a", Some("key_2"), "reads", NOW - 5))],
            repeat(2, allowed("acct_a", None, "", -14 * DAY)),
            vec![allowed("acct_a", Some("key_3"), "reads", -23 * DAY - 12 * HOUR - 1)],
            vec![allowed("acct_b", Some("key_1"), "reads", 0)],
        ].concat()).await;

        // The 1st's minute rows are long pruned: its day row answers.
        assert_eq!(
            queries.key_totals("acct_a", november, at(NOW)).await.unwrap(),
            vec![key(Some("key_1"), 4, 1, 5), key(None, 2, 0, 0), key(Some("key_2"), 2, 0, 6)]
        );
        assert_eq!(
            queries.account_totals("acct_a", november, at(NOW)).await.unwrap(),
            Counts { requests: 8, limited: 1, cost: 11 }
        );
        // Since 12:10 today: hours and minutes only.
        assert_eq!(
            queries.key_totals("acct_a", at(10 * MINUTE), at(NOW)).await.unwrap(),
            vec![key(Some("key_2"), 2, 0, 6), key(Some("key_1"), 1, 1, 5)]
        );
        // The previous month held only key_3's minute.
        assert_eq!(
            queries.account_totals("acct_a", at(-54 * DAY), november).await.unwrap(),
            Counts { requests: 1, limited: 0, cost: 0 }
        );
        assert_eq!(queries.key_totals("acct_c", november, at(NOW)).await.unwrap(), vec![]);
        assert_eq!(queries.account_totals("acct_c", november, at(NOW)).await.unwrap(), Counts::default());
    }

    async fn accounts_are_ranked_by_their_requests_over_the_last_day(db: Database) {
        let queries = flushed(&db, &[
            repeat(3, allowed("acct_a", Some("key_1"), "reads", -2 * HOUR)),
            vec![limited("acct_a", Some("key_2"), "reads", -10 * MINUTE)],
            repeat(5, allowed("acct_b", Some("key_9"), "reads", -23 * HOUR)),
            vec![allowed("acct_b", Some("key_9"), "reads", -25 * HOUR)],
            vec![allowed("acct_c", None, "", NOW - 5)],
            repeat(7, allowed("", None, "", -HOUR)),
        ].concat()).await;
        let usage = |account_id: &str, requests, limited| AccountUsage {
            account_id: account_id.to_owned(),
            counts: Counts { requests, limited, cost: 0 },
        };
        let day = (at(NOW) - chrono::Duration::hours(24), at(NOW));
        assert_eq!(
            queries.by_account(day.0, day.1).await.unwrap(),
            vec![usage("acct_b", 5, 0), usage("acct_a", 4, 1), usage("acct_c", 1, 0)],
            "the busiest first; yesterday's earlier call and calls without an account left out"
        );
        assert_eq!(queries.by_account(at(-60 * DAY), at(-50 * DAY)).await.unwrap(), vec![]);
    }

    async fn billing_reads_the_peak_minute_and_the_requests_above_the_free_number(db: Database) {
        let month = (at(-23 * DAY - 12 * HOUR), at(NOW));
        // Two gateway nodes: the 25-request minute is counted partly on each.
        let (node_a, node_b) = (UsageRecorder::new(), UsageRecorder::new());
        let charged = |event| costing(1, event);
        record_all(&node_a, &[
            repeat(5, charged(allowed("acct_a", Some("key_1"), "reads", -3 * DAY))),
            repeat(7, charged(allowed("acct_a", Some("key_1"), "reads", -2 * DAY))),
            repeat(5, charged(allowed("acct_a", Some("key_2"), "scans", -2 * DAY + 1))),
            repeat(3, limited("acct_a", Some("key_2"), "scans", -2 * DAY + 2)),
            repeat(15, charged(allowed("acct_a", Some("key_1"), "reads", -HOUR))),
            repeat(50, charged(allowed("acct_a", Some("key_1"), "reads", -30 * DAY))),
            // Served free (`GET /v1/limits`, exempt): charted, never billed.
            repeat(40, allowed("acct_a", Some("key_1"), "", -HOUR + 1)),
        ].concat());
        record_all(&node_b, &[
            repeat(10, charged(allowed("acct_a", Some("key_1"), "exports", -HOUR + 59))),
            repeat(100, charged(allowed("acct_b", Some("key_9"), "reads", -HOUR))),
        ].concat());
        let clock = clock_at(NOW);
        flusher(&node_a, &db, &clock).flush_now().await.unwrap();
        flusher(&node_b, &db, &clock).flush_now().await.unwrap();
        let queries = UsageQueries::new(db);

        assert_eq!(
            queries.peak_and_extra("acct_a", month.0, month.1, 10).await.unwrap(),
            BillingUsage { peak_rpm: 25, extra_requests: 2 + 15, served: 5 + 7 + 5 + 15 + 10 }
        );
        assert_eq!(
            queries.peak_and_extra("acct_a", month.0, month.1, 30).await.unwrap(),
            BillingUsage { peak_rpm: 25, extra_requests: 0, served: 42 }
        );
        assert_eq!(queries.peak_and_extra("acct_c", month.0, month.1, 10).await.unwrap(), BillingUsage::default());

        let minutes = queries.account_minutes("acct_a", month.0, month.1).await.unwrap();
        let minutes: Vec<_> = minutes.iter().map(|m| (m.start, m.counts.requests, m.counts.limited)).collect();
        assert_eq!(minutes, vec![(at(-3 * DAY), 5, 0), (at(-2 * DAY), 15, 3), (at(-HOUR), 25, 0)]);
    }
}
