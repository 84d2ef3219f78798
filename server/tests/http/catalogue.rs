//! The plan catalogue an admin edits: in force at the next request, on every node, and after a
//! restart; support staff may not edit it.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use services::accounts::Role;

use crate::admin::{call, customer, operator, shared_redis};
use crate::helpers::*;

fn monthly_limit(limits: &Value) -> u64 {
    let buckets = limits["buckets"].as_array().unwrap();
    buckets.iter().find(|b| b["name"] == "monthly").unwrap()["limit"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admins_catalogue_edit_applies_at_the_next_request_and_outlives_a_restart() {
    let mut app = spawn_app().await;
    let (_, _, secret) = customer(&app, "owner@acme.example").await;
    let limits = || async {
        browser()
            .get(app.url("/v1/limits"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    assert_eq!(monthly_limit(&limits().await), 10_000);
    let edit = |quota: &'static str| {
        [
            ("plan_id", "starter"),
            ("name", "Starter"),
            ("description", "For side projects"),
            ("price_cents", "0"),
            ("monthly_quota", quota),
            ("burst_per_second", "5"),
            ("daily_cap", "on"),
            ("self_service", "on"),
        ]
    };

    operator(&app, "support@keystile.example", Role::Support).await;
    assert_status(&call(&app, "edit_plan", &edit("20000")).await, StatusCode::FORBIDDEN);
    app.log_out().await;
    operator(&app, "admin@keystile.example", Role::Admin).await;
    assert_status(&call(&app, "edit_plan", &edit("lots")).await, StatusCode::UNPROCESSABLE_ENTITY);
    // Names and descriptions are shown to every customer: bounded and without control characters.
    let long = "x".repeat(301);
    for (field, value) in
        [("name", "Star\u{7}ter"), ("name", ""), ("description", long.as_str()), ("daily_cap", "maybe")]
    {
        let mut fields = edit("20000").to_vec();
        fields.retain(|(name, _)| *name != field);
        fields.push((field, value));
        assert_status(&call(&app, "edit_plan", &fields).await, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Refusals in words an admin reads, not the policy file's field paths.
    for (field, value, says) in [
        ("monthly_quota", "0", "A monthly quota is at least 1 request"),
        ("burst_per_second", "0", "Bursts allow at least 1 request a second"),
        ("name", "pro", "Another plan is already called “pro”."),
    ] {
        let mut fields = edit("20000").to_vec();
        fields.retain(|(name, _)| *name != field);
        fields.push((field, value));
        let refused = call(&app, "edit_plan", &fields).await;
        assert_status(&refused, StatusCode::UNPROCESSABLE_ENTITY);
        let message = refused.text().await.unwrap();
        assert!(message.contains(says) && !message.contains("plans["), "{message}");
    }
    let mut without_cap = edit("10000").to_vec();
    without_cap.retain(|(name, _)| *name != "daily_cap");
    without_cap.push(("daily_cap", "false"));
    assert_status(&call(&app, "edit_plan", &without_cap).await, StatusCode::OK);
    assert!(!app.services.policy.get().plan("starter").unwrap().daily_cap, "\"false\" is off");
    app.clock.advance(chrono::Duration::seconds(1)); // the audit log lists the next edit first
    assert_status(&call(&app, "edit_plan", &edit("20000")).await, StatusCode::OK);
    assert_eq!(monthly_limit(&limits().await), 20_000, "the next request uses the edited plan");
    let log = services::audit::search(&app.services.db, &services::audit::AuditFilter::default(), 10)
        .await
        .unwrap();
    let entry = log.iter().find(|entry| entry.action == "catalogue.edit").expect("audited");
    assert!(entry.before.as_deref().unwrap().contains("monthly_quota=10000"));
    assert!(entry.after.as_deref().unwrap().contains("monthly_quota=20000"));

    app.shut_down().await;
    let restarted = spawn_app_on(app.database_url.clone(), |_| {}).await;
    let starter = restarted.services.policy.get().plan("starter").cloned().unwrap();
    assert_eq!(starter.monthly_quota, Some(20_000), "the edit outlives a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalogue_edit_on_one_node_is_in_force_on_the_other_within_a_second() {
    let database_url = services::testing::fresh_database_url(services::Backend::Postgres).await;
    let node = |url: String| spawn_app_on(url, shared_redis);
    let (a, b) = (node(database_url.clone()).await, node(database_url).await);
    let (_, _, secret) = customer(&a, "owner@acme.example").await;
    // An email of its own: the per-account login throttle lives in the Redis all runs share.
    let admin = format!("admin-{}@keystile.example", services::ids::random_base62(8).to_lowercase());
    operator(&a, &admin, Role::Admin).await;
    let edit = [
        ("plan_id", "starter"),
        ("name", "Starter"),
        ("description", ""),
        ("price_cents", "0"),
        ("monthly_quota", "30000"),
        ("burst_per_second", "5"),
        ("daily_cap", "on"),
        ("self_service", "on"),
    ];
    assert_status(&call(&a, "edit_plan", &edit).await, StatusCode::OK);
    eventually(Duration::from_secs(1), || async {
        let limits: Value = browser()
            .get(b.url("/v1/limits"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        match monthly_limit(&limits) {
            30_000 => Ok(()),
            old => Err(format!("node b still uses the old plan: {old}")),
        }
    })
    .await;
}
