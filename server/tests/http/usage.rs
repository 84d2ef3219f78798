//! Usage over HTTP: every keyed request is counted (admitted or limited) into the rollups,
//! `/v1/usage?group_by=key` reports them per key, and the spend cap stops an account's calls.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use services::Database;
use usage::{Counts, UsageQueries};

use crate::gateway::{call, customer_with_key};
use crate::helpers::*;

/// The account's usage this month as the rollups hold it.
pub(crate) async fn recorded(db: &Database, account_id: &str, now: DateTime<Utc>) -> Counts {
    let queries = UsageQueries::new(db.clone());
    queries
        .account_totals(account_id, now - chrono::Duration::days(1), now + chrono::Duration::days(1))
        .await
        .unwrap()
}

/// Waits (at most 5 s; the gateway flushes every second) until the rollups hold `requests`.
pub(crate) async fn wait_for_requests(app: &TestApp, account_id: &str, requests: u64) -> Counts {
    eventually(Duration::from_secs(5), || async {
        let counts = recorded(&app.services.db, account_id, limiter::Clock::now(&app.clock)).await;
        if counts.requests >= requests {
            Ok(counts)
        } else {
            Err(format!("the rollups hold {counts:?}, not {requests} requests"))
        }
    })
    .await
}

/// Sends `n` reads a quarter of a second apart (under Starter's 5/s burst).
async fn read_n_times(app: &TestApp, key: &str, n: usize) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        app.clock.advance(chrono::Duration::milliseconds(250));
        statuses.push(call(app, "/v1/snapshots/s1", Some(key)).await.status());
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_equal_the_requests_sent_admitted_and_limited() {
    let app = spawn_app().await;
    let (user, _, key) = customer_with_key(&app).await;
    let account_id = user.account_id.unwrap();
    // Reads allow 60 a minute; the clock stays inside one minute.
    let statuses = read_n_times(&app, &key, 64).await;
    let limited = statuses.iter().filter(|status| **status == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(limited, 4, "{statuses:?}");

    let counts = wait_for_requests(&app, &account_id, 64).await;
    // The four refused requests charged nothing.
    assert_eq!(counts, Counts { requests: 64, limited: 4, cost: 60 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_charted_under_the_bucket_that_refused_them() {
    let app = spawn_app().await;
    let user = app.signed_up("ada@example.com").await;
    let created = app.services.keys.create(&user, "CI", None, Default::default()).await.unwrap();
    let key = created.secret.expose_secret().to_owned();
    // Starter's burst admits 5 at once; the clock stands still, so 3 reads are refused by it.
    for _ in 0..8 {
        call(&app, "/v1/snapshots/s1", Some(&key)).await;
    }
    wait_for_requests(&app, user.account_id.as_deref().unwrap(), 8).await;

    let charted = |bucket: &'static str| {
        let fields = [("key_id", created.key.id.as_str()), ("bucket", bucket)];
        let app = &app;
        async move {
            let report: Value = app.call(&app.browser, "load_usage", &fields).await.json().await.unwrap();
            let offered = |list: &str| report[list].as_array().unwrap().iter().any(|name| name == bucket);
            assert!(offered("buckets") != offered("refusal_buckets"), "{bucket} offered once: {report}");
            let days = report["charts"][2]["points"].as_array().unwrap().clone();
            let sum = |field: &str| days.iter().map(|point| point[field].as_u64().unwrap()).sum::<u64>();
            (sum("allowed"), sum("limited"))
        }
    };
    assert_eq!(charted("reads").await, (5, 0), "admitted reads; none refused by the reads bucket");
    assert_eq!(charted("burst").await, (0, 3), "the burst's refusals");
    let page = app.get("/usage").await.text().await.unwrap();
    let refusals_only = &page[page.find(r#"<optgroup label="Refusals only">"#).unwrap()..];
    assert!(refusals_only.contains(r#"value="burst""#), "the burst is offered as refusals only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_writes_the_counts_still_in_memory() {
    let mut app = spawn_app().await;
    let (user, _, key) = customer_with_key(&app).await;
    let account_id = user.account_id.unwrap();
    read_n_times(&app, &key, 7).await;
    app.shut_down().await;

    let db = Database::connect(&app.database_url).await.unwrap();
    let counts = recorded(&db, &account_id, limiter::Clock::now(&app.clock)).await;
    assert_eq!(counts.requests, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_usage_charts_show_the_whole_account_or_one_key() {
    let app = spawn_app().await;
    let ada = app.signed_up("ada@example.com").await;
    let first = app.services.keys.create(&ada, "first", None, Default::default()).await.unwrap();
    let second = app.services.keys.create(&ada, "second", None, Default::default()).await.unwrap();
    read_n_times(&app, first.secret.expose_secret(), 3).await;
    read_n_times(&app, second.secret.expose_secret(), 2).await;
    wait_for_requests(&app, ada.account_id.as_deref().unwrap(), 5).await;

    let charted = |key_id: String| {
        let app = &app;
        async move {
            let fields = [("key_id", key_id.as_str())];
            let report: Value = app.call(&app.browser, "load_usage", &fields).await.json().await.unwrap();
            let hour = report["charts"][0]["points"].as_array().unwrap().clone();
            (
                report["selected_key"].clone(),
                hour.iter().map(|point| point["allowed"].as_u64().unwrap()).sum::<u64>(),
            )
        }
    };
    assert_eq!(charted(String::new()).await, (Value::Null, 5), "by default, both keys together");
    assert_eq!(charted(first.key.id.clone()).await, (Value::from(first.key.id), 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_by_key_reports_each_key_of_the_callers_account_only() {
    let app = spawn_app().await;
    let (owner, first_id, first) = customer_with_key(&app).await;
    let second = app.services.keys.create(&owner, "second key", None, Default::default()).await.unwrap();
    let second_secret = second.secret.expose_secret().to_owned();
    let (other, _, other_key) = customer_with_key(&app).await;
    read_n_times(&app, &first, 3).await;
    read_n_times(&app, &second_secret, 2).await;
    read_n_times(&app, &other_key, 4).await;
    wait_for_requests(&app, owner.account_id.as_deref().unwrap(), 5).await;
    wait_for_requests(&app, other.account_id.as_deref().unwrap(), 4).await;

    let response = call(&app, "/v1/usage?group_by=key", Some(&first)).await;
    assert_status(&response, StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["group_by"], "key");
    let rows = body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{body}");
    let row = |id: &str| rows.iter().find(|row| row["key_id"] == id).cloned().unwrap();
    let second_row = row(&second.key.id);
    assert_eq!(second_row["name"], "second key");
    assert_eq!((second_row["requests"].as_u64(), second_row["limited"].as_u64()), (Some(2), Some(0)));
    // The first key's own /v1/usage call is counted too, once it is flushed.
    let first_requests = row(&first_id)["requests"].as_u64().unwrap();
    assert!((3..=4).contains(&first_requests), "{body}");
    assert!(rows.iter().all(|row| !row["start"].as_str().unwrap().is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_asks_for_a_grouping_and_valid_instants() {
    let app = spawn_app().await;
    let (_, _, key) = customer_with_key(&app).await;
    for query in [
        "",
        "?group_by=bucket",
        "?group_by=key&from=yesterday",
        "?group_by=key&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
        "?group_by=key&group_by=key",
        // In UTC, the year before 0000 and after 9999: not writable back as RFC 3339.
        "?group_by=key&from=0000-01-01T00:00:00%2B01:00",
        "?group_by=key&to=9999-12-31T23:00:00-01:00",
    ] {
        app.clock.advance(chrono::Duration::seconds(1)); // within the plan's burst
        let response = call(&app, &format!("/v1/usage{query}"), Some(&key)).await;
        assert_status(&response, StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let body: Value = response.json().await.unwrap();
        assert!(!body["detail"].as_str().unwrap().is_empty(), "{query}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_at_its_spend_cap_gets_429_until_the_cap_is_raised() {
    let app = spawn_app().await;
    let (owner, _, key) = customer_with_key(&app).await;
    let account_id = owner.account_id.clone().unwrap();
    // $50; 11 requests in one minute put the month in the $100 tier (seed 000).
    app.services.accounts.set_spend_cap(&owner, Some(5_000)).await.unwrap();
    let statuses = read_n_times(&app, &key, 11).await;
    assert!(statuses.iter().all(|status| *status != StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    wait_for_requests(&app, &account_id, 11).await;

    // The node reads an account's spend at most once a second.
    app.clock.advance(chrono::Duration::seconds(2));
    let refused = call(&app, "/v1/snapshots/s1", Some(&key)).await;
    assert_status(&refused, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refused.headers()["x-upgrade-url"], "https://igregulator.io/pricing", "as on every 429");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "spend_cap_exceeded", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("$50.00"), "{body}");
    // The owner's Overview says why every call is refused.
    app.log_in(&owner.email, PASSWORD, "/").await;
    let says_so =
        || async { app.get("/").await.text().await.unwrap().contains(r#"data-testid="spend-cap-reached""#) };
    assert!(says_so().await);

    app.services.accounts.set_spend_cap(&owner, Some(20_000)).await.unwrap();
    assert_ne!(call(&app, "/v1/snapshots/s1", Some(&key)).await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(!says_so().await, "a raised cap leaves nothing to say");
}

/// The monthly quota and the daily cap used, as `GET /v1/limits` reports them.
async fn quota_and_cap_used(app: &TestApp, key: &str) -> (u64, u64) {
    let limits: Value = call(app, "/v1/limits", Some(key)).await.json().await.unwrap();
    let used = |name: &str| {
        let buckets = limits["buckets"].as_array().unwrap();
        buckets.iter().find(|bucket| bucket["name"] == name).unwrap()["used"].as_u64().unwrap()
    };
    (used("monthly"), used("daily_cap"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_hours_scans_as_used() {
    let mut app = spawn_app().await;
    let (_, _, key) = customer_with_key(&app).await;
    let scan = |app: &TestApp| {
        let body = json!({ "jurisdictions": ["UK"], "areas": ["AML"] });
        browser().post(app.url("/v1/scans")).bearer_auth(&key).json(&body).send()
    };
    for _ in 0..6 {
        assert_status(&scan(&app).await.unwrap(), StatusCode::ACCEPTED);
        app.clock.advance(chrono::Duration::seconds(1)); // past the burst's second
    }
    assert_status(&scan(&app).await.unwrap(), StatusCode::TOO_MANY_REQUESTS);
    app.shut_down().await;

    // Six scans an hour: a restart must not hand out six more in the same hour.
    let restarted = spawn_app_on(app.database_url.clone(), |_| {}).await;
    let refused = scan(&restarted).await.unwrap();
    assert_status(&refused, StatusCode::TOO_MANY_REQUESTS);
    let body: Value = refused.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("scans"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_months_quota_and_the_days_cap_as_used() {
    let mut app = spawn_app().await;
    let (user, _, key) = customer_with_key(&app).await;
    // 64 reads in one minute: 60 admitted, 4 refused by `reads`, which charge nothing.
    read_n_times(&app, &key, 64).await;
    assert_eq!(quota_and_cap_used(&app, &key).await, (60, 60));
    app.shut_down().await;

    let mut restarted = spawn_app_on(app.database_url.clone(), |_| {}).await;
    assert_eq!(quota_and_cap_used(&restarted, &key).await, (60, 60), "the in-memory limiter restarted empty");

    // An admin's reset of the monthly quota outlives the next restart; the daily cap is kept.
    restarted.clock.advance(chrono::Duration::minutes(1));
    crate::admin::operator(&restarted, "admin@keystile.example", services::accounts::Role::Admin).await;
    let account_id = user.account_id.unwrap();
    let reset = crate::admin::call(
        &restarted,
        "reset_bucket",
        &[("account_id", &account_id), ("bucket", "monthly"), ("confirm", "yes")],
    )
    .await;
    assert_status(&reset, StatusCode::OK);
    assert_eq!(quota_and_cap_used(&restarted, &key).await, (0, 60));
    restarted.shut_down().await;

    let again = spawn_app_on(app.database_url.clone(), |_| {}).await;
    assert_eq!(quota_and_cap_used(&again, &key).await, (0, 60), "the reset was undone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_restores_every_account_whatever_its_billing_anchor() {
    let mut app = spawn_app().await;
    let (_, _, first_key) = customer_with_key(&app).await;
    let (second, _, second_key) = customer_with_key(&app).await;
    // The second account's month runs from the 15th: another window, read separately.
    sqlx::query("UPDATE accounts SET billing_anchor_day = 15 WHERE id = $1")
        .bind(second.account_id.as_deref().unwrap())
        .execute(app.services.db.pool())
        .await
        .unwrap();
    read_n_times(&app, &first_key, 3).await;
    read_n_times(&app, &second_key, 5).await;
    assert_eq!(quota_and_cap_used(&app, &first_key).await, (3, 3));
    assert_eq!(quota_and_cap_used(&app, &second_key).await, (5, 5));
    app.shut_down().await;

    let restarted = spawn_app_on(app.database_url.clone(), |_| {}).await;
    assert_eq!(quota_and_cap_used(&restarted, &first_key).await, (3, 3));
    assert_eq!(quota_and_cap_used(&restarted, &second_key).await, (5, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_usage_page_lists_the_latest_refusals_with_their_request_ids() {
    let app = spawn_app().await;
    let user = app.signed_up("ada@example.com").await;
    let created = app.services.keys.create(&user, "CI", None, Default::default()).await.unwrap();
    let key = created.secret.expose_secret().to_owned();
    // Starter's burst admits 5 at once; the clock stands still, so the 6th read is refused.
    for _ in 0..5 {
        assert_status(&call(&app, "/v1/snapshots?q=anything", Some(&key)).await, StatusCode::OK);
    }
    let refused = call(&app, "/v1/snapshots?q=anything", Some(&key)).await;
    assert_status(&refused, StatusCode::TOO_MANY_REQUESTS);
    let request_id = refused.headers()["x-request-id"].to_str().unwrap().to_owned();

    let load = |fields: Vec<(&'static str, String)>| {
        let client = app.browser.clone();
        let url = app.url("/api/load_usage");
        async move { client.post(url).form(&fields).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let report = eventually(Duration::from_secs(5), || async {
        let report = load(vec![]).await;
        if report["refusals"].as_array().is_some_and(|rows| !rows.is_empty()) {
            Ok(report)
        } else {
            Err(format!("no refusal listed yet: {}", report["refusals"]))
        }
    })
    .await;
    let row = &report["refusals"][0];
    assert_eq!(row["key_name"], "CI");
    assert_eq!(row["request"], "GET /v1/snapshots", "the path without its query");
    assert_eq!((row["status"].as_u64(), row["bucket"].as_str()), (Some(429), Some("burst")));
    assert_eq!(row["request_id"], request_id.as_str());
    assert_eq!(report["refusals"].as_array().unwrap().len(), 1, "admitted requests are not listed");
    let of_another_bucket = load(vec![("bucket", "reads".to_owned())]).await;
    assert_eq!(of_another_bucket["refusals"], serde_json::json!([]));
    let page = app.get("/usage").await.text().await.unwrap();
    assert!(page.contains("Latest refused requests") && page.contains(&request_id), "the page shows it too");
}
