//! The embedded demo the README's first command starts: an account to log in to, its keys, a
//! pending invitation, and traffic through the gateway from the first seconds.

use std::net::SocketAddr;
use std::time::Duration;

use server::demo::{DEMO_EMAIL, DEMO_PASSWORD, DEMO_TEAMMATE};

use crate::helpers::*;
use crate::overview::gauge_text;

async fn start_demo(app: &TestApp) {
    let gateway: SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    server::demo::start(&app.services, gateway).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_account_shows_live_traffic_on_its_two_keys_within_seconds() {
    let app = spawn_app().await;
    start_demo(&app).await;
    assert_redirect(&app.log_in(DEMO_EMAIL, DEMO_PASSWORD, "/").await, "/");

    let keys = app.get("/keys").await.text().await.unwrap();
    assert!(keys.contains("Production server") && keys.contains("Nightly batch"), "{keys}");
    let team = app.get("/team").await.text().await.unwrap();
    assert!(team.contains(DEMO_TEAMMATE), "the Team page shows the demo's invitation");

    eventually(Duration::from_secs(10), || async {
        let overview = app.get("/").await.text().await.unwrap();
        let monthly = gauge_text(&overview, "monthly").ok_or("no monthly gauge")?;
        if monthly.starts_with("0 of") { Err(monthly) } else { Ok(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_demo_account_its_two_keys_and_one_invitation() {
    let app = spawn_app().await;
    start_demo(&app).await;
    start_demo(&app).await;

    let user = app.services.accounts.user_by_email(DEMO_EMAIL).await.unwrap().unwrap();
    let account_id = user.account_id.as_deref().unwrap();
    let keys = app.services.keys.list(account_id).await.unwrap();
    let usable = keys.iter().filter(|key| key.revoked_at.is_none()).count();
    assert_eq!(usable, 2, "{keys:?}");
    let production = keys.iter().find(|key| key.name == "Production server").unwrap();
    assert_eq!(production.restrictions.allowed_ips_text().as_deref(), Some("127.0.0.1, ::1"));
    let batch = keys.iter().find(|key| key.name == "Nightly batch").unwrap();
    let quota = batch.restrictions.quota.map(|quota| quota.describe());
    assert_eq!(quota.as_deref(), Some("5,000 requests a day"));
    let account = app.services.accounts.account(account_id).await.unwrap().unwrap();
    assert_eq!(account.plan_id, "pro");
    let (users, invitations) = app.services.accounts.team(account_id).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(invitations.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_traffic_leaves_this_machines_public_allowance_to_its_user() {
    let app = spawn_app().await;
    start_demo(&app).await;
    // Wait until the demo has sent 30 calls, admitted or limited (all from 127.0.0.1, as this
    // test's are): before, every 13th was also an anonymous call to a public route.
    let queries = usage::UsageQueries::new(app.services.db.clone());
    let now = limiter::Clock::now(&app.clock);
    eventually(Duration::from_secs(20), || async {
        let accounts =
            queries.by_account(now - chrono::Duration::days(1), now + chrono::Duration::days(1)).await;
        let sent = accounts.map_err(|e| e.to_string())?.iter().map(|a| a.counts.requests).sum::<u64>();
        if sent >= 30 { Ok(()) } else { Err(format!("{sent} demo calls so far")) }
    })
    .await;
    let first_own_call = browser().get(app.url("/v1/check?name=acme")).send().await.unwrap();
    assert_eq!(first_own_call.status(), reqwest::StatusCode::OK);
    assert_eq!(first_own_call.headers()["x-ratelimit-remaining"], "9");
}
