//! The latest refusals: written at each flush, newest first, of one key or the whole account,
//! and never more than `KEPT_PER_ACCOUNT` rows per account.

use usage::refusals::KEPT_PER_ACCOUNT;
use usage::{Refusal, UsageQueries};

use crate::common::*;

fn refusal(account_id: &str, key_id: &str, seconds: i64) -> Refusal {
    Refusal {
        account_id: account_id.to_owned(),
        key_id: key_id.to_owned(),
        at: at(seconds),
        method: "GET".to_owned(),
        path: "/v1/snapshots".to_owned(),
        status: 429,
        bucket: "reads".to_owned(),
        client_ip: "203.0.113.7".to_owned(),
        request_id: format!("req_{seconds}"),
    }
}

fn request_ids(refusals: &[Refusal]) -> Vec<&str> {
    refusals.iter().map(|refusal| refusal.request_id.as_str()).collect()
}

on_both_backends! {
    async fn refusals_are_written_at_each_flush_and_read_newest_first(db: Database) {
        let recorder = UsageRecorder::new();
        let clock = clock_at(0);
        let mut flusher = flusher(&recorder, &db, &clock);
        let queries = UsageQueries::new(db.clone());
        recorder.refused(refusal("acct_a", "key_1", 1));
        recorder.refused(refusal("acct_a", "key_2", 2));
        recorder.refused(refusal("acct_b", "key_3", 3));
        assert!(queries.latest_refusals("acct_a", None, 10).await.unwrap().is_empty(), "nothing before a flush");

        flusher.flush_now().await.unwrap();
        let latest = queries.latest_refusals("acct_a", None, 10).await.unwrap();
        assert_eq!(latest, [refusal("acct_a", "key_2", 2), refusal("acct_a", "key_1", 1)]);
        let of_key = queries.latest_refusals("acct_a", Some("key_1"), 10).await.unwrap();
        assert_eq!(request_ids(&of_key), ["req_1"]);
        assert!(queries.latest_refusals("acct_a", Some("key_3"), 10).await.unwrap().is_empty(), "another account's key");
        assert_eq!(request_ids(&queries.latest_refusals("acct_a", None, 1).await.unwrap()), ["req_2"]);
    }

    async fn an_account_keeps_only_its_newest_refusals(db: Database) {
        let recorder = UsageRecorder::new();
        let clock = clock_at(0);
        let mut flusher = flusher(&recorder, &db, &clock);
        let queries = UsageQueries::new(db.clone());
        let kept = i64::try_from(KEPT_PER_ACCOUNT).unwrap();
        // More than are kept in one flush, then as many again in the next.
        for second in 0..kept + 20 {
            recorder.refused(refusal("acct_a", "key_1", second));
        }
        recorder.refused(refusal("acct_b", "key_2", 0));
        flusher.flush_now().await.unwrap();
        for second in kept + 20..2 * kept + 20 {
            recorder.refused(refusal("acct_a", "key_1", second));
        }
        flusher.flush_now().await.unwrap();

        let latest = queries.latest_refusals("acct_a", None, 1_000).await.unwrap();
        assert_eq!(latest.len(), KEPT_PER_ACCOUNT);
        assert_eq!(latest.first().map(|r| r.at), Some(at(2 * kept + 19)));
        assert_eq!(latest.last().map(|r| r.at), Some(at(kept + 20)));
        assert_eq!(queries.latest_refusals("acct_b", None, 1_000).await.unwrap().len(), 1, "another account keeps its own");
    }
}
