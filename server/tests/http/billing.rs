//! The Usage and Billing pages' server functions and the usage CSV: login required, each
//! account sees only its own, and the spend cap is the owner's to set.

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::helpers::*;

async fn call_function(app: &TestApp, function: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.browser.post(app.url(&format!("/api/{function}"))).form(fields).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_billing_and_the_csv_need_a_login() {
    let app = spawn_app().await;
    for function in ["load_usage", "load_billing", "set_spend_cap"] {
        let response = browser()
            .post(app.url(&format!("/api/{function}")))
            .form(&[("amount", "5")])
            .send()
            .await
            .unwrap();
        assert_status(&response, StatusCode::UNAUTHORIZED);
    }
    let csv = browser().get(app.url("/usage/export.csv?what=keys")).send().await.unwrap();
    assert!(!csv.status().is_success(), "{}", csv.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_usage_page_and_its_csv_show_what_the_gateway_counted_for_this_account_only() {
    let app = spawn_app().await;
    let mallory = app.services.accounts.sign_up("mallory@example.com", PASSWORD.into(), "").await.unwrap();
    let theirs = app.services.keys.create(&mallory, "theirs", None, Default::default()).await.unwrap();
    let ada = app.signed_up("ada@example.com").await;
    let mine = app.services.keys.create(&ada, "mine, for CI", None, Default::default()).await.unwrap();
    for secret in [mine.secret.expose_secret(), mine.secret.expose_secret(), theirs.secret.expose_secret()] {
        browser().get(app.url("/v1/snapshots/s1")).bearer_auth(secret).send().await.unwrap();
    }
    // The gateway flushes usage every second.
    let report = eventually(Duration::from_secs(5), || async {
        let report: Value = call_function(&app, "load_usage", &[]).await.json().await.unwrap();
        if report["table"][0]["requests"] == 2 {
            Ok(report)
        } else {
            Err(format!("usage never arrived: {report}"))
        }
    })
    .await;
    let allowed_per_minute = |report: &Value| {
        let minutes = report["charts"][0]["points"].as_array().unwrap().clone();
        assert_eq!(minutes.len(), 60);
        minutes.iter().map(|point| point["allowed"].as_u64().unwrap()).sum::<u64>()
    };
    assert_eq!(report["selected_key"], Value::Null, "the whole account first");
    assert_eq!(report["table"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(allowed_per_minute(&report), 2, "the account's calls, not the other account's");
    let one_key: Value =
        call_function(&app, "load_usage", &[("key_id", mine.key.id.as_str())]).await.json().await.unwrap();
    assert_eq!((&one_key["selected_key"], allowed_per_minute(&one_key)), (&json!(mine.key.id), 2));

    // Another account's key id falls back to the whole account.
    let asked_for_theirs: Value =
        call_function(&app, "load_usage", &[("key_id", theirs.key.id.as_str())]).await.json().await.unwrap();
    assert_eq!(asked_for_theirs["selected_key"], Value::Null);
    assert_eq!(allowed_per_minute(&asked_for_theirs), 2);
    assert!(!asked_for_theirs.to_string().contains("theirs"));

    let csv = app.get(&format!("/usage/export.csv?what=keys&key={}", theirs.key.id)).await;
    assert_status(&csv, StatusCode::OK);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert_eq!(csv, format!("key_id,name,requests,limited,cost\n{},\"mine, for CI\",2,0,2\n", mine.key.id));
    let series = app.get("/usage/export.csv?what=series").await.text().await.unwrap();
    assert_eq!(series.lines().count(), 1 + 60 + 48 + 30);
    assert_status(&app.get("/usage/export.csv?what=everything").await, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_sets_and_removes_the_spend_cap_and_bad_amounts_are_refused() {
    let app = spawn_app().await;
    let ada = app.signed_up("ada@example.com").await;
    let account_id = ada.account_id.clone().unwrap();
    let cap = || async { app.services.accounts.account(&account_id).await.unwrap().unwrap().spend_cap_cents };

    assert_status(&call_function(&app, "set_spend_cap", &[("amount", "49.99")]).await, StatusCode::OK);
    assert_eq!(cap().await, Some(4_999));
    let billing: Value = call_function(&app, "load_billing", &[]).await.json().await.unwrap();
    assert_eq!(billing["spend_cap"]["summary"], "$49.99 a month");
    assert_eq!(billing["priced"]["month_to_date"], "$0.00");

    let refused = call_function(&app, "set_spend_cap", &[("amount", "lots")]).await;
    assert_status(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(cap().await, Some(4_999), "a refused amount changed the cap");

    assert_status(&call_function(&app, "set_spend_cap", &[("amount", "")]).await, StatusCode::OK);
    assert_eq!(cap().await, None);
    let audit = services::audit::for_account(&app.services.db, &account_id, 10).await.unwrap();
    // Both at the test clock's one instant: their order is not the point.
    let mut changes: Vec<(Option<&str>, Option<&str>)> = audit
        .iter()
        .filter(|entry| entry.action == "spend_cap.change")
        .map(|entry| (entry.before.as_deref(), entry.after.as_deref()))
        .collect();
    changes.sort();
    assert_eq!(changes, [(Some("$49.99"), Some("none")), (Some("none"), Some("$49.99"))], "in dollars");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cap_the_months_fees_already_reached_is_saved_only_when_confirmed() {
    let app = spawn_app().await;
    let ada = app.signed_up("ada@example.com").await;
    let account_id = ada.account_id.clone().unwrap();
    let cap = || async { app.services.accounts.account(&account_id).await.unwrap().unwrap().spend_cap_cents };

    // This month's fees are $0.00 so far: a cap of $0 would stop every call at once.
    let refused = call_function(&app, "set_spend_cap", &[("amount", "0")]).await;
    assert_status(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    let message = refused.text().await.unwrap();
    assert!(message.contains("stops every API call at once") && message.contains("$0.00"), "{message}");
    assert_eq!(cap().await, None, "nothing saved");

    let confirmed = call_function(&app, "set_spend_cap", &[("amount", "0"), ("stop_now", "yes")]).await;
    assert_status(&confirmed, StatusCode::OK);
    assert_eq!(cap().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_a_month_ends_billing_shows_it_as_a_statement() {
    let app = spawn_app().await;
    let ada = app.signed_up("ada@example.com").await;
    let secret = app.new_key(&ada, "CI").await;
    let billing: Value = call_function(&app, "load_billing", &[]).await.json().await.unwrap();
    assert_eq!(billing["last_month"], Value::Null, "no statement in the account's first month");

    // 15 requests in one minute, 5 above the free 10 (Starter's burst takes 5 a second).
    for _ in 0..3 {
        for _ in 0..5 {
            let response = browser().get(app.url("/v1/snapshots")).bearer_auth(&secret).send().await.unwrap();
            assert_status(&response, StatusCode::OK);
        }
        app.clock.advance(chrono::Duration::seconds(1));
    }
    eventually(Duration::from_secs(5), || async {
        let billing: Value = call_function(&app, "load_billing", &[]).await.json().await.unwrap();
        match billing["priced"]["peak_rpm"].as_u64() {
            Some(15) => Ok(()),
            other => Err(format!("peak: {other:?}")),
        }
    })
    .await;

    let (start, end) = limiter::billing_month(limiter::Clock::now(&app.clock), 1);
    app.clock.set(end + chrono::Duration::hours(2));
    // Sessions time out on the same clock: log in again.
    assert_redirect(&app.log_in("ada@example.com", PASSWORD, "/billing").await, "/billing");
    let billing: Value = call_function(&app, "load_billing", &[]).await.json().await.unwrap();
    let last_day = end - chrono::Duration::days(1);
    let period = format!("{} – {}", start.format("%b %-d"), last_day.format("%b %-d"));
    assert_eq!(
        billing["last_month"],
        json!({
            "period": period,
            "served": 15,
            "peak_rpm": 15,
            "extra_requests": 5,
            "tier": "11–30 requests a minute",
            "total": "$100.50",
            "explanation": "The busiest minute had 15 requests: the 11–30 requests a minute tier, $100.00 a month, plus 5 extra requests × $0.10 = $100.50.",
        })
    );
    assert_eq!(billing["priced"]["peak_rpm"], 0, "the new month starts from nothing");
    let page = app.get("/billing").await.text().await.unwrap();
    assert!(page.contains(&format!("Last month, {period}")), "the statement is on the page");
}
