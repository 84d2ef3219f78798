//! A flush that fails keeps its counts for the next one, never drops or repeats them; a
//! graceful shutdown flushes everything.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;

fn some_traffic() -> Vec<UsageEvent<'static>> {
    vec![
        allowed("acct_a", Some("key_1"), "reads", 0),
        costing(7, limited("acct_a", Some("key_1"), "reads", 1)),
        allowed("acct_a", None, "", 2 * HOUR),
    ]
}

async fn rename(db: &Database, from: &str, to: &str) {
    sqlx::query(&format!("ALTER TABLE {from} RENAME TO {to}")).execute(db.pool()).await.unwrap();
}

on_both_backends! {
    async fn a_failed_flush_writes_nothing_and_the_next_writes_everything_once(db: Database) {
        let recorder = UsageRecorder::new();
        let mut flusher = flusher(&recorder, &db, &clock_at(0));
        let before = some_traffic();
        record_all(&recorder, &before);
        // The minute rows go in first; the hour table is missing, so the transaction fails
        // halfway and must leave nothing behind.
        rename(&db, "usage_hours", "usage_hours_away").await;
        assert!(flusher.flush_now().await.is_err());
        assert_eq!(recorder.pending_counts(), total(&before));
        assert_eq!(stored(&db, Granularity::Minute).await, Rollup::new());

        let during = vec![allowed("acct_a", Some("key_1"), "reads", 3), allowed("acct_b", None, "", 4)];
        record_all(&recorder, &during);
        rename(&db, "usage_hours_away", "usage_hours").await;
        let report = flusher.flush_now().await.unwrap();
        let everything = [before, during].concat();
        assert_eq!(report.counts, total(&everything));
        assert_rollups_hold(&db, &everything).await;
        assert_eq!(recorder.pending_rows(), 0);
    }

    async fn counts_survive_a_closed_pool_and_reach_the_database_on_a_new_one(backend: Backend) {
        let url = testing::fresh_database_url(backend).await;
        let (first, second) = (Database::connect(&url).await.unwrap(), Database::connect(&url).await.unwrap());
        let recorder = UsageRecorder::new();
        let events = some_traffic();
        record_all(&recorder, &events);
        first.close().await;
        assert!(flusher(&recorder, &first, &clock_at(0)).flush_now().await.is_err());
        assert_eq!(recorder.pending_counts(), total(&events));

        flusher(&recorder, &second, &clock_at(0)).flush_now().await.unwrap();
        assert_rollups_hold(&second, &events).await;
    }

    async fn shutdown_flushes_everything_left(db: Database) {
        let recorder = UsageRecorder::new();
        let flushing = recorder.spawn_flusher(db.clone(), Arc::new(clock_at(0)), Duration::from_secs(3_600));
        let events = some_traffic();
        record_all(&recorder, &events);
        let report = flushing.shutdown().await.unwrap();
        assert_eq!(report.counts, total(&events));
        assert_rollups_hold(&db, &events).await;
        assert_eq!(recorder.pending_rows(), 0);
    }

    async fn a_failed_last_flush_says_so_and_keeps_the_counts(db: Database) {
        let recorder = UsageRecorder::new();
        let flushing = recorder.spawn_flusher(db.clone(), Arc::new(clock_at(0)), Duration::from_secs(3_600));
        let events = some_traffic();
        record_all(&recorder, &events);
        rename(&db, "usage_days", "usage_days_away").await;
        assert!(flushing.shutdown().await.is_err());
        assert_eq!(recorder.pending_counts(), total(&events));
    }

    async fn the_interval_flushes_without_being_asked(db: Database) {
        let recorder = UsageRecorder::new();
        let events = some_traffic();
        record_all(&recorder, &events);
        let flushing = recorder.spawn_flusher(db.clone(), Arc::new(clock_at(0)), Duration::from_millis(10));
        let mut status = flushing.status();
        // Waits for the first tick's flush to be reported (the bound only stops a broken test).
        tokio::time::timeout(Duration::from_secs(30), status.wait_for(|s| s.flushes >= 1))
            .await
            .expect("the flusher reports a flush")
            .unwrap();
        assert_rollups_hold(&db, &events).await;
        assert_eq!(flushing.shutdown().await.unwrap().rows, 0);
    }

    async fn the_status_counts_failures_in_a_row_until_a_flush_succeeds(db: Database) {
        let recorder = UsageRecorder::new();
        let events = some_traffic();
        record_all(&recorder, &events);
        rename(&db, "usage_minutes", "usage_minutes_away").await;
        let flushing = recorder.spawn_flusher(db.clone(), Arc::new(clock_at(0)), Duration::from_millis(10));
        let mut status = flushing.status();
        let failing = tokio::time::timeout(Duration::from_secs(30), status.wait_for(|s| s.consecutive_failures >= 2))
            .await
            .expect("the flusher reports failures")
            .unwrap()
            .clone();
        assert!(failing.last_error.is_some());
        assert_eq!(failing.flushes, 0);
        rename(&db, "usage_minutes_away", "usage_minutes").await;
        tokio::time::timeout(Duration::from_secs(30), status.wait_for(|s| s.flushes >= 1))
            .await
            .expect("the flusher recovers")
            .unwrap();
        assert_eq!(status.borrow().consecutive_failures, 0);
        flushing.shutdown().await.unwrap();
        assert_rollups_hold(&db, &events).await;
    }
}
