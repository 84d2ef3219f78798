//! Counts reach the rollups exactly: minute, hour and day agree with the recorded events, and
//! flushes from several recorders (gateway nodes) add up.

use crate::common::*;

/// Several accounts, keys, buckets and outcomes, across minutes, an hour and a UTC midnight.
fn traffic() -> Vec<UsageEvent<'static>> {
    let midnight = 12 * HOUR; // 2026-11-25 00:00
    vec![
        allowed("acct_a", Some("key_1"), "reads", 0),
        allowed("acct_a", Some("key_1"), "reads", 59),
        limited("acct_a", Some("key_1"), "reads", 30),
        costing(5, allowed("acct_a", Some("key_1"), "exports", 61)),
        costing(5, limited("acct_a", Some("key_1"), "exports", 62)),
        allowed("acct_a", Some("key_2"), "reads", 10),
        allowed("acct_a", None, "", 11),
        allowed("acct_a", None, "", HOUR + 5),
        allowed("acct_b", Some("key_3"), "scans", 20),
        costing(3, allowed("acct_b", Some("key_3"), "scans", midnight - 1)),
        costing(3, allowed("acct_b", Some("key_3"), "scans", midnight)),
        limited("acct_b", Some("key_3"), "scans", midnight + 1),
    ]
}

on_both_backends! {
    async fn rollups_equal_the_recorded_events_after_a_flush(db: Database) {
        let recorder = UsageRecorder::new();
        let events = traffic();
        record_all(&recorder, &events);
        let report = flusher(&recorder, &db, &clock_at(0)).flush_now().await.unwrap();
        assert_eq!(report.counts, total(&events));
        assert_eq!(report.rows, expected(&events, Granularity::Minute).len());
        assert_rollups_hold(&db, &events).await;
        assert_eq!(recorder.pending_rows(), 0);
    }

    async fn a_second_flush_adds_to_the_rows_of_the_first(db: Database) {
        let recorder = UsageRecorder::new();
        let mut flusher = flusher(&recorder, &db, &clock_at(0));
        let events = traffic();
        let (first, second) = events.split_at(5);
        record_all(&recorder, first);
        flusher.flush_now().await.unwrap();
        record_all(&recorder, second);
        record_all(&recorder, first);
        flusher.flush_now().await.unwrap();
        assert_rollups_hold(&db, &[events.clone(), first.to_vec()].concat()).await;
    }

    async fn two_nodes_flushing_into_one_database_add_up(db: Database) {
        let (node_a, node_b) = (UsageRecorder::new(), UsageRecorder::new());
        let events = traffic();
        // Node A counts every event once; a second copy of each goes to A or B in turn, so both
        // nodes hold rows for the same keys and minutes.
        for (i, event) in events.iter().enumerate() {
            if i % 2 == 0 { node_a.record(event) } else { node_b.record(event) }
            node_a.record(event);
        }
        let clock = clock_at(0);
        let (mut flush_a, mut flush_b) = (flusher(&node_a, &db, &clock), flusher(&node_b, &db, &clock));
        let (a, b) = tokio::join!(flush_a.flush_now(), flush_b.flush_now());
        a.unwrap();
        b.unwrap();
        assert_rollups_hold(&db, &[events.clone(), events].concat()).await;
    }

    async fn an_empty_flush_writes_nothing(db: Database) {
        let recorder = UsageRecorder::new();
        let report = flusher(&recorder, &db, &clock_at(0)).flush_now().await.unwrap();
        assert_eq!((report.rows, report.counts), (0, Counts::default()));
        assert_rollups_hold(&db, &[]).await;
    }

    async fn a_large_batch_is_written_in_several_statements(db: Database) {
        let recorder = UsageRecorder::new();
        // 600 distinct minutes of one key, two events each: more rows than one statement takes.
        let events: Vec<_> =
            (0..1_200).map(|i| allowed("acct_a", Some("key_1"), "reads", (i / 2) * MINUTE)).collect();
        record_all(&recorder, &events);
        let report = flusher(&recorder, &db, &clock_at(0)).flush_now().await.unwrap();
        assert_eq!(report.rows, 600);
        assert_rollups_hold(&db, &events).await;
    }
}
