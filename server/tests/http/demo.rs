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
