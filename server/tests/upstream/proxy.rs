//! The reverse proxy: streaming both ways, what headers pass, and the 502/504 problems.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::upstream::{ForwardedProto, ProxyOptions, UpstreamError, UpstreamUrl};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

use crate::helpers::*;

// ---- streaming ----

#[tokio::test]
async fn scan_events_flow_through_the_proxy_one_by_one() {
    let api = spawn_sample_behind_proxy().await;
    let scan = json!({"jurisdictions": ["UK"], "areas": ["AML"], "horizon": 12});
    let created: Value = post_json(format!("{api}/v1/scans"), scan).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap();

    let response = get(format!("{api}/v1/scans/{id}/stream")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut chunks = response.bytes_stream();
    let first = chunks.next().await.unwrap().unwrap();
    let first_at = Instant::now();
    let first = String::from_utf8_lossy(&first).into_owned();
    assert!(first.contains("event: progress"), "{first}");
    assert!(!first.contains("event: complete"), "the first chunk held the whole stream: {first}");

    let mut rest = String::new();
    while let Some(chunk) = chunks.next().await {
        rest.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    let completed_at = Instant::now();
    let all = first + &rest;
    assert_eq!(all.matches("event: progress").count(), 5, "{all}");
    assert_eq!(all.matches("event: complete").count(), 1, "{all}");
    assert!(all.contains(&format!("\"scan_id\":\"{id}\"")), "{all}");
    // Five more events, 100 ms apart, came after the first one: it was not held back.
    assert!(completed_at - first_at >= Duration::from_millis(300), "{:?}", completed_at - first_at);
}

#[tokio::test]
async fn a_stream_outlasting_the_timeout_is_not_cut() {
    // The timeout bounds the response head; the body then streams as long as it takes.
    let options = ProxyOptions { timeout: Duration::from_millis(150), ..ProxyOptions::default() };
    let api = spawn_proxy_with(&spawn_sample().await, options).await;
    let scan = json!({"jurisdictions": ["SE"], "areas": ["MARKETING"]});
    let created: Value = post_json(format!("{api}/v1/scans"), scan).await.json().await.unwrap();
    let response = get(format!("{api}/v1/scans/{}/stream", created["id"].as_str().unwrap())).await;
    assert_eq!(response.status(), StatusCode::OK);
    let started = Instant::now();
    let text = response.text().await.unwrap();
    assert!(started.elapsed() > Duration::from_millis(150), "the stream ended before the timeout");
    assert!(text.contains("event: complete"), "{text}");
}

#[tokio::test]
async fn a_post_body_reaches_the_upstream_while_the_caller_still_sends_it() {
    let first_chunk = Arc::new(Notify::new());
    let seen = first_chunk.clone();
    let upload = move |request: Request| async move {
        let mut frames = request.into_body().into_data_stream();
        let mut total = 0;
        while let Some(frame) = frames.next().await {
            total += frame.unwrap().len();
            seen.notify_one();
        }
        axum::Json(json!({ "bytes": total }))
    };
    let upstream = format!("http://{}", serve(Router::new().fallback(upload)).await);
    let proxy = spawn_proxy(&upstream).await;

    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let chunks = futures_util::stream::unfold(receiver, |mut r| async { r.recv().await.map(|c| (c, r)) });
    let call = tokio::spawn(
        client().post(format!("{proxy}/v1/exports")).body(reqwest::Body::wrap_stream(chunks)).send(),
    );
    sender.send(Ok(Bytes::from(vec![b'a'; 1000]))).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), first_chunk.notified())
        .await
        .expect("the first chunk reached the upstream before the body ended");
    for _ in 0..64 {
        sender.send(Ok(Bytes::from(vec![b'b'; 16 * 1024]))).await.unwrap();
    }
    drop(sender);
    let response = call.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["bytes"], 1000 + 64 * 16 * 1024);
}

// ---- what is forwarded ----

#[tokio::test]
async fn the_path_and_query_are_kept_under_the_base_path() {
    let upstream = spawn_echo().await;
    for (base, expected) in [
        (format!("{upstream}/api"), "/api/v1/check?x=1&name=a%20b"),
        (format!("{upstream}/api/"), "/api/v1/check?x=1&name=a%20b"),
        (upstream.clone(), "/v1/check?x=1&name=a%20b"),
    ] {
        let proxy = spawn_proxy(&base).await;
        let (_, echoed) = get_json(format!("{proxy}/v1/check?x=1&name=a%20b")).await;
        assert_eq!(echoed["uri"], expected, "base {base}");
        assert_eq!(echoed["method"], "GET");
    }
}

