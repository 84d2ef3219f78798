//! The Overview page: gauges read from the limiter store the gateway enforces against.

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::ExposeSecret;
use services::accounts::Role;

use crate::helpers::*;

/// The text of the first element of `class` after `anchor` in the page's HTML.
fn text_after(page: &str, anchor: &str, class: &str) -> Option<String> {
    let start = page.find(anchor)?;
    let element = page[start..].find(class)? + start;
    let text_start = page[element..].find('>')? + element + 1;
    Some(page[text_start..].split('<').next()?.to_owned())
}

/// The used/limit text of the gauge for `bucket`.
pub(crate) fn gauge_text(page: &str, bucket: &str) -> Option<String> {
    text_after(page, &format!(r#"data-bucket="{bucket}""#), "gauge-meta")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_the_accounts_buckets_with_what_the_gateway_counted() {
    let app = spawn_app().await;
    let user = app.signed_up("ada@example.com").await;
    let created = app.services.keys.create(&user, "CI", None, Default::default()).await.unwrap();
    for _ in 0..3 {
        browser()
            .get(app.url("/v1/snapshots/s1"))
            .bearer_auth(created.secret.expose_secret())
            .send()
            .await
            .unwrap();
    }

    let account_page = app.get("/").await.text().await.unwrap();
    let monthly = gauge_text(&account_page, "monthly").expect("a monthly gauge");
    assert!(monthly.contains("3 of 10,000 used"), "{monthly}");
    assert!(gauge_text(&account_page, "key_mgmt").is_some(), "the user's key changes");
    assert!(gauge_text(&account_page, "reads").is_none(), "per-key buckets need a key");

    let key_page = app.get(&format!("/?key={}", created.key.id)).await.text().await.unwrap();
    let reads = gauge_text(&key_page, "reads").expect("a reads gauge for the key");
    assert!(reads.contains("3 of 60 used"), "{reads}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_warns_from_80_percent_of_the_quota_and_when_it_is_used_up() {
    let app = spawn_app().await;
    let user = app.signed_up("ada@example.com").await;
    let account_id = user.account_id.clone().unwrap();
    let admin = app.services.accounts.create_operator("admin@keystile.example", PASSWORD.into(), Role::Admin);
    let admin = admin.await.unwrap();
    app.services.accounts.set_override(&admin, &account_id, policy::MONTHLY, Some(10)).await.unwrap();
    let secret = app.new_key(&user, "CI").await;
    let warning = || async {
        let page = app.get("/").await.text().await.unwrap();
        text_after(&page, r#"data-testid="quota-warning""#, "")
    };
    let read = async |times: usize| {
        for _ in 0..times {
            // Under Starter's burst of 5 a second.
            app.clock.advance(chrono::Duration::milliseconds(250));
            browser().get(app.url("/v1/snapshots")).bearer_auth(&secret).send().await.unwrap();
        }
    };

    read(7).await;
    assert_eq!(warning().await, None, "70 % used");
    read(1).await;
    let warned = warning().await.expect("a warning at 80 %");
    assert!(warned.starts_with("80 % of this month's quota is used (8 of 10); it renews on "), "{warned}");
    read(2).await;
    let used_up = warning().await.expect("a warning when used up");
    assert!(used_up.starts_with("This month's quota of 10 is used up: API calls get 429"), "{used_up}");
}

/// The value of the stat labelled `label`.
fn stat_value(page: &str, label: &str) -> Option<String> {
    text_after(page, label, "stat-value")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_month_end_projection_counts_quota_units_not_exempt_calls() {
    let app = spawn_app().await;
    let user = app.signed_up("ada@example.com").await;
    let secret = app.new_key(&user, "CI").await;
    // Three calls the quota counts, two it does not (the limits endpoint is exempt).
    for path in ["/v1/snapshots", "/v1/snapshots", "/v1/snapshots", "/v1/limits", "/v1/limits"] {
        assert_status(
            &browser().get(app.url(path)).bearer_auth(&secret).send().await.unwrap(),
            StatusCode::OK,
        );
    }
    // The month's requests come from the usage rollups, flushed every second.
    let page = eventually(Duration::from_secs(5), || async {
        let page = app.get("/").await.text().await.unwrap();
        match stat_value(&page, "Requests this month") {
            Some(requests) if requests == "5" => Ok(page),
            other => Err(format!("requests this month: {other:?}")),
        }
    })
    .await;
    let now = limiter::Clock::now(&app.clock);
    let (start, end) = limiter::billing_month(now, 1);
    let projected = usage::at_this_pace(3, start, end, now);
    let shown = stat_value(&page, "Projected by month end").unwrap().replace(',', "");
    assert_eq!(shown, format!("{projected} of 10000"));
    let note = text_after(&page, "Projected by month end", "stat-label");
    assert_eq!(note.as_deref(), Some("counted toward the quota, at this month's pace"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_projects_the_months_bill_and_tier_as_billing_does() {
    let app = spawn_app().await;
    let user = app.signed_up("ada@example.com").await;
    let secret = app.new_key(&user, "CI").await;
    // 15 requests in one minute, past the free 10: Starter's burst takes 5 a second.
    for _ in 0..3 {
        for _ in 0..5 {
            let response = browser().get(app.url("/v1/snapshots")).bearer_auth(&secret).send().await.unwrap();
            assert_status(&response, StatusCode::OK);
        }
        app.clock.advance(chrono::Duration::seconds(1));
    }
    let billing = eventually(Duration::from_secs(5), || async {
        let page = app.get("/billing").await.text().await.unwrap();
        match stat_value(&page, "Peak requests a minute") {
            Some(peak) if peak == "15" => Ok(page),
            other => Err(format!("peak: {other:?}")),
        }
    })
    .await;
    let projected = stat_value(&billing, "Projected at month end").unwrap();
    let tier = stat_value(&billing, "Tier (busiest minute)").unwrap();
    assert!(projected.starts_with('$') && projected != "$0.00", "a priced tier: {projected}");

    let overview = app.get("/").await.text().await.unwrap();
    assert_eq!(stat_value(&overview, "Projected bill"), Some(projected));
    assert!(overview.contains(&format!("in the {tier} tier")), "{tier}");
    assert!(overview.contains(r#"href="/billing#how-heading""#), "the bill links to how it is worked out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_months_requests_say_how_many_were_refused() {
    let app = spawn_app().await;
    let user = app.signed_up("ada@example.com").await;
    let secret = app.new_key(&user, "CI").await;
    // Starter's burst admits 5 at once; the test clock stands still, so the rest get 429.
    let mut refused = 0;
    for _ in 0..8 {
        let response = browser().get(app.url("/v1/snapshots")).bearer_auth(&secret).send().await.unwrap();
        refused += u32::from(response.status() == StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(refused, 3);
    eventually(Duration::from_secs(5), || async {
        let page = app.get("/").await.text().await.unwrap();
        let admitted = stat_value(&page, "Requests this month");
        let note = text_after(&page, "Requests this month", "stat-label");
        match (admitted.as_deref(), note.as_deref()) {
            (Some("5"), Some("admitted, and 3 refused")) => Ok(()),
            other => Err(format!("month to date: {other:?}")),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_key_shows_nothing_of_it() {
    let app = spawn_app().await;
    let mallory = app
        .services
        .accounts
        .sign_up("mallory@example.com", secrecy::SecretString::from(PASSWORD), "")
        .await
        .unwrap();
    let theirs = app.services.keys.create(&mallory, "theirs", None, Default::default()).await.unwrap();
    app.sign_up("ada@example.com").await;
    let page = app.get(&format!("/?key={}", theirs.key.id)).await.text().await.unwrap();
    assert!(gauge_text(&page, "reads").is_none(), "another account's key buckets were shown");
    assert!(!page.contains("theirs"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_data_needs_a_login() {
    let app = spawn_app().await;
    let response =
        browser().post(app.url("/api/load_overview")).form(&[("key_id", "")]).send().await.unwrap();
    assert_status(&response, StatusCode::UNAUTHORIZED);
}
