//! `Idempotency-Key` on POST through the gateway.

use reqwest::StatusCode;

use crate::helpers::*;

async fn key_for_new_customer(app: &TestApp) -> String {
    let user = app
        .services
        .accounts
        .sign_up("idem@example.com", secrecy::SecretString::from(PASSWORD), "")
        .await
        .unwrap();
    app.new_key(&user, "idem").await
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

/// Claims `idempotency_key` for a scan of the customer's, as a request still running does.
async fn claim_unfinished(app: &TestApp, idempotency_key: &str) {
    let user = app.services.accounts.user_by_email("idem@example.com").await.unwrap().unwrap();
    let fingerprint =
        server::gateway::request_fingerprint(&reqwest::Method::POST, "/v1/scans", SCAN.as_bytes());
    let account_id = user.account_id.unwrap();
    app.services.idempotency.claim(&account_id, idempotency_key, &fingerprint).await.unwrap();
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

/// Starts scans under fresh keys until the `scans` bucket (6 an hour) refuses one.
async fn spend_the_scans_bucket(app: &TestApp, key: &str) {
    for n in 0..10 {
        if post_scan(app, key, &format!("spend-{n}"), SCAN).await.status() == StatusCode::TOO_MANY_REQUESTS {
            return;
        }
    }
    panic!("the scans bucket never refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_is_charged_nothing_and_answered_even_once_the_bucket_is_spent() {
    let app = spawn_app().await;
    let key = key_for_new_customer(&app).await;
    let first = post_scan(&app, &key, "paid-once", SCAN).await;
    assert!(first.status().is_success(), "{}", first.status());
    let remaining = first.headers()["ratelimit-remaining"].clone();

    let retry = post_scan(&app, &key, "paid-once", SCAN).await;
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.headers()["ratelimit-remaining"], remaining, "the replay charged nothing");

    spend_the_scans_bucket(&app, &key).await;
    let late_retry = post_scan(&app, &key, "paid-once", SCAN).await;
    assert_eq!(late_retry.status(), first.status(), "replayed, not refused");
    assert_eq!(late_retry.headers()["idempotent-replayed"], "true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_refused_with_429_frees_its_key_so_the_retry_runs() {
    let app = spawn_app().await;
    let key = key_for_new_customer(&app).await;
    spend_the_scans_bucket(&app, &key).await;
    let refused = post_scan(&app, &key, "after-the-hour", SCAN).await;
    assert_status(&refused, StatusCode::TOO_MANY_REQUESTS);

    app.clock.advance(chrono::Duration::hours(1));
    let retried = post_scan(&app, &key, "after-the-hour", SCAN).await;
    assert!(retried.status().is_success(), "{}", retried.status());
    assert!(!retried.headers().contains_key("idempotent-replayed"), "it ran");
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
    // The first request has claimed the key and not finished yet.
    claim_unfinished(&app, "retry-3").await;

    let duplicate = post_scan(&app, &key, "retry-3", SCAN).await;
    assert_status(&duplicate, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_idempotency_key_gets_400() {
    let app = spawn_app().await;
    let key = key_for_new_customer(&app).await;
    let response = post_scan(&app, &key, &"x".repeat(300), SCAN).await;
    assert_status(&response, StatusCode::BAD_REQUEST);

    // Two keys on one request: which one counts is anyone's guess, so neither does.
    let twice = browser()
        .post(app.url("/v1/scans"))
        .bearer_auth(&key)
        .header("idempotency-key", "first")
        .header("idempotency-key", "second")
        .body(SCAN)
        .send()
        .await
        .unwrap();
    assert_status(&twice, StatusCode::BAD_REQUEST);
    let body: serde_json::Value = twice.json().await.unwrap();
    assert_eq!(body["code"], "invalid_idempotency_key");
    assert!(
        body["type"].as_str().unwrap().ends_with("/invalid_idempotency_key"),
        "the policy's type base: {body}"
    );
    assert_status(&post_scan(&app, &key, "first", SCAN).await, StatusCode::ACCEPTED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstreams_429_is_not_kept_so_the_retry_runs() {
    // An upstream that is busy the first time and serves the second.
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = served.clone();
    let upstream = axum::Router::new().fallback(move || {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            match n {
                0 => (axum::http::StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "busy"),
                _ => (axum::http::StatusCode::CREATED, [("retry-after", "0")], "done"),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, upstream).await });
    let app = spawn_app_with(|settings| settings.upstream_url = Some(format!("http://{address}"))).await;
    let key = key_for_new_customer(&app).await;

    let busy = post_scan(&app, &key, "busy-upstream", SCAN).await;
    assert_status(&busy, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(busy.headers()["retry-after"], "1");
    let retry = post_scan(&app, &key, "busy-upstream", SCAN).await;
    assert_status(&retry, StatusCode::CREATED);
    assert!(!retry.headers().contains_key("idempotent-replayed"), "it ran again");
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_short_is_a_400_problem_not_a_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let key = key_for_new_customer(&app).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /v1/scans HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {key}\r\n\
         Idempotency-Key: cut-short\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"jur"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.shutdown().await.unwrap(); // the rest of the body never comes
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("application/problem+json") && answer.contains("\"code\":\"body_unreadable\""),
        "{answer}"
    );
    // Nothing ran under the key: a complete retry goes through.
    assert_status(&post_scan(&app, &key, "cut-short", SCAN).await, StatusCode::ACCEPTED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_older_than_24_hours_are_deleted_so_the_key_runs_anew() {
    let mut app = spawn_app().await;
    let key = key_for_new_customer(&app).await;
    // The first request, 25 hours before the node below starts.
    app.clock.advance(chrono::Duration::hours(-25));
    assert!(post_scan(&app, &key, "daily-1", SCAN).await.status().is_success());
    let count = |db: services::db::Database| async move {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_records")
            .fetch_one(db.pool())
            .await
            .unwrap();
        count
    };
    assert_eq!(count(app.services.db.clone()).await, 1);
    app.shut_down().await;

    // Housekeeping runs at start and every ten minutes.
    let later = spawn_app_on(app.database_url.clone(), |_| {}).await;
    eventually(std::time::Duration::from_secs(5), || async {
        match count(later.services.db.clone()).await {
            0 => Ok(()),
            left => Err(format!("{left} records left")),
        }
    })
    .await;
    let again = post_scan(&later, &key, "daily-1", SCAN).await;
    assert!(again.status().is_success(), "{}", again.status());
    assert!(!again.headers().contains_key("idempotent-replayed"), "it ran anew");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_caller_gave_up_still_finishes_and_its_retry_replays_it() {
    // An upstream that takes half a second and counts the requests it served.
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = served.clone();
    let upstream = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            (axum::http::StatusCode::CREATED, format!("scan number {n}"))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, upstream).await });
    let app = spawn_app_with(|settings| settings.upstream_url = Some(format!("http://{address}"))).await;
    let key = key_for_new_customer(&app).await;

    let impatient =
        reqwest::Client::builder().timeout(std::time::Duration::from_millis(100)).build().unwrap();
    let sent = impatient
        .post(app.url("/v1/scans"))
        .bearer_auth(&key)
        .header("idempotency-key", "gave-up")
        .body(SCAN)
        .send()
        .await;
    assert!(sent.is_err(), "the caller stopped waiting");

    eventually(std::time::Duration::from_secs(5), || async {
        let retry = post_scan(&app, &key, "gave-up", SCAN).await;
        match retry.status() {
            StatusCode::CREATED => {
                assert_eq!(retry.headers()["idempotent-replayed"], "true");
                assert_eq!(retry.text().await.unwrap(), "scan number 1");
                Ok(())
            }
            status => Err(format!("the retry got {status}")),
        }
    })
    .await;
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1, "one side effect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_left_unfinished_by_a_stopped_node_is_taken_over_after_ten_minutes() {
    let app = spawn_app().await;
    let key = key_for_new_customer(&app).await;
    // A node claimed the key, then stopped before finishing.
    claim_unfinished(&app, "orphan").await;

    app.clock.advance(chrono::Duration::minutes(9));
    assert_status(&post_scan(&app, &key, "orphan", SCAN).await, StatusCode::CONFLICT);
    app.clock.advance(chrono::Duration::seconds(61));
    let taken_over = post_scan(&app, &key, "orphan", SCAN).await;
    assert!(taken_over.status().is_success(), "{}", taken_over.status());
    assert!(!taken_over.headers().contains_key("idempotent-replayed"), "it ran");
}