#[tokio::test]
async fn hop_by_hop_headers_and_api_keys_stay_behind_other_headers_pass() {
    let proxy = spawn_proxy(&spawn_echo().await).await;
    let response = client()
        .put(format!("{proxy}/v1/things/7"))
        .header("connection", "x-drop-me")
        .header("x-drop-me", "1")
        .header("keep-alive", "300")
        .header("te", "trailers")
        .header("proxy-authorization", "Basic c2VjcmV0")
        .header("authorization", "Bearer ks_secret")
        .header("x-api-key", "ks_secret")
        .header("x-kept", "yes")
        .header("content-type", "text/plain")
        .body("hello upstream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    let echoed: Value = response.json().await.unwrap();
    let sent = &echoed["headers"];
    for dropped in ["x-drop-me", "keep-alive", "te", "proxy-authorization", "authorization", "x-api-key"] {
        assert!(sent.get(dropped).is_none(), "{dropped} reached the upstream: {sent}");
    }
    assert_eq!(sent["x-kept"], "yes");
    assert_eq!(sent["content-type"], "text/plain");
    assert_eq!(echoed["method"], "PUT");
    assert_eq!(echoed["body"], "hello upstream");

    assert_eq!(headers["x-upstream"], "yes");
    for dropped in ["keep-alive", "x-upstream-private", "proxy-authenticate"] {
        assert!(!headers.contains_key(dropped), "{dropped} reached the caller: {headers:?}");
    }
}

#[tokio::test]
async fn forwarded_headers_name_the_caller_and_the_host_it_asked_for() {
    let upstream = spawn_echo().await;
    let options = ProxyOptions { forwarded_proto: ForwardedProto::Https, ..ProxyOptions::default() };
    let proxy = spawn_proxy_with(&upstream, options).await;
    let echoed: Value = client()
        .get(format!("{proxy}/v1/jurisdictions"))
        .header("x-forwarded-for", "203.0.113.7")
        .header("forwarded", "for=198.51.100.9;proto=https")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sent = &echoed["headers"];
    assert_eq!(sent["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert_eq!(sent["x-forwarded-proto"], "https");
    assert_eq!(sent["x-forwarded-host"], proxy.trim_start_matches("http://"));
    assert_eq!(sent["host"], upstream.trim_start_matches("http://"));
    assert!(sent.get("forwarded").is_none(), "the caller's own Forwarded is dropped: {sent}");
}

// ---- upstream faults ----

#[tokio::test]
async fn a_closed_upstream_port_is_a_502_problem() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let proxy = spawn_proxy(&format!("http://127.0.0.1:{port}")).await;
    // The gateway in front gave the request this id: the problem names it, as its other answers do.
    let response = client()
        .get(format!("{proxy}/v1/check?name=x"))
        .header("x-request-id", "req_7")
        .send()
        .await
        .unwrap();
    let body = problem(response, StatusCode::BAD_GATEWAY).await;
    assert_eq!(body["title"], "Bad gateway");
    assert_eq!(body["request_id"], "req_7");
}

#[tokio::test]
async fn an_upstream_that_never_answers_is_a_504_problem_after_the_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let options = ProxyOptions { timeout: Duration::from_millis(300), ..ProxyOptions::default() };
    let proxy = spawn_proxy_with(&upstream, options).await;
    let started = Instant::now();
    let response = get(format!("{proxy}/v1/snapshots")).await;
    problem(response, StatusCode::GATEWAY_TIMEOUT).await;
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn an_upstream_talking_nonsense_is_a_502_problem() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.write_all(b"this is not HTTP\r\n\r\n").await;
        }
    });
    let proxy = spawn_proxy(&upstream).await;
    let response = get(format!("{proxy}/v1/snapshots")).await;
    problem(response, StatusCode::BAD_GATEWAY).await;
}

// ---- configuration ----

#[test]
fn upstream_urls_are_checked_at_start() {
    let refused = |url: &str| url.parse::<UpstreamUrl>().unwrap_err();
    assert_eq!(refused("https://api.example.test"), UpstreamError::UnsupportedScheme);
    assert_eq!(refused("http://user:hunter2@api.example.test"), UpstreamError::Credentials);
    assert_eq!(refused("http://api.example.test/api?x=1"), UpstreamError::QueryOrFragment);
    assert_eq!(refused("not a url"), UpstreamError::Unparsable);
    assert!(!UpstreamError::Credentials.to_string().contains("hunter2"));

    let base: UpstreamUrl = "http://127.0.0.1:9000/api/".parse().unwrap();
    assert_eq!(base.to_string(), "http://127.0.0.1:9000/api");
    assert_eq!(base.join("/v1/check?x=1").unwrap(), "http://127.0.0.1:9000/api/v1/check?x=1");
}
