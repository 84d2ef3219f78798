//! A key's own quota: its owner caps one key below the plan; past it that key gets 429 from
//! `key_quota` while the account's other keys go on, the refusal charges nothing, a new limit
//! keeps the count, a quota set on a key in use counts from then, and a restart of the
//! in-memory limiter keeps all of it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// A key created through `/v1/keys` with this quota: (key id, secret).
async fn key_with_quota(app: &TestApp, name: &str, quota: Value) -> (String, String) {
    let created = app.keys_api(Method::POST, "/v1/keys", Some(json!({ "name": name, "quota": quota }))).await;
    assert_status(&created, StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["key"]["quota"], quota);
    let used = if quota.is_null() { Value::Null } else { json!(0) };
    assert_eq!(created["key"]["quota_used"], used, "a new key has used none of it");
    (created["key"]["id"].as_str().unwrap().to_owned(), created["secret"].as_str().unwrap().to_owned())
}

async fn read(app: &TestApp, secret: &str) -> reqwest::Response {
    browser().get(app.url("/v1/snapshots")).bearer_auth(secret).send().await.unwrap()
}

/// Each bucket of the key's `/v1/limits` (which charges nothing): name → (used, limit).
async fn buckets(app: &TestApp, secret: &str) -> serde_json::Map<String, Value> {
    let limits = browser().get(app.url("/v1/limits")).bearer_auth(secret).send().await.unwrap();
    let limits: Value = limits.json().await.unwrap();
    let buckets = limits["buckets"].as_array().unwrap().iter();
    buckets.map(|b| (b["name"].as_str().unwrap().to_owned(), json!([b["used"], b["limit"]]))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_past_its_own_quota_is_refused_while_the_accounts_other_keys_go_on() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let (capped_id, capped) = key_with_quota(&app, "staging", json!({ "limit": 3, "per": "day" })).await;
    let (_, free) = key_with_quota(&app, "production", Value::Null).await;

    for _ in 0..3 {
        assert_status(&read(&app, &capped).await, StatusCode::OK);
    }
    let refused = read(&app, &capped).await;
    assert_status(&refused, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("key_quota"), "{body}");

    let seen = buckets(&app, &capped).await;
    assert_eq!(seen["key_quota"], json!([3, 3]));
    assert_eq!(seen["monthly"][0], 3, "the refused request charged no other bucket");
    assert_status(&read(&app, &free).await, StatusCode::OK);
    assert!(!buckets(&app, &free).await.contains_key("key_quota"), "a key without one has no such bucket");
    // Its owner sees the same gauge on the key's Overview; the account's view has none.
    let key_page = app.get(&format!("/?key={capped_id}")).await.text().await.unwrap();
    let gauge = crate::overview::gauge_text(&key_page, "key_quota").expect("a gauge of the key's own quota");
    assert!(gauge.contains("3 of 3 used"), "{gauge}");
    let account_page = app.get("/").await.text().await.unwrap();
    assert!(crate::overview::gauge_text(&account_page, "key_quota").is_none());
    assert!(
        account_page.contains("Key “staging” has used its own quota of 3 requests a day"),
        "the Overview says which key is spent"
    );
    assert!(!account_page.contains("Key “production” has used"));
    // And the Keys page says how much of it the key used.
    let listed: Value =
        app.browser.post(app.url("/api/list_keys")).send().await.unwrap().json().await.unwrap();
    let quotas: Vec<&Value> = listed.as_array().unwrap().iter().map(|key| &key["quota"]).collect();
    assert_eq!(quotas.len(), 2);
    assert!(
        quotas.contains(&&json!({ "limit": 3, "per": "day", "words": "3 requests a day", "used": 3 })),
        "{listed}"
    );
    assert!(quotas.contains(&&Value::Null));
    // So does the JSON API.
    let listed: Value = app.keys_api(Method::GET, "/v1/keys", None).await.json().await.unwrap();
    let used: Vec<&Value> = listed.as_array().unwrap().iter().map(|key| &key["quota_used"]).collect();
    assert!(used.contains(&&json!(3)) && used.contains(&&Value::Null), "{listed}");
    let shown: Value =
        app.keys_api(Method::GET, &format!("/v1/keys/{capped_id}"), None).await.json().await.unwrap();
    assert_eq!(shown["quota_used"], 3);

    // Raised, the count stays: two more today. Removed, the plan's limits alone. (A second
    // later, so that the plan's burst of 5 a second is full again.)
    app.clock.advance(chrono::Duration::seconds(1));
    let path = format!("/v1/keys/{capped_id}/restrictions");
    let raised =
        app.keys_api(Method::PUT, &path, Some(json!({ "quota": { "limit": 5, "per": "day" } }))).await;
    assert_status(&raised, StatusCode::OK);
    assert_eq!(raised.json::<Value>().await.unwrap()["quota_used"], 3, "the answer counts what was used");
    assert_eq!(buckets(&app, &capped).await["key_quota"], json!([3, 5]));
    let overview = app.get("/").await.text().await.unwrap();
    assert!(!overview.contains("has used its own quota"), "raised, it is no longer spent");
    for expected in [StatusCode::OK, StatusCode::OK, StatusCode::TOO_MANY_REQUESTS] {
        assert_status(&read(&app, &capped).await, expected);
    }
    let removed = app.keys_api(Method::PUT, &path, Some(json!({}))).await;
    assert_eq!(removed.json::<Value>().await.unwrap()["quota"], Value::Null);
    assert_status(&read(&app, &capped).await, StatusCode::OK);
    assert!(!buckets(&app, &capped).await.contains_key("key_quota"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_what_a_key_used_of_its_own_monthly_quota() {
    let mut app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let (_, capped) = key_with_quota(&app, "reports", json!({ "limit": 4, "per": "month" })).await;
    for _ in 0..3 {
        assert_status(&read(&app, &capped).await, StatusCode::OK);
    }
    app.shut_down().await;

    let restarted = spawn_app_on(app.database_url.clone(), |_| {}).await;
    assert_eq!(buckets(&restarted, &capped).await["key_quota"], json!([3, 4]));
    assert_status(&read(&restarted, &capped).await, StatusCode::OK);
    assert_status(&read(&restarted, &capped).await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_set_on_a_key_in_use_counts_from_then_across_restarts() {
    let mut app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let (key_id, secret) = key_with_quota(&app, "reports", Value::Null).await;
    for _ in 0..3 {
        assert_status(&read(&app, &secret).await, StatusCode::OK);
    }
    app.clock.advance(chrono::Duration::seconds(1)); // the plan's burst is full again
    let path = format!("/v1/keys/{key_id}/restrictions");
    let monthly = json!({ "quota": { "limit": 4, "per": "month" } });
    let set = app.keys_api(Method::PUT, &path, Some(monthly.clone())).await;
    assert_eq!(
        set.json::<Value>().await.unwrap()["quota_used"],
        0,
        "the three earlier calls are not counted"
    );
    // The rollups count by the minute: a restart restores the minutes after the quota's.
    app.clock.advance(chrono::Duration::minutes(1));
    for _ in 0..2 {
        assert_status(&read(&app, &secret).await, StatusCode::OK);
    }
    app.shut_down().await;

    let mut restarted = spawn_app_on(app.database_url.clone(), |_| {}).await;
    restarted.clock.advance(chrono::Duration::minutes(2)); // past the two calls, whatever its start
    assert_eq!(buckets(&restarted, &secret).await["key_quota"], json!([2, 4]), "not all five calls");
    for expected in [StatusCode::OK, StatusCode::OK, StatusCode::TOO_MANY_REQUESTS] {
        assert_status(&read(&restarted, &secret).await, expected);
    }

    // Removed and set again, it starts over, and the earlier count does not come back.
    restarted.clock.advance(chrono::Duration::minutes(1));
    restarted.log_in("ada@example.com", PASSWORD, "/").await;
    assert_status(&restarted.keys_api(Method::PUT, &path, Some(json!({}))).await, StatusCode::OK);
    let again = restarted.keys_api(Method::PUT, &path, Some(monthly)).await;
    assert_eq!(again.json::<Value>().await.unwrap()["quota_used"], 0);
    restarted.clock.advance(chrono::Duration::minutes(1));
    assert_status(&read(&restarted, &secret).await, StatusCode::OK);
    restarted.shut_down().await;
    let third = spawn_app_on(app.database_url.clone(), |_| {}).await;
    assert_eq!(buckets(&third, &secret).await["key_quota"], json!([1, 4]));
}
