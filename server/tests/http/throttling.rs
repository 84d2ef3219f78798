//! Failed logins are throttled per (account, address), per address and per account, and the
//! account's owner, on a browser that has logged in before, is never locked out.

use chrono::Duration;
use reqwest::Response;

use crate::helpers::*;

/// An app behind a trusted proxy on 127.0.0.1, so tests can act from many client addresses.
async fn spawn_behind_proxy() -> TestApp {
    spawn_app_with(|settings| settings.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await
}

async fn log_in_from(
    app: &TestApp,
    client: &reqwest::Client,
    ip: &str,
    email: &str,
    password: &str,
) -> Response {
    let mut headers = app.form_headers("/login");
    headers.insert("x-forwarded-for", ip.parse().unwrap());
    client
        .post(app.url("/api/log_in"))
        .headers(headers)
        .form(&[("email", email), ("password", password), ("next", "/")])
        .send()
        .await
        .unwrap()
}

async fn owner_with_known_browser(app: &TestApp) -> reqwest::Client {
    app.sign_up("ada@example.com").await;
    app.log_out().await;
    let owner = browser();
    assert_redirect(&log_in_from(app, &owner, "198.51.100.10", "ada@example.com", PASSWORD).await, "/");
    owner
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_passwords_from_one_address_stop_the_sixth_attempt_even_when_right() {
    let app = spawn_behind_proxy().await;
    app.sign_up("ada@example.com").await;
    let attacker = browser();
    for _ in 0..5 {
        let response = log_in_from(&app, &attacker, "203.0.113.5", "ada@example.com", "guess").await;
        assert_eq!(error_shown(&attacker, &response).await, "Email or password is incorrect.");
    }
    let sixth = log_in_from(&app, &attacker, "203.0.113.5", "ada@example.com", PASSWORD).await;
    assert!(error_shown(&attacker, &sixth).await.starts_with("Too many attempts. Try again in"));

    // The throttle drains with time: three minutes later one more attempt is allowed.
    app.clock.advance(Duration::minutes(3));
    let later = log_in_from(&app, &attacker, "203.0.113.5", "ada@example.com", PASSWORD).await;
    assert_redirect(&later, "/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successful_login_clears_that_addresses_failures() {
    let app = spawn_behind_proxy().await;
    app.sign_up("ada@example.com").await;
    let owner = browser();
    for _ in 0..4 {
        log_in_from(&app, &owner, "203.0.113.5", "ada@example.com", "typo").await;
    }
    assert_redirect(&log_in_from(&app, &owner, "203.0.113.5", "ada@example.com", PASSWORD).await, "/");
    // Another four typos from the same address (a signed-out browser) are still judged on merit.
    let colleague = browser();
    for _ in 0..4 {
        let response = log_in_from(&app, &colleague, "203.0.113.5", "ada@example.com", "typo").await;
        assert_eq!(error_shown(&colleague, &response).await, "Email or password is incorrect.");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_guessing_many_accounts_is_throttled() {
    let app = spawn_behind_proxy().await;
    let attacker = browser();
    for n in 0..30 {
        let email = format!("user{n}@example.com");
        let response = log_in_from(&app, &attacker, "203.0.113.9", &email, "guess").await;
        assert_eq!(error_shown(&attacker, &response).await, "Email or password is incorrect.");
    }
    let next = log_in_from(&app, &attacker, "203.0.113.9", "user99@example.com", "guess").await;
    assert!(error_shown(&attacker, &next).await.starts_with("Too many attempts."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_from_many_addresses_does_not_lock_the_owner_out() {
    let app = spawn_behind_proxy().await;
    let owner = owner_with_known_browser(&app).await;

    // A botnet: one guess from each of many addresses exhausts the account's hourly budget.
    let per_account = policy::Policy::default_policy().unwrap().security.login.account.count();
    for n in 0..per_account {
        log_in_from(&app, &browser(), &format!("203.0.113.{n}"), "ada@example.com", "guess").await;
    }
    let stranger = browser();
    let from_new_browser = log_in_from(&app, &stranger, "192.0.2.1", "ada@example.com", PASSWORD).await;
    assert!(error_shown(&stranger, &from_new_browser).await.starts_with("Too many attempts."));

    // The owner's browser has logged in before: it skips the per-account throttle.
    let from_owner = log_in_from(&app, &owner, "192.0.2.2", "ada@example.com", PASSWORD).await;
    assert_redirect(&from_owner, "/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_cookie_is_only_sent_to_the_login_function() {
    let app = spawn_behind_proxy().await;
    app.sign_up("ada@example.com").await;
    app.log_out().await;
    let response = log_in_from(&app, &browser(), "198.51.100.10", "ada@example.com", PASSWORD).await;
    let device = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("keystile_device="))
        .expect("a device cookie")
        .to_owned();
    assert!(device.contains("Path=/api/log_in"), "{device}");
    assert!(device.contains("HttpOnly"), "{device}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_behind_one_address_logging_in_all_day_does_not_use_up_its_budget() {
    let app = spawn_behind_proxy().await;
    let office = "198.51.100.10";
    let owner = owner_with_known_browser(&app).await;
    let per_address = policy::Policy::default_policy().unwrap().security.login.ip.count();
    for _ in 0..per_address + 5 {
        assert_redirect(&log_in_from(&app, &owner, office, "ada@example.com", PASSWORD).await, "/");
    }
    // A colleague on a browser new to the service is judged on merit, not refused.
    let colleague = browser();
    let typo = log_in_from(&app, &colleague, office, "grace@example.com", "typo").await;
    assert_eq!(error_shown(&colleague, &typo).await, "Email or password is incorrect.");
}
