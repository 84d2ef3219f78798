//! Limits and pricing in the operator console: an admin's change to a bucket's limit or a
//! tier's fees is enforced and billed at once, audited, and outlives restarts and edits of
//! the policy file; support staff only read.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use services::accounts::Role;
use services::catalogue::Catalogue;

use crate::admin::{call, operator};
use crate::gateway::customer_with_key;
use crate::helpers::*;

/// A bucket's limit as `/v1/limits` reports it to `key`.
async fn limit_of(app: &TestApp, key: &str, bucket: &str) -> u64 {
    let limits: Value = crate::gateway::call(app, "/v1/limits", Some(key)).await.json().await.unwrap();
    let buckets = limits["buckets"].as_array().unwrap();
    buckets.iter().find(|b| b["name"] == bucket).unwrap()["limit"].as_u64().unwrap()
}

async fn snapshot_statuses(app: &TestApp, key: &str, times: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..times {
        statuses.push(crate::gateway::call(app, "/v1/snapshots", Some(key)).await.status().as_u16());
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admins_bucket_limit_is_enforced_at_once_and_outlives_a_restart() {
    let mut app = spawn_app().await;
    let (_, _, key) = customer_with_key(&app).await;
    assert_eq!(limit_of(&app, &key, "reads").await, 60);
    let reads = |count: &'static str| [("bucket", "reads"), ("count", count), ("window", "minute")];

    operator(&app, "support@keystile.example", Role::Support).await;
    let page: Value = call(&app, "load_limits", &[]).await.json().await.unwrap();
    assert_eq!(page["can_change"], false, "support only reads");
    assert_status(&call(&app, "edit_bucket_limit", &reads("2")).await, StatusCode::FORBIDDEN);
    app.log_out().await;

    operator(&app, "admin@keystile.example", Role::Admin).await;
    let page: Value = call(&app, "load_limits", &[]).await.json().await.unwrap();
    let listed = page["buckets"].as_array().unwrap().iter().find(|b| b["name"] == "reads").unwrap().clone();
    assert_eq!(listed["summary"], "60 per minute");
    for bad in [
        vec![("bucket", "reads"), ("count", "lots")],
        vec![("bucket", "reads"), ("count", "0")],
        vec![("bucket", "reads"), ("count", "")],
        vec![("bucket", "reads"), ("count", "5"), ("window", "fortnight")],
        vec![("bucket", "nope"), ("count", "5")],
    ] {
        assert_status(&call(&app, "edit_bucket_limit", &bad).await, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let zero = call(&app, "edit_bucket_limit", &[("bucket", "reads"), ("count", "0")]).await;
    assert!(zero.text().await.unwrap().contains("The reads limit is at least 1 request."));
    assert_eq!(limit_of(&app, &key, "reads").await, 60, "refused edits change nothing");

    assert_status(&call(&app, "edit_bucket_limit", &reads("2")).await, StatusCode::OK);
    assert_eq!(snapshot_statuses(&app, &key, 3).await, [200, 200, 429], "the gateway enforces it at once");
    let log = services::audit::search(&app.services.db, &services::audit::AuditFilter::default(), 10)
        .await
        .unwrap();
    let entry = log.iter().find(|entry| entry.action == "bucket.edit").expect("audited");
    assert_eq!(entry.target.as_deref(), Some("reads"));
    assert_eq!(entry.before.as_deref(), Some("60 per minute"));
    assert_eq!(entry.after.as_deref(), Some("2 per minute"));
    // Saved again as it is, nothing changes, so the audit log gains nothing.
    assert_status(&call(&app, "edit_bucket_limit", &reads("2")).await, StatusCode::OK);
    let again = services::audit::search(&app.services.db, &services::audit::AuditFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), log.len(), "{again:?}");

    app.shut_down().await;
    let restarted = spawn_app_on(app.database_url.clone(), |_| {}).await;
    assert_eq!(limit_of(&restarted, &key, "reads").await, 2, "the edit outlives a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admins_edit_stays_over_a_reloaded_policy_file_which_still_changes_the_rest() {
    let shipped = policy::Policy::shipped_text("default").unwrap();
    let path = std::env::temp_dir().join(format!("keystile-edited-{}.toml", services::ids::random_base62(8)));
    std::fs::write(&path, shipped).unwrap();
    let app = spawn_app_with(|settings| settings.policy = Some(path.clone())).await;
    let (_, _, key) = customer_with_key(&app).await;
    operator(&app, "admin@keystile.example", Role::Admin).await;
    let edit = [("bucket", "reads"), ("count", "120"), ("window", "hour")];
    assert_status(&call(&app, "edit_bucket_limit", &edit).await, StatusCode::OK);

    // The file now also changes scans (6 → 7 an hour) and reads (60 → 61): scans follows the
    // file, reads keeps the admin's limit.
    let edited = shipped.replacen("limit = 60", "limit = 61", 1).replacen("limit = 6\n", "limit = 7\n", 1);
    assert_ne!(edited, shipped);
    std::fs::write(&path, edited).unwrap();
    eventually(Duration::from_secs(5), || async {
        match limit_of(&app, &key, "scans").await {
            7 => Ok(()),
            limit => Err(format!("scans still {limit}")),
        }
    })
    .await;
    let policy = app.services.policy.get();
    let reads = policy.bucket("reads").unwrap();
    assert_eq!(reads.limit.describe(), "120 per hour", "the admin's edit stays over the file");
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_edits_a_policy_no_longer_has_room_for_are_skipped_and_the_rest_applied() {
    let app = spawn_app().await;
    operator(&app, "admin@keystile.example", Role::Admin).await;
    let bucket = [("bucket", "reads"), ("count", "90"), ("window", "minute")];
    assert_status(&call(&app, "edit_bucket_limit", &bucket).await, StatusCode::OK);
    let tier = [("tier", "Free"), ("monthly_cents", "900"), ("extra_request_cents", "2")];
    assert_status(&call(&app, "edit_tier_fees", &tier).await, StatusCode::OK);

    // Seed 000's policy has no `reads` bucket, but a tier named Free.
    let mut seed_000 = policy::Policy::shipped("seed-000").unwrap();
    assert!(seed_000.bucket("reads").is_none());
    Catalogue::apply_saved(&app.services.db, &mut seed_000).await.unwrap();
    seed_000.validate().unwrap();
    assert!(seed_000.bucket("reads").is_none(), "no bucket is made up");
    let free = seed_000.pricing.as_ref().unwrap().tier_for(0).unwrap();
    assert_eq!((free.monthly_cents, free.extra_request_cents), (Some(900), Some(2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admins_fees_price_the_month_at_once() {
    let app = spawn_app().await;
    let (owner, _, key) = customer_with_key(&app).await;
    for _ in 0..3 {
        crate::gateway::call(&app, "/v1/snapshots", Some(&key)).await;
    }
    // Into the minute: the bill counts minutes that have begun, and the test clock stands at :00.
    app.clock.advance(chrono::Duration::seconds(30));

    operator(&app, "support@keystile.example", Role::Support).await;
    let fees = [("tier", "Free"), ("monthly_cents", "500"), ("extra_request_cents", "1")];
    assert_status(&call(&app, "edit_tier_fees", &fees).await, StatusCode::FORBIDDEN);
    assert_status(
        &call(&app, "edit_free_requests", &[("free_requests_per_minute", "1")]).await,
        StatusCode::FORBIDDEN,
    );
    app.log_out().await;

    operator(&app, "admin@keystile.example", Role::Admin).await;
    for bad in [
        vec![("tier", "Free"), ("monthly_cents", "500"), ("extra_request_cents", "")],
        vec![("tier", "Free"), ("monthly_cents", "-5"), ("extra_request_cents", "1")],
        vec![("tier", "Platinum"), ("monthly_cents", "500"), ("extra_request_cents", "1")],
        vec![("tier", "Free"), ("monthly_cents", "18446744073709551615"), ("extra_request_cents", "1")],
        vec![("tier", "Free"), ("monthly_cents", "500"), ("extra_request_cents", "18446744073709551615")],
    ] {
        assert_status(&call(&app, "edit_tier_fees", &bad).await, StatusCode::UNPROCESSABLE_ENTITY);
    }
    for bad in ["", "ten", "-1"] {
        let fields = [("free_requests_per_minute", bad)];
        assert_status(&call(&app, "edit_free_requests", &fields).await, StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_status(&call(&app, "edit_tier_fees", &fees).await, StatusCode::OK);
    assert_status(
        &call(&app, "edit_free_requests", &[("free_requests_per_minute", "1")]).await,
        StatusCode::OK,
    );
    app.log_out().await;

    // The owner's bill: a $5.00 tier, and 2 of the minute's 3 requests extra at 1 cent.
    let response = app.log_in(&owner.email, PASSWORD, "/billing").await;
    assert!(response.status().is_redirection(), "owner log in: {}", response.status());
    eventually(Duration::from_secs(5), || async {
        let billing: Value = app.call(&app.browser, "load_billing", &[]).await.json().await.unwrap();
        match billing["priced"]["month_to_date"].as_str() {
            Some("$5.02") => Ok(()),
            _ => Err(format!("not priced with the new fees yet: {billing}")),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gcra_buckets_rate_and_burst_change_and_its_period_stays() {
    let smooth = "\n[buckets.smooth]\nrate = 5\nper = \"second\"\nburst = 5\nscope = \"key\"\n";
    let text = format!("{}{smooth}", policy::Policy::shipped_text("default").unwrap());
    let path = std::env::temp_dir().join(format!("keystile-gcra-{}.toml", services::ids::random_base62(8)));
    std::fs::write(&path, text).unwrap();
    let app = spawn_app_with(|settings| settings.policy = Some(path.clone())).await;
    operator(&app, "admin@keystile.example", Role::Admin).await;
    let limit = || app.services.policy.get().bucket("smooth").unwrap().limit;

    let page: Value = call(&app, "load_limits", &[]).await.json().await.unwrap();
    let listed = page["buckets"].as_array().unwrap().iter().find(|b| b["name"] == "smooth").unwrap().clone();
    assert_eq!(
        (listed["summary"].as_str(), listed["window"].as_str()),
        (Some("5 per second, burst 5"), None)
    );
    let edit = [("bucket", "smooth"), ("count", "10"), ("burst", "20")];
    assert_status(&call(&app, "edit_bucket_limit", &edit).await, StatusCode::OK);
    assert_eq!(limit().describe(), "10 per second, burst 20");
    let keep_burst = [("bucket", "smooth"), ("count", "12"), ("burst", "")];
    assert_status(&call(&app, "edit_bucket_limit", &keep_burst).await, StatusCode::OK);
    assert_eq!(limit().describe(), "12 per second, burst 20");
    let too_big = [("bucket", "smooth"), ("count", "12"), ("burst", "99999999999")];
    assert_status(&call(&app, "edit_bucket_limit", &too_big).await, StatusCode::UNPROCESSABLE_ENTITY);
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_429_names_the_limit_an_admin_set() {
    let app = spawn_app().await;
    operator(&app, "admin@keystile.example", Role::Admin).await;
    let public = [("bucket", "public"), ("count", "2"), ("window", "day")];
    assert_status(&call(&app, "edit_bucket_limit", &public).await, StatusCode::OK);

    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let response = crate::gateway::call(&app, "/v1/check?name=acme", None).await;
        statuses.push(response.status().as_u16());
        last = Some(response);
    }
    assert_eq!(statuses, [200, 200, 429]);
    let body: Value = last.unwrap().json().await.unwrap();
    assert_eq!(body["error"], "Public rate limit reached (2/day/IP).");
    assert_eq!(body["details"]["limit"], 2);
}
