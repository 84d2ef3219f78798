//! Minute rows are kept 48 hours, hour rows 90 days, account minutes 70 days, day rows forever;
//! pruning runs at most once a minute.

use crate::common::*;

async fn row_counts(db: &Database) -> [usize; 4] {
    [
        stored(db, Granularity::Minute).await.len(),
        stored(db, Granularity::Hour).await.len(),
        stored(db, Granularity::Day).await.len(),
        stored_account_minutes(db).await.len(),
    ]
}

on_both_backends! {
    async fn retention_prunes_old_minutes_and_hours_but_keeps_days(db: Database) {
        let recorder = UsageRecorder::new();
        let clock = clock_at(0);
        let mut flusher = flusher(&recorder, &db, &clock);
        let charged = |event| costing(1, event);
        record_all(&recorder, &[
            charged(allowed("acct_a", Some("key_1"), "reads", 0)),
            charged(allowed("acct_a", None, "", HOUR)),
        ]);
        flusher.flush_now().await.unwrap();
        assert_eq!(row_counts(&db).await, [2, 2, 2, 2]);

        // 49 h on, the first minute is past 48 h; the second, an hour younger, is not yet.
        clock.set(at(49 * HOUR));
        let pruned = flusher.flush_now().await.unwrap().pruned.unwrap();
        assert_eq!((pruned.minutes, pruned.hours, pruned.account_minutes), (1, 0, 0));
        clock.set(at(50 * HOUR));
        flusher.flush_now().await.unwrap();
        assert_eq!(row_counts(&db).await, [0, 2, 2, 2]);

        clock.set(at(71 * DAY));
        flusher.flush_now().await.unwrap();
        assert_eq!(row_counts(&db).await, [0, 2, 2, 0]);

        clock.set(at(91 * DAY));
        let pruned = flusher.flush_now().await.unwrap().pruned.unwrap();
        assert_eq!(pruned.hours, 2);
        assert_eq!(row_counts(&db).await, [0, 0, 2, 0]);

        clock.set(at(3_650 * DAY));
        flusher.flush_now().await.unwrap();
        assert_eq!(stored(&db, Granularity::Day).await.values().map(|c| c.requests).sum::<u64>(), 2);
    }

    async fn pruning_runs_at_most_once_a_minute(db: Database) {
        let recorder = UsageRecorder::new();
        let clock = clock_at(0);
        let mut flusher = flusher(&recorder, &db, &clock);
        assert!(flusher.flush_now().await.unwrap().pruned.is_some());
        assert!(flusher.flush_now().await.unwrap().pruned.is_none());
        clock.set(at(59));
        assert!(flusher.flush_now().await.unwrap().pruned.is_none());
        clock.set(at(60));
        assert!(flusher.flush_now().await.unwrap().pruned.is_some());
    }
}
