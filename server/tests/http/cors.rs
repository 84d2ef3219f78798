//! Browser pages on other sites calling the API (CORS): preflights answered without a key or a
//! charge, answers readable by allowed origins only, and the dashboard's own API left out.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::gateway::customer_with_key;
use crate::helpers::*;

const PAGE: &str = "https://app.example.com";

async fn preflight(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    browser()
        .request(reqwest::Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization,idempotency-key")
        .send()
        .await
        .unwrap()
}

async fn from_page(app: &TestApp, path: &str, origin: Option<&str>, key: Option<&str>) -> reqwest::Response {
    let mut request = browser().get(app.url(path));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

fn allowed_origin(headers: &HeaderMap) -> Option<&str> {
    headers.get("access-control-allow-origin").map(|value| value.to_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preflight_is_answered_without_a_key_and_charges_nothing() {
    let app = spawn_app().await;
    for _ in 0..12 {
        let response = preflight(&app, "/v1/check?name=acme", PAGE).await;
        assert_status(&response, StatusCode::NO_CONTENT);
        let headers = response.headers();
        assert_eq!(allowed_origin(headers), Some("*"));
        assert!(headers["access-control-allow-methods"].to_str().unwrap().contains("POST"));
        assert_eq!(headers["access-control-allow-headers"], "authorization,idempotency-key");
        assert_eq!(headers["access-control-max-age"], "600");
        assert!(headers["x-request-id"].to_str().unwrap().starts_with("req_"));
    }
    // Twelve preflights later the public route's 10 an hour per address is still untouched.
    let first_call = from_page(&app, "/v1/check?name=acme", Some(PAGE), None).await;
    assert_status(&first_call, StatusCode::OK);
    assert_eq!(first_call.headers()["x-ratelimit-remaining"], "9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_may_read_every_answer_admitted_or_refused() {
    let app = spawn_app().await;
    let (_, _, key) = customer_with_key(&app).await;
    let admitted = from_page(&app, "/v1/snapshots", Some(PAGE), Some(&key)).await;
    assert_status(&admitted, StatusCode::OK);
    assert_eq!(allowed_origin(admitted.headers()), Some("*"));
    assert_eq!(admitted.headers()["access-control-expose-headers"], "*");
    assert!(admitted.headers().contains_key("ratelimit-remaining"));

    let unknown_key = from_page(&app, "/v1/snapshots", Some(PAGE), Some("ks_nope_nope")).await;
    assert_status(&unknown_key, StatusCode::UNAUTHORIZED);
    assert_eq!(allowed_origin(unknown_key.headers()), Some("*"));

    for _ in 0..10 {
        from_page(&app, "/v1/check?name=acme", Some(PAGE), None).await;
    }
    let limited = from_page(&app, "/v1/check?name=acme", Some(PAGE), None).await;
    assert_status(&limited, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(allowed_origin(limited.headers()), Some("*"));
    assert_eq!(limited.headers()["access-control-expose-headers"], "*");
    assert!(limited.headers().contains_key("x-upgrade-url"));

    // Refused from its declared length alone, before the gateway reads a key (a raw request,
    // so that no body has to be written).
    let head = raw_request(
        &app,
        &format!("POST /v1/scans HTTP/1.1\r\nHost: x\r\nOrigin: {PAGE}\r\nContent-Length: 20000000\r\n\r\n"),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(head.to_ascii_lowercase().contains("access-control-allow-origin: *"), "{head}");
}

/// Sends `request` as written and returns the answer's head.
async fn raw_request(app: &TestApp, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.url("").trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the connection closed before the answer's head");
        answer.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn programs_that_send_no_origin_get_no_cors_headers() {
    let app = spawn_app().await;
    let (_, _, key) = customer_with_key(&app).await;
    let response = from_page(&app, "/v1/snapshots", None, Some(&key)).await;
    assert_status(&response, StatusCode::OK);
    assert_eq!(allowed_origin(response.headers()), None);
    assert!(!response.headers().contains_key("access-control-expose-headers"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_origins_are_named_back_and_others_are_not_answered() {
    // Written as people may write it; browsers send it in lower case.
    let app = spawn_app_with(|settings| settings.cors_origins = vec!["https://App.Example.com".into()]).await;
    let (_, _, key) = customer_with_key(&app).await;

    let response = preflight(&app, "/v1/snapshots", PAGE).await;
    assert_status(&response, StatusCode::NO_CONTENT);
    assert_eq!(allowed_origin(response.headers()), Some(PAGE));
    assert_eq!(response.headers()["vary"], "Origin");
    let response = from_page(&app, "/v1/snapshots", Some(PAGE), Some(&key)).await;
    assert_eq!(allowed_origin(response.headers()), Some(PAGE));
    assert_eq!(response.headers()["vary"], "Origin");

    // Another site: its preflight is an API request like any other (no key: 401), and no
    // answer lets its page read anything.
    let elsewhere = "https://elsewhere.example.net";
    let response = preflight(&app, "/v1/snapshots", elsewhere).await;
    assert_status(&response, StatusCode::UNAUTHORIZED);
    assert_eq!(allowed_origin(response.headers()), None);
    let response = from_page(&app, "/v1/snapshots", Some(elsewhere), Some(&key)).await;
    assert_status(&response, StatusCode::OK);
    assert_eq!(allowed_origin(response.headers()), None);
    assert_eq!(response.headers()["vary"], "Origin", "a cache must not serve this answer to {PAGE}");
    let program = from_page(&app, "/v1/snapshots", None, Some(&key)).await;
    assert_eq!(program.headers()["vary"], "Origin", "nor this one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_origins_listed_the_api_has_no_cors() {
    let app = spawn_app_with(|settings| settings.cors_origins = Vec::new()).await;
    let response = preflight(&app, "/v1/check?name=acme", PAGE).await;
    assert_eq!(allowed_origin(response.headers()), None);
    let response = from_page(&app, "/v1/check?name=acme", Some(PAGE), None).await;
    assert_status(&response, StatusCode::OK);
    assert_eq!(allowed_origin(response.headers()), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_key_api_is_never_open_to_other_sites() {
    let app = spawn_app().await;
    let response = preflight(&app, "/v1/keys", PAGE).await;
    assert_ne!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(allowed_origin(response.headers()), None);
    let response = from_page(&app, "/v1/keys", Some(PAGE), None).await;
    assert_eq!(allowed_origin(response.headers()), None);
}
