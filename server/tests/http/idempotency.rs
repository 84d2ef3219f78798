//! `Idempotency-Key` on POST through the gateway.

use reqwest::StatusCode;
use secrecy::ExposeSecret;

use crate::helpers::*;

async fn key_for_new_customer(app: &TestApp) -> String {
    let user = app
        .services
        .accounts
        .sign_up("idem@example.com", secrecy::SecretString::from(PASSWORD), "")
        .await
        .unwrap();
    app.services.keys.create(&user, "idem", None).await.unwrap().secret.expose_secret().to_owned()
}

async fn post_scan(app: &TestApp, key: &str, idempotency_key: &str, body: &str) -> reqwest::Response {
    browser()
        .post(app.url("/v1/scans"))
        .bearer_auth(key)
        .header("idempotency-key", idempotency_key)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

const SCAN: &str = r#"{"jurisdictions":["UK"],"areas":["AML"],"horizon":12}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_with_the_same_key_and_body_replays_the_first_response() {
    let app = spawn_app().await;
    let key = key_for_new_customer(&app).await;
    let first = post_scan(&app, &key, "retry-1", SCAN).await;
    let first_status = first.status();
    assert!(!first.headers().contains_key("idempotent-replayed"));
    let first_body = first.text().await.unwrap();

    let retry = post_scan(&app, &key, "retry-1", SCAN).await;
    assert_eq!(retry.status(), first_status);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.text().await.unwrap(), first_body, "the same response, so the same scan");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_with_a_different_body_gets_422() {
    let app = spawn_app().await;
    let key = key_for_new_customer(&app).await;
    post_scan(&app, &key, "retry-2", SCAN).await;
    let other =
        post_scan(&app, &key, "retry-2", r#"{"jurisdictions":["FR"],"areas":["AML"],"horizon":6}"#).await;
    assert_status(&other, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.headers()["content-type"], "application/problem+json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_sent_while_the_first_still_runs_gets_409() {
    let app = spawn_app().await;
    let key = key_for_new_customer(&app).await;
    let user = app.services.accounts.user_by_email("idem@example.com").await.unwrap().unwrap();
    let account_id = user.account_id.unwrap();
    // The first request has claimed the key and not finished yet.
    let fingerprint =
        server::gateway::request_fingerprint(&reqwest::Method::POST, "/v1/scans", SCAN.as_bytes());
    app.services.idempotency.claim(&account_id, "retry-3", &fingerprint).await.unwrap();

    let duplicate = post_scan(&app, &key, "retry-3", SCAN).await;
    assert_status(&duplicate, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_idempotency_key_gets_400() {
    let app = spawn_app().await;
    let key = key_for_new_customer(&app).await;
    let response = post_scan(&app, &key, &"x".repeat(300), SCAN).await;
    assert_status(&response, StatusCode::BAD_REQUEST);
}
