//! A key's life after it is created: rotation with a grace period, an expiry renewed by
//! rotating, disabling and enabling, and the warnings before it expires.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// The status `GET /v1/limits` answers a caller presenting `secret`.
async fn limits_with(app: &TestApp, secret: &str) -> StatusCode {
    browser().get(app.url("/v1/limits")).bearer_auth(secret).send().await.unwrap().status()
}

/// A signed-up user's new key: its secret and the path that rotates it.
async fn key_to_rotate(app: &TestApp) -> (String, String) {
    app.sign_up("ada@example.com").await;
    let created = app.create_key("CI").await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    (secret, format!("/v1/keys/{}/rotate", created["key"]["id"].as_str().unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_through_the_api_keeps_the_old_secret_for_the_grace_period() {
    let app = spawn_app().await;
    let (old, path) = key_to_rotate(&app).await;
    // A grace of years would keep a "rotated" secret working: at most 30 days.
    let too_long =
        app.keys_api(reqwest::Method::POST, &path, Some(json!({"grace_seconds": 4_294_967_295u32}))).await;
    assert_status(&too_long, StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = too_long.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("at most 30 days"), "{problem}");
    assert_eq!(limits_with(&app, &old).await, StatusCode::OK, "nothing changed");
    let rotated: Value = app
        .keys_api(reqwest::Method::POST, &path, Some(json!({"grace_seconds": 3600})))
        .await
        .json()
        .await
        .unwrap();
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_eq!(rotated["key"]["status"], "rotating");

    assert_eq!(limits_with(&app, &old).await, StatusCode::OK);
    assert_eq!(limits_with(&app, &new).await, StatusCode::OK);
    app.clock.advance(chrono::Duration::minutes(61));
    assert_eq!(limits_with(&app, &old).await, StatusCode::UNAUTHORIZED, "the grace period is over");
    assert_eq!(limits_with(&app, &new).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_with_no_body_takes_the_defaults_and_the_old_secret_stops_at_once() {
    let app = spawn_app().await;
    let (old, path) = key_to_rotate(&app).await;
    let rotated = app.keys_api(reqwest::Method::POST, &path, None).await;
    assert_status(&rotated, StatusCode::OK);
    let rotated: Value = rotated.json().await.unwrap();
    assert_eq!(rotated["key"]["status"], "active", "no grace period");
    assert_eq!(limits_with(&app, &old).await, StatusCode::UNAUTHORIZED);
    assert_eq!(limits_with(&app, rotated["secret"].as_str().unwrap()).await, StatusCode::OK);

    // A body that is not JSON is still refused, and rotates nothing.
    let text = app
        .browser
        .post(app.url(&path))
        .header("origin", &app.address)
        .body("grace_seconds=60")
        .send()
        .await
        .unwrap();
    assert_status(&text, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(limits_with(&app, rotated["secret"].as_str().unwrap()).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_key_is_renewed_by_rotating_it_and_keeps_its_id() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let body = json!({"name": "CI", "expires_in_days": 3});
    let created: Value =
        app.keys_api(reqwest::Method::POST, "/v1/keys", Some(body)).await.json().await.unwrap();
    let key_id = created["key"]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/keys/{key_id}/rotate");
    let page = app.get("/keys").await.text().await.unwrap();
    assert!(
        page.contains("The key expires") && page.contains(">Unchanged<"),
        "the rotate form offers it: {}",
        &page[page.find("The key expires").unwrap_or(0)..][..600.min(page.len())]
    );

    // Renewal past the ten-year bound is refused, and nothing is rotated.
    let refused = app.keys_api(reqwest::Method::POST, &path, Some(json!({"expires_in_days": 3651}))).await;
    assert_status(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    let listed: Value = app.keys_api(reqwest::Method::GET, "/v1/keys", None).await.json().await.unwrap();
    assert_eq!(listed[0]["start"], created["key"]["start"], "the secret is unchanged");

    let renewed = app.keys_api(reqwest::Method::POST, &path, Some(json!({"expires_in_days": 90}))).await;
    assert_status(&renewed, StatusCode::OK);
    let renewed: Value = renewed.json().await.unwrap();
    let in_90_days =
        (limiter::Clock::now(&app.clock) + chrono::Duration::days(90)).format("%Y-%m-%d").to_string();
    assert!(renewed["key"]["expires_at"].as_str().unwrap().starts_with(&in_90_days), "{renewed}");
    app.clock.advance(chrono::Duration::days(4));
    let secret = renewed["secret"].as_str().unwrap();
    assert_eq!(limits_with(&app, secret).await, StatusCode::OK);

    // From the Keys page's form (logged in again: four days outlast a session), the expiry
    // removed, the old secret stopped at once.
    app.log_in("ada@example.com", PASSWORD, "/").await;
    let fields = [("key_id", key_id.as_str()), ("grace", "now"), ("expires_in_days", "0")];
    assert_status(&app.call(&app.browser, "rotate_key", &fields).await, StatusCode::OK);
    let one: Value =
        app.keys_api(reqwest::Method::GET, &format!("/v1/keys/{key_id}"), None).await.json().await.unwrap();
    assert_eq!((one["id"].as_str(), &one["expires_at"]), (Some(key_id.as_str()), &Value::Null));
    assert_eq!(limits_with(&app, secret).await, StatusCode::UNAUTHORIZED);

    let (after,): (Option<String>,) =
        sqlx::query_as("SELECT after_value FROM audit_log WHERE action = 'key.rotate' ORDER BY at LIMIT 1")
            .fetch_one(app.services.db.pool())
            .await
            .unwrap();
    assert!(after.unwrap().contains(&format!("expires {in_90_days}")), "the renewal is audited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_key_gets_401_until_it_is_enabled_and_can_be_rotated_meanwhile() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let created = app.create_key("CI").await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let key_id = created["key"]["id"].as_str().unwrap().to_owned();
    assert_eq!(limits_with(&app, &secret).await, StatusCode::OK, "the gateway has the key in its cache now");

    let disabled = app.keys_api(reqwest::Method::POST, &format!("/v1/keys/{key_id}/disable"), None).await;
    assert_status(&disabled, StatusCode::OK);
    assert_eq!(disabled.json::<Value>().await.unwrap()["status"], "disabled");
    assert_eq!(
        limits_with(&app, &secret).await,
        StatusCode::UNAUTHORIZED,
        "the cached key is dropped at once"
    );
    let page = app.get("/keys").await.text().await.unwrap();
    assert!(page.contains("badge-disabled") && page.contains("Enable key"), "the row says so");
    assert!(page.contains("Rotate…"), "a disabled key can be rotated, say after a leak");
    let overview = app.get("/").await.text().await.unwrap();
    assert!(overview.contains("Key: CI (disabled)"), "the Overview's key selector says so");
    // Rotated while disabled, with a day's grace: neither secret works until it is enabled.
    let rotate = format!("/v1/keys/{key_id}/rotate");
    let rotated = app.keys_api(reqwest::Method::POST, &rotate, Some(json!({"grace_seconds": 86400}))).await;
    let rotated = rotated.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_owned();
    assert_eq!(limits_with(&app, &rotated).await, StatusCode::UNAUTHORIZED);

    // The Keys page's form, without JavaScript, enables it again: both secrets work.
    let fields = [("key_id", key_id.as_str()), ("disabled", "false")];
    let enabled = app.submit_form("set_key_disabled", "/keys", &fields).await;
    assert_eq!(
        success_shown(&app.browser, &enabled).await,
        "Saved. The key's next request meets the change."
    );
    assert_eq!(limits_with(&app, &secret).await, StatusCode::OK);
    assert_eq!(limits_with(&app, &rotated).await, StatusCode::OK);
    let one: Value =
        app.keys_api(reqwest::Method::GET, &format!("/v1/keys/{key_id}"), None).await.json().await.unwrap();
    assert_eq!(one["status"], "rotating");

    let audit = app.get("/audit").await.text().await.unwrap();
    assert!(audit.contains("Key disabled") && audit.contains("Key enabled"), "both are audited");
    let revoked = app.keys_api(reqwest::Method::DELETE, &format!("/v1/keys/{key_id}"), None).await;
    assert_status(&revoked, StatusCode::OK);
    let enable = app.keys_api(reqwest::Method::POST, &format!("/v1/keys/{key_id}/enable"), None).await;
    assert_status(&enable, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_expiring_within_a_week_are_flagged_on_the_keys_page_and_the_overview() {
    let app = spawn_app().await;
    let user = app.signed_up("ada@example.com").await;
    let now = limiter::Clock::now(&app.clock);
    for (name, expires_in) in [
        ("Soon", chrono::Duration::days(3)),
        ("Later", chrono::Duration::days(30)),
        ("Gone", chrono::Duration::minutes(1)),
        ("Paused", chrono::Duration::days(2)),
    ] {
        let created = app.services.keys.create(&user, name, Some(now + expires_in), Default::default()).await;
        if name == "Paused" {
            app.services.keys.set_disabled(&user, &created.unwrap().key.id, true).await.unwrap();
        }
    }
    // "Gone" has expired: it says so, and is not flagged as about to.
    app.clock.advance(chrono::Duration::minutes(2));
    let page = app.get("/keys").await.text().await.unwrap();
    // A row starts with the key's name, a link to its usage.
    let row = |name: &str| {
        let rows = page.split(r#"<th scope="row">"#).skip(1);
        let row = rows
            .into_iter()
            .find(|row| row.split("</th>").next().unwrap().contains(&format!(">{name}<!></a>")));
        row.unwrap().split("</tr>").next().unwrap().to_owned()
    };
    assert!(row("Soon").contains("Expires soon"), "{}", row("Soon"));
    assert!(!row("Later").contains("Expires soon"), "{}", row("Later"));
    assert!(row("Gone").contains("Expired") && !row("Gone").contains("Expires soon"), "{}", row("Gone"));
    assert!(!row("Paused").contains("Expires soon"), "a disabled key is not in use: {}", row("Paused"));

    let overview = app.get("/").await.text().await.unwrap();
    assert!(overview.contains("Key “Soon” expires"), "the Overview warns of the key about to expire");
    assert!(!overview.contains("Key “Later” expires") && !overview.contains("Key “Gone” expires"));
    assert!(!overview.contains("Key “Paused” expires"), "nor of a disabled one, as on the Keys page");
}
